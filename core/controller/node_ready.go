package controller

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/wire"
)

// ConnID names an inbound connection on the controller listener; the driver picks it and never
// reuses one it has reported closed.
type ConnID uint64

// SyncID names a Sync the Node handed out, reported back with Synced.
type SyncID uint64

// OpID names a FileOp the Node handed out, reported back with Done.
type OpID uint64

// Clocks are the driver's clocks at an event: MonotonicMs for every timeout, WallMs only to
// stamp the metadata log's batches. Core reads no clock.
type Clocks struct {
	MonotonicMs int64
	WallMs      int64
}

// Ready lists the effects of one event. The driver executes them in field order; the order is
// the contract:
//   - the quorum-state file is already durable (written inline: a vote or a new epoch must be
//     on disk before any message that depends on it leaves), and so are log appends in the
//     page cache;
//   - Syncs, FileOps and Snapshot start off the loop; nothing below waits for them (the quorum
//     acknowledges only what Synced reported durable);
//   - Sends go to their nodes, each destination's in order; losing any is safe (the quorum
//     retries by timeout);
//   - Responses go out per connection in the order listed, which is request order; Closes
//     come after the responses listed before them;
//   - Committed, Warnings and NextDeadlineMs need no order with the rest.
type Ready struct {
	Syncs     []Sync
	FileOps   []FileOp
	Snapshot  *metadata.SnapshotWrite // run off the loop, then report with SnapshotWritten
	Sends     []PeerSend
	Responses []Response
	Closes    []ConnID
	// Committed, when set, is the committed metadata image after this event, for a broker in
	// the same process (which learns metadata only from committed records).
	Committed *Committed
	Warnings  []error
	// NextDeadlineMs is the monotonic time at which to call Timer; 0 = no timer wanted.
	NextDeadlineMs int64
	// Fatal, when set, is a storage failure or a broken invariant of the metadata log: the
	// process must stop; recovery on restart is the designed path.
	Fatal error
}

// Sync is one fdatasync of the metadata log to run off the loop.
type Sync struct {
	ID  SyncID
	Req log.SyncRequest
}

// FileOp is a batch of slow file operations (unlinks of old segments and snapshots).
type FileOp struct {
	ID  OpID
	Ops []log.FileOp
}

// PeerSend is one request to another node's controller listener. Version is the version to
// send (the driver may lower it to what the peer advertises, within the request kind's
// supported range). The answer comes back with PeerResponse, by correlation id.
type PeerSend struct {
	To            int32
	CorrelationID int32
	Request       kmsg.Request
}

// Response answers one request of an inbound connection.
type Response struct {
	Conn   ConnID
	Header wire.RequestHeader
	Body   kmsg.Response
}

// Committed is the committed metadata: the image after every record below Offset, and the
// quorum's leader as this node knows it.
type Committed struct {
	Image       *metadata.Image
	Offset      record.Offset
	LeaderID    int32 // -1 when unknown
	LeaderEpoch record.Epoch
}

// quorumState converts the quorum's leader to the Committed fields.
func leaderOf(s quorum.State) (int32, record.Epoch) {
	return int32(s.LeaderID), s.Epoch
}
