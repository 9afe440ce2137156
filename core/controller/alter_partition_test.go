package controller

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
)

// TestAlterPartitionErrors: each of Kafka's refusals, one partition each, with no record
// written and the partition unchanged.
func TestAlterPartitionErrors(t *testing.T) {
	tests := []struct {
		name    string
		version int16
		setup   func(h *lifecycleHarness)
		topic   string
		isr     []int32
		edit    func(h *lifecycleHarness, req *kmsg.AlterPartitionRequest)
		// top is the top-level error; code the partition's.
		top, code int16
	}{
		{name: "stale broker epoch", version: 3, topic: "t", isr: []int32{1, 2},
			edit: func(h *lifecycleHarness, req *kmsg.AlterPartitionRequest) { req.BrokerEpoch-- }, top: errStaleBrokerEpoch},
		{name: "unregistered sender", version: 3, topic: "t", isr: []int32{1, 2},
			edit: func(h *lifecycleHarness, req *kmsg.AlterPartitionRequest) { req.BrokerID = 42 }, top: errStaleBrokerEpoch},
		{name: "unknown topic id", version: 2, topic: "t", isr: []int32{1, 2},
			edit: func(h *lifecycleHarness, req *kmsg.AlterPartitionRequest) { req.Topics[0].TopicID[0]++ }, code: errUnknownTopicID},
		{name: "zero topic id", version: 3, topic: "t", isr: []int32{1, 2},
			edit: func(h *lifecycleHarness, req *kmsg.AlterPartitionRequest) { req.Topics[0].TopicID = [16]byte{} }, code: errUnknownTopicID},
		{name: "unknown topic name", version: 1, topic: "t", isr: []int32{1, 2},
			edit: func(h *lifecycleHarness, req *kmsg.AlterPartitionRequest) { req.Topics[0].Topic = "nope" }, code: errUnknownTopicOrPartition},
		{name: "unknown partition", version: 3, topic: "t", isr: []int32{1, 2},
			edit: func(h *lifecycleHarness, req *kmsg.AlterPartitionRequest) { req.Topics[0].Partitions[0].Partition = 7 }, code: errUnknownTopicOrPartition},
		{name: "newer leader epoch", version: 3, topic: "t", isr: []int32{1, 2},
			edit: func(h *lifecycleHarness, req *kmsg.AlterPartitionRequest) { req.Topics[0].Partitions[0].LeaderEpoch++ }, code: errNotController},
		{name: "newer partition epoch", version: 3, topic: "t", isr: []int32{1, 2},
			edit: func(h *lifecycleHarness, req *kmsg.AlterPartitionRequest) {
				req.Topics[0].Partitions[0].PartitionEpoch++
			}, code: errNotController},
		{name: "older leader epoch", version: 3, topic: "t", isr: []int32{1, 2},
			edit: func(h *lifecycleHarness, req *kmsg.AlterPartitionRequest) { req.Topics[0].Partitions[0].LeaderEpoch-- }, code: errFencedLeaderEpoch},
		{name: "sender is not the leader", version: 3, topic: "t", isr: []int32{1, 2},
			edit: func(h *lifecycleHarness, req *kmsg.AlterPartitionRequest) {
				req.BrokerID, req.BrokerEpoch = 2, h.broker(2).Epoch
			}, code: errInvalidRequest},
		{name: "older partition epoch", version: 3, topic: "t", isr: []int32{1, 2},
			edit: func(h *lifecycleHarness, req *kmsg.AlterPartitionRequest) {
				req.Topics[0].Partitions[0].PartitionEpoch--
			}, code: errInvalidUpdateVersion},
		{name: "broker outside the replicas", version: 3, topic: "t", isr: []int32{1, 5}, code: errInvalidRequest},
		{name: "duplicate broker", version: 2, topic: "t", isr: []int32{1, 2, 1}, code: errInvalidRequest},
		{name: "negative broker", version: 2, topic: "t", isr: []int32{1, -1}, code: errInvalidRequest},
		{name: "leader left out", version: 3, topic: "t", isr: []int32{2, 3}, code: errInvalidRequest},
		{name: "empty isr", version: 3, topic: "t", isr: []int32{}, code: errInvalidRequest},
		{name: "recovered to recovering", version: 3, topic: "t", isr: []int32{1},
			edit: func(h *lifecycleHarness, req *kmsg.AlterPartitionRequest) {
				req.Topics[0].Partitions[0].LeaderRecoveryState = leaderRecoveryRecovering
			}, code: errInvalidRequest},
		{name: "unknown recovery state", version: 3, topic: "t", isr: []int32{1, 2},
			edit: func(h *lifecycleHarness, req *kmsg.AlterPartitionRequest) {
				req.Topics[0].Partitions[0].LeaderRecoveryState = 2
			},
			code: errInvalidRequest},
		{name: "recovering with more than the leader", version: 3, topic: "t", isr: []int32{1, 2},
			setup: func(h *lifecycleHarness) {
				h.change("t", 0, func(r *metadata.PartitionChangeRecord) {
					r.ISR, r.LeaderRecoveryState = []int32{1}, leaderRecoveryRecovering
				})
			}, code: errInvalidRequest},
		{name: "fenced replica", version: 3, topic: "f", isr: []int32{1, 2, 4}, code: errIneligibleReplica},
		{name: "replica in controlled shutdown", version: 3, topic: "c", isr: []int32{1, 2, 5}, code: errIneligibleReplica},
		{name: "broker epoch mismatch", version: 3, topic: "t", isr: []int32{1, 2},
			edit: func(h *lifecycleHarness, req *kmsg.AlterPartitionRequest) {
				req.Topics[0].Partitions[0].NewEpochISR[1].BrokerEpoch++
			}, code: errIneligibleReplica},
		{name: "ineligible before v2", version: 1, topic: "f", isr: []int32{1, 2, 4}, code: errOperationNotAttempted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := replicationHarness(t, metadata.MetadataVersionDefault)
			h.createTopic("t", 1, []int32{1, 2, 3})
			h.createTopic("f", 2, []int32{1, 2, 4})
			h.createTopic("c", 3, []int32{1, 2, 5})
			if tt.setup != nil {
				tt.setup(h)
			}
			before := *h.partition(h.topicID(tt.topic), 0)
			req := h.alterPartitionRequest(tt.version, tt.topic, 0, tt.isr...)
			if tt.edit != nil {
				tt.edit(h, req)
			}
			res, resp := h.alterPartition(req)
			if len(res.Records) != 0 {
				t.Fatalf("refused change wrote %v", recordTypes(res.Records))
			}
			if resp.ErrorCode != tt.top {
				t.Fatalf("top-level error %d, want %d", resp.ErrorCode, tt.top)
			}
			if tt.top != 0 {
				if len(resp.Topics) != 0 {
					t.Fatalf("topics answered with a top-level error: %+v", resp.Topics)
				}
				return
			}
			if got := resp.Topics[0].Partitions[0].ErrorCode; got != tt.code {
				t.Fatalf("error %d, want %d", got, tt.code)
			}
			if after := h.partition(h.topicID(tt.topic), 0); after.PartitionEpoch != before.PartitionEpoch {
				t.Fatalf("partition changed: %+v", after)
			}
		})
	}
}

