package quorum

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/record"
)

// Errors of Propose.
var (
	ErrNotLeader          = errors.New("quorum: not the leader")
	ErrTooManyUncommitted = errors.New("quorum: too many uncommitted entries")
	ErrProposalTooLarge   = errors.New("quorum: proposal has too many entries")
)

// ErrInvalidMessage wraps the error of a message Step dropped as malformed; the node remains
// usable. Any other error from a Node is a storage failure: the node must not be used again.
var ErrInvalidMessage = errors.New("quorum: invalid message")

// noDeadline is a timer that is not set.
const noDeadline = math.MaxInt64

// fetchState is a fetching member's (follower or observer) one outstanding fetch.
type fetchState struct {
	target        NodeID // where fetches go; NoNode when unknown
	inFlight      bool
	correlationID int32
	sentMs        int64
	nextMs        int64 // earliest time to send the next fetch
	snapshot      *snapshotFetch
}

// voteRound is a prospective's or candidate's outstanding (pre-)vote requests.
type voteRound struct {
	preVote  bool
	requests []pendingVote // outstanding, so that late answers of an earlier round are ignored
	granted  []NodeID
}

type pendingVote struct {
	to            NodeID
	correlationID int32
}

// parkedFetch is a fetch the leader holds until data or a new HW arrive, or it times out.
type parkedFetch struct {
	from          NodeID
	correlationID int32
	req           FetchRequest
	deadlineMs    int64
}

// Node is one member of the metadata quorum: a voter or an observer. It is a pure state
// machine: every input is a call, every effect is in the Ready the call returns.
type Node struct {
	cfg    Config
	log    Log
	rng    *rand.Rand
	voters []NodeID // sorted
	voter  bool

	role  Role
	state State // in memory; the driver has persisted it unless dirty
	dirty bool
	hw    record.Offset

	electionDeadlineMs int64 // voter without a leader: when to start (or restart) an election
	fetchDeadlineMs    int64 // follower: when the leader counts as gone
	leaderContactMs    int64 // follower: last successful fetch from the leader (pre-vote check)
	fetch              fetchState
	round              voteRound

	// leader only
	progress      *Progress
	views         []ReplicaView // replicas heard from in this epoch, by id (Describe)
	leaderSinceMs int64
	beginAcked    []NodeID // voters that answered BeginQuorumEpoch or fetched in this epoch
	beginResendMs int64
	parked        []parkedFetch

	nextCorrelation int32
	out             Ready
	failure         error // a storage error; the node is unusable once set
}

// fail records a storage error; every later call returns it without doing anything.
func (n *Node) fail(err error) error {
	if n.failure == nil {
		n.failure = err
	}
	return err
}

// failed is the Ready and error of any call once the node has failed.
func (n *Node) failed() (Ready, error) {
	return Ready{HighWatermark: n.hw, NextDeadlineMs: noDeadline}, n.failure
}

// result pairs a call's Ready with its error or the node's recorded failure.
func (n *Node) result(r Ready, err error) (Ready, error) {
	if err == nil {
		err = n.failure
	}
	return r, err
}

// New returns a node restarted from its persisted state (InitialState on first start) over
// its recovered log. rng is the node's own seeded PRNG; nowMs the monotonic clock. The driver
// calls Tick(nowMs) right after New to get the node's first Ready.
func New(cfg Config, l Log, persisted State, rng *rand.Rand, nowMs int64) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if persisted.Epoch < 0 {
		return nil, fmt.Errorf("quorum: persisted state %v has a negative epoch", persisted)
	}
	// Entries below the log start are in a snapshot, and snapshots hold committed entries.
	n := &Node{cfg: cfg, log: l, rng: rng, voters: slices.Clone(cfg.Voters), state: persisted, hw: l.Start().EndOffset}
	slices.Sort(n.voters)
	n.voter = slices.Contains(n.voters, cfg.ID)
	n.nextCorrelation = rng.Int32N(1 << 30)
	n.resetTimers()
	if !n.voter && persisted.VotedFor != NoNode {
		return nil, fmt.Errorf("quorum: observer %d has persisted a vote (%v)", cfg.ID, persisted)
	}
	// Kafka's restart rules: a leader resigns (its followers' progress and its HW are gone
	// with its memory), a known leader is followed, and anything else waits unattached,
	// keeping a vote already cast.
	switch {
	case persisted.LeaderID == cfg.ID && n.voter:
		n.role = RoleResigned
		n.electionDeadlineMs = nowMs + n.randomElectionTimeoutMs()
	case persisted.LeaderID != NoNode && persisted.LeaderID != cfg.ID:
		n.becomeFollower(persisted.Epoch, persisted.LeaderID, nowMs)
	default:
		n.becomeUnattached(persisted.Epoch, nowMs)
	}
	if n.voter && len(n.voters) == 1 {
		// A sole voter needs nobody's vote: it runs for leader at its first Tick rather than
		// after an election timeout, as Kafka's single-controller quorum does.
		n.electionDeadlineMs = nowMs
	}
	n.dirty = false // nothing new to persist yet
	n.out = Ready{}
	if n.fetch.inFlight {
		// That first fetch went into a Ready nobody sees: the driver's first Tick sends it.
		n.fetch.inFlight = false
		n.fetch.nextMs = nowMs
	}
	return n, nil
}

