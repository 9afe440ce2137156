package quorum

import (
	"fmt"
	"slices"

	"github.com/weirdata/weir/core/record"
)

// becomePrevote starts a pre-vote round (KIP-996) in the current epoch: no epoch bump and no
// vote recorded, so a voter that cannot win (a stale log, or a partition the others do not
// share) disturbs nobody.
func (n *Node) becomeProspective(nowMs int64) {
	if !n.voter {
		panic("quorum: invariant: an observer starts an election")
	}
	n.leaveLeadership(nowMs)
	// A prospective keeps the epoch's leader, if any, so that it can go back to following it.
	n.role = RoleProspective
	n.resetTimers()
	n.electionDeadlineMs = nowMs + n.randomElectionTimeoutMs()
	n.startRound(nowMs, true)
}

// becomeCandidate bumps the epoch and votes for itself; the State in the Ready is durable
// before its vote requests are sent.
func (n *Node) becomeCandidate(nowMs int64) {
	n.setState(State{Epoch: n.state.Epoch + 1, VotedFor: n.cfg.ID, LeaderID: NoNode})
	n.role = RoleCandidate
	n.resetTimers()
	n.electionDeadlineMs = nowMs + n.randomElectionTimeoutMs()
	n.startRound(nowMs, false)
}

// startRound asks every other voter for a (pre-)vote; with a single voter it wins at once.
func (n *Node) startRound(nowMs int64, preVote bool) {
	n.round = voteRound{preVote: preVote, granted: []NodeID{n.cfg.ID}}
	req := VoteRequest{
		CandidateEpoch: n.state.Epoch, CandidateID: n.cfg.ID,
		LastOffsetEpoch: n.log.LastEpoch(), LastOffset: n.log.EndOffset(), PreVote: preVote,
	}
	for _, v := range n.voters {
		if v == n.cfg.ID {
			continue
		}
		id := n.newCorrelationID()
		n.round.requests = append(n.round.requests, pendingVote{to: v, correlationID: id})
		r := req
		n.send(v, id, &r)
	}
	n.maybeWinRound(nowMs)
}

func (n *Node) maybeWinRound(nowMs int64) {
	if len(n.round.granted) < n.majority() {
		return
	}
	if n.round.preVote {
		n.becomeCandidate(nowMs)
		return
	}
	// A storage error appending the LeaderChange is recorded by becomeLeader: the call that
	// got here returns it, and the node is unusable.
	_ = n.becomeLeader(nowMs)
}

func (n *Node) handleVoteRequest(nowMs int64, m Message, req *VoteRequest) {
	reply := func(granted bool, code int16) {
		if granted && !n.voter {
			panic("quorum: invariant: an observer grants a vote")
		}
		n.send(m.From, m.CorrelationID, &VoteResponse{
			ErrorCode: code, LeaderID: n.liveLeader(nowMs), LeaderEpoch: n.state.Epoch, VoteGranted: granted,
		})
	}
	if !n.voter || !n.isVoter(req.CandidateID) || req.CandidateID != m.From {
		reply(false, ErrInconsistentVoterSet)
		return
	}
	// A candidate's log ends in an earlier epoch than the one it runs in; a prospective's, in
	// its own epoch at the latest (Kafka's check).
	if req.LastOffset < 0 || req.LastOffsetEpoch < 0 || req.LastOffsetEpoch > req.CandidateEpoch ||
		!req.PreVote && req.LastOffsetEpoch == req.CandidateEpoch {
		reply(false, ErrInvalidRequest)
		return
	}
	logOK := upToDate(n.log, req.LastOffsetEpoch, req.LastOffset)
	if req.CandidateEpoch < n.state.Epoch {
		reply(false, ErrFencedLeaderEpoch)
		return
	}
	// A pre-vote carries the prospective's current epoch, a vote the epoch it runs in: either
	// way a later epoch is adopted (a node whose epoch moved ahead alone would otherwise never
	// rejoin a leader that cannot hear it).
	n.maybeAdoptEpoch(nowMs, req.CandidateEpoch, NoNode)
	if req.PreVote {
		// A pre-vote records nothing. It is granted to a log at least as up to date by a voter
		// that has not heard from a leader within the fetch timeout (one that has would refuse
		// to follow a new leader anyway).
		reply(logOK && n.liveLeader(nowMs) == NoNode, ErrNone)
		return
	}
	switch {
	case n.state.VotedFor == req.CandidateID:
		reply(true, ErrNone) // the same vote again (a retry)
	case n.state.VotedFor != NoNode, n.state.LeaderID != NoNode:
		reply(false, ErrNone)
	case !logOK:
		reply(false, ErrNone)
	default:
		n.grantVote(nowMs, req.CandidateID)
		reply(true, ErrNone)
	}
}

// grantVote records the vote; the Ready carries the state, durable before the reply is sent.
func (n *Node) grantVote(nowMs int64, candidate NodeID) {
	dirty := n.dirty
	n.setState(State{Epoch: n.state.Epoch, VotedFor: candidate, LeaderID: NoNode})
	if n.cfg.bug == bugVoteBeforePersist {
		n.dirty = dirty // planted: the reply goes out without the vote being persisted
	}
	n.role = RoleUnattached
	n.resetTimers()
	n.electionDeadlineMs = nowMs + n.randomElectionTimeoutMs()
}

// liveLeader is the leader this node has heard from within the fetch timeout (itself when
// leading), else NoNode. A vote response names only such a leader: a prospective told of one
// goes back to following it, and a leader that no one hears from must not stop elections.
func (n *Node) liveLeader(nowMs int64) NodeID {
	switch {
	case n.role == RoleLeader:
		return n.cfg.ID
	case n.role == RoleFollower && nowMs-n.leaderContactMs < n.cfg.FetchTimeoutMs:
		return n.state.LeaderID
	}
	return NoNode
}

