package broker

// DeleteRecords, versions 0-2.
//
// Behaviour: moves each partition's log start offset on its leader up to the offset asked for
// (-1 means the high watermark), as Kafka's ReplicaManager.deleteRecords does: an offset above
// the high watermark is OFFSET_OUT_OF_RANGE, one below the log start changes nothing. Records
// below the new log start are unreadable at once; their segments go at the next retention
// pass, and the start offset reaches disk with the next log-start-offset-checkpoint (Kafka
// checkpoints it lazily too). Compacted topics are refused (POLICY_VIOLATION), as in Kafka.
//
// Replicas: followers learn the leader's log start from its fetch answers and drop their
// records below it (replica_fetcher.go); each follower fetch reports the follower's own log
// start, which the leader records (replica.Follower.LogStartOffset). The partition's low
// watermark is the least log start over the leader and the followers whose brokers are alive
// (registered and unfenced in the image; Kafka's Partition.lowWatermarkIfLeader), a follower
// that has not fetched in this leadership counting as -1. A partition answers once its low
// watermark reached the offset asked for, with that low watermark (Kafka's
// DelayedDeleteRecords): at once when it already has (a single replica), else the request
// parks and is re-checked when a follower's fetch is recorded and when the image changes (a
// broker fenced, the leadership moved, the topic deleted). After TimeoutMillis the partitions
// still waiting are REQUEST_TIMED_OUT, with the low watermark known then (Kafka reports the
// one it had when the request arrived; clients do not read it on an error); a partition whose
// leadership moved away meanwhile is NOT_LEADER_OR_FOLLOWER, one whose log went
// UNKNOWN_TOPIC_OR_PARTITION. The log start moved stays moved in every case: a retry is
// harmless. A request that would park when cfg.WaitingRequestsMax requests are parked
// already, or with TimeoutMillis 0, times out at once.
//
// Left out: the future log of a replica being moved between log directories (Kafka counts
// its log start too; Weir has no such move). A follower's log start reaches the leader only
// with its next fetch after the leader's answer, and the leader's parked follower fetch is
// not woken by the move: the wait takes up to replica.fetch.wait.max.ms more, as in Kafka.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
)

// deleteRecordsWait is a DeleteRecords waiting for its partitions' low watermarks (Kafka's
// DelayedDeleteRecords).
type deleteRecordsWait struct {
	conn       ConnID
	slot       *slot
	resp       *kmsg.DeleteRecordsResponse
	parts      []deleteRecordsPending
	deadlineMs int64
}

func (w *deleteRecordsWait) connID() ConnID { return w.conn }

// deleteRecordsPending is one partition of a waiting DeleteRecords.
type deleteRecordsPending struct {
	tp storage.TopicPartition
	// topicID is the topic's when the request parked: a topic deleted and created again
	// under the same name is another partition.
	topicID                    metadata.UUID
	required                   record.Offset // the offset asked for (the high watermark for -1)
	topicIndex, partitionIndex int
	done                       bool
}

