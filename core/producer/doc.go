// Package producer keeps the idempotent-producer state of one partition, as Kafka's
// ProducerStateManager and ProducerAppendInfo do, and hands out producer ids from blocks of the
// metadata log.
//
//   - state.go: State, per producer id the epoch, the last five batches (duplicate detection),
//     the last timestamp and the transaction fields. CheckAppend judges a client batch before
//     the broker appends it; Update records it after the append; ReplayBatch rebuilds state from
//     the log without judging (recovery, and later a follower's appends).
//   - sequence.go: sequence arithmetic, wrapping at the int32 maximum like Kafka's.
//   - expire.go: producer.id.expiration.ms and the per-partition producer bound.
//   - snapshot.go, snapshot_files.go: Kafka's producer snapshot file (`<offset>.snapshot`,
//     version 1, CRC32C), written atomically, loaded newest-valid-first.
//   - rebuild.go: Rebuild replays a partition log's batch headers past a snapshot, stepping
//     over (and reporting) batches a faulty disk damaged.
//   - allocator.go: Allocator, producer ids from ProducerIdsRecord blocks of 1000.
//
// Leader-side verdicts follow Kafka 3.x/4.x: a retried batch equal to one of the last five
// is a duplicate answered with its original offsets and no error; an older epoch is
// INVALID_PRODUCER_EPOCH; a gap, or a new epoch not starting at sequence 0, is
// OUT_OF_ORDER_SEQUENCE_NUMBER; a producer id without state is accepted at any sequence (since
// KIP-360, Kafka 2.5, the leader no longer answers UNKNOWN_PRODUCER_ID to a produce).
//
// The package is pure (DESIGN.md §2): clocks come in as arguments, files only through
// diskio.FS, and no map is iterated where the order shows.
package producer