// Role is the node's current role.
func (n *Node) Role() Role { return n.role }

// State is the node's current quorum state (persisted once the last Ready was executed).
func (n *Node) State() State { return n.state }

// HighWatermark is the node's current high watermark.
func (n *Node) HighWatermark() record.Offset { return n.hw }

// IsVoter reports whether the node is a voter (else an observer).
func (n *Node) IsVoter() bool { return n.voter }

// EpochStartOffset is, on a leader, the offset of its LeaderChange entry; -1 elsewhere.
func (n *Node) EpochStartOffset() record.Offset {
	if n.role != RoleLeader {
		return -1
	}
	return n.progress.EpochStart()
}

// Step handles one message addressed to this node.
func (n *Node) Step(nowMs int64, m Message) (Ready, error) {
	if n.failure != nil {
		return n.failed()
	}
	n.out = Ready{}
	if m.To != n.cfg.ID {
		return n.finish(nowMs), fmt.Errorf("%w: to %d, delivered to %d", ErrInvalidMessage, m.To, n.cfg.ID)
	}
	var err error
	switch b := m.Body.(type) {
	case *VoteRequest:
		n.handleVoteRequest(nowMs, m, b)
	case *VoteResponse:
		n.handleVoteResponse(nowMs, m, b)
	case *BeginQuorumEpochRequest:
		n.handleBeginQuorumEpoch(nowMs, m, b)
	case *BeginQuorumEpochResponse:
		n.handleBeginQuorumEpochResponse(nowMs, m, b)
	case *EndQuorumEpochRequest:
		n.handleEndQuorumEpoch(nowMs, m, b)
	case *EndQuorumEpochResponse:
		n.maybeAdoptEpoch(nowMs, b.LeaderEpoch, b.LeaderID)
	case *FetchRequest:
		err = n.handleFetchRequest(nowMs, m, b)
	case *FetchResponse:
		err = n.handleFetchResponse(nowMs, m, b)
	case *FetchSnapshotRequest:
		err = n.handleFetchSnapshotRequest(nowMs, m, b)
	case *FetchSnapshotResponse:
		err = n.handleFetchSnapshotResponse(nowMs, m, b)
	default:
		err = fmt.Errorf("%w: body %T", ErrInvalidMessage, m.Body)
	}
	return n.result(n.finish(nowMs), err)
}

// Tick handles the deadlines that have passed by nowMs.
func (n *Node) Tick(nowMs int64) (Ready, error) {
	if n.failure != nil {
		return n.failed()
	}
	n.out = Ready{}
	err := n.tick(nowMs)
	return n.result(n.finish(nowMs), err)
}

// Flushed tells the node that a flush it asked for completed: the log's DurableOffset moved.
func (n *Node) Flushed(nowMs int64) (Ready, error) {
	if n.failure != nil {
		return n.failed()
	}
	n.out = Ready{}
	var err error
	if n.role == RoleLeader {
		n.progress.UpdateLocal(n.log.DurableOffset(), nowMs)
		err = n.maybeAdvanceHighWatermark(nowMs)
	} else {
		n.maybeSendFetch(nowMs)
	}
	return n.result(n.finish(nowMs), err)
}

