package quorum

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"

	"github.com/weirdata/weir/core/record"
)

// drawEntries draws a log fragment of whole batches: epochs non-decreasing, control entries
// (batches of one) holding a LeaderChangeMessage as the quorum writes them, timestamps set or
// left for the framing to stamp.
func drawEntries(t *rapid.T) []Entry {
	n := rapid.IntRange(0, 40).Draw(t, "n")
	epoch := record.Epoch(rapid.Int32Range(0, 1<<20).Draw(t, "epoch0"))
	entries := make([]Entry, 0, n)
	for i := 0; i < n; {
		if rapid.IntRange(0, 4).Draw(t, "bump") == 0 {
			epoch += record.Epoch(rapid.Int32Range(1, 3).Draw(t, "step"))
		}
		ts := rapid.SampledFrom([]int64{record.NoTimestamp, 0, rapid.Int64Range(1, 1<<42).Draw(t, "batchTs")}).Draw(t, "ts")
		if rapid.IntRange(0, 5).Draw(t, "control") == 0 {
			entries = append(entries, Entry{Epoch: epoch, Control: true, Data: leaderChangeData(NodeID(i%5), []NodeID{0, 1, 2, 3, 4}, []NodeID{NodeID(i % 5)}), TimestampMs: ts})
			i++
			continue
		}
		size := rapid.IntRange(1, 6).Draw(t, "batchSize")
		for k := range size {
			entries = append(entries, Entry{Epoch: epoch, Data: rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "data"), MoreInBatch: k < size-1, TimestampMs: ts})
		}
		i += size
	}
	return entries
}

// entriesEqual compares entries field by field, batch boundaries and timestamps included.
func entriesEqual(a, b []Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		// nil and empty Data are the same entry: a metadata record's value is never null.
		if a[i].Epoch != b[i].Epoch || a[i].Control != b[i].Control || !bytes.Equal(a[i].Data, b[i].Data) ||
			a[i].MoreInBatch != b[i].MoreInBatch || a[i].TimestampMs != b[i].TimestampMs {
			return false
		}
	}
	return true
}

// stamped is entries as framing at timestampMs stamps them.
func stamped(entries []Entry, timestampMs int64) []Entry {
	out := make([]Entry, len(entries))
	for i, e := range entries {
		if e.TimestampMs == record.NoTimestamp {
			e.TimestampMs = timestampMs
		}
		out[i] = e
	}
	return out
}

// batchCount counts the batches in entries: the record batches there must be.
func batchCount(entries []Entry) int {
	n := 0
	for _, e := range entries {
		if !e.MoreInBatch {
			n++
		}
	}
	return n
}

func TestBatchesRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		entries := drawEntries(t)
		base := record.Offset(rapid.Int64Range(0, 1<<40).Draw(t, "base"))
		// The log's wall clock (NoTimestamp, "none", is never a clock reading).
		ts := rapid.Int64Range(0, 1<<42).Draw(t, "ts")
		data, err := AppendBatches(nil, base, entries, ts)
		if err != nil {
			t.Fatal(err)
		}
		want := stamped(entries, ts)
		// The framing Kafka expects, batch by batch: one record batch per batch of entries.
		it := record.NewBatchIterator(data)
		batches, next := 0, base
		for it.Next() {
			h := it.Header()
			batches++
			first := want[next-base]
			if h.BaseOffset != next || h.FirstTimestamp != first.TimestampMs || h.MaxTimestamp != first.TimestampMs ||
				h.ProducerID != -1 || h.Codec() != record.CodecNone || h.PartitionLeaderEpoch != first.Epoch {
				t.Fatalf("batch %d header %+v", batches, h)
			}
			next = h.NextOffset()
		}
		if it.Err() != nil || batches != batchCount(entries) {
			t.Fatalf("%d batches for %d: %v", batches, batchCount(entries), it.Err())
		}
		gotBase, got, err := DecodeBatches(data)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) > 0 && gotBase != base || len(entries) == 0 && gotBase != UndefinedOffset {
			t.Fatalf("base %d, want %d", gotBase, base)
		}
		if !entriesEqual(got, want) {
			t.Fatalf("decoded %+v, want %+v", got, want)
		}
		// A follower framing the decoded entries (at its own clock) writes the same bytes.
		again, err := AppendBatches(nil, base, got, ts+12345)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("re-framed batches differ from the leader's (%v)", err)
		}
	})
}

