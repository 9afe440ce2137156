package quorum

import (
	"errors"
	"testing"

	"github.com/weirdata/weir/core/record"
)

func TestVoteGrantedOncePerEpochAndPersistedWithTheReply(t *testing.T) {
	tn := newTestNode(t, 1, voters3, nil, InitialState())
	r := tn.step(2, 10, &VoteRequest{CandidateEpoch: 1, CandidateID: 2, LastOffsetEpoch: 0, LastOffset: 0})
	if r.State == nil || *r.State != (State{Epoch: 1, VotedFor: 2, LeaderID: NoNode}) {
		t.Fatalf("the grant's Ready persists %v, want epoch 1 voted 2", r.State)
	}
	if _, resp := only[*VoteResponse](t, tn.sent, 2); !resp.VoteGranted || resp.LeaderEpoch != 1 {
		t.Fatalf("want a grant in epoch 1, got %+v", resp)
	}
	// Another candidate of the same epoch is refused; the same one again is granted again.
	tn.step(3, 11, &VoteRequest{CandidateEpoch: 1, CandidateID: 3})
	if _, resp := only[*VoteResponse](t, tn.sent, 3); resp.VoteGranted {
		t.Fatal("a second vote in epoch 1 was granted")
	}
	r = tn.step(2, 12, &VoteRequest{CandidateEpoch: 1, CandidateID: 2})
	if _, resp := only[*VoteResponse](t, tn.sent, 2); !resp.VoteGranted || r.State != nil {
		t.Fatalf("a repeated request from the same candidate: %+v, state %v", resp, r.State)
	}
	// A stale epoch is refused with the current one.
	ahead := newTestNode(t, 1, voters3, nil, State{Epoch: 3, VotedFor: NoNode, LeaderID: NoNode})
	ahead.step(3, 13, &VoteRequest{CandidateEpoch: 2, CandidateID: 3, LastOffsetEpoch: 1, LastOffset: 9})
	if _, resp := only[*VoteResponse](t, ahead.sent, 3); resp.VoteGranted || resp.LeaderEpoch != 3 || resp.ErrorCode != ErrFencedLeaderEpoch {
		t.Fatalf("stale vote request answered %+v", resp)
	}
	// A restart keeps the vote.
	tn2 := newTestNode(t, 1, voters3, tn.log, tn.persisted)
	tn2.step(3, 14, &VoteRequest{CandidateEpoch: 1, CandidateID: 3})
	if _, resp := only[*VoteResponse](t, tn2.sent, 3); resp.VoteGranted {
		t.Fatal("a restarted voter voted twice in epoch 1")
	}
}

func TestVoteOnlyForAnUpToDateLog(t *testing.T) {
	cases := []struct {
		name      string
		lastEpoch record.Epoch
		lastEnd   record.Offset
		grant     bool
	}{
		{"same log", 2, 3, true},
		{"longer log", 2, 4, true},
		{"higher last epoch, shorter", 3, 1, true},
		{"shorter log", 2, 2, false},
		{"lower last epoch, longer", 1, 9, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tn := newTestNode(t, 1, voters3, logOf(1, 2, 2), State{Epoch: 2, VotedFor: NoNode, LeaderID: NoNode})
			tn.step(2, 1, &VoteRequest{CandidateEpoch: 4, CandidateID: 2, LastOffsetEpoch: tc.lastEpoch, LastOffset: tc.lastEnd})
			if _, resp := only[*VoteResponse](t, tn.sent, 2); resp.VoteGranted != tc.grant {
				t.Fatalf("granted %v, want %v", resp.VoteGranted, tc.grant)
			}
			if tn.persisted.Epoch != 4 {
				t.Fatalf("the higher epoch was not adopted and persisted: %v", tn.persisted)
			}
		})
	}
}

func TestPreVoteChangesNothingAndRespectsALiveLeader(t *testing.T) {
	tn := newTestNode(t, 1, voters3, logOf(1), State{Epoch: 1, VotedFor: 2, LeaderID: 2})
	if tn.n.Role() != RoleFollower {
		t.Fatalf("restarted as %v, want follower", tn.n.Role())
	}
	preVote := func(epoch, lastEpoch record.Epoch, lastOffset record.Offset) *VoteResponse {
		tn.step(3, 1, &VoteRequest{CandidateEpoch: epoch, CandidateID: 3, LastOffsetEpoch: lastEpoch, LastOffset: lastOffset, PreVote: true})
		_, resp := only[*VoteResponse](t, tn.sent, 3)
		return resp
	}
	// The follower has not fetched from its leader since its restart: it grants, unchanged.
	if resp := preVote(1, 1, 1); !resp.VoteGranted || tn.n.State() != (State{Epoch: 1, VotedFor: 2, LeaderID: 2}) {
		t.Fatalf("pre-vote: %+v, state %v", resp, tn.n.State())
	}
	// Once the leader answers a fetch, pre-votes are refused for a fetch timeout.
	fetch, _ := only[*FetchRequest](t, tn.initial, 2)
	tn.step(2, fetch.CorrelationID, &FetchResponse{HighWatermark: 1, DivergingEpoch: EpochEndOffset{Epoch: -1}, SnapshotID: EpochEndOffset{Epoch: -1}, CurrentLeader: LeaderAndEpoch{LeaderID: 2, LeaderEpoch: 1}, BaseOffset: 1})
	if resp := preVote(1, 1, 1); resp.VoteGranted || resp.LeaderID != 2 {
		t.Fatalf("a follower in contact with its leader answered a pre-vote with %+v", resp)
	}
	tn.nowMs += tn.n.cfg.FetchTimeoutMs
	if resp := preVote(1, 1, 1); !resp.VoteGranted || resp.LeaderID != NoNode {
		t.Fatalf("a follower that lost its leader answered a pre-vote with %+v", resp)
	}
	// Not for a stale log, nor from an earlier epoch.
	if resp := preVote(1, 0, 0); resp.VoteGranted {
		t.Fatal("pre-vote granted to a stale log")
	}
	if resp := preVote(0, 0, 0); resp.VoteGranted || resp.ErrorCode != ErrFencedLeaderEpoch {
		t.Fatalf("pre-vote from an earlier epoch answered %+v", resp)
	}
	if tn.persisted != (State{Epoch: 1, VotedFor: 2, LeaderID: 2}) {
		t.Fatalf("pre-votes changed the persisted state to %v", tn.persisted)
	}
	// A pre-vote from a voter already in a later epoch moves this one there (persisted).
	if resp := preVote(4, 1, 1); !resp.VoteGranted || resp.LeaderEpoch != 4 || tn.persisted != (State{Epoch: 4, VotedFor: NoNode, LeaderID: NoNode}) {
		t.Fatalf("pre-vote from epoch 4: %+v, persisted %v", resp, tn.persisted)
	}
}

