// Command weir is Weir's one binary. Its subcommands follow Kafka's tools and rpk's noun-verb
// grammar: `weir broker` runs a broker, `weir storage format` prepares log directories as
// kafka-storage.sh does, `weir dump-log` prints segment files as kafka-dump-log.sh does, and
// `weir version` says what was built.
//
// The command layer only parses flags, reads files and prints; the work is done by core/
// packages (storage, config, record, metadata), which never touch the operating system.
package main
