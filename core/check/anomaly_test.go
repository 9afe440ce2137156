package check

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// plain builds the common clean history: client 1 (idempotent) sends a,b (0..1) and d (3),
// client 2 sends c (2); client 3 reads 0..1 then 2..3. The caller adds the final read.
func plain() *builder {
	b := newBuilder()
	b.idempotent[1] = true
	b.produce(1, OutcomeOK, 0, "a", "b")
	b.produce(2, OutcomeOK, 2, "c")
	b.produce(1, OutcomeOK, 3, "d")
	b.fetch(3, 0, 4, recs(0, "a", "b")...)
	b.fetch(3, 2, 4, recs(2, "c", "d")...)
	return b
}

// plainFinal is plain with a complete final read.
func plainFinal() *builder {
	b := plain()
	b.final(0, 4, 0, recs(0, "a", "b", "c", "d")...)
	return b
}

// anomalyCases plant each anomaly class in an otherwise clean history. want lists every class
// the dirty history must report, exactly; the clean history must report nothing at all.
var anomalyCases = []struct {
	name    string
	want    []Anomaly
	opts    Options
	history func(dirty bool) History
}{
	{
		name: "lost-write: acknowledged and read, then truncated below the final high watermark",
		want: []Anomaly{LostWrite},
		history: func(dirty bool) History {
			b := plain()
			if dirty {
				b.final(0, 3, 0, recs(0, "a", "b", "c")...)
			} else {
				b.final(0, 4, 0, recs(0, "a", "b", "c", "d")...)
			}
			return b.h
		},
	},
	{
		name: "lost-write: an unknown produce's value read below the high watermark, then gone",
		want: []Anomaly{LostWrite},
		history: func(dirty bool) History {
			b := plain()
			b.produce(2, OutcomeUnknown, -1, "x")
			b.fetch(3, 4, 5, rec(4, "x"))
			if dirty {
				b.final(0, 4, 0, recs(0, "a", "b", "c", "d")...)
			} else {
				b.final(0, 5, 0, recs(0, "a", "b", "c", "d", "x")...)
			}
			return b.h
		},
	},
	{
		name: "lost-write: the final read holds another value at an acknowledged offset",
		want: []Anomaly{LostWrite, InconsistentOffsets},
		history: func(dirty bool) History {
			b := plain()
			b.produce(2, OutcomeUnknown, -1, "x")
			b.produce(2, OutcomeUnknown, -1, "x") // a non-idempotent retry: x's place is not inferred
			if dirty {
				b.final(0, 4, 0, join(recs(0, "a", "b", "c"), recs(3, "x"))...)
			} else {
				b.final(0, 5, 0, recs(0, "a", "b", "c", "d", "x")...)
			}
			return b.h
		},
	},
	{
		name: "duplicate: an idempotent producer's value at two offsets",
		want: []Anomaly{Duplicate},
		history: func(dirty bool) History {
			b := plain()
			if dirty {
				b.fetch(3, 4, 5, rec(4, "a"))
				b.final(0, 5, 0, recs(0, "a", "b", "c", "d", "a")...)
			} else {
				b.final(0, 4, 0, recs(0, "a", "b", "c", "d")...)
			}
			return b.h
		},
	},
	{
		// The counterpart of TestAllowed's retries after retention: once a new batch of the
		// session was appended after the producer's state was forgotten, the state is back,
		// and a retry of an older batch is out of order, never appended again.
		name: "duplicate: an idempotent retry appended after a newer batch of its session",
		want: []Anomaly{Duplicate},
		history: func(dirty bool) History {
			b := newBuilder()
			b.idempotent[1] = true
			b.produce(1, OutcomeOK, 0, "a")
			b.fetch(2, 0, 1, rec(0, "a"))
			b.produce(1, OutcomeOK, 5, "n")
			if dirty {
				b.final(5, 7, 5, rec(5, "n"), rec(6, "a"))
			} else {
				b.final(5, 6, 5, rec(5, "n"))
			}
			return b.h
		},
	},
	{
		name: "inconsistent-offsets: a read disagrees with an acknowledged produce",
		want: []Anomaly{InconsistentOffsets},
		history: func(dirty bool) History {
			b := newBuilder()
			b.produce(1, OutcomeOK, 0, "a", "b")
			b.produce(2, OutcomeUnknown, -1, "x")
			b.produce(2, OutcomeUnknown, -1, "x")
			if dirty {
				b.fetch(3, 0, 2, recs(0, "a", "x")...)
			} else {
				b.fetch(3, 0, 2, recs(0, "a", "b")...)
			}
			return b.h
		},
	},
	{
		name: "nonmonotonic-send: pipelined idempotent produces acknowledged out of order",
		want: []Anomaly{NonmonotonicSend},
		history: func(dirty bool) History {
			b := newBuilder()
			b.idempotent[1] = true
			first, second := int64(0), int64(1)
			if dirty {
				first, second = 1, 0
			}
			p1 := b.produceOp(1, OutcomeOK, first, "a")
			p1.InvokeNs, p1.CompleteNs = 1, 10
			b.add(p1)
			p2 := b.produceOp(1, OutcomeOK, second, "b")
			p2.InvokeNs, p2.CompleteNs = 2, 11
			b.add(p2)
			values := []string{"a", "b"}
			if dirty {
				values = []string{"b", "a"}
			}
			b.fetch(3, 0, 2, recs(0, values...)...)
			b.final(0, 2, 0, recs(0, values...)...)
			return b.h
		},
	},
	{
		name: "nonmonotonic-send: a client's later produce lands below its earlier, completed one",
		want: []Anomaly{NonmonotonicSend, NotLinearizable},
		history: func(dirty bool) History {
			b := newBuilder()
			first, second := int64(0), int64(1)
			if dirty {
				first, second = 1, 0
			}
			b.produce(1, OutcomeOK, first, "a")
			b.produce(1, OutcomeOK, second, "b")
			if dirty {
				b.final(0, 2, 0, recs(0, "b", "a")...)
			} else {
				b.final(0, 2, 0, recs(0, "a", "b")...)
			}
			return b.h
		},
	},
	{
		name: "poll-skip: the client's fetch offset jumps forward over a record",
		want: []Anomaly{PollSkip},
		history: func(dirty bool) History {
			b := newBuilder()
			b.produce(1, OutcomeOK, 0, "a", "b", "c", "d")
			b.fetch(3, 0, 4, recs(0, "a", "b")...)
			if dirty {
				b.fetch(3, 3, 4, recs(3, "d")...)
			} else {
				b.fetch(3, 2, 4, recs(2, "c", "d")...)
			}
			b.final(0, 4, 0, recs(0, "a", "b", "c", "d")...)
			return b.h
		},
	},
	{
		name: "nonmonotonic-poll: a fetch goes back below the previous fetch's last offset",
		want: []Anomaly{NonmonotonicPoll},
		history: func(dirty bool) History {
			b := newBuilder()
			b.produce(1, OutcomeOK, 0, "a", "b", "c", "d")
			b.fetch(3, 0, 4, recs(0, "a", "b")...)
			if dirty {
				b.fetch(3, 2, 4, recs(1, "b", "c", "d")...)
			} else {
				b.fetch(3, 2, 4, recs(2, "c", "d")...)
			}
			b.final(0, 4, 0, recs(0, "a", "b", "c", "d")...)
			return b.h
		},
	},
	{
		name: "int-nonmonotonic-poll: one fetch's offsets go back",
		want: []Anomaly{IntNonmonotonicPoll},
		history: func(dirty bool) History {
			b := newBuilder()
			b.produce(1, OutcomeOK, 0, "a", "b", "c")
			if dirty {
				b.fetch(3, 0, 3, rec(0, "a"), rec(1, "b"), rec(2, "c"), rec(1, "b"))
			} else {
				b.fetch(3, 0, 3, recs(0, "a", "b", "c")...)
			}
			b.final(0, 3, 0, recs(0, "a", "b", "c")...)
			return b.h
		},
	},
	{
		name: "poll-skip: the next fetch starts above the client's position over a record",
		want: []Anomaly{PollSkip},
		history: func(dirty bool) History {
			b := plain()
			if dirty {
				b.fetch(4, 0, 4, recs(0, "a", "b")...)
				b.fetch(4, 2, 4, rec(3, "d"))
			}
			b.final(0, 4, 0, recs(0, "a", "b", "c", "d")...)
			return b.h
		},
	},
	{
		name: "int-poll-skip: one fetch jumps over a record",
		want: []Anomaly{IntPollSkip},
		history: func(dirty bool) History {
			b := newBuilder()
			b.produce(1, OutcomeOK, 0, "a", "b", "c")
			if dirty {
				b.fetch(3, 0, 3, rec(0, "a"), rec(2, "c"))
			} else {
				b.fetch(3, 0, 3, recs(0, "a", "b", "c")...)
			}
			b.final(0, 3, 0, recs(0, "a", "b", "c")...)
			return b.h
		},
	},
	{
		name: "unseen: an acknowledged value no fetch returned, the final read complete",
		want: []Anomaly{LostWrite, Unseen},
		history: func(dirty bool) History {
			b := newBuilder()
			b.produce(1, OutcomeOK, 0, "a", "b")
			b.produce(2, OutcomeOK, 2, "c")
			if dirty {
				b.final(0, 2, 0, recs(0, "a", "b")...)
			} else {
				b.final(0, 3, 0, recs(0, "a", "b", "c")...)
			}
			return b.h
		},
	},
	{
		name: "read-above-hw: a fetch returns a record at its own high watermark",
		want: []Anomaly{ReadAboveHW},
		history: func(dirty bool) History {
			b := newBuilder()
			b.produce(1, OutcomeOK, 0, "a", "b")
			hw := int64(2)
			if dirty {
				hw = 1
			}
			b.fetch(3, 0, hw, recs(0, "a", "b")...)
			b.final(0, 2, 0, recs(0, "a", "b")...)
			return b.h
		},
	},
	{
		name: "G1a: a failed produce's value is read",
		want: []Anomaly{AbortedRead},
		history: func(dirty bool) History {
			b := plain()
			b.produce(2, OutcomeFailed, -1, "x")
			if dirty {
				b.final(0, 5, 0, recs(0, "a", "b", "c", "d", "x")...)
			} else {
				b.final(0, 4, 0, recs(0, "a", "b", "c", "d")...)
			}
			return b.h
		},
	},
	{
		name: "unwritten-read: a fetch returns a value nobody sent to the partition",
		want: []Anomaly{UnwrittenRead},
		history: func(dirty bool) History {
			b := plain()
			if dirty {
				b.final(0, 5, 0, recs(0, "a", "b", "c", "d", "garbage")...)
			} else {
				b.final(0, 4, 0, recs(0, "a", "b", "c", "d")...)
			}
			return b.h
		},
	},
	{
		name: "not-linearizable: a later produce lands below an earlier, completed one",
		want: []Anomaly{NotLinearizable},
		history: func(dirty bool) History {
			b := newBuilder()
			b.produce(1, OutcomeOK, 0, "a")
			if dirty {
				b.produce(2, OutcomeOK, 2, "b") // completes first, at 2
				b.produce(3, OutcomeOK, 1, "c") // invoked later, lands at 1
				b.final(0, 3, 0, recs(0, "a", "c", "b")...)
			} else {
				b.produce(2, OutcomeOK, 1, "b")
				b.produce(3, OutcomeOK, 2, "c")
				b.final(0, 3, 0, recs(0, "a", "b", "c")...)
			}
			return b.h
		},
	},
	{
		name: "not-linearizable: an unknown produce lands below one completed before it began",
		want: []Anomaly{NotLinearizable},
		history: func(dirty bool) History {
			b := newBuilder()
			b.produce(1, OutcomeOK, 0, "a")
			if dirty {
				b.produce(1, OutcomeOK, 2, "b")
				b.produce(2, OutcomeUnknown, -1, "x")
				b.final(0, 3, 0, recs(0, "a", "x", "b")...)
			} else {
				b.produce(1, OutcomeOK, 1, "b")
				b.produce(2, OutcomeUnknown, -1, "x")
				b.final(0, 3, 0, recs(0, "a", "b", "x")...)
			}
			return b.h
		},
	},
	{
		name: "incomplete-final-read: the final reads stop short of the high watermark",
		want: []Anomaly{IncompleteFinalRead},
		history: func(dirty bool) History {
			b := plain()
			b.final(0, 4, 0, recs(0, "a", "b")...)
			if !dirty {
				b.final(2, 4, 0, recs(2, "c", "d")...)
			}
			return b.h
		},
	},
	{
		name: "incomplete-final-read: final reads required, none made",
		want: []Anomaly{IncompleteFinalRead},
		opts: Options{RequireFinalReads: true},
		history: func(dirty bool) History {
			b := plain()
			if !dirty {
				b.final(0, 4, 0, recs(0, "a", "b", "c", "d")...)
			}
			return b.h
		},
	},
	{
		name: "invalid-history: an op out of place",
		want: []Anomaly{InvalidHistory},
		history: func(dirty bool) History {
			h := plainFinal().h
			if dirty {
				h.Ops[1].Index = 7
			}
			return h
		},
	},
}

