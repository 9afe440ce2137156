package sim

import (
	"math/rand/v2"
	"slices"

	"github.com/weirdata/weir/core/client"
)

// operator plays the admin of a replicated cluster during the workload (RunOptions.Operator):
// at drawn times it runs a preferred leader election over every partition (kafka-leader-election
// --election-type PREFERRED), or reassigns one partition's replicas: the same brokers in another
// order (a new preferred leader) or, with more brokers than replicas, one replica moved to a
// broker that has none (kafka-reassign-partitions). Faults go on meanwhile: that is the point.
// It reads the current assignment from the active controller's image, as an operator reads it
// from a describe, and its answers are not checked: refusals (a reassignment in progress,
// ELECTION_NOT_NEEDED, brokers down) are part of the game. The checkers hold the run to the
// same guarantees as without it.
type operator struct {
	c      *cluster
	r      *rand.Rand
	stopNs int64
	actFn  func()
	// targets are the replicas each reassigned partition was last sent to; moves counts the
	// reassignments that changed a partition's broker set.
	targets map[int32][]int32
	moves   int
}

func newOperator(c *cluster, stopNs int64) *operator {
	o := &operator{c: c, r: c.w.Rand("operator"), stopNs: stopNs, targets: map[int32][]int32{}}
	o.actFn = o.act
	return o
}

// start schedules the first action.
func (o *operator) start() { o.schedule() }

// schedule arms the next action 1 to 6 virtual seconds from now.
func (o *operator) schedule() {
	o.c.w.After(1_000_000_000+o.r.Int64N(5_000_000_000), "operator", o.actFn)
}

// act does one admin action and schedules the next, until the workload stops.
func (o *operator) act() {
	if o.c.w.NowNs() >= o.stopNs {
		return
	}
	defer o.schedule()
	partitions := make([]int32, o.c.knobs.Partitions)
	for i := range partitions {
		partitions[i] = int32(i)
	}
	if o.r.IntN(2) == 0 {
		o.c.w.Tracef("operator: preferred leader election of every partition")
		o.c.admin.ElectLeaders(workloadTopic, partitions, client.ElectPreferred)
		return
	}
	p := partitions[o.r.IntN(len(partitions))]
	part := imagePartition(o.c.leaderImage(), p)
	if part == nil || len(part.AddingReplicas) > 0 || len(part.RemovingReplicas) > 0 {
		return // no controller to read, or a reassignment of it still going on
	}
	target := slices.Clone(part.Replicas)
	if others := o.brokersOutside(target); len(others) > 0 && o.r.IntN(2) == 0 {
		target[o.r.IntN(len(target))] = others[o.r.IntN(len(others))]
		o.moves++
	} else {
		o.r.Shuffle(len(target), func(i, j int) { target[i], target[j] = target[j], target[i] })
	}
	o.c.w.Tracef("operator: reassign partition %d from %v to %v", p, part.Replicas, target)
	o.targets[p] = target
	o.c.admin.Reassign(workloadTopic, []int32{p}, [][]int32{target})
}

// brokersOutside are the brokers, ascending, that hold no replica in replicas.
func (o *operator) brokersOutside(replicas []int32) []int32 {
	var out []int32
	for _, n := range o.c.nodes {
		if !slices.Contains(replicas, n.ID()) {
			out = append(out, n.ID())
		}
	}
	return out
}