// TestAlterPartitionShrinkAndExpand: an accepted change writes one record, bumps the partition
// epoch (not the leader epoch, from 3.6-IV0 on) and echoes the new state.
func TestAlterPartitionShrinkAndExpand(t *testing.T) {
	for _, version := range []int16{0, 1, 2, 3} {
		h := replicationHarness(t, metadata.MetadataVersionDefault)
		topic := h.createTopic("t", 1, []int32{1, 2, 3})
		res, resp := h.alterPartition(h.alterPartitionRequest(version, "t", 0, 1, 3))
		if !sameTypes(res.Records, pcrType) {
			t.Fatalf("v%d shrink: %v", version, recordTypes(res.Records))
		}
		r := res.Records[0].(*metadata.PartitionChangeRecord)
		if !slices.Equal(r.ISR, []int32{1, 3}) || r.Leader != metadata.NoLeaderChange || r.Version != partitionChangeRecordVersion(metadata.MetadataVersionDefault) {
			t.Fatalf("v%d record %+v", version, r)
		}
		got := resp.Topics[0].Partitions[0]
		want := kmsg.AlterPartitionResponseTopicPartition{Partition: 0, LeaderID: 1, LeaderEpoch: 0, ISR: []int32{1, 3}, PartitionEpoch: 1}
		if got.ErrorCode != 0 || got.LeaderID != want.LeaderID || got.LeaderEpoch != want.LeaderEpoch ||
			!slices.Equal(got.ISR, want.ISR) || got.PartitionEpoch != want.PartitionEpoch || got.LeaderRecoveryState != 0 {
			t.Fatalf("v%d answer %+v", version, got)
		}
		if version >= 2 && resp.Topics[0].TopidID != topic || version < 2 && resp.Topics[0].Topic != "t" {
			t.Fatalf("v%d topic %+v", version, resp.Topics[0])
		}
		res, resp = h.alterPartition(h.alterPartitionRequest(version, "t", 0, 1, 3, 2))
		if p := h.partition(topic, 0); !sameTypes(res.Records, pcrType) || !slices.Equal(p.ISR, []int32{1, 3, 2}) || p.PartitionEpoch != 2 || p.LeaderEpoch != 0 {
			t.Fatalf("v%d expand: %+v", version, p)
		}
		if resp.Topics[0].Partitions[0].PartitionEpoch != 2 {
			t.Fatalf("v%d expand answer %+v", version, resp.Topics[0].Partitions[0])
		}
	}
}

