// Command weir is Weir's one binary. Its subcommands follow Kafka's tools and rpk's noun-verb
// grammar: `weir broker` runs a broker, `weir storage format` prepares log directories as
// kafka-storage.sh does, `weir dump-log` prints segment files as kafka-dump-log.sh does,
// `weir topic create|list|describe|delete|add-partitions|alter-config|produce|consume` are rpk's
// topic commands (`weir topic describe --format kafka` prints kafka-topics.sh --describe's
// lines), `weir cluster reassign generate|execute|verify|cancel|list` is
// kafka-reassign-partitions.sh, `weir cluster elect-leaders` is kafka-leader-election.sh,
// `weir bench produce|consume` are kafka-producer/consumer-perf-test, and
// `weir version` says what was built. The client commands speak Kafka through franz-go's kgo,
// so they work against any Kafka-compatible broker.
//
// The command layer only parses flags, reads files and prints; the work is done by core/
// packages (storage, config, record, metadata, broker), which never touch the operating system.
// The exception is the production driver (driver.go): the loop that owns `weir broker`'s
// broker.Node and connects it to netio's sockets, a pool of flusher goroutines running its
// fdatasyncs, a background goroutine for file ops, snapshots and checkpoints, and a timer.
package main
