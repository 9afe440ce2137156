package log

import (
	"errors"
	"fmt"

	"github.com/weirdata/weir/core/record"
)

// ErrInvariant is a broken log invariant found by CheckInvariants.
var ErrInvariant = errors.New("log: invariant broken")

// InvariantError is a broken invariant CheckInvariants found in stored bytes it read (an index
// entry, a batch header): Reads names them, so that a caller that damaged a disk on purpose (the
// simulator) can tell a check that read bytes the disk changed from a bug. It matches
// ErrInvariant with errors.Is; its message is the plain one.
type InvariantError struct {
	msg string
	// Reads are the stored byte ranges the failing check read.
	Reads []ByteRange
	cause error
}

// ByteRange is [LowBytes, HighBytes) of the file at Path.
type ByteRange struct {
	Path                string
	LowBytes, HighBytes int64
}

func (e *InvariantError) Error() string { return e.msg }

// Unwrap gives ErrInvariant and, when reading failed, the read's error.
func (e *InvariantError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrInvariant, e.cause}
	}
	return []error{ErrInvariant}
}

// storedInvariantError is an InvariantError whose message is format (which starts with
// "%w: ", for ErrInvariant) applied to args.
func storedInvariantError(reads []ByteRange, cause error, format string, args ...any) error {
	return &InvariantError{msg: fmt.Errorf(format, append([]any{ErrInvariant}, args...)...).Error(), Reads: reads, cause: cause}
}

// CheckInvariants verifies what must hold between any two operations on an open, healthy log
// (a closed or poisoned one has nothing to promise): the offsets are ordered (first segment
// base ≤ log start ≤ log end, durable offset ≤ log end; DeleteRecords may move the log start
// past unsynced records, so the durable offset may lie below it), the segments are in offset order and the active one
// starts at or below the log end, the open-segment LRU is within its bound, the leader-epoch
// cache is ordered and within the log, and every offset index entry of the active segment
// points at the start of the batch whose last offset it names. The simulator calls it after
// every event; it reads the active segment's index entries and the batch headers they point
// at (page-cache reads), so it is not for the production path.
func (l *Log) CheckInvariants() error {
	if l.closed || l.poisoned != nil {
		return nil
	}
	if len(l.segments) == 0 {
		return fmt.Errorf("%w: %s has no segments", ErrInvariant, l.dir)
	}
	first, active := l.segments[0], l.active()
	switch {
	case l.startOffset < first.baseOffset:
		return fmt.Errorf("%w: %s: log start %d below the first segment's base %d", ErrInvariant, l.dir, l.startOffset, first.baseOffset)
	case l.startOffset > l.endOffset:
		return fmt.Errorf("%w: %s: log start %d above the log end %d", ErrInvariant, l.dir, l.startOffset, l.endOffset)
	case l.durableOffset > l.endOffset:
		return fmt.Errorf("%w: %s: durable offset %d above the log end %d", ErrInvariant, l.dir, l.durableOffset, l.endOffset)
	case active.baseOffset > l.endOffset:
		return fmt.Errorf("%w: %s: active segment base %d above the log end %d", ErrInvariant, l.dir, active.baseOffset, l.endOffset)
	case len(l.lru) > l.cfg.OpenSegmentsMax:
		return fmt.Errorf("%w: %s: %d open inactive segments, bound %d", ErrInvariant, l.dir, len(l.lru), l.cfg.OpenSegmentsMax)
	}
	for i, s := range l.segments {
		if i > 0 && s.baseOffset <= l.segments[i-1].baseOffset {
			return fmt.Errorf("%w: %s: segment %d follows segment %d", ErrInvariant, l.dir, s.baseOffset, l.segments[i-1].baseOffset)
		}
		if s.sizeBytes < 0 {
			return fmt.Errorf("%w: %s: segment %d has %d bytes", ErrInvariant, l.dir, s.baseOffset, s.sizeBytes)
		}
	}
	epochs := l.epochs.entries
	for i, e := range epochs {
		if e.StartOffset > l.endOffset || (i > 0 && (e.Epoch <= epochs[i-1].Epoch || e.StartOffset < epochs[i-1].StartOffset)) {
			return fmt.Errorf("%w: %s: leader-epoch cache %v with log end %d", ErrInvariant, l.dir, epochs, l.endOffset)
		}
	}
	return l.checkActiveIndex(active)
}

// checkActiveIndex checks that each offset index entry of s names the last offset of the batch
// starting at its position, in increasing order. Entries verified by an earlier check are not
// read again (it runs after every event): the last of them is, as the bound for the next.
func (l *Log) checkActiveIndex(s *segment) error {
	if s.files == nil {
		return fmt.Errorf("%w: %s: the active segment %d has no open files", ErrInvariant, l.dir, s.baseOffset)
	}
	prevOffset, prevPosition := s.baseOffset-1, int64(-1)
	from := max(min(s.indexEntriesChecked, s.indexEntries)-1, 0)
	for i := from; i < s.indexEntries; i++ {
		offset, position, err := l.readOffsetIndexEntry(s, i)
		if err != nil {
			return err
		}
		entry := ByteRange{Path: s.indexPath, LowBytes: int64(i) * offsetIndexEntryBytes, HighBytes: int64(i+1) * offsetIndexEntryBytes}
		if offset <= prevOffset || position <= prevPosition || position >= s.sizeBytes {
			return storedInvariantError([]ByteRange{entry}, nil, "%w: %s: index entry %d (offset %d, position %d) after (%d, %d) in %d bytes",
				s.indexPath, i, offset, position, prevOffset, prevPosition, s.sizeBytes)
		}
		reads := []ByteRange{entry, {Path: s.logPath, LowBytes: position, HighBytes: position + record.HeaderSizeBytes}}
		h, err := l.readHeader(s, position)
		if err != nil {
			return storedInvariantError(reads, err, "%w: %s: index entry %d: %w", s.indexPath, i, err)
		}
		if h.LastOffset() != offset {
			return storedInvariantError(reads, nil, "%w: %s: index entry %d names offset %d but the batch at %d ends at %d",
				s.indexPath, i, offset, position, h.LastOffset())
		}
		prevOffset, prevPosition = offset, position
	}
	s.indexEntriesChecked = s.indexEntries
	return nil
}
