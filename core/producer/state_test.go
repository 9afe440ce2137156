package producer

import (
	"errors"
	"math"
	"testing"

	"github.com/weirdata/weir/core/record"
)

const pid = int64(7)

func TestNonIdempotentBypass(t *testing.T) {
	s := newTestState(t, DefaultConfig())
	for i := 0; i < 3; i++ {
		h := batch(record.NoProducerID, -1, record.NoSequence, 4, 1000)
		base := mustAppend(t, s, h, 1000)
		if base != record.Offset(4*i) {
			t.Fatalf("batch %d at %d", i, base)
		}
	}
	if s.Len() != 0 || s.EndOffset() != 12 {
		t.Fatalf("len %d end %d, want 0 and 12", s.Len(), s.EndOffset())
	}
}

// TestVerdicts walks one producer through every verdict. Each step sends a batch (pid, epoch,
// first sequence, record count) and expects a verdict or an error; accepted batches are appended.
func TestVerdicts(t *testing.T) {
	type step struct {
		name   string
		epoch  int16
		seq    int32
		n      int32
		want   VerdictKind
		err    error
		dupOf  int // for a duplicate: the index of the step whose batch it repeats
		notTxn bool
	}
	// The state before each case: epoch 3, six batches of 2 records, sequences 0..11 at
	// offsets 0..11; the first (0-1) has left the five remembered.
	prefix := []step{
		{"b0", 3, 0, 2, VerdictAppend, nil, 0, false},
		{"b1", 3, 2, 2, VerdictAppend, nil, 0, false},
		{"b2", 3, 4, 2, VerdictAppend, nil, 0, false},
		{"b3", 3, 6, 2, VerdictAppend, nil, 0, false},
		{"b4", 3, 8, 2, VerdictAppend, nil, 0, false},
		{"b5", 3, 10, 2, VerdictAppend, nil, 0, false},
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"duplicate of the newest", []step{{"dup b5", 3, 10, 2, VerdictDuplicate, nil, 5, false}}},
		{"duplicate of the 2nd newest", []step{{"dup b4", 3, 8, 2, VerdictDuplicate, nil, 4, false}}},
		{"duplicate of the 3rd newest", []step{{"dup b3", 3, 6, 2, VerdictDuplicate, nil, 3, false}}},
		{"duplicate of the 4th newest", []step{{"dup b2", 3, 4, 2, VerdictDuplicate, nil, 2, false}}},
		{"duplicate of the 5th newest", []step{{"dup b1", 3, 2, 2, VerdictDuplicate, nil, 1, false}}},
		{"6th newest is forgotten: out of order", []step{{"old b0", 3, 0, 2, 0, ErrOutOfOrderSequence, 0, false}}},
		{"same first sequence, other length: out of order", []step{{"b5 longer", 3, 10, 3, 0, ErrOutOfOrderSequence, 0, false}}},
		{"same last sequence, other first: out of order", []step{{"b5 tail", 3, 11, 1, 0, ErrOutOfOrderSequence, 0, false}}},
		{"next in sequence", []step{{"b6", 3, 12, 1, VerdictAppend, nil, 0, false}}},
		{"gap", []step{{"skip 12", 3, 13, 1, 0, ErrOutOfOrderSequence, 0, false}}},
		{"far gap", []step{{"skip many", 3, 1000, 1, 0, ErrOutOfOrderSequence, 0, false}}},
		{"overlap", []step{{"overlap b5", 3, 11, 2, 0, ErrOutOfOrderSequence, 0, false}}},
		{"old epoch fenced", []step{{"zombie", 2, 12, 1, 0, ErrInvalidProducerEpoch, 0, false}}},
		{"old epoch fenced even as a duplicate", []step{{"zombie dup", 2, 10, 2, 0, ErrInvalidProducerEpoch, 0, false}}},
		{"epoch bump resets the sequence to 0", []step{
			{"e4 b0", 4, 0, 2, VerdictAppend, nil, 0, false},
			{"e4 b1", 4, 2, 1, VerdictAppend, nil, 0, false},
			{"e4 dup b0", 4, 0, 2, VerdictDuplicate, nil, 0, false},
			{"e3 after the bump", 3, 12, 1, 0, ErrInvalidProducerEpoch, 0, false},
			{"e3 dup after the bump", 3, 10, 2, 0, ErrInvalidProducerEpoch, 0, false},
		}},
		{"new epoch not at 0", []step{{"e4 seq 12", 4, 12, 1, 0, ErrOutOfOrderSequence, 0, false}}},
		{"epoch jump by more than one", []step{{"e9 b0", 9, 0, 1, VerdictAppend, nil, 0, false}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestState(t, DefaultConfig())
			steps := append(append([]step(nil), prefix...), tc.steps...)
			bases := make([]record.Offset, len(steps))
			for i, st := range steps {
				ts := int64(1000 + i)
				v, base, err := appendBatch(s, batch(pid, st.epoch, st.seq, st.n, ts), ts)
				bases[i] = base
				if st.err != nil {
					if !errors.Is(err, st.err) {
						t.Fatalf("step %s: err %v, want %v", st.name, err, st.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %s: %v", st.name, err)
				}
				if v.Kind != st.want {
					t.Fatalf("step %s: verdict %v, want %v", st.name, v.Kind, st.want)
				}
				if st.want == VerdictDuplicate {
					orig := st.dupOf
					if st.name == "e4 dup b0" {
						orig = len(prefix)
					}
					want := bases[orig]
					if v.BaseOffset != want || v.LastOffset != want+record.Offset(st.n-1) || v.TimestampMs != int64(1000+orig) {
						t.Fatalf("step %s: duplicate %+v, want base %d last %d timestamp %d",
							st.name, v, want, want+record.Offset(st.n-1), 1000+orig)
					}
				}
			}
		})
	}
}

func TestNewProducerAcceptsAnySequence(t *testing.T) {
	// Since KIP-360 a leader without state for a producer id accepts any sequence
	// (ProducerAppendInfo.checkSequence: no current epoch), instead of UNKNOWN_PRODUCER_ID.
	for _, seq := range []int32{0, 1, 42, math.MaxInt32} {
		s := newTestState(t, DefaultConfig())
		mustAppend(t, s, batch(pid, 0, seq, 1, 1000), 1000)
		mustAppend(t, s, batch(pid, 0, incrementSequence(seq, 1), 1, 1000), 1000)
		if _, _, err := appendBatch(s, batch(pid, 0, incrementSequence(seq, 5), 1, 1000), 1000); !errors.Is(err, ErrOutOfOrderSequence) {
			t.Fatalf("seq %d: a gap after the first batch: %v", seq, err)
		}
	}
	s := newTestState(t, DefaultConfig())
	if _, _, err := appendBatch(s, batch(pid, -2, 0, 1, 1000), 1000); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("epoch -2: %v", err)
	}
}

