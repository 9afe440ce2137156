package replica

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/weirdata/weir/core/record"
)

const lagMs = 30_000

func all(int32, int64) bool { return true }

func TestHighWatermarkIsTheISRMinimumPastTheEpochStart(t *testing.T) {
	st := State{LeaderEpoch: 3, PartitionEpoch: 7, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}}
	// Broker 1 becomes leader with 100 records; as a follower it knew a high watermark of 90.
	l := NewLeader(1, st, 100, 90, 0, lagMs)
	require.Equal(t, int64(90), int64(l.HighWatermark()))
	require.False(t, l.Established())

	require.False(t, l.AdvanceHighWatermark(100, 0), "no follower fetched yet")
	require.True(t, l.FollowerFetched(2, 11, 95, 0, 100, 10))
	require.True(t, l.FollowerFetched(3, 12, 100, 0, 100, 10))
	require.False(t, l.AdvanceHighWatermark(100, 0), "95 is below the epoch start 100: the high watermark waits")
	require.Equal(t, int64(90), int64(l.HighWatermark()))

	require.True(t, l.FollowerFetched(2, 11, 100, 0, 104, 20))
	require.True(t, l.AdvanceHighWatermark(102, 0), "the leader's own durable offset bounds it")
	require.Equal(t, int64(100), int64(l.HighWatermark()))
	require.True(t, l.Established())
	require.False(t, l.FollowerFetched(9, 1, 100, 0, 100, 20), "not a replica")

	// A follower going back (it lost data) never takes the high watermark back.
	require.True(t, l.FollowerFetched(3, 12, 97, 0, 104, 30))
	require.False(t, l.AdvanceHighWatermark(104, 0))
	require.Equal(t, int64(100), int64(l.HighWatermark()))
}

func TestShrinkAfterTheLagAndExpandOnceCaughtUp(t *testing.T) {
	st := State{LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}}
	l := NewLeader(1, st, 0, 0, 1000, lagMs)
	l.FollowerFetched(2, 5, 0, 0, 0, 1000)
	l.FollowerFetched(3, 6, 0, 0, 0, 1000)
	// Records arrive; follower 2 keeps up, 3 stops fetching.
	for now := int64(2000); now <= 1000+lagMs; now += 1000 {
		l.FollowerFetched(2, 5, 50, 0, 50, now)
		require.Nil(t, l.ProposeISRChange(50, now, all))
	}
	p := l.ProposeISRChange(50, 1000+lagMs+1, all)
	require.NotNil(t, p)
	require.Equal(t, []int32{1, 2}, p.ISR)
	require.Equal(t, int32(1), p.PartitionEpoch)
	require.Nil(t, l.ProposeISRChange(50, 1000+lagMs+2, all), "one change in flight")
	require.Equal(t, []int32{1, 2, 3}, l.MaximalISR(), "a pending shrink still counts the leaving member")

	require.True(t, l.Update(State{LeaderEpoch: 1, PartitionEpoch: 2, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}}, 40_000))
	require.Nil(t, l.Pending())
	require.False(t, l.Update(State{LeaderEpoch: 1, PartitionEpoch: 2, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}}, 40_000), "stale")
	require.True(t, l.AdvanceHighWatermark(50, 0))
	require.Equal(t, int64(50), int64(l.HighWatermark()))

	// Follower 3 comes back below the high watermark: not yet.
	l.FollowerFetched(3, 9, 40, 0, 50, 41_000)
	require.Nil(t, l.ProposeISRChange(50, 41_000, all))
	// Caught up to the high watermark but its broker is not eligible (fenced, or a stale
	// epoch): not proposed (KIP-841, KIP-903).
	l.FollowerFetched(3, 9, 50, 0, 50, 42_000)
	require.Nil(t, l.ProposeISRChange(50, 42_000, func(id int32, epoch int64) bool { return epoch != 9 }))
	p = l.ProposeISRChange(50, 42_000, all)
	require.NotNil(t, p)
	require.Equal(t, []int32{1, 2, 3}, p.ISR)
	require.Equal(t, []int32{1, 2, 3}, l.MaximalISR(), "a pending expansion counts the joining member")
	l.ClearPending()
	require.Equal(t, []int32{1, 2}, l.MaximalISR())
}

// KIP-903: a proposal carries the broker epochs of the fetches that qualified its members,
// fixed when it is made: a follower that restarts empty (a new broker epoch, fetching from 0)
// while the proposal waits must not lend the proposal its new epoch.
func TestProposalKeepsTheBrokerEpochsItWasMadeWith(t *testing.T) {
	st := State{LeaderEpoch: 1, PartitionEpoch: 3, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}}
	l := NewLeader(1, st, 50, 50, 0, lagMs)
	l.FollowerFetched(2, 5, 50, 0, 50, 10)
	l.FollowerFetched(3, 6, 50, 0, 50, 10)
	p := l.ProposeISRChange(50, 10, all)
	require.NotNil(t, p)
	require.Equal(t, []int32{1, 2, 3}, p.ISR)
	require.Equal(t, []int64{-1, 5, 6}, p.BrokerEpochs, "the leader's own is its sender's")
	l.FollowerFetched(3, 77, 0, 0, 50, 20)
	require.Same(t, p, l.Pending())
	require.Equal(t, []int64{-1, 5, 6}, l.Pending().BrokerEpochs)
}

