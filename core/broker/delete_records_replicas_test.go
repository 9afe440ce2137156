package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/record"
)

// DeleteRecords on a partition with followers answers once the low watermark (the least log
// start over the leader and the live followers) reached the offset asked for (Kafka's
// DelayedDeleteRecords), REQUEST_TIMED_OUT after TimeoutMillis, NOT_LEADER_OR_FOLLOWER when
// the leadership moves meanwhile.

// newReplicatedA is a cluster of three brokers with topic "a" (one partition, replicas
// 1,2,3: broker 1 leads) holding records committed on all three.
func newReplicatedA(t *testing.T, records int) *replicaCluster {
	t.Helper()
	c := newReplicaCluster(t, 3)
	c.createAssigned("a", []int32{1, 2, 3})
	// Every replica has the log and the leader knows every follower's log start.
	c.advanceUntil(5000, "every follower fetched", func() bool {
		return followersReported(c, 0)
	})
	pr, ok := c.answer(c.request(1, 9, produceRequest(t, -1, records)), 5000).(*kmsg.ProduceResponse)
	if !ok || pr.Topics[0].Partitions[0].ErrorCode != errNone {
		t.Fatalf("produce: %+v", pr)
	}
	c.advanceUntil(5000, "every replica has the records", func() bool {
		for id := int32(1); id <= 3; id++ {
			if l, ok := c.broker(id).node.Log(tpA); !ok || l.EndOffset() != record.Offset(records) {
				return false
			}
		}
		return true
	})
	return c
}

// followersReported reports whether the leader (broker 1) has both followers' log starts at
// least start.
func followersReported(c *replicaCluster, start record.Offset) bool {
	for _, v := range c.broker(1).node.Replicas() {
		if v.TopicPartition != tpA || !v.Leader || len(v.Followers) != 2 {
			continue
		}
		for _, f := range v.Followers {
			if f.LogStartOffset < start {
				return false
			}
		}
		return true
	}
	return false
}

// advanceUntil moves time in small steps until cond holds, failing after withinMs.
func (c *replicaCluster) advanceUntil(withinMs int64, what string, cond func() bool) {
	c.t.Helper()
	until := c.now.MonotonicMs + withinMs
	for !cond() {
		if c.now.MonotonicMs >= until {
			c.t.Fatalf("not within %d ms: %s", withinMs, what)
		}
		c.advance(10)
	}
}

func deleteRecordsA(offset int64, timeoutMs int32) *kmsg.DeleteRecordsRequest {
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = timeoutMs
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = "a"
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = 0, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// deleteAnswer is the one partition's answer of a DeleteRecords answer.
func deleteAnswer(t *testing.T, r kmsg.Response) kmsg.DeleteRecordsResponseTopicPartition {
	t.Helper()
	resp, ok := r.(*kmsg.DeleteRecordsResponse)
	if !ok || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("DeleteRecords answer: %+v", r)
	}
	return resp.Topics[0].Partitions[0]
}

func logStart(t *testing.T, c *replicaCluster, id int32) record.Offset {
	t.Helper()
	l, ok := c.broker(id).node.Log(tpA)
	if !ok {
		t.Fatalf("broker %d has no log of a", id)
	}
	return l.StartOffset()
}

// With every follower fetching, the answer waits until each follower dropped the records
// below the offset and said so in a fetch; it carries that low watermark.
func TestDeleteRecordsWaitsForTheFollowersLogStarts(t *testing.T) {
	c := newReplicatedA(t, 10)
	startMs := c.now.MonotonicMs
	corr := c.request(1, 2, deleteRecordsA(6, 10_000))
	if _, answered := c.answers[corr]; answered {
		t.Fatal("answered before any follower fetched: the answer does not wait for the low watermark")
	}
	if got := logStart(t, c, 1); got != 6 {
		t.Fatalf("the leader's log start is %d, want 6 at once", got)
	}
	p := deleteAnswer(t, c.answer(corr, 10_000))
	if p.ErrorCode != errNone || p.LowWatermark != 6 {
		t.Fatalf("answer: %s, low watermark %d; want NONE, 6", errName(p.ErrorCode), p.LowWatermark)
	}
	for id := int32(2); id <= 3; id++ {
		if got := logStart(t, c, id); got != 6 {
			t.Fatalf("answered while broker %d's log starts at %d", id, got)
		}
	}
	if !followersReported(c, 6) {
		t.Fatal("answered before the leader recorded both followers' log starts at 6")
	}
	if waited := c.now.MonotonicMs - startMs; waited >= 10_000 {
		t.Fatalf("answered after %d ms: the timeout, not the followers", waited)
	}

	// -1 is the high watermark; an offset already reached by every replica answers at once.
	corr = c.request(1, 2, deleteRecordsA(-1, 10_000))
	if p := deleteAnswer(t, c.answer(corr, 10_000)); p.ErrorCode != errNone || p.LowWatermark != 10 {
		t.Fatalf("delete to the high watermark: %s, low watermark %d", errName(p.ErrorCode), p.LowWatermark)
	}
	corr = c.request(1, 2, deleteRecordsA(4, 10_000))
	r, ok := c.answers[corr]
	if !ok {
		t.Fatal("an offset below every replica's log start waited")
	}
	if p := deleteAnswer(t, r); p.ErrorCode != errNone || p.LowWatermark != 10 {
		t.Fatalf("delete below the log start: %s, low watermark %d", errName(p.ErrorCode), p.LowWatermark)
	}
}