func TestSequenceWrapAround(t *testing.T) {
	s := newTestState(t, DefaultConfig())
	mustAppend(t, s, batch(pid, 0, math.MaxInt32-4, 3, 1000), 1000) // MaxInt32-4 .. MaxInt32-2
	mustAppend(t, s, batch(pid, 0, math.MaxInt32-1, 4, 1000), 1000) // MaxInt32-1, MaxInt32, 0, 1
	if e, _ := s.Producer(pid); e.Batches[1].LastSequence != 1 || e.Batches[1].FirstSequence() != math.MaxInt32-1 {
		t.Fatalf("wrapped batch %+v", e.Batches[1])
	}
	// The wrapped batch is found as a duplicate; the next batch must start at 2.
	if v, _, err := appendBatch(s, batch(pid, 0, math.MaxInt32-1, 4, 1000), 1000); err != nil || v.Kind != VerdictDuplicate || v.BaseOffset != 3 {
		t.Fatalf("duplicate of the wrapped batch: %+v %v", v, err)
	}
	if _, _, err := appendBatch(s, batch(pid, 0, 0, 1, 1000), 1000); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("0 after 1: %v", err)
	}
	mustAppend(t, s, batch(pid, 0, 2, 1, 1000), 1000)

	// A batch ending exactly at MaxInt32 is followed by 0.
	s = newTestState(t, DefaultConfig())
	mustAppend(t, s, batch(pid, 0, math.MaxInt32-1, 2, 1000), 1000)
	if _, _, err := appendBatch(s, batch(pid, 0, math.MaxInt32, 1, 1000), 1000); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("MaxInt32 again: %v", err)
	}
	mustAppend(t, s, batch(pid, 0, 0, 1, 1000), 1000)
}

func TestSequenceArithmetic(t *testing.T) {
	cases := []struct{ seq, delta, inc int32 }{
		{0, 0, 0}, {0, 5, 5}, {math.MaxInt32, 1, 0}, {math.MaxInt32 - 1, 3, 1}, {math.MaxInt32, 0, math.MaxInt32},
	}
	for _, c := range cases {
		if got := incrementSequence(c.seq, c.delta); got != c.inc {
			t.Errorf("increment(%d, %d) = %d, want %d", c.seq, c.delta, got, c.inc)
		}
		if got := decrementSequence(c.inc, c.delta); got != c.seq {
			t.Errorf("decrement(%d, %d) = %d, want %d", c.inc, c.delta, got, c.seq)
		}
	}
	if !inSequence(math.MaxInt32, 0) || !inSequence(-1, 0) || inSequence(5, 5) || inSequence(math.MaxInt32, 1) {
		t.Fatal("inSequence")
	}
}

