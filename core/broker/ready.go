package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/core/wire"
)

// ConnID names a client connection; the driver picks it and never reuses one it has
// reported closed while the Node may still answer it.
type ConnID uint64

// SyncID names a Sync the Node handed out, reported back with Synced.
type SyncID uint64

// OpID names a FileOp the Node handed out, reported back with Done.
type OpID uint64

// Clocks are the driver's clocks at an event: core never reads a clock itself. MonotonicMs
// serves every timeout and deadline; WallMs only timestamps (LogAppendTime, retention).
type Clocks struct {
	MonotonicMs int64
	WallMs      int64
}

// Ready lists the effects of one event. The driver executes them in field order; the order is
// the contract:
//   - page-cache writes already happened inline before Ready was returned;
//   - Syncs and FileOps start (off the loop) before any Response is written; no Response
//     depends on a Sync of the same Ready: a response that needs durability waits for Synced;
//   - Responses go out per connection in the order listed, which is request order;
//   - Closes come after the responses listed before them were written;
//   - Checkpoints, Snapshot and Warnings need no order with the rest.
type Ready struct {
	Syncs     []Sync     // run each Req.Run(fs) off the loop, then call Synced(ID, err)
	FileOps   []FileOp   // run log.RunFileOps(fs, Ops) off the loop, then call Done(ID, err)
	Responses []Response // per connection, in request order
	Closes    []ConnID   // close these connections (e.g. an acks=0 produce that failed)
	// Checkpoints are the log directories' offset checkpoint files: the driver writes each
	// with diskio.WriteFileAtomic(fs, Dir, Name, Data) off the loop, one after another in the order given (a later
	// Ready's after an earlier one's). Nothing waits on them.
	Checkpoints []storage.CheckpointFile
	// Sends are requests to other nodes: to the active controller (registration, heartbeats,
	// AlterPartition, forwarded admin requests), which the driver sends to node To's controller
	// listener (its own process's controller.Node when To is this node), and follower fetches,
	// which go to broker To's inter-broker listener at Addr. The driver reports each answer,
	// or the failure to get one, with PeerResponse.
	Sends []PeerSend
	// Warnings are problems the driver logs; nothing else is to be done about them.
	Warnings []error
	// NextDeadlineMs is the monotonic time at which to call Timer; 0 = no timer wanted.
	NextDeadlineMs int64
	// Fatal, when set, is a storage failure (a failed sync poisons a log): the page cache is
	// not trusted any more, so the driver must stop the process; recovery on restart is the
	// designed path (DESIGN §2).
	Fatal error
}

// Sync is one fdatasync / directory sync to run.
type Sync struct {
	ID  SyncID
	Req log.SyncRequest
}

// FileOp is a batch of slow file operations (unlinks) to run in order.
type FileOp struct {
	ID  OpID
	Ops []log.FileOp
}

// Response answers one request. Body is nil for a request that gets no response (acks=0
// produce): the driver frees the connection's slot without writing. Reads, when set, are
// fetch read plans the driver executes (pread, check each batch's CRC, cut at the last whole
// valid batch) and stores into the FetchResponse partition at (TopicIndex, PartitionIndex)
// as its RecordBatches before encoding.
type Response struct {
	Conn   ConnID
	Header wire.RequestHeader
	Body   kmsg.Response
	Reads  []PartitionRead
}

// PartitionRead is one fetch partition's read plan.
type PartitionRead struct {
	TopicIndex, PartitionIndex int
	Plan                       log.ReadPlan
	// Partition is the partition read: a driver that serves the plan short reports it with
	// Node.ReadCut.
	Partition storage.TopicPartition
}

// PeerSend is one request to node To; its answer comes back with PeerResponse under
// CorrelationID.
type PeerSend struct {
	To            int32
	CorrelationID int32
	Request       kmsg.Request
	// Broker is set for a request to To's broker (a follower fetch): it goes to Addr
	// (host:port of To's inter-broker listener, from its registration), not to the
	// controller listener. A broker's address may change when it registers again.
	Broker bool
	Addr   string
}
