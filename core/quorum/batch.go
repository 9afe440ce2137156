package quorum

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/weirdata/weir/core/record"
)

// Entries on the wire and on disk are Kafka record batches v2, framed as KRaft frames
// __cluster_metadata: one record batch per batch of entries (see Entry), PartitionLeaderEpoch
// the epoch, FirstTimestamp and MaxTimestamp the batch's timestamp, one record per entry with a
// null key, timestamp delta 0 and the entry's data as value, no producer id, no compression. A
// LeaderChange entry is a control batch whose record key is the control record key (version 0,
// type LeaderChange) and whose value is the LeaderChangeMessage. Framing is deterministic: the
// same batch of entries at the same offset is the same bytes on every node.

// ErrInvalidBatch is what DecodeBatches wraps for bytes that are not entries: a corrupt,
// truncated or ill-formed batch, or one KRaft would not write. The record package's sentinel
// (ErrCorruptBatch, ErrShortBatch, ...) is wrapped too when it found the fault.
var ErrInvalidBatch = errors.New("quorum: invalid entry batch")

// Control record key: int16 version 0, int16 type (Kafka's ControlRecordType).
const (
	controlKeyVersion   int16 = 0
	controlTypeLeader   int16 = 2 // LEADER_CHANGE
	controlKeySizeBytes       = 4
)

// leaderChangeKey is the key of every control record the quorum writes.
var leaderChangeKey = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, uint16(controlKeyVersion)), uint16(controlTypeLeader))

// AppendBatches appends entries, whole batches, to dst as record batches, the first entry at
// baseOffset: one record batch per batch of entries. A batch is stamped with its entries'
// TimestampMs; timestampMs stamps the batches whose entries carry record.NoTimestamp (a
// leader's log appending its own, whose wall clock comes in: core never reads a clock). An
// error, wrapping ErrInvalidBatch, means the entries cannot be framed: not whole batches or a
// batch whose entries disagree (epoch, control, timestamp), a negative epoch, offsets past the
// int64 range.
func AppendBatches(dst []byte, baseOffset record.Offset, entries []Entry, timestampMs int64) ([]byte, error) {
	if baseOffset < 0 {
		return dst, fmt.Errorf("%w: negative base offset %d", ErrInvalidBatch, baseOffset)
	}
	if err := checkBatches(entries); err != nil {
		return dst, fmt.Errorf("%w: at offset %d: %w", ErrInvalidBatch, baseOffset, err)
	}
	start := len(dst)
	var records []record.Record
	for i := 0; i < len(entries); {
		end := i + 1
		for entries[end-1].MoreInBatch {
			end++
		}
		if entries[i].Epoch < 0 {
			return dst[:start], fmt.Errorf("%w: entry at offset %d has negative epoch %d", ErrInvalidBatch, baseOffset+record.Offset(i), entries[i].Epoch)
		}
		records = records[:0]
		for j := i; j < end; j++ {
			r := record.Record{OffsetDelta: int32(j - i), Value: entries[j].Data}
			if r.Value == nil {
				r.Value = []byte{} // a metadata record's value is never null
			}
			if entries[i].Control {
				r.Key = leaderChangeKey
			}
			records = append(records, r)
		}
		ts := entries[i].TimestampMs
		if ts == record.NoTimestamp {
			ts = timestampMs
		}
		opts := record.BatchOptions{
			BaseOffset:           baseOffset + record.Offset(i),
			PartitionLeaderEpoch: entries[i].Epoch,
			Codec:                record.CodecNone,
			FirstTimestamp:       ts,
			ProducerID:           record.NoProducerID,
			ProducerEpoch:        -1,
			BaseSequence:         record.NoSequence,
			Control:              entries[i].Control,
		}
		var err error
		if dst, err = record.AppendBatch(dst, opts, records); err != nil {
			return dst[:start], fmt.Errorf("%w: entries %d..%d at offset %d: %w", ErrInvalidBatch, i, end-1, opts.BaseOffset, err)
		}
		i = end
	}
	return dst, nil
}

