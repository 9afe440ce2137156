package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestValidateRecordsRules(t *testing.T) {
	rec := func(delta int32) Record { return Record{OffsetDelta: delta, Key: []byte("k"), Value: []byte("v")} }
	withHeader := func(mutate func(h *Header), records ...Record) []byte {
		h := validHeader(int32(len(records)))
		if len(records) > 0 {
			h.LastOffsetDelta = records[len(records)-1].OffsetDelta
		} else {
			h.LastOffsetDelta = 0
		}
		if mutate != nil {
			mutate(&h)
		}
		return forgeBatch(h, encodeRecords(records...))
	}
	raw := func(count int32, records []byte) []byte { return forgeBatch(validHeader(count), records) }
	oneRecord := encodeRecords(rec(0))
	tests := []struct {
		name           string
		batch          []byte
		produced       error // want under ProducedRecords
		stored         error // want under StoredRecords
		nullKeys       int32 // when both are nil
		firstNullIndex int32
		contains       string // in the error, to show which check fired
	}{
		{name: "consecutive", batch: withHeader(nil, rec(0), rec(1), rec(2))},
		{name: "empty batch", batch: withHeader(nil), produced: ErrInvalidRecord},
		{name: "gap from compaction", batch: withHeader(nil, rec(0), rec(2)), produced: ErrInvalidRecord},
		{name: "first records compacted away", batch: withHeader(nil, rec(3)), produced: ErrInvalidRecord},
		{name: "range beyond last record", batch: withHeader(func(h *Header) { h.LastOffsetDelta = 5 }, rec(0), rec(1)), produced: ErrInvalidRecord},
		{name: "delta beyond last offset delta", batch: withHeader(func(h *Header) { h.LastOffsetDelta = 1 }, rec(0), rec(2)), produced: ErrInvalidRecord, stored: ErrInvalidRecord},
		{name: "deltas decrease", contains: "offset delta", batch: withHeader(func(h *Header) { h.LastOffsetDelta = 1 }, rec(1), rec(0)), produced: ErrInvalidRecord, stored: ErrInvalidRecord},
		{name: "deltas repeat", batch: withHeader(func(h *Header) { h.LastOffsetDelta = 1 }, rec(0), rec(0)), produced: ErrInvalidRecord, stored: ErrInvalidRecord},
		{name: "control batch", batch: withHeader(func(h *Header) { h.Attributes = controlBit }, rec(0)), produced: ErrInvalidRecord},
		{name: "producer id without sequence", batch: withHeader(func(h *Header) { h.ProducerID = 7 }, rec(0)), produced: ErrInvalidRecord},
		{name: "idempotent", batch: withHeader(func(h *Header) { h.ProducerID = 7; h.ProducerEpoch = 0; h.BaseSequence = 0 }, rec(0))},
		{name: "null keys counted", batch: withHeader(nil, rec(0), Record{OffsetDelta: 1}, Record{OffsetDelta: 2}), nullKeys: 2, firstNullIndex: 1},
		{name: "timestamp overflow", contains: "overflows", batch: withHeader(func(h *Header) { h.FirstTimestamp = math.MaxInt64 }, Record{TimestampDelta: 1}), produced: ErrInvalidRecord, stored: ErrInvalidRecord},
		// Framing of records inside a batch whose CRC holds.
		{name: "fewer records than the count", contains: "cannot fit", batch: raw(2, append(oneRecord, 0)), produced: ErrInvalidRecord, stored: ErrInvalidRecord},
		{name: "trailing bytes after records", contains: "after the last", batch: raw(1, append(append([]byte{}, oneRecord...), make([]byte, 7)...)), produced: ErrInvalidRecord, stored: ErrInvalidRecord},
		{name: "record length past the end", contains: "record length", batch: raw(1, append([]byte{0x7e}, oneRecord[1:]...)), produced: ErrInvalidRecord, stored: ErrInvalidRecord},
		{name: "record length short of its fields", contains: "bad", batch: raw(1, append([]byte{byte(oneRecord[0] - 2)}, oneRecord[1:]...)), produced: ErrInvalidRecord, stored: ErrInvalidRecord},
		{name: "negative record length", contains: "record length -1", batch: raw(1, append([]byte{0x01}, make([]byte, 8)...)), produced: ErrInvalidRecord, stored: ErrInvalidRecord},
		{name: "overlong varint", contains: "bad record length varint", batch: raw(1, append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, make([]byte, 8)...)), produced: ErrInvalidRecord, stored: ErrInvalidRecord},
		{name: "key length past record", contains: "bad key length", batch: raw(1, forgeRecordBody(func(b []byte) []byte { return binary.AppendVarint(b, 50) })), produced: ErrInvalidRecord, stored: ErrInvalidRecord},
		{name: "key length below -1", contains: "bad key length", batch: raw(1, forgeRecordBody(func(b []byte) []byte { return binary.AppendVarint(b, -2) })), produced: ErrInvalidRecord, stored: ErrInvalidRecord},
		{name: "huge header count", contains: "bad header count", batch: raw(1, forgeRecordBody(func(b []byte) []byte {
			b = binary.AppendVarint(b, -1) // key
			b = binary.AppendVarint(b, -1) // value
			return binary.AppendVarint(b, math.MaxInt32)
		})), produced: ErrInvalidRecord, stored: ErrInvalidRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rule := range []RecordsRule{ProducedRecords, StoredRecords} {
				want := tt.produced
				if rule == StoredRecords {
					want = tt.stored
				}
				s, err := ValidateRecords(tt.batch, rule)
				if want == nil {
					if err != nil {
						t.Fatalf("rule %d: %v", rule, err)
					}
					wantFirst := tt.firstNullIndex
					if tt.nullKeys == 0 {
						wantFirst = -1
					}
					if s.NullKeyCount != tt.nullKeys || s.FirstNullKeyIndex != wantFirst {
						t.Fatalf("rule %d: null keys %d first %d, want %d first %d", rule, s.NullKeyCount, s.FirstNullKeyIndex, tt.nullKeys, wantFirst)
					}
					continue
				}
				if !errors.Is(err, want) || errors.Is(err, ErrCorruptBatch) {
					t.Fatalf("rule %d: %v, want only %v", rule, err, want)
				}
				if !strings.Contains(err.Error(), tt.contains) {
					t.Fatalf("rule %d: %v, want it to mention %q", rule, err, tt.contains)
				}
			}
		})
	}
}

