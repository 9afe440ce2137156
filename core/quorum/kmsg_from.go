package quorum

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/record"
)

// FromKmsg translates a received kmsg request or response into a Message from → to.
// request is nil for a request; for a response it is the request it answers, which the
// driver keeps by correlation id anyway (a Kafka response names neither its API nor its
// version): a fetch answer without records starts at the request's fetch offset.
//
// A request that must be answered with an error is a *RejectError (see RejectResponse); a
// response with a top-level error wraps ErrErrorResponse; anything else malformed, of an
// unsupported version, or for another partition wraps ErrInvalidMessage.
func (w *Wire) FromKmsg(from, to NodeID, correlationID int32, km Kmsg, request *Message) (Message, error) {
	m := Message{From: from, To: to, CorrelationID: correlationID}
	if err := checkVersion(km, km.GetVersion()); err != nil {
		return m, err
	}
	var err error
	if _, isRequest := km.(kmsg.Request); isRequest {
		if request != nil {
			return m, fmt.Errorf("%w: request %T given as the answer to %T", ErrInvalidMessage, km, request.Body)
		}
		m.Body, err = w.requestFromKmsg(to, km)
		return m, err
	}
	if request == nil {
		return m, fmt.Errorf("%w: response %T without its request", ErrInvalidMessage, km)
	}
	m.Body, err = responseFromKmsg(km, request.Body)
	return m, err
}

// checkClusterID accepts the node's own cluster id and none at all (Kafka accepts a request
// without one, from a sender that predates it).
func (w *Wire) checkClusterID(kind string, id *string) error {
	if id != nil && *id != w.ClusterID {
		return topLevelReject(ErrInconsistentClusterID, "%s for cluster %q, this is %q", kind, *id, w.ClusterID)
	}
	return nil
}

// checkOnePartition is KafkaRaftClient's hasValidTopicPartition: exactly one topic, holding
// exactly the partition __cluster_metadata-0.
func checkOnePartition(kind string, s partitionShape) error {
	switch {
	case s.topics != 1 || s.partitions != 1:
		return topLevelReject(ErrInvalidRequest, "%s with %d topics, %d partitions in the first, want one", kind, s.topics, s.partitions)
	case s.topic != MetadataTopic || s.partition != MetadataPartition:
		return topLevelReject(ErrInvalidRequest, "%s for %s-%d, not %s-%d", kind, s.topic, s.partition, MetadataTopic, MetadataPartition)
	}
	return nil
}

// checkVoterID rejects a request addressed to another voter (v1+; -1 is unset).
func checkVoterID(kind string, voterID int32, to NodeID) error {
	if voterID != -1 && NodeID(voterID) != to {
		return &RejectError{Code: ErrInvalidVoterKey, Reason: fmt.Sprintf("%s for voter %d delivered to %d", kind, voterID, to)}
	}
	return nil
}