func TestAnomalyPlanted(t *testing.T) {
	for _, tc := range anomalyCases {
		t.Run(tc.name, func(t *testing.T) {
			clean := Check(tc.history(false), tc.opts)
			if !clean.Valid() || len(clean.Info) > 0 {
				t.Fatalf("clean history: %s", clean.Details())
			}
			dirty := Check(tc.history(true), tc.opts)
			if got := anomalyNames(dirty); !slices.Equal(got, sortedAnomalies(tc.want)) {
				t.Fatalf("dirty history reported %v, want %v:\n%s", got, sortedAnomalies(tc.want), dirty.Details())
			}
			if dirty.Valid() {
				t.Fatal("dirty history is Valid")
			}
			for _, f := range dirty.Anomalies {
				if f.Count == 0 || len(f.Examples) == 0 {
					t.Fatalf("%s: no count or example: %s", f.Anomaly, dirty.Details())
				}
				if !strings.Contains(dirty.String(), string(f.Anomaly)) {
					t.Fatalf("String() %q does not name %s", dirty.String(), f.Anomaly)
				}
			}
		})
	}
}

func sortedAnomalies(as []Anomaly) []Anomaly {
	out := slices.Clone(as)
	slices.Sort(out)
	return out
}

// TestAllowed holds histories Kafka's semantics allow, each near an anomaly's boundary.
func TestAllowed(t *testing.T) {
	cases := []struct {
		name     string
		wantInfo []Anomaly
		history  func() History
	}{
		{
			name: "records below the final log start are not lost (retention, DeleteRecords)",
			history: func() History {
				b := plain()
				b.final(2, 4, 2, recs(2, "c", "d")...)
				return b.h
			},
		},
		{
			name:     "an idempotent retry appended again after retention deleted the first copy (and the producer's state)",
			wantInfo: []Anomaly{Duplicate},
			history: func() History {
				b := newBuilder()
				b.idempotent[1] = true
				b.produce(1, OutcomeOK, 0, "a")
				b.fetch(2, 0, 1, rec(0, "a"))
				b.produce(1, OutcomeOK, 5, "a") // the retry, after offsets 0-4 were deleted
				b.final(5, 6, 5, rec(5, "a"))
				return b.h
			},
		},
		{
			// Seed 39 with every fault: two batches in flight were appended, retention deleted
			// them (and so the producer's state), then both retries were appended again. The
			// first retry re-seeds the state with its old sequence; the second follows it in
			// order, so Kafka appends it too.
			name:     "several idempotent retries appended again, in order, after retention deleted their first copies",
			wantInfo: []Anomaly{Duplicate},
			history:  func() History { return retriedTwice(true) },
		},
		{
			// Seed 154 with clock, crash and net faults: as above, but nobody read the first
			// copy of the earlier batch before retention deleted it. Its retry between the
			// copies of the later one is still no sign the state was remembered: it was sent
			// first, with the lower sequence, so it is a retry too.
			name:     "an idempotent retry appended again after an earlier retry whose first copy nobody read",
			wantInfo: []Anomaly{Duplicate},
			history:  func() History { return retriedTwice(false) },
		},
		{
			// Seed 294 with clock, crash and net faults: the later batch was appended, deleted
			// by retention with its producer's state, and the earlier batch's retry was then
			// accepted above it, as Kafka accepts any sequence from a producer it forgot.
			name:     "pipelined idempotent produces out of order once the later one was deleted with its producer's state",
			wantInfo: []Anomaly{NonmonotonicSend, Unseen},
			history: func() History {
				b := newBuilder()
				b.idempotent[1] = true
				p1 := b.produceOp(1, OutcomeOK, 6, "a")
				p1.InvokeNs, p1.CompleteNs = 1, 100
				b.add(p1)
				p2 := b.produceOp(1, OutcomeOK, 2, "b")
				p2.InvokeNs, p2.CompleteNs = 2, 10
				b.add(p2)
				b.final(5, 7, 5, rec(6, "a"))
				return b.h
			},
		},
		{
			name: "a fetch may skip records below its answer's log start (offset reset after deletion)",
			history: func() History {
				b := plain()
				b.add(Op{Client: 4, Kind: OpFetch, Outcome: OutcomeOK, FetchOffset: 0, HighWatermark: 4, LogStartOffset: 0, Records: recs(0, "a")})
				b.add(Op{Client: 4, Kind: OpFetch, Outcome: OutcomeOK, FetchOffset: 3, HighWatermark: 4, LogStartOffset: 3, Records: recs(3, "d")})
				b.final(0, 4, 0, recs(0, "a", "b", "c", "d")...)
				return b.h
			},
		},
		{
			name: "a client that rewinds may read offsets again",
			history: func() History {
				b := plain()
				b.fetch(3, 1, 4, recs(1, "b", "c")...)
				b.final(0, 4, 0, recs(0, "a", "b", "c", "d")...)
				return b.h
			},
		},
		{
			name: "a client that seeks forward past gaps (control records) skips nothing",
			history: func() History {
				b := newBuilder()
				b.produce(1, OutcomeOK, 0, "a")
				b.produce(1, OutcomeOK, 2, "b") // offset 1 is a gap
				b.fetch(3, 0, 3, rec(0, "a"))
				b.fetch(3, 2, 3, rec(2, "b"))
				b.final(0, 3, 0, rec(0, "a"), rec(2, "b"))
				return b.h
			},
		},
		{
			name:     "a non-idempotent producer's retry may duplicate",
			wantInfo: []Anomaly{Duplicate},
			history: func() History {
				b := plain()
				b.produce(2, OutcomeUnknown, -1, "x")
				b.produce(2, OutcomeOK, 5, "x")
				b.final(0, 6, 0, recs(0, "a", "b", "c", "d", "x", "x")...)
				return b.h
			},
		},
		{
			name:     "an idempotent value resent in a new producer session may duplicate",
			wantInfo: []Anomaly{Duplicate},
			history: func() History {
				b := plain()
				b.idempotent[5] = true
				b.produce(5, OutcomeUnknown, -1, "x")
				op := b.produceOp(5, OutcomeOK, 5, "x")
				op.ProducerEpoch = 1
				b.add(op)
				b.final(0, 6, 0, recs(0, "a", "b", "c", "d", "x", "x")...)
				return b.h
			},
		},
		{
			name: "overlapping produces of a non-idempotent client may be reordered",
			history: func() History {
				b := newBuilder()
				p1 := b.produceOp(1, OutcomeOK, 1, "a")
				p1.InvokeNs, p1.CompleteNs = 1, 10
				b.add(p1)
				p2 := b.produceOp(1, OutcomeOK, 0, "b")
				p2.InvokeNs, p2.CompleteNs = 2, 11
				b.add(p2)
				b.final(0, 2, 0, recs(0, "b", "a")...)
				return b.h
			},
		},
		{
			name:     "without final reads an unread acknowledged value is only information",
			wantInfo: []Anomaly{Unseen},
			history: func() History {
				b := newBuilder()
				b.produce(1, OutcomeOK, 0, "a")
				return b.h
			},
		},
		{
			name: "an unknown produce that never landed, and a failed one, are fine",
			history: func() History {
				b := plain()
				b.produce(2, OutcomeUnknown, -1, "x")
				b.produce(2, OutcomeFailed, -1, "y")
				b.final(0, 4, 0, recs(0, "a", "b", "c", "d")...)
				return b.h
			},
		},
		{
			name: "a stale high watermark (deposed leader) is no anomaly",
			history: func() History {
				b := plain()
				b.fetch(4, 0, 1, rec(0, "a"))
				b.final(0, 4, 0, recs(0, "a", "b", "c", "d")...)
				return b.h
			},
		},
		{
			name: "an empty partition read back empty",
			history: func() History {
				b := newBuilder()
				b.produce(1, OutcomeFailed, -1, "a")
				b.final(0, 0, 0)
				return b.h
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(tc.history(), Options{})
			if !r.Valid() {
				t.Fatalf("%s", r.Details())
			}
			var info []Anomaly
			for _, f := range r.Info {
				info = append(info, f.Anomaly)
			}
			if !slices.Equal(info, tc.wantInfo) {
				t.Fatalf("info %v, want %v:\n%s", info, tc.wantInfo, r.Details())
			}
		})
	}
}