// Propose appends data as one batch of entries of the leader's epoch and returns the offset of
// the first. The batch is atomic: it is committed once the high watermark passes it, and the
// high watermark never stops inside it, so no member applies part of it. More than
// ProposalEntriesMax entries are refused with ErrProposalTooLarge.
func (n *Node) Propose(nowMs int64, data [][]byte) (record.Offset, Ready, error) {
	if n.failure != nil {
		r, err := n.failed()
		return 0, r, err
	}
	n.out = Ready{}
	if n.role != RoleLeader {
		return 0, n.finish(nowMs), ErrNotLeader
	}
	if len(data) == 0 {
		return n.log.EndOffset(), n.finish(nowMs), nil
	}
	if len(data) > n.cfg.ProposalEntriesMax {
		return 0, n.finish(nowMs), fmt.Errorf("%w: %d entries, at most %d", ErrProposalTooLarge, len(data), n.cfg.ProposalEntriesMax)
	}
	if int64(n.log.EndOffset()-n.hw)+int64(len(data)) > n.cfg.UncommittedEntriesMax {
		return 0, n.finish(nowMs), ErrTooManyUncommitted
	}
	entries := make([]Entry, len(data))
	for i, d := range data {
		entries[i] = Entry{Epoch: n.state.Epoch, Data: d, MoreInBatch: i < len(data)-1, TimestampMs: record.NoTimestamp}
	}
	base := n.log.EndOffset()
	if err := n.appendOwnBatch(entries); err != nil {
		return 0, n.finish(nowMs), n.fail(fmt.Errorf("quorum: append %d proposed entries at %d: %w", len(entries), base, err))
	}
	n.out.Flush = true
	err := n.answerParked(nowMs, false)
	r, err := n.result(n.finish(nowMs), err)
	return base, r, err
}

// appendOwnBatch appends one batch the leader made and records its end: the high watermark
// moves only to such ends.
func (n *Node) appendOwnBatch(entries []Entry) error {
	base := n.log.EndOffset()
	if err := n.log.Append(entries); err != nil {
		return err
	}
	end := base + record.Offset(len(entries))
	if got := n.log.EndOffset(); got != end {
		panic(fmt.Sprintf("quorum: invariant: a batch of %d entries appended at %d ends the log at %d", len(entries), base, got))
	}
	n.progress.AppendedBatch(end)
	return nil
}

// Resign gives up leadership gracefully (before a shutdown): the voters are told with
// EndQuorumEpoch and elect a successor without waiting out their fetch timeouts.
func (n *Node) Resign(nowMs int64) Ready {
	if n.failure != nil {
		r, _ := n.failed()
		return r
	}
	n.out = Ready{}
	if n.role == RoleLeader {
		n.becomeResigned(nowMs)
	}
	return n.finish(nowMs)
}

// finish completes the Ready of one call.
func (n *Node) finish(nowMs int64) Ready {
	if n.dirty {
		s := n.state
		n.out.State = &s
		n.dirty = false
	}
	n.out.HighWatermark = n.hw
	n.out.NextDeadlineMs = n.nextDeadline(nowMs)
	n.checkInvariants()
	r := n.out
	n.out = Ready{}
	return r
}

func (n *Node) send(to NodeID, correlationID int32, body Body) {
	n.out.Messages = append(n.out.Messages, Message{From: n.cfg.ID, To: to, CorrelationID: correlationID, Body: body})
}

func (n *Node) newCorrelationID() int32 {
	n.nextCorrelation++
	if n.nextCorrelation < 0 {
		n.nextCorrelation = 0
	}
	return n.nextCorrelation
}

// knownLeader is the leader this node vouches for in its answers: itself when leading, its
// leader when following, else none (a resigned or running node knows no live leader).
func (n *Node) knownLeader() NodeID {
	if n.role == RoleLeader || n.role == RoleFollower {
		return n.state.LeaderID
	}
	return NoNode
}

func (n *Node) majority() int { return len(n.voters)/2 + 1 }

func (n *Node) isVoter(id NodeID) bool { return slices.Contains(n.voters, id) }

func (n *Node) randomElectionTimeoutMs() int64 {
	return n.cfg.ElectionTimeoutMs + n.rng.Int64N(n.cfg.ElectionTimeoutMs)
}

func (n *Node) resetTimers() {
	n.electionDeadlineMs = noDeadline
	n.fetchDeadlineMs = noDeadline
	n.leaderContactMs = math.MinInt64 / 2
	n.fetch = fetchState{target: NoNode, nextMs: noDeadline}
	n.round = voteRound{}
	n.progress = nil
	n.beginAcked = nil
	n.beginResendMs = noDeadline
	n.parked = nil
}

// setState changes the in-memory state and marks it for persisting, checking it never goes
// back.
func (n *Node) setState(s State) {
	if s.Epoch < n.state.Epoch {
		panic(fmt.Sprintf("quorum: invariant: epoch goes back from %d to %d", n.state.Epoch, s.Epoch))
	}
	if s.Epoch == n.state.Epoch && n.state.VotedFor != NoNode && s.VotedFor != n.state.VotedFor {
		panic(fmt.Sprintf("quorum: invariant: vote in epoch %d changes from %d to %d", s.Epoch, n.state.VotedFor, s.VotedFor))
	}
	if s != n.state {
		n.state = s
		n.dirty = true
	}
}