func TestLeaderStepsDownForAVoterAheadOfItsEpoch(t *testing.T) {
	tn := electLeader(t, logOf())
	tn.flush()
	// Voter 3 moved to epoch 3 alone (its vote requests were lost) and cannot win with its
	// log: its pre-vote still brings the leader to epoch 3, so that a new election can
	// include it.
	tn.step(3, 1, &VoteRequest{CandidateEpoch: 3, CandidateID: 3, LastOffsetEpoch: 0, LastOffset: 0, PreVote: true})
	if _, resp := only[*VoteResponse](t, tn.sent, 3); resp.VoteGranted {
		t.Fatal("pre-vote granted to a shorter log")
	}
	if tn.n.Role() != RoleUnattached || tn.persisted.Epoch != 3 {
		t.Fatalf("leader after a pre-vote from epoch 3: %v %v", tn.n.Role(), tn.persisted)
	}
}

func TestElectionPreVoteThenVoteThenLeaderChange(t *testing.T) {
	tn := newTestNode(t, 1, voters3, logOf(), InitialState())
	tn.tickAt(2 * tn.n.cfg.ElectionTimeoutMs)
	if tn.n.Role() != RoleProspective || tn.persisted.Epoch != 0 {
		t.Fatalf("after the election timeout: %v %v, want prospective in epoch 0", tn.n.Role(), tn.persisted)
	}
	if count[*VoteRequest](tn.sent) != 2 {
		t.Fatalf("pre-vote requests: %+v", tn.sent)
	}
	m, req := only[*VoteRequest](t, tn.sent, 3)
	if !req.PreVote || req.CandidateEpoch != 0 {
		t.Fatalf("want a pre-vote in epoch 0: %+v", req)
	}
	r := tn.step(3, m.CorrelationID, &VoteResponse{LeaderID: NoNode, LeaderEpoch: 0, VoteGranted: true})
	if r.State == nil || *r.State != (State{Epoch: 1, VotedFor: 1, LeaderID: NoNode}) {
		t.Fatalf("a candidate's self-vote is not in the Ready with its requests: %v", r.State)
	}
	m, req = only[*VoteRequest](t, tn.sent, 3)
	if req.PreVote || req.CandidateEpoch != 1 {
		t.Fatalf("want a vote for epoch 1: %+v", req)
	}
	// A stale grant from the pre-vote round does not count as a vote.
	tn.step(2, 999, &VoteResponse{LeaderID: NoNode, LeaderEpoch: 1, VoteGranted: true})
	if tn.n.Role() != RoleCandidate {
		t.Fatalf("an unmatched response made the node %v", tn.n.Role())
	}
	r = tn.step(3, m.CorrelationID, &VoteResponse{LeaderID: NoNode, LeaderEpoch: 1, VoteGranted: true})
	if tn.n.Role() != RoleLeader || tn.persisted.LeaderID != 1 {
		t.Fatalf("after a majority: %v %v", tn.n.Role(), tn.persisted)
	}
	if !r.Flush || tn.log.EndOffset() != 1 || !tn.log.visible()[0].Control || tn.log.visible()[0].Epoch != 1 {
		t.Fatalf("the new leader did not append its LeaderChange first: %+v", tn.log.visible())
	}
	if count[*BeginQuorumEpochRequest](tn.sent) != 2 {
		t.Fatalf("BeginQuorumEpoch not sent to both voters: %+v", tn.sent)
	}
}

func TestSingleVoterElectsItselfAndCommitsAlone(t *testing.T) {
	tn := newTestNode(t, 1, []NodeID{1}, nil, InitialState())
	tn.tickAt(2 * tn.n.cfg.ElectionTimeoutMs)
	if tn.n.Role() != RoleLeader || tn.persisted.Epoch != 1 {
		t.Fatalf("single voter: %v %v", tn.n.Role(), tn.persisted)
	}
	if r := tn.flush(); r.HighWatermark != 1 {
		t.Fatalf("HW after flushing the LeaderChange: %d", r.HighWatermark)
	}
	o := tn.propose("a", "b")
	if o != 1 || tn.n.HighWatermark() != 1 {
		t.Fatalf("proposed at %d, HW %d before the flush", o, tn.n.HighWatermark())
	}
	if r := tn.flush(); r.HighWatermark != 3 {
		t.Fatalf("HW after the flush: %d, want 3", r.HighWatermark)
	}
}

