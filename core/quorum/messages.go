package quorum

import "github.com/weirdata/weir/core/record"

// NodeID is a quorum member's node.id (controller or broker). NoNode means "none" (no vote
// cast, leader unknown), as Kafka's -1.
type NodeID int32

// NoNode is the absent node id.
const NoNode NodeID = -1

// Kafka error codes the quorum answers with (kerr's numbers, so a mapping to kmsg is direct).
const (
	ErrNone                 int16 = 0
	ErrNotLeaderOrFollower  int16 = 6
	ErrInvalidRequest       int16 = 42
	ErrFencedLeaderEpoch    int16 = 74
	ErrUnknownLeaderEpoch   int16 = 75
	ErrInconsistentVoterSet int16 = 94
	ErrSnapshotNotFound     int16 = 98
	ErrPositionOutOfRange   int16 = 99
)

// Message is one request or response between two quorum members. Requests and responses on
// one connection are delivered in order (TCP); the driver must drop a connection's messages
// when either end restarts. CorrelationID pairs a response with its request, as the Kafka
// request header does.
type Message struct {
	From, To      NodeID
	CorrelationID int32
	Body          Body
}

// Body is one of the request and response types below.
type Body interface{ isBody() }

// VoteRequest mirrors kmsg.VoteRequest's partition (v2, KIP-996): PreVote asks whether the
// receiver would vote, without either side changing its epoch or recording a vote.
type VoteRequest struct {
	CandidateEpoch  record.Epoch // the epoch the candidate runs in; a prospective's own epoch for a pre-vote
	CandidateID     NodeID
	LastOffsetEpoch record.Epoch  // epoch of the candidate's last entry
	LastOffset      record.Offset // the candidate's log end offset
	PreVote         bool
}

// VoteResponse mirrors kmsg.VoteResponse's partition.
type VoteResponse struct {
	ErrorCode   int16
	LeaderID    NodeID       // the leader the responder knows, NoNode if none
	LeaderEpoch record.Epoch // the responder's epoch
	VoteGranted bool
}

// BeginQuorumEpochRequest mirrors kmsg.BeginQuorumEpochRequest's partition: a new leader
// announces itself to the voters.
type BeginQuorumEpochRequest struct {
	LeaderID    NodeID
	LeaderEpoch record.Epoch
}

// BeginQuorumEpochResponse mirrors kmsg.BeginQuorumEpochResponse's partition.
type BeginQuorumEpochResponse struct {
	ErrorCode   int16
	LeaderID    NodeID
	LeaderEpoch record.Epoch
}

// EndQuorumEpochRequest mirrors kmsg.EndQuorumEpochRequest's partition: a leader resigns and
// names the voters it prefers as successors, most caught-up first.
type EndQuorumEpochRequest struct {
	LeaderID            NodeID
	LeaderEpoch         record.Epoch
	PreferredSuccessors []NodeID
}

// EndQuorumEpochResponse mirrors kmsg.EndQuorumEpochResponse's partition.
type EndQuorumEpochResponse struct {
	ErrorCode   int16
	LeaderID    NodeID
	LeaderEpoch record.Epoch
}

// FetchRequest mirrors the fields of kmsg.FetchRequest (ReplicaID, MaxWaitMillis) and its
// partition that KRaft uses. A voter's FetchOffset is also its acknowledgement: everything
// below it is in its log and flushed.
type FetchRequest struct {
	ReplicaID          NodeID
	MaxWaitMs          int32
	CurrentLeaderEpoch record.Epoch
	FetchOffset        record.Offset
	LastFetchedEpoch   record.Epoch // epoch of the entry just below FetchOffset
	LogStartOffset     record.Offset
	MaxEntries         int32 // stands in for PartitionMaxBytes
}

// EpochEndOffset is a (epoch, end offset) pair: a diverging epoch, or a snapshot id.
type EpochEndOffset struct {
	Epoch     record.Epoch
	EndOffset record.Offset
}

// LeaderAndEpoch mirrors FetchResponse's CurrentLeader.
type LeaderAndEpoch struct {
	LeaderID    NodeID
	LeaderEpoch record.Epoch
}

// FetchResponse mirrors kmsg.FetchResponse's partition. Exactly one of Entries (possibly
// none), a DivergingEpoch (Epoch ≥ 0), a SnapshotID (Epoch ≥ 0) or an error is meaningful.
// BaseOffset is the offset of Entries[0] (the records' base offset on the wire).
type FetchResponse struct {
	ErrorCode      int16
	HighWatermark  record.Offset
	LogStartOffset record.Offset
	DivergingEpoch EpochEndOffset // Epoch -1: none
	CurrentLeader  LeaderAndEpoch
	SnapshotID     EpochEndOffset // Epoch -1: none; else fetch this snapshot (KIP-630)
	BaseOffset     record.Offset
	Entries        []Entry
}

// FetchSnapshotRequest mirrors kmsg.FetchSnapshotRequest (ReplicaID, MaxBytes) and its
// partition: one chunk of the leader's snapshot, from Position.
type FetchSnapshotRequest struct {
	ReplicaID          NodeID
	MaxBytes           int32
	CurrentLeaderEpoch record.Epoch
	SnapshotID         EpochEndOffset
	Position           int64
}

// FetchSnapshotResponse mirrors kmsg.FetchSnapshotResponse's partition: Bytes are the
// snapshot's bytes at Position, of Size in all.
type FetchSnapshotResponse struct {
	ErrorCode     int16
	SnapshotID    EpochEndOffset
	CurrentLeader LeaderAndEpoch
	Size          int64
	Position      int64
	Bytes         []byte
}

func (*VoteRequest) isBody()              {}
func (*VoteResponse) isBody()             {}
func (*BeginQuorumEpochRequest) isBody()  {}
func (*BeginQuorumEpochResponse) isBody() {}
func (*EndQuorumEpochRequest) isBody()    {}
func (*EndQuorumEpochResponse) isBody()   {}
func (*FetchRequest) isBody()             {}
func (*FetchResponse) isBody()            {}
func (*FetchSnapshotRequest) isBody()     {}
func (*FetchSnapshotResponse) isBody()    {}
