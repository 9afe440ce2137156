package broker

// CreatePartitions, versions 0-3.
//
// Behaviour, as Kafka's controller: the new count must exceed the current one
// (INVALID_PARTITIONS otherwise, with Kafka's wording); an unknown topic is
// UNKNOWN_TOPIC_OR_PARTITION, a topic twice INVALID_REQUEST. Without an assignment the new
// partitions get the topic's replication factor over the registered brokers; an assignment
// must list exactly the new partitions (INVALID_REPLICA_ASSIGNMENT), each with registered,
// distinct brokers. ValidateOnly stops there. Otherwise the PartitionRecords are appended to
// the metadata log, the new logs are created once they are durable, and the answer waits for
// that up to TimeoutMillis (REQUEST_TIMED_OUT after; the partitions still commit).
//
// Left out: throttling quotas, CreateTopicPolicy.

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
)

func (n *Node) handleCreatePartitions(cs *conn, s *slot, req *kmsg.CreatePartitionsRequest) {
	resp := kmsg.NewPtrCreatePartitionsResponse()
	counts := make(map[string]int, len(req.Topics))
	for _, t := range req.Topics {
		counts[t.Topic]++
	}
	var upTo record.Offset
	var created []int
	var seen []string
	for _, rt := range req.Topics {
		if slices.Contains(seen, rt.Topic) {
			continue
		}
		seen = append(seen, rt.Topic)
		out := kmsg.NewCreatePartitionsResponseTopic()
		out.Topic = rt.Topic
		if counts[rt.Topic] > 1 {
			out.ErrorCode, out.ErrorMessage = errInvalidRequest, strp("Duplicate topic in request.")
			resp.Topics = append(resp.Topics, out)
			continue
		}
		img := n.meta.Latest()
		records, terr := n.planPartitions(img, &rt)
		if terr == nil && !req.ValidateOnly {
			var offset record.Offset
			offset, terr = n.appendMetadata(records, metaAction{kind: actionSyncLogs, topic: rt.Topic})
			if terr == nil {
				upTo = max(upTo, offset)
				created = append(created, len(resp.Topics))
			}
		}
		if terr != nil {
			out.ErrorCode, out.ErrorMessage = terr.code, strp(terr.msg)
		}
		resp.Topics = append(resp.Topics, out)
	}
	n.answerWhenCommitted(cs, s, resp, len(created) > 0, upTo, req.TimeoutMillis, func() {
		for _, i := range created {
			t := &resp.Topics[i]
			t.ErrorCode, t.ErrorMessage = errRequestTimedOut, strp("Timed out waiting for the partitions to be durable.")
		}
	})
}

// planPartitions validates one topic's partition increase and returns its records.
func (n *Node) planPartitions(img *metadata.Image, rt *kmsg.CreatePartitionsRequestTopic) ([]metadata.Record, *topicError) {
	t, ok := img.TopicByName(rt.Topic)
	if !ok {
		return nil, &topicError{errUnknownTopicOrPartition, "This server does not host this topic-partition."}
	}
	current := int32(t.PartitionCount())
	switch {
	case rt.Count < current:
		return nil, &topicError{errInvalidPartitions, fmt.Sprintf("Topic currently has %d partitions, which is higher than the requested %d.", current, rt.Count)}
	case rt.Count == current:
		return nil, &topicError{errInvalidPartitions, fmt.Sprintf("Topic already has %d partitions.", current)}
	}
	adding := int(rt.Count - current)
	var replicas [][]int32
	if rt.Assignment != nil {
		if len(rt.Assignment) != adding {
			return nil, &topicError{errInvalidReplicaAssignment, fmt.Sprintf("Attempted to add %d additional partition(s), but only %d assignment(s) were specified.", adding, len(rt.Assignment))}
		}
		for _, a := range rt.Assignment {
			if len(a.Replicas) == 0 {
				return nil, &topicError{errInvalidReplicaAssignment, "An assignment lists no replicas."}
			}
			for i, r := range a.Replicas {
				if _, ok := img.Broker(r); !ok {
					return nil, &topicError{errInvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes broker %d, but no broker with that id is registered.", r)}
				}
				if slices.Contains(a.Replicas[:i], r) {
					return nil, &topicError{errInvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes the broker %d more than once.", r)}
				}
			}
			replicas = append(replicas, a.Replicas)
		}
	} else {
		rf := 1
		if p, ok := t.Partition(0); ok {
			rf = len(p.Replicas)
		}
		brokers := img.Brokers()
		if rf > len(brokers) {
			return nil, &topicError{errInvalidReplicationFactor, fmt.Sprintf("Unable to replicate the partition %d time(s): only %d broker(s) are registered.", rf, len(brokers))}
		}
		for p := range adding {
			rs := make([]int32, rf)
			for i := range rs {
				rs[i] = brokers[(int(current)+p+i)%len(brokers)].ID
			}
			replicas = append(replicas, rs)
		}
	}
	records, err := metadata.NewPartitionRecords(t.ID, current, replicas)
	if err != nil {
		return nil, &topicError{errInvalidRequest, err.Error()}
	}
	return records, nil
}