func TestValidateFetchAndTruncationOffset(t *testing.T) {
	leader := logOf(1, 1, 3, 3, 3) // epochs 1 [0,2), 3 [2,5)
	cases := []struct {
		name        string
		follower    *memLog
		wantValid   bool
		wantDiverge EpochEndOffset
		wantTrunc   record.Offset
	}{
		{"empty follower", logOf(), true, EpochEndOffset{}, 0},
		{"prefix", logOf(1, 1), true, EpochEndOffset{}, 0},
		{"same", logOf(1, 1, 3, 3, 3), true, EpochEndOffset{}, 0},
		{"longer epoch 1", logOf(1, 1, 1, 1), false, EpochEndOffset{Epoch: 1, EndOffset: 2}, 2},
		{"unknown epoch 2", logOf(1, 1, 2, 2, 2, 2), false, EpochEndOffset{Epoch: 1, EndOffset: 2}, 2},
		{"ahead in the leader's epoch", logOf(1, 1, 3, 3, 3, 3), false, EpochEndOffset{Epoch: 3, EndOffset: 5}, 5},
		{"only epoch 2, no common epoch", logOf(2, 2), false, EpochEndOffset{Epoch: 1, EndOffset: 2}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check, div := ValidateFetch(leader, tc.follower.EndOffset(), tc.follower.LastEpoch())
			valid := check == FetchValid
			if valid != tc.wantValid || !valid && (check != FetchDiverging || div != tc.wantDiverge) {
				t.Fatalf("ValidateFetch = %v %+v, want valid %v %+v", check, div, tc.wantValid, tc.wantDiverge)
			}
			if valid {
				return
			}
			if got := TruncationOffset(tc.follower, div); got != tc.wantTrunc {
				t.Fatalf("TruncationOffset = %d, want %d", got, tc.wantTrunc)
			}
		})
	}
	// A leader with an empty log: everything the follower has diverges.
	check, div := ValidateFetch(logOf(), 3, 1)
	if check != FetchDiverging || TruncationOffset(logOf(1, 1, 1), div) != 0 {
		t.Fatalf("against an empty leader: %v %+v", check, div)
	}
}

func TestValidateFetchBelowTheLogStartNeedsTheSnapshot(t *testing.T) {
	leader := logOf(1, 1, 2, 2, 3, 3) // epochs 1 [0,2), 2 [2,4), 3 [4,6)
	leader.takeSnapshot(3)
	leader.deletePrefix(3) // starts at 3, in epoch 2
	want := EpochEndOffset{Epoch: 2, EndOffset: 3}
	if leader.Start() != want {
		t.Fatalf("log start %+v", leader.Start())
	}
	cases := []struct {
		name      string
		offset    record.Offset
		lastEpoch record.Epoch
		wantCheck FetchCheck
		wantAt    EpochEndOffset
	}{
		{"empty follower", 0, 0, FetchSnapshot, want},
		{"below the start", 2, 2, FetchSnapshot, want},
		{"at the start, same epoch", 3, 2, FetchValid, EpochEndOffset{}},
		{"at the start, other epoch", 3, 1, FetchSnapshot, want},
		{"above, older epoch than the start's", 5, 1, FetchSnapshot, want},
		{"above, in epoch 2", 4, 2, FetchValid, EpochEndOffset{}},
		{"above, ahead in epoch 2", 5, 2, FetchDiverging, EpochEndOffset{Epoch: 2, EndOffset: 4}},
		{"end", 6, 3, FetchValid, EpochEndOffset{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check, at := ValidateFetch(leader, tc.offset, tc.lastEpoch)
			if check != tc.wantCheck || check != FetchValid && at != tc.wantAt {
				t.Fatalf("ValidateFetch(%d, %d) = %v %+v, want %v %+v", tc.offset, tc.lastEpoch, check, at, tc.wantCheck, tc.wantAt)
			}
		})
	}
}

func TestFollowerTruncatesOnDivergenceAndFetchesAgain(t *testing.T) {
	tn := newTestNode(t, 2, voters3, logOf(1, 1, 2, 2), State{Epoch: 3, VotedFor: 1, LeaderID: 1})
	m, req := only[*FetchRequest](t, tn.initial, 1)
	if req.FetchOffset != 4 || req.LastFetchedEpoch != 2 || req.CurrentLeaderEpoch != 3 {
		t.Fatalf("fetch: %+v", req)
	}
	tn.step(1, m.CorrelationID, &FetchResponse{HighWatermark: 1, DivergingEpoch: EpochEndOffset{Epoch: 1, EndOffset: 3}, CurrentLeader: LeaderAndEpoch{LeaderID: 1, LeaderEpoch: 3}})
	if tn.log.EndOffset() != 2 {
		t.Fatalf("truncated to %d, want 2 (where epoch 1 ends on the follower)", tn.log.EndOffset())
	}
	_, req = only[*FetchRequest](t, tn.sent, 1)
	if req.FetchOffset != 2 || req.LastFetchedEpoch != 1 {
		t.Fatalf("fetch after truncation: %+v", req)
	}
}

