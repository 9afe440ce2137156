// Package netio will hold the production network driver (DESIGN.md §1, §3): the Kafka TCP
// server and the inter-broker transport — framing, bounded queues with byte budgets into the
// state machine loop, in-order responses per connection, and the execution of read plans
// (pread now, sendfile later). It drives core/ through the same entry points as sim/. Nothing
// is here yet.
package netio
