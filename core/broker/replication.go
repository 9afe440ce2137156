package broker

import (
	"fmt"
	"slices"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/replica"
	"github.com/weirdata/weir/core/storage"
)

// Replication (DESIGN §5): every partition this broker holds a replica of has a
// partitionReplica, following the committed image. As leader it keeps a replica.Leader (the
// followers' progress, the ISR, the high watermark) and proposes ISR changes to the controller
// (alter_partition.go); as follower it fetches from the leader (replica_fetcher.go), syncing
// what it appended before fetching on, so that its fetch offset tells the leader what it has
// durably.

// partitionReplica is this broker's part in one partition.
type partitionReplica struct {
	tp      storage.TopicPartition
	topicID metadata.UUID
	// part is the image's state of the partition that roles were last set from.
	part *metadata.Partition
	// leader is the leadership's bookkeeping while this broker leads at part.LeaderEpoch.
	leader *replica.Leader
	// followerHW is the high watermark as a follower last learned it from its leader (never
	// above its log end); it seeds the high watermark of a leadership taken over.
	followerHW record.Offset
	// fetchRetryMs holds a follower's fetches of this partition back after a partition error.
	fetchRetryMs int64
	// alterRetryMs holds a leader's next ISR proposal back after the controller refused one.
	alterRetryMs int64
	// fetchCaughtUp is whether a follower's last answer from its leader (at leader epoch
	// fetchCaughtUpEpoch) brought it up to the leader's high watermark: then the follower
	// throttle leaves it alone (replication_quota.go).
	fetchCaughtUp      bool
	fetchCaughtUpEpoch int32
	// damageWarned: the leader warned of damage at damageWarnedAt it could not cut (below
	// its high watermark); every fetch reaching it finds it again, so it is said once.
	damageWarned   bool
	damageWarnedAt record.Offset
}

// following reports whether this broker fetches the partition from another broker.
func (r *partitionReplica) following(self int32) bool {
	return r.leader == nil && r.part.Leader >= 0 && r.part.Leader != self
}

func stateOf(p *metadata.Partition) replica.State {
	return replica.State{LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, Replicas: p.Replicas, ISR: p.ISR}
}

// updateReplicas sets the roles of topic t's partitions held here from the image.
func (n *Node) updateReplicas(t *metadata.Topic) {
	self := n.cfg.Broker.NodeID
	for _, p := range t.Partitions() {
		tp := storage.TopicPartition{Topic: t.Name, Partition: p.ID}
		l, ok := n.logs.GetLog(tp)
		if !ok || !slices.Contains(p.Replicas, self) {
			continue
		}
		r := n.replicaStates[tp]
		if r == nil {
			r = &partitionReplica{tp: tp, topicID: t.ID, followerHW: l.StartOffset()}
			n.replicaStates[tp] = r
		}
		if r.part == p {
			continue
		}
		prev := r.part
		r.part, r.topicID = p, t.ID
		n.setRole(r, l)
		if n.cfg.Buggify.Planted(buggify.BugTruncateToHW) && prev != nil && prev.LeaderEpoch != p.LeaderEpoch && r.following(self) {
			n.truncateReplica(r, l, max(r.followerHW, l.StartOffset())) // planted bug: Kafka before KIP-101
		}
	}
}

// setRole makes this broker leader or follower of r as r.part says.
func (n *Node) setRole(r *partitionReplica, l *log.Log) {
	self := n.cfg.Broker.NodeID
	p := r.part
	if p.Leader == self {
		if r.leader != nil && r.leader.State().LeaderEpoch == p.LeaderEpoch {
			if r.leader.Update(stateOf(p), n.now.MonotonicMs) {
				n.hwMayAdvance(r, l)
			}
			return
		}
		// A new leadership (Kafka's makeLeader): the epoch starts at the log end, and the
		// epoch cache says so before any append, so a follower holding records of an epoch
		// this leader never had is told where this leader's earlier epoch ended.
		dropped, err := l.AssignEpochStart(record.Epoch(p.LeaderEpoch), l.EndOffset())
		if err != nil {
			n.fail(fmt.Errorf("broker: %s becoming leader at epoch %d: %w", r.tp, p.LeaderEpoch, err))
			return
		}
		if len(dropped) > 0 {
			n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: %s becoming leader at epoch %d: dropped later epochs %v from the leader-epoch cache (a damaged partitionLeaderEpoch on disk)", r.tp, p.LeaderEpoch, dropped))
		}
		r.leader = replica.NewLeader(self, stateOf(p), l.EndOffset(), n.knownHW(r, l), n.now.MonotonicMs, n.cfg.Broker.Replication.LagTimeMaxMs)
		r.fetchRetryMs = 0
		n.hwMayAdvance(r, l)
		n.wakeFetches(r.tp)
		return
	}
	if r.leader != nil {
		// Leadership lost (Kafka's makeFollower): acks=all produces waiting for the high
		// watermark are answered NOT_LEADER_OR_FOLLOWER; the new leader may or may not have
		// their records.
		r.followerHW = r.leader.HighWatermark()
		r.leader = nil
		n.settleProduces(r.tp, func(pp *producePending) (bool, int16, error) {
			if pp.needHW {
				return true, errNotLeaderOrFollower, nil
			}
			return false, errNone, nil
		})
		n.wakeFetches(r.tp)
	}
	r.followerHW = min(r.followerHW, l.EndOffset())
}

