package replica

import (
	"fmt"
	"slices"

	"github.com/weirdata/weir/core/record"
)

// State is a partition's committed replication state, as the metadata image (or the
// controller's answer to an AlterPartition) states it.
type State struct {
	LeaderEpoch    int32
	PartitionEpoch int32
	Replicas       []int32
	ISR            []int32
}

// Follower is the leader's view of one follower in the current leadership.
type Follower struct {
	ID int32
	// LogEndOffset is the offset of the follower's last fetch that passed the divergence
	// check: every record below it is on the follower durably and equal to the leader's. -1
	// before its first such fetch in this leadership.
	LogEndOffset record.Offset
	// LogStartOffset is the follower's log start offset as that fetch gave it (Kafka's
	// ReplicaState.logStartOffset): records below it are gone on the follower. -1 before its
	// first such fetch in this leadership (or when a fetch did not say).
	LogStartOffset record.Offset
	// BrokerEpoch is the follower's broker epoch as its last fetch gave it (KIP-903); -1
	// unknown.
	BrokerEpoch int64
	// LastCaughtUpMs is the last time the follower had every record the leader had then
	// (Kafka's lastCaughtUpTimeMs); 0 never.
	LastCaughtUpMs int64

	lastFetchMs              int64
	lastFetchLeaderEndOffset record.Offset
}

// Proposal is an ISR change for the controller (AlterPartition), based on the committed state
// at PartitionEpoch.
type Proposal struct {
	LeaderEpoch    int32
	PartitionEpoch int32
	ISR            []int32
	// BrokerEpochs are the ISR's members' broker epochs (KIP-903), read when the proposal was
	// made: each follower's from the fetch that qualified it, -1 for the leader itself (its
	// sender knows its own). A proposal sent again must not take a later epoch: a follower that
	// restarted empty meanwhile would be admitted on its earlier incarnation's progress.
	BrokerEpochs []int64
}

// Leader is the leader's bookkeeping of one partition at one leader epoch: the followers'
// progress, the ISR, the high watermark and the ISR change in flight. A new leader epoch is a
// new Leader.
type Leader struct {
	self         int32
	lagTimeMaxMs int64
	state        State
	epochStart   record.Offset
	hw           record.Offset
	followers    []Follower
	pending      *Proposal
}

// NewLeader starts the leadership of broker self at st.LeaderEpoch over a log whose end offset
// is logEnd (the epoch's start offset) and whose high watermark, as this broker knew it as a
// follower, is hw. ISR members count as caught up now, so they are not dropped before they had
// a chance to fetch (Kafka's makeLeader).
func NewLeader(self int32, st State, logEnd, hw record.Offset, nowMs, lagTimeMaxMs int64) *Leader {
	l := &Leader{self: self, lagTimeMaxMs: lagTimeMaxMs, epochStart: logEnd, hw: min(hw, logEnd)}
	l.setState(st, nowMs)
	return l
}

// setState takes a newer committed state: followers of new replicas start unknown, followers
// of removed replicas are forgotten.
func (l *Leader) setState(st State, nowMs int64) {
	st.Replicas, st.ISR = slices.Clone(st.Replicas), slices.Clone(st.ISR)
	kept := make([]Follower, 0, len(st.Replicas))
	for _, id := range st.Replicas {
		if id == l.self {
			continue
		}
		if i := l.followerIndex(id); i >= 0 {
			kept = append(kept, l.followers[i])
			continue
		}
		f := Follower{ID: id, LogEndOffset: -1, LogStartOffset: -1, BrokerEpoch: -1, lastFetchLeaderEndOffset: -1}
		if slices.Contains(st.ISR, id) {
			f.LastCaughtUpMs = nowMs
		}
		kept = append(kept, f)
	}
	l.state, l.followers = st, kept
}

func (l *Leader) followerIndex(id int32) int {
	for i := range l.followers {
		if l.followers[i].ID == id {
			return i
		}
	}
	return -1
}

// Update applies a committed state of the same leader epoch (from the image, or the
// controller's answer to this leader's AlterPartition). A state no newer than the one held is
// ignored; a newer one ends the pending proposal, whatever became of it. It reports whether
// the state changed.
func (l *Leader) Update(st State, nowMs int64) bool {
	if st.LeaderEpoch != l.state.LeaderEpoch {
		panic(fmt.Sprintf("replica: invariant: a leader at epoch %d given the state of epoch %d", l.state.LeaderEpoch, st.LeaderEpoch))
	}
	if st.PartitionEpoch <= l.state.PartitionEpoch {
		return false
	}
	l.setState(st, nowMs)
	l.pending = nil
	return true
}

