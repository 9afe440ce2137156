package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"testing"
)

// collect decodes a batch's records into deep copies.
func collect(t testing.TB, batch []byte) []Record {
	t.Helper()
	var out []Record
	err := ForEachRecord(batch, func(r *Record) error {
		out = append(out, cloneRecord(r))
		return nil
	})
	if err != nil {
		t.Fatalf("ForEachRecord: %v", err)
	}
	return out
}

func cloneRecord(r *Record) Record {
	c := Record{
		Attributes:     r.Attributes,
		TimestampDelta: r.TimestampDelta,
		OffsetDelta:    r.OffsetDelta,
		Key:            cloneBytes(r.Key),
		Value:          cloneBytes(r.Value),
	}
	for _, h := range r.Headers {
		c.Headers = append(c.Headers, RecordHeader{Key: h.Key, Value: cloneBytes(h.Value)})
	}
	return c
}

// cloneBytes copies b, keeping nil distinct from empty.
func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// equalRecords compares records, distinguishing null from empty keys, values and header values.
func equalRecords(a, b []Record) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d records, want %d", len(a), len(b))
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.Attributes != y.Attributes || x.TimestampDelta != y.TimestampDelta || x.OffsetDelta != y.OffsetDelta {
			return fmt.Errorf("record %d: %+v, want %+v", i, *x, *y)
		}
		if !equalNullable(x.Key, y.Key) || !equalNullable(x.Value, y.Value) {
			return fmt.Errorf("record %d: key/value %q/%q, want %q/%q", i, x.Key, x.Value, y.Key, y.Value)
		}
		if len(x.Headers) != len(y.Headers) {
			return fmt.Errorf("record %d: %d headers, want %d", i, len(x.Headers), len(y.Headers))
		}
		for j := range x.Headers {
			if x.Headers[j].Key != y.Headers[j].Key || !equalNullable(x.Headers[j].Value, y.Headers[j].Value) {
				return fmt.Errorf("record %d header %d: %+v, want %+v", i, j, x.Headers[j], y.Headers[j])
			}
		}
	}
	return nil
}

func equalNullable(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

var allCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

func sampleRecords() []Record {
	return []Record{
		{OffsetDelta: 0, Key: []byte("k0"), Value: []byte("v0")},
		{OffsetDelta: 1, TimestampDelta: 5, Key: nil, Value: []byte{}},
		{OffsetDelta: 2, TimestampDelta: -3, Key: []byte{}, Value: nil, Headers: []RecordHeader{{Key: "h", Value: []byte("x")}, {Key: "", Value: nil}}},
		{OffsetDelta: 3, TimestampDelta: 1 << 40, Key: bytes.Repeat([]byte("k"), 300), Value: bytes.Repeat([]byte("value "), 5000)},
	}
}

func TestAppendBatchRoundTrip(t *testing.T) {
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			opts := BatchOptions{
				BaseOffset: 42, PartitionLeaderEpoch: 7, Codec: codec, FirstTimestamp: 1_700_000_000_000,
				ProducerID: 9, ProducerEpoch: 2, BaseSequence: 100, Transactional: true,
			}
			in := sampleRecords()
			prefix := []byte("prefix")
			out, err := AppendBatch(prefix, opts, in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out[:len(prefix)], prefix) {
				t.Fatal("prefix clobbered")
			}
			batch := out[len(prefix):]
			h, err := Validate(batch)
			if err != nil {
				t.Fatal(err)
			}
			want := Header{
				BaseOffset: 42, BatchLength: int32(len(batch) - LogOverheadBytes), PartitionLeaderEpoch: 7, Magic: 2,
				CRC: h.CRC, Attributes: int16(codec) | transactionalBit, LastOffsetDelta: 3,
				FirstTimestamp: 1_700_000_000_000, MaxTimestamp: 1_700_000_000_000 + 1<<40,
				ProducerID: 9, ProducerEpoch: 2, BaseSequence: 100, RecordCount: 4,
			}
			if h != want {
				t.Fatalf("header\n got %+v\nwant %+v", h, want)
			}
			if err := equalRecords(collect(t, batch), in); err != nil {
				t.Fatal(err)
			}
			if _, err := ValidateRecords(batch, ProducedRecords); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestForEachRecordStopsOnCallbackError(t *testing.T) {
	batch, err := AppendBatch(nil, BatchOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, sampleRecords())
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	err = ForEachRecord(batch, func(*Record) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("err %v after %d calls, want stop after 1", err, calls)
	}
}

func TestAppendBatchRejectsBadOffsetDeltas(t *testing.T) {
	for name, records := range map[string][]Record{
		"negative":   {{OffsetDelta: -1}},
		"repeated":   {{OffsetDelta: 0}, {OffsetDelta: 0}},
		"decreasing": {{OffsetDelta: 2}, {OffsetDelta: 1}},
	} {
		if _, err := AppendBatch(nil, BatchOptions{}, records); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: err %v, want ErrInvalidRecord", name, err)
		}
	}
}

// TestVarintFastPaths: the inline one- and two-byte decoders agree with encoding/binary on
// every input of up to two bytes and on longer encodings.
func TestVarintFastPaths(t *testing.T) {
	check := func(b []byte) {
		t.Helper()
		want, n := binary.Varint(b)
		wantOK := n > 0 && n <= varintLenMax && want >= math.MinInt32 && want <= math.MaxInt32
		rd := recordReader{b: b}
		got, ok := rd.varint()
		if ok != wantOK || (ok && (int64(got) != want || rd.pos != n)) {
			t.Fatalf("varint(%x) = %d, %v, pos %d; binary.Varint gives %d, %d", b, got, ok, rd.pos, want, n)
		}
		wantLong, nLong := binary.Varint(b)
		rl := recordReader{b: b}
		gotLong, okLong := rl.varlong()
		if okLong != (nLong > 0) || (okLong && (gotLong != wantLong || rl.pos != nLong)) {
			t.Fatalf("varlong(%x) = %d, %v; binary.Varint gives %d, %d", b, gotLong, okLong, wantLong, nLong)
		}
	}
	check(nil)
	for a := range 256 {
		check([]byte{byte(a)})
		for b := range 256 {
			check([]byte{byte(a), byte(b)})
		}
	}
	for _, v := range []int64{300, -300, 1 << 20, -(1 << 20), math.MaxInt32, math.MinInt32, math.MaxInt32 + 1, math.MinInt64} {
		check(binary.AppendVarint(nil, v))
	}
}
