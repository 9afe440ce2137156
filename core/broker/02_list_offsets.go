package broker

// ListOffsets, versions 1-10.
//
// Behaviour: -2 (earliest) is the log start offset; -1 (latest) the high watermark, which on
// one node is also the last stable offset, so both isolation levels get it; -3 (KIP-734) the
// first record with the largest timestamp; -4 (KIP-405 earliest local) the log start offset,
// there being no tiered storage; any other timestamp the first offset whose record timestamp
// is at or after it, -1/-1 when none is (or when it is not yet below the high watermark: a
// consumer must not learn of unsynced records). v4+ answers carry the leader epoch of the
// offset found. The current leader epoch, when given, must match (FENCED_LEADER_EPOCH /
// UNKNOWN_LEADER_EPOCH).
//
// Left out: -5 (earliest tiered, KIP-1005) answers like -4; v10's TimeoutMillis (nothing
// here waits); follower requests (ReplicaID is ignored).

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
)

const (
	timestampEarliestLocal  int64 = -4
	timestampEarliestTiered int64 = -5
)

func (n *Node) handleListOffsets(cs *conn, s *slot, req *kmsg.ListOffsetsRequest) {
	img := n.img
	resp := kmsg.NewPtrListOffsetsResponse()
	for _, rt := range req.Topics {
		t := kmsg.NewListOffsetsResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewListOffsetsResponseTopicPartition()
			p.Partition = rp.Partition
			p.ErrorCode = n.listOffset(img, rt.Topic, req.ReplicaID < 0, &rp, &p)
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	n.finish(cs, s, resp, nil)
}

func (n *Node) listOffset(img *metadata.Image, topic string, fromClient bool, rp *kmsg.ListOffsetsRequestTopicPartition, p *kmsg.ListOffsetsResponseTopicPartition) int16 {
	p.Timestamp, p.Offset, p.LeaderEpoch = -1, -1, -1
	mt, ok := img.TopicByName(topic)
	if !ok {
		return errUnknownTopicOrPartition
	}
	if code := n.leaderCode(topic, rp.Partition); code != errNone {
		return code
	}
	mp, okPart := mt.Partition(rp.Partition)
	tp := storage.TopicPartition{Topic: topic, Partition: rp.Partition}
	l, okLog := n.logs.GetLog(tp)
	if !okPart || !okLog {
		return errUnknownTopicOrPartition
	}
	if rp.CurrentLeaderEpoch >= 0 {
		switch {
		case rp.CurrentLeaderEpoch < mp.LeaderEpoch:
			return errFencedLeaderEpoch
		case rp.CurrentLeaderEpoch > mp.LeaderEpoch:
			return errUnknownLeaderEpoch
		}
	}
	if r, leads := n.leading(tp); leads && fromClient && !n.hwShown(r) {
		// Every answer is bounded by the high watermark, which a new leader must not show
		// before it reached its epoch start (Kafka's fetchOffsetForTimestamp, KIP-207).
		return errOffsetNotAvailable
	}
	hw := n.highWatermark(tp, l)
	epochOf := func(o record.Offset) int32 {
		if e, ok := l.EpochForOffset(o); ok {
			return int32(e)
		}
		return -1
	}
	switch ts := rp.Timestamp; ts {
	case log.TimestampLatest:
		p.Offset, p.LeaderEpoch = int64(hw), mp.LeaderEpoch
	case log.TimestampEarliest, timestampEarliestLocal, timestampEarliestTiered:
		p.Offset, p.LeaderEpoch = int64(l.StartOffset()), epochOf(l.StartOffset())
	case log.TimestampMax:
		o, maxTs := l.MaxTimestamp()
		if o >= 0 && o < hw {
			p.Offset, p.Timestamp, p.LeaderEpoch = int64(o), maxTs, epochOf(o)
		}
	default:
		if ts < 0 {
			return errInvalidRequest
		}
		o, found, ok, err := l.OffsetForTimestamp(ts)
		switch {
		case errors.Is(err, log.ErrInvalidTimestamp):
			return errInvalidRequest
		case err != nil:
			return errKafkaStorageError
		case ok && o < hw:
			p.Offset, p.Timestamp, p.LeaderEpoch = int64(o), found, epochOf(o)
		}
	}
	return errNone
}
