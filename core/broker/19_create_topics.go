package broker

// CreateTopics, versions 2-7.
//
// Behaviour: the controller decides (controller.CreateTopics: names, counts, placement,
// configs, the v5+ answer fields). The broker bounds the request (names past TopicsCreateMax
// are POLICY_VIOLATION), appends the records of every created topic as one proposal and
// answers once they are durable (the metadata sync comes back through Synced), when the
// partition logs are created too. TimeoutMillis bounds the wait (REQUEST_TIMED_OUT after it;
// the topics still commit); a timeout of 0 or less answers without waiting, as Kafka does.
//
// Left out: CreateTopicPolicy, throttling quotas.

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/record"
)

// metaWait is a request answered once the metadata log committed up to upTo.
type metaWait struct {
	conn       ConnID
	slot       *slot
	resp       kmsg.Response
	upTo       record.Offset
	deadlineMs int64
	onTimeout  func() // rewrites resp for a timed-out answer
}

func (w *metaWait) connID() ConnID { return w.conn }

func (n *Node) handleCreateTopics(cs *conn, s *slot, req *kmsg.CreateTopicsRequest) {
	// The broker's bound: names past the first TopicsCreateMax distinct ones are refused here,
	// the rest go to the controller.
	var names []string
	seen := make(map[string]bool, len(req.Topics))
	for _, t := range req.Topics {
		if !seen[t.Topic] {
			seen[t.Topic] = true
			names = append(names, t.Topic)
		}
	}
	if len(names) <= n.cfg.TopicsCreateMax {
		res := n.ctl.CreateTopics(n.meta.Latest(), n.now.WallMs, req)
		n.commitResult(cs, s, res, req.TimeoutMillis, "Timed out waiting for the topic's metadata to be durable.")
		return
	}
	refused := names[n.cfg.TopicsCreateMax:]
	for _, name := range refused {
		delete(seen, name) // seen now holds the names the controller decides
	}
	bounded := *req
	bounded.Topics = slices.DeleteFunc(slices.Clone(req.Topics), func(t kmsg.CreateTopicsRequestTopic) bool {
		return !seen[t.Topic]
	})
	res := n.ctl.CreateTopics(n.meta.Latest(), n.now.WallMs, &bounded)
	resp := res.Response.(*kmsg.CreateTopicsResponse)
	for _, name := range refused {
		t := kmsg.NewCreateTopicsResponseTopic()
		t.Topic = name
		t.ErrorCode, t.ErrorMessage = errPolicyViolation, strp(fmt.Sprintf("at most %d topics per request", n.cfg.TopicsCreateMax))
		resp.Topics = append(resp.Topics, t)
	}
	n.commitResult(cs, s, res, req.TimeoutMillis, "Timed out waiting for the topic's metadata to be durable.")
}

// answerWhenCommitted answers a request that appended metadata records once the committed
// offset reaches upTo, or at once when it appended nothing (appended false) or asked not to
// wait (timeoutMs ≤ 0, as Kafka). After timeoutMs, or when too many requests wait already,
// timedOut rewrites resp first.
func (n *Node) answerWhenCommitted(cs *conn, s *slot, resp kmsg.Response, appended bool, upTo record.Offset, timeoutMs int32, timedOut func()) {
	if !appended || timeoutMs <= 0 || n.meta.CommittedOffset() >= upTo {
		n.finish(cs, s, resp, nil)
		return
	}
	if n.waitingCount >= n.cfg.WaitingRequestsMax {
		timedOut()
		n.finish(cs, s, resp, nil)
		return
	}
	n.waitingCount++
	n.metaWaits = append(n.metaWaits, &metaWait{
		conn: cs.id, slot: s, resp: resp, upTo: upTo,
		deadlineMs: n.now.MonotonicMs + int64(timeoutMs), onTimeout: timedOut,
	})
}

// expireMetaWaits answers the requests whose wait for the metadata log ran out.
func (n *Node) expireMetaWaits() {
	kept := n.metaWaits[:0]
	for _, w := range n.metaWaits {
		if w.deadlineMs > n.now.MonotonicMs {
			kept = append(kept, w)
			continue
		}
		n.waitingCount--
		w.onTimeout()
		n.finish(n.conns[w.conn], w.slot, w.resp, nil)
	}
	clear(n.metaWaits[len(kept):])
	n.metaWaits = kept
}