func TestFollowerAcknowledgesOnlyFlushedEntries(t *testing.T) {
	tn := newTestNode(t, 2, voters3, logOf(), State{Epoch: 1, VotedFor: 1, LeaderID: 1})
	m, _ := only[*FetchRequest](t, tn.initial, 1)
	r := tn.step(1, m.CorrelationID, &FetchResponse{
		HighWatermark: 1, DivergingEpoch: EpochEndOffset{Epoch: -1}, SnapshotID: EpochEndOffset{Epoch: -1}, CurrentLeader: LeaderAndEpoch{LeaderID: 1, LeaderEpoch: 1},
		BaseOffset: 0, Entries: []Entry{{Epoch: 1, Control: true}, {Epoch: 1, Data: []byte("x")}},
	})
	if !r.Flush || count[*FetchRequest](r.Messages) != 0 {
		t.Fatalf("after appending: flush %v, messages %+v", r.Flush, r.Messages)
	}
	if r.HighWatermark != 1 {
		t.Fatalf("follower HW %d, want the leader's 1", r.HighWatermark)
	}
	r = tn.flush()
	if _, req := only[*FetchRequest](t, r.Messages, 1); req.FetchOffset != 2 {
		t.Fatalf("fetch after the flush: %+v", req)
	}
}

func TestHighWatermarkOnlyPastEpochStart(t *testing.T) {
	// Two entries of epoch 1 from an earlier leader, uncommitted.
	tn := electLeaderAfter(t, logOf(1, 1), 1)
	if tn.n.State().Epoch != 2 {
		t.Fatalf("elected in epoch %d", tn.n.State().Epoch)
	}
	tn.flush()
	if start := tn.n.EpochStartOffset(); start != 2 {
		t.Fatalf("epoch start %d, want 2", start)
	}
	// A follower that holds both old entries: a majority has offset 2, but 2 is the epoch
	// start, so nothing is committed yet.
	tn.step(2, 1, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 2, FetchOffset: 2, LastFetchedEpoch: 1, MaxEntries: 10})
	if tn.n.HighWatermark() != 0 {
		t.Fatalf("HW %d: an earlier epoch's entries committed by counting replicas", tn.n.HighWatermark())
	}
	tn.step(2, 2, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 2, FetchOffset: 3, LastFetchedEpoch: 2, MaxEntries: 10})
	if tn.n.HighWatermark() != 3 {
		t.Fatalf("HW %d, want 3 once the LeaderChange is on a majority", tn.n.HighWatermark())
	}
}

func TestLeaderCountsItsDurableOffsetOnly(t *testing.T) {
	tn := electLeader(t, logOf())
	tn.propose("a")
	// Follower 2 has both entries flushed; the leader has flushed none: 2 of 3 is not yet
	// a majority at 2 (the leader counts at 0), but is at 0... nothing beyond the epoch start.
	tn.step(2, 1, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 1, FetchOffset: 2, LastFetchedEpoch: 1, MaxEntries: 10})
	if tn.n.HighWatermark() != 0 {
		t.Fatalf("HW %d counted the leader's unflushed entries", tn.n.HighWatermark())
	}
	if r := tn.flush(); r.HighWatermark != 2 {
		t.Fatalf("HW %d after the leader's flush, want 2", r.HighWatermark)
	}
}

func TestObserverNeverVotesNorCounts(t *testing.T) {
	tn := electLeader(t, logOf())
	tn.flush()
	// Observer 9 fetches past everything: no HW.
	tn.step(9, 1, &FetchRequest{ReplicaID: 9, CurrentLeaderEpoch: 1, FetchOffset: 1, LastFetchedEpoch: 1, MaxEntries: 10})
	if tn.n.HighWatermark() != 0 {
		t.Fatalf("an observer's fetch moved the HW to %d", tn.n.HighWatermark())
	}
	obs := newTestNode(t, 9, voters3, nil, InitialState())
	if obs.n.IsVoter() {
		t.Fatal("node 9 is a voter")
	}
	obs.step(2, 5, &VoteRequest{CandidateEpoch: 1, CandidateID: 2})
	if _, resp := only[*VoteResponse](t, obs.sent, 2); resp.VoteGranted || resp.ErrorCode != ErrInconsistentVoterSet {
		t.Fatalf("observer answered a vote request with %+v", resp)
	}
	if obs.persisted.VotedFor != NoNode {
		t.Fatalf("observer persisted a vote: %v", obs.persisted)
	}
	// The observer never runs an election, however long it waits.
	obs.tickAt(100000)
	if obs.n.Role() != RoleUnattached || count[*VoteRequest](obs.sent) != 0 {
		t.Fatalf("observer: %v, sent %+v", obs.n.Role(), obs.sent)
	}
}

func TestObserverFindsTheLeaderThroughAVoter(t *testing.T) {
	obs := newTestNode(t, 9, voters3, nil, InitialState())
	fetches := obs.sent
	if len(fetches) != 1 {
		t.Fatalf("observer's first Ready: %+v", fetches)
	}
	m := fetches[0]
	// A follower of epoch 4 fences the observer's epoch-0 fetch and names the leader.
	obs.step(m.To, m.CorrelationID, &FetchResponse{ErrorCode: ErrFencedLeaderEpoch, HighWatermark: -1, DivergingEpoch: EpochEndOffset{Epoch: -1}, SnapshotID: EpochEndOffset{Epoch: -1}, CurrentLeader: LeaderAndEpoch{LeaderID: 3, LeaderEpoch: 4}})
	if obs.n.Role() != RoleFollower || obs.n.State().LeaderID != 3 || obs.n.State().Epoch != 4 {
		t.Fatalf("observer after the hint: %v %v", obs.n.Role(), obs.n.State())
	}
	if _, req := only[*FetchRequest](t, obs.sent, 3); req.CurrentLeaderEpoch != 4 {
		t.Fatalf("observer's fetch to the leader: %+v", req)
	}
}