func (n *Node) handleVoteResponse(nowMs int64, m Message, resp *VoteResponse) {
	if n.maybeAdoptEpoch(nowMs, resp.LeaderEpoch, resp.LeaderID) {
		return
	}
	if n.role != RoleProspective && n.role != RoleCandidate {
		return
	}
	i := slices.IndexFunc(n.round.requests, func(p pendingVote) bool {
		return p.to == m.From && p.correlationID == m.CorrelationID
	})
	if i < 0 {
		return // an answer to an earlier round
	}
	n.round.requests = slices.Delete(n.round.requests, i, i+1)
	if n.role == RoleProspective && resp.LeaderEpoch == n.state.Epoch && resp.LeaderID != NoNode && resp.LeaderID != n.cfg.ID {
		// The epoch's leader is alive for others: follow it again rather than run.
		n.becomeFollower(n.state.Epoch, resp.LeaderID, nowMs)
		return
	}
	if resp.VoteGranted && resp.LeaderEpoch == n.state.Epoch {
		n.round.granted = append(n.round.granted, m.From)
		n.maybeWinRound(nowMs)
	}
	// A rejection changes nothing: the round ends at the election timeout.
}

func (n *Node) handleBeginQuorumEpoch(nowMs int64, m Message, req *BeginQuorumEpochRequest) {
	reply := func(code int16) {
		n.send(m.From, m.CorrelationID, &BeginQuorumEpochResponse{ErrorCode: code, LeaderID: n.knownLeader(), LeaderEpoch: n.state.Epoch})
	}
	if code := n.checkLeaderAnnouncement(m.From, req.LeaderID, req.LeaderEpoch); code != ErrNone {
		reply(code)
		return
	}
	n.followAnnouncedLeader(nowMs, req.LeaderEpoch, req.LeaderID)
	reply(ErrNone)
}

// checkLeaderAnnouncement is the error code for a BeginQuorumEpoch or EndQuorumEpoch that a
// leader sent about itself: it must come from that leader, a voter, in an epoch not older than
// the node's; ErrNone when it may be acted on.
func (n *Node) checkLeaderAnnouncement(from, leader NodeID, epoch record.Epoch) int16 {
	switch {
	case leader != from || !n.isVoter(leader):
		return ErrInconsistentVoterSet
	case epoch < n.state.Epoch:
		return ErrFencedLeaderEpoch
	}
	return ErrNone
}

// followAnnouncedLeader follows leader, which has shown it leads epoch (≥ the node's).
func (n *Node) followAnnouncedLeader(nowMs int64, epoch record.Epoch, leader NodeID) {
	if epoch == n.state.Epoch && n.state.LeaderID != NoNode && n.state.LeaderID != leader {
		panic(fmt.Sprintf("quorum: invariant: two leaders in epoch %d: %d and %d", epoch, n.state.LeaderID, leader))
	}
	if epoch != n.state.Epoch || n.role != RoleFollower {
		n.becomeFollower(epoch, leader, nowMs)
	}
	n.leaderContactMs = nowMs
	n.fetchDeadlineMs = max(n.fetchDeadlineMs, nowMs+n.cfg.FetchTimeoutMs)
}

func (n *Node) handleBeginQuorumEpochResponse(nowMs int64, m Message, resp *BeginQuorumEpochResponse) {
	if n.maybeAdoptEpoch(nowMs, resp.LeaderEpoch, resp.LeaderID) {
		return
	}
	if n.role == RoleLeader && resp.ErrorCode == ErrNone && resp.LeaderEpoch == n.state.Epoch && !slices.Contains(n.beginAcked, m.From) && n.isVoter(m.From) {
		n.beginAcked = append(n.beginAcked, m.From)
	}
}

func (n *Node) handleEndQuorumEpoch(nowMs int64, m Message, req *EndQuorumEpochRequest) {
	reply := func(code int16) {
		n.send(m.From, m.CorrelationID, &EndQuorumEpochResponse{ErrorCode: code, LeaderID: n.knownLeader(), LeaderEpoch: n.state.Epoch})
	}
	if code := n.checkLeaderAnnouncement(m.From, req.LeaderID, req.LeaderEpoch); code != ErrNone {
		reply(code)
		return
	}
	n.maybeAdoptEpoch(nowMs, req.LeaderEpoch, NoNode)
	if n.voter && (n.role == RoleFollower && n.state.LeaderID == req.LeaderID || n.role == RoleUnattached) {
		// The leader is gone: the most caught-up successor runs at once, the others after a
		// backoff growing with their place, so the likely winner asks first (Kafka's
		// strictExponentialElectionBackoffMs).
		backoff := n.successorBackoffMs(slices.Index(req.PreferredSuccessors, n.cfg.ID), len(req.PreferredSuccessors))
		n.leaderContactMs = nowMs - n.cfg.FetchTimeoutMs // pre-votes may be granted now
		if n.role == RoleFollower {
			n.fetchDeadlineMs = min(n.fetchDeadlineMs, nowMs+backoff)
		} else {
			n.electionDeadlineMs = min(n.electionDeadlineMs, nowMs+backoff)
		}
	}
	reply(ErrNone)
}

func (n *Node) successorBackoffMs(position, count int) int64 {
	switch {
	case position == 0:
		return 0
	case position < 0 || position >= count:
		return n.cfg.ElectionBackoffMaxMs
	}
	backoff := n.cfg.RetryBackoffMs << min(position-1, 30)
	return min(backoff, n.cfg.ElectionBackoffMaxMs)
}
