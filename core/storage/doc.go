// Package storage manages a broker's log directories the way Kafka's LogManager does: the
// per-directory files (meta.properties, recovery-point-offset-checkpoint,
// log-start-offset-checkpoint), formatting (`weir storage format`), the startup check that
// every directory belongs to this cluster and node, and the Manager that discovers, opens,
// places, deletes and checkpoints partition logs (core/log) across the directories.
//
// All file access goes through diskio.FS; randomness (cluster, directory and deletion ids)
// comes in from the caller. Nothing here blocks on I/O it does not have to: deleting a
// partition's directory is returned as a file operation for the driver to run off the loop.
package storage
