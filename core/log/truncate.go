package log

import (
	"fmt"

	"github.com/weirdata/weir/core/record"
)

// TruncateTo removes every record at or above offset, as Kafka's UnifiedLog.truncateTo (a
// follower cutting a divergent tail): later segments are deleted, the segment holding offset
// is cut before the first batch reaching it (a batch straddling offset goes whole) and becomes
// active, indexes and the epoch cache are cut to match, and the end offset becomes offset.
// Below the first segment it is TruncateFullyAndStartAt. Removals and the cut are made inline
// and become durable with the next sync; DurableOffset drops to offset. At or above the end
// only epoch-cache entries starting at the end are dropped.
func (l *Log) TruncateTo(offset record.Offset) error {
	if err := l.check(); err != nil {
		return err
	}
	if offset < 0 {
		return fmt.Errorf("%w: truncate to %d", ErrOffsetOutOfRange, offset)
	}
	if offset >= l.endOffset {
		// No record goes, but an epoch starting at the end does (Kafka's truncateTo): a broker
		// that became leader and appended nothing before losing leadership must not go on
		// claiming that epoch as its last, or its new leader finds it diverged forever.
		if l.epochs.truncateFromEnd(l.endOffset) {
			if err := l.writeEpochCheckpoint(); err != nil {
				l.poison(err)
				return err
			}
		}
		return nil
	}
	if offset < l.segments[0].baseOffset {
		return l.TruncateFullyAndStartAt(offset)
	}
	if err := l.truncateTo(offset); err != nil {
		l.poison(err)
		return err
	}
	return nil
}

func (l *Log) truncateTo(offset record.Offset) error {
	// Lower the durable offset first: if this fails halfway, data above offset may be gone.
	l.lowerDurable(offset)
	for len(l.segments) > 1 && l.active().baseOffset > offset {
		if err := l.removeSegmentNow(l.active()); err != nil {
			return err
		}
		l.segments[len(l.segments)-1] = nil
		l.segments = l.segments[:len(l.segments)-1]
	}
	s := l.active()
	l.lruRemove(s)
	if _, err := l.files(s); err != nil {
		return err
	}
	cut, dataEnd, err := l.cutPosition(s, offset)
	if err != nil {
		return err
	}
	return l.cutActive(s, cut, dataEnd, offset)
}

// cutActive cuts the active segment s at position cut, below which its records end at
// dataEnd, dropping index entries at or above offset (the truncation target, ≥ dataEnd); the
// log then ends at dataEnd.
func (l *Log) cutActive(s *segment, cut int64, dataEnd, offset record.Offset) error {
	if err := s.files.log.file.Truncate(cut); err != nil {
		return fmt.Errorf("log: truncate %s to %d: %w", s.logPath, cut, err)
	}
	s.sizeBytes = cut
	l.markDirty(s.files.log)
	if err := l.truncateIndexes(s, offset); err != nil {
		return err
	}
	if err := l.preallocateIndexes(s); err != nil {
		return err
	}
	if s.sizeBytes == 0 {
		s.firstAppendMs = -1
	}
	// The end is where the records end (or the segment's base): the target itself when it is
	// a batch boundary, as it is for every truncation replication makes. Kafka would leave the
	// end at the target inside a removed batch, a state no restart reproduces.
	// Truncating below the log start moves the start down to offset (Kafka); the end never goes
	// below the start.
	l.startOffset = min(l.startOffset, offset)
	l.endOffset = max(dataEnd, l.startOffset)
	l.lowerDurable(l.endOffset)
	if l.epochs.truncateFromEnd(l.endOffset) {
		return l.writeEpochCheckpoint()
	}
	return nil
}

// cutPosition is the position of the first batch in s whose last offset is ≥ offset (or the
// segment's size when there is none), and the offset after the last batch before it (the
// segment's base when there is none).
func (l *Log) cutPosition(s *segment, offset record.Offset) (int64, record.Offset, error) {
	// Start at an indexed batch below offset: its last offset is the entry's.
	position, dataEnd, err := l.indexedStart(s, offset)
	if err != nil {
		return 0, 0, err
	}
	for position < s.sizeBytes {
		h, err := l.readHeader(s, position)
		if err != nil {
			return 0, 0, err
		}
		if h.LastOffset() >= offset {
			break
		}
		position += h.SizeBytes()
		dataEnd = h.NextOffset()
	}
	return position, dataEnd, nil
}

