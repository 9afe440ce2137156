package log

import (
	"errors"
	"fmt"

	"github.com/weirdata/weir/core/record"
)

// ListOffsets special timestamps, as Kafka defines them.
const (
	TimestampLatest   int64 = -1 // the log end offset
	TimestampEarliest int64 = -2 // the log start offset
	TimestampMax      int64 = -3 // the record with the largest timestamp (KIP-734)
)

// errStopIteration ends a ForEachRecord walk early.
var errStopIteration = errors.New("log: stop iteration")

// OffsetForTimestamp answers ListOffsets by time, as Kafka's fetchOffsetByTimestamp: the first
// offset (at or above the log start) whose record timestamp is ≥ timestampMs, and that
// record's timestamp; found is false when no record is that late. The special targets -1, -2
// and -3 return the end offset, the start offset and MaxTimestamp.
//
// The candidate batch is found through the time index, the offset index and header scans;
// then that one batch is read inline to find the exact record (ListOffsets is rare, and
// Kafka's answer is per record, not per batch).
func (l *Log) OffsetForTimestamp(timestampMs int64) (offset record.Offset, foundTimestampMs int64, found bool, err error) {
	if err := l.check(); err != nil {
		return UndefinedOffset, record.NoTimestamp, false, err
	}
	switch {
	case timestampMs == TimestampLatest:
		return l.endOffset, record.NoTimestamp, true, nil
	case timestampMs == TimestampEarliest:
		return l.startOffset, record.NoTimestamp, true, nil
	case timestampMs == TimestampMax:
		o, ts, err := l.maxTimestamp()
		return o, ts, err == nil && o >= 0, err
	case timestampMs < 0:
		return UndefinedOffset, record.NoTimestamp, false, fmt.Errorf("%w: %d", ErrInvalidTimestamp, timestampMs)
	}
	for i := max(l.segmentIndex(l.startOffset), 0); i < len(l.segments); i++ {
		s := l.segments[i]
		if s.maxTimestampMs < timestampMs || s.sizeBytes == 0 {
			continue
		}
		if _, err := l.files(s); err != nil {
			return UndefinedOffset, record.NoTimestamp, false, err
		}
		from, err := l.lookupTimestamp(s, timestampMs)
		if err != nil {
			return UndefinedOffset, record.NoTimestamp, false, err
		}
		from = max(from, l.startOffset)
		position, err := l.lookupPosition(s, from)
		if err != nil {
			return UndefinedOffset, record.NoTimestamp, false, err
		}
		for position < s.sizeBytes {
			h, err := l.readHeader(s, position)
			if err != nil {
				return UndefinedOffset, record.NoTimestamp, false, err
			}
			if h.MaxTimestamp >= timestampMs && h.LastOffset() >= l.startOffset {
				o, ts, ok, err := l.searchBatch(s, position, &h, timestampMs, l.startOffset)
				if err != nil || ok {
					return o, ts, ok, err
				}
			}
			position += h.SizeBytes()
		}
	}
	return UndefinedOffset, record.NoTimestamp, false, nil
}

// MaxTimestamp answers ListOffsets with timestamp -3: the offset and timestamp of the first
// record carrying the log's largest timestamp; (-1, -1) when no record has a timestamp.
func (l *Log) MaxTimestamp() (offset record.Offset, timestampMs int64) {
	o, ts, err := l.maxTimestamp()
	if err != nil {
		return UndefinedOffset, record.NoTimestamp
	}
	return o, ts
}

func (l *Log) maxTimestamp() (record.Offset, int64, error) {
	if err := l.check(); err != nil {
		return UndefinedOffset, record.NoTimestamp, err
	}
	var best *segment
	for _, s := range l.segments {
		if s.sizeBytes > 0 && s.maxTimestampMs >= 0 && (best == nil || s.maxTimestampMs > best.maxTimestampMs) {
			best = s
		}
	}
	if best == nil {
		return UndefinedOffset, record.NoTimestamp, nil
	}
	if _, err := l.files(best); err != nil {
		return UndefinedOffset, record.NoTimestamp, err
	}
	position, err := l.lookupPosition(best, best.offsetOfMaxTimestamp)
	if err != nil {
		return UndefinedOffset, record.NoTimestamp, err
	}
	for position < best.sizeBytes {
		h, err := l.readHeader(best, position)
		if err != nil {
			return UndefinedOffset, record.NoTimestamp, err
		}
		if h.LastOffset() >= best.offsetOfMaxTimestamp {
			o, ts, ok, err := l.searchBatch(best, position, &h, best.maxTimestampMs, 0)
			if err != nil {
				return UndefinedOffset, record.NoTimestamp, err
			}
			if ok {
				return o, ts, nil
			}
			break
		}
		position += h.SizeBytes()
	}
	// The index's notion of the max disagrees with the batch: answer at batch granularity.
	return best.offsetOfMaxTimestamp, best.maxTimestampMs, nil
}

// searchBatch reads the batch at position and returns its first record with a timestamp ≥
// targetMs at an offset ≥ minOffset. A LogAppendTime batch's records all carry its max timestamp.
func (l *Log) searchBatch(s *segment, position int64, h *record.Header, targetMs int64, minOffset record.Offset) (record.Offset, int64, bool, error) {
	batch := make([]byte, h.SizeBytes())
	if _, err := readFull(s.files.log.file, batch, position); err != nil {
		return UndefinedOffset, record.NoTimestamp, false, fmt.Errorf("log: read %s at %d: %w", s.logPath, position, err)
	}
	var (
		foundOffset          = UndefinedOffset
		foundTimestamp int64 = record.NoTimestamp
	)
	err := record.ForEachRecord(batch, func(r *record.Record) error {
		ts := h.FirstTimestamp + r.TimestampDelta
		if h.LogAppendTime() {
			ts = h.MaxTimestamp
		}
		o := h.BaseOffset + record.Offset(r.OffsetDelta)
		if ts >= targetMs && o >= minOffset {
			foundOffset, foundTimestamp = o, ts
			return errStopIteration
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopIteration) {
		return UndefinedOffset, record.NoTimestamp, false, fmt.Errorf("%w: %s at %d: %w", ErrCorruptLog, s.logPath, position, err)
	}
	return foundOffset, foundTimestamp, foundOffset >= 0, nil
}
