package controller

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/weirdata/weir/core/metadata"
)

// Replica placement for new partitions, after Kafka's KRaft StripedReplicaPlacer: brokers are
// grouped by rack (racks sorted by name, brokers by id, a broker without a rack in a group of its
// own that sorts first), partition i takes its leader from rack (start+i) mod racks, and each
// further replica from the next rack, so a partition's replicas sit on distinct racks whenever
// the replication factor allows; a rack is visited again only once every rack gave one.
//
// Where Weir differs from Kafka, on purpose:
//   - Only unfenced brokers that are not shutting down are usable. Kafka also places followers
//     on fenced brokers once the unfenced ones are exhausted; a replica on a fenced broker starts
//     out of the ISR, and a topic created that way is under-replicated from birth.
//   - Within a rack, the cursor advances once per partition the rack leads, not once per
//     partition it takes part in. Kafka's cursor moves on every visit, so with two racks of two
//     brokers and replication factor 2 the same broker of each rack leads every partition; here
//     leaders cycle through a rack's brokers, and for racks of equal size every broker leads
//     within one partition of an even share. Followers taken from a rack start at its cursor, so
//     replica sets still rotate.
//   - Kafka reshuffles racks and brokers after as many partitions as brokers; the rotation above
//     already varies replica sets, and a reshuffle mid-topic would undo the even leader spread.
//
// As Kafka's placer does in recent versions, partitions added to an existing topic continue its
// stripe: the start rack follows the rack of the last partition's leader, and each rack's cursor
// follows the last broker of that rack that led a partition. A new topic starts at random (the
// controller's PRNG), rack and cursors alike.

// rackGroup is one rack's usable brokers, sorted by id, with the cursor of its next leader.
type rackGroup struct {
	rack    *string
	brokers []int32
	cursor  int
}

// placer places the partitions of one topic.
type placer struct {
	racks []*rackGroup
	next  int // index of the rack that leads the next partition
	total int // usable brokers
}

// usableBrokers are the brokers new replicas may go to: registered, unfenced, and not in
// controlled shutdown, as Kafka's ClusterControlManager.usableBrokers minus the fenced ones.
func usableBrokers(img *metadata.Image) []*metadata.Broker {
	var out []*metadata.Broker
	for _, b := range img.Brokers() {
		if !b.Fenced && !b.InControlledShutdown {
			out = append(out, b)
		}
	}
	return out
}

// compareRacks orders racks by name, no rack first (Kafka's OptionalStringComparator).
func compareRacks(a, b *string) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Compare(*a, *b)
}

func sameRack(a, b *string) bool { return compareRacks(a, b) == 0 }

// newPlacer groups the usable brokers of img by rack. existing is the topic's current
// assignment (empty for a new topic): the stripe continues from it; otherwise rng picks the
// starting rack and each rack's starting broker.
func newPlacer(img *metadata.Image, rng *rand.Rand, existing []*metadata.Partition) *placer {
	p := &placer{}
	for _, b := range usableBrokers(img) {
		i := slices.IndexFunc(p.racks, func(g *rackGroup) bool { return sameRack(g.rack, b.Rack) })
		if i < 0 {
			p.racks = append(p.racks, &rackGroup{rack: b.Rack})
			i = len(p.racks) - 1
		}
		p.racks[i].brokers = append(p.racks[i].brokers, b.ID)
		p.total++
	}
	slices.SortFunc(p.racks, func(a, b *rackGroup) int { return compareRacks(a.rack, b.rack) })
	for _, g := range p.racks {
		slices.Sort(g.brokers)
	}
	if len(p.racks) == 0 {
		return p
	}
	rackOf := func(broker int32) int {
		return slices.IndexFunc(p.racks, func(g *rackGroup) bool { return slices.Contains(g.brokers, broker) })
	}
	continued := make([]bool, len(p.racks))
	startSet := false
	for i := len(existing) - 1; i >= 0; i-- {
		if len(existing[i].Replicas) == 0 {
			continue
		}
		leader := existing[i].Replicas[0] // the preferred leader, as Kafka's assignment reads it
		r := rackOf(leader)
		if r < 0 {
			continue // the broker is fenced or gone: no cursor to continue from
		}
		if !startSet {
			p.next = (r + 1) % len(p.racks)
			startSet = true
		}
		if !continued[r] {
			g := p.racks[r]
			g.cursor = (slices.Index(g.brokers, leader) + 1) % len(g.brokers)
			continued[r] = true
		}
	}
	if !startSet {
		p.next = randomIndex(rng, len(p.racks))
	}
	for r, g := range p.racks {
		if !continued[r] {
			g.cursor = randomIndex(rng, len(g.brokers))
		}
	}
	return p
}

// randomIndex is a uniform index below n. With one choice it draws nothing, so a single-broker
// node's PRNG stream does not depend on placement.
func randomIndex(rng *rand.Rand, n int) int {
	if n <= 1 {
		return 0
	}
	return rng.IntN(n)
}

// checkReplicationFactor refuses a replication factor the usable brokers cannot hold, with
// Kafka's messages (StripedReplicaPlacer).
func (p *placer) checkReplicationFactor(rf int) *apiError {
	switch {
	case rf <= 0:
		return errorf(errInvalidReplicationFactor, "Invalid replication factor %d: the replication factor must be positive.", rf)
	case p.total == 0:
		return errorf(errInvalidReplicationFactor, "All brokers are currently fenced.")
	case rf > p.total:
		return errorf(errInvalidReplicationFactor, "The target replication factor of %d cannot be reached because only %d broker(s) are registered.", rf, p.total)
	}
	return nil
}

// place returns the replicas of the next partition, preferred leader first. The caller has
// checked rf with checkReplicationFactor.
func (p *placer) place(rf int) []int32 {
	if rf <= 0 || rf > p.total {
		panic(fmt.Sprintf("controller: invariant: placing %d replicas on %d usable brokers", rf, p.total))
	}
	leaderRack := p.next
	p.next = (p.next + 1) % len(p.racks)
	out := make([]int32, 0, rf)
	taken := make([]int, len(p.racks)) // replicas taken from each rack for this partition
	for r := leaderRack; len(out) < rf; r = (r + 1) % len(p.racks) {
		g := p.racks[r]
		if taken[r] == len(g.brokers) {
			continue // the rack is used up; rf ≤ total guarantees another has room
		}
		out = append(out, g.brokers[(g.cursor+taken[r])%len(g.brokers)])
		taken[r]++
	}
	g := p.racks[leaderRack]
	g.cursor = (g.cursor + 1) % len(g.brokers)
	return out
}
