package quorum

import (
	"errors"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Messages on the wire are Kafka's KRaft RPCs (KIP-595, KIP-630, KIP-996) for the one
// partition __cluster_metadata-0, as Kafka's KafkaRaftClient sends and checks them.
//
// Versions. The Send* constants are what Kafka 4.0 controllers send each other (pre-vote needs
// Vote v2; Fetch v17 carries ReplicaState and the replica's directory id). The Min* constants
// are the oldest versions still read: Kafka 3.7 controllers speak Vote, BeginQuorumEpoch,
// EndQuorumEpoch and FetchSnapshot v0 and Fetch v16; Fetch v12 is the first with the
// last-fetched epoch, diverging epoch and snapshot id. A response goes out at its request's
// version. Directory ids (KIP-853) are sent as zero, Kafka's "unknown", and not checked: the
// voter set is static.
const (
	SendVoteVersion             int16 = 2
	SendBeginQuorumEpochVersion int16 = 1
	SendEndQuorumEpochVersion   int16 = 1
	SendFetchVersion            int16 = 17
	SendFetchSnapshotVersion    int16 = 1

	MinVoteVersion             int16 = 0
	MinBeginQuorumEpochVersion int16 = 0
	MinEndQuorumEpochVersion   int16 = 0
	MinFetchVersion            int16 = 12
	MinFetchSnapshotVersion    int16 = 0
)

// MetadataTopic and MetadataPartition name the replicated log; MetadataTopicID is its fixed
// topic id (Kafka's Uuid.METADATA_TOPIC_ID, 0 then 1), which Fetch v13+ carries instead of the
// name.
const (
	MetadataTopic           = "__cluster_metadata"
	MetadataPartition int32 = 0
)

// MetadataTopicID is __cluster_metadata's topic id.
var MetadataTopicID = [16]byte{15: 1}

// Error codes only the wire layer answers with (kerr's numbers).
const (
	ErrUnknownTopicOrPartition int16 = 3
	ErrInconsistentClusterID   int16 = 104
	ErrInvalidVoterKey         int16 = 125
)

// ErrErrorResponse is what FromKmsg wraps for a response with a top-level error: the peer
// refused the request as a whole (another cluster, a malformed request) and said nothing the
// state machine can use; the request times out and is retried.
var ErrErrorResponse = errors.New("quorum: error response")

// Kmsg is what a kmsg request and a kmsg response have in common here: ToKmsg returns a
// kmsg.Request for a request body and a kmsg.Response for a response body.
type Kmsg interface {
	Key() int16
	GetVersion() int16
	SetVersion(int16)
	AppendTo([]byte) []byte
	ReadFrom([]byte) error
}

// Endpoint is a controller listener's address.
type Endpoint struct {
	Listener string
	Host     string
	Port     uint16
}

// Wire translates one node's messages to and from kmsg.
type Wire struct {
	// ClusterID is sent in every request and checked in every request received.
	ClusterID string
	// Self is this node's controller listener: BeginQuorumEpoch and EndQuorumEpoch v1 carry
	// it as the leader's endpoint, and responses naming this node as the leader carry it in
	// their node endpoints, as Kafka's do. Empty Host: none sent. Endpoints received are
	// ignored: the voter set and its addresses are configuration.
	Self Endpoint
	// FetchBytesPerEntry converts FetchRequest.MaxEntries to Kafka's PartitionMaxBytes and
	// back (MaxEntries = PartitionMaxBytes / FetchBytesPerEntry): Kafka bounds a fetch in
	// bytes, the state machine in entries. 0 means DefaultFetchBytesPerEntry.
	FetchBytesPerEntry int32
}

// DefaultFetchBytesPerEntry makes Kafka's fetch size, 8 MiB (its MAX_FETCH_SIZE_BYTES),
// 8192 entries.
const DefaultFetchBytesPerEntry int32 = 1024

// RejectError is FromKmsg's error for a request that must be answered with an error instead
// of being stepped: RejectResponse builds the answer. It wraps ErrInvalidMessage. As Kafka's
// KafkaRaftClient does:
//   - another cluster's id: INCONSISTENT_CLUSTER_ID at the top level (a request without an id
//     is accepted, as Kafka accepts one from an older sender);
//   - not exactly one topic with one partition, or Vote, BeginQuorumEpoch, EndQuorumEpoch or
//     Fetch for a partition other than __cluster_metadata-0: INVALID_REQUEST at the top level;
//   - FetchSnapshot for another topic or partition: UNKNOWN_TOPIC_OR_PARTITION in the partition;
//   - Vote or BeginQuorumEpoch v1+ addressed to another voter id: INVALID_VOTER_KEY in the
//     partition. Kafka adopts the request's epoch before this check; Weir does not step a
//     misrouted request at all (with a static voter set it means a misconfigured peer), so
//     the epoch is learned from the next message that is for this node.
type RejectError struct {
	Code     int16
	TopLevel bool
	Reason   string
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("%v: rejected with error code %d: %s", ErrInvalidMessage, e.Code, e.Reason)
}

func (e *RejectError) Unwrap() error { return ErrInvalidMessage }

func topLevelReject(code int16, format string, args ...any) *RejectError {
	return &RejectError{Code: code, TopLevel: true, Reason: fmt.Sprintf(format, args...)}
}

// supportedVersions is the range of versions of an API key read and written here.
func supportedVersions(key int16) (lo, hi int16, ok bool) {
	switch key {
	case (*kmsg.VoteRequest)(nil).Key():
		return MinVoteVersion, SendVoteVersion, true
	case (*kmsg.BeginQuorumEpochRequest)(nil).Key():
		return MinBeginQuorumEpochVersion, SendBeginQuorumEpochVersion, true
	case (*kmsg.EndQuorumEpochRequest)(nil).Key():
		return MinEndQuorumEpochVersion, SendEndQuorumEpochVersion, true
	case (*kmsg.FetchRequest)(nil).Key():
		return MinFetchVersion, SendFetchVersion, true
	case (*kmsg.FetchSnapshotRequest)(nil).Key():
		return MinFetchSnapshotVersion, SendFetchSnapshotVersion, true
	}
	return 0, 0, false
}

// SendVersion is the version ToKmsg uses for body by default: the Send* constant of its kind.
func SendVersion(body Body) int16 {
	switch body.(type) {
	case *VoteRequest, *VoteResponse:
		return SendVoteVersion
	case *BeginQuorumEpochRequest, *BeginQuorumEpochResponse:
		return SendBeginQuorumEpochVersion
	case *EndQuorumEpochRequest, *EndQuorumEpochResponse:
		return SendEndQuorumEpochVersion
	case *FetchRequest, *FetchResponse:
		return SendFetchVersion
	case *FetchSnapshotRequest, *FetchSnapshotResponse:
		return SendFetchSnapshotVersion
	}
	panic(fmt.Sprintf("quorum: invariant: unknown message body %T", body))
}

func checkVersion(km Kmsg, version int16) error {
	lo, hi, ok := supportedVersions(km.Key())
	if !ok || version < lo || version > hi {
		return fmt.Errorf("%w: api key %d version %d outside %d..%d", ErrInvalidMessage, km.Key(), version, lo, hi)
	}
	return nil
}

// ToKmsg translates m into the kmsg request or response of its kind at version (the peer's
// request version for a response; SendVersion for a request unless the peer supports less).
// A fetch answer's record batches carry their entries' timestamps (the leader's, from its
// log); wallMs stamps only batches whose entries carry record.NoTimestamp. An error
// means m cannot be said at that version (a pre-vote below Vote v2) or its entries cannot be
// framed.
func (w *Wire) ToKmsg(m Message, version int16, wallMs int64) (Kmsg, error) {
	var km Kmsg
	var err error
	switch b := m.Body.(type) {
	case *VoteRequest:
		km, err = w.voteRequest(m, b, version)
	case *VoteResponse:
		km = w.voteResponse(m, b)
	case *BeginQuorumEpochRequest:
		km = w.beginRequest(m, b, version)
	case *BeginQuorumEpochResponse:
		km = w.beginResponse(m, b)
	case *EndQuorumEpochRequest:
		km = w.endRequest(b)
	case *EndQuorumEpochResponse:
		km = w.endResponse(m, b)
	case *FetchRequest:
		km = w.fetchRequest(b, version)
	case *FetchResponse:
		km, err = w.fetchResponse(m, b, wallMs)
	case *FetchSnapshotRequest:
		km = w.fetchSnapshotRequest(b)
	case *FetchSnapshotResponse:
		km = w.fetchSnapshotResponse(m, b)
	default:
		panic(fmt.Sprintf("quorum: invariant: unknown message body %T", m.Body))
	}
	if err != nil {
		return nil, err
	}
	if err := checkVersion(km, version); err != nil {
		return nil, err
	}
	km.SetVersion(version)
	return km, nil
}

func (w *Wire) clusterID() *string {
	id := w.ClusterID
	return &id
}

// selfIfLeader reports whether a response from m.From names its sender as the leader: the
// case in which the response carries the sender's endpoint.
func (w *Wire) selfIfLeader(m Message, leader NodeID) bool {
	return w.Self.Host != "" && leader == m.From && leader != NoNode
}

func (w *Wire) voteRequest(m Message, b *VoteRequest, version int16) (Kmsg, error) {
	if b.PreVote && version < 2 {
		return nil, fmt.Errorf("%w: a pre-vote needs Vote v2, not v%d", ErrInvalidMessage, version)
	}
	req := kmsg.NewPtrVoteRequest()
	req.ClusterID = w.clusterID()
	req.VoterID = int32(m.To)
	p := kmsg.NewVoteRequestTopicPartition()
	p.Partition = MetadataPartition
	p.CandidateEpoch = int32(b.CandidateEpoch)
	p.CandidateID = int32(b.CandidateID)
	p.LastOffsetEpoch = int32(b.LastOffsetEpoch)
	p.LastOffset = int64(b.LastOffset)
	p.PreVote = b.PreVote
	req.Topics = []kmsg.VoteRequestTopic{{Topic: MetadataTopic, Partitions: []kmsg.VoteRequestTopicPartition{p}}}
	return req, nil
}

func (w *Wire) voteResponse(m Message, b *VoteResponse) Kmsg {
	resp := kmsg.NewPtrVoteResponse()
	p := kmsg.NewVoteResponseTopicPartition()
	p.Partition = MetadataPartition
	p.ErrorCode = b.ErrorCode
	p.LeaderID = int32(b.LeaderID)
	p.LeaderEpoch = int32(b.LeaderEpoch)
	p.VoteGranted = b.VoteGranted
	resp.Topics = []kmsg.VoteResponseTopic{{Topic: MetadataTopic, Partitions: []kmsg.VoteResponseTopicPartition{p}}}
	if w.selfIfLeader(m, b.LeaderID) {
		resp.NodeEndpoints = []kmsg.VoteResponseNodeEndpoint{{NodeID: int32(m.From), Host: w.Self.Host, Port: w.Self.Port}}
	}
	return resp
}

func (w *Wire) beginRequest(m Message, b *BeginQuorumEpochRequest, version int16) Kmsg {
	req := kmsg.NewPtrBeginQuorumEpochRequest()
	req.ClusterID = w.clusterID()
	req.VoterID = int32(m.To)
	p := kmsg.NewBeginQuorumEpochRequestTopicPartition()
	p.Partition = MetadataPartition
	p.LeaderID = int32(b.LeaderID)
	p.LeaderEpoch = int32(b.LeaderEpoch)
	req.Topics = []kmsg.BeginQuorumEpochRequestTopic{{Topic: MetadataTopic, Partitions: []kmsg.BeginQuorumEpochRequestTopicPartition{p}}}
	if w.Self.Host != "" && version >= 1 {
		req.LeaderEndpoints = []kmsg.BeginQuorumEpochRequestLeaderEndpoint{{Name: w.Self.Listener, Host: w.Self.Host, Port: w.Self.Port}}
	}
	return req
}

func (w *Wire) beginResponse(m Message, b *BeginQuorumEpochResponse) Kmsg {
	resp := kmsg.NewPtrBeginQuorumEpochResponse()
	p := kmsg.NewBeginQuorumEpochResponseTopicPartition()
	p.Partition = MetadataPartition
	p.ErrorCode = b.ErrorCode
	p.LeaderID = int32(b.LeaderID)
	p.LeaderEpoch = int32(b.LeaderEpoch)
	resp.Topics = []kmsg.BeginQuorumEpochResponseTopic{{Topic: MetadataTopic, Partitions: []kmsg.BeginQuorumEpochResponseTopicPartition{p}}}
	if w.selfIfLeader(m, b.LeaderID) {
		resp.NodeEndpoints = []kmsg.BeginQuorumEpochResponseNodeEndpoint{{NodeID: int32(m.From), Host: w.Self.Host, Port: w.Self.Port}}
	}
	return resp
}

func (w *Wire) endRequest(b *EndQuorumEpochRequest) Kmsg {
	req := kmsg.NewPtrEndQuorumEpochRequest()
	req.ClusterID = w.clusterID()
	p := kmsg.NewEndQuorumEpochRequestTopicPartition()
	p.Partition = MetadataPartition
	p.LeaderID = int32(b.LeaderID)
	p.LeaderEpoch = int32(b.LeaderEpoch)
	// v0 carries the successors as ids, v1 as (id, directory id); both are filled and the
	// encoding writes the one its version has.
	for _, s := range b.PreferredSuccessors {
		p.PreferredSuccessors = append(p.PreferredSuccessors, int32(s))
		c := kmsg.NewEndQuorumEpochRequestTopicPartitionPreferredCandidate()
		c.CandidateID = int32(s)
		p.PreferredCandidates = append(p.PreferredCandidates, c)
	}
	req.Topics = []kmsg.EndQuorumEpochRequestTopic{{Topic: MetadataTopic, Partitions: []kmsg.EndQuorumEpochRequestTopicPartition{p}}}
	if w.Self.Host != "" {
		req.LeaderEndpoints = []kmsg.EndQuorumEpochRequestLeaderEndpoint{{Name: w.Self.Listener, Host: w.Self.Host, Port: w.Self.Port}}
	}
	return req
}

func (w *Wire) endResponse(m Message, b *EndQuorumEpochResponse) Kmsg {
	resp := kmsg.NewPtrEndQuorumEpochResponse()
	p := kmsg.NewEndQuorumEpochResponseTopicPartition()
	p.Partition = MetadataPartition
	p.ErrorCode = b.ErrorCode
	p.LeaderID = int32(b.LeaderID)
	p.LeaderEpoch = int32(b.LeaderEpoch)
	resp.Topics = []kmsg.EndQuorumEpochResponseTopic{{Topic: MetadataTopic, Partitions: []kmsg.EndQuorumEpochResponseTopicPartition{p}}}
	if w.selfIfLeader(m, b.LeaderID) {
		resp.NodeEndpoints = []kmsg.EndQuorumEpochResponseNodeEndpoint{{NodeID: int32(m.From), Host: w.Self.Host, Port: w.Self.Port}}
	}
	return resp
}

// partitionMaxBytes is MaxEntries in Kafka's unit, saturating at the int32 range.
func (w *Wire) partitionMaxBytes(maxEntries int32) int32 {
	v := int64(maxEntries) * int64(w.bytesPerEntry())
	return int32(min(max(v, math.MinInt32), math.MaxInt32))
}

func (w *Wire) bytesPerEntry() int32 {
	if w.FetchBytesPerEntry == 0 {
		return DefaultFetchBytesPerEntry
	}
	if w.FetchBytesPerEntry < 0 {
		panic(fmt.Sprintf("quorum: invariant: Wire.FetchBytesPerEntry %d is negative", w.FetchBytesPerEntry))
	}
	return w.FetchBytesPerEntry
}

func (w *Wire) fetchRequest(b *FetchRequest, version int16) Kmsg {
	req := kmsg.NewPtrFetchRequest()
	req.ClusterID = w.clusterID()
	// v15+ names the replica in ReplicaState (KIP-903) and the old field is not written;
	// ReplicaState.Epoch is a broker epoch, which a quorum fetcher does not have (-1).
	req.ReplicaID = int32(b.ReplicaID)
	req.ReplicaState.ID = int32(b.ReplicaID)
	req.MaxWaitMillis = b.MaxWaitMs
	req.MinBytes = 0
	pmb := w.partitionMaxBytes(b.MaxEntries)
	req.MaxBytes = pmb
	p := kmsg.NewFetchRequestTopicPartition()
	p.Partition = MetadataPartition
	p.CurrentLeaderEpoch = int32(b.CurrentLeaderEpoch)
	p.FetchOffset = int64(b.FetchOffset)
	p.LastFetchedEpoch = int32(b.LastFetchedEpoch)
	p.LogStartOffset = int64(b.LogStartOffset)
	p.PartitionMaxBytes = pmb
	t := kmsg.NewFetchRequestTopic()
	if version <= 12 {
		t.Topic = MetadataTopic
	} else {
		t.TopicID = MetadataTopicID
	}
	t.Partitions = []kmsg.FetchRequestTopicPartition{p}
	req.Topics = []kmsg.FetchRequestTopic{t}
	return req
}

func (w *Wire) fetchResponse(m Message, b *FetchResponse, wallMs int64) (Kmsg, error) {
	resp := kmsg.NewPtrFetchResponse()
	p := kmsg.NewFetchResponseTopicPartition()
	p.Partition = MetadataPartition
	p.ErrorCode = b.ErrorCode
	p.HighWatermark = int64(b.HighWatermark)
	p.LogStartOffset = int64(b.LogStartOffset)
	p.DivergingEpoch.Epoch = int32(b.DivergingEpoch.Epoch)
	p.DivergingEpoch.EndOffset = int64(b.DivergingEpoch.EndOffset)
	p.CurrentLeader.LeaderID = int32(b.CurrentLeader.LeaderID)
	p.CurrentLeader.LeaderEpoch = int32(b.CurrentLeader.LeaderEpoch)
	p.SnapshotID.Epoch = int32(b.SnapshotID.Epoch)
	p.SnapshotID.EndOffset = int64(b.SnapshotID.EndOffset)
	// Empty records are sent as empty, not null: some clients choke on null records.
	records, err := AppendBatches([]byte{}, b.BaseOffset, b.Entries, wallMs)
	if err != nil {
		return nil, fmt.Errorf("fetch answer to %d at %d: %w", m.To, b.BaseOffset, err)
	}
	p.RecordBatches = records
	t := kmsg.NewFetchResponseTopic()
	t.Topic = MetadataTopic // written up to v12
	t.TopicID = MetadataTopicID
	t.Partitions = []kmsg.FetchResponseTopicPartition{p}
	resp.Topics = []kmsg.FetchResponseTopic{t}
	if w.selfIfLeader(m, b.CurrentLeader.LeaderID) {
		resp.Brokers = []kmsg.FetchResponseBroker{{NodeID: int32(m.From), Host: w.Self.Host, Port: int32(w.Self.Port)}}
	}
	return resp, nil
}

func (w *Wire) fetchSnapshotRequest(b *FetchSnapshotRequest) Kmsg {
	req := kmsg.NewPtrFetchSnapshotRequest()
	req.ClusterID = w.clusterID()
	req.ReplicaID = int32(b.ReplicaID)
	req.MaxBytes = b.MaxBytes
	p := kmsg.NewFetchSnapshotRequestTopicPartition()
	p.Partition = MetadataPartition
	p.CurrentLeaderEpoch = int32(b.CurrentLeaderEpoch)
	p.SnapshotID.Epoch = int32(b.SnapshotID.Epoch)
	p.SnapshotID.EndOffset = int64(b.SnapshotID.EndOffset)
	p.Position = b.Position
	req.Topics = []kmsg.FetchSnapshotRequestTopic{{Topic: MetadataTopic, Partitions: []kmsg.FetchSnapshotRequestTopicPartition{p}}}
	return req
}

func (w *Wire) fetchSnapshotResponse(m Message, b *FetchSnapshotResponse) Kmsg {
	resp := kmsg.NewPtrFetchSnapshotResponse()
	p := kmsg.NewFetchSnapshotResponseTopicPartition()
	p.Partition = MetadataPartition
	p.ErrorCode = b.ErrorCode
	p.SnapshotID.Epoch = int32(b.SnapshotID.Epoch)
	p.SnapshotID.EndOffset = int64(b.SnapshotID.EndOffset)
	p.CurrentLeader.LeaderID = int32(b.CurrentLeader.LeaderID)
	p.CurrentLeader.LeaderEpoch = int32(b.CurrentLeader.LeaderEpoch)
	p.Size = b.Size
	p.Position = b.Position
	p.Bytes = b.Bytes
	if p.Bytes == nil {
		p.Bytes = []byte{}
	}
	resp.Topics = []kmsg.FetchSnapshotResponseTopic{{Topic: MetadataTopic, Partitions: []kmsg.FetchSnapshotResponseTopicPartition{p}}}
	if w.selfIfLeader(m, b.CurrentLeader.LeaderID) {
		resp.NodeEndpoints = []kmsg.FetchSnapshotResponseNodeEndpoint{{NodeID: int32(m.From), Host: w.Self.Host, Port: w.Self.Port}}
	}
	return resp
}