func (n *Node) handleDeleteRecords(cs *conn, s *slot, req *kmsg.DeleteRecordsRequest) {
	resp := kmsg.NewPtrDeleteRecordsResponse()
	var pending []deleteRecordsPending
	for ti, rt := range req.Topics {
		t := kmsg.NewDeleteRecordsResponseTopic()
		t.Topic = rt.Topic
		for pi, rp := range rt.Partitions {
			p := kmsg.NewDeleteRecordsResponseTopicPartition()
			p.Partition, p.LowWatermark = rp.Partition, -1
			code, wait := n.deleteRecords(rt.Topic, rp.Partition, rp.Offset, &p)
			p.ErrorCode = code
			if code == errNone && wait != nil {
				wait.topicIndex, wait.partitionIndex = ti, pi
				pending = append(pending, *wait)
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	if len(pending) == 0 {
		n.finish(cs, s, resp, nil)
		return
	}
	if req.TimeoutMillis <= 0 || n.waitingCount >= n.cfg.WaitingRequestsMax {
		for _, p := range pending {
			resp.Topics[p.topicIndex].Partitions[p.partitionIndex].ErrorCode = errRequestTimedOut
		}
		n.finish(cs, s, resp, nil)
		return
	}
	n.waitingCount++
	n.deleteRecordsWaits = append(n.deleteRecordsWaits, &deleteRecordsWait{
		conn: cs.id, slot: s, resp: resp, parts: pending, deadlineMs: n.now.MonotonicMs + int64(req.TimeoutMillis),
	})
}

// deleteRecords moves one partition's log start on this leader and fills p's low watermark.
// With no error, a non-nil wait is the part of the answer that waits for the low watermark to
// reach the offset asked for.
func (n *Node) deleteRecords(topic string, partition int32, offset int64, p *kmsg.DeleteRecordsResponseTopicPartition) (int16, *deleteRecordsPending) {
	if code := n.leaderCode(topic, partition); code != errNone {
		return code, nil
	}
	ts, okTopic := n.topics[topic]
	tp := storage.TopicPartition{Topic: topic, Partition: partition}
	l, okLog := n.logs.GetLog(tp)
	if !okTopic || !okLog {
		return errUnknownTopicOrPartition, nil
	}
	r, leads := n.leading(tp)
	if !leads {
		return errNotLeaderOrFollower, nil
	}
	if slices.Contains(ts.cfg.CleanupPolicy, "compact") {
		return errPolicyViolation, nil
	}
	hw := n.highWatermark(tp, l)
	target := record.Offset(offset)
	if offset == -1 {
		target = hw
	}
	if target < 0 || target > hw {
		return errOffsetOutOfRange, nil
	}
	if target > l.StartOffset() {
		n.mayNeedSync(tp)
		if err := l.DeleteRecordsBefore(target); err != nil {
			return errKafkaStorageError, nil
		}
	}
	lw := n.lowWatermark(r, l)
	p.LowWatermark = int64(lw)
	if lw >= target {
		return errNone, nil
	}
	return errNone, &deleteRecordsPending{tp: tp, topicID: r.topicID, required: target}
}

// lowWatermark is a led partition's low watermark: the least log start over this leader and
// the followers of live brokers (replica.Leader.LowWatermark).
func (n *Node) lowWatermark(r *partitionReplica, l *log.Log) record.Offset {
	return r.leader.LowWatermark(l.StartOffset(), n.brokerAlive)
}

// brokerAlive is Kafka's MetadataCache.hasAliveBroker under KRaft: registered and not fenced.
// A broker in controlled shutdown is still alive: it keeps fetching until it stops.
func (n *Node) brokerAlive(id int32) bool {
	b, ok := n.img.Broker(id)
	return ok && !b.Fenced
}

// deleteRecordsVerdict says whether a waiting partition is done, with its error and low
// watermark (-1 when not known).
func (n *Node) deleteRecordsVerdict(p *deleteRecordsPending) (done bool, code int16, lowWatermark int64) {
	l, okLog := n.logs.GetLog(p.tp)
	r, okReplica := n.replicaStates[p.tp]
	if !okLog || !okReplica || r.topicID != p.topicID {
		return true, errUnknownTopicOrPartition, -1
	}
	if r.leader == nil {
		return true, errNotLeaderOrFollower, -1
	}
	lw := n.lowWatermark(r, l)
	return lw >= p.required, errNone, int64(lw)
}

// settleDeleteRecordsOn answers the parts on tp of the waiting DeleteRecords that are done.
func (n *Node) settleDeleteRecordsOn(tp storage.TopicPartition) {
	n.settleDeleteRecords(func(p *deleteRecordsPending) bool { return p.tp == tp })
}

// settleDeleteRecordsOnImage re-checks every waiting DeleteRecords once per new image: a
// broker fenced no longer holds a low watermark back, and a leadership moved or a topic
// deleted ends the wait.
func (n *Node) settleDeleteRecordsOnImage() {
	if n.deleteRecordsImg == n.img {
		return
	}
	n.deleteRecordsImg = n.img
	n.settleDeleteRecords(func(*deleteRecordsPending) bool { return true })
}

// settleDeleteRecords applies deleteRecordsVerdict to the open parts that match and answers
// the requests left with no open part.
func (n *Node) settleDeleteRecords(match func(p *deleteRecordsPending) bool) {
	if len(n.deleteRecordsWaits) == 0 {
		return
	}
	n.deleteRecordsWaits = slices.DeleteFunc(n.deleteRecordsWaits, func(w *deleteRecordsWait) bool {
		open := 0
		for i := range w.parts {
			p := &w.parts[i]
			if !p.done && match(p) {
				if done, code, lw := n.deleteRecordsVerdict(p); done {
					p.done = true
					out := &w.resp.Topics[p.topicIndex].Partitions[p.partitionIndex]
					out.ErrorCode, out.LowWatermark = code, lw
				}
			}
			if !p.done {
				open++
			}
		}
		if open > 0 {
			return false
		}
		n.waitingCount--
		n.finish(n.conns[w.conn], w.slot, w.resp, nil)
		return true
	})
}

// expireDeleteRecords answers the waiting DeleteRecords whose timeout passed: the partitions
// still short of the offset asked for are REQUEST_TIMED_OUT, with their low watermark now.
func (n *Node) expireDeleteRecords() {
	n.deleteRecordsWaits = slices.DeleteFunc(n.deleteRecordsWaits, func(w *deleteRecordsWait) bool {
		if w.deadlineMs > n.now.MonotonicMs {
			return false
		}
		for i := range w.parts {
			p := &w.parts[i]
			if p.done {
				continue
			}
			done, code, lw := n.deleteRecordsVerdict(p)
			if !done {
				code = errRequestTimedOut
			}
			out := &w.resp.Topics[p.topicIndex].Partitions[p.partitionIndex]
			out.ErrorCode, out.LowWatermark = code, lw
		}
		n.waitingCount--
		n.finish(n.conns[w.conn], w.slot, w.resp, nil)
		return true
	})
}