func TestCheckQuorumResignsAPartitionedLeader(t *testing.T) {
	tn := electLeader(t, logOf())
	tn.flush()
	window := tn.n.cfg.FetchTimeoutMs * 3 / 2
	// Follower 2 keeps fetching: with the leader that is a majority of 3.
	for now := int64(100); now < 3*window; now += 100 {
		tn.nowMs = now
		tn.step(2, int32(now), &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 1, FetchOffset: 1, LastFetchedEpoch: 1, MaxEntries: 10, MaxWaitMs: 0})
		tn.tickAt(now)
		if tn.n.Role() != RoleLeader {
			t.Fatalf("leader resigned at %d ms with a majority fetching", now)
		}
	}
	// Then nobody fetches: it resigns within the window and tells the voters.
	last := tn.nowMs
	r := tn.tickAt(last + window)
	if tn.n.Role() != RoleResigned {
		t.Fatalf("after %d ms without a majority: %v (next deadline %d)", window, tn.n.Role(), r.NextDeadlineMs)
	}
	_, end := only[*EndQuorumEpochRequest](t, tn.sent, 2)
	if end.LeaderEpoch != 1 || len(end.PreferredSuccessors) != 2 || end.PreferredSuccessors[0] != 2 {
		t.Fatalf("EndQuorumEpoch %+v, want node 2 (caught up) first", end)
	}
	if _, _, err := tn.n.Propose(tn.nowMs, [][]byte{[]byte("x")}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a resigned leader accepted a proposal: %v", err)
	}
}

func TestStaleAndHigherEpochs(t *testing.T) {
	tn := electLeader(t, logOf())
	tn.flush()
	// A fetch from an old epoch is fenced and told the current leader.
	tn.step(2, 1, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 0, FetchOffset: 0, MaxEntries: 10})
	if _, resp := only[*FetchResponse](t, tn.sent, 2); resp.ErrorCode != ErrFencedLeaderEpoch || resp.CurrentLeader != (LeaderAndEpoch{LeaderID: 1, LeaderEpoch: 1}) {
		t.Fatalf("stale fetch answered %+v", resp)
	}
	// A BeginQuorumEpoch of an old epoch is refused.
	tn.step(3, 2, &BeginQuorumEpochRequest{LeaderID: 3, LeaderEpoch: 0})
	if _, resp := only[*BeginQuorumEpochResponse](t, tn.sent, 3); resp.ErrorCode != ErrFencedLeaderEpoch || resp.LeaderEpoch != 1 {
		t.Fatalf("stale BeginQuorumEpoch answered %+v", resp)
	}
	// A fetch from a later epoch: the leader is stale; it steps down and persists the epoch.
	r := tn.step(3, 3, &FetchRequest{ReplicaID: 3, CurrentLeaderEpoch: 5, FetchOffset: 0, MaxEntries: 10})
	if tn.n.Role() != RoleUnattached || r.State == nil || r.State.Epoch != 5 {
		t.Fatalf("after a fetch of epoch 5: %v, persisted %v", tn.n.Role(), r.State)
	}
	if _, resp := only[*FetchResponse](t, tn.sent, 3); resp.ErrorCode != ErrUnknownLeaderEpoch {
		t.Fatalf("later-epoch fetch answered %+v", resp)
	}
	// A response naming a later leader makes the node follow it.
	tn.step(2, 4, &VoteResponse{LeaderID: 2, LeaderEpoch: 6})
	if tn.n.Role() != RoleFollower || tn.persisted != (State{Epoch: 6, VotedFor: NoNode, LeaderID: 2}) {
		t.Fatalf("after a vote response of epoch 6: %v %v", tn.n.Role(), tn.persisted)
	}
}

func TestEndQuorumEpochHurriesThePreferredSuccessor(t *testing.T) {
	first := newTestNode(t, 2, voters3, logOf(1), State{Epoch: 1, VotedFor: 1, LeaderID: 1})
	second := newTestNode(t, 3, voters3, logOf(1), State{Epoch: 1, VotedFor: 1, LeaderID: 1})
	for _, tn := range []*testNode{first, second} {
		tn.nowMs = 10
		tn.step(1, 7, &EndQuorumEpochRequest{LeaderID: 1, LeaderEpoch: 1, PreferredSuccessors: []NodeID{2, 3}})
	}
	first.tickAt(10)
	if first.n.Role() != RoleProspective {
		t.Fatalf("first successor is %v right after EndQuorumEpoch", first.n.Role())
	}
	second.tickAt(10)
	if second.n.Role() != RoleFollower {
		t.Fatalf("second successor ran at once: %v", second.n.Role())
	}
	// The second successor grants the first its pre-vote: the leader is gone.
	m, req := only[*VoteRequest](t, first.sent, 3)
	second.deliver(m)
	if _, resp := only[*VoteResponse](t, second.sent, 2); !resp.VoteGranted || !req.PreVote {
		t.Fatalf("pre-vote after EndQuorumEpoch: %+v", resp)
	}
}