// TestAlterPartitionUnchanged: the ISR the partition has is no change: no record, the current
// state echoed.
func TestAlterPartitionUnchanged(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	h.createTopic("t", 1, []int32{1, 2, 3})
	res, resp := h.alterPartition(h.alterPartitionRequest(3, "t", 0, 1, 2, 3))
	if got := resp.Topics[0].Partitions[0]; len(res.Records) != 0 || got.ErrorCode != 0 || got.PartitionEpoch != 0 || !slices.Equal(got.ISR, []int32{1, 2, 3}) {
		t.Fatalf("%v, %+v", recordTypes(res.Records), got)
	}
}

// TestAlterPartitionOldMetadataVersionBumpsLeaderEpoch: before 3.6-IV0 a shrink also bumps the
// leader epoch (KAFKA-15021); an expansion does not.
func TestAlterPartitionOldMetadataVersionBumpsLeaderEpoch(t *testing.T) {
	h := replicationHarness(t, 11)
	topic := h.createTopic("t", 1, []int32{1, 2, 3})
	res, resp := h.alterPartition(h.alterPartitionRequest(2, "t", 0, 1, 2))
	if r := res.Records[0].(*metadata.PartitionChangeRecord); r.Leader != 1 || r.Version != 0 {
		t.Fatalf("shrink record %+v", r)
	}
	if got := resp.Topics[0].Partitions[0]; got.LeaderEpoch != 1 || got.PartitionEpoch != 1 {
		t.Fatalf("shrink answer %+v", got)
	}
	h.alterPartition(h.alterPartitionRequest(2, "t", 0, 1, 2, 3))
	if p := h.partition(topic, 0); p.LeaderEpoch != 1 || p.PartitionEpoch != 2 {
		t.Fatalf("expand: %+v", p)
	}
}

// TestAlterPartitionLeavesRecovering: the leader of an unclean election reports it has
// recovered; the state goes back to RECOVERED, the ISR stays the leader.
func TestAlterPartitionLeavesRecovering(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	topic := h.createTopic("t", 1, []int32{1, 2, 3})
	h.change("t", 0, func(r *metadata.PartitionChangeRecord) {
		r.ISR, r.LeaderRecoveryState = []int32{1}, leaderRecoveryRecovering
	})
	req := h.alterPartitionRequest(3, "t", 0, 1)
	// Still recovering, same ISR: nothing to do.
	if res, resp := h.alterPartition(req); len(res.Records) != 0 || resp.Topics[0].Partitions[0].LeaderRecoveryState != leaderRecoveryRecovering {
		t.Fatalf("still recovering: %v %+v", recordTypes(res.Records), resp.Topics[0].Partitions[0])
	}
	req = h.alterPartitionRequest(3, "t", 0, 1)
	req.Topics[0].Partitions[0].LeaderRecoveryState = leaderRecoveryRecovered
	res, resp := h.alterPartition(req)
	r := res.Records[0].(*metadata.PartitionChangeRecord)
	if r.LeaderRecoveryState != leaderRecoveryRecovered || r.ISR != nil || resp.Topics[0].Partitions[0].LeaderRecoveryState != leaderRecoveryRecovered {
		t.Fatalf("recovered: %+v, %+v", r, resp.Topics[0].Partitions[0])
	}
	if p := h.partition(topic, 0); p.LeaderRecoveryState != leaderRecoveryRecovered {
		t.Fatalf("partition %+v", p)
	}
}

