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
)

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
	timeoutMs := n.adminTimeoutMs(req.TimeoutMillis)
	if len(names) <= n.cfg.TopicsCreateMax {
		n.forwardAdmin(cs, s, req, timeoutMs, nil)
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
	n.forwardAdmin(cs, s, &bounded, timeoutMs, func(r kmsg.Response) {
		resp := r.(*kmsg.CreateTopicsResponse)
		for _, name := range refused {
			t := kmsg.NewCreateTopicsResponseTopic()
			t.Topic = name
			t.ErrorCode, t.ErrorMessage = errPolicyViolation, strp(fmt.Sprintf("at most %d topics per request", n.cfg.TopicsCreateMax))
			resp.Topics = append(resp.Topics, t)
		}
	})
}

// adminTimeoutMs is how long a forwarded admin request waits for the controller's answer: its
// own timeout, or MetadataWaitMs for a request without one (≤ 0; the controller answers only
// once the records are committed either way).
func (n *Node) adminTimeoutMs(requestTimeoutMs int32) int64 {
	if requestTimeoutMs > 0 {
		return int64(requestTimeoutMs)
	}
	return int64(n.cfg.MetadataWaitMs)
}