func TestRestartedLeaderResigns(t *testing.T) {
	tn := newTestNode(t, 1, voters3, logOf(1), State{Epoch: 1, VotedFor: 1, LeaderID: 1})
	if tn.n.Role() != RoleResigned {
		t.Fatalf("restarted leader is %v", tn.n.Role())
	}
	tn.step(2, 1, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 1, FetchOffset: 1, LastFetchedEpoch: 1, MaxEntries: 10})
	if _, resp := only[*FetchResponse](t, tn.sent, 2); resp.ErrorCode != ErrNotLeaderOrFollower || resp.CurrentLeader.LeaderID != NoNode {
		t.Fatalf("a resigned leader answered a fetch with %+v", resp)
	}
}

func TestLeaderHoldsAFetchUntilNewData(t *testing.T) {
	tn := electLeader(t, logOf())
	tn.flush()
	tn.step(2, 1, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 1, FetchOffset: 1, LastFetchedEpoch: 1, MaxEntries: 10, MaxWaitMs: 500})
	// The fetch moved the HW (the LeaderChange is on a majority) and is answered for that.
	if _, resp := only[*FetchResponse](t, tn.sent, 2); resp.HighWatermark != 1 || len(resp.Entries) != 0 {
		t.Fatalf("first fetch: %+v", resp)
	}
	tn.step(2, 2, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 1, FetchOffset: 1, LastFetchedEpoch: 1, MaxEntries: 10, MaxWaitMs: 500})
	if len(tn.sent) != 0 {
		t.Fatalf("a fetch with nothing new was answered at once: %+v", tn.sent)
	}
	tn.propose("x")
	if _, resp := only[*FetchResponse](t, tn.sent, 2); len(resp.Entries) != 1 || resp.BaseOffset != 1 {
		t.Fatalf("held fetch answered with %+v", resp)
	}
	tn.step(2, 3, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 1, FetchOffset: 2, LastFetchedEpoch: 1, MaxEntries: 10, MaxWaitMs: 500})
	tn.flush() // the leader's own flush makes 2 of 3 at offset 2
	if _, resp := only[*FetchResponse](t, tn.sent, 2); resp.HighWatermark != 2 {
		t.Fatalf("held fetch answered on the HW move with %+v", resp)
	}
	tn.step(2, 4, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 1, FetchOffset: 2, LastFetchedEpoch: 1, MaxEntries: 10, MaxWaitMs: 500})
	tn.tickAt(tn.nowMs + 500)
	if _, resp := only[*FetchResponse](t, tn.sent, 2); len(resp.Entries) != 0 {
		t.Fatalf("expired fetch answered with %+v", resp)
	}
}

func TestProposeBounds(t *testing.T) {
	tn := newTestNode(t, 1, voters3, nil, InitialState())
	if _, _, err := tn.n.Propose(0, [][]byte{[]byte("x")}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a follower accepted a proposal: %v", err)
	}
	tn = electLeader(t, logOf())
	end := tn.log.EndOffset()
	if _, _, err := tn.n.Propose(0, make([][]byte, tn.n.cfg.ProposalEntriesMax+1)); !errors.Is(err, ErrProposalTooLarge) || tn.log.EndOffset() != end {
		t.Fatalf("a proposal above ProposalEntriesMax: %v, log end %d → %d", err, end, tn.log.EndOffset())
	}
	// Proposals of the largest size are accepted until the uncommitted entries would pass
	// their bound; each is one batch.
	data := make([][]byte, tn.n.cfg.ProposalEntriesMax)
	for {
		base := tn.log.EndOffset()
		o, _, err := tn.n.Propose(0, data)
		if errors.Is(err, ErrTooManyUncommitted) {
			break
		}
		if err != nil || o != base {
			t.Fatalf("proposal at %d: offset %d, %v", base, o, err)
		}
		for i := o; i < tn.log.EndOffset(); i++ {
			if tn.log.all[i].MoreInBatch != (i < tn.log.EndOffset()-1) {
				t.Fatalf("the proposal at %d is not one batch: entry %d", o, i)
			}
		}
	}
	if uncommitted := int64(tn.log.EndOffset() - tn.n.HighWatermark()); uncommitted+int64(len(data)) <= tn.n.cfg.UncommittedEntriesMax {
		t.Fatalf("refused with %d uncommitted entries, bound %d", uncommitted, tn.n.cfg.UncommittedEntriesMax)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.Voters = nil },
		func(c *Config) { c.Voters = []NodeID{1, 1, 2} },
		func(c *Config) { c.FetchTimeoutMs = 0 },
		func(c *Config) { c.FetchMaxWaitMs = int32(c.RequestTimeoutMs) },
		func(c *Config) { c.FetchMaxWaitMs = int32(c.FetchTimeoutMs / 2) },
		func(c *Config) { c.FetchEntriesMax = 0 },
		func(c *Config) { c.ProposalEntriesMax = 0 },
		func(c *Config) { c.ProposalEntriesMax = int(c.UncommittedEntriesMax) + 1 }, // never accepted
	}
	for i, mutate := range bad {
		c := DefaultConfig(1, voters3)
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("case %d: invalid config accepted: %+v", i, c)
		}
	}
	c := DefaultConfig(1, voters3)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestFigure8 is the Raft paper's figure 8 in KRaft's terms, with and without the planted bug
