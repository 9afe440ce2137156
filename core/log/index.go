package log

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/record"
)

// Index entry layouts, as Kafka's OffsetIndex and TimeIndex (big-endian):
// .index: relative offset int32, position int32; .timeindex: timestamp int64, relative offset int32.
const (
	offsetIndexEntryBytes = 8
	timeIndexEntryBytes   = 12
)

// relativeOffset converts an offset of s to its int32 form; callers made sure it fits.
func (s *segment) relativeOffset(o record.Offset) uint32 {
	rel := int64(o - s.baseOffset)
	if rel < 0 || rel > math.MaxInt32 {
		panic(fmt.Sprintf("log: invariant: offset %d not relative to segment %d", o, s.baseOffset))
	}
	return uint32(rel)
}

// indexBatch adds the index entries Kafka's LogSegment.append adds for a batch written at
// position: an offset index entry (and a time index entry if the max timestamp grew) once
// more than IndexIntervalBytes were written since the last entry. Shared by append and
// recovery so both produce the same index.
func (l *Log) indexBatch(s *segment, h *record.Header, position int64) error {
	if h.MaxTimestamp > s.maxTimestampMs {
		s.maxTimestampMs = h.MaxTimestamp
		s.offsetOfMaxTimestamp = h.LastOffset()
	}
	if s.bytesSinceIndexEntry > l.cfg.IndexIntervalBytes || (s.bytesSinceIndexEntry > 0 && l.cfg.Buggify.Fire("log/index-every-batch")) {
		if err := l.appendOffsetIndex(s, h.LastOffset(), position); err != nil {
			return err
		}
		if err := l.maybeAppendTimeIndex(s, s.maxTimestampMs, s.offsetOfMaxTimestamp); err != nil {
			return err
		}
		s.bytesSinceIndexEntry = 0
	}
	s.bytesSinceIndexEntry += h.SizeBytes()
	return nil
}

// appendOffsetIndex writes one .index entry. A full index is not an error: the index is
// sparse, lookups scan on from the last entry (appends roll before that happens).
func (l *Log) appendOffsetIndex(s *segment, lastOffset record.Offset, position int64) error {
	if s.indexEntries >= l.cfg.offsetIndexEntriesMax() {
		return nil
	}
	if s.indexEntries > 0 && lastOffset <= s.indexLastOffset {
		panic(fmt.Sprintf("log: invariant: index entry %d not above %d in segment %d", lastOffset, s.indexLastOffset, s.baseOffset))
	}
	b := l.entryBuf[:offsetIndexEntryBytes]
	binary.BigEndian.PutUint32(b, s.relativeOffset(lastOffset))
	binary.BigEndian.PutUint32(b[4:], uint32(position))
	if _, err := s.files.index.file.WriteAt(b, s.indexEntries*offsetIndexEntryBytes); err != nil {
		return fmt.Errorf("log: write %s: %w", s.indexPath, err)
	}
	s.indexEntries++
	s.indexLastOffset = lastOffset
	return nil
}

// maybeAppendTimeIndex writes a .timeindex entry when the timestamp grew, as Kafka's
// TimeIndex.maybeAppend. The last slot is kept for the entry written when the segment rolls.
func (l *Log) maybeAppendTimeIndex(s *segment, timestampMs int64, offset record.Offset) error {
	if timestampMs < 0 || (s.timeIndexEntries > 0 && timestampMs <= s.timeIndexLastMs) {
		return nil
	}
	if s.timeIndexEntries >= l.cfg.timeIndexEntriesMax() {
		return nil
	}
	b := l.entryBuf[:timeIndexEntryBytes]
	binary.BigEndian.PutUint64(b, uint64(timestampMs))
	binary.BigEndian.PutUint32(b[8:], s.relativeOffset(offset))
	if _, err := s.files.timeIndex.file.WriteAt(b, s.timeIndexEntries*timeIndexEntryBytes); err != nil {
		return fmt.Errorf("log: write %s: %w", s.timeIndexPath, err)
	}
	s.timeIndexEntries++
	s.timeIndexLastMs = timestampMs
	s.timeIndexLastOffset = offset
	return nil
}