// TestAlterPartitionCompletesReassignment: the ISR change that holds every target replica
// completes the reassignment in the same record; when the leader is removed, leadership moves
// and the sender gets NEW_LEADER_ELECTED (FENCED_LEADER_EPOCH before v2), the record written.
func TestAlterPartitionCompletesReassignment(t *testing.T) {
	for _, tc := range []struct {
		version int16
		want    int16
	}{{3, errNewLeaderElected}, {2, errNewLeaderElected}, {1, errFencedLeaderEpoch}} {
		h := replicationHarness(t, metadata.MetadataVersionDefault)
		topic := h.createTopic("t", 1, []int32{1, 2})
		h.alterPartition(h.alterPartitionRequest(3, "t", 0, 1))
		h.reassign(t, "t", 0, []int32{2, 3}, 0)
		if p := h.partition(topic, 0); !slices.Equal(p.Replicas, []int32{2, 3, 1}) || !slices.Equal(p.RemovingReplicas, []int32{1}) || !slices.Equal(p.AddingReplicas, []int32{3}) {
			t.Fatalf("reassigning: %+v", p)
		}
		res, resp := h.alterPartition(h.alterPartitionRequest(tc.version, "t", 0, 1, 2, 3))
		if got := resp.Topics[0].Partitions[0]; got.ErrorCode != tc.want || len(res.Records) != 1 {
			t.Fatalf("v%d: %+v, %v", tc.version, got, recordTypes(res.Records))
		}
		p := h.partition(topic, 0)
		if !slices.Equal(p.Replicas, []int32{2, 3}) || !slices.Equal(p.ISR, []int32{2, 3}) || p.Leader != 2 ||
			len(p.AddingReplicas) != 0 || len(p.RemovingReplicas) != 0 || p.LeaderEpoch != 1 {
			t.Fatalf("v%d completed: %+v", tc.version, p)
		}
		if len(p.Directories) != 2 {
			t.Fatalf("directories %v", p.Directories)
		}
	}
}

// TestAlterPartitionCompletesReassignmentKeepingLeader: the leader stays in the target: the
// answer is a success with the bumped leader epoch (a replica left the assignment).
func TestAlterPartitionCompletesReassignmentKeepingLeader(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	topic := h.createTopic("t", 1, []int32{1, 2})
	h.reassign(t, "t", 0, []int32{1, 3}, 0)
	_, resp := h.alterPartition(h.alterPartitionRequest(3, "t", 0, 1, 2, 3))
	got := resp.Topics[0].Partitions[0]
	p := h.partition(topic, 0)
	if got.ErrorCode != 0 || got.LeaderID != 1 || got.LeaderEpoch != 1 || !slices.Equal(got.ISR, []int32{1, 3}) || got.PartitionEpoch != p.PartitionEpoch {
		t.Fatalf("answer %+v", got)
	}
	if !slices.Equal(p.Replicas, []int32{1, 3}) || len(p.AddingReplicas)+len(p.RemovingReplicas) != 0 {
		t.Fatalf("partition %+v", p)
	}
}

// TestAlterPartitionSeveralPartitions: partitions of one request are decided one by one; a
// refused one does not stop the others.
func TestAlterPartitionSeveralPartitions(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	topic := h.createTopic("t", 1, []int32{1, 2, 3}, []int32{1, 3, 2})
	req := h.alterPartitionRequest(3, "t", 0, 1, 2)
	other := h.alterPartitionRequest(3, "t", 1, 1, 3)
	bad := h.alterPartitionRequest(3, "t", 1, 1, 3)
	bad.Topics[0].Partitions[0].PartitionEpoch = -1
	req.Topics[0].Partitions = append(req.Topics[0].Partitions, bad.Topics[0].Partitions[0], other.Topics[0].Partitions[0])
	res, resp := h.alterPartition(req)
	codes := []int16{}
	for _, p := range resp.Topics[0].Partitions {
		codes = append(codes, p.ErrorCode)
	}
	if !slices.Equal(codes, []int16{0, errInvalidUpdateVersion, 0}) || len(res.Records) != 2 {
		t.Fatalf("codes %v, %d records", codes, len(res.Records))
	}
	if !slices.Equal(h.partition(topic, 0).ISR, []int32{1, 2}) || !slices.Equal(h.partition(topic, 1).ISR, []int32{1, 3}) {
		t.Fatal("ISRs not changed")
	}
}

// TestAlterPartitionSamePartitionTwice: the second entry for a partition is decided on the
// state the first left: its partition epoch is now old (INVALID_UPDATE_VERSION).
func TestAlterPartitionSamePartitionTwice(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	topic := h.createTopic("t", 1, []int32{1, 2, 3})
	req := h.alterPartitionRequest(3, "t", 0, 1, 2)
	again := h.alterPartitionRequest(3, "t", 0, 1)
	req.Topics[0].Partitions = append(req.Topics[0].Partitions, again.Topics[0].Partitions[0])
	res, resp := h.alterPartition(req)
	if len(res.Records) != 1 || resp.Topics[0].Partitions[1].ErrorCode != errInvalidUpdateVersion {
		t.Fatalf("%v, %+v", recordTypes(res.Records), resp.Topics[0].Partitions)
	}
	if p := h.partition(topic, 0); !slices.Equal(p.ISR, []int32{1, 2}) {
		t.Fatalf("partition %+v", p)
	}
}
