// Package quorum is the metadata quorum's Raft (KIP-595, with KIP-996's pre-vote): a pure,
// deterministic, sans-I/O state machine of one member, a voter or an observer, of a static
// voter set. It follows Kafka's KafkaRaftClient: roles Unattached, Prospective, Candidate,
// Leader, Follower and Resigned; Vote, BeginQuorumEpoch, EndQuorumEpoch and a pull-based Fetch
// that carries replication, heartbeat and acknowledgement at once.
//
// # Driving a Node
//
// New restarts a member from its persisted State and its recovered Log; the driver then calls
// Tick once, and after that Step for each message, Tick when NextDeadlineMs passes, Flushed
// when a flush it started completes, Propose on the leader and Resign before a shutdown. Each
// call returns a Ready whose fields the driver executes in order (see Ready): persist the
// State durably, start the flush, send the messages. Appends and truncations of the Log happen
// inline, in the page cache, as core/log's do. Nothing reads a clock (nowMs comes in) or a
// global random source (the node draws its election timeouts from the *rand.Rand it is given).
//
// # Safety rules, where they live
//
//   - A vote is granted at most once per epoch, only to a log at least as up to date (last
//     epoch, then end offset), and is in the State of the Ready carrying the grant (election.go).
//   - A voter's fetch offset is its acknowledgement: it is sent only once the log is flushed up
//     to it (fetch.go). The leader counts its own durable offset, never its unflushed end.
//   - The high watermark is the offset a majority of voters has reached, moves only forward, and
//     only past the leader's epoch start, where the leader wrote its LeaderChange record: an
//     earlier epoch's entries are never committed by counting replicas (replication.go).
//   - A follower truncates where the leader's epoch cache says their logs diverge, never below
//     its high watermark (replication.go, fetch.go); a leader never truncates its own log.
//   - Any message with a higher epoch makes the node adopt that epoch (persisted) first.
//   - Observers fetch like followers, never vote and never count toward the high watermark.
//   - Batches are atomic (Kafka's controller appends the records of one command as one record
//     batch): the entries of one Propose are one batch, boundaries are part of the replicated
//     log, the high watermark only sits at a boundary (the leader rounds the majority offset
//     down to the end of a batch it appended, replication.go), fetch answers carry whole
//     batches with the leader's timestamps, and truncations and snapshots end at boundaries
//     (fetch.go, log.go).
//
// replication.go (ValidateFetch, TruncationOffset, Progress) is the part partition
// replication (core/replica) reuses: the fetch-position check against the epoch cache, the
// follower's truncation point, and the high watermark over a set of counted replicas.
//
// # Snapshots
//
// KIP-630: the application snapshots committed state and may drop the log below it (Log.Start
// moves up). A fetch below the leader's log start is answered with the latest snapshot's id;
// the follower fetches it in chunks of up to SnapshotChunkBytesMax with FetchSnapshot, has
// the Log install it (durably; the log restarts at the snapshot's end), and fetches on. A
// snapshot the leader deleted meanwhile is answered SNAPSHOT_NOT_FOUND and the follower starts
// over with a fetch. Taking snapshots and loading them into the application are the driver's.
//
// # Wiring notes
//
//   - Messages map one to one onto kmsg's Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch and
//     FetchSnapshot partitions (field names kept); CorrelationID is the request header's.
//     Wire (kmsg.go, kmsg_from.go, kmsg_reject.go) translates both ways, with the versions
//     and the checks Kafka's KafkaRaftClient applies. Entries become record batches
//     (batch.go); the LeaderChange entry's Data is already a kmsg.LeaderChangeMessage, which
//     goes into a control batch.
//   - An adapter over core/log: each batch of entries is one core/log record batch, a
//     follower's byte for byte the leader's (same base offset, epoch, records, timestamp);
//     every offset the quorum truncates to is a batch boundary (an epoch's end, a fetch
//     offset), so core/log's whole-batch truncation cuts exactly there, and its recovery
//     drops a torn batch whole. EndOffsetForEpoch is core/log's; Start is the log start with
//     the epoch of the snapshot ending there. Read is inline here; a leader answering with
//     core/log's read plans instead (executed outside the loop) is the natural next step for
//     large fetches.
//   - State is Kafka's quorum-state file (statefile.go: WriteStateFile, durable through
//     diskio.WriteFileAtomic, and ReadStateFile), in the metadata log's partition directory.
//   - core/metadata's QuorumLog is the Log on disk.
//
// # Not here
//
// Dynamic voter sets (KIP-853) are out of scope: the voter set is static. core/controller's
// Node drives a quorum member over QuorumLog; cmd/weir and the simulator drive that Node.
package quorum