// indexFull reports whether either index has no room for another append-time entry.
func (l *Log) indexFull(s *segment) bool {
	return s.indexEntries >= l.cfg.offsetIndexEntriesMax() || s.timeIndexEntries >= l.cfg.timeIndexEntriesMax()-1
}

func (l *Log) readOffsetIndexEntry(s *segment, i int64) (record.Offset, int64, error) {
	b := l.entryBuf[:offsetIndexEntryBytes]
	if _, err := readFull(s.files.index.file, b, i*offsetIndexEntryBytes); err != nil {
		return 0, 0, fmt.Errorf("log: read %s: %w", s.indexPath, err)
	}
	rel := binary.BigEndian.Uint32(b)
	pos := binary.BigEndian.Uint32(b[4:])
	return s.baseOffset + record.Offset(rel), int64(pos), nil
}

func (l *Log) readTimeIndexEntry(s *segment, i int64) (int64, record.Offset, error) {
	b := l.entryBuf[:timeIndexEntryBytes]
	if _, err := readFull(s.files.timeIndex.file, b, i*timeIndexEntryBytes); err != nil {
		return 0, 0, fmt.Errorf("log: read %s: %w", s.timeIndexPath, err)
	}
	ts := int64(binary.BigEndian.Uint64(b))
	rel := binary.BigEndian.Uint32(b[8:])
	return ts, s.baseOffset + record.Offset(rel), nil
}

// searchEntries returns the number of leading entries in [0, n) for which below is true, as
// sort.Search does, for a below that is true then false and may fail (each probe reads an index
// entry through the FS).
func searchEntries(n int64, below func(i int64) (bool, error)) (int64, error) {
	lo, hi := int64(0), n
	for lo < hi {
		mid := lo + (hi-lo)/2
		ok, err := below(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// offsetEntriesBelow is the number of offset index entries whose offset is below offset.
func (l *Log) offsetEntriesBelow(s *segment, offset record.Offset) (int64, error) {
	return searchEntries(s.indexEntries, func(i int64) (bool, error) {
		o, _, err := l.readOffsetIndexEntry(s, i)
		return o < offset, err
	})
}

// lookupPosition returns the position of the last indexed batch whose last offset is ≤
// target, or 0: a batch holding target starts there or later (Kafka's OffsetIndex.lookup).
func (l *Log) lookupPosition(s *segment, target record.Offset) (int64, error) {
	n, err := l.offsetEntriesBelow(s, target+1)
	if err != nil || n == 0 {
		return 0, err
	}
	entry := n - 1
	if l.cfg.Buggify.Planted(buggify.BugIndexOffByOne) && n < s.indexEntries {
		entry = n // planted bug: the entry after the last one at or below target
	}
	_, position, err := l.readOffsetIndexEntry(s, entry)
	if err != nil {
		return 0, err
	}
	if position > s.sizeBytes {
		return 0, fmt.Errorf("%w: index %s points at %d past the log's %d bytes", ErrCorruptLog, s.indexPath, position, s.sizeBytes)
	}
	return position, nil
}

// lookupTimestamp returns the offset of the last time index entry whose timestamp is ≤
// targetMs, or the segment's base offset (Kafka's TimeIndex.lookup).
func (l *Log) lookupTimestamp(s *segment, targetMs int64) (record.Offset, error) {
	n, err := searchEntries(s.timeIndexEntries, func(i int64) (bool, error) {
		ts, _, err := l.readTimeIndexEntry(s, i)
		return ts <= targetMs, err
	})
	if err != nil || n == 0 {
		return s.baseOffset, err
	}
	_, offset, err := l.readTimeIndexEntry(s, n-1)
	return offset, err
}
