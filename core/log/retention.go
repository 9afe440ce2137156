package log

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/weirdata/weir/diskio"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/record"
)

// FileOpKind is a slow file operation the driver runs off the loop.
type FileOpKind int

const (
	// FileOpRemove unlinks Path. A missing file is not an error (a crash may have raced it).
	FileOpRemove FileOpKind = iota + 1
)

// FileOp is one file operation for the driver.
type FileOp struct {
	Kind FileOpKind
	Path string
}

// RunFileOps executes file operations as the driver does, off the loop. A file already gone
// is fine: a crash may have come between an earlier removal and the state that named it.
func RunFileOps(fsys diskio.FS, ops []FileOp) error {
	for _, op := range ops {
		if op.Kind != FileOpRemove {
			return fmt.Errorf("log: unknown file op %d on %s", op.Kind, op.Path)
		}
		if err := fsys.Remove(op.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// ApplyRetention deletes the oldest segments that retention allows to go, as Kafka's
// deleteOldSegments: those whose largest timestamp is older than retention.ms, those whose
// removal keeps the log at or above retention.bytes, and those wholly below the log start
// offset. Only a prefix of segments goes; the active segment goes only when every segment is
// deletable, and then a new empty one is rolled first, so the log is never without one.
//
// Deleted segments are renamed to *.deleted inline (so a later segment of the same name is
// never hit, and Open finishes the job after a crash) and returned as FileOps for the driver
// to unlink. Their handles close now, or when a sync in flight on them completes. The log
// start offset moves to the first remaining segment's base.
func (l *Log) ApplyRetention(nowMs int64) ([]FileOp, error) {
	return l.ApplyRetentionBelow(nowMs, l.endOffset)
}

// ApplyRetentionBelow is ApplyRetention never deleting a segment whose records reach
// upperBound (exclusive), e.g. the high watermark: Kafka deletes only fully replicated data.
func (l *Log) ApplyRetentionBelow(nowMs int64, upperBound record.Offset) ([]FileOp, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	n := l.deletableSegments(nowMs, upperBound)
	if n == 0 {
		return nil, nil
	}
	if n == len(l.segments) {
		if err := l.roll(l.endOffset); err != nil {
			l.poison(err)
			return nil, err
		}
	}
	ops := make([]FileOp, 0, 3*n)
	for _, s := range l.segments[:n] {
		l.closeSegment(s, true)
		for _, p := range []string{s.logPath, s.indexPath, s.timeIndexPath} {
			deleted := p + deletedSuffix
			if err := l.fs.Rename(p, deleted); err != nil {
				if isNotExist(err) {
					continue
				}
				err = fmt.Errorf("log: rename %s for deletion: %w", p, err)
				l.poison(err)
				return nil, err
			}
			ops = append(ops, FileOp{Kind: FileOpRemove, Path: deleted})
		}
	}
	clear(l.segments[:n])
	l.segments = append(l.segments[:0], l.segments[n:]...)
	if base := l.segments[0].baseOffset; base > l.startOffset {
		l.startOffset = base
		if l.epochs.truncateFromStart(base) {
			if err := l.writeEpochCheckpoint(); err != nil {
				l.poison(err)
				return ops, err
			}
		}
	}
	return ops, nil
}

// deletableSegments counts the prefix of segments retention may delete: the longest prefix
// any one of Kafka's three rules (time, size, log start offset) allows, never a segment whose
// records reach upperBound and never an empty active segment.
func (l *Log) deletableSegments(nowMs int64, upperBound record.Offset) int {
	remainingBytes := l.SizeBytes()
	byTime, bySize, byStart := true, l.cfg.RetentionBytes >= 0, true
	n := 0
	for i, s := range l.segments {
		last := i == len(l.segments)-1
		next := l.endOffset
		if !last {
			next = l.segments[i+1].baseOffset
		}
		if next > upperBound || (last && s.sizeBytes == 0) {
			break
		}
		byTime = byTime && l.cfg.RetentionMs >= 0 && s.largestTimestampMs() != record.NoTimestamp && nowMs-s.largestTimestampMs() > l.cfg.RetentionMs
		bySize = bySize && remainingBytes-s.sizeBytes >= l.cfg.RetentionBytes
		byStart = byStart && !last && next <= l.startOffset
		if !byTime && !bySize && !byStart {
			break
		}
		remainingBytes -= s.sizeBytes
		n = i + 1
	}
	if n > 0 && l.cfg.Buggify.Planted(buggify.BugRetentionDeletesActive) {
		if active := l.active(); active.sizeBytes > 0 && l.endOffset <= upperBound {
			return len(l.segments) // planted bug: the active segment goes too, however young
		}
	}
	return n
}