// truncateIndexes drops index entries at or above offset (Kafka's OffsetIndex/TimeIndex
// truncateTo) and recomputes the segment's max timestamp: the time index's last entry covers
// the batches up to the last offset index entry, a header scan covers the rest.
func (l *Log) truncateIndexes(s *segment, offset record.Offset) error {
	// Entries are sorted by offset: keep those below offset (binary searches).
	lo, err := l.offsetEntriesBelow(s, offset)
	if err != nil {
		return err
	}
	s.indexEntries, s.indexEntriesChecked = lo, 0
	if lo > 0 {
		o, _, err := l.readOffsetIndexEntry(s, lo-1)
		if err != nil {
			return err
		}
		s.indexLastOffset = o
	}
	lo, err = searchEntries(s.timeIndexEntries, func(i int64) (bool, error) {
		_, o, err := l.readTimeIndexEntry(s, i)
		return o < offset, err
	})
	if err != nil {
		return err
	}
	s.timeIndexEntries = lo
	if lo > 0 {
		ts, o, err := l.readTimeIndexEntry(s, lo-1)
		if err != nil {
			return err
		}
		s.timeIndexLastMs, s.timeIndexLastOffset = ts, o
	}
	if err := s.files.index.file.Truncate(s.indexEntries * offsetIndexEntryBytes); err != nil {
		return fmt.Errorf("log: truncate %s: %w", s.indexPath, err)
	}
	if err := s.files.timeIndex.file.Truncate(s.timeIndexEntries * timeIndexEntryBytes); err != nil {
		return fmt.Errorf("log: truncate %s: %w", s.timeIndexPath, err)
	}
	s.maxTimestampMs, s.offsetOfMaxTimestamp = record.NoTimestamp, s.baseOffset
	if s.timeIndexEntries > 0 {
		s.maxTimestampMs, s.offsetOfMaxTimestamp = s.timeIndexLastMs, s.timeIndexLastOffset
	}
	position := int64(0)
	if s.indexEntries > 0 {
		var err error
		if _, position, err = l.readOffsetIndexEntry(s, s.indexEntries-1); err != nil {
			return err
		}
	}
	s.bytesSinceIndexEntry = 0
	for position < s.sizeBytes {
		h, err := l.readHeader(s, position)
		if err != nil {
			return err
		}
		if h.MaxTimestamp > s.maxTimestampMs {
			s.maxTimestampMs, s.offsetOfMaxTimestamp = h.MaxTimestamp, h.LastOffset()
		}
		s.bytesSinceIndexEntry += h.SizeBytes()
		position += h.SizeBytes()
	}
	return nil
}

// TruncateFullyAndStartAt deletes every segment and starts an empty log at offset, as Kafka's
// truncateFullyAndStartAt (a follower whose fetch offset fell below the leader's start): the
// epoch cache is cleared and start, end and durable offsets all become offset.
func (l *Log) TruncateFullyAndStartAt(offset record.Offset) error {
	if err := l.check(); err != nil {
		return err
	}
	if offset < 0 {
		return fmt.Errorf("%w: start at %d", ErrOffsetOutOfRange, offset)
	}
	if err := l.truncateFully(offset); err != nil {
		l.poison(err)
		return err
	}
	return nil
}

func (l *Log) truncateFully(offset record.Offset) error {
	// Nothing is durable while segments are being deleted; offset is, vacuously, once done.
	l.lowerDurable(0)
	for len(l.segments) > 0 {
		s := l.segments[len(l.segments)-1]
		if err := l.removeSegmentNow(s); err != nil {
			return err
		}
		l.segments[len(l.segments)-1] = nil
		l.segments = l.segments[:len(l.segments)-1]
	}
	s, err := l.createSegment(offset)
	if err != nil {
		return err
	}
	l.segments = append(l.segments, s)
	l.startOffset, l.endOffset = offset, offset
	l.lowerDurable(offset)
	l.durableOffset = offset
	l.epochs.entries = l.epochs.entries[:0]
	return l.writeEpochCheckpoint()
}

// DeleteRecordsBefore moves the log start offset up to offset (DeleteRecords); offsets below
// it are no longer readable and their segments go at the next retention pass. offset may not
// pass the end offset (the caller bounds it by the high watermark, as Kafka does).
func (l *Log) DeleteRecordsBefore(offset record.Offset) error {
	if err := l.check(); err != nil {
		return err
	}
	if offset > l.endOffset || offset < 0 {
		return fmt.Errorf("%w: delete before %d, log ends at %d", ErrOffsetOutOfRange, offset, l.endOffset)
	}
	if offset <= l.startOffset {
		return nil
	}
	l.startOffset = offset
	if l.epochs.truncateFromStart(offset) {
		if err := l.writeEpochCheckpoint(); err != nil {
			l.poison(err)
			return err
		}
	}
	return nil
}

func (l *Log) lruRemove(s *segment) {
	for i, o := range l.lru {
		if o == s {
			l.lru = append(l.lru[:i], l.lru[i+1:]...)
			return
		}
	}
}
