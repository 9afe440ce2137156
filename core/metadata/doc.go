// Package metadata is Weir's cluster metadata: the records of the metadata log
// `__cluster_metadata`, the image they replay into, and the log itself on disk.
//
// Records use Kafka's own KRaft format (MetadataRecordSerde: unsigned varint frame version 1,
// api key and version, then the message in flexible-version encoding), key null, so tools that
// read Kafka's metadata logs read ours. The Image is built only by replaying records,
// copy-on-write, by the same path for an append, recovery from the log and loading a snapshot.
// QuorumLog keeps the log in `<metadata log dir>/__cluster_metadata-0/` through core/log, with
// Kafka-style snapshots (`<end offset>-<epoch>.checkpoint`) beside it to bound replay; the
// quorum (core/quorum) commits its entries and core/controller replays them into the image.
//
// Files:
//   - wire.go: flexible-version encoding (varints, compact strings and arrays, tagged fields)
//   - records.go, serde.go: the record types and the ApiMessageAndVersion frame
//   - records_broker.go: the broker-lifecycle records (unregister, fence, unfence, registration
//     change)
//   - image.go, replay.go, write.go: the Image, replay rules (what is refused, and where Weir
//     is stricter than Kafka's image), and the records that recreate an image
//   - snapshot.go: snapshot files; logdir.go: the log's directory (its name, creating it
//     durably, finding the snapshot files in it)
//   - quorum_log.go, quorum_log_snapshot.go: QuorumLog, the metadata quorum's log (core/quorum's
//     Log) on disk over core/log, with the snapshot files beside it
//   - intents.go: records for intents (create topic, register broker, ...), no controller logic
//   - dump.go, dump_control.go: DecodeForDump and DecodeControlForDump, one JSON line per
//     record as kafka-dump-log prints it
//   - uuid.go: Kafka's Uuid
//
// The package is pure (DESIGN.md §2): files only through diskio.FS, no clock, randomness only
// from the caller's PRNG.
package metadata
