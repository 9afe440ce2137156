package replica

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
)

// modelLog is a log as the epoch of each record, offsets from 0: with one leader per epoch
// appending in order, (epoch, offset) names a record.
type modelLog []record.Epoch

func (m modelLog) entries() []log.EpochEntry {
	var out []log.EpochEntry
	for o, e := range m {
		if len(out) == 0 || out[len(out)-1].Epoch != e {
			out = append(out, log.EpochEntry{Epoch: e, StartOffset: record.Offset(o)})
		}
	}
	return out
}

// endOffsetFor is OffsetForLeaderEpoch on a leader's model log, as log.Log.EndOffsetForEpoch
// answers it once the leader recorded its own epoch, leaderEpoch, at its log end when it was
// elected (log.AssignEpochStart).
func (m modelLog) endOffsetFor(epoch, leaderEpoch record.Epoch) EpochEnd {
	es := m.entries()
	if len(es) == 0 || es[len(es)-1].Epoch < leaderEpoch {
		es = append(es, log.EpochEntry{Epoch: leaderEpoch, StartOffset: record.Offset(len(m))})
	}
	if len(es) == 0 {
		return EpochEnd{Epoch: -1, EndOffset: -1}
	}
	if es[len(es)-1].Epoch == epoch {
		return EpochEnd{Epoch: epoch, EndOffset: record.Offset(len(m))}
	}
	for i, e := range es {
		if e.Epoch > epoch {
			if i == 0 {
				return EpochEnd{Epoch: epoch, EndOffset: e.StartOffset}
			}
			return EpochEnd{Epoch: es[i-1].Epoch, EndOffset: e.StartOffset}
		}
	}
	return EpochEnd{Epoch: es[len(es)-1].Epoch, EndOffset: record.Offset(len(m))}
}

func (m modelLog) latestEpoch() record.Epoch {
	if len(m) == 0 {
		return -1
	}
	return m[len(m)-1]
}

// catchUp runs the follower's fetch loop against the leader until a fetch passes the check,
// then copies the leader's records; it returns the number of truncations.
func catchUp(t *rapid.T, leader modelLog, leaderEpoch record.Epoch, follower modelLog) (modelLog, int) {
	for rounds := 0; ; rounds++ {
		if rounds > len(leader)+len(follower)+2 {
			t.Fatalf("no agreement after %d rounds: leader %v follower %v", rounds, leader, follower)
		}
		fetch := record.Offset(len(follower))
		last := follower.latestEpoch()
		if fetch > record.Offset(len(leader)) && last < 0 {
			t.Fatalf("epochless follower past the leader's end")
		}
		div, diverged := Diverged(fetch, last, leader.endOffsetFor(last, leaderEpoch))
		if !diverged && fetch <= record.Offset(len(leader)) {
			return append(follower, leader[fetch:]...), rounds
		}
		if !diverged {
			t.Fatalf("fetch at %d past the leader's end %d passed the check (follower %v leader %v)", fetch, len(leader), follower, leader)
		}
		to := TruncationOffset(follower.entries(), fetch, div)
		if to > fetch {
			t.Fatalf("truncation to %d above the log end %d", to, fetch)
		}
		if to == fetch {
			t.Fatalf("truncation makes no progress at %d: follower %v leader %v div %+v", fetch, follower, leader, div)
		}
		follower = follower[:to]
	}
}

// TestDivergenceConverges drives three replicas through random leaderships (any replica may
// lead, as after unclean elections), appends and crashes that drop a suffix (a crashed
// leader's epoch ends with it), and follower
// catch-ups through the fetch check: each catch-up ends with the follower's log a prefix of
// the leader's, record for record.
func TestDivergenceConverges(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		logs := make([]modelLog, 3)
		epoch, leader := record.Epoch(0), 0
		for range rapid.IntRange(1, 60).Draw(t, "steps") {
			switch rapid.IntRange(0, 3).Draw(t, "op") {
			case 0:
				epoch++
				leader = rapid.IntRange(0, 2).Draw(t, "leader")
			case 1:
				for range rapid.IntRange(1, 4).Draw(t, "appends") {
					logs[leader] = append(logs[leader], epoch)
				}
			case 2:
				r := rapid.IntRange(0, 2).Draw(t, "crashed")
				logs[r] = logs[r][:rapid.IntRange(0, len(logs[r])).Draw(t, "kept")]
				if r == leader {
					// A restarted broker registers again and is fenced: its leaderships
					// move to new epochs, so no epoch is appended to after a crash.
					epoch++
					leader = rapid.IntRange(0, 2).Draw(t, "leader")
				}
			case 3:
				f := rapid.IntRange(0, 2).Draw(t, "follower")
				if f == leader {
					continue
				}
				caught, _ := catchUp(t, logs[leader], epoch, slices.Clone(logs[f]))
				if !slices.Equal(caught, logs[leader]) {
					t.Fatalf("follower %v is not the leader's log %v", caught, logs[leader])
				}
				logs[f] = caught
			}
		}
	})
}

func TestTruncationOffset(t *testing.T) {
	es := []log.EpochEntry{{Epoch: 1, StartOffset: 0}, {Epoch: 3, StartOffset: 10}, {Epoch: 5, StartOffset: 20}}
	for _, tc := range []struct {
		name string
		div  EpochEnd
		want record.Offset
	}{
		{"same epoch, the leader ends it earlier", EpochEnd{Epoch: 3, EndOffset: 15}, 15},
		{"same epoch, the leader ends it later", EpochEnd{Epoch: 3, EndOffset: 25}, 20},
		{"the leader's epoch unknown here: intermediate cut at our epoch below", EpochEnd{Epoch: 4, EndOffset: 18}, 20},
		{"latest epoch", EpochEnd{Epoch: 5, EndOffset: 22}, 22},
		{"no epoch at or below: nothing kept", EpochEnd{Epoch: 0, EndOffset: 7}, 0},
		{"the leader knows no epoch", EpochEnd{Epoch: -1, EndOffset: -1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, TruncationOffset(es, 30, tc.div))
		})
	}
	require.Equal(t, record.Offset(4), TruncationOffset(nil, 9, EpochEnd{Epoch: 2, EndOffset: 4}))
	require.Equal(t, record.Offset(9), TruncationOffset(nil, 9, EpochEnd{Epoch: -1, EndOffset: -1}))
}

func TestDiverged(t *testing.T) {
	_, d := Diverged(10, -1, EpochEnd{Epoch: -1, EndOffset: -1})
	require.False(t, d, "a fetch without a last fetched epoch is not checked")
	_, d = Diverged(10, 3, EpochEnd{Epoch: 3, EndOffset: 10})
	require.False(t, d)
	// Sim seed 134 (5 brokers, every fault): retention emptied both logs at 24; the follower's
	// epoch cache kept {0, 24}, the leader's none. Answering "diverged" there sent the
	// follower a truncation it could not make (nothing of its log is below 24), so it fetched
	// the same answer forever and never rejoined the ISR.
	_, d = Diverged(24, 0, EpochEnd{Epoch: -1, EndOffset: -1})
	require.False(t, d, "a leader knowing no epoch has nothing to compare")
	div, d := Diverged(10, 3, EpochEnd{Epoch: 3, EndOffset: 8})
	require.True(t, d)
	require.Equal(t, EpochEnd{Epoch: 3, EndOffset: 8}, div)
	div, d = Diverged(10, 4, EpochEnd{Epoch: 2, EndOffset: 12})
	require.True(t, d, "the leader never had epoch 4")
	require.Equal(t, EpochEnd{Epoch: 2, EndOffset: 12}, div)
}