// adversarial is n concurrent produces acknowledged in the reverse of their invocation order:
// linearizable, and exponential for porcupine with the unpruned specification (25 such
// produces take it over 20 s).
func adversarial(n int) *builder {
	b := newBuilder()
	for i := range n {
		op := b.produceOp(i, OutcomeOK, int64(n-1-i), "v"+strconv.Itoa(i))
		op.InvokeNs, op.CompleteNs = int64(i+1), int64(10*n)
		b.add(op)
	}
	return b
}

func TestPrunedModelDecidesAdversarialHistories(t *testing.T) {
	if r := Check(adversarial(2000).h, Options{}); !r.Valid() {
		t.Fatalf("%s", r.Details())
	}
	// The same with every base doubled (gaps between), and one more produce, invoked after
	// every other completed, landing in the gap at 1.
	b := adversarial(2000)
	for i := range b.h.Ops {
		b.h.Ops[i].Records[0].Offset *= 2
	}
	b.produce(5000, OutcomeOK, 1, "late")
	ops := linearOps(newPartitionView(splitPartitions(b.h)[0]))
	if got := porcupine.CheckOperationsTimeout(offsetModel(ops), porcupineOps(ops), 10*time.Second); got != porcupine.Illegal {
		t.Fatalf("porcupine: %s", got)
	}
	if r := Check(b.h, Options{}); !slices.Equal(anomalyNames(r), []Anomaly{NotLinearizable}) {
		t.Fatalf("%s", r.Details())
	}
}

