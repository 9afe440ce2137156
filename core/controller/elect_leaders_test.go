package controller

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
)

func electLeadersRequest(version int16, electionType int8, topics map[string][]int32, names ...string) *kmsg.ElectLeadersRequest {
	req := kmsg.NewPtrElectLeadersRequest()
	req.Version, req.ElectionType = version, electionType
	for _, name := range names {
		rt := kmsg.NewElectLeadersRequestTopic()
		rt.Topic, rt.Partitions = name, topics[name]
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func (h *lifecycleHarness) electLeaders(req *kmsg.ElectLeadersRequest) (Result, *kmsg.ElectLeadersResponse) {
	h.t.Helper()
	res := h.result(h.c.ElectLeaders(h.img, h.nowMs, req))
	return res, res.Response.(*kmsg.ElectLeadersResponse)
}

// electionCodes lists topic/partition/code of an answer, in order.
func electionCodes(resp *kmsg.ElectLeadersResponse) [][3]any {
	var out [][3]any
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out = append(out, [3]any{t.Topic, p.Partition, p.ErrorCode})
		}
	}
	return out
}

// TestElectPreferredLeaders: each PREFERRED outcome, one partition each.
func TestElectPreferredLeaders(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	topic := h.createTopic("t", 1,
		[]int32{1, 2}, // 0: the preferred replica leads
		[]int32{2, 1}, // 1: led by 1, preferred 2 in the ISR and active: elected
		[]int32{3, 1}, // 2: led by 1, preferred 3 out of the ISR
		[]int32{4, 1}, // 3: led by 1, preferred 4 fenced
	)
	h.change("t", 1, func(r *metadata.PartitionChangeRecord) { r.Leader = 1 })
	h.change("t", 2, func(r *metadata.PartitionChangeRecord) { r.Leader, r.ISR = 1, []int32{1} })
	h.change("t", 3, func(r *metadata.PartitionChangeRecord) { r.Leader, r.ISR = 1, []int32{1, 4} })
	for _, version := range []int16{0, 1, 2} {
		res, resp := h.electLeaders(electLeadersRequest(version, electionTypePreferred, map[string][]int32{"t": {0, 1, 2, 3, 9}, "nope": {0}}, "t", "nope"))
		want := [][3]any{
			{"t", int32(0), errElectionNotNeeded},
			{"t", int32(1), errNone},
			{"t", int32(2), errPreferredLeaderNotAvailable},
			{"t", int32(3), errPreferredLeaderNotAvailable},
			{"t", int32(9), errUnknownTopicOrPartition},
			{"nope", int32(0), errUnknownTopicOrPartition},
		}
		if version > 0 {
			want[1][2] = errElectionNotNeeded // elected by the v0 request
		}
		if got := electionCodes(resp); !slices.EqualFunc(got, want, func(a, b [3]any) bool { return a == b }) {
			t.Fatalf("v%d: %v, want %v", version, got, want)
		}
		if version == 0 && !sameTypes(res.Records, pcrType) || version > 0 && len(res.Records) != 0 {
			t.Fatalf("v%d records %v", version, recordTypes(res.Records))
		}
		if p := h.partition(topic, 1); p.Leader != 2 || p.LeaderEpoch != 2 {
			t.Fatalf("v%d partition 1: %+v", version, p)
		}
	}
}

// TestElectPreferredLeadersForAll: null topics is every partition; only those that needed an
// election are answered.
func TestElectPreferredLeadersForAll(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	topic := h.createTopic("t", 1, []int32{1, 2}, []int32{2, 1}, []int32{3, 1})
	h.change("t", 1, func(r *metadata.PartitionChangeRecord) { r.Leader = 1 })
	h.change("t", 2, func(r *metadata.PartitionChangeRecord) { r.Leader, r.ISR = 1, []int32{1} })
	req := electLeadersRequest(2, electionTypePreferred, nil)
	res, resp := h.electLeaders(req)
	// s-0's preferred replica, broker 5, is shutting down: out of the ISR.
	want := [][3]any{{"s", int32(0), errPreferredLeaderNotAvailable}, {"t", int32(1), errNone}, {"t", int32(2), errPreferredLeaderNotAvailable}}
	got := electionCodes(resp)
	if !slices.EqualFunc(got, want, func(a, b [3]any) bool { return a == b }) || !sameTypes(res.Records, pcrType) {
		t.Fatalf("%v, %v", got, recordTypes(res.Records))
	}
	h.createTopic("u", 2, []int32{1, 2})
	if _, resp := h.electLeaders(req); len(resp.Topics) != 3 || resp.Topics[2].Topic != "u" || len(resp.Topics[2].Partitions) != 0 {
		t.Fatalf("a topic needing no election: %+v", resp.Topics)
	}
	if h.partition(topic, 1).Leader != 2 {
		t.Fatal("not elected")
	}
}

