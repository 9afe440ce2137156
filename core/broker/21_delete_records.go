package broker

// DeleteRecords, versions 0-2.
//
// Behaviour: moves each partition's log start offset up to the offset asked for (-1 means
// the high watermark), as Kafka does: an offset above the high watermark is
// OFFSET_OUT_OF_RANGE, one below the log start changes nothing; the answer's low watermark is
// the new log start offset. Records below it are unreadable at once; their segments go at the
// next retention pass, and the start offset reaches disk with the next
// log-start-offset-checkpoint (Kafka checkpoints it lazily too).
//
// Left out: waiting for followers' low watermarks (no replicas yet), so TimeoutMillis is
// unused; compacted topics (Kafka refuses DeleteRecords on them: POLICY_VIOLATION) are
// refused the same way.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
)

func (n *Node) handleDeleteRecords(cs *conn, s *slot, req *kmsg.DeleteRecordsRequest) {
	resp := kmsg.NewPtrDeleteRecordsResponse()
	for _, rt := range req.Topics {
		t := kmsg.NewDeleteRecordsResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewDeleteRecordsResponseTopicPartition()
			p.Partition, p.LowWatermark = rp.Partition, -1
			p.ErrorCode = n.deleteRecords(rt.Topic, rp.Partition, rp.Offset, &p)
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	n.finish(cs, s, resp, nil)
}

func (n *Node) deleteRecords(topic string, partition int32, offset int64, p *kmsg.DeleteRecordsResponseTopicPartition) int16 {
	if code := n.leaderCode(topic, partition); code != errNone {
		return code
	}
	ts, okTopic := n.topics[topic]
	tp := storage.TopicPartition{Topic: topic, Partition: partition}
	l, okLog := n.logs.GetLog(tp)
	if !okTopic || !okLog {
		return errUnknownTopicOrPartition
	}
	if slices.Contains(ts.cfg.CleanupPolicy, "compact") {
		return errPolicyViolation
	}
	hw := n.highWatermark(tp, l)
	target := record.Offset(offset)
	if offset == -1 {
		target = hw
	}
	if target < 0 || target > hw {
		return errOffsetOutOfRange
	}
	if target > l.StartOffset() {
		n.mayNeedSync(tp)
		if err := l.DeleteRecordsBefore(target); err != nil {
			return errKafkaStorageError
		}
	}
	p.LowWatermark = int64(l.StartOffset())
	return errNone
}
