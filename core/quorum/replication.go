package quorum

import (
	"fmt"
	"slices"

	"github.com/weirdata/weir/core/record"
)

// This file is the pull-replication core shared by the metadata quorum and (issue 6)
// partition replication: the leader checks a follower's fetch position against its epoch
// cache, the follower truncates where the leader says its log diverged, and the leader derives
// the high watermark from the offsets the counted replicas have fetched from.

// FetchCheck is what a leader's log says of a fetch position.
type FetchCheck uint8

const (
	// FetchValid: the follower's log matches the leader's below the fetch offset.
	FetchValid FetchCheck = iota
	// FetchDiverging: the follower must truncate (TruncationOffset) and fetch again.
	FetchDiverging
	// FetchSnapshot: the position is below the leader's log start; the follower must fetch
	// the leader's latest snapshot.
	FetchSnapshot
)

// ValidateFetch checks a fetch position against the leader's log, as Kafka's
// ReplicatedLog.validateOffsetAndEpoch. A position below the log start (or at it with another
// epoch, or with an epoch older than the log start's) needs the latest snapshot, returned as
// the EpochEndOffset. Otherwise the position is valid when the leader's log holds
// lastFetchedEpoch and that epoch ends at or after fetchOffset; if not, the follower diverged
// and the EpochEndOffset is the diverging epoch and its end offset in the leader's log.
func ValidateFetch(l Log, fetchOffset record.Offset, lastFetchedEpoch record.Epoch) (FetchCheck, EpochEndOffset) {
	start := l.Start()
	if start.EndOffset == 0 && fetchOffset == 0 {
		return FetchValid, EpochEndOffset{}
	}
	if start.EndOffset > 0 && (fetchOffset < start.EndOffset ||
		fetchOffset == start.EndOffset && lastFetchedEpoch != start.Epoch ||
		lastFetchedEpoch < start.Epoch) {
		id, ok := l.LatestSnapshot()
		if !ok {
			panic("quorum: invariant: a log starts above 0 without a snapshot")
		}
		return FetchSnapshot, id
	}
	epoch, end := l.EndOffsetForEpoch(lastFetchedEpoch)
	if epoch == UndefinedEpoch {
		// The leader holds no epoch at or below the follower's: all of it diverges.
		return FetchDiverging, EpochEndOffset{Epoch: 0, EndOffset: 0}
	}
	if epoch != lastFetchedEpoch || end < fetchOffset {
		return FetchDiverging, EpochEndOffset{Epoch: epoch, EndOffset: end}
	}
	return FetchValid, EpochEndOffset{}
}

// TruncationOffset is where a follower truncates on a diverging epoch from its leader, as
// Kafka's truncateToEndOffset: the smaller of the two ends of that epoch when the follower
// holds it, else where the follower's last epoch below it ends.
func TruncationOffset(l Log, diverging EpochEndOffset) record.Offset {
	if diverging.Epoch == 0 {
		return max(min(diverging.EndOffset, l.EndOffset()), l.Start().EndOffset)
	}
	epoch, end := l.EndOffsetForEpoch(diverging.Epoch)
	switch {
	case epoch == UndefinedEpoch:
		return l.Start().EndOffset // nothing in common above the log start
	case epoch == diverging.Epoch:
		return min(end, diverging.EndOffset)
	default:
		return end
	}
}

// replicaProgress is what the leader knows of one counted replica.
type replicaProgress struct {
	id          NodeID
	fetchOffset record.Offset // everything below is in its log and flushed
	lastFetchMs int64         // when it last fetched in this epoch; -1 never
}

// Progress tracks, on a leader, the offsets its counted replicas (the voters, or an ISR) have
// fetched from, and the high watermark they make: the largest offset that quorumSize of them
// (the leader by its durable end) have reached, rounded down to the end of a batch the leader
// appended (AppendedBatch), moved only forward and only past the start of the leader's epoch.
// Replicas that are not counted (observers) are never passed in.
//
// Rounding makes batches atomic: a leader's durable offset may lie inside a batch (a partial
// writeback), and a majority offset with it; committing there would commit half a batch.
// Rounding the majority offset down is the same as rounding each replica's offset down first
// (the quorumSize-th largest of monotonely mapped offsets), so the leader is counted only for
// the whole batches it holds durably.
type Progress struct {
	self       NodeID
	quorumSize int
	epochStart record.Offset
	hw         record.Offset
	replicas   []replicaProgress // sorted by id, self included
	// batchEnds are the ends of the batches the leader appended above hw, ascending: at most
	// its uncommitted entries (each batch holds one or more), which Propose bounds.
	batchEnds  []record.Offset
	bug        bug
	offsetsBuf []record.Offset
	timesBuf   []int64
}

// NewProgress starts tracking for a leader whose epoch starts at epochStart (the offset of its
// first entry in the epoch) and whose high watermark is hw. counted must include self.
func NewProgress(self NodeID, counted []NodeID, quorumSize int, epochStart, hw record.Offset, nowMs int64) *Progress {
	if !slices.Contains(counted, self) || quorumSize < 1 || quorumSize > len(counted) {
		panic("quorum: invariant: progress needs the leader among the counted replicas and a quorum of them")
	}
	p := &Progress{self: self, quorumSize: quorumSize, epochStart: epochStart, hw: hw}
	for _, id := range counted {
		rp := replicaProgress{id: id, fetchOffset: 0, lastFetchMs: -1}
		if id == self {
			rp.lastFetchMs = nowMs
		}
		p.replicas = append(p.replicas, rp)
	}
	slices.SortFunc(p.replicas, func(a, b replicaProgress) int { return int(a.id) - int(b.id) })
	p.offsetsBuf = make([]record.Offset, len(p.replicas))
	p.timesBuf = make([]int64, len(p.replicas))
	return p
}

