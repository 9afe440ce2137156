package controller

import (
	"slices"
	"testing"

	"github.com/weirdata/weir/core/metadata"
)

// elrHarness: brokers 1, 2, 3 unfenced, topic t with replicas [2 1 3] (2 leads) and
// min.insync.replicas=2; then 3 and 1 are fenced, so the ISR shrinks to [2 1] and then to [2],
// below min.insync.replicas: 1 joins the ELR.
func elrHarness(t *testing.T) (*lifecycleHarness, metadata.UUID) {
	t.Helper()
	h := newLifecycleHarness(t, metadata.MetadataVersionDefault)
	h.registerUnfenced(1, 2, 3)
	topic := h.createTopic("t", 1, []int32{2, 1, 3})
	two := "2"
	h.append([]metadata.Record{&metadata.ConfigRecord{ResourceType: metadata.ResourceTopic, ResourceName: "t", Name: "min.insync.replicas", Value: &two}})
	h.heartbeat(3, h.caughtUp(), true, false)
	if p := h.partition(topic, 0); !slices.Equal(p.ISR, []int32{2, 1}) || len(p.EligibleLeaderReplicas) != 0 {
		t.Fatalf("3 fenced, ISR at min.insync.replicas: %+v", p)
	}
	h.heartbeat(1, h.caughtUp(), true, false)
	if p := h.partition(topic, 0); p.Leader != 2 || !slices.Equal(p.ISR, []int32{2}) || !slices.Equal(p.EligibleLeaderReplicas, []int32{1}) {
		t.Fatalf("1 fenced, ISR below min.insync.replicas: %+v", p)
	}
	return h, topic
}

// The last ISR member back from an unclean restart (an empty disk) leaves the ISR and is not
// eligible: the ELR member that left when the ISR fell below min.insync.replicas is elected
// once unfenced, and the restarted broker is never elected on its earlier standing.
func TestUncleanRestartOfLastISRMemberElectsFromELR(t *testing.T) {
	h, topic := elrHarness(t)
	h.nowMs += 20_000 // 2's lease lapses; no Tick ran
	if _, resp := h.registerUnclean(2, 2); resp.ErrorCode != 0 {
		t.Fatalf("register: error %d", resp.ErrorCode)
	}
	p := h.partition(topic, 0)
	if p.Leader != metadata.NoLeader || len(p.ISR) != 0 || !slices.Equal(p.EligibleLeaderReplicas, []int32{1}) {
		t.Fatalf("after 2's unclean restart: %+v", p)
	}
	epoch := p.LeaderEpoch
	// 2 unfences first: it is in neither set, so it stays without leader.
	h.heartbeat(2, h.caughtUp(), false, false)
	if p := h.partition(topic, 0); p.Leader != metadata.NoLeader {
		t.Fatalf("2 elected after an unclean restart: %+v", p)
	}
	h.heartbeat(1, h.caughtUp(), false, false)
	p = h.partition(topic, 0)
	if p.Leader != 1 || !slices.Equal(p.ISR, []int32{1}) || len(p.EligibleLeaderReplicas) != 0 || p.LeaderEpoch <= epoch || p.LeaderRecoveryState != leaderRecoveryRecovered {
		t.Fatalf("1 unfenced: %+v", p)
	}
}

// A clean restart (the disk recorded the broker's epoch) keeps the broker eligible: it moves
// from the ISR to the ELR, and either ELR member may lead again.
func TestCleanRestartOfLastISRMemberKeepsItEligible(t *testing.T) {
	h, topic := elrHarness(t)
	h.nowMs += 20_000 // 2's lease lapses; no Tick ran
	if _, resp := h.register(2, 2); resp.ErrorCode != 0 {
		t.Fatalf("register: error %d", resp.ErrorCode)
	}
	if p := h.partition(topic, 0); p.Leader != metadata.NoLeader || len(p.ISR) != 0 || !slices.Equal(p.EligibleLeaderReplicas, []int32{1, 2}) {
		t.Fatalf("after 2's clean restart: %+v", p)
	}
	h.heartbeat(2, h.caughtUp(), false, false)
	if p := h.partition(topic, 0); p.Leader != 2 || !slices.Equal(p.ISR, []int32{2}) || !slices.Equal(p.EligibleLeaderReplicas, []int32{1}) {
		t.Fatalf("2 unfenced: %+v", p)
	}
	// The ISR back at min.insync.replicas clears the ELR.
	h.heartbeat(1, h.caughtUp(), false, false)
	res, resp := h.alterPartition(h.alterPartitionRequest(3, "t", 0, 2, 1))
	if resp.ErrorCode != 0 || len(res.Records) != 1 {
		t.Fatalf("expand: %+v", resp)
	}
	if p := h.partition(topic, 0); !slices.Equal(p.ISR, []int32{2, 1}) || len(p.EligibleLeaderReplicas) != 0 {
		t.Fatalf("ISR expanded to min.insync.replicas: %+v", p)
	}
}

// An unclean restart of an ELR member takes it out of the ELR. With no ISR and no ELR left, the
// last known leader is recorded and leads again once unfenced, as an unclean leader that
// recovers (KIP-966's balanced recovery, Kafka's default); another replica unfencing first
// does not lead.
func TestUncleanRestartLeavesTheELR(t *testing.T) {
	h, topic := elrHarness(t)
	h.nowMs += 20_000 // the leases lapse; no Tick ran
	if _, resp := h.registerUnclean(1, 2); resp.ErrorCode != 0 {
		t.Fatalf("register 1: error %d", resp.ErrorCode)
	}
	if p := h.partition(topic, 0); p.Leader != 2 || !slices.Equal(p.ISR, []int32{2}) || len(p.EligibleLeaderReplicas) != 0 {
		t.Fatalf("after 1's unclean restart: %+v", p)
	}
	if _, resp := h.registerUnclean(2, 2); resp.ErrorCode != 0 {
		t.Fatalf("register 2: error %d", resp.ErrorCode)
	}
	if p := h.partition(topic, 0); p.Leader != metadata.NoLeader || len(p.ISR) != 0 || len(p.EligibleLeaderReplicas) != 0 || !slices.Equal(p.LastKnownELR, []int32{2}) {
		t.Fatalf("both back from unclean restarts: %+v", p)
	}
	h.heartbeat(1, h.caughtUp(), false, false)
	if p := h.partition(topic, 0); p.Leader != metadata.NoLeader || !slices.Equal(p.LastKnownELR, []int32{2}) {
		t.Fatalf("1 unfenced, not the last known leader: %+v", p)
	}
	h.heartbeat(2, h.caughtUp(), false, false)
	if p := h.partition(topic, 0); p.Leader != 2 || !slices.Equal(p.ISR, []int32{2}) || p.LeaderRecoveryState != leaderRecoveryRecovering ||
		len(p.EligibleLeaderReplicas) != 0 || len(p.LastKnownELR) != 0 {
		t.Fatalf("2, the last known leader, unfenced: %+v", p)
	}
}