// undecided stands for a porcupine search that ran out of time.
func undecided(porcupine.Model, []porcupine.Operation, time.Duration) porcupine.CheckResult {
	return porcupine.Unknown
}

func checkLinearizableUndecided(h History) Report {
	c := newCollector(DefaultExamplesMax)
	for _, p := range splitPartitions(h) {
		checkLinearizableWith(c, newPartitionView(p), time.Second, undecided)
	}
	return Report{Anomalies: c.findings(c.anomalies), Info: c.findings(c.info)}
}

func TestLinearizabilityTimeoutIsAFailure(t *testing.T) {
	r := checkLinearizableUndecided(adversarial(10).h)
	if got := anomalyNames(r); !slices.Equal(got, []Anomaly{LinearizabilityTimeout}) || r.Valid() {
		t.Fatalf("want only %s: %s", LinearizabilityTimeout, r.Details())
	}
}

func TestLinearizabilityWitnessSettlesATimeout(t *testing.T) {
	b := adversarial(10)
	b.produce(500, OutcomeOK, 0, "late")
	r := checkLinearizableUndecided(b.h)
	if got := anomalyNames(r); !slices.Equal(got, []Anomaly{NotLinearizable}) {
		t.Fatalf("want only %s: %s", NotLinearizable, r.Details())
	}
}

