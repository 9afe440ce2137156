// Package broker is the Node of DESIGN §3: a single-threaded, pure state machine that takes
// events (decoded requests, connection closes, sync, file-op and snapshot completions,
// timers), each carrying the driver's clocks, and returns the effects to execute as a Ready.
//
// Files:
//   - node.go: Node, NewNode and the events; sync bookkeeping; metadata commits driving log
//     creation and deletion.
//   - ready.go: Ready and its parts, with the ordering contract.
//   - config.go: Config, from config.BrokerConfig; versions.go: the served API keys.
//   - conn.go: per-connection response slots, released strictly in request order.
//   - topics.go: per-topic config, log creation and deletion, proposing a controller Result
//   - housekeeping.go: retention, offset checkpoints and metadata snapshots on timers.
//   - producers.go: each partition's idempotent-producer state (core/producer): loaded with
//     its log, updated on every append, snapshotted at segment rolls and clean shutdown
//     (WriteProducerSnapshots), expired on a timer; 22_init_producer_id.go hands out
//     producer ids from blocks reserved in the metadata log.
//   - flush.go: the flush policy (fsync before ack by default; Kafka's flush.messages /
//     flush.ms behaviour for topics that set them).
//   - errors.go: the Kafka error codes answered.
//   - one file per API key, named as franz-go's kfake names them (00_produce.go,
//     01_fetch.go, ...), each opening with the versions it serves, its behaviour and what it
//     leaves out.
//
// Durability: a produce with acks=1 or -1 is answered only after a sync covering its batch
// completed; a fetch never sees past a log's durable offset (the single-node high watermark)
// — unless the topic sets flush.messages or flush.ms, which selects Kafka's page-cache
// acknowledgement (flush.go); topic changes are answered, and acted on by the logs, only once their metadata records are
// durable.
//
// Tests: testdata/ holds datadriven scripts (TestNode in datadriven_test.go lists the script
// language); the harness (harness_test.go) drives the Node over memfs as netio and the
// flushers would, holding syncs until a script runs them.
package broker
