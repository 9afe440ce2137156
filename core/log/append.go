package log

import (
	"fmt"
	"math"

	"github.com/weirdata/weir/core/record"
)

// AppendOptions say how Append treats a batch.
type AppendOptions struct {
	AssignOffsets bool         // leader append: base offset := log end offset, leader epoch stamped
	LeaderEpoch   record.Epoch // stamped as partitionLeaderEpoch when AssignOffsets
	LogAppendTime bool         // stamp NowMs as LogAppendTime (with AssignOffsets)
	NowMs         int64        // wall clock, for segment.ms rolls and LogAppendTime
}

// AppendResult describes an appended batch.
type AppendResult struct {
	BaseOffset   record.Offset
	LastOffset   record.Offset
	MaxTimestamp int64
}

// Append writes one batch (already validated by the caller or not: it is validated here and
// never written if bad) to the active segment's page cache, rolling first if needed. A leader
// append (AssignOffsets) rewrites the batch in the caller's buffer: base offset, leader epoch
// and, for LogAppendTime, the timestamp and CRC. A follower append keeps the batch's offsets,
// which must not go below the log end offset. The data is durable only after a sync
// (PendingSync) covering it completes.
//
// A write failure poisons the log: the bytes in the page cache are unknown from then on.
func (l *Log) Append(batch []byte, opts AppendOptions) (AppendResult, error) {
	if err := l.check(); err != nil {
		return AppendResult{}, err
	}
	h, err := record.Validate(batch)
	if err != nil {
		return AppendResult{}, fmt.Errorf("%w: %w", ErrInvalidBatch, err)
	}
	if opts.AssignOffsets {
		if l.endOffset > math.MaxInt64-1-record.Offset(h.LastOffsetDelta) {
			return AppendResult{}, fmt.Errorf("%w: offsets past the largest offset", ErrBatchTooLarge)
		}
		record.SetBaseOffset(batch, l.endOffset)
		record.SetPartitionLeaderEpoch(batch, opts.LeaderEpoch)
		if opts.LogAppendTime {
			record.SetLogAppendTime(batch, opts.NowMs)
		}
		if h, err = record.ParseHeader(batch); err != nil {
			panic(fmt.Sprintf("log: invariant: stamped batch no longer parses: %v", err))
		}
	} else if h.BaseOffset < l.endOffset {
		return AppendResult{}, fmt.Errorf("%w: base offset %d, log end offset %d", ErrNonMonotonicOffset, h.BaseOffset, l.endOffset)
	}
	if h.SizeBytes() > math.MaxInt32 {
		return AppendResult{}, fmt.Errorf("%w: %d bytes", ErrBatchTooLarge, h.SizeBytes())
	}
	if err := l.maybeRoll(&h, opts.NowMs); err != nil {
		l.poison(err)
		return AppendResult{}, err
	}
	s := l.active()
	position := s.sizeBytes
	if _, err := s.files.log.file.WriteAt(batch, position); err != nil {
		err = fmt.Errorf("log: write %s at %d: %w", s.logPath, position, err)
		l.poison(err)
		return AppendResult{}, err
	}
	l.markDirty(s.files.log)
	s.sizeBytes += h.SizeBytes()
	if s.firstAppendMs < 0 {
		s.firstAppendMs = opts.NowMs
	}
	s.lastModifiedMs = opts.NowMs
	if err := l.indexBatch(s, &h, position); err != nil {
		l.poison(err)
		return AppendResult{}, err
	}
	l.endOffset = h.NextOffset()
	if h.PartitionLeaderEpoch >= 0 {
		if err := l.assignEpoch(h.PartitionLeaderEpoch, h.BaseOffset); err != nil {
			l.poison(err)
			return AppendResult{}, err
		}
	}
	return AppendResult{BaseOffset: h.BaseOffset, LastOffset: h.LastOffset(), MaxTimestamp: h.MaxTimestamp}, nil
}

