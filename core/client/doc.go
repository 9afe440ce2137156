// Package client is a sans-I/O Kafka client: an idempotent (or plain) producer, a fetcher and a
// few admin calls, driven by the simulator over its simulated network and by chaos/ over TCP,
// exchanging the bytes real clients do (through core/wire). It behaves like franz-go's kgo and
// Kafka's Java client: ApiVersions negotiation, leaders from Metadata, retries with backoff until
// a delivery timeout, idempotent sequences kept across retries, KIP-360 epoch bumps. Every
// produce and fetch ends as one check.Op, with an outcome a checker can trust: OK when the broker
// acknowledged, Failed only when no attempt can have taken effect, Unknown otherwise.
//
// Like core/broker's Node it is a state machine (etcd-raft style): events (Connected, Received,
// Closed, Timer) and commands (Produce, Fetch, FetchFrom, CreateTopic, Metadata, ListOffsets)
// go in, each returning a Ready of effects (dials, bytes to send, closes, completed operations,
// the next deadline). No goroutines, clocks or I/O; randomness comes from the *rand.Rand given to New.
//
//   - client.go: Client, New, Ready, the events, and the deadline computation.
//   - config.go: Config, DefaultConfig (Kafka's client defaults) and Validate.
//   - conn.go: connections: dialing, framing, request timeouts, in-flight requests, dispatch.
//   - versions.go: the versions the client speaks and ApiVersions negotiation (KIP-511).
//   - metadata.go: brokers and partition leaders, refreshed on demand.
//   - produce.go: per-partition produce queues, batch encoding, retries and outcomes.
//   - idempotence.go: producer id, epoch bumps (KIP-360) and sequence resets.
//   - fetch.go: fetch operations (Fetch, and FetchFrom a consumer position) and decoding of
//     fetched batches.
//   - validate.go: validating a consumer position after a leader change with
//     OffsetForLeaderEpoch, and rewinding to where a truncated log diverges (KIP-320).
//   - admin.go: CreateTopic, Metadata and ListOffsets, completed as AdminResults.
//   - errors.go: Kafka's error table, and which errors need metadata or may follow an append.
//
// Tests: harness_test.go plays brokers by hand (requests decoded, kmsg answers encoded) on
// virtual time for client_test.go, fetch_test.go and admin_test.go; faults_test.go runs seeded
// worlds (a model broker with Kafka's idempotence rules, resets, lost answers, refusals, a long
// cut) and holds every outcome to the broker's log; tcpdriver_test.go is a small TCP driver (a
// sketch of chaos/'s) used by kfake_test.go against franz-go's kfake over loopback.
package client