// forgeRecordBody builds a records section of one record: attributes, zero deltas, then what
// rest appends, framed by a length that covers exactly those bytes.
func forgeRecordBody(rest func([]byte) []byte) []byte {
	body := append(rest([]byte{0, 0, 0}), make([]byte, 8)...) // room, so the count fits
	return append(binary.AppendVarint(nil, int64(len(body))), body...)
}

func TestValidateRecordsSummary(t *testing.T) {
	records := []Record{
		{OffsetDelta: 0, Key: []byte("a"), Value: bytes.Repeat([]byte("x"), 100)},
		{OffsetDelta: 1, TimestampDelta: -50, Key: []byte("b")},
		{OffsetDelta: 2, TimestampDelta: 70, Key: []byte("c")},
	}
	for _, codec := range allCodecs {
		b, err := AppendBatch(nil, BatchOptions{Codec: codec, FirstTimestamp: 1000, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, records)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ValidateRecords(b, ProducedRecords)
		if err != nil {
			t.Fatal(err)
		}
		if s.TimestampMinMs != 950 || s.TimestampMaxMs != 1070 || s.Header.MaxTimestamp != 1070 || s.NullKeyCount != 0 ||
			s.FirstNullKeyIndex != -1 || s.UncompressedBytes != len(encodeRecords(records...)) {
			t.Fatalf("%v: summary %+v", codec, s)
		}
	}
}

func TestDecompressionFailuresAreCorrupt(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789"), 1000)
	for _, codec := range allCodecs[1:] {
		t.Run(codec.String(), func(t *testing.T) {
			good, err := AppendBatch(nil, BatchOptions{Codec: codec, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1},
				[]Record{{Value: payload}})
			if err != nil {
				t.Fatal(err)
			}
			h := validHeader(1)
			h.Attributes = int16(codec)
			garbage := forgeBatch(h, []byte("this is not compressed data at all, not even close"))
			truncated := forgeBatch(h, good[HeaderSizeBytes:len(good)-8])
			for name, b := range map[string][]byte{"garbage": garbage, "truncated": truncated} {
				if err := ForEachRecord(b, func(*Record) error { return nil }); !errors.Is(err, ErrCorruptBatch) {
					t.Errorf("%s: ForEachRecord: %v, want ErrCorruptBatch", name, err)
				}
				if _, err := ValidateRecords(b, StoredRecords); !errors.Is(err, ErrCorruptBatch) {
					t.Errorf("%s: ValidateRecords: %v, want ErrCorruptBatch", name, err)
				}
			}
			// A bound below the decompressed size rejects the batch (zip bomb); at the size it passes.
			size := int64(len(encodeRecords(Record{Value: payload})))
			if err := NewDecompressor(size-1).ForEachRecord(good, func(*Record) error { return nil }); !errors.Is(err, ErrCorruptBatch) {
				t.Errorf("bound %d: %v, want ErrCorruptBatch", size-1, err)
			}
			if err := NewDecompressor(size).ForEachRecord(good, func(*Record) error { return nil }); err != nil {
				t.Errorf("bound %d: %v", size, err)
			}
		})
	}
}