// maybeRoll starts a new segment when the batch h does not belong in the active one, as
// Kafka's LogSegment.shouldRoll: it would not fit in segment.bytes, the segment is older than
// segment.ms, an index is full, or its offsets do not fit the index's int32 relative offsets.
// An empty active segment is never rolled for size or age: a batch larger than a segment goes
// into one alone.
func (l *Log) maybeRoll(h *record.Header, nowMs int64) error {
	s := l.active()
	offsetsFit := int64(h.LastOffset()-s.baseOffset) <= math.MaxInt32
	if s.sizeBytes == 0 {
		if offsetsFit {
			return nil
		}
		// A follower append far past an empty segment's base: move the segment, as Kafka does.
		return l.replaceEmptyActive(h.BaseOffset)
	}
	full := s.sizeBytes+h.SizeBytes() > l.cfg.SegmentBytes
	old := s.firstAppendMs >= 0 && nowMs-s.firstAppendMs > l.cfg.SegmentMs
	early := offsetsFit && l.cfg.Buggify.Fire("log/roll-early")
	if full || old || early || l.indexFull(s) || !offsetsFit {
		// The new segment starts at the log end, even for a follower batch starting past it
		// (a compacted leader's gap), where Kafka starts it at the batch: segments stay
		// contiguous, which recovery relies on to tell lost unsynced data from a gap (see
		// Open). Only a jump of more than 2^31 offsets, which the index's relative offsets
		// cannot span, leaves a gap between segments.
		return l.roll(max(l.endOffset, h.LastOffset()-math.MaxInt32))
	}
	return nil
}

// roll makes a new active segment at base, which is at least the end offset. The old one gets
// Kafka's final time index entry, trimmed indexes, and joins the open-segment LRU.
func (l *Log) roll(base record.Offset) error {
	if base < l.endOffset {
		panic(fmt.Sprintf("log: invariant: roll to %d below the log end offset %d", base, l.endOffset))
	}
	old := l.active()
	if err := l.finishSegment(old); err != nil {
		return err
	}
	s, err := l.createSegment(base)
	if err != nil {
		return err
	}
	l.segments = append(l.segments, s)
	l.lru = append(l.lru, old)
	l.evict()
	return nil
}

// finishSegment readies the active segment to become inactive.
func (l *Log) finishSegment(s *segment) error {
	if err := l.maybeAppendTimeIndexFinal(s); err != nil {
		return err
	}
	return l.trimIndexes(s)
}

// maybeAppendTimeIndexFinal writes the segment's max timestamp into the slot kept for it.
func (l *Log) maybeAppendTimeIndexFinal(s *segment) error {
	if s.maxTimestampMs < 0 || (s.timeIndexEntries > 0 && s.maxTimestampMs <= s.timeIndexLastMs) {
		return nil
	}
	if s.timeIndexEntries >= l.cfg.timeIndexEntriesMax() {
		// Only after a config change shrank the index; the entry is an optimisation.
		return nil
	}
	saved := s.timeIndexEntries
	err := l.maybeAppendTimeIndex(s, s.maxTimestampMs, s.offsetOfMaxTimestamp)
	if err == nil && s.timeIndexEntries != saved+1 {
		panic("log: invariant: final time index entry not written")
	}
	return err
}

// replaceEmptyActive deletes the empty active segment and creates one at base.
func (l *Log) replaceEmptyActive(base record.Offset) error {
	s := l.active()
	if s.sizeBytes != 0 {
		panic("log: invariant: replacing a non-empty active segment")
	}
	if err := l.removeSegmentNow(s); err != nil {
		return err
	}
	n, err := l.createSegment(base)
	if err != nil {
		return err
	}
	l.segments[len(l.segments)-1] = n
	if l.endOffset < base {
		l.endOffset = base
	}
	return nil
}

// removeSegmentNow closes s's files and unlinks them inline (truncation paths; retention hands
// unlinks to the driver instead). Missing files are fine: a crash may have lost them.
func (l *Log) removeSegmentNow(s *segment) error {
	l.closeSegment(s, true)
	for _, p := range []string{s.logPath, s.indexPath, s.timeIndexPath} {
		if err := l.fs.Remove(p); err != nil && !isNotExist(err) {
			return fmt.Errorf("log: remove %s: %w", p, err)
		}
	}
	l.dirDirty = true
	return nil
}