// State is the committed state the leader holds.
func (l *Leader) State() State { return l.state }

// EpochStart is the leader epoch's start offset: the log end when the leadership began.
func (l *Leader) EpochStart() record.Offset { return l.epochStart }

// HighWatermark is the high watermark; it never goes back within a leadership.
func (l *Leader) HighWatermark() record.Offset { return l.hw }

// Established reports whether the high watermark reached the epoch start: before, it may be
// below one an earlier leader showed, and must not be shown (KIP-207's OFFSET_NOT_AVAILABLE).
func (l *Leader) Established() bool { return l.hw >= l.epochStart }

// Followers returns the followers' progress, in replica order.
func (l *Leader) Followers() []Follower { return slices.Clone(l.followers) }

// Follower returns one follower's progress.
func (l *Leader) Follower(id int32) (Follower, bool) {
	if i := l.followerIndex(id); i >= 0 {
		return l.followers[i], true
	}
	return Follower{}, false
}

// IsReplica reports whether id is a replica of the partition.
func (l *Leader) IsReplica(id int32) bool { return slices.Contains(l.state.Replicas, id) }

// ISR is the committed ISR.
func (l *Leader) ISR() []int32 { return slices.Clone(l.state.ISR) }

// MaximalISR is the committed ISR plus the members a pending expansion adds: while a change
// is in flight the high watermark waits for everyone who may be in the ISR (KIP-497).
func (l *Leader) MaximalISR() []int32 {
	isr := slices.Clone(l.state.ISR)
	if l.pending != nil {
		for _, id := range l.pending.ISR {
			if !slices.Contains(isr, id) {
				isr = append(isr, id)
			}
		}
	}
	return isr
}

// Pending is the ISR change in flight; nil when none.
func (l *Leader) Pending() *Proposal { return l.pending }

// ClearPending forgets the change in flight after the controller refused it; the next
// ISRChange may propose again.
func (l *Leader) ClearPending() { l.pending = nil }

// FollowerFetched records a follower's fetch at fetchOffset that passed the divergence check,
// with the follower's log start logStart as the fetch gave it, made when the leader's log
// ended at leaderEnd (Kafka's Replica.updateFetchStateOrThrow): the follower caught up now if
// it reached leaderEnd, or at its previous fetch if it reached what the leader had then.
// False when id is not a follower of this partition.
func (l *Leader) FollowerFetched(id int32, brokerEpoch int64, fetchOffset, logStart, leaderEnd record.Offset, nowMs int64) bool {
	i := l.followerIndex(id)
	if i < 0 {
		return false
	}
	f := &l.followers[i]
	switch {
	case fetchOffset >= leaderEnd:
		f.LastCaughtUpMs = max(f.LastCaughtUpMs, nowMs)
	case f.lastFetchLeaderEndOffset >= 0 && fetchOffset >= f.lastFetchLeaderEndOffset:
		f.LastCaughtUpMs = max(f.LastCaughtUpMs, f.lastFetchMs)
	}
	f.LogEndOffset, f.LogStartOffset, f.BrokerEpoch = fetchOffset, logStart, brokerEpoch
	f.lastFetchMs, f.lastFetchLeaderEndOffset = nowMs, leaderEnd
	return true
}

// LogCut records that the leader's log now ends at end: its own damaged records from there
// were cut (they failed their checks on disk). Records below the high watermark never go (it
// never goes back within a leadership). The caller decides whether records below the epoch
// start may go (an earlier leader may have shown them committed): when they do, the epoch
// starts at end. Followers' progress past end is forgotten down to end: what they hold there
// is no longer the leader's, and their next fetch finds them diverged.
func (l *Leader) LogCut(end record.Offset) {
	if end < l.hw {
		panic(fmt.Sprintf("replica: invariant: a leader's log cut to %d below its high watermark %d", end, l.hw))
	}
	l.epochStart = min(l.epochStart, end)
	for i := range l.followers {
		f := &l.followers[i]
		f.LogEndOffset = min(f.LogEndOffset, end)
		f.lastFetchLeaderEndOffset = min(f.lastFetchLeaderEndOffset, end)
	}
}

