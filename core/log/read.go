package log

import (
	"errors"
	"fmt"

	"github.com/weirdata/weir/core/record"
)

// FileRange is a byte range of a segment file holding whole batches.
type FileRange struct {
	Path      string
	Position  int64
	SizeBytes int64
}

// ReadPlan answers a fetch: the driver reads Ranges in order (outside the loop), checks each
// batch, and cuts at the last whole valid batch if a file shrank. FirstOffset is the first
// batch's base offset (a compressed batch may start before the offset asked for: the client
// skips what it did not ask for); NextOffset follows the last batch. An empty plan has both
// equal to the offset asked for.
type ReadPlan struct {
	Ranges      []FileRange
	FirstOffset record.Offset
	NextOffset  record.Offset
	SizeBytes   int64
	// DeletedDir is where the log's directory goes if the partition is deleted before the
	// plan is executed (OpenOptions.DeletedDir); AppendPlan reads a range whose file is gone
	// from there, under the same base name. "" when the log has none.
	DeletedDir string
}

// Read plans a read from offset `from` of at most maxBytes (and ReadPlanBytesMax), never
// including a batch that ends past maxOffset (exclusive, e.g. the high watermark), with at
// least one whole batch when minOneBatch even if it is larger than the limits (KIP-74).
// ErrOffsetOutOfRange outside [StartOffset, EndOffset]; from == EndOffset is an empty plan.
// Only batch headers and index entries are read inline. A header that does not make sense —
// unparsable, outside its segment's offsets, going back below the batch before it, or missing
// from a file that ends before it — is damage: the plan serves the batches before it (both batches, when two are out of order)
// and a read starting there fails with ErrCorruptLog.
func (l *Log) Read(from record.Offset, maxBytes int64, maxOffset record.Offset, minOneBatch bool) (ReadPlan, error) {
	if err := l.check(); err != nil {
		return ReadPlan{}, err
	}
	if from < l.startOffset || from > l.endOffset {
		return ReadPlan{}, fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, from, l.startOffset, l.endOffset)
	}
	plan := ReadPlan{FirstOffset: from, NextOffset: from, DeletedDir: l.deletedDir}
	if from == l.endOffset || from >= maxOffset {
		return plan, nil
	}
	limit := min(maxBytes, l.cfg.ReadPlanBytesMax)
	if l.cfg.Buggify.Fire("log/read-short") {
		limit = min(limit, 1) // one whole batch if minOneBatch, else nothing: a reader must come back
	}
	i := max(l.segmentIndex(from), 0)
	for ; i < len(l.segments); i++ {
		s := l.segments[i]
		if s.sizeBytes == 0 {
			continue
		}
		if _, err := l.files(s); err != nil {
			return ReadPlan{}, err
		}
		position := int64(0)
		if s.baseOffset < from {
			var err error
			if position, err = l.lookupPosition(s, from); err != nil {
				return ReadPlan{}, err
			}
		}
		rangeStart, done, jumped := int64(-1), false, false
		// goodPosition and goodSize are where the plan stands after the last batch it took by
		// reading its header (a jump takes batches without reading theirs).
		goodPosition, goodSize := position, plan.SizeBytes
		// Every batch of s lies below endOffset: the next segment's base, or the log end.
		endOffset := l.endOffset
		if i+1 < len(l.segments) {
			endOffset = l.segments[i+1].baseOffset
		}
		// prev is the last batch of s whose header the plan read, and where the plan stood before
		// taking it.
		var prev struct {
			read, taken            bool
			lastOffset, nextBefore record.Offset
			position, sizeBefore   int64
		}
		for position < s.sizeBytes {
			if rangeStart >= 0 && !jumped {
				// Skip the headers of batches the index shows wholly inside the limits.
				jumped = true
				to, err := l.jumpPosition(s, position, position+limit-plan.SizeBytes, maxOffset)
				if err != nil {
					return ReadPlan{}, err
				}
				plan.SizeBytes += to - position
				position = to
			}
			h, err := l.readHeader(s, position)
			if err == nil {
				err = checkPlacement(s, &h, position, endOffset)
			}
			if err == nil && prev.read && h.BaseOffset <= prev.lastOffset {
				// Offsets go backwards: one of the two headers is damaged and there is no
				// telling which, so neither batch is served.
				err = fmt.Errorf("%w: %s at %d: batch at offset %d after the batch at %d ending at %d", ErrCorruptLog, s.logPath, position, h.BaseOffset, prev.position, prev.lastOffset)
				if prev.taken {
					goodPosition, goodSize, plan.NextOffset = prev.position, prev.sizeBefore, prev.nextBefore
				}
			}
			if err != nil {
				if goodSize == 0 || !errors.Is(err, ErrCorruptLog) {
					return ReadPlan{}, err // an I/O error is the driver's to see, not to serve around
				}
				// A batch further on is damaged on disk: serve the batches before it that the
				// plan took by their headers; the reader comes back for the rest and is refused
				// there.
				position, plan.SizeBytes = goodPosition, goodSize
				done = true
				break
			}
			prev.read, prev.taken, prev.lastOffset, prev.position = true, false, h.LastOffset(), position
			if h.LastOffset() < from {
				position += h.SizeBytes()
				goodPosition = position
				continue
			}
			if h.NextOffset() > maxOffset {
				done = true
				break
			}
			oversized := plan.SizeBytes+h.SizeBytes() > limit
			if oversized && !(minOneBatch && plan.SizeBytes == 0) {
				done = true
				break
			}
			if rangeStart < 0 {
				rangeStart = position
				if plan.SizeBytes == 0 {
					plan.FirstOffset = h.BaseOffset
				}
			}
			prev.taken, prev.nextBefore, prev.sizeBefore = true, plan.NextOffset, plan.SizeBytes
			plan.SizeBytes += h.SizeBytes()
			plan.NextOffset = h.NextOffset()
			position += h.SizeBytes()
			goodPosition, goodSize = position, plan.SizeBytes
			if oversized {
				done = true
				break
			}
		}
		if rangeStart >= 0 && position > rangeStart {
			plan.Ranges = append(plan.Ranges, FileRange{Path: s.logPath, Position: rangeStart, SizeBytes: position - rangeStart})
		}
		if done {
			break
		}
	}
	return plan, nil
}