func TestReportStrings(t *testing.T) {
	b := plain()
	b.final(0, 3, 0, recs(0, "a", "b", "c")...)
	r := Check(b.h, Options{})
	const wantLine = `invalid: 6 ops, 1 partitions; lost-write x1 e.g. t/0@3 value "d" ops 2,4: at or above the final high watermark 3`
	if r.String() != wantLine {
		t.Fatalf("String()\n got %s\nwant %s", r.String(), wantLine)
	}
	const wantDetails = "invalid: 6 ops, 1 partitions\n" +
		"anomaly lost-write x1\n" +
		`    t/0@3 value "d" ops 2,4: at or above the final high watermark 3` + "\n"
	if r.Details() != wantDetails {
		t.Fatalf("Details()\n got %q\nwant %q", r.Details(), wantDetails)
	}
	if got := Check(plainFinal().h, Options{}).String(); got != "valid: 6 ops, 1 partitions" {
		t.Fatalf("valid String() = %q", got)
	}
}

func TestExamplesAreBoundedCountsAreNot(t *testing.T) {
	b := newBuilder()
	for i := range 20 {
		b.produce(1, OutcomeOK, int64(i), "v"+strconv.Itoa(i))
	}
	b.final(0, 0, 0)
	r := Check(b.h, Options{ExamplesMax: 3})
	if r.Count(LostWrite) != 20 || r.Count(Unseen) != 20 {
		t.Fatalf("counts: %s", r.Details())
	}
	for _, f := range r.Anomalies {
		if len(f.Examples) != 3 {
			t.Fatalf("%s kept %d examples", f.Anomaly, len(f.Examples))
		}
		if f.Examples[0].Offset != 0 || f.Examples[2].Offset != 2 {
			t.Fatalf("%s examples not the first in offset order: %+v", f.Anomaly, f.Examples)
		}
	}
}

func TestPartitionsAreCheckedApart(t *testing.T) {
	b := newBuilder()
	b.produce(1, OutcomeOK, 0, "a")
	op := b.produceOp(1, OutcomeOK, 0, "b")
	op.Partition = 1
	b.add(op)
	b.final(0, 1, 0, rec(0, "a"))
	fin := Op{Client: 99, Kind: OpFetch, Outcome: OutcomeOK, Partition: 1, FetchOffset: 0, HighWatermark: 1,
		LogStartOffset: 0, Final: true, Records: recs(0, "b")}
	b.add(fin)
	if r := Check(b.h, Options{}); !r.Valid() || r.PartitionCount != 2 {
		t.Fatalf("%s", r.Details())
	}
	// The same value read from the other partition was never sent there.
	b.h.Ops[len(b.h.Ops)-1].Records = recs(0, "a")
	r := Check(b.h, Options{})
	if !r.Has(UnwrittenRead) {
		t.Fatalf("%s", r.Details())
	}
}

func TestVisualize(t *testing.T) {
	var buf strings.Builder
	b := newBuilder()
	b.produce(1, OutcomeOK, 0, "a")
	b.produce(2, OutcomeOK, 2, "b")
	b.produce(3, OutcomeOK, 1, "c")
	if err := Visualize(&buf, b.h, "t", 0, time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "<html") || !strings.Contains(buf.String(), "op 2: produce 1 at 1") {
		t.Fatalf("no visualization of op 2 in %d bytes of output", buf.Len())
	}
	if err := Visualize(&buf, b.h, "t", 1, time.Second); err == nil {
		t.Fatal("visualized a partition the history does not hold")
	}
}