// KAFKA-7128: a new leader's high watermark may lag its epoch start; a follower that reached
// only that lagging high watermark must not join the ISR, or an election could lose records
// below the epoch start.
func TestExpansionWaitsForTheEpochStart(t *testing.T) {
	st := State{LeaderEpoch: 4, PartitionEpoch: 9, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}}
	l := NewLeader(1, st, 100, 80, 0, lagMs)
	l.FollowerFetched(3, 1, 90, 0, 100, 10)
	require.Nil(t, l.ProposeISRChange(100, 10, all), "90 reaches the high watermark 80 but not the epoch start 100")
	l.FollowerFetched(3, 1, 100, 0, 100, 20)
	p := l.ProposeISRChange(100, 20, all)
	require.NotNil(t, p)
	require.Equal(t, []int32{1, 2, 3}, p.ISR)
}

func TestIdleFollowerAtTheLeaderEndStaysInSync(t *testing.T) {
	st := State{LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}
	l := NewLeader(1, st, 10, 10, 0, lagMs)
	l.FollowerFetched(2, 1, 10, 0, 10, 0)
	require.Nil(t, l.ProposeISRChange(10, 10*lagMs, all), "nothing to fetch is not falling behind")
	p := l.ProposeISRChange(11, 10*lagMs, all)
	require.NotNil(t, p, "a record arrived and the follower has not caught up for long")
	require.Equal(t, []int32{1}, p.ISR)
}

func TestReassignmentChangesTheFollowers(t *testing.T) {
	l := NewLeader(1, State{LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}, 0, 0, 0, lagMs)
	l.FollowerFetched(2, 1, 0, 0, 0, 0)
	require.True(t, l.Update(State{LeaderEpoch: 1, PartitionEpoch: 2, Replicas: []int32{1, 2, 4}, ISR: []int32{1, 2}}, 5))
	f, ok := l.Follower(4)
	require.True(t, ok)
	require.Equal(t, int64(-1), int64(f.LogEndOffset))
	f, _ = l.Follower(2)
	require.Equal(t, int64(0), int64(f.LogEndOffset), "kept")
	require.True(t, l.Update(State{LeaderEpoch: 1, PartitionEpoch: 3, Replicas: []int32{1, 4}, ISR: []int32{1, 4}}, 6))
	_, ok = l.Follower(2)
	require.False(t, ok)
	require.Panics(t, func() { l.Update(State{LeaderEpoch: 2, PartitionEpoch: 4}, 7) })
}

// KIP-966's strict min ISR: with the committed ISR below minISR the high watermark stays,
// whatever the members have; it moves again once the ISR is back at minISR.
func TestHighWatermarkHoldsBelowMinISR(t *testing.T) {
	st := State{LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}}
	l := NewLeader(1, st, 0, 0, 0, lagMs)
	require.True(t, l.FollowerFetched(2, 5, 10, 0, 10, 10))
	require.True(t, l.AdvanceHighWatermark(10, 2))
	require.Equal(t, int64(10), int64(l.HighWatermark()))

	require.True(t, l.Update(State{LeaderEpoch: 1, PartitionEpoch: 2, Replicas: []int32{1, 2, 3}, ISR: []int32{1}}, 20))
	require.False(t, l.AdvanceHighWatermark(30, 2), "ISR [1] is below min.insync.replicas 2")
	require.Equal(t, int64(10), int64(l.HighWatermark()))
	require.True(t, l.AdvanceHighWatermark(30, 0), "without the rule the leader alone commits")

	l = NewLeader(1, State{LeaderEpoch: 2, PartitionEpoch: 3, Replicas: []int32{1, 2, 3}, ISR: []int32{1}}, 30, 10, 40, lagMs)
	require.False(t, l.AdvanceHighWatermark(40, 2))
	require.True(t, l.FollowerFetched(3, 7, 40, 0, 40, 50))
	require.True(t, l.Update(State{LeaderEpoch: 2, PartitionEpoch: 4, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 3}}, 50))
	require.True(t, l.AdvanceHighWatermark(40, 2), "back at min.insync.replicas")
	require.Equal(t, int64(40), int64(l.HighWatermark()))
}

