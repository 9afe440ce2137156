package log

import (
	"errors"
	"fmt"

	"github.com/weirdata/weir/core/record"
)

// Damage is a damaged batch FindDamage located in a live log. CutDamage cuts the log there;
// it is valid only until the log next changes.
type Damage struct {
	// Offset is where the log ends once cut: the offset after the last sound batch before the
	// damaged one (its base offset, unless its header is what is damaged).
	Offset record.Offset
	// Err says what is wrong with the batch.
	Err error

	// Where it is, and the log as it was then: a log that changed since (appended to, cut,
	// segments removed) is not cut by it.
	segment     *segment
	index       int
	position    int64
	segmentSize int64
	logEnd      record.Offset
}

// FindDamage checks the batch holding offset from (the first whose last offset is ≥ from)
// as a reader of it would: its header must make sense, lie in its segment and go on from the
// batch before it, and the whole batch must pass its CRC. It reports the damage found, or
// false when the batch is sound or from is outside [StartOffset, EndOffset). A read plan
// served short there is how a broker learns of such damage (AppendPlan checks every batch
// off the loop; Read checks only headers): the leader cuts its own damaged uncommitted tail,
// as recovery would on a restart, instead of serving nothing from there on. One batch is read
// whole, inline.
func (l *Log) FindDamage(from record.Offset) (Damage, bool, error) {
	if err := l.check(); err != nil {
		return Damage{}, false, err
	}
	if from < l.startOffset || from >= l.endOffset {
		return Damage{}, false, nil
	}
	i := max(l.segmentIndex(from), 0)
	s := l.segments[i]
	if _, err := l.files(s); err != nil {
		return Damage{}, false, err
	}
	endOffset := l.endOffset
	if i+1 < len(l.segments) {
		endOffset = l.segments[i+1].baseOffset
	}
	position, dataEnd, err := l.indexedStart(s, from)
	if err != nil {
		return Damage{}, false, err
	}
	prevPosition, prevDataEnd := int64(-1), dataEnd
	for position < s.sizeBytes {
		h, err := l.readHeader(s, position)
		if err == nil {
			err = checkPlacement(s, &h, position, endOffset)
		}
		if err == nil && h.BaseOffset < dataEnd {
			// Offsets go back: either header may carry the flipped bit (Read serves neither), so
			// the cut goes before both.
			err = fmt.Errorf("%w: %s at %d: batch at offset %d after a batch ending at %d", ErrCorruptLog, s.logPath, position, h.BaseOffset, dataEnd-1)
			if prevPosition >= 0 {
				position, dataEnd = prevPosition, prevDataEnd
			}
		}
		if err != nil {
			if !errors.Is(err, ErrCorruptLog) {
				return Damage{}, false, err // an I/O error says nothing about the bytes
			}
			return Damage{Offset: dataEnd, Err: err, segment: s, index: i, position: position, segmentSize: s.sizeBytes, logEnd: l.endOffset}, true, nil
		}
		if h.LastOffset() >= from {
			batch := make([]byte, h.SizeBytes())
			if _, err := readFull(s.files.log.file, batch, position); err != nil {
				return Damage{}, false, fmt.Errorf("log: read %s at %d: %w", s.logPath, position, err)
			}
			if _, err := record.Validate(batch); err != nil {
				return Damage{Offset: dataEnd, Err: fmt.Errorf("%w: %s at %d: %w", ErrCorruptLog, s.logPath, position, err), segment: s, index: i, position: position, segmentSize: s.sizeBytes, logEnd: l.endOffset}, true, nil
			}
			return Damage{}, false, nil
		}
		prevPosition, prevDataEnd = position, dataEnd
		position += h.SizeBytes()
		dataEnd = h.NextOffset()
	}
	return Damage{}, false, nil
}

// CutDamage removes the damaged batch d names and everything after it, later segments too,
// as TruncateTo(d.Offset) would if the damaged header could be read: the segment holding it
// becomes active, indexes and the epoch cache are cut to match, the end offset becomes
// d.Offset and the durable offset drops to it.
func (l *Log) CutDamage(d Damage) error {
	if err := l.check(); err != nil {
		return err
	}
	if d.segment == nil || d.index >= len(l.segments) || l.segments[d.index] != d.segment || d.segment.sizeBytes != d.segmentSize || l.endOffset != d.logEnd {
		return fmt.Errorf("log: cut damage at %d: the log changed since the damage was found", d.Offset)
	}
	if err := l.cutDamage(d); err != nil {
		l.poison(err)
		return err
	}
	return nil
}

func (l *Log) cutDamage(d Damage) error {
	l.lowerDurable(d.Offset)
	if err := l.dropSegmentsFrom(d.index + 1); err != nil {
		return err
	}
	return l.cutActive(l.active(), d.position, d.Offset, d.Offset)
}

// indexedStart is where a scan of s for the batch holding offset may start: the batch of the
// last offset index entry below offset (checked against its header) and the offset after it,
// or the segment's start.
func (l *Log) indexedStart(s *segment, offset record.Offset) (int64, record.Offset, error) {
	if s.indexEntries == 0 {
		return 0, s.baseOffset, nil
	}
	lo, err := l.offsetEntriesBelow(s, offset)
	if err != nil || lo == 0 {
		return 0, s.baseOffset, err
	}
	o, pos, err := l.readOffsetIndexEntry(s, lo-1)
	if err != nil {
		return 0, 0, err
	}
	h, err := l.readHeader(s, pos)
	if err != nil {
		return 0, 0, err
	}
	if h.LastOffset() != o {
		return 0, 0, fmt.Errorf("%w: index %s entry %d points at a batch ending at %d", ErrCorruptLog, s.indexPath, o, h.LastOffset())
	}
	return pos + h.SizeBytes(), o + 1, nil
}

// CutOffset is where a read plan served short (AppendPlan's ErrPlanCut) stopped: the offset
// after the last whole batch in served, the bytes it returned for the plan, or the plan's
// first offset when there is none. A driver reports it to the broker, which looks for damage
// there (FindDamage).
func CutOffset(plan ReadPlan, served []byte) record.Offset {
	next := plan.FirstOffset
	for len(served) >= record.HeaderSizeBytes {
		h, err := record.ParseHeader(served)
		if err != nil || h.SizeBytes() > int64(len(served)) {
			break
		}
		next = h.NextOffset()
		served = served[h.SizeBytes():]
	}
	return next
}