// A follower that stopped fetching but whose broker is still registered and unfenced holds
// the low watermark back: the answer is REQUEST_TIMED_OUT after TimeoutMillis, with the low
// watermark then. TimeoutMillis 0 times out at once.
func TestDeleteRecordsTimesOutOnAStoppedFollower(t *testing.T) {
	c := newReplicatedA(t, 10)
	c.broker(3).stopped = true
	corr := c.request(1, 2, deleteRecordsA(6, 2000))
	if r := c.answer(corr, 1990); r != nil {
		t.Fatalf("answered before the timeout: %+v", r)
	}
	p := deleteAnswer(t, c.answer(corr, 20))
	if p.ErrorCode != errRequestTimedOut || p.LowWatermark != 0 {
		t.Fatalf("answer: %s, low watermark %d; want REQUEST_TIMED_OUT, 0 (broker 3's log start)", errName(p.ErrorCode), p.LowWatermark)
	}
	if b, ok := c.image().Broker(3); !ok || b.Fenced {
		t.Fatal("broker 3 was fenced: the test meant a live broker that stopped fetching")
	}
	if got := logStart(t, c, 2); got != 6 {
		t.Fatalf("broker 2's log start is %d: it fetches, it follows the leader's", got)
	}
	if got := logStart(t, c, 1); got != 6 {
		t.Fatalf("the leader's log start went back to %d on the timeout", got)
	}

	corr = c.request(1, 2, deleteRecordsA(8, 0))
	r, ok := c.answers[corr]
	if !ok {
		t.Fatal("TimeoutMillis 0 waited")
	}
	if p := deleteAnswer(t, r); p.ErrorCode != errRequestTimedOut || p.LowWatermark != 0 {
		t.Fatalf("TimeoutMillis 0: %s, low watermark %d", errName(p.ErrorCode), p.LowWatermark)
	}
	if got := logStart(t, c, 1); got != 8 {
		t.Fatalf("the leader's log start is %d, want 8 even though the answer timed out", got)
	}
}

// A fenced broker's follower does not count: a wait it held is released when the image
// fences it, and a later request answers once the live follower caught up.
func TestDeleteRecordsDoesNotWaitForAFencedFollower(t *testing.T) {
	c := newReplicatedA(t, 10)
	c.broker(3).stopped = true
	corr := c.request(1, 2, deleteRecordsA(6, 60_000))
	startMs := c.now.MonotonicMs
	p := deleteAnswer(t, c.answer(corr, 60_000))
	if p.ErrorCode != errNone || p.LowWatermark != 6 {
		t.Fatalf("answer: %s, low watermark %d; want NONE, 6", errName(p.ErrorCode), p.LowWatermark)
	}
	if b, ok := c.image().Broker(3); !ok || !b.Fenced {
		t.Fatal("answered while broker 3 was unfenced")
	}
	if waited := c.now.MonotonicMs - startMs; waited >= 60_000 {
		t.Fatalf("answered after %d ms: the timeout, not the fencing", waited)
	}
	if got := logStart(t, c, 3); got != 0 {
		t.Fatalf("the stopped broker's log start moved to %d", got)
	}

	corr = c.request(1, 2, deleteRecordsA(8, 60_000))
	startMs = c.now.MonotonicMs
	p = deleteAnswer(t, c.answer(corr, 60_000))
	if p.ErrorCode != errNone || p.LowWatermark != 8 || logStart(t, c, 2) != 8 {
		t.Fatalf("answer with broker 3 fenced: %s, low watermark %d, broker 2 at %d", errName(p.ErrorCode), p.LowWatermark, logStart(t, c, 2))
	}
	// Within a follower's fetch round trips (replica.fetch.wait.max.ms each), not a timeout.
	if waited := c.now.MonotonicMs - startMs; waited > 3*int64(c.broker(2).cfg.Broker.Replication.FetchWaitMaxMs) {
		t.Fatalf("answered after %d ms", waited)
	}
}

// The leadership moving away while the request waits answers NOT_LEADER_OR_FOLLOWER.
func TestDeleteRecordsAnswersNotLeaderWhenTheLeadershipMoves(t *testing.T) {
	c := newReplicatedA(t, 10)
	c.broker(3).stopped = true
	corr := c.request(1, 2, deleteRecordsA(6, 60_000))
	c.advance(100)
	if _, answered := c.answers[corr]; answered {
		t.Fatal("answered while broker 3 is live and has not followed")
	}
	// A controlled shutdown of broker 1 moves the leadership to another ISR member.
	b1 := c.broker(1)
	c.deliver(b1, func() Ready { return b1.node.Drain(c.now) })
	startMs := c.now.MonotonicMs
	p := deleteAnswer(t, c.answer(corr, 5000))
	if p.ErrorCode != errNotLeaderOrFollower || p.LowWatermark != -1 {
		t.Fatalf("answer: %s, low watermark %d; want NOT_LEADER_OR_FOLLOWER, -1", errName(p.ErrorCode), p.LowWatermark)
	}
	if waited := c.now.MonotonicMs - startMs; waited >= 5000 {
		t.Fatalf("answered after %d ms", waited)
	}
	topic, _ := c.image().TopicByName("a")
	if part, _ := topic.Partition(0); part.Leader == 1 {
		t.Fatal("answered while broker 1 still leads")
	}
}