// knownHW is the high watermark this broker knew for r before taking over its leadership.
func (n *Node) knownHW(r *partitionReplica, l *log.Log) record.Offset {
	if r.leader != nil {
		return r.leader.HighWatermark()
	}
	return max(min(r.followerHW, l.EndOffset()), l.StartOffset())
}

// forgetReplica drops a partition's replication state (its log is gone).
func (n *Node) forgetReplica(tp storage.TopicPartition) {
	delete(n.replicaStates, tp)
}

// leading returns the replication state of a partition this broker leads.
func (n *Node) leading(tp storage.TopicPartition) (*partitionReplica, bool) {
	r, ok := n.replicaStates[tp]
	if !ok || r.leader == nil {
		return nil, false
	}
	return r, true
}

// leaderDurable is what the leader has that counts for the high watermark: its durable
// offset, or its log end for a topic with Kafka's flush behaviour.
func (n *Node) leaderDurable(tp storage.TopicPartition, l *log.Log) record.Offset {
	if n.relaxed(tp) {
		return l.EndOffset()
	}
	return l.DurableOffset()
}

// relaxed reports whether tp's topic has Kafka's flush behaviour (flush.go): records count as
// written once in the page cache.
func (n *Node) relaxed(tp storage.TopicPartition) bool {
	ts, ok := n.topics[tp.Topic]
	return ok && ts.relaxed
}

// hwMayAdvance recomputes a led partition's high watermark; when it moved, the produces
// waiting for it are answered and fetches woken.
func (n *Node) hwMayAdvance(r *partitionReplica, l *log.Log) {
	if n.advanceHW(r, l) {
		n.settleProducesOn(r.tp)
		n.wakeFetches(r.tp)
	}
}

// advanceHW recomputes a led partition's high watermark and reports whether it moved; the
// caller answers the produces and wakes the fetches it may free.
func (n *Node) advanceHW(r *partitionReplica, l *log.Log) bool {
	if r.leader == nil || !r.leader.AdvanceHighWatermark(n.leaderDurable(r.tp, l), n.strictMinISR(r.tp)) {
		return false
	}
	if hw := r.leader.HighWatermark(); hw > l.EndOffset() {
		panic(fmt.Sprintf("broker: invariant: %s high watermark %d above the log end %d", r.tp, hw, l.EndOffset()))
	}
	return true
}

// strictMinISR is the ISR size below which a led partition's high watermark stays put: the
// topic's min.insync.replicas once eligible leader replicas are on, else 0 (no such rule).
func (n *Node) strictMinISR(tp storage.TopicPartition) int {
	ts, ok := n.topics[tp.Topic]
	if !ok || !n.img.ELREnabled() {
		return 0
	}
	return int(ts.cfg.MinInsyncReplicas)
}

// hwShown reports whether a led partition's high watermark may be shown to clients: once it
// reached the epoch start (replica.Leader.Established).
func (n *Node) hwShown(r *partitionReplica) bool {
	return r.leader.Established() || n.cfg.Buggify.Planted(buggify.BugShowUnestablishedHW)
}

// highWatermark is the high watermark of a partition held here: the leader's, or what a
// follower last learned.
func (n *Node) highWatermark(tp storage.TopicPartition, l *log.Log) record.Offset {
	r, ok := n.replicaStates[tp]
	if !ok {
		return l.StartOffset()
	}
	if r.leader != nil {
		return r.leader.HighWatermark()
	}
	return max(min(r.followerHW, l.EndOffset()), l.StartOffset())
}

