package controller

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
)

// TestReassignmentErrors: Kafka's refusals, with nothing written.
func TestReassignmentErrors(t *testing.T) {
	tests := []struct {
		name      string
		topic     string
		partition int32
		target    []int32
		code      int16
	}{
		{"unknown topic", "nope", 0, []int32{1}, errUnknownTopicOrPartition},
		{"unknown partition", "t", 3, []int32{1}, errUnknownTopicOrPartition},
		{"empty target", "t", 0, []int32{}, errInvalidReplicaAssignment},
		{"duplicate broker", "t", 0, []int32{1, 2, 1}, errInvalidReplicaAssignment},
		{"unregistered broker", "t", 0, []int32{1, 9}, errInvalidReplicaAssignment},
		{"cancel with none running", "t", 0, nil, errNoReassignmentInProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := replicationHarness(t, metadata.MetadataVersionDefault)
			h.createTopic("t", 1, []int32{1, 2})
			if res := h.reassign(t, tt.topic, tt.partition, tt.target, tt.code); len(res.Records) != 0 {
				t.Fatalf("wrote %v", recordTypes(res.Records))
			}
		})
	}
}

// TestReassignmentStartsThenCompletes: the first record lists target + removed replicas with
// adding and removing; the AlterPartition that brings the new replica into the ISR completes
// it. ListPartitionReassignments shows it while it runs.
func TestReassignmentStartsThenCompletes(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	topic := h.createTopic("t", 1, []int32{1, 2})
	res := h.reassign(t, "t", 0, []int32{3, 2}, 0)
	r := res.Records[0].(*metadata.PartitionChangeRecord)
	if !slices.Equal(r.Replicas, []int32{3, 2, 1}) || !slices.Equal(r.RemovingReplicas, []int32{1}) || !slices.Equal(r.AddingReplicas, []int32{3}) ||
		r.ISR != nil || r.Leader != metadata.NoLeaderChange || len(r.Directories) != 3 {
		t.Fatalf("start record %+v", r)
	}
	if r.Directories[2] != h.partition(topic, 0).Directories[2] || r.Directories[0] != metadata.DirectoryUnassigned {
		t.Fatalf("directories %v", r.Directories)
	}
	list := h.listReassignments(nil)
	if len(list.Topics) != 1 || list.Topics[0].Topic != "t" {
		t.Fatalf("list %+v", list)
	}
	lp := list.Topics[0].Partitions[0]
	if !slices.Equal(lp.Replicas, []int32{3, 2, 1}) || !slices.Equal(lp.AddingReplicas, []int32{3}) || !slices.Equal(lp.RemovingReplicas, []int32{1}) {
		t.Fatalf("listed %+v", lp)
	}
	_, resp := h.alterPartition(h.alterPartitionRequest(3, "t", 0, 1, 2, 3))
	if resp.Topics[0].Partitions[0].ErrorCode != errNewLeaderElected {
		t.Fatalf("answer %+v", resp.Topics[0].Partitions[0])
	}
	p := h.partition(topic, 0)
	if !slices.Equal(p.Replicas, []int32{3, 2}) || !slices.Equal(p.ISR, []int32{2, 3}) || p.Leader != 3 {
		t.Fatalf("completed %+v", p)
	}
	if list := h.listReassignments(nil); len(list.Topics) != 0 {
		t.Fatalf("listed after completion: %+v", list.Topics)
	}
}

// TestReassignmentCompletesAtOnce: a reordering, or a shrink to replicas already in the ISR,
// completes in the first record; a leader that is removed moves to the target's first ISR
// member, and the leader epoch goes up whenever a replica leaves.
func TestReassignmentCompletesAtOnce(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	topic := h.createTopic("t", 1, []int32{1, 2, 3}, []int32{1, 2, 3})
	res := h.reassign(t, "t", 0, []int32{3, 1, 2}, 0)
	if r := res.Records[0].(*metadata.PartitionChangeRecord); !slices.Equal(r.Replicas, []int32{3, 1, 2}) || r.RemovingReplicas != nil || r.AddingReplicas != nil || r.Leader != metadata.NoLeaderChange {
		t.Fatalf("reorder %+v", r)
	}
	h.reassign(t, "t", 1, []int32{3, 2}, 0)
	p := h.partition(topic, 1)
	if !slices.Equal(p.Replicas, []int32{3, 2}) || !slices.Equal(p.ISR, []int32{2, 3}) || p.Leader != 3 || p.LeaderEpoch != 1 || reassigning(p) {
		t.Fatalf("shrink %+v", p)
	}
	if res := h.reassign(t, "t", 1, []int32{3, 2}, 0); len(res.Records) != 0 {
		t.Fatalf("same assignment again wrote %v", recordTypes(res.Records))
	}
}