// TestRetentionRule: with a topic's retention declared, a record below the final log start is
// a lost write unless retention could have deleted it by the broker's wall clock.
func TestRetentionRule(t *testing.T) {
	const wallMaxMs, retentionMs = 1_000_000, 10_000
	history := func(timestampMs int64) History {
		b := newBuilder()
		op := b.produceOp(1, OutcomeOK, 0, "a", "b")
		op.Records[0].TimestampMs, op.Records[1].TimestampMs = timestampMs, timestampMs
		b.add(op)
		b.produce(1, OutcomeOK, 2, "c")
		b.final(2, 3, 2, rec(2, "c")) // "a" and "b" were deleted
		return b.h
	}
	for _, tc := range []struct {
		name        string
		timestampMs int64
		retention   map[string]Retention
		want        []Anomaly
	}{
		{"no retention declared: anything below the log start may be gone", wallMaxMs, nil, nil},
		{"old enough to be deleted", wallMaxMs - retentionMs - 1, map[string]Retention{"t": {Ms: retentionMs, WallClockMaxMs: wallMaxMs}}, nil},
		{"unknown timestamp: may have been deleted", 0, map[string]Retention{"t": {Ms: retentionMs, WallClockMaxMs: wallMaxMs}}, nil},
		{"too young to be deleted", wallMaxMs - retentionMs, map[string]Retention{"t": {Ms: retentionMs, WallClockMaxMs: wallMaxMs}}, []Anomaly{LostWrite, Unseen}},
		{"infinite retention: nothing may be deleted", 1, map[string]Retention{"t": {Ms: -1}}, []Anomaly{LostWrite, Unseen}},
	} {
		r := Check(history(tc.timestampMs), Options{RequireFinalReads: true, Retention: tc.retention})
		if got := anomalyNames(r); !slices.Equal(got, tc.want) {
			t.Errorf("%s: anomalies %v, want %v\n%s", tc.name, got, tc.want, r.Details())
		}
	}
}

// TestExcusedDamage: offsets a disk fault destroyed excuse the writes invoked before the damage
// (and let the final reads skip them), and nothing else.
func TestExcusedDamage(t *testing.T) {
	build := func(lateWrite bool) History {
		b := newBuilder()
		b.produce(1, OutcomeOK, 0, "a")
		b.produce(1, OutcomeOK, 1, "b") // destroyed at 1 by the disk
		op := b.produceOp(1, OutcomeOK, 2, "c")
		if lateWrite {
			op.InvokeNs, op.CompleteNs = 1_000, 1_001 // after the damage: not excused
		}
		b.add(op)
		b.final(0, 3, 0, rec(0, "a"))
		if !lateWrite {
			b.final(2, 3, 0, rec(2, "c"))
		}
		return b.h
	}
	damaged := func(lastOffset int64) func(string, int32, int64, int64) bool {
		return func(topic string, partition int32, offset, invokeNs int64) bool {
			return topic == "t" && partition == 0 && offset >= 1 && offset <= lastOffset && invokeNs <= 500
		}
	}
	// Without excuses the final reads have a hole at 1, and the final reader skipped it.
	if r := Check(build(false), Options{RequireFinalReads: true}); !r.Has(IncompleteFinalRead) || !r.Has(PollSkip) {
		t.Errorf("without excuses: %v", anomalyNames(r))
	}
	if r := Check(build(false), Options{RequireFinalReads: true, Excused: damaged(1)}); !r.Valid() {
		t.Errorf("offset 1 excused: %s", r.Details())
	}
	if r := Check(build(true), Options{RequireFinalReads: true, Excused: damaged(2)}); !r.Has(LostWrite) {
		t.Errorf("a write invoked after the damage must still be durable: %s", r.Details())
	}
}

// TestExcusedDamageReplicated: with replicated partitions a consumer may read a record from an
// intact replica after another replica's disk destroyed its copy, and that replica may lead
// later (sim seed 102, 5 brokers, RF=3: a follower wrote a batch with a flipped bit, stayed in
// the ISR and became leader). Replicated excuses such a record by its produce's invocation;
// a record written after the damage at the same offset still has to be read back.
func TestExcusedDamageReplicated(t *testing.T) {
	const damageNs = 500
	build := func(lateWrite bool) History {
		b := newBuilder()
		b.produce(1, OutcomeOK, 0, "a")
		op := b.produceOp(1, OutcomeOK, 1, "b") // its copy on one replica destroyed at damageNs
		if lateWrite {
			op.InvokeNs, op.CompleteNs = damageNs+10, damageNs+11
		}
		b.add(op)
		b.produce(1, OutcomeOK, 2, "c")
		// Read from an intact replica after the damage.
		b.add(Op{Client: 2, Kind: OpFetch, Outcome: OutcomeOK, FetchOffset: 0, HighWatermark: 3,
			InvokeNs: damageNs + 100, CompleteNs: damageNs + 101, Records: recs(0, "a", "b", "c")})
		// The damaged replica leads: the final reader steps over the batch it refuses.
		b.final(0, 3, 0, rec(0, "a"))
		b.final(2, 3, 0, rec(2, "c"))
		return b.h
	}
	damaged := func(topic string, partition int32, offset, invokeNs int64) bool {
		return topic == "t" && partition == 0 && offset == 1 && invokeNs <= damageNs
	}
	if r := Check(build(false), Options{RequireFinalReads: true, Excused: damaged}); !r.Has(LostWrite) {
		t.Errorf("judged by the fetch's invocation, the record read after the damage is a lost write: %s", r.Details())
	}
	if r := Check(build(false), Options{RequireFinalReads: true, Excused: damaged, Replicated: true}); !r.Valid() {
		t.Errorf("written before the damage, read from another replica: %s", r.Details())
	}
	r := Check(build(true), Options{RequireFinalReads: true, Excused: damaged, Replicated: true})
	if !r.Has(LostWrite) {
		t.Errorf("a record written after the damage must still be durable: %s", r.Details())
	}
}

