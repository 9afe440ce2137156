package record

import (
	"encoding/binary"
	"fmt"
	"math"
)

// RecordsRule chooses which rules ValidateRecords holds a batch to.
type RecordsRule uint8

const (
	// ProducedRecords is Kafka's rule for a batch a client produces (LogValidator.validateBatch
	// with origin CLIENT): at least one record, LastOffsetDelta == RecordCount-1, offset deltas
	// exactly 0..n-1, no control batch, and a base sequence whenever there is a producer id.
	// Kafka rewrites a compressed batch whose inner offsets are not 0..n-1 (a v0/v1-era client
	// bug); Weir stores batches byte for byte, so it rejects one instead.
	ProducedRecords RecordsRule = iota
	// StoredRecords is the rule for a batch read from a log or received from a leader: the
	// cleaner may have removed records, so deltas need only increase and stay within
	// LastOffsetDelta, and a batch emptied by the cleaner may hold no records.
	StoredRecords
)

// RecordsSummary is what ValidateRecords learns from a batch's records, for the checks the
// broker makes with its own configuration (timestamp bounds, keys on a compacted topic).
type RecordsSummary struct {
	Header Header
	// TimestampMinMs and TimestampMaxMs span the records' timestamps (FirstTimestamp plus each
	// delta); NoTimestamp when there are no records. For a LogAppendTime batch they are the
	// producer's original values, which the broker overwrites.
	TimestampMinMs int64
	TimestampMaxMs int64
	// NullKeyCount counts records without a key, which a compacted topic rejects.
	NullKeyCount int32
	// FirstNullKeyIndex is the index of the first keyless record, -1 when none (Kafka's
	// RecordError names the batch index).
	FirstNullKeyIndex int32
	// UncompressedBytes is the size of the records section once decompressed.
	UncompressedBytes int
}

// ValidateRecords is Validate followed by a check of every record: the batch decompresses
// within DefaultDecompressedBytesMax, RecordCount records fill the records section exactly,
// and the batch follows rule. Damaged bytes (CRC, lengths, decompression) are ErrCorruptBatch,
// Kafka's CORRUPT_MESSAGE; records that do not parse or break a rule are ErrInvalidRecord,
// Kafka's INVALID_RECORD.
func ValidateRecords(batch []byte, rule RecordsRule) (RecordsSummary, error) {
	h, err := Validate(batch)
	if err != nil {
		return RecordsSummary{Header: h}, err
	}
	if h.Codec() == CodecNone {
		var r Record
		return validateRecords(&h, batch[HeaderSizeBytes:], &r, rule)
	}
	return NewDecompressor(DefaultDecompressedBytesMax).validateValidated(&h, batch, rule)
}

// ValidateRecords is the package's ValidateRecords with d's decoders, buffers and bound.
func (d *Decompressor) ValidateRecords(batch []byte, rule RecordsRule) (RecordsSummary, error) {
	h, err := Validate(batch)
	if err != nil {
		return RecordsSummary{Header: h}, err
	}
	return d.validateValidated(&h, batch, rule)
}

func (d *Decompressor) validateValidated(h *Header, batch []byte, rule RecordsRule) (RecordsSummary, error) {
	records, err := d.records(h, batch)
	if err != nil {
		return RecordsSummary{Header: *h}, err
	}
	return validateRecords(h, records, &d.record, rule)
}

// checkBatchRule checks the header against rule before any record is read.
func checkBatchRule(h *Header, rule RecordsRule) error {
	switch rule {
	case ProducedRecords:
		switch {
		case h.RecordCount <= 0:
			return fmt.Errorf("%w: produced batch at base offset %d has record count %d", ErrInvalidRecord, h.BaseOffset, h.RecordCount)
		case int64(h.LastOffsetDelta) != int64(h.RecordCount)-1:
			return fmt.Errorf("%w: produced batch at base offset %d has last offset delta %d for %d records", ErrInvalidRecord, h.BaseOffset, h.LastOffsetDelta, h.RecordCount)
		case h.Control():
			return fmt.Errorf("%w: clients may not write control batches (base offset %d)", ErrInvalidRecord, h.BaseOffset)
		case h.ProducerID >= 0 && h.BaseSequence < 0:
			return fmt.Errorf("%w: batch at base offset %d has producer id %d but base sequence %d", ErrInvalidRecord, h.BaseOffset, h.ProducerID, h.BaseSequence)
		}
	case StoredRecords:
		// Validate already holds RecordCount <= LastOffsetDelta+1; the deltas are checked per record.
	default:
		panic(fmt.Sprintf("record: unknown RecordsRule %d", rule))
	}
	return nil
}

// validateRecords checks the batch-level rule, then each record in b.
func validateRecords(h *Header, b []byte, r *Record, rule RecordsRule) (RecordsSummary, error) {
	s := RecordsSummary{
		Header: *h, TimestampMinMs: NoTimestamp, TimestampMaxMs: NoTimestamp,
		FirstNullKeyIndex: -1, UncompressedBytes: len(b),
	}
	if err := checkBatchRule(h, rule); err != nil {
		return s, err
	}
	var index int32
	prevDelta := int32(-1)
	// Headers are checked for framing but not kept: validation needs none of them, and
	// building their strings would allocate per record.
	err := forEachRecord(h, b, r, true, func(r *Record) error {
		switch {
		case rule == ProducedRecords && r.OffsetDelta != index:
			return fmt.Errorf("%w: record %d of batch at base offset %d has offset delta %d", ErrInvalidRecord, index, h.BaseOffset, r.OffsetDelta)
		case r.OffsetDelta <= prevDelta || r.OffsetDelta > h.LastOffsetDelta:
			return fmt.Errorf("%w: record %d of batch at base offset %d has offset delta %d after %d, last offset delta %d",
				ErrInvalidRecord, index, h.BaseOffset, r.OffsetDelta, prevDelta, h.LastOffsetDelta)
		}
		ts, ok := addTimestamp(h.FirstTimestamp, r.TimestampDelta)
		if !ok {
			return fmt.Errorf("%w: record %d of batch at base offset %d: timestamp %d%+d overflows", ErrInvalidRecord, index, h.BaseOffset, h.FirstTimestamp, r.TimestampDelta)
		}
		if index == 0 || ts < s.TimestampMinMs {
			s.TimestampMinMs = ts
		}
		if index == 0 || ts > s.TimestampMaxMs {
			s.TimestampMaxMs = ts
		}
		if r.Key == nil {
			if s.NullKeyCount == 0 {
				s.FirstNullKeyIndex = index
			}
			s.NullKeyCount++
		}
		prevDelta = r.OffsetDelta
		index++
		return nil
	})
	return s, err
}

// addTimestamp adds a record's delta to the batch's first timestamp, reporting overflow.
func addTimestamp(first, delta int64) (int64, bool) {
	if (delta > 0 && first > math.MaxInt64-delta) || (delta < 0 && first < math.MinInt64-delta) {
		return 0, false
	}
	return first + delta, true
}

// SetMaxTimestamp rewrites a batch's max timestamp and recomputes the CRC, as Kafka's broker
// does on append with the max it computed from the records (RecordsSummary.TimestampMaxMs).
func SetMaxTimestamp(b []byte, maxTimestampMs int64) {
	binary.BigEndian.PutUint64(b[maxTimestampPos:], uint64(maxTimestampMs))
	binary.BigEndian.PutUint32(b[crcPos:], ComputeCRC(b))
}