// TestReassignmentCancel: cancelling restores the original replicas (in the order the
// running reassignment lists them) and drops the adding ones from the ISR; the replicas that
// leave bump the leader epoch.
func TestReassignmentCancel(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	topic := h.createTopic("t", 1, []int32{1, 2})
	h.reassign(t, "t", 0, []int32{2, 3}, 0)
	res := h.reassign(t, "t", 0, nil, 0)
	r := res.Records[0].(*metadata.PartitionChangeRecord)
	if !slices.Equal(r.Replicas, []int32{2, 1}) || r.RemovingReplicas == nil || len(r.RemovingReplicas) != 0 || r.AddingReplicas == nil || len(r.AddingReplicas) != 0 || r.Leader != 1 {
		t.Fatalf("cancel record %+v", r)
	}
	if p := h.partition(topic, 0); !slices.Equal(p.ISR, []int32{1, 2}) || p.Leader != 1 || p.LeaderEpoch != 1 || reassigning(p) {
		t.Fatalf("cancelled %+v", p)
	}
	h.reassign(t, "t", 0, nil, errNoReassignmentInProgress)
}

// TestReassignmentCancelUnclean: when only replicas being added are in the ISR, reverting puts
// the first original replica back in the ISR alone: an unclean election, refused unless the
// topic allows it.
func TestReassignmentCancelUnclean(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	topic := h.createTopic("t", 1, []int32{1, 2})
	h.reassign(t, "t", 0, []int32{3, 4}, 0)
	h.alterPartition(h.alterPartitionRequest(3, "t", 0, 1, 2, 3))
	h.heartbeat(1, h.caughtUp(), true, false)
	h.heartbeat(2, h.caughtUp(), true, false)
	if p := h.partition(topic, 0); p.Leader != 3 || !slices.Equal(p.ISR, []int32{3}) || !reassigning(p) {
		t.Fatalf("before cancel: %+v", p)
	}
	if res := h.reassign(t, "t", 0, nil, errInvalidReplicaAssignment); len(res.Records) != 0 {
		t.Fatal("unclean revert written")
	}
	h.setUnclean("t")
	h.reassign(t, "t", 0, nil, 0)
	// Brokers 1 and 2 are fenced: no leader, the ISR is the first original replica.
	p := h.partition(topic, 0)
	if !slices.Equal(p.Replicas, []int32{1, 2}) || !slices.Equal(p.ISR, []int32{1}) || p.Leader != metadata.NoLeader || reassigning(p) {
		t.Fatalf("after cancel: %+v", p)
	}
}

// TestReassignmentReplaced: a new target for a running reassignment is computed against the
// current replicas (the union) as Kafka's KRaft controller does, and replaces its lists: the
// replicas of the new target the old one was adding are still being added.
func TestReassignmentReplaced(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	topic := h.createTopic("t", 1, []int32{1, 2})
	h.reassign(t, "t", 0, []int32{3, 4}, 0)
	h.reassign(t, "t", 0, []int32{3, 1}, 0)
	p := h.partition(topic, 0)
	if !slices.Equal(p.Replicas, []int32{3, 1, 2, 4}) || !slices.Equal(p.RemovingReplicas, []int32{2, 4}) || !slices.Equal(p.AddingReplicas, []int32{3}) {
		t.Fatalf("replaced: %+v", p)
	}
	_, resp := h.alterPartition(h.alterPartitionRequest(3, "t", 0, 1, 2, 3))
	if resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("answer %+v", resp.Topics[0].Partitions[0])
	}
	if p := h.partition(topic, 0); !slices.Equal(p.Replicas, []int32{3, 1}) || !slices.Equal(p.ISR, []int32{1, 3}) || p.Leader != 1 || reassigning(p) {
		t.Fatalf("completed: %+v", p)
	}
}

