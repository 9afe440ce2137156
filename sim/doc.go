// Package sim is the simulator (DESIGN.md §8): one goroutine drives the very core/ state
// machines production runs, under virtual time, from one seed. It must itself be
// deterministic: no goroutines, no wall clock, no global random source, no map-order
// iteration. The same seed on the same commit gives the same trace hash.
//
//   - world.go: World — virtual monotonic time (ns), the event queue ordered by (virtual time,
//     sequence number), one PRNG per named component derived from sha256(seed, name)
//     (w.Rand("node/1/disk")), the trace (every event a line stamped with its virtual time,
//     a running sha256 in TraceHash, an optional writer for --trace), a bound on events; and
//     WallClock, a machine's wall clock with offset, drift and jumps.
//   - network.go: Network — listeners by "host:port"; Dial, Send, Close and Abort on Conn
//     ends; each direction an in-order byte stream, never duplicated, delivered in chunks
//     (split at random bytes, as TCP segments) after a per-link latency plus jitter. Faults:
//     Reset (bytes in flight lost, both ends told), Cut/Partition/Heal (one-way included:
//     bytes are held, then the connection resets after a seeded retransmission timeout),
//     Clog/Unclog of a host's links; counted in Stats. Handlers are called only from the
//     network's own events, never inside a caller's call.
//   - node.go: Node — one broker host: a crashable memfs disk (optionally behind errorfs),
//     storage opened as cmd/weir opens it, a core/broker.Node whose every Ready is executed
//     as cmd/weir's driver executes it (syncs on a flusher pool with virtual latency, file
//     ops, snapshots and checkpoints on one in-order background worker, responses, closes,
//     one timer; a Fatal crashes the node); Crash (seeded power loss) and Restart (recovery);
//     ArmCrash / ArmCrashRandom to crash between two effects of a Ready.
//   - node_conn.go: a node's connections, as netio serves them: frames through
//     wire.FrameReader and wire.DecodeRequest (an error closes), at most netio's in-flight
//     requests per connection, responses checked against their requests and written in order
//     by a writer that runs a little later and executes read plans (log.AppendPlan) then,
//     connections.max.idle.ms.
//   - node_storage.go: the simulator's copy of cmd/weir's openNodeStorage.
//
// Plugging in a client (core/client, sans-I/O): a client host implements Handler per
// connection, turns the client's Dials{Conn, Addr} into Network.Dial(host, addr, handler),
// Sends into Conn.Send and Closes into Conn.Close, and feeds Connected, Received(bytes) and
// Closed back as the client's events; client timers are World events.
//
// Left for later:
//   - faults beyond the above: disk faults during a run (bit flips, latent read errors,
//     misdirected writes, full disk, slow syncs — memfs and errorfs hooks exist), process
//     pauses, wall-clock jumps and drift as scheduled faults, swizzle-clogging as a fault
//     schedule, acknowledgement loss on one-way cuts;
//   - buggify sites in core driven by a per-seed PRNG;
//   - workloads (simulated clients through core/client), histories, and the core/check
//     checkers after every event; a clean shutdown (Drain, syncAll, producer snapshots,
//     checkpoints) alongside Crash;
//   - netio bounds not modelled: QueuedBytesMax, FetchReadBytesMax, ConnectionsMax;
//   - multi-node clusters (replication, the metadata quorum) once core has them;
//   - the `weir sim --seed N [--trace]` command (wired by the lead) and datadriven scenarios
//     in testdata/scenarios/.
package sim