func (w *Wire) requestFromKmsg(to NodeID, km Kmsg) (Body, error) {
	switch req := km.(type) {
	case *kmsg.VoteRequest:
		if err := w.checkClusterID("vote", req.ClusterID); err != nil {
			return nil, err
		}
		if err := checkOnePartition("vote", shapeOf(req.Topics, func(t *kmsg.VoteRequestTopic) (string, []kmsg.VoteRequestTopicPartition) {
			return t.Topic, t.Partitions
		}, func(p *kmsg.VoteRequestTopicPartition) int32 { return p.Partition })); err != nil {
			return nil, err
		}
		if err := checkVoterID("vote", req.VoterID, to); req.Version >= 1 && err != nil {
			return nil, err
		}
		p := &req.Topics[0].Partitions[0]
		return &VoteRequest{
			CandidateEpoch: record.Epoch(p.CandidateEpoch), CandidateID: NodeID(p.CandidateID),
			LastOffsetEpoch: record.Epoch(p.LastOffsetEpoch), LastOffset: record.Offset(p.LastOffset), PreVote: p.PreVote,
		}, nil
	case *kmsg.BeginQuorumEpochRequest:
		if err := w.checkClusterID("begin-quorum-epoch", req.ClusterID); err != nil {
			return nil, err
		}
		if err := checkOnePartition("begin-quorum-epoch", shapeOf(req.Topics, func(t *kmsg.BeginQuorumEpochRequestTopic) (string, []kmsg.BeginQuorumEpochRequestTopicPartition) {
			return t.Topic, t.Partitions
		}, func(p *kmsg.BeginQuorumEpochRequestTopicPartition) int32 { return p.Partition })); err != nil {
			return nil, err
		}
		if err := checkVoterID("begin-quorum-epoch", req.VoterID, to); req.Version >= 1 && err != nil {
			return nil, err
		}
		p := &req.Topics[0].Partitions[0]
		return &BeginQuorumEpochRequest{LeaderID: NodeID(p.LeaderID), LeaderEpoch: record.Epoch(p.LeaderEpoch)}, nil
	case *kmsg.EndQuorumEpochRequest:
		if err := w.checkClusterID("end-quorum-epoch", req.ClusterID); err != nil {
			return nil, err
		}
		if err := checkOnePartition("end-quorum-epoch", shapeOf(req.Topics, func(t *kmsg.EndQuorumEpochRequestTopic) (string, []kmsg.EndQuorumEpochRequestTopicPartition) {
			return t.Topic, t.Partitions
		}, func(p *kmsg.EndQuorumEpochRequestTopicPartition) int32 { return p.Partition })); err != nil {
			return nil, err
		}
		p := &req.Topics[0].Partitions[0]
		b := &EndQuorumEpochRequest{LeaderID: NodeID(p.LeaderID), LeaderEpoch: record.Epoch(p.LeaderEpoch)}
		if req.Version == 0 {
			for _, s := range p.PreferredSuccessors {
				b.PreferredSuccessors = append(b.PreferredSuccessors, NodeID(s))
			}
		} else {
			for _, c := range p.PreferredCandidates {
				b.PreferredSuccessors = append(b.PreferredSuccessors, NodeID(c.CandidateID))
			}
		}
		return b, nil
	case *kmsg.FetchRequest:
		if err := w.checkClusterID("fetch", req.ClusterID); err != nil {
			return nil, err
		}
		shape := shapeOf(req.Topics, func(t *kmsg.FetchRequestTopic) (string, []kmsg.FetchRequestTopicPartition) {
			return fetchTopicName(req.Version, t.Topic, t.TopicID), t.Partitions
		}, func(p *kmsg.FetchRequestTopicPartition) int32 { return p.Partition })
		if err := checkOnePartition("fetch", shape); err != nil {
			return nil, err
		}
		p := &req.Topics[0].Partitions[0]
		replica := req.ReplicaID
		if req.Version >= 15 {
			replica = req.ReplicaState.ID
		}
		return &FetchRequest{
			ReplicaID: NodeID(replica), MaxWaitMs: req.MaxWaitMillis, CurrentLeaderEpoch: record.Epoch(p.CurrentLeaderEpoch),
			FetchOffset: record.Offset(p.FetchOffset), LastFetchedEpoch: record.Epoch(p.LastFetchedEpoch),
			LogStartOffset: record.Offset(p.LogStartOffset), MaxEntries: p.PartitionMaxBytes / w.bytesPerEntry(),
		}, nil
	case *kmsg.FetchSnapshotRequest:
		if err := w.checkClusterID("fetch-snapshot", req.ClusterID); err != nil {
			return nil, err
		}
		if len(req.Topics) != 1 || len(req.Topics[0].Partitions) != 1 {
			partitions := 0
			if len(req.Topics) > 0 {
				partitions = len(req.Topics[0].Partitions)
			}
			return nil, topLevelReject(ErrInvalidRequest, "fetch-snapshot with %d topics, %d partitions in the first, want one", len(req.Topics), partitions)
		}
		t := &req.Topics[0]
		p := &t.Partitions[0]
		if t.Topic != MetadataTopic || p.Partition != MetadataPartition {
			// Kafka answers this one in the partition, naming the partition asked for.
			return nil, &RejectError{Code: ErrUnknownTopicOrPartition, Reason: fmt.Sprintf("fetch-snapshot for %s-%d", t.Topic, p.Partition)}
		}
		return &FetchSnapshotRequest{
			ReplicaID: NodeID(req.ReplicaID), MaxBytes: req.MaxBytes, CurrentLeaderEpoch: record.Epoch(p.CurrentLeaderEpoch),
			SnapshotID: EpochEndOffset{Epoch: record.Epoch(p.SnapshotID.Epoch), EndOffset: record.Offset(p.SnapshotID.EndOffset)},
			Position:   p.Position,
		}, nil
	}
	return nil, fmt.Errorf("%w: request %T is not a quorum request", ErrInvalidMessage, km)
}

// partitionShape is what a request or response says it is for: how many topics, how many
// partitions in the first, and the first partition's topic and index (-1 when none).
type partitionShape struct {
	topics, partitions int
	topic              string
	partition          int32
}