// DecodeBatches decodes a run of record batches back into entries and returns the offset of
// the first (UndefinedOffset for no bytes). Each batch is validated whole: extent, magic, CRC
// (record.NextBatch), then what makes it a quorum batch: contiguous offsets from batch to
// batch and record to record, a non-negative PartitionLeaderEpoch, no compression, no
// producer or transaction, and in a control batch only LeaderChange control records. Each
// record batch becomes one batch of entries (MoreInBatch on all but its last) stamped with the
// batch's FirstTimestamp; per-record timestamp deltas, which Weir never writes, are not kept.
// Any fault, a truncated tail included, is an error wrapping ErrInvalidBatch, never a panic.
// The entries' Data are copies: data may be reused once DecodeBatches returns.
func DecodeBatches(data []byte) (record.Offset, []Entry, error) {
	base := UndefinedOffset
	var entries []Entry
	next := UndefinedOffset
	it := record.NewBatchIterator(data)
	for it.Next() {
		h := it.Header()
		if next == UndefinedOffset {
			base = h.BaseOffset
		} else if h.BaseOffset != next {
			return base, nil, fmt.Errorf("%w: batch at offset %d after one ending at %d", ErrInvalidBatch, h.BaseOffset, next)
		}
		var err error
		if entries, err = appendBatchEntries(entries, &h, it.Batch()); err != nil {
			return base, nil, err
		}
		next = h.NextOffset()
	}
	if err := it.Err(); err != nil {
		return base, nil, fmt.Errorf("%w: %w", ErrInvalidBatch, err)
	}
	return base, entries, nil
}

// appendBatchEntries appends the entries of one batch that passed record.Validate.
func appendBatchEntries(entries []Entry, h *record.Header, batch []byte) ([]Entry, error) {
	switch {
	case h.PartitionLeaderEpoch < 0:
		return entries, fmt.Errorf("%w: batch at offset %d has no leader epoch (%d)", ErrInvalidBatch, h.BaseOffset, h.PartitionLeaderEpoch)
	case h.Codec() != record.CodecNone:
		// KRaft writes the metadata log uncompressed; refusing codecs also bounds what a
		// fetch answer can expand to.
		return entries, fmt.Errorf("%w: batch at offset %d compressed with %s", ErrInvalidBatch, h.BaseOffset, h.Codec())
	case h.Transactional() || h.ProducerID != record.NoProducerID:
		return entries, fmt.Errorf("%w: batch at offset %d has producer id %d (transactional %t)", ErrInvalidBatch, h.BaseOffset, h.ProducerID, h.Transactional())
	case h.RecordCount == 0 || int64(h.RecordCount) != int64(h.LastOffsetDelta)+1:
		// Every offset holds an entry: no empty batches and no compacted gaps.
		return entries, fmt.Errorf("%w: batch at offset %d has %d records for %d offsets", ErrInvalidBatch, h.BaseOffset, h.RecordCount, int64(h.LastOffsetDelta)+1)
	}
	// One copy of the batch's bytes backs every entry's Data: the input may be reused.
	owned := append([]byte(nil), batch[record.HeaderSizeBytes:]...)
	valuesEnd := 0
	i := int32(0)
	err := record.ForEachRecord(batch, func(r *record.Record) error {
		offset := h.BaseOffset + record.Offset(i)
		if r.OffsetDelta != i {
			return fmt.Errorf("%w: record %d of batch at offset %d has offset delta %d", ErrInvalidBatch, i, h.BaseOffset, r.OffsetDelta)
		}
		if r.Value == nil {
			return fmt.Errorf("%w: entry at offset %d has a null value", ErrInvalidBatch, offset)
		}
		if h.Control() {
			if err := checkControlKey(r.Key); err != nil {
				return fmt.Errorf("%w: entry at offset %d: %w", ErrInvalidBatch, offset, err)
			}
		}
		// Values are copied into owned front to back; they never outgrow the records.
		n := copy(owned[valuesEnd:], r.Value)
		entries = append(entries, Entry{
			Epoch: h.PartitionLeaderEpoch, Control: h.Control(), Data: owned[valuesEnd : valuesEnd+n : valuesEnd+n],
			MoreInBatch: i < h.RecordCount-1, TimestampMs: h.FirstTimestamp,
		})
		valuesEnd += n
		i++
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrInvalidBatch) {
			err = fmt.Errorf("%w: %w", ErrInvalidBatch, err)
		}
		return entries, err
	}
	return entries, nil
}

// checkControlKey accepts only the LeaderChange control record: the other control types
// (transaction markers, snapshot header and footer, KRaft version and voters of KIP-853) have
// no Entry to become.
func checkControlKey(key []byte) error {
	if len(key) != controlKeySizeBytes {
		return fmt.Errorf("control record key of %d bytes", len(key))
	}
	version := int16(binary.BigEndian.Uint16(key))
	controlType := int16(binary.BigEndian.Uint16(key[2:]))
	switch {
	case version != controlKeyVersion:
		return fmt.Errorf("control record key version %d", version)
	case controlType != controlTypeLeader:
		return fmt.Errorf("control record type %d, only LeaderChange (%d) is a quorum entry", controlType, controlTypeLeader)
	}
	return nil
}
