package record

import (
	"encoding/binary"
	"errors"
	"testing"
)

// fuzzDecompressedBytesMax keeps the fuzzer's zip bombs small.
const fuzzDecompressedBytesMax = 1 << 20

// seedBatches are valid batches of every codec and shape, the fuzzer's starting points. They
// are kept small: the fuzzer minimises every input that finds new coverage, one byte at a
// time, and large seeds stall it for minutes.
func seedBatches(tb testing.TB) [][]byte {
	var seeds [][]byte
	small := []Record{
		{OffsetDelta: 0, Key: []byte("k0"), Value: []byte("v0")},
		{OffsetDelta: 1, TimestampDelta: 5, Key: nil, Value: []byte{}},
		{OffsetDelta: 2, TimestampDelta: -3, Key: []byte{}, Value: nil, Headers: []RecordHeader{{Key: "h", Value: []byte("x")}, {Key: "", Value: nil}}},
	}
	for _, codec := range allCodecs {
		for _, records := range [][]Record{small, fixtureRecords(3), {{Key: []byte("k")}}} {
			b, err := AppendBatch(nil, BatchOptions{BaseOffset: 7, Codec: codec, FirstTimestamp: 1000, ProducerID: 5, ProducerEpoch: 1, BaseSequence: 9}, records)
			if err != nil {
				tb.Fatal(err)
			}
			seeds = append(seeds, b)
		}
	}
	empty, err := AppendBatch(nil, BatchOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, EmptyLastOffsetDelta: 4}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return append(seeds, empty)
}

// FuzzParseBatch feeds arbitrary bytes to every reader. None may panic; every error is one of
// the sentinels; the readers agree with each other; and a batch accepted with its records
// re-encodes to a batch that validates and decodes to the same records. With fixFraming, the
// batch length and CRC are made to fit the bytes first, so mutations reach the records and
// the codecs instead of stopping at the CRC.
func FuzzParseBatch(f *testing.F) {
	for _, b := range seedBatches(f) {
		f.Add(b, false)
		f.Add(b[:len(b)/2], false)
		f.Add(append(append([]byte{}, b...), b...), false)
		f.Add(b, true)
	}
	d := NewDecompressor(fuzzDecompressedBytesMax)
	c := NewCompressor()
	f.Fuzz(func(t *testing.T, data []byte, fixFraming bool) {
		if fixFraming && len(data) >= HeaderSizeBytes {
			binary.BigEndian.PutUint32(data[batchLengthPos:], uint32(len(data)-LogOverheadBytes))
			binary.BigEndian.PutUint32(data[crcPos:], ComputeCRC(data))
		}
		checkSentinel := func(what string, err error) {
			if err != nil && !errors.Is(err, ErrShortBatch) && !errors.Is(err, ErrCorruptBatch) &&
				!errors.Is(err, ErrUnsupportedMagic) && !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("%s: error %v matches no sentinel", what, err)
			}
		}
		_, parseErr := ParseHeader(data)
		checkSentinel("ParseHeader", parseErr)
		h, validateErr := Validate(data)
		checkSentinel("Validate", validateErr)
		if validateErr == nil && parseErr != nil {
			t.Fatalf("Validate accepted what ParseHeader rejected: %v", parseErr)
		}

		// NextBatch and the iterator walk the bytes without panicking and agree on extents.
		it := NewBatchIterator(data)
		consumed := 0
		for it.Next() {
			if it.Position() != consumed {
				t.Fatalf("batch at %d, expected %d", it.Position(), consumed)
			}
			consumed += len(it.Batch())
		}
		checkSentinel("BatchIterator", it.Err())
		if it.Position() != consumed || len(it.Rest()) != len(data)-consumed {
			t.Fatalf("iterator ended at %d with %d left, consumed %d of %d", it.Position(), len(it.Rest()), consumed, len(data))
		}
		if validateErr == nil && (consumed != len(data) || it.Err() != nil) {
			t.Fatalf("a valid batch does not iterate as one batch: %v", it.Err())
		}

		stored, storedErr := d.ValidateRecords(data, StoredRecords)
		checkSentinel("ValidateRecords(stored)", storedErr)
		_, producedErr := d.ValidateRecords(data, ProducedRecords)
		checkSentinel("ValidateRecords(produced)", producedErr)
		var records []Record
		forEachErr := d.ForEachRecord(data, func(r *Record) error {
			records = append(records, cloneRecord(r))
			return nil
		})
		checkSentinel("ForEachRecord", forEachErr)
		switch {
		case producedErr == nil && storedErr != nil:
			t.Fatalf("produced rule accepted what the stored rule rejected: %v", storedErr)
		case storedErr == nil && forEachErr != nil:
			t.Fatalf("ForEachRecord rejected a batch ValidateRecords accepted: %v", forEachErr)
		case (storedErr == nil || forEachErr == nil) && validateErr != nil:
			t.Fatalf("records accepted in a batch Validate rejected: %v", validateErr)
		}
		if storedErr != nil {
			return
		}
		if int32(len(records)) != h.RecordCount {
			t.Fatalf("%d records, header says %d", len(records), h.RecordCount)
		}
		// Re-encode with the batch's own header fields and codec.
		opts := BatchOptions{
			BaseOffset: h.BaseOffset, PartitionLeaderEpoch: h.PartitionLeaderEpoch, Codec: h.Codec(),
			FirstTimestamp: h.FirstTimestamp, ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch,
			BaseSequence: h.BaseSequence, Transactional: h.Transactional(), Control: h.Control(),
			LogAppendTime: h.LogAppendTime(), EmptyLastOffsetDelta: h.LastOffsetDelta,
		}
		again, err := c.AppendBatch(nil, opts, records)
		if err != nil {
			t.Fatalf("re-encoding accepted records: %v", err)
		}
		s, err := d.ValidateRecords(again, StoredRecords)
		if err != nil {
			t.Fatalf("re-encoded batch rejected: %v", err)
		}
		if s.TimestampMinMs != stored.TimestampMinMs || s.TimestampMaxMs != stored.TimestampMaxMs || s.NullKeyCount != stored.NullKeyCount {
			t.Fatalf("re-encoded summary %+v, original %+v", s, stored)
		}
		var decoded []Record
		if err := d.ForEachRecord(again, func(r *Record) error { decoded = append(decoded, cloneRecord(r)); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := equalRecords(decoded, records); err != nil {
			t.Fatalf("re-encoded records differ: %v", err)
		}
		if h.Codec() == CodecNone && !h.LogAppendTime() && h.MaxTimestamp == s.Header.MaxTimestamp &&
			h.Attributes == s.Header.Attributes && len(records) > 0 && h.LastOffsetDelta == s.Header.LastOffsetDelta &&
			canonicalRecords(data[HeaderSizeBytes:]) && string(again[LogOverheadBytes:]) != string(data[LogOverheadBytes:]) {
			t.Fatalf("canonical uncompressed batch re-encodes to different bytes")
		}
	})
}

// canonicalRecords reports whether a records section re-encodes to itself (minimal varints).
func canonicalRecords(b []byte) bool {
	rd := recordReader{b: b}
	var out []byte
	var r Record
	for rd.pos < len(b) {
		if rd.readRecord(&r) != nil {
			return false
		}
		out = appendRecord(out, &r)
	}
	return string(out) == string(b)
}