// The low watermark is the least log start over the leader and the live followers; a follower
// that has not fetched in this leadership holds it at -1, a dead one does not hold it at all.
func TestLowWatermarkIsTheLeastLiveLogStart(t *testing.T) {
	st := State{LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}}
	l := NewLeader(1, st, 100, 100, 0, lagMs)
	alive := func(int32) bool { return true }
	require.Equal(t, int64(-1), int64(l.LowWatermark(40, alive)), "no follower reported its log start yet")
	require.Equal(t, int64(40), int64(l.LowWatermark(40, func(int32) bool { return false })), "only the leader counts when no follower is alive")

	require.True(t, l.FollowerFetched(2, 5, 100, 30, 100, 10))
	require.True(t, l.FollowerFetched(3, 6, 100, 45, 100, 10))
	require.Equal(t, int64(30), int64(l.LowWatermark(40, alive)))
	f, ok := l.Follower(2)
	require.True(t, ok)
	require.Equal(t, int64(30), int64(f.LogStartOffset))

	// Follower 2 follows the leader's new log start; 3 is past it already.
	require.True(t, l.FollowerFetched(2, 5, 100, 40, 100, 20))
	require.Equal(t, int64(40), int64(l.LowWatermark(40, alive)), "the leader is the least now")
	require.Equal(t, int64(40), int64(l.LowWatermark(50, alive)), "follower 2 is the least once the leader moves on")

	// A fenced broker's follower does not hold it back.
	require.True(t, l.FollowerFetched(2, 5, 100, 10, 100, 30))
	require.Equal(t, int64(10), int64(l.LowWatermark(50, alive)))
	require.Equal(t, int64(45), int64(l.LowWatermark(50, func(id int32) bool { return id != 2 })))
}

// A committed state keeps the followers' log starts; a replica added starts unknown, and a new
// leadership knows none (Kafka resets the remote replicas' state in makeLeader).
func TestLowWatermarkAcrossStates(t *testing.T) {
	st := State{LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}
	l := NewLeader(1, st, 50, 50, 0, lagMs)
	alive := func(int32) bool { return true }
	require.True(t, l.FollowerFetched(2, 5, 50, 20, 50, 10))
	require.Equal(t, int64(20), int64(l.LowWatermark(20, alive)))

	require.True(t, l.Update(State{LeaderEpoch: 1, PartitionEpoch: 2, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}}, 20))
	require.Equal(t, int64(-1), int64(l.LowWatermark(20, alive)), "replica 3 was added and has not fetched")
	require.Equal(t, int64(20), int64(l.LowWatermark(20, func(id int32) bool { return id != 3 })), "replica 2 kept its log start")

	require.True(t, l.Update(State{LeaderEpoch: 1, PartitionEpoch: 3, Replicas: []int32{1, 3}, ISR: []int32{1}}, 30))
	require.True(t, l.FollowerFetched(3, 7, 50, 25, 50, 30))
	require.False(t, l.FollowerFetched(2, 5, 50, 0, 50, 30), "replica 2 was removed")
	require.Equal(t, int64(20), int64(l.LowWatermark(20, alive)), "a removed replica does not count")

	next := NewLeader(1, State{LeaderEpoch: 2, PartitionEpoch: 4, Replicas: []int32{1, 3}, ISR: []int32{1, 3}}, 50, 50, 40, lagMs)
	require.Equal(t, int64(-1), int64(next.LowWatermark(20, alive)))
}

// A leader's log cut by its own damage (LogCut) never loses records below the high
// watermark; a cut below the epoch start moves the epoch start down to it. Followers'
// progress past the cut goes back to it, so the high watermark does not count records the
// leader no longer has.
func TestLogCutNeverBelowTheHighWatermark(t *testing.T) {
	st := State{LeaderEpoch: 3, PartitionEpoch: 5, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}}
	for _, tc := range []struct {
		name           string
		hw, end        record.Offset
		wantPanic      bool
		wantEpochStart record.Offset
	}{
		{"below the high watermark", 105, 104, true, 0},
		{"at the high watermark", 105, 105, false, 100},
		{"below the epoch start, above the high watermark", 90, 95, false, 95},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLeader(1, st, 100, 90, 0, lagMs)
			l.FollowerFetched(2, 7, 110, 0, 110, 0)
			l.FollowerFetched(3, 7, tc.hw, 0, 110, 0)
			if tc.hw > 90 && (!l.AdvanceHighWatermark(110, 2) || l.HighWatermark() != tc.hw) {
				t.Fatalf("high watermark %d, want %d", l.HighWatermark(), tc.hw)
			}
			defer func() {
				if r := recover(); (r != nil) != tc.wantPanic {
					t.Fatalf("LogCut(%d): panic %v, want one: %v", tc.end, r, tc.wantPanic)
				}
			}()
			l.LogCut(tc.end)
			if l.EpochStart() != tc.wantEpochStart {
				t.Fatalf("epoch start %d after the cut to %d, want %d", l.EpochStart(), tc.end, tc.wantEpochStart)
			}
			if f, _ := l.Follower(2); f.LogEndOffset != tc.end {
				t.Fatalf("follower 2 at %d after the cut to %d", f.LogEndOffset, tc.end)
			}
			if l.AdvanceHighWatermark(tc.end, 2) && l.HighWatermark() > tc.end {
				t.Fatalf("the high watermark moved to %d past the cut log", l.HighWatermark())
			}
		})
	}
}
