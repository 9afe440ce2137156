package broker

// CreateTopics, versions 2-7.
//
// Behaviour, as Kafka's controller: names validated (legal characters, 1-249 long, not "." or
// "..", no internal names, no '.'/'_' collision with an existing topic); a name twice in one
// request is INVALID_REQUEST; partitions and replication factor -1 take num.partitions and
// default.replication.factor; a replication factor above the registered brokers (on a single
// node: above 1) is INVALID_REPLICATION_FACTOR; an explicit assignment excludes both counts;
// every config override is checked by core/config (INVALID_CONFIG); an existing topic is
// TOPIC_ALREADY_EXISTS. ValidateOnly stops there. Otherwise each topic's records
// (metadata.NewTopicRecords) are appended to the metadata log; the answer waits until they are
// durable (the metadata sync comes back through Synced), when the partition logs are created
// too. TimeoutMillis bounds the wait (REQUEST_TIMED_OUT after it; the topic still commits);
// a timeout of 0 or less answers without waiting, as Kafka does.
//
// v5+ answers carry the partition count, replication factor and the topic's configs (with
// the sources DescribeConfigs gives them); v7 the topic id.
//
// Left out: CreateTopicPolicy, throttling quotas.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/config"
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
	resp := kmsg.NewPtrCreateTopicsResponse()
	counts := make(map[string]int, len(req.Topics))
	for _, t := range req.Topics {
		counts[t.Topic]++
	}
	var upTo record.Offset
	var created []int // indexes into resp.Topics of topics appended to the metadata log
	seen := make(map[string]bool, len(req.Topics))
	for _, rt := range req.Topics {
		if seen[rt.Topic] {
			continue
		}
		seen[rt.Topic] = true
		out := kmsg.NewCreateTopicsResponseTopic()
		out.Topic = rt.Topic
		fail := func(e *topicError) {
			out.ErrorCode, out.ErrorMessage = e.code, strp(e.msg)
			resp.Topics = append(resp.Topics, out)
		}
		if counts[rt.Topic] > 1 {
			fail(&topicError{errInvalidRequest, "Found multiple entries for this topic."})
			continue
		}
		if len(resp.Topics) >= n.cfg.TopicsCreateMax {
			fail(&topicError{errPolicyViolation, fmt.Sprintf("at most %d topics per request", n.cfg.TopicsCreateMax)})
			continue
		}
		configs := make(map[string]string, len(rt.Configs))
		var terr *topicError
		for _, c := range rt.Configs {
			if c.Value == nil {
				terr = &topicError{errInvalidConfig, "Null value not supported for topic configs: " + c.Name}
				break
			}
			configs[c.Name] = *c.Value
		}
		var assignment [][]int32
		for i, a := range rt.ReplicaAssignment {
			if terr == nil && a.Partition != int32(i) {
				terr = &topicError{errInvalidReplicaAssignment, "partitions should be a consecutive 0-based integer sequence"}
			}
			assignment = append(assignment, a.Replicas)
		}
		if terr != nil {
			fail(terr)
			continue
		}
		nt, terr := n.planTopic(n.meta.Latest(), rt.Topic, rt.NumPartitions, rt.ReplicationFactor, assignment, configs)
		if terr != nil {
			fail(terr)
			continue
		}
		if !req.ValidateOnly {
			id, offset, terr := n.commitTopic(nt)
			if terr != nil {
				fail(terr)
				continue
			}
			out.TopicID = id
			upTo = max(upTo, offset)
			created = append(created, len(resp.Topics))
		}
		out.NumPartitions = int32(len(nt.replicas))
		out.ReplicationFactor = int16(len(nt.replicas[0]))
		out.Configs = n.describeTopicConfigs(&nt.tc, nt.configs)
		resp.Topics = append(resp.Topics, out)
	}
	n.answerWhenCommitted(cs, s, resp, len(created) > 0, upTo, req.TimeoutMillis, func() {
		for _, i := range created {
			t := &resp.Topics[i]
			t.ErrorCode, t.ErrorMessage = errRequestTimedOut, strp("Timed out waiting for the topic's metadata to be durable.")
		}
	})
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

// describeTopicConfigs lists every topic key with its effective value and source, as
// CreateTopics v5+ answers.
func (n *Node) describeTopicConfigs(tc *config.TopicConfig, overrides map[string]string) []kmsg.CreateTopicsResponseTopicConfig {
	entries := n.topicConfigEntries(tc, overrides, nil)
	out := make([]kmsg.CreateTopicsResponseTopicConfig, 0, len(entries))
	for _, e := range entries {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name, c.Value, c.Source = e.name, strp(e.value), e.source
		out = append(out, c)
	}
	return out
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