// TestReplicatedLogStartGoesBack: a consumer told OFFSET_OUT_OF_RANGE by one leader resets to
// its log start; the next leader, whose retention deleted less, reports a lower one. Skipping
// the records below the reset is no poll-skip for replicated partitions (sim seed 102, 5
// brokers, RF=3), and still one for a single replica, whose log start never goes back.
func TestReplicatedLogStartGoesBack(t *testing.T) {
	b := newBuilder()
	b.produce(1, OutcomeOK, 0, "a", "b", "c", "d")
	b.fetch(2, 0, 4, rec(0, "a"), rec(1, "b"))
	b.add(Op{Client: 2, Kind: OpFetch, Outcome: OutcomeFailed, Err: "OFFSET_OUT_OF_RANGE", FetchOffset: 2,
		HighWatermark: 4, LogStartOffset: 3})
	b.fetch(2, 3, 4, rec(3, "d")) // the new leader: log start 0
	b.final(0, 4, 0, recs(0, "a", "b", "c", "d")...)
	if r := Check(b.h, Options{RequireFinalReads: true, Replicated: true}); !r.Valid() {
		t.Errorf("replicated: %s", r.Details())
	}
	if r := Check(b.h, Options{RequireFinalReads: true}); !r.Has(PollSkip) {
		t.Errorf("single replica: a skip below a log start the next answer contradicts must be reported: %v", anomalyNames(r))
	}
}

// TestExcusedSkipsLeaveTheViewIntact: the poll checks drop excused offsets from what they
// count as skipped without changing the partition's list of offsets that exist (seed 1817:
// an in-place delete zeroed part of it, and later checks reported offset 0 as skipped).
func TestExcusedSkipsLeaveTheViewIntact(t *testing.T) {
	b := newBuilder()
	b.produce(1, OutcomeOK, 0, "a", "b", "c", "d", "e", "f")
	b.fetch(2, 0, 6, rec(0, "a"), rec(3, "d")) // 1 and 2 destroyed: an excused skip
	b.fetch(2, 4, 6, rec(4, "e"), rec(5, "f"))
	b.final(0, 6, 0, rec(0, "a"), rec(3, "d"), rec(4, "e"), rec(5, "f"))
	parts := splitPartitions(b.h)
	v := newPartitionView(parts[0])
	before := slices.Clone(v.offsets)
	c := newCollector(DefaultExamplesMax)
	checkPolls(c, v, false, func(offset, _ int64) bool { return offset == 1 || offset == 2 })
	if !slices.Equal(v.offsets, before) {
		t.Fatalf("checkPolls changed the view's offsets from %v to %v", before, v.offsets)
	}
	if r := c.findings(c.anomalies); len(r) > 0 {
		t.Fatalf("excused skip reported: %v", r)
	}
}

// TestExcusedSkipsKeepPollChecksExact: a consumer stepping over offsets a disk fault destroyed
// is no poll-skip, and filtering those offsets out of one window must not change what later
// windows find (sim seeds 146 and 1865 with every fault: the filter once compacted the
// partition's sorted offsets in place, zeroing a run of them, and a later binary search
// landed in the zeros and reported offset 0 as skipped).
func TestExcusedSkipsKeepPollChecksExact(t *testing.T) {
	const damageNs = 10_000 // records fetched by fetches invoked before it may be gone
	build := func(realSkip bool) History {
		b := newBuilder()
		values := make([]string, 60)
		for i := range values {
			values[i] = "v" + strconv.Itoa(i)
		}
		b.produce(1, OutcomeOK, 0, values...)
		all := recs(0, values...)
		// Client 2 read 38..59 before the damage: 40..50 are dropped from its fetch, and the
		// gap they leave is excused.
		b.fetch(2, 38, 60, all[38:]...)
		// Client 3 read 0..19, then 20..36 before the damage: 20..35 are dropped, so its
		// position 20 is followed by 36, an excused step.
		b.fetch(3, 0, 60, all[:20]...)
		b.fetch(3, 20, 60, all[20:37]...)
		if realSkip {
			// Client 4, after the damage, steps from 10 to 15 over records nothing destroyed.
			b.add(Op{Client: 4, Kind: OpFetch, Outcome: OutcomeOK, FetchOffset: 0, HighWatermark: 60,
				InvokeNs: damageNs + 1, CompleteNs: damageNs + 2, Records: all[:10]})
			b.add(Op{Client: 4, Kind: OpFetch, Outcome: OutcomeOK, FetchOffset: 10, HighWatermark: 60,
				InvokeNs: damageNs + 3, CompleteNs: damageNs + 4, Records: all[15:20]})
		}
		// The sectors became readable again: the final read sees every record.
		b.add(Op{Client: 99, Kind: OpFetch, Outcome: OutcomeOK, FetchOffset: 0, HighWatermark: 60,
			InvokeNs: damageNs + 5, CompleteNs: damageNs + 6, Records: all, Final: true})
		return b.h
	}
	damaged := func(topic string, partition int32, offset, invokeNs int64) bool {
		inRange := (offset >= 20 && offset <= 35) || (offset >= 40 && offset <= 50)
		return topic == "t" && partition == 0 && inRange && invokeNs <= damageNs
	}
	if r := Check(build(false), Options{RequireFinalReads: true, Excused: damaged}); !r.Valid() {
		t.Errorf("steps over excused offsets only: %s", r.Details())
	}
	r := Check(build(true), Options{RequireFinalReads: true, Excused: damaged})
	if got := anomalyNames(r); !slices.Equal(got, []Anomaly{PollSkip}) || r.Count(PollSkip) != 1 {
		t.Fatalf("anomalies %v, want one poll-skip:\n%s", got, r.Details())
	}
	if ex := r.Anomalies[0].Examples[0]; ex.Offset != 10 || !strings.Contains(ex.Note, "skipped 5 existing records") {
		t.Errorf("poll-skip example at %d (%q), want offset 10 with 5 records skipped", ex.Offset, ex.Note)
	}
}