// HighWatermark is the current high watermark.
func (p *Progress) HighWatermark() record.Offset { return p.hw }

// EpochStart is the offset of the leader's first entry in its epoch.
func (p *Progress) EpochStart() record.Offset { return p.epochStart }

func (p *Progress) find(id NodeID) int {
	for i := range p.replicas {
		if p.replicas[i].id == id {
			return i
		}
	}
	return -1
}

// UpdateReplica records a valid fetch from a counted replica; false if id is not counted.
// The offset may go down (a replica that truncated a diverged, uncommitted suffix).
func (p *Progress) UpdateReplica(id NodeID, fetchOffset record.Offset, nowMs int64) bool {
	i := p.find(id)
	if i < 0 || id == p.self {
		return false
	}
	p.replicas[i].fetchOffset = fetchOffset
	p.replicas[i].lastFetchMs = nowMs
	return true
}

// Contact records that a counted replica was heard from (a fetch that diverged), for the
// leader's check of its quorum.
func (p *Progress) Contact(id NodeID, nowMs int64) {
	if i := p.find(id); i >= 0 && id != p.self {
		p.replicas[i].lastFetchMs = nowMs
	}
}

// UpdateLocal records the leader's own durable end offset.
func (p *Progress) UpdateLocal(durableOffset record.Offset, nowMs int64) {
	i := p.find(p.self)
	p.replicas[i].fetchOffset = durableOffset
	p.replicas[i].lastFetchMs = nowMs
}

// FetchOffset is what the leader knows of a counted replica's fetch offset; false if unknown.
func (p *Progress) FetchOffset(id NodeID) (record.Offset, bool) {
	i := p.find(id)
	if i < 0 || p.replicas[i].lastFetchMs < 0 {
		return 0, false
	}
	return p.replicas[i].fetchOffset, true
}

// AppendedBatch records that the leader appended a batch ending at end (its last offset + 1).
// Batches are recorded in order; the high watermark moves only to their ends.
func (p *Progress) AppendedBatch(end record.Offset) {
	if n := len(p.batchEnds); n > 0 && end <= p.batchEnds[n-1] || end <= p.epochStart {
		panic(fmt.Sprintf("quorum: invariant: batch end %d recorded after %v (epoch start %d)", end, p.batchEnds, p.epochStart))
	}
	p.batchEnds = append(p.batchEnds, end)
}

// floorBatchEnd is the largest recorded batch end at or below o; hw when there is none.
func (p *Progress) floorBatchEnd(o record.Offset) record.Offset {
	i, found := slices.BinarySearch(p.batchEnds, o)
	if found {
		return o
	}
	if i == 0 {
		return p.hw
	}
	return p.batchEnds[i-1]
}

// MaybeAdvance recomputes the high watermark and reports whether it moved.
func (p *Progress) MaybeAdvance() bool {
	offsets := p.offsetsBuf[:0]
	for _, r := range p.replicas {
		offsets = append(offsets, r.fetchOffset)
	}
	slices.SortFunc(offsets, func(a, b record.Offset) int { return cmpOffset(b, a) })
	index := p.quorumSize - 1
	if p.bug == bugMinorityHighWatermark {
		index = 0 // planted: the most advanced replica alone commits
	}
	candidate := offsets[index]
	// An entry of an earlier epoch is committed only by an entry of this epoch above it (the
	// LeaderChange record at epochStart): counting replicas of an old entry proves nothing.
	switch {
	case candidate <= p.epochStart:
		if p.bug != bugCommitEarlierEpoch {
			return false
		}
		// planted: commits an earlier epoch's entries (as they are, no rounding)
	case p.bug != bugHighWatermarkInsideBatch:
		candidate = p.floorBatchEnd(candidate)
	}
	if candidate <= p.hw {
		return false
	}
	p.hw = candidate
	k := 0
	for k < len(p.batchEnds) && p.batchEnds[k] <= candidate {
		k++
	}
	p.batchEnds = slices.Delete(p.batchEnds, 0, k)
	return true
}

// QuorumContact is the latest time by which quorumSize counted replicas (the leader always
// among them) have fetched: the leader has heard from a quorum since then.
func (p *Progress) QuorumContact(nowMs int64) int64 {
	times := p.timesBuf[:0]
	for _, r := range p.replicas {
		if r.id == p.self {
			times = append(times, nowMs)
			continue
		}
		times = append(times, r.lastFetchMs)
	}
	slices.SortFunc(times, func(a, b int64) int { return cmpInt64(b, a) })
	p.timesBuf = times
	return times[p.quorumSize-1]
}

// PreferredSuccessors lists the other counted replicas, most caught up first (ties by id): the
// order a resigning leader recommends them in (EndQuorumEpoch).
func (p *Progress) PreferredSuccessors() []NodeID {
	others := make([]replicaProgress, 0, len(p.replicas))
	for _, r := range p.replicas {
		if r.id != p.self {
			others = append(others, r)
		}
	}
	slices.SortStableFunc(others, func(a, b replicaProgress) int { return cmpOffset(b.fetchOffset, a.fetchOffset) })
	ids := make([]NodeID, len(others))
	for i, r := range others {
		ids[i] = r.id
	}
	return ids
}

func cmpOffset(a, b record.Offset) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