// TestReassignmentToTheUnion: while a reassignment runs, asking for the current replicas (the
// union) is a new reassignment to all of them: it completes once every one is in the ISR, never
// on the old target alone (Kafka's KRaft controller would keep the old removing list).
func TestReassignmentToTheUnion(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	topic := h.createTopic("t", 1, []int32{1, 2})
	h.reassign(t, "t", 0, []int32{3}, 0)
	h.reassign(t, "t", 0, []int32{3, 1, 2}, 0)
	p := h.partition(topic, 0)
	if !slices.Equal(p.Replicas, []int32{3, 1, 2}) || len(p.RemovingReplicas) != 0 || !slices.Equal(p.AddingReplicas, []int32{3}) {
		t.Fatalf("to the union: %+v", p)
	}
	h.alterPartition(h.alterPartitionRequest(3, "t", 0, 1, 2, 3))
	if p := h.partition(topic, 0); !slices.Equal(p.Replicas, []int32{3, 1, 2}) || !slices.Equal(p.ISR, []int32{1, 2, 3}) || reassigning(p) {
		t.Fatalf("completed: %+v", p)
	}
}

// TestListPartitionReassignmentsNamed: named partitions not being reassigned, unknown
// partitions and unknown topics are left out.
func TestListPartitionReassignmentsNamed(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	h.createTopic("t", 1, []int32{1, 2}, []int32{2, 1})
	h.reassign(t, "t", 1, []int32{2, 3}, 0)
	list := h.listReassignments(map[string][]int32{"t": {0, 1, 7}, "nope": {0}})
	if len(list.Topics) != 1 || len(list.Topics[0].Partitions) != 1 || list.Topics[0].Partitions[0].Partition != 1 {
		t.Fatalf("%+v", list.Topics)
	}
	if list := h.listReassignments(map[string][]int32{"t": {0}}); len(list.Topics) != 0 {
		t.Fatalf("%+v", list.Topics)
	}
}

// listReassignments runs ListPartitionReassignments for the named partitions (nil: all).
func (h *lifecycleHarness) listReassignments(topics map[string][]int32) *kmsg.ListPartitionReassignmentsResponse {
	h.t.Helper()
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	for _, name := range sortedTopicNames(topics) {
		rt := kmsg.NewListPartitionReassignmentsRequestTopic()
		rt.Topic, rt.Partitions = name, topics[name]
		req.Topics = append(req.Topics, rt)
	}
	res := h.c.ListPartitionReassignments(h.img, h.nowMs, req)
	if len(res.Records) != 0 {
		h.t.Fatalf("listing wrote records")
	}
	return res.Response.(*kmsg.ListPartitionReassignmentsResponse)
}

func sortedTopicNames(topics map[string][]int32) []string {
	var out []string
	for name := range topics {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// TestDirectoriesOfAnOlderPartition: a partition written without directories (before directory
// assignment) reads as all unassigned: an ISR change writes none, a reassignment writes them
// for the new replica list.
func TestDirectoriesOfAnOlderPartition(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	id := metadata.UUID{0: 0x71, 15: 1}
	h.append([]metadata.Record{
		&metadata.TopicRecord{Name: "old", TopicID: id},
		&metadata.PartitionRecord{PartitionID: 0, TopicID: id, Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1},
	})
	res, _ := h.alterPartition(h.alterPartitionRequest(3, "old", 0, 1))
	if r := res.Records[0].(*metadata.PartitionChangeRecord); r.Directories != nil {
		t.Fatalf("ISR change wrote directories %v", r.Directories)
	}
	res = h.reassign(t, "old", 0, []int32{1, 3}, 0)
	r := res.Records[0].(*metadata.PartitionChangeRecord)
	if len(r.Directories) != 3 || h.partition(id, 0).Directories == nil {
		t.Fatalf("reassignment directories %v", r.Directories)
	}
}