func TestInvalidClientBatches(t *testing.T) {
	s := newTestState(t, DefaultConfig())
	bad := []record.Header{
		batch(pid, 0, -1, 1, 1000), // a producer id without a sequence
		func() record.Header { h := batch(pid, 0, 0, 1, 1000); h.Attributes = attrControl; return h }(),
		func() record.Header { h := batch(pid, 0, 0, 1, 1000); h.LastOffsetDelta = -1; return h }(),
	}
	for _, h := range bad {
		if _, err := s.CheckAppend(h, 1000); !errors.Is(err, record.ErrInvalidRecord) {
			t.Errorf("%+v: %v, want ErrInvalidRecord", h, err)
		}
	}
}

func TestTransactionState(t *testing.T) {
	s := newTestState(t, DefaultConfig())
	mustAppend(t, s, batch(pid, 0, 0, 1, 1000), 1000)
	txn := batch(pid, 0, 1, 2, 1000)
	txn.Attributes = attrTransactional
	base := mustAppend(t, s, txn, 1000)
	if e, _ := s.Producer(pid); e.CurrentTxnFirstOffset != base {
		t.Fatalf("txn first offset %d, want %d", e.CurrentTxnFirstOffset, base)
	}
	if _, _, err := appendBatch(s, batch(pid, 0, 3, 1, 1000), 1000); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("non-transactional batch in a transaction: %v", err)
	}
	txn2 := batch(pid, 0, 3, 1, 1000)
	txn2.Attributes = attrTransactional
	mustAppend(t, s, txn2, 1000)
	if e, _ := s.Producer(pid); e.CurrentTxnFirstOffset != base {
		t.Fatalf("txn first offset moved to %d", e.CurrentTxnFirstOffset)
	}
	// An open transaction keeps the producer from expiring.
	if n := s.RemoveExpired(1000 + 10*DefaultExpirationMs); n != 0 {
		t.Fatalf("expired a producer in a transaction")
	}
	// A commit marker (replayed: markers come from the coordinator) closes it.
	marker := record.Header{BaseOffset: s.EndOffset(), Attributes: attrControl | attrTransactional, ProducerID: pid,
		ProducerEpoch: 0, BaseSequence: -1, RecordCount: 1, MaxTimestamp: 2000}
	s.ReplayBatch(marker)
	if e, _ := s.Producer(pid); e.CurrentTxnFirstOffset != NoOffset || e.LastTimestampMs != 2000 || len(e.Batches) != 3 {
		t.Fatalf("after the marker: %+v", e)
	}
	mustAppend(t, s, batch(pid, 0, 4, 1, 3000), 3000)
}

func TestUpdateOutOfOrderPanics(t *testing.T) {
	s := newTestState(t, DefaultConfig())
	mustAppend(t, s, batch(pid, 0, 0, 3, 1000), 1000)
	defer func() {
		if recover() == nil {
			t.Fatal("Update below the end offset did not panic")
		}
	}()
	s.Update(batch(pid, 0, 3, 1, 1000), 1, 1000)
}

func TestUpdateWithoutTimestampUsesNow(t *testing.T) {
	s := newTestState(t, DefaultConfig())
	mustAppend(t, s, batch(pid, 0, 0, 1, record.NoTimestamp), 5000)
	if e, _ := s.Producer(pid); e.LastTimestampMs != 5000 {
		t.Fatalf("last timestamp %d, want now", e.LastTimestampMs)
	}
}

func TestRemoveExpired(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ExpirationMs = 1000
	s := newTestState(t, cfg)
	mustAppend(t, s, batch(1, 0, 0, 1, 100), 100)
	mustAppend(t, s, batch(2, 0, 0, 1, 500), 500)
	if n := s.RemoveExpired(1099); n != 0 {
		t.Fatalf("removed %d before anything expired", n)
	}
	if n := s.RemoveExpired(1100); n != 1 { // Kafka: expired when now - last >= expiration
		t.Fatalf("removed %d at the boundary, want 1", n)
	}
	if _, ok := s.Producer(1); ok {
		t.Fatal("producer 1 survived")
	}
	// A forgotten producer comes back at any sequence.
	mustAppend(t, s, batch(1, 0, 77, 1, 1200), 1200)
	if n := s.RemoveExpired(1500); n != 1 || s.Len() != 1 {
		t.Fatalf("removed %d, %d left", n, s.Len())
	}
}

func TestExpirationWithExtremeTimestamps(t *testing.T) {
	s := newTestState(t, DefaultConfig())
	mustAppend(t, s, batch(1, 0, 0, 1, math.MinInt64), 1000)
	mustAppend(t, s, batch(2, 0, 0, 1, math.MaxInt64), 1000)
	if n := s.RemoveExpired(1000); n != 1 {
		t.Fatalf("removed %d, want the producer stamped at the int64 minimum", n)
	}
	if _, ok := s.Producer(2); !ok {
		t.Fatal("a producer stamped in the far future expired")
	}
}