// becomeUnattached enters epoch with no leader known, keeping the vote cast in it if the epoch
// does not change.
func (n *Node) becomeUnattached(epoch record.Epoch, nowMs int64) {
	n.leaveLeadership(nowMs)
	s := State{Epoch: epoch, VotedFor: NoNode, LeaderID: NoNode}
	if epoch == n.state.Epoch {
		s.VotedFor = n.state.VotedFor
	}
	n.setState(s)
	n.role = RoleUnattached
	n.resetTimers()
	if n.voter {
		n.electionDeadlineMs = nowMs + n.randomElectionTimeoutMs()
		return
	}
	// An observer looks for the leader by fetching from the voters in turn.
	n.fetch.nextMs = nowMs
	n.maybeSendFetch(nowMs)
}

// becomeFollower follows leader in epoch.
func (n *Node) becomeFollower(epoch record.Epoch, leader NodeID, nowMs int64) {
	if leader == n.cfg.ID || leader == NoNode {
		panic(fmt.Sprintf("quorum: invariant: node %d follows leader %d", n.cfg.ID, leader))
	}
	n.leaveLeadership(nowMs)
	s := State{Epoch: epoch, VotedFor: NoNode, LeaderID: leader}
	if epoch == n.state.Epoch {
		s.VotedFor = n.state.VotedFor
	}
	n.setState(s)
	contactMs := n.leaderContactMs
	n.role = RoleFollower
	n.resetTimers()
	// Only a fetch answered or a BeginQuorumEpoch from the leader shows it alive (and makes
	// this voter refuse pre-votes); a leader named by a peer or the state file does not.
	n.leaderContactMs = contactMs
	n.fetchDeadlineMs = nowMs + n.cfg.FetchTimeoutMs
	n.fetch.target = leader
	n.fetch.nextMs = nowMs
	n.maybeSendFetch(nowMs)
}

// maybeAdoptEpoch moves to a higher epoch learned from any message (Raft's first rule): as a
// follower when its leader is named, else unattached. It reports whether it did.
func (n *Node) maybeAdoptEpoch(nowMs int64, epoch record.Epoch, leader NodeID) bool {
	if epoch <= n.state.Epoch {
		return false
	}
	if leader != NoNode && leader != n.cfg.ID {
		n.becomeFollower(epoch, leader, nowMs)
	} else {
		n.becomeUnattached(epoch, nowMs)
	}
	return true
}

// leaveLeadership answers the fetches a leader still holds before it changes role.
func (n *Node) leaveLeadership(nowMs int64) {
	if n.role != RoleLeader {
		return
	}
	for _, p := range n.parked {
		n.send(p.from, p.correlationID, &FetchResponse{
			ErrorCode: ErrNotLeaderOrFollower, HighWatermark: n.hw, DivergingEpoch: EpochEndOffset{Epoch: -1},
			CurrentLeader: LeaderAndEpoch{LeaderID: NoNode, LeaderEpoch: n.state.Epoch},
		})
	}
	n.parked = nil
}

// becomeResigned gives up leadership of the current epoch and tells the other voters.
func (n *Node) becomeResigned(nowMs int64) {
	successors := n.progress.PreferredSuccessors()
	n.leaveLeadership(nowMs)
	n.role = RoleResigned
	n.resetTimers()
	n.electionDeadlineMs = nowMs + n.randomElectionTimeoutMs()
	for _, v := range n.voters {
		if v != n.cfg.ID {
			n.send(v, n.newCorrelationID(), &EndQuorumEpochRequest{
				LeaderID: n.cfg.ID, LeaderEpoch: n.state.Epoch, PreferredSuccessors: slices.Clone(successors),
			})
		}
	}
}

// becomeLeader takes over the epoch the node won: it appends the LeaderChange control entry
// first, so that its high watermark can move past the epoch start, and announces itself.
func (n *Node) becomeLeader(nowMs int64) error {
	n.setState(State{Epoch: n.state.Epoch, VotedFor: n.state.VotedFor, LeaderID: n.cfg.ID})
	granted := slices.Clone(n.round.granted)
	n.role = RoleLeader
	n.resetTimers()
	epochStart := n.log.EndOffset()
	n.progress = NewProgress(n.cfg.ID, n.voters, n.majority(), epochStart, n.hw, nowMs)
	n.progress.bug = n.cfg.bug
	n.progress.UpdateLocal(n.log.DurableOffset(), nowMs)
	n.views = nil
	n.leaderSinceMs = nowMs
	// The LeaderChange record is a batch of its own, as Kafka's control batches are.
	entry := Entry{Epoch: n.state.Epoch, Control: true, Data: leaderChangeData(n.cfg.ID, n.voters, granted), TimestampMs: record.NoTimestamp}
	if err := n.appendOwnBatch([]Entry{entry}); err != nil {
		return n.fail(fmt.Errorf("quorum: append LeaderChange of epoch %d at %d: %w", n.state.Epoch, epochStart, err))
	}
	n.out.Flush = true
	n.beginAcked = []NodeID{n.cfg.ID}
	n.sendBeginQuorumEpoch(nowMs)
	return n.maybeAdvanceHighWatermark(nowMs)
}

