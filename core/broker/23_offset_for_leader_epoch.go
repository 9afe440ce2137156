package broker

// OffsetForLeaderEpoch, versions 2-4.
//
// Behaviour: for each partition, the largest leader epoch at or below the one asked for and
// the end offset of that epoch, from the log's epoch cache (log.EndOffsetForEpoch);
// UNDEFINED (-1, -1) when the log knows no such epoch. Consumers use it to detect truncation
// after a leader change; the end offset they get is capped at the high watermark, so it
// never points past what they may read. The current leader epoch, when given, must match
// (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH).
//
// Left out: follower requests (ReplicaID ≥ 0 is answered like a consumer's; no replicas yet).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
)

func (n *Node) handleOffsetForLeaderEpoch(cs *conn, s *slot, req *kmsg.OffsetForLeaderEpochRequest) {
	img := n.img
	resp := kmsg.NewPtrOffsetForLeaderEpochResponse()
	for _, rt := range req.Topics {
		t := kmsg.NewOffsetForLeaderEpochResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			p.Partition, p.LeaderEpoch, p.EndOffset = rp.Partition, -1, -1
			if code := n.leaderCode(rt.Topic, rp.Partition); code != errNone {
				p.ErrorCode = code
				t.Partitions = append(t.Partitions, p)
				continue
			}
			mt, okTopic := img.TopicByName(rt.Topic)
			tp := storage.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
			l, okLog := n.logs.GetLog(tp)
			if !okTopic || !okLog {
				p.ErrorCode = errUnknownTopicOrPartition
				t.Partitions = append(t.Partitions, p)
				continue
			}
			if mp, ok := mt.Partition(rp.Partition); ok && rp.CurrentLeaderEpoch >= 0 {
				switch {
				case rp.CurrentLeaderEpoch < mp.LeaderEpoch:
					p.ErrorCode = errFencedLeaderEpoch
				case rp.CurrentLeaderEpoch > mp.LeaderEpoch:
					p.ErrorCode = errUnknownLeaderEpoch
				}
			}
			if p.ErrorCode == errNone {
				epoch, end, err := l.EndOffsetForEpoch(record.Epoch(rp.LeaderEpoch))
				switch {
				case err != nil:
					p.ErrorCode = errKafkaStorageError
				case end >= 0:
					p.LeaderEpoch, p.EndOffset = int32(epoch), int64(min(end, n.highWatermark(tp, l)))
				}
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	n.finish(cs, s, resp, nil)
}