func TestProducerBound(t *testing.T) {
	cfg := Config{ExpirationMs: 1000, ProducersMax: 2}
	s := newTestState(t, cfg)
	mustAppend(t, s, batch(1, 0, 0, 1, 100), 100)
	mustAppend(t, s, batch(2, 0, 0, 1, 600), 600)
	if _, err := s.CheckAppend(batch(3, 0, 0, 1, 700), 700); !errors.Is(err, ErrTooManyProducers) {
		t.Fatalf("third producer: %v", err)
	}
	// Known producers keep producing at the bound.
	mustAppend(t, s, batch(1, 0, 1, 1, 800), 800)
	if _, err := s.CheckAppend(batch(3, 0, 0, 1, 1500), 1500); !errors.Is(err, ErrTooManyProducers) {
		t.Fatalf("third producer before any expiry: %v", err)
	}
	// At 1600 producer 2 (last active at 600) has expired: CheckAppend makes room.
	mustAppend(t, s, batch(3, 0, 0, 1, 1600), 1600)
	if _, ok := s.Producer(2); ok || s.Len() != 2 {
		t.Fatalf("producer 2 kept, %d producers", s.Len())
	}
}

func TestReplayMatchesUpdate(t *testing.T) {
	live := newTestState(t, DefaultConfig())
	var log []record.Header
	send := func(h record.Header) {
		t.Helper()
		base := mustAppend(t, live, h, h.MaxTimestamp)
		h.BaseOffset = base
		log = append(log, h)
	}
	for i := int32(0); i < 8; i++ {
		send(batch(1, 0, i*3, 3, int64(100+i)))
		send(batch(record.NoProducerID, -1, -1, 2, int64(100+i)))
		send(batch(2, int16(i/3), (i%3)*2, 2, int64(200+i)))
	}
	replayed := newTestState(t, DefaultConfig())
	for _, h := range log {
		replayed.ReplayBatch(h)
	}
	for _, h := range log[:5] { // below the end offset: skipped
		replayed.ReplayBatch(h)
	}
	assertSameEntries(t, live.Entries(), replayed.Entries())
	if live.EndOffset() != replayed.EndOffset() {
		t.Fatalf("end offsets %d and %d", live.EndOffset(), replayed.EndOffset())
	}
	// Replay follows the log even to an older epoch, as Kafka's replication origin does.
	old := batch(2, 0, 0, 1, 500)
	old.BaseOffset = replayed.EndOffset()
	replayed.ReplayBatch(old)
	if e, _ := replayed.Producer(2); e.ProducerEpoch != 0 || len(e.Batches) != 1 {
		t.Fatalf("replayed an older epoch: %+v", e)
	}
	// An emptied control batch changes nothing but the end offset.
	empty := record.Header{BaseOffset: replayed.EndOffset(), LastOffsetDelta: 0, Attributes: attrControl, ProducerID: 9, ProducerEpoch: 0}
	replayed.ReplayBatch(empty)
	if _, ok := replayed.Producer(9); ok {
		t.Fatal("an empty control batch created a producer")
	}
}

func TestReplayTrimsPastTheBound(t *testing.T) {
	cfg := Config{ExpirationMs: DefaultExpirationMs, ProducersMax: 16}
	s := newTestState(t, cfg)
	for i := 0; i < 100; i++ {
		h := batch(int64(i), 0, 0, 1, int64(1000+i))
		h.BaseOffset = record.Offset(i)
		s.ReplayBatch(h)
		if s.Len() > cfg.ProducersMax+trimSlack(cfg.ProducersMax) {
			t.Fatalf("%d producers after %d replays", s.Len(), i+1)
		}
	}
	// The most recently active producers are the ones kept.
	for i := 99; i > 99-cfg.ProducersMax+1; i-- {
		if _, ok := s.Producer(int64(i)); !ok {
			t.Fatalf("recent producer %d evicted", i)
		}
	}
}

func assertSameEntries(t tester, want, got []Entry) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%d entries, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.ProducerID != g.ProducerID || w.ProducerEpoch != g.ProducerEpoch || w.CoordinatorEpoch != g.CoordinatorEpoch ||
			w.LastTimestampMs != g.LastTimestampMs || w.CurrentTxnFirstOffset != g.CurrentTxnFirstOffset || len(w.Batches) != len(g.Batches) {
			t.Fatalf("entry %d: got %+v, want %+v", i, g, w)
		}
		for j := range w.Batches {
			if w.Batches[j] != g.Batches[j] {
				t.Fatalf("entry %d batch %d: got %+v, want %+v", i, j, g.Batches[j], w.Batches[j])
			}
		}
	}
}
