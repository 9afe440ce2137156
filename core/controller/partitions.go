package controller

// CreatePartitions, as Kafka's ReplicationControlManager.createPartitions decides it.
//
// Per topic: a topic twice in the request is INVALID_REQUEST (one answer for it); an unknown
// topic UNKNOWN_TOPIC_OR_PARTITION; a count not above the current one INVALID_PARTITIONS. An
// assignment must list exactly the new partitions (INVALID_REPLICA_ASSIGNMENT), each as a
// CreateTopics manual assignment with the topic's replication factor; without one the new
// partitions get the replication factor of partition 0, placed to continue the topic's stripe
// (placement.go). More than partitionsPerRequestMax new partitions in one request fail every
// topic with POLICY_VIOLATION. The records of every accepted topic form one Result;
// ValidateOnly answers without records.
//
// Left out: controller mutation quotas, CreateTopicPolicy.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
)

// CreatePartitions decides a CreatePartitions request on img, the latest image.
func (c *Controller) CreatePartitions(img *metadata.Image, nowMs int64, req *kmsg.CreatePartitionsRequest) Result {
	resp := kmsg.NewPtrCreatePartitionsResponse()
	resp.Version = req.Version
	counts := make(map[string]int, len(req.Topics))
	var adding int64
	for _, rt := range req.Topics {
		counts[rt.Topic]++
		if t, ok := img.TopicByName(rt.Topic); ok && int64(rt.Count) > int64(t.PartitionCount()) {
			adding += int64(rt.Count) - int64(t.PartitionCount())
		}
	}
	var records []metadata.Record
	seen := make(map[string]bool, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		if seen[rt.Topic] {
			continue
		}
		seen[rt.Topic] = true
		out := kmsg.NewCreatePartitionsResponseTopic()
		out.Topic = rt.Topic
		var aerr *apiError
		switch {
		case counts[rt.Topic] > 1:
			aerr = errorf(errInvalidRequest, "Duplicate topic in request.")
		case adding > partitionsPerRequestMax:
			aerr = errorf(errPolicyViolation, "Excessively large number of partitions per request.")
		default:
			var rs []metadata.Record
			rs, aerr = c.createPartitions(img, rt)
			if aerr == nil && !req.ValidateOnly {
				records = append(records, rs...)
			}
		}
		if aerr != nil {
			out.ErrorCode, out.ErrorMessage = aerr.code, strp(aerr.msg)
		}
		resp.Topics = append(resp.Topics, out)
	}
	return Result{Records: records, Response: resp}
}

// createPartitions decides one topic's increase and returns its PartitionRecords.
func (c *Controller) createPartitions(img *metadata.Image, rt *kmsg.CreatePartitionsRequestTopic) ([]metadata.Record, *apiError) {
	t, ok := img.TopicByName(rt.Topic)
	if !ok {
		return nil, errorf(errUnknownTopicOrPartition, "This server does not host this topic-partition.")
	}
	current := int32(t.PartitionCount())
	switch {
	case rt.Count < current:
		return nil, errorf(errInvalidPartitions, "Topic currently has %d partitions, which is higher than the requested %d.", current, rt.Count)
	case rt.Count == current:
		return nil, errorf(errInvalidPartitions, "Topic already has %d partitions.", current)
	}
	adding := int(rt.Count - current)
	existing := t.Partitions()
	rf := int(c.cfg.Broker.DefaultReplicationFactor) // a topic with no partitions (a bare TopicRecord)
	if len(existing) > 0 {
		rf = len(existing[0].Replicas)
	}
	var replicas [][]int32
	if rt.Assignment != nil {
		if len(rt.Assignment) != adding {
			return nil, errorf(errInvalidReplicaAssignment, "Attempted to add %d additional partition(s), but only %d assignment(s) were specified.", adding, len(rt.Assignment))
		}
		for _, a := range rt.Assignment {
			replicas = append(replicas, a.Replicas)
		}
		if aerr := checkAssignment(img, replicas, current); aerr != nil {
			return nil, aerr
		}
		for i, rs := range replicas {
			if len(rs) != rf {
				return nil, errorf(errInvalidReplicaAssignment, "The manual partition assignment includes a partition with %d replica(s), but this is not consistent with previous partitions, which have %d replica(s).", len(rs), rf)
			}
			replicas[i] = append([]int32(nil), rs...)
		}
	} else {
		p := newPlacer(img, c.rng, existing)
		if aerr := p.checkReplicationFactor(rf); aerr != nil {
			return nil, errorf(aerr.code, "Unable to replicate the partition %d time(s): %s", rf, aerr.msg)
		}
		for range adding {
			replicas = append(replicas, p.place(rf))
		}
	}
	records, err := metadata.NewPartitionRecords(t.ID, current, replicas)
	if err != nil {
		panic(fmt.Sprintf("controller: invariant: records of validated partitions of %s: %v", t.Name, err))
	}
	return withUnfencedISR(img, records), nil
}