func shapeOf[T, P any](topics []T, parts func(*T) (string, []P), index func(*P) int32) partitionShape {
	s := partitionShape{topics: len(topics), partition: -1}
	if len(topics) == 0 {
		return s
	}
	var ps []P
	s.topic, ps = parts(&topics[0])
	s.partitions = len(ps)
	if len(ps) > 0 {
		s.partition = index(&ps[0])
	}
	return s
}

// fetchTopicName is a Fetch topic's name: by name up to v12, by id from v13.
func fetchTopicName(version int16, name string, id [16]byte) string {
	switch {
	case version <= 12:
		return name
	case id == MetadataTopicID:
		return MetadataTopic
	}
	return fmt.Sprintf("topic id %x", id)
}

// responseShape checks a response's top-level error and that it answers for exactly
// __cluster_metadata-0.
func responseShape(kind string, errorCode int16, s partitionShape) error {
	if errorCode != ErrNone {
		return fmt.Errorf("%w: %s with top-level error code %d", ErrErrorResponse, kind, errorCode)
	}
	if s.topics != 1 || s.partitions != 1 || s.topic != MetadataTopic || s.partition != MetadataPartition {
		return fmt.Errorf("%w: %s with %d topics, %d partitions, first %s-%d", ErrInvalidMessage, kind, s.topics, s.partitions, s.topic, s.partition)
	}
	return nil
}

func wrongAnswer(km Kmsg, request Body) error {
	return fmt.Errorf("%w: response %T to a %T", ErrInvalidMessage, km, request)
}

func responseFromKmsg(km Kmsg, request Body) (Body, error) {
	switch resp := km.(type) {
	case *kmsg.VoteResponse:
		if _, ok := request.(*VoteRequest); !ok {
			return nil, wrongAnswer(km, request)
		}
		if err := responseShape("vote response", resp.ErrorCode, shapeOf(resp.Topics, func(t *kmsg.VoteResponseTopic) (string, []kmsg.VoteResponseTopicPartition) {
			return t.Topic, t.Partitions
		}, func(p *kmsg.VoteResponseTopicPartition) int32 { return p.Partition })); err != nil {
			return nil, err
		}
		p := &resp.Topics[0].Partitions[0]
		return &VoteResponse{ErrorCode: p.ErrorCode, LeaderID: NodeID(p.LeaderID), LeaderEpoch: record.Epoch(p.LeaderEpoch), VoteGranted: p.VoteGranted}, nil
	case *kmsg.BeginQuorumEpochResponse:
		if _, ok := request.(*BeginQuorumEpochRequest); !ok {
			return nil, wrongAnswer(km, request)
		}
		if err := responseShape("begin-quorum-epoch response", resp.ErrorCode, shapeOf(resp.Topics, func(t *kmsg.BeginQuorumEpochResponseTopic) (string, []kmsg.BeginQuorumEpochResponseTopicPartition) {
			return t.Topic, t.Partitions
		}, func(p *kmsg.BeginQuorumEpochResponseTopicPartition) int32 { return p.Partition })); err != nil {
			return nil, err
		}
		p := &resp.Topics[0].Partitions[0]
		return &BeginQuorumEpochResponse{ErrorCode: p.ErrorCode, LeaderID: NodeID(p.LeaderID), LeaderEpoch: record.Epoch(p.LeaderEpoch)}, nil
	case *kmsg.EndQuorumEpochResponse:
		if _, ok := request.(*EndQuorumEpochRequest); !ok {
			return nil, wrongAnswer(km, request)
		}
		if err := responseShape("end-quorum-epoch response", resp.ErrorCode, shapeOf(resp.Topics, func(t *kmsg.EndQuorumEpochResponseTopic) (string, []kmsg.EndQuorumEpochResponseTopicPartition) {
			return t.Topic, t.Partitions
		}, func(p *kmsg.EndQuorumEpochResponseTopicPartition) int32 { return p.Partition })); err != nil {
			return nil, err
		}
		p := &resp.Topics[0].Partitions[0]
		return &EndQuorumEpochResponse{ErrorCode: p.ErrorCode, LeaderID: NodeID(p.LeaderID), LeaderEpoch: record.Epoch(p.LeaderEpoch)}, nil
	case *kmsg.FetchResponse:
		req, ok := request.(*FetchRequest)
		if !ok {
			return nil, wrongAnswer(km, request)
		}
		return fetchResponseFromKmsg(resp, req)
	case *kmsg.FetchSnapshotResponse:
		if _, ok := request.(*FetchSnapshotRequest); !ok {
			return nil, wrongAnswer(km, request)
		}
		if err := responseShape("fetch-snapshot response", resp.ErrorCode, shapeOf(resp.Topics, func(t *kmsg.FetchSnapshotResponseTopic) (string, []kmsg.FetchSnapshotResponseTopicPartition) {
			return t.Topic, t.Partitions
		}, func(p *kmsg.FetchSnapshotResponseTopicPartition) int32 { return p.Partition })); err != nil {
			return nil, err
		}
		p := &resp.Topics[0].Partitions[0]
		return &FetchSnapshotResponse{
			ErrorCode:     p.ErrorCode,
			SnapshotID:    EpochEndOffset{Epoch: record.Epoch(p.SnapshotID.Epoch), EndOffset: record.Offset(p.SnapshotID.EndOffset)},
			CurrentLeader: LeaderAndEpoch{LeaderID: NodeID(p.CurrentLeader.LeaderID), LeaderEpoch: record.Epoch(p.CurrentLeader.LeaderEpoch)},
			// A copy: the chunk outlives the frame it came in (the log may keep it).
			Size: p.Size, Position: p.Position, Bytes: bytes.Clone(p.Bytes),
		}, nil
	}
	return nil, fmt.Errorf("%w: response %T is not a quorum response", ErrInvalidMessage, km)
}