// isrEligible is the controller's test for a broker joining an ISR (KIP-841, KIP-903):
// registered, unfenced, not shutting down, at the broker epoch its fetch carried.
func (n *Node) isrEligible(id int32, brokerEpoch int64) bool {
	b, ok := n.img.Broker(id)
	if n.cfg.Buggify.Planted(buggify.BugAdmitFencedReplica) {
		return ok && b.Epoch == brokerEpoch
	}
	return ok && !b.Fenced && !b.InControlledShutdown && b.Epoch == brokerEpoch
}

// proposeISRChange asks a led partition's bookkeeping for an ISR change and queues it for the
// controller.
func (n *Node) proposeISRChange(r *partitionReplica, l *log.Log) {
	if r.leader == nil || n.now.MonotonicMs < r.alterRetryMs {
		return
	}
	if p := r.leader.ProposeISRChange(l.EndOffset(), n.now.MonotonicMs, n.isrEligible); p != nil {
		n.alter.queue(r.tp)
	}
}

// checkISRs looks for ISR members fallen behind on every led partition (Kafka's
// isr-expiration task, every replica.lag.time.max.ms / 2).
func (n *Node) checkISRs() {
	if n.now.MonotonicMs < n.isrCheckNextMs {
		return
	}
	n.isrCheckNextMs = n.now.MonotonicMs + max(n.cfg.Broker.Replication.LagTimeMaxMs/2, 1)
	for _, tp := range n.sortedReplicas() {
		r := n.replicaStates[tp]
		if r.leader == nil {
			continue
		}
		if l, ok := n.logs.GetLog(tp); ok {
			n.proposeISRChange(r, l)
		}
	}
}

// sortedReplicas lists the partitions with replication state in order.
func (n *Node) sortedReplicas() []storage.TopicPartition {
	tps := make([]storage.TopicPartition, 0, len(n.replicaStates))
	for tp := range n.replicaStates { //purity:allow-map-range sorted below
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, compareTopicPartitions)
	return tps
}

// ReplicaView is one partition replica as this broker sees it, for checkers and tools.
type ReplicaView struct {
	TopicPartition storage.TopicPartition
	Leader         bool
	LeaderEpoch    int32
	HighWatermark  record.Offset
	Established    bool // a leader's high watermark reached its epoch start
	LogEndOffset   record.Offset
	DurableOffset  record.Offset
	ISR            []int32 // the leader's committed ISR; nil for a follower
	// PendingISR is a leader's ISR proposal in flight (nil none); Followers its followers'
	// progress.
	PendingISR []int32
	Followers  []replica.Follower
}

// Replicas lists the partition replicas this broker holds, in partition order.
func (n *Node) Replicas() []ReplicaView {
	var out []ReplicaView
	for _, tp := range n.sortedReplicas() {
		r := n.replicaStates[tp]
		l, ok := n.logs.GetLog(tp)
		if !ok {
			continue
		}
		v := ReplicaView{
			TopicPartition: tp, LeaderEpoch: r.part.LeaderEpoch, HighWatermark: n.highWatermark(tp, l),
			LogEndOffset: l.EndOffset(), DurableOffset: l.DurableOffset(),
		}
		if r.leader != nil {
			v.Leader, v.Established, v.ISR = true, n.hwShown(r), r.leader.ISR()
			if p := r.leader.Pending(); p != nil {
				v.PendingISR = p.ISR
			}
			v.Followers = r.leader.Followers()
		}
		out = append(out, v)
	}
	return out
}

// replicationDeadlineMs is the earliest time follower fetching, ISR proposals or the ISR
// check want the timer.
func (n *Node) replicationDeadlineMs() int64 {
	next := n.fetchDeadlineMs()
	consider := func(d int64) {
		if d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	consider(n.alterDeadlineMs())
	for _, tp := range n.sortedReplicas() {
		if r := n.replicaStates[tp]; r.leader != nil && len(r.part.Replicas) > 1 {
			consider(max(n.isrCheckNextMs, 1))
			break
		}
	}
	return next
}

// Log is the log of a partition held here, for checkers and tools: read it, never change it.
func (n *Node) Log(tp storage.TopicPartition) (*log.Log, bool) { return n.logs.GetLog(tp) }