// AdvanceHighWatermark moves the high watermark to the minimum of leaderDurable (what the
// leader has durably) and the followers' fetch offsets over the maximal ISR, once that
// minimum reaches the epoch start: records of earlier epochs are committed only together with
// the new leader's (as Raft commits them), so a new leader's high watermark jumps from what it
// knew as a follower straight past everything earlier leaders showed. A member of the maximal
// ISR that has not fetched yet in this leadership holds it. While the committed ISR has fewer
// than minISR members it does not move at all (KIP-966's strict min ISR: a replica leaving an
// ISR that small joins the eligible leader replicas, which must hold everything committed);
// minISR 0 turns that off. It reports whether it moved.
func (l *Leader) AdvanceHighWatermark(leaderDurable record.Offset, minISR int) bool {
	if len(l.state.ISR) < minISR {
		return false
	}
	candidate := leaderDurable
	for _, id := range l.MaximalISR() {
		if id == l.self {
			continue
		}
		i := l.followerIndex(id)
		if i < 0 {
			panic(fmt.Sprintf("replica: invariant: ISR member %d is not a replica %v", id, l.state.Replicas))
		}
		candidate = min(candidate, l.followers[i].LogEndOffset)
	}
	if candidate < l.epochStart || candidate <= l.hw {
		return false
	}
	l.hw = candidate
	return true
}

// LowWatermark is the partition's low watermark (Kafka's Partition.lowWatermarkIfLeader): the
// least log start offset over the leader's own (leaderStart) and the followers whose brokers
// are alive (registered and unfenced in the metadata); a follower that has not reported one
// in this leadership counts as -1. A DeleteRecords is done once it reaches the offset asked
// for: no live replica keeps records below it. A dead broker's follower does not hold it back
// (Kafka's choice: it catches up on the log start when it fetches again).
func (l *Leader) LowWatermark(leaderStart record.Offset, alive func(id int32) bool) record.Offset {
	lw := leaderStart
	for i := range l.followers {
		if f := &l.followers[i]; f.LogStartOffset < lw && alive(f.ID) {
			lw = f.LogStartOffset
		}
	}
	return lw
}

// inSync is Kafka's Replica.isCaughtUp: at the leader's end, or caught up within the lag.
func (l *Leader) inSync(f *Follower, leaderEnd record.Offset, nowMs int64) bool {
	return f.LogEndOffset == leaderEnd || nowMs-f.LastCaughtUpMs <= l.lagTimeMaxMs
}

// Eligibility says whether the controller would take broker id into an ISR now: registered,
// unfenced, not shutting down, at the broker epoch the follower fetched with (KIP-841,
// KIP-903).
type Eligibility func(id int32, brokerEpoch int64) bool

// ProposeISRChange returns the next ISR change and holds it as pending (the caller sends it
// as an AlterPartition), or nil when none is due or one is in flight. Followers of the ISR
// not caught up within replica.lag.time.max.ms leave it; followers that reached both the high
// watermark and the epoch start (KAFKA-7128: the high watermark alone may lag) join it when
// eligible. A shrink goes first; an expansion waits for it.
func (l *Leader) ProposeISRChange(leaderEnd record.Offset, nowMs int64, eligible Eligibility) *Proposal {
	if l.pending != nil {
		return nil
	}
	isr := slices.Clone(l.state.ISR)
	shrunk := slices.DeleteFunc(slices.Clone(isr), func(id int32) bool {
		if id == l.self {
			return false
		}
		i := l.followerIndex(id)
		return i < 0 || !l.inSync(&l.followers[i], leaderEnd, nowMs)
	})
	if len(shrunk) < len(isr) {
		l.pending = l.proposal(shrunk)
		return l.pending
	}
	expanded := isr
	for i := range l.followers {
		f := &l.followers[i]
		if slices.Contains(isr, f.ID) || f.LogEndOffset < 0 {
			continue
		}
		if f.LogEndOffset >= l.hw && f.LogEndOffset >= l.epochStart && eligible(f.ID, f.BrokerEpoch) {
			expanded = append(expanded, f.ID)
		}
	}
	if len(expanded) == len(isr) {
		return nil
	}
	l.pending = l.proposal(expanded)
	return l.pending
}

// proposal is a Proposal of isr at the current epochs, with its members' broker epochs now.
func (l *Leader) proposal(isr []int32) *Proposal {
	p := &Proposal{LeaderEpoch: l.state.LeaderEpoch, PartitionEpoch: l.state.PartitionEpoch, ISR: isr, BrokerEpochs: make([]int64, len(isr))}
	for i, id := range isr {
		p.BrokerEpochs[i] = -1
		if j := l.followerIndex(id); id != l.self && j >= 0 {
			p.BrokerEpochs[i] = l.followers[j].BrokerEpoch
		}
	}
	return p
}
