package controller

import "github.com/weirdata/weir/core/metadata"

// Automatic preferred leader election (auto.leader.rebalance.enable), as Kafka's KRaft
// controller runs it (ReplicationControlManager.maybeBalancePartitionLeaders): every
// leader.imbalance.check.interval.seconds, each partition whose leader is not its preferred
// (first) replica gets a preferred election: the preferred replica takes over if it is in the
// ISR and active, else nothing changes. At most balanceElectionsMax elections are written per
// pass; if that many were, the next pass runs at once rather than an interval later.
//
// Like Kafka's KRaft controller (KAFKA-13682), Weir does not apply
// leader.imbalance.per.broker.percentage: the ZooKeeper controller's per-broker ratio is not
// computed, every imbalanced partition is considered.

// balanceElectionsMax is Kafka's QuorumController MAX_ELECTIONS_PER_IMBALANCE: the most
// preferred elections one pass writes, which bounds a Tick's records.
const balanceElectionsMax = 1000

// leaderBalance is the schedule of the automatic preferred elections.
type leaderBalance struct {
	// intervalMs is leader.imbalance.check.interval.seconds in ms, 0 when
	// auto.leader.rebalance.enable is false.
	intervalMs int64
	// nextMs is when the next pass is due (while active).
	nextMs int64
}

func newLeaderBalance(enabled bool, intervalSeconds int64) leaderBalance {
	if !enabled {
		return leaderBalance{}
	}
	return leaderBalance{intervalMs: intervalSeconds * 1000}
}

// activate starts the schedule: the first pass is one interval after the controller became
// active, as Kafka schedules it.
func (lb *leaderBalance) activate(nowMs int64) {
	if lb.intervalMs > 0 {
		lb.nextMs = nowMs + lb.intervalMs
	}
}

// deadline is when the next pass is due, NoDeadline when disabled.
func (lb *leaderBalance) deadline() int64 {
	if lb.intervalMs == 0 {
		return NoDeadline
	}
	return lb.nextMs
}

// balanceLeaders runs a pass if one is due by nowMs.
func (c *Controller) balanceLeaders(p *proposal, nowMs int64) {
	lb := &c.balance
	if lb.intervalMs == 0 || nowMs < lb.nextMs {
		return
	}
	img := p.image()
	acceptable := func(id int32) bool { return isActive(img, id) }
	elections := 0
	for _, t := range img.Topics() {
		for _, part := range t.Partitions() {
			if !imbalanced(part) {
				continue
			}
			if elections == balanceElectionsMax {
				lb.nextMs = nowMs + 1 // more to do: the next pass runs at once
				return
			}
			b := c.newPartitionChangeBuilder(img, t, part, acceptable)
			b.election = electionPreferred
			if r := b.build(); r != nil {
				p.add(r)
				elections++
			}
		}
	}
	lb.nextMs = nowMs + lb.intervalMs
}

// imbalanced reports whether a partition is not led by its preferred replica (Kafka's
// imbalancedPartitions holds exactly these).
func imbalanced(part *metadata.Partition) bool { return part.Leader != part.Replicas[0] }