func (n *Node) sendBeginQuorumEpoch(nowMs int64) {
	for _, v := range n.voters {
		if !slices.Contains(n.beginAcked, v) {
			n.send(v, n.newCorrelationID(), &BeginQuorumEpochRequest{LeaderID: n.cfg.ID, LeaderEpoch: n.state.Epoch})
		}
	}
	n.beginResendMs = noDeadline
	if len(n.beginAcked) < len(n.voters) {
		n.beginResendMs = nowMs + n.cfg.RequestTimeoutMs
	}
}

// leaderChangeData is the LeaderChange control record's value, as Kafka writes it.
func leaderChangeData(leader NodeID, voters, granting []NodeID) []byte {
	m := kmsg.NewLeaderChangeMessage()
	m.LeaderID = int32(leader)
	for _, v := range voters {
		m.Voters = append(m.Voters, kmsg.LeaderChangeMessageVoter{VoterID: int32(v)})
	}
	slices.Sort(granting)
	for _, v := range granting {
		m.GrantingVoters = append(m.GrantingVoters, kmsg.LeaderChangeMessageVoter{VoterID: int32(v)})
	}
	return m.AppendTo(nil)
}

// nextDeadline is the earliest timer the node has set.
func (n *Node) nextDeadline(nowMs int64) int64 {
	d := min(n.electionDeadlineMs, n.fetchDeadlineMs, n.beginResendMs)
	if n.fetch.target != NoNode || n.role == RoleUnattached && !n.voter {
		switch {
		case n.fetch.inFlight:
			d = min(d, n.fetch.sentMs+n.cfg.RequestTimeoutMs)
		case n.log.DurableOffset() >= n.log.EndOffset():
			d = min(d, n.fetch.nextMs)
		} // else the next fetch waits for Flushed, not for a time
	}
	if n.role == RoleLeader {
		d = min(d, n.quorumContactMs(nowMs)+n.checkQuorumWindowMs())
		for _, p := range n.parked {
			d = min(d, p.deadlineMs)
		}
	}
	return d
}

// quorumContactMs is when the leader last had a majority's fetches; the window starts at
// its election.
func (n *Node) quorumContactMs(nowMs int64) int64 {
	return max(n.progress.QuorumContact(nowMs), n.leaderSinceMs)
}

func (n *Node) checkQuorumWindowMs() int64 { return n.cfg.FetchTimeoutMs * 3 / 2 }

func (n *Node) tick(nowMs int64) error {
	switch n.role {
	case RoleLeader:
		if nowMs-n.quorumContactMs(nowMs) >= n.checkQuorumWindowMs() {
			// Check-quorum: a majority has stopped fetching; a partitioned leader steps aside
			// rather than serve stale reads and hold back an election.
			n.becomeResigned(nowMs)
			return nil
		}
		if nowMs >= n.beginResendMs {
			n.sendBeginQuorumEpoch(nowMs)
		}
		return n.answerParked(nowMs, false)
	case RoleFollower:
		if nowMs >= n.fetchDeadlineMs {
			if n.voter {
				n.becomeProspective(nowMs)
			} else {
				n.becomeUnattached(n.state.Epoch, nowMs)
			}
			return nil
		}
	case RoleUnattached, RoleProspective, RoleCandidate, RoleResigned:
		if n.voter && nowMs >= n.electionDeadlineMs {
			n.becomeProspective(nowMs)
			return nil
		}
	}
	if n.fetch.inFlight && nowMs >= n.fetch.sentMs+n.cfg.RequestTimeoutMs {
		// The fetch or its answer was lost: send it again (to another voter if looking).
		n.fetch.inFlight = false
		n.fetch.nextMs = nowMs
		if n.role == RoleUnattached {
			n.fetch.target = NoNode
		}
	}
	n.maybeSendFetch(nowMs)
	return nil
}