// TestElectUncleanLeaders: UNCLEAN elects only where there is no leader: from the ISR if an
// active member, else any active replica with the ISR reset to it and RECOVERING.
func TestElectUncleanLeaders(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	topic := h.createTopic("t", 1,
		[]int32{1, 2}, // 0: has a leader
		[]int32{4, 2}, // 1: leaderless, ISR [4] fenced: 2 elected uncleanly
		[]int32{4, 5}, // 2: leaderless, no active replica
		[]int32{2, 3}, // 3: leaderless with 3 active in the ISR: a clean election
	)
	h.change("t", 1, func(r *metadata.PartitionChangeRecord) { r.Leader, r.ISR = metadata.NoLeader, []int32{4} })
	h.change("t", 2, func(r *metadata.PartitionChangeRecord) { r.Leader, r.ISR = metadata.NoLeader, []int32{4} })
	h.change("t", 3, func(r *metadata.PartitionChangeRecord) { r.Leader, r.ISR = metadata.NoLeader, []int32{3} })
	res, resp := h.electLeaders(electLeadersRequest(1, electionTypeUnclean, map[string][]int32{"t": {0, 1, 2, 3}}, "t"))
	want := [][3]any{{"t", int32(0), errElectionNotNeeded}, {"t", int32(1), errNone}, {"t", int32(2), errEligibleLeadersNotAvailable}, {"t", int32(3), errNone}}
	if got := electionCodes(resp); !slices.EqualFunc(got, want, func(a, b [3]any) bool { return a == b }) || len(res.Records) != 2 {
		t.Fatalf("%v, %v", got, recordTypes(res.Records))
	}
	if p := h.partition(topic, 1); p.Leader != 2 || !slices.Equal(p.ISR, []int32{2}) || p.LeaderRecoveryState != leaderRecoveryRecovering {
		t.Fatalf("unclean: %+v", p)
	}
	if p := h.partition(topic, 3); p.Leader != 3 || p.LeaderRecoveryState != leaderRecoveryRecovered {
		t.Fatalf("clean: %+v", p)
	}
}

// TestElectLeadersUnknownType: an election type other than 0 and 1 fails every partition and
// the request with INVALID_REQUEST, writing nothing.
func TestElectLeadersUnknownType(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	h.createTopic("t", 1, []int32{1, 2})
	res, resp := h.electLeaders(electLeadersRequest(2, 7, map[string][]int32{"t": {0}}, "t"))
	if resp.ErrorCode != errInvalidRequest || len(res.Records) != 0 || resp.Topics[0].Partitions[0].ErrorCode != errInvalidRequest {
		t.Fatalf("%+v", resp)
	}
}

// TestErrorResponseElectLeaders: NOT_CONTROLLER and the like reach every partition named.
func TestErrorResponseElectLeaders(t *testing.T) {
	req := electLeadersRequest(2, 0, map[string][]int32{"a": {0, 1}}, "a")
	resp := ErrorResponse(req, errNotController).(*kmsg.ElectLeadersResponse)
	if resp.ErrorCode != errNotController || len(resp.Topics[0].Partitions) != 2 || resp.Topics[0].Partitions[1].ErrorCode != errNotController {
		t.Fatalf("%+v", resp)
	}
	for _, r := range []kmsg.Request{kmsg.NewPtrAlterPartitionRequest(), kmsg.NewPtrAlterPartitionAssignmentsRequest(), kmsg.NewPtrListPartitionReassignmentsRequest()} {
		resp := ErrorResponse(r, errNotController)
		var code int16
		switch x := resp.(type) {
		case *kmsg.AlterPartitionResponse:
			code = x.ErrorCode
		case *kmsg.AlterPartitionAssignmentsResponse:
			code = x.ErrorCode
		case *kmsg.ListPartitionReassignmentsResponse:
			code = x.ErrorCode
		}
		if code != errNotController {
			t.Fatalf("%T: %d", resp, code)
		}
	}
}
