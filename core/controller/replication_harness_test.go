package controller

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
)

// replicationHarness is a lifecycle harness with brokers 1, 2, 3 active, broker 4 registered
// but fenced, and broker 5 in controlled shutdown (it led a partition of topic "s", which moved
// to broker 1).
func replicationHarness(t tb, metadataVersion int16) *lifecycleHarness {
	t.Helper()
	h := newLifecycleHarness(t, metadataVersion)
	for _, id := range []int32{1, 2, 3, 4, 5} {
		req := registrationRequest(id, 1)
		if metadataVersion < mvDirectoryAssignment {
			req.LogDirs = nil
		}
		if _, resp := h.registerWith(req); resp.ErrorCode != 0 {
			t.Fatalf("register %d: error %d", id, resp.ErrorCode)
		}
	}
	for _, id := range []int32{1, 2, 3, 5} {
		if _, resp := h.heartbeat(id, h.caughtUp(), false, false); resp.IsFenced {
			t.Fatalf("broker %d not unfenced", id)
		}
	}
	h.createTopic("s", 9, []int32{5, 1})
	if _, resp := h.heartbeat(5, h.caughtUp(), false, true); resp.ShouldShutdown || !h.broker(5).InControlledShutdown {
		t.Fatalf("broker 5 not in controlled shutdown: %+v", resp)
	}
	return h
}

// alterPartitionRequest is broker leader's AlterPartition for one partition at the partition's
// current epochs, by topic id (v2+) or name (v0-1); v3 carries the broker epochs of the image.
func (h *lifecycleHarness) alterPartitionRequest(version int16, topicName string, partition int32, isr ...int32) *kmsg.AlterPartitionRequest {
	h.t.Helper()
	t, ok := h.img.TopicByName(topicName)
	if !ok {
		h.t.Fatalf("no topic %s", topicName)
	}
	part := h.partition(t.ID, partition)
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = version
	req.BrokerID = part.Leader
	if b, ok := h.img.Broker(part.Leader); ok {
		req.BrokerEpoch = b.Epoch
	}
	rt := kmsg.NewAlterPartitionRequestTopic()
	if version >= 2 {
		rt.TopicID = t.ID
	} else {
		rt.Topic = topicName
	}
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch = partition, part.LeaderEpoch, part.PartitionEpoch
	rp.LeaderRecoveryState = part.LeaderRecoveryState
	if version >= 3 {
		for _, id := range isr {
			s := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
			s.BrokerID = id
			if b, ok := h.img.Broker(id); ok {
				s.BrokerEpoch = b.Epoch
			}
			rp.NewEpochISR = append(rp.NewEpochISR, s)
		}
	} else {
		rp.NewISR = isr
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// alterPartition runs the request and returns the Result (records applied) and its one
// partition's answer.
func (h *lifecycleHarness) alterPartition(req *kmsg.AlterPartitionRequest) (Result, *kmsg.AlterPartitionResponse) {
	h.t.Helper()
	res := h.result(h.c.AlterPartition(h.img, h.nowMs, req))
	return res, res.Response.(*kmsg.AlterPartitionResponse)
}

// topicID is the id of a topic of the image.
func (h *lifecycleHarness) topicID(name string) metadata.UUID {
	h.t.Helper()
	t, ok := h.img.TopicByName(name)
	if !ok {
		h.t.Fatalf("no topic %s", name)
	}
	return t.ID
}

// setUnclean sets unclean.leader.election.enable=true on a topic.
func (h *lifecycleHarness) setUnclean(topic string) {
	h.t.Helper()
	v := "true"
	h.append([]metadata.Record{&metadata.ConfigRecord{ResourceType: metadata.ResourceTopic, ResourceName: topic, Name: uncleanLeaderElectionKey, Value: &v}})
}

// change applies a PartitionChangeRecord written by the test (a state to start from).
func (h *lifecycleHarness) change(topic string, partition int32, edit func(r *metadata.PartitionChangeRecord)) {
	h.t.Helper()
	r := metadata.NewPartitionChangeRecord(h.topicID(topic), partition)
	edit(r)
	h.append([]metadata.Record{r})
}

// reassign runs an AlterPartitionReassignments of one partition (target nil cancels), applies
// its records and checks the partition's error code.
func (h *lifecycleHarness) reassign(t tb, topic string, partition int32, target []int32, wantCode int16) Result {
	t.Helper()
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	rp.Partition, rp.Replicas = partition, target
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	res := h.result(h.c.AlterPartitionReassignments(h.img, h.nowMs, req))
	if got := res.Response.(*kmsg.AlterPartitionAssignmentsResponse).Topics[0].Partitions[0].ErrorCode; got != wantCode {
		t.Fatalf("reassign %s-%d to %v: error %d, want %d", topic, partition, target, got, wantCode)
	}
	return res
}
