// Package log is one partition's log, laid out on disk as Kafka lays it out: segments named by
// their 20-digit base offset (.log holding record batches byte for byte, a sparse .index of
// offset → position, a .timeindex of timestamp → offset), a leader-epoch-checkpoint and a
// partition.metadata file.
//
// The log is a pure state machine over diskio.FS. Appends write the page cache inline (batch
// and index entries through File.WriteAt); everything slow is handed to the driver: syncs
// (PendingSync/Synced, at most one in flight, so group commit falls out naturally), unlinks of
// deleted segments (FileOps), and reads of record data (Read returns a plan of byte ranges).
// Reading 61-byte batch headers and index entries inline is allowed: lookups need them.
//
// Durability follows DESIGN §4: DurableOffset moves only when a sync covering it succeeded,
// data in a new segment counts only after the directory is synced, and after a failed sync or
// write the log is poisoned — every later call fails, the node crashes and Open recovers.
//
// Rare operations do small synchronous I/O inline, as Kafka does: the leader-epoch-checkpoint
// is rewritten atomically (with its fsyncs) when the epoch cache changes; truncations unlink
// and truncate files inline; retention renames deleted segments to *.deleted inline and
// leaves the unlinks to the driver; Open syncs what it recovers of inactive segments.
//
// The caller keeps the log dir's checkpoints: recovery-point-offset-checkpoint from
// DurableOffset (rewrite it after TruncateTo, as Kafka does, so a stale, higher recovery point
// never hides rewritten data from recovery) and log-start-offset-checkpoint from StartOffset.
package log