// that lets a leader commit an earlier epoch's entry by counting the replicas holding it.
//
// X is entry 1 of epoch 2 (on nodes 1 and 2), Y entry 1 of epoch 3 (on node 3). Node 1 leads
// epoch 4 and node 2 fetches up to its epoch start. With the bug the HW covers X; then node 2
// loses its unflushed copy of the LeaderChange, node 3 (last epoch 3) wins epoch 5 with node
// 2's vote and makes node 2 replace X with Y: a committed entry is gone. Without the bug the
// HW stays below X until the LeaderChange is on a majority, which node 3 could then not beat.
func TestFigure8(t *testing.T) {
	for _, b := range []bug{bugNone, bugCommitEarlierEpoch} {
		t.Run(b.String(), func(t *testing.T) {
			leader := electPlanted(t, 1, logOf(1, 2), 3, b) // leads epoch 4
			leader.flush()
			leader.step(2, 1, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 4, FetchOffset: 2, LastFetchedEpoch: 2, MaxEntries: 10})
			_, resp := only[*FetchResponse](t, leader.sent, 2)
			committed := resp.HighWatermark
			if b == bugNone && committed != 0 {
				t.Fatalf("HW %d covers an earlier epoch's entry", committed)
			}
			if b == bugCommitEarlierEpoch && committed != 2 {
				t.Fatalf("planted: HW %d, want 2 (X counted on a majority)", committed)
			}
			// Node 2 takes the response, then crashes before flushing the LeaderChange.
			follower := newTestNode(t, 2, voters3, logOf(1, 2), State{Epoch: 4, VotedFor: 1, LeaderID: 1})
			fetch, _ := only[*FetchRequest](t, follower.initial, 1)
			follower.step(1, fetch.CorrelationID, resp)
			if follower.n.HighWatermark() != committed {
				t.Fatalf("follower HW %d, want %d", follower.n.HighWatermark(), committed)
			}
			follower.log.crash(zeroRand())
			follower = newTestNode(t, 2, voters3, follower.log, follower.persisted)

			// Node 3 runs in epoch 5 and node 2 votes for it: (3, 2) is more up to date
			// than (2, 2).
			third := newTestNode(t, 3, voters3, logOf(1, 3), State{Epoch: 4, VotedFor: 1, LeaderID: NoNode})
			third.tickAt(3 * third.n.cfg.ElectionTimeoutMs)
			for round := 0; round < 2; round++ {
				m, _ := only[*VoteRequest](t, third.sent, 2)
				follower.nowMs = third.nowMs + 10*follower.n.cfg.FetchTimeoutMs
				follower.deliver(m)
				third.deliver(follower.sent[0])
			}
			if third.n.Role() != RoleLeader {
				t.Fatalf("node 3 is %v, want the leader of epoch 5", third.n.Role())
			}
			third.flush()
			// Node 2 follows node 3: its fetch diverges and it truncates X away.
			third.deliver(Message{From: 2, To: 3, CorrelationID: 9, Body: &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 5, FetchOffset: follower.log.EndOffset(), LastFetchedEpoch: follower.log.LastEpoch(), MaxEntries: 10}})
			_, div := only[*FetchResponse](t, third.sent, 2)
			lost := TruncationOffset(follower.log, div.DivergingEpoch) < committed
			if lost != (b == bugCommitEarlierEpoch) {
				t.Fatalf("bug %v: committed entry below %d lost = %v (diverging %+v)", b, committed, lost, div.DivergingEpoch)
			}
		})
	}
}

func TestSnapshotTransfer(t *testing.T) {
	leader := electLeader(t, logOf())
	leader.propose("a", "b") // batches [1, 3) and [3, 4): snapshots end at boundaries
	leader.propose("c")
	leader.flush()
	leader.step(2, 1, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 1, FetchOffset: 4, LastFetchedEpoch: 1, MaxEntries: 10})
	if leader.n.HighWatermark() != 4 {
		t.Fatalf("HW %d", leader.n.HighWatermark())
	}
	leader.log.takeSnapshot(3)
	leader.log.deletePrefix(3)

	follower := newTestNode(t, 3, voters3, nil, State{Epoch: 1, VotedFor: 1, LeaderID: 1})
	exchange := func() {
		t.Helper()
		m, _ := only[*FetchSnapshotRequest](t, follower.sent, 1)
		leader.deliver(m)
		follower.deliver(leader.sent[0])
	}
	follower.deliver(leader.deliverAndTake(t, follower.initial[0]))
	if _, req := only[*FetchSnapshotRequest](t, follower.sent, 1); req.SnapshotID != (EpochEndOffset{Epoch: 1, EndOffset: 3}) || req.Position != 0 {
		t.Fatalf("first snapshot fetch %+v", req)
	}
	// The leader replaces its snapshot before the transfer ends and keeps none older: the
	// follower starts over from a fetch.
	leader.log.takeSnapshot(4)
	leader.log.older = nil
	exchange()
	follower.tickAt(follower.nowMs + follower.n.cfg.RetryBackoffMs)
	if _, req := only[*FetchRequest](t, follower.sent, 1); req.FetchOffset != 0 {
		t.Fatalf("after SNAPSHOT_NOT_FOUND: %+v", req)
	}
	follower.deliver(leader.deliverAndTake(t, follower.sent[0]))
	for range 10 {
		if count[*FetchSnapshotRequest](follower.sent) == 0 {
			break
		}
		exchange()
	}
	if st := follower.log.Start(); st != (EpochEndOffset{Epoch: 1, EndOffset: 4}) || follower.n.HighWatermark() != 4 || follower.log.DurableOffset() != 4 {
		t.Fatalf("after the transfer: start %+v, HW %d, durable %d", st, follower.n.HighWatermark(), follower.log.DurableOffset())
	}
	if _, req := only[*FetchRequest](t, follower.sent, 1); req.FetchOffset != 4 || req.LastFetchedEpoch != 1 {
		t.Fatalf("fetch after installing: %+v", req)
	}
	// A restart keeps the snapshot's end as the committed start.
	restarted := newTestNode(t, 3, voters3, follower.log, follower.persisted)
	if restarted.n.HighWatermark() != 4 {
		t.Fatalf("restarted HW %d, want the log start 4", restarted.n.HighWatermark())
	}
}

