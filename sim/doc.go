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
//
//   - network.go: Network — listeners by "host:port"; Dial, Send, Close and Abort on Conn
//     ends; each direction an in-order byte stream, never duplicated, delivered in chunks
//     (split at random bytes, as TCP segments) after a per-link latency plus jitter. Faults:
//     Reset (bytes in flight lost, both ends told), Cut/Partition/Heal (one-way included:
//     bytes are held, then the connection resets after a seeded retransmission timeout; a
//     direction whose acknowledgements are cut delivers, but resets at that timeout too),
//     Clog/Unclog of a host's links; counted in Stats. Handlers are called only from the
//     network's own events, never inside a caller's call.
//
//   - node.go: Node — one broker host: a crashable memfs disk (optionally behind errorfs),
//     storage opened as cmd/weir opens it, a core/broker.Node whose every Ready is executed
//     as cmd/weir's driver executes it (syncs on a flusher pool with virtual latency, file
//     ops, snapshots and checkpoints on one in-order background worker, responses, closes,
//     one timer; a Fatal crashes the node); Crash (seeded power loss) and Restart (recovery);
//     ArmCrash / ArmCrashRandom to crash between two effects of a Ready. Its controller.Node
//     (node_controller.go) is the sole voter of its own quorum (the embedded default) or, in a
//     cluster (NodeConfig.Voters), a voter (broker and controller: a controller listener) or
//     an observer (broker only); the broker's requests reach its own active controller
//     directly and another node's over the network. Shutdown (node_shutdown.go) is a SIGTERM
//     as cmd/weir handles it: drain, controlled shutdown, stop serving, resign, exit.
//
//   - node_conn.go: a node's connections, as netio serves them: frames through
//     wire.FrameReader and wire.DecodeRequest (an error closes), at most netio's in-flight
//     requests per connection, responses checked against their requests and written in order
//     by a writer that runs a little later and executes read plans (log.AppendPlan) then,
//     connections.max.idle.ms.
//
//   - node_storage.go: the simulator's copy of cmd/weir's openNodeStorage.
//
//   - node.go also has the process faults' hooks: Pause/Resume (the process runs nothing; every
//     event for it — received bytes, sync and job completions, timers, writers — is held and
//     runs in arrival order when it resumes, late), SetSyncSlowdown, SetDiskCapacityBytes /
//     RestoreDiskCapacity, Disarm, NodeConfig.Corruptor, and NodeHooks (Crashed, BeforeRestart,
//     AfterRestart) for a fault schedule to follow a node's life. Invariant checks read the
//     disk through the Corruptor's Inspect: they judge what the broker wrote, not what the
//     disk then did to it.
//
//   - faults.go: FaultPlan — a run's faults drawn from the seed, every draw from
//     w.Rand("faults/<class>") or "faults/node/<id>/...". Classes (FaultClass; ParseFaults
//     reads a --faults list "net,disk,crash,pause,clock,corrupt,full,slowsync,clog", "all",
//     "none"), each enabled per seed with its own chance unless overridden, each a chain of
//     events over [StartNs, HealAtNs) a seeded gap apart:
//     crash (power loss now, or armed at a seeded point between two effects), followed — for
//     any crash, a Fatal after a failed sync or write included — by a restart after a seeded
//     downtime, retried while recovery fails; pause (1 ms to 9 s); clock (wall-clock jumps
//     of up to an hour either way, drift changes within ±500 ppm, on the node or on a client host, whose clock stamps
//     its records); net (resets of a host's
//     or one connection, a host isolated, random halves, one-way cuts); clog (swizzle: the
//     node's links cut one at a time in a shuffled order, restored in another); disk (EIO on
//     reads, writes or syncs through errorfs toggles, a seeded rate per window); full (the
//     capacity drops to what is used plus a little); slowsync (syncs 100× slower);
//     corrupt (errorfs.Corruptor on partition segment files and producer snapshots, whose
//     CRC must catch it: bit flips on write, misdirected
//     writes, latent sector errors — at most CorruptionsMax per node). At HealAtNs, Heal
//     stops everything: cuts healed, armed crashes disarmed, paused nodes resumed, disk
//     faults off, bad sectors readable again, capacity and sync speed restored, down nodes
//     restarted; Settled says when every node is up again. FaultStats counts each fault and
//     prints in one line.
//
//   - disk_damage.go: the contract with corruption (a single-replica broker cannot keep data
//     its disk silently destroyed; Weir promises "detected, truncated or refused, never
//     served"). DamageLog records each damage a Corruptor reports; DamagedOffsets maps a
//     damage to partition offsets by walking the segment's batch headers (a damaged batch
//     excuses itself; a damaged or unreadable header excuses the rest of its segment); a
//     recovery that truncated a damaged batch excuses the rest of the partition for produces
//     invoked before it (NoteRecovery). FaultPlan.Excused gives the durability checker the
//     ExcusedRanges: offsets plus the time before which a produce must have been invoked;
//     SkipExcused tells a final reader stuck at a refused batch where to go on.
//
//   - client.go: ClientHost — core/client on a simulated host: its Ready executed over the
//     Network (closes, dials, sends), one World timer, completed operations into the run's
//     check.History.
//
//   - knobs.go: Knobs drawn per seed within valid ranges (segment and index sizes, roll,
//     retention and retention-check intervals, partitions, clients, idempotence, batch and
//     value sizes, fetch waits and sizes, in-flight and pending bounds); knobs added later are
//     drawn last so older draws stay put.
//
//   - workload.go: the clients' operations at a steady rate: produces of unique values to a
//     random partition; fetches as a consumer makes them (one per partition at a time, from
//     where the last left off, validated after a leader change as KIP-320 has it, to the log
//     start after OFFSET_OUT_OF_RANGE).
//
//   - operator.go: with RunOptions.Operator (weir sim --operator), an admin's preferred
//     elections and reassignments during a replicated run. With RunOptions.Wipes (weir sim
//     --wipes) the fault plan replaces one broker-only node's disk with an empty one at one
//     of its crashes (FaultPlan.SetWipe): one lost replica per run.
//
//   - run.go: Run(RunOptions) — one seed end to end: knobs, buggify (every site enabled per
//     seed at FoundationDB's odds, planted bugs on request), the broker, the topic, the
//     clients, the fault plan and the workload from 1 s for DurationNs; then faults heal, the
//     plan must settle and every operation complete within LivenessNs, a fresh client reads
//     every partition to its high watermark (stepping over offsets the disk destroyed, which
//     the broker refuses), and core/check judges the history (final reads required,
//     retention declared, destroyed offsets excused); a read plan served short on a disk
//     with no fault that fails reads or changes bytes fails the run too (consumers cannot
//     tell such a cut from retention). A panic (a broken invariant) fails the run; RunResult.Summary prints seed, knobs, counts, buggify and faults, and the verdict.
//     `weir sim --seed N [--trace] [--faults LIST] [--duration D] [--plant BUGS] [--history F]`
//     replays one seed; `weir sim sweep --seeds N --parallel P` runs many.
//     With RunOptions.Nodes 3-5 (`--nodes N [--voters 1|3|5] [--roles combined|separate]`)
//     the run is a cluster: the brokers formatted with one cluster id, the quorum's voters
//     the first brokers (combined) or controller-only ControllerNodes (separate), the others
//     observers; the topic (RF=1, or with RunOptions.ReplicationFactor 3 / `--replication-factor
//     3` RF=3 with min.insync.replicas=2) spread over every broker and the clients (acks=all)
//     following its leaders; the fault plan also crashes, pauses and skews the controller-only processes,
//     isolates the quorum leader's host half the time it isolates one, and makes a third of
//     the crashes SIGTERMs. The quorum checker (quorum_check.go) follows every broker's and
//     controller's controller.Node in every run, single-node ones too, and checks log
//     matching at the end; it also checks that a partition's leader is a registered,
//     unfenced broker in its ISR. replication_check.go, after every broker Ready: one leader
//     per partition and leader epoch, a high watermark within the log, an established
//     leader's high watermark never below one a leader of its or an earlier epoch showed; on
//     every new image: ISRs non-empty sets of replicas, a fenced broker only as the offline
//     last member; at the end, every ISR member's log equal to its leader's below the high
//     watermark, byte for byte. Liveness includes replication: every partition led, every
//     replica back in its ISR and at its leader's log end. cluster_test.go: the spread, determinism, a planted bug,
//     controlled shutdowns of every broker, a lease lapsing during a partition;
//     partition_failover_test.go a replicated partition's failover time over many seeds.
//
//   - final_reads.go: the final reads — per partition from the log start to the high
//     watermark; an answer empty below it is asked again (a read cut short by retention
//     deleting its segment meanwhile is not a refusal), and only a refusal that repeats, or a
//     refusal by error, steps over the narrowest excused range (SkipExcused).
//
//   - scenario_test.go runs testdata/scenarios/*.txt: a cluster, a workload and faults at
//     given virtual times, step by step, and the checkers' verdict (and how many fetches the
//     broker served short); run_test.go the CI seed set (each seed twice, trace hashes
//     compared); plant_test.go each planted bug caught.
//
//   - controller_conn.go: the controller listener (ctlListener) and the connections to the
//     voters' listeners (peerSet), which ControllerNode and a cluster's Node embed.
//
//   - controller_node.go: ControllerNode — one process of the metadata
//     quorum (a voter with process.roles=controller, or an observer: the metadata half of a
//     broker-only process): a crashable memfs disk (optionally behind errorfs), its QuorumLog
//     and quorum-state file, a core/controller.Node whose every Ready it executes (syncs one at a
//     time with virtual latency, file ops and snapshots on one background worker, sends to
//     peers, responses in request order, closes, one timer; a Fatal crashes it); on a voter the
//     controller listener (wire.FrameReader, DecodeRequest with the node's versions); peers
//     dialed lazily, answers matched in order and by correlation id, a broken or timed-out
//     connection failing its requests (PeerResponse with the error) and redialed after a
//     backoff. Crash/CrashWith, Shutdown (resign, then exit), Restart (OpenQuorumLog,
//     ReadStateFile, NewNode), Pause, ArmCrash, SetSyncSlowdown; ControllerHooks for the fault
//     plan and the checkers.
//
//   - quorum_run.go, quorum_client.go, quorum_faults.go, quorum_check.go: RunQuorum — a quorum
//     of 3 or 5 voters and 1-2 observers from one seed (QuorumKnobs), admin clients playing
//     brokers' lifecycles over the network (BrokerRegistration with fresh incarnations,
//     BrokerHeartbeat, AllocateProducerIds, re-routed on NOT_CONTROLLER), the fault classes
//     net (resets, isolations — of the leader too: zombie leaders —, halves, one-way cuts),
//     crash (power loss, armed, clean shutdown), pause (the leader a third of the time), clock,
//     disk (EIO), slowsync and clog, healed at the end; then the checkers: one leader per epoch,
//     the quorum state's epoch and vote never back (across crashes too), high watermark and
//     applied offset never back within an incarnation, the same committed image at the same
//     offset on every node, log matching, acknowledged registrations and producer-id blocks
//     never lost (and unique), and liveness: an active leader with every node applying its log
//     end within LivenessNs of healing. `weir sim --quorum --seed N [--voters 3|5]` replays one;
//     quorum_scenario_test.go runs testdata/quorum-scenarios/*.txt, step by step.
//
//   - replication_scenario_test.go: testdata/replication-scenarios/*.txt, three brokers
//     replicating the workload topic, faults on named brokers (crash, stop, wipe, pause,
//     isolate, partition, one-way cuts) step by step; each scenario reproduces a replication
//     bug Kafka had, run with the bug planted (core/buggify: FAIL) and without (pass), or
//     shows a documented behaviour (empty disk, last replica standing).
//
// Left for later:
//   - faults: corruption of indexes, checkpoints and the metadata log (their formats carry
//     no checksum in Kafka either: a flipped digit is a valid, wrong offset); torn writes
//     inside a running process (only crashes tear); swizzle cuts share the network's cut map
//     with partitions, so one healing may release the other's link early;
//   - the scenario language's `damage` names five shapes (a raised or lowered base offset, a
//     zeroed header, a flipped record bit, corrupt producer snapshots) and `misdirect` one
//     Corruptor fault (a misdirected write, where it lands drawn from the seed); bit flips on
//     write and latent sector errors have no command, and their bugs are regression-tested in
//     their packages;
//   - a clean shutdown's final sync, producer snapshots and checkpoints (Shutdown exits with
//     the page cache kept, as a process exit leaves it);
//   - netio bounds not modelled: QueuedBytesMax, FetchReadBytesMax, ConnectionsMax;
//   - disk faults on controller-only processes inside broker runs (RunQuorum has them);
//   - in replicated runs, a replica whose disk destroyed records is excused from the high
//     watermark check when it leads (a clean election may pick an ISR or ELR member whose
//     damaged bytes recovery cut away: only an empty disk reads as an unclean restart) and
//     from replication convergence when it leads (it refuses
//     to serve the damaged batch); the logs are compared byte for byte only in runs without
//     disk faults; no workload yet reassigns partitions or elects leaders on purpose;
//   - replicated runs are not in the CI seed sets yet: `weir sim sweep --nodes N
//     --replication-factor 3 --faults all` still finds lost writes, a consumer's skipped
//     records and partitions that never converge (seeds 25 and 102 with 3 and 5 brokers, 141
//     with 5); cluster_test.go's replicated tests and TestReplicationRegressionSeeds run in CI.
package sim