// TestLeaderChangeBatchGolden pins the control batch a new leader's entry becomes, field by
// field as Kafka's DefaultRecordBatch and ControlRecordType define them.
func TestLeaderChangeBatchGolden(t *testing.T) {
	lc := leaderChangeData(2, []NodeID{1, 2, 3}, []NodeID{2, 3})
	data, err := AppendBatches(nil, 7, []Entry{{Epoch: 5, Control: true, Data: lc, TimestampMs: record.NoTimestamp}}, 1_700_000_000_000)
	if err != nil {
		t.Fatal(err)
	}
	h, err := record.Validate(data)
	if err != nil {
		t.Fatal(err)
	}
	if h.BaseOffset != 7 || h.PartitionLeaderEpoch != 5 || h.Attributes != 0x20 || h.LastOffsetDelta != 0 ||
		h.RecordCount != 1 || h.ProducerID != -1 || h.ProducerEpoch != -1 || h.BaseSequence != -1 ||
		h.FirstTimestamp != 1_700_000_000_000 {
		t.Fatalf("header %+v", h)
	}
	err = record.ForEachRecord(data, func(r *record.Record) error {
		if !bytes.Equal(r.Key, []byte{0, 0, 0, 2}) { // version 0, LEADER_CHANGE
			t.Fatalf("control key %x", r.Key)
		}
		m := kmsg.NewLeaderChangeMessage()
		if err := m.ReadFrom(r.Value); err != nil {
			t.Fatal(err)
		}
		if m.LeaderID != 2 || len(m.Voters) != 3 || len(m.GrantingVoters) != 2 {
			t.Fatalf("leader change %+v", m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A data entry: attributes 0, null key, the data as value.
	data, err = AppendBatches(nil, 0, []Entry{{Epoch: 1, Data: []byte("x")}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := record.Validate(data); h.Attributes != 0 {
		t.Fatalf("data batch attributes %#x", h.Attributes)
	}
	if err := record.ForEachRecord(data, func(r *record.Record) error {
		if r.Key != nil || string(r.Value) != "x" {
			t.Fatalf("record key %x value %q", r.Key, r.Value)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeBatchesCopiesData(t *testing.T) {
	data, err := AppendBatches(nil, 0, []Entry{{Epoch: 1, Data: []byte("abc")}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, entries, err := DecodeBatches(data)
	if err != nil {
		t.Fatal(err)
	}
	clear(data)
	if string(entries[0].Data) != "abc" {
		t.Fatalf("data %q aliases the input", entries[0].Data)
	}
}

// reframe recomputes a batch's CRC after a test edits a covered field.
func reframe(b []byte) []byte {
	binary.BigEndian.PutUint32(b[17:], record.ComputeCRC(b))
	return b
}

func mustBatch(t *testing.T, opts record.BatchOptions, records ...record.Record) []byte {
	t.Helper()
	b, err := record.AppendBatch(nil, opts, records)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeBatchesRejects(t *testing.T) {
	good, err := AppendBatches(nil, 10, []Entry{{Epoch: 1, Data: []byte("a")}, {Epoch: 2, Control: true, Data: []byte("lc")}, {Epoch: 2, Data: []byte("b")}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	plain := record.BatchOptions{PartitionLeaderEpoch: 1, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	withOpts := func(f func(o *record.BatchOptions)) record.BatchOptions {
		o := plain
		f(&o)
		return o
	}
	second := func() []byte { // the good batches with the second one's base offset moved
		b := bytes.Clone(good)
		h, _ := record.ParseHeader(b)
		record.SetBaseOffset(b[h.SizeBytes():], 12)
		return b
	}
	cases := map[string][]byte{
		"truncated":   good[:len(good)-1],
		"short":       good[:30],
		"crc":         func() []byte { b := bytes.Clone(good); b[len(b)-1] ^= 1; return b }(),
		"magic":       func() []byte { b := bytes.Clone(good); b[16] = 1; return b }(),
		"gap":         second(),
		"no epoch":    mustBatch(t, withOpts(func(o *record.BatchOptions) { o.PartitionLeaderEpoch = -1 }), record.Record{Value: []byte{}}),
		"compressed":  mustBatch(t, withOpts(func(o *record.BatchOptions) { o.Codec = record.CodecGzip }), record.Record{Value: []byte{}}),
		"producer":    mustBatch(t, withOpts(func(o *record.BatchOptions) { o.ProducerID = 3; o.ProducerEpoch = 0; o.BaseSequence = 0 }), record.Record{Value: []byte{}}),
		"txn":         mustBatch(t, withOpts(func(o *record.BatchOptions) { o.Transactional = true }), record.Record{Value: []byte{}}),
		"offset gap":  mustBatch(t, plain, record.Record{Value: []byte{}}, record.Record{OffsetDelta: 2, Value: []byte{}}),
		"empty batch": mustBatch(t, withOpts(func(o *record.BatchOptions) { o.EmptyLastOffsetDelta = 0 })),
		"null value":  mustBatch(t, plain, record.Record{}),
		"commit marker": mustBatch(t, withOpts(func(o *record.BatchOptions) { o.Control = true }),
			record.Record{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}}),
		"control key version": mustBatch(t, withOpts(func(o *record.BatchOptions) { o.Control = true }),
			record.Record{Key: []byte{0, 1, 0, 2}, Value: []byte{}}),
		"control key null": mustBatch(t, withOpts(func(o *record.BatchOptions) { o.Control = true }), record.Record{Value: []byte{}}),
	}
	if _, _, err := DecodeBatches(good); err != nil {
		t.Fatalf("the good bytes: %v", err)
	}
	for name, b := range cases {
		if _, _, err := DecodeBatches(b); !errors.Is(err, ErrInvalidBatch) {
			t.Errorf("%s: error %v, want ErrInvalidBatch", name, err)
		}
	}
	// A header edit the CRC covers, re-signed, is still checked: a record count that
	// disagrees with the offset range.
	b := mustBatch(t, plain, record.Record{Value: []byte{}}, record.Record{OffsetDelta: 1, Value: []byte{}})
	binary.BigEndian.PutUint32(b[57:], 1)
	if _, _, err := DecodeBatches(reframe(b)); !errors.Is(err, ErrInvalidBatch) {
		t.Errorf("record count below the range: %v", err)
	}
}

func TestAppendBatchesRejects(t *testing.T) {
	if _, err := AppendBatches(nil, -1, []Entry{{Epoch: 1}}, 0); !errors.Is(err, ErrInvalidBatch) {
		t.Errorf("negative base offset: %v", err)
	}
	dst := []byte("keep")
	out, err := AppendBatches(dst, 0, []Entry{{Epoch: 1}, {Epoch: -2}}, 0)
	if !errors.Is(err, ErrInvalidBatch) || string(out) != "keep" {
		t.Errorf("negative epoch: %v, dst %q", err, out)
	}
	// Not whole batches, or a batch whose entries disagree: nothing is framed.
	for name, entries := range map[string][]Entry{
		"ends inside a batch": {{Epoch: 1}, {Epoch: 1, MoreInBatch: true}},
		"two epochs":          {{Epoch: 1, MoreInBatch: true}, {Epoch: 2}},
		"control and data":    {{Epoch: 1, MoreInBatch: true}, {Epoch: 1, Control: true}},
		"two timestamps":      {{Epoch: 1, MoreInBatch: true, TimestampMs: 5}, {Epoch: 1, TimestampMs: 6}},
	} {
		if out, err := AppendBatches(dst, 0, entries, 0); !errors.Is(err, ErrInvalidBatch) || string(out) != "keep" {
			t.Errorf("%s: %v, dst %q", name, err, out)
		}
	}
}

func FuzzDecodeBatches(f *testing.F) {
	seed, err := AppendBatches(nil, 3, []Entry{{Epoch: 1, Data: []byte("a")}, {Epoch: 2, Control: true, Data: leaderChangeData(1, []NodeID{1, 2, 3}, []NodeID{1, 2})}, {Epoch: 2, Data: []byte("bc")}}, 42)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	f.Add([]byte{})
	f.Add(make([]byte, record.HeaderSizeBytes))
	f.Fuzz(func(t *testing.T, data []byte) {
		base, entries, err := DecodeBatches(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidBatch) {
				t.Fatalf("error %v does not wrap ErrInvalidBatch", err)
			}
			return
		}
		// What decodes re-encodes to entries that decode the same.
		again, err := AppendBatches(nil, max(base, 0), entries, record.NoTimestamp)
		if err != nil {
			t.Fatal(err)
		}
		_, back, err := DecodeBatches(again)
		if err != nil || !entriesEqual(back, entries) {
			t.Fatalf("re-encoded entries differ: %v", err)
		}
	})
}
