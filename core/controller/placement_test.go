package controller

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/weirdata/weir/core/metadata"
)

// A single rack stripes as Kafka's placer: each partition starts one broker further.
func TestPlacementSingleRackStripes(t *testing.T) {
	img := imageWith(t, brokersN(5)...)
	p := newPlacer(img, rand.New(rand.NewPCG(1, 2)), nil)
	first := p.place(3)
	start := slices.Index([]int32{0, 1, 2, 3, 4}, first[0])
	for i := range 7 {
		want := []int32{int32((start + i) % 5), int32((start + i + 1) % 5), int32((start + i + 2) % 5)}
		if i == 0 {
			require.Equal(t, want, first)
			continue
		}
		require.Equal(t, want, p.place(3), "partition %d", i)
	}
}

// Fenced brokers and brokers in controlled shutdown get no replicas.
func TestPlacementSkipsInactiveBrokers(t *testing.T) {
	img := imageWith(t, testBroker{id: 1}, testBroker{id: 2, fenced: true}, testBroker{id: 3})
	p := newPlacer(img, rand.New(rand.NewPCG(3, 4)), nil)
	require.Nil(t, p.checkReplicationFactor(2))
	for range 10 {
		rs := p.place(2)
		require.ElementsMatch(t, []int32{1, 3}, rs)
	}
	require.Equal(t, &apiError{errInvalidReplicationFactor,
		"The target replication factor of 3 cannot be reached because only 2 broker(s) are registered."}, p.checkReplicationFactor(3))
	require.Equal(t, errInvalidReplicationFactor, p.checkReplicationFactor(0).code)

	allFenced := imageWith(t, testBroker{id: 1, fenced: true})
	require.Equal(t, &apiError{errInvalidReplicationFactor, "All brokers are currently fenced."},
		newPlacer(allFenced, rand.New(rand.NewPCG(1, 1)), nil).checkReplicationFactor(1))
}

// With racks, each partition's replicas span min(rf, racks) racks, and rack order follows
// the stripe.
func TestPlacementRackAware(t *testing.T) {
	img := imageWith(t,
		testBroker{id: 10, rack: "a"}, testBroker{id: 11, rack: "a"},
		testBroker{id: 20, rack: "b"}, testBroker{id: 21, rack: "b"},
		testBroker{id: 30, rack: "c"}, testBroker{id: 31, rack: "c"})
	rackOf := func(id int32) int32 { return id / 10 }
	p := newPlacer(img, rand.New(rand.NewPCG(5, 6)), nil)
	var leaderRacks []int32
	for range 6 {
		rs := p.place(2)
		require.NotEqual(t, rackOf(rs[0]), rackOf(rs[1]), "replicas %v share a rack", rs)
		leaderRacks = append(leaderRacks, rackOf(rs[0]))
	}
	for i := 1; i < len(leaderRacks); i++ {
		require.Equal(t, leaderRacks[i-1]%3+1, leaderRacks[i], "leader racks %v do not stripe", leaderRacks)
	}
	// rf above the rack count: every rack holds a replica, no rack two more than another.
	rs := p.place(5)
	counts := map[int32]int{}
	for _, r := range rs {
		counts[rackOf(r)]++
	}
	require.Len(t, counts, 3)
}

// Kafka's placer moves a rack's cursor on every visit, so with two racks of two brokers and
// rf 2 one broker per rack leads everything; here leaders cycle through each rack.
func TestPlacementLeadersCycleWithinRacks(t *testing.T) {
	img := imageWith(t,
		testBroker{id: 1, rack: "a"}, testBroker{id: 2, rack: "a"},
		testBroker{id: 3, rack: "b"}, testBroker{id: 4, rack: "b"})
	p := newPlacer(img, rand.New(rand.NewPCG(7, 8)), nil)
	leaders := map[int32]int{}
	for range 8 {
		leaders[p.place(2)[0]]++
	}
	require.Equal(t, map[int32]int{1: 2, 2: 2, 3: 2, 4: 2}, leaders)
}

// Partitions added to a topic continue its stripe, as Kafka's placer does in recent versions:
// the next partition's leader is the broker after the last one's.
func TestPlacementContinuesTheStripe(t *testing.T) {
	c := newTestController(t, 9)
	img := imageWith(t, brokersN(6)...)
	img = createdTopics(t, c, img, map[string]int32{"t": 2})
	topic, _ := img.TopicByName("t")
	existing := topic.Partitions()
	p := newPlacer(img, c.rng, existing)
	next := p.place(1)[0]
	require.Equal(t, (existing[1].Replicas[0]+1)%6, next)
}

// Property: for random clusters and requests, replicas are distinct active brokers, span
// min(rf, racks) racks, and with racks of equal size every broker leads within one partition of
// an even share.
func TestPlacementProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		racks := rapid.IntRange(0, 4).Draw(t, "racks") // 0: no racks
		perRack := rapid.IntRange(1, 4).Draw(t, "perRack")
		equal := rapid.Bool().Draw(t, "equalRacks")
		var brokers []testBroker
		id := int32(rapid.IntRange(0, 3).Draw(t, "firstID"))
		groups := max(racks, 1)
		for r := range groups {
			n := perRack
			if !equal {
				n = rapid.IntRange(1, 4).Draw(t, fmt.Sprintf("rack%dSize", r))
			}
			for range n {
				b := testBroker{id: id}
				if racks > 0 {
					b.rack = fmt.Sprintf("rack-%d", r)
				}
				id += int32(rapid.IntRange(1, 3).Draw(t, "idGap"))
				brokers = append(brokers, b)
			}
		}
		// Some extra fenced brokers, which must never be chosen.
		fenced := rapid.IntRange(0, 2).Draw(t, "fenced")
		for range fenced {
			brokers = append(brokers, testBroker{id: id, rack: "rack-0", fenced: true})
			id++
		}
		img := imageWith(t, brokers...)
		active := len(brokers) - fenced
		rf := rapid.IntRange(1, active).Draw(t, "rf")
		partitions := rapid.IntRange(1, 40).Draw(t, "partitions")
		p := newPlacer(img, rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 0)), nil)
		require.Nil(t, p.checkReplicationFactor(rf))

		rackOf := map[int32]string{}
		isActive := map[int32]bool{}
		for _, b := range brokers {
			rackOf[b.id] = b.rack
			isActive[b.id] = !b.fenced
		}
		leaders := map[int32]int{}
		for range partitions {
			rs := p.place(rf)
			require.Len(t, rs, rf)
			seenRacks := map[string]bool{}
			for i, r := range rs {
				require.True(t, isActive[r], "replica %d of %v is not an active broker", r, rs)
				require.NotContains(t, rs[:i], r, "replicas %v repeat a broker", rs)
				seenRacks[rackOf[r]] = true
			}
			require.Len(t, seenRacks, min(rf, groups), "replicas %v span too few racks", rs)
			leaders[rs[0]]++
		}
		if equal {
			low, high := partitions/active, (partitions+active-1)/active
			for id, ok := range isActive {
				if ok {
					n := leaders[id]
					require.True(t, n >= low && n <= high, "broker %d leads %d of %d partitions over %d brokers", id, n, partitions, active)
				}
			}
		}
		// The records a placement gives apply to the image.
		replicas := make([][]int32, 0, partitions)
		for range partitions {
			replicas = append(replicas, p.place(rf))
		}
		records, err := metadata.NewTopicRecords("t", [16]byte{0: 9, 15: 9}, replicas, nil)
		require.NoError(t, err)
		_, err = img.Apply(withUnfencedISR(img, records))
		require.NoError(t, err)
	})
}