func TestSnapshotChunkMustContinueTheTransfer(t *testing.T) {
	follower := newTestNode(t, 3, voters3, nil, State{Epoch: 1, VotedFor: 1, LeaderID: 1})
	m := follower.initial[0]
	follower.step(1, m.CorrelationID, &FetchResponse{HighWatermark: 3, DivergingEpoch: EpochEndOffset{Epoch: -1}, SnapshotID: EpochEndOffset{Epoch: 1, EndOffset: 3}, CurrentLeader: LeaderAndEpoch{LeaderID: 1, LeaderEpoch: 1}})
	req, _ := only[*FetchSnapshotRequest](t, follower.sent, 1)
	_, err := follower.n.Step(0, Message{From: 1, To: 3, CorrelationID: req.CorrelationID, Body: &FetchSnapshotResponse{
		SnapshotID: EpochEndOffset{Epoch: 1, EndOffset: 3}, CurrentLeader: LeaderAndEpoch{LeaderID: 1, LeaderEpoch: 1},
		Size: 10, Position: 5, Bytes: []byte("xxxxx"),
	}})
	if !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("a chunk at the wrong position: %v", err)
	}
}

// failingLog fails appends once told to.
type failingLog struct {
	*memLog
	fail bool
}

func (l *failingLog) Append(entries []Entry) error {
	if l.fail {
		return errors.New("EIO")
	}
	return l.memLog.Append(entries)
}

func TestStorageErrorLeavesTheNodeUnusable(t *testing.T) {
	l := &failingLog{memLog: newMemLog()}
	n, err := New(testConfig(1, []NodeID{1}), l, InitialState(), testRand(1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Tick(5000); err != nil { // elected alone
		t.Fatal(err)
	}
	if n.Role() != RoleLeader {
		t.Fatalf("single voter is %v", n.Role())
	}
	l.fail = true
	if _, _, err := n.Propose(5000, [][]byte{[]byte("x")}); err == nil || errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("append failure: %v", err)
	}
	l.fail = false
	if _, err := n.Tick(6000); err == nil {
		t.Fatal("a failed node kept working")
	}
	if _, _, err := n.Propose(6000, [][]byte{[]byte("y")}); err == nil || l.EndOffset() != 1 {
		t.Fatalf("a failed node accepted a proposal: %v, log end %d", err, l.EndOffset())
	}
}

func TestMalformedVoteRequestsAreRefused(t *testing.T) {
	for _, req := range []VoteRequest{
		{CandidateEpoch: 2, CandidateID: 2, LastOffsetEpoch: 2, LastOffset: 5},                // a vote in its own last epoch
		{CandidateEpoch: 2, CandidateID: 2, LastOffsetEpoch: 3, LastOffset: 5, PreVote: true}, // a log ahead of its epoch
		{CandidateEpoch: 2, CandidateID: 2, LastOffsetEpoch: 1, LastOffset: -1},
	} {
		tn := newTestNode(t, 1, voters3, nil, InitialState())
		r := req
		tn.step(2, 1, &r)
		if _, resp := only[*VoteResponse](t, tn.sent, 2); resp.VoteGranted || resp.ErrorCode != ErrInvalidRequest {
			t.Errorf("%+v answered %+v", req, resp)
		}
		if tn.persisted != InitialState() {
			t.Errorf("%+v changed the state to %v", req, tn.persisted)
		}
	}
}

// TestReplacedHeldFetchIsAnswered: a replica's new fetch replaces one the leader holds for it,
// and the held one is answered then, not dropped: a connection answers in request order, so an
// unanswered request would hold back every later answer on it (a follower's fetches stalled
// behind one that was never answered, found by the three-node e2e test).
func TestReplacedHeldFetchIsAnswered(t *testing.T) {
	tn := electLeader(t, logOf())
	tn.flush()
	tn.step(2, 1, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 1, FetchOffset: 1, LastFetchedEpoch: 1, MaxEntries: 10, MaxWaitMs: 500})
	tn.step(2, 2, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 1, FetchOffset: 1, LastFetchedEpoch: 1, MaxEntries: 10, MaxWaitMs: 500})
	if len(tn.sent) != 0 {
		t.Fatalf("a fetch with nothing new was answered at once: %+v", tn.sent)
	}
	tn.step(2, 3, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 1, FetchOffset: 1, LastFetchedEpoch: 1, MaxEntries: 10, MaxWaitMs: 500})
	m, _ := only[*FetchResponse](t, tn.sent, 2)
	if m.CorrelationID != 2 {
		t.Fatalf("answered correlation %d, want the replaced fetch 2", m.CorrelationID)
	}
	tn.propose("x")
	m, resp := only[*FetchResponse](t, tn.sent, 2)
	if m.CorrelationID != 3 || len(resp.Entries) != 1 {
		t.Fatalf("the new held fetch answered as %d with %+v", m.CorrelationID, resp)
	}
}