// TestPollSkipAfterATruncationExcuse: a recovery's truncation excuses the offsets from the
// damaged batch on, but only for operations invoked before it; a consumer invoked after it that
// skips records written at those offsets since is still a poll-skip (the poll checks once
// excused every such offset at any time).
func TestPollSkipAfterATruncationExcuse(t *testing.T) {
	const truncatedNs = 100
	b := newBuilder()
	for i, v := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		op := b.produceOp(1, OutcomeOK, int64(i), v)
		op.InvokeNs, op.CompleteNs = int64(2*i+1), int64(2*i+2)
		b.add(op)
	}
	// Recovery truncated at 5 after a disk fault; new records took offsets 5..9.
	for i, v := range []string{"k", "l", "m", "n", "o"} {
		op := b.produceOp(2, OutcomeOK, int64(5+i), v)
		op.InvokeNs, op.CompleteNs = truncatedNs+int64(2*i+1), truncatedNs+int64(2*i+2)
		b.add(op)
	}
	fetch := func(fetchOffset int64, records ...Record) {
		b.add(Op{Client: 3, Kind: OpFetch, Outcome: OutcomeOK, FetchOffset: fetchOffset, HighWatermark: 10,
			InvokeNs: b.nowNs + 1, CompleteNs: b.nowNs + 2, Records: records})
	}
	fetch(0, recs(0, "a", "b", "c", "d", "e")...)
	fetch(5, rec(8, "n"), rec(9, "o")) // skips k, l, m
	b.final(0, 10, 0, join(recs(0, "a", "b", "c", "d", "e"), recs(5, "k", "l", "m", "n", "o"))...)
	truncation := func(topic string, partition int32, offset, invokeNs int64) bool {
		return offset >= 5 && invokeNs <= truncatedNs
	}
	r := Check(b.h, Options{RequireFinalReads: true, Excused: truncation})
	if !r.Has(PollSkip) || r.Count(PollSkip) != 1 {
		t.Fatalf("want one poll-skip of k, l and m:\n%s", r.Details())
	}
}

// retriedTwice is an idempotent client's two pipelined batches "a" then "c", first appended at
// 0 and 1, deleted by retention with the producer's state, and appended again at 5 and 6 (each
// produce's answer names where its retry landed). A fetch read the first copy of "c", and of
// "a" too when sawBoth.
func retriedTwice(sawBoth bool) History {
	b := newBuilder()
	b.idempotent[1] = true
	a := b.produceOp(1, OutcomeOK, 5, "a")
	a.InvokeNs, a.CompleteNs = 1, 100
	b.add(a)
	c := b.produceOp(1, OutcomeOK, 6, "c")
	c.InvokeNs, c.CompleteNs = 2, 101
	b.add(c)
	if sawBoth {
		b.fetch(2, 0, 2, rec(0, "a"), rec(1, "c"))
	} else {
		b.fetch(2, 1, 2, rec(1, "c"))
	}
	b.final(5, 7, 5, rec(5, "a"), rec(6, "c"))
	return b.h
}

// TestMissedTruncation: a consumer that read a record later truncated away (here an unknown
// produce's, read above a high watermark that an unclean election then lowered) must move back
// below it before it reads on in the log that replaced it (KIP-320). Reading on from its
// position is a missed truncation; moving back is not; a record a disk fault destroyed is
// exempt, as for poll-skip.
func TestMissedTruncation(t *testing.T) {
	build := func(moveBack bool) History {
		b := newBuilder()
		b.produce(1, OutcomeOK, 0, "a", "b")
		b.produce(1, OutcomeUnknown, -1, "x")
		b.fetch(4, 0, 3, recs(0, "a", "b", "x")...) // x at 2, from the leader that lost it
		b.produce(1, OutcomeOK, 2, "c", "d", "e")   // the next leader's records at 2..4
		if moveBack {
			b.fetch(4, 2, 5, recs(2, "c", "d")...)
		} else {
			b.fetch(4, 3, 5, rec(3, "d"))
		}
		b.fetch(4, 4, 5, rec(4, "e"))
		b.final(0, 5, 0, recs(0, "a", "b", "c", "d", "e")...)
		return b.h
	}
	if r := Check(build(false), Options{RequireFinalReads: true}); !r.Has(MissedTruncation) {
		t.Errorf("reading on from the position must be a missed truncation: %v", anomalyNames(r))
	}
	if r := Check(build(true), Options{RequireFinalReads: true}); r.Has(MissedTruncation) {
		t.Errorf("moving back to the divergence is no missed truncation: %s", r.Details())
	}
	excused := Options{RequireFinalReads: true, Excused: func(_ string, _ int32, offset, _ int64) bool { return offset == 2 }}
	if r := Check(build(false), excused); r.Has(MissedTruncation) {
		t.Errorf("a record a disk fault destroyed is exempt: %s", r.Details())
	}
}
