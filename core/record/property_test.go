package record

import (
	"errors"
	"testing"

	"pgregory.net/rapid"
)

// nullableBytes draws nil, empty or up to maxLen random bytes.
func nullableBytes(t *rapid.T, label string, maxLen int) []byte {
	switch rapid.IntRange(0, 4).Draw(t, label+"Kind") {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	return rapid.SliceOfN(rapid.Byte(), 0, maxLen).Draw(t, label)
}

// drawRecords draws records with consecutive deltas, or increasing ones with gaps (compacted).
func drawRecords(t *rapid.T, gaps bool) []Record {
	n := rapid.IntRange(0, 40).Draw(t, "count")
	if !gaps && n == 0 {
		n = 1
	}
	records := make([]Record, n)
	delta := int32(0)
	for i := range records {
		if gaps && i > 0 {
			delta += int32(rapid.IntRange(1, 1000).Draw(t, "gap"))
		} else if i > 0 {
			delta++
		}
		r := Record{
			Attributes:     int8(rapid.IntRange(-128, 127).Draw(t, "attributes")),
			TimestampDelta: rapid.Int64Range(-1<<40, 1<<40).Draw(t, "timestampDelta"),
			OffsetDelta:    delta,
			Key:            nullableBytes(t, "key", 64),
			Value:          nullableBytes(t, "value", 2048),
		}
		for range rapid.IntRange(0, 3).Draw(t, "headers") {
			r.Headers = append(r.Headers, RecordHeader{
				Key:   rapid.StringN(0, 16, -1).Draw(t, "headerKey"),
				Value: nullableBytes(t, "headerValue", 32),
			})
		}
		records[i] = r
	}
	return records
}

func drawOptions(t *rapid.T) BatchOptions {
	return BatchOptions{
		BaseOffset:           Offset(rapid.Int64Range(0, 1<<50).Draw(t, "baseOffset")),
		PartitionLeaderEpoch: Epoch(rapid.Int32Range(-1, 1<<20).Draw(t, "epoch")),
		Codec:                rapid.SampledFrom(allCodecs).Draw(t, "codec"),
		FirstTimestamp:       rapid.Int64Range(-1, 1<<42).Draw(t, "firstTimestamp"),
		ProducerID:           rapid.Int64Range(-1, 1<<40).Draw(t, "producerID"),
		ProducerEpoch:        int16(rapid.IntRange(-1, 1<<14).Draw(t, "producerEpoch")),
		BaseSequence:         rapid.Int32Range(0, 1<<30).Draw(t, "baseSequence"),
		Transactional:        rapid.Bool().Draw(t, "transactional"),
		EmptyLastOffsetDelta: rapid.Int32Range(0, 100).Draw(t, "emptyLastOffsetDelta"),
	}
}

// TestPropertyRoundTrip: random records and options → AppendBatch → Validate → ValidateRecords
// → ForEachRecord gives back the input and a header matching the options, with one
// Compressor and Decompressor reused across batches as the broker does.
func TestPropertyRoundTrip(t *testing.T) {
	c := NewCompressor()
	d := NewDecompressor(DefaultDecompressedBytesMax)
	rapid.Check(t, func(t *rapid.T) {
		gaps := rapid.Bool().Draw(t, "gaps")
		records := drawRecords(t, gaps)
		opts := drawOptions(t)
		batch, err := c.AppendBatch(nil, opts, records)
		if err != nil {
			t.Fatal(err)
		}
		// Determinism: a fresh compressor gives the same bytes.
		again, err := AppendBatch(nil, opts, records)
		if err != nil || string(again) != string(batch) {
			t.Fatalf("AppendBatch not deterministic: %v", err)
		}
		h, err := Validate(batch)
		if err != nil {
			t.Fatal(err)
		}
		lastDelta, maxTimestamp := opts.EmptyLastOffsetDelta, opts.FirstTimestamp
		for _, r := range records {
			lastDelta = r.OffsetDelta
			maxTimestamp = max(maxTimestamp, opts.FirstTimestamp+r.TimestampDelta)
		}
		if h.BaseOffset != opts.BaseOffset || h.PartitionLeaderEpoch != opts.PartitionLeaderEpoch || h.Codec() != opts.Codec ||
			h.FirstTimestamp != opts.FirstTimestamp || h.MaxTimestamp != maxTimestamp || h.ProducerID != opts.ProducerID ||
			h.ProducerEpoch != opts.ProducerEpoch || h.BaseSequence != opts.BaseSequence || h.Transactional() != opts.Transactional ||
			h.LastOffsetDelta != lastDelta || h.RecordCount != int32(len(records)) || h.SizeBytes() != int64(len(batch)) {
			t.Fatalf("header %+v for options %+v", h, opts)
		}
		_, err = d.ValidateRecords(batch, StoredRecords)
		if err != nil {
			t.Fatalf("stored rule: %v", err)
		}
		_, err = d.ValidateRecords(batch, ProducedRecords)
		if produced := !gaps || (len(records) > 0 && int(lastDelta) == len(records)-1); produced != (err == nil) {
			t.Fatalf("produced rule with gaps=%v: %v", gaps, err)
		} else if err != nil && !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("produced rule: %v, want ErrInvalidRecord", err)
		}
		var got []Record
		if err := d.ForEachRecord(batch, func(r *Record) error { got = append(got, cloneRecord(r)); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := equalRecords(got, records); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPropertyBitFlips: CRC32C catches every single-bit error it covers, and the fields it
// does not cover are checked for sense, so one flipped bit anywhere is either rejected with
// the right sentinel or, in the base offset and leader epoch the broker rewrites, still a
// valid batch.
func TestPropertyBitFlips(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		opts := drawOptions(t)
		batch, err := AppendBatch(nil, opts, drawRecords(t, false))
		if err != nil {
			t.Fatal(err)
		}
		bit := rapid.IntRange(0, len(batch)*8-1).Draw(t, "bit")
		pos := bit / 8
		batch[pos] ^= 1 << (bit % 8)
		h, err := Validate(batch)
		switch {
		case pos >= crcPos:
			if !errors.Is(err, ErrCorruptBatch) {
				t.Fatalf("flip in byte %d: %v, want ErrCorruptBatch", pos, err)
			}
		case pos == magicPos:
			if !errors.Is(err, ErrUnsupportedMagic) {
				t.Fatalf("flip in magic: %v", err)
			}
		case pos >= batchLengthPos && pos < partitionLeaderEpochPos:
			if !errors.Is(err, ErrShortBatch) && !errors.Is(err, ErrCorruptBatch) {
				t.Fatalf("flip in length: %v", err)
			}
		case pos >= partitionLeaderEpochPos:
			if err != nil || h.PartitionLeaderEpoch == opts.PartitionLeaderEpoch {
				t.Fatalf("flip in leader epoch: %v, epoch %d", err, h.PartitionLeaderEpoch)
			}
		default: // base offset
			if h.BaseOffset < 0 || h.BaseOffset > h.BaseOffset+Offset(h.LastOffsetDelta) {
				if !errors.Is(err, ErrCorruptBatch) {
					t.Fatalf("flip to base offset %d: %v", h.BaseOffset, err)
				}
			} else if err != nil || h.BaseOffset == opts.BaseOffset {
				t.Fatalf("flip in base offset: %v, base %d", err, h.BaseOffset)
			}
		}
	})
}