func fetchResponseFromKmsg(resp *kmsg.FetchResponse, req *FetchRequest) (Body, error) {
	shape := shapeOf(resp.Topics, func(t *kmsg.FetchResponseTopic) (string, []kmsg.FetchResponseTopicPartition) {
		return fetchTopicName(resp.Version, t.Topic, t.TopicID), t.Partitions
	}, func(p *kmsg.FetchResponseTopicPartition) int32 { return p.Partition })
	if err := responseShape("fetch response", resp.ErrorCode, shape); err != nil {
		return nil, err
	}
	p := &resp.Topics[0].Partitions[0]
	b := &FetchResponse{
		ErrorCode: p.ErrorCode, HighWatermark: record.Offset(p.HighWatermark), LogStartOffset: record.Offset(p.LogStartOffset),
		DivergingEpoch: EpochEndOffset{Epoch: record.Epoch(p.DivergingEpoch.Epoch), EndOffset: record.Offset(p.DivergingEpoch.EndOffset)},
		CurrentLeader:  LeaderAndEpoch{LeaderID: NodeID(p.CurrentLeader.LeaderID), LeaderEpoch: record.Epoch(p.CurrentLeader.LeaderEpoch)},
		SnapshotID:     EpochEndOffset{Epoch: record.Epoch(p.SnapshotID.Epoch), EndOffset: record.Offset(p.SnapshotID.EndOffset)},
		BaseOffset:     req.FetchOffset,
	}
	base, entries, err := DecodeBatches(wholeBatches(p.RecordBatches))
	if err != nil {
		return nil, fmt.Errorf("%w: fetch response records: %w", ErrInvalidMessage, err)
	}
	if len(entries) == 0 {
		return b, nil
	}
	// A Kafka leader answers from the start of the batch holding the fetch offset; the
	// batches below it are the fetcher's already (the fetch position was validated). The
	// fetch offset is a batch boundary of the fetcher's log, so of the leader's: a batch
	// straddling it means the logs disagree on their batches, and is refused.
	if base > req.FetchOffset {
		return nil, fmt.Errorf("%w: fetch response records start at %d, after the fetch offset %d", ErrInvalidMessage, base, req.FetchOffset)
	}
	skip := req.FetchOffset - base
	if skip >= record.Offset(len(entries)) {
		return b, nil
	}
	if skip > 0 && entries[skip-1].MoreInBatch {
		return nil, fmt.Errorf("%w: fetch response batch from %d holds the fetch offset %d inside it", ErrInvalidMessage, base, req.FetchOffset)
	}
	b.Entries = entries[skip:]
	return b, nil
}

// wholeBatches cuts a truncated last batch off a fetch answer's records: Kafka's leader reads
// its log by bytes and may end the answer mid-batch, and its fetchers ignore that tail, as
// this one does. A tail too short to hold a batch header is cut as well; damage anywhere is
// left for DecodeBatches to reject.
func wholeBatches(records []byte) []byte {
	it := record.NewBatchIterator(records)
	for it.Next() {
	}
	if errors.Is(it.Err(), record.ErrShortBatch) {
		return records[:it.Position()]
	}
	return records
}