// jumpPosition returns a batch position at or after position such that every batch between
// them, and the batch there, lies below limitPosition and below maxOffset — so a read plan
// may take them without reading their headers. The sparse index gives it: the batch at entry
// j-1 ends at or before entry j's position, and its last offset is below entry j's.
func (l *Log) jumpPosition(s *segment, position, limitPosition int64, maxOffset record.Offset) (int64, error) {
	lo, err := searchEntries(s.indexEntries, func(i int64) (bool, error) { // first entry not inside the limits
		o, pos, err := l.readOffsetIndexEntry(s, i)
		return pos <= limitPosition && o < maxOffset, err
	})
	if err != nil {
		return 0, err
	}
	if lo < 2 {
		return position, nil
	}
	_, pos, err := l.readOffsetIndexEntry(s, lo-2)
	if err != nil {
		return 0, err
	}
	if pos > s.sizeBytes {
		return 0, fmt.Errorf("%w: index %s points at %d past the log's %d bytes", ErrCorruptLog, s.indexPath, pos, s.sizeBytes)
	}
	return max(pos, position), nil
}

// OffsetPastDamage returns where a reader that Read refused at from (ErrCorruptLog: the bytes
// there no longer form a batch) can go on without reading those bytes: the least offset above
// from at which the offset index of from's segment locates a batch (an entry names a batch's
// last offset and where the batch starts), else the next segment's base offset, else the log
// end. The batches between that the sparse index does not locate are stepped over with the
// damaged one. The result is above from; ErrOffsetOutOfRange outside [StartOffset, EndOffset).
func (l *Log) OffsetPastDamage(from record.Offset) (record.Offset, error) {
	if err := l.check(); err != nil {
		return 0, err
	}
	if from < l.startOffset || from >= l.endOffset {
		return 0, fmt.Errorf("%w: %d not in [%d, %d)", ErrOffsetOutOfRange, from, l.startOffset, l.endOffset)
	}
	i := max(l.segmentIndex(from), 0)
	s := l.segments[i]
	next := l.endOffset
	if i+1 < len(l.segments) {
		next = min(next, l.segments[i+1].baseOffset)
	}
	if _, err := l.files(s); err != nil {
		return 0, err
	}
	n, err := l.offsetEntriesBelow(s, from+1)
	if err != nil {
		return 0, err
	}
	if n < s.indexEntries {
		o, _, err := l.readOffsetIndexEntry(s, n)
		if err != nil {
			return 0, err
		}
		if o > from && o < next { // else the entry is out of place: the index is damaged too
			return o, nil
		}
	}
	return next, nil
}

// checkPlacement checks that the batch h read at position lies inside s, below endOffset (the
// next segment's base, or the log end for the active segment). A batch's base offset is
// outside its CRC (KIP-98 left it out so that a leader assigns it without recomputing the
// checksum): a flipped bit there passes every batch check, and only where the batch sits can
// show it.
func checkPlacement(s *segment, h *record.Header, position int64, endOffset record.Offset) error {
	if h.LastOffset() >= endOffset {
		return fmt.Errorf("%w: %s at %d: batch at offset %d ends at %d, past the segment's end %d", ErrCorruptLog, s.logPath, position, h.BaseOffset, h.LastOffset(), endOffset)
	}
	return nil
}
