package producer

import (
	"errors"
	"fmt"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// Rebuild bounds: a plan covers at most rebuildPlanBytes of log, and headers are read through a
// buffer of rebuildBufferBytes whatever the batch sizes; at most rebuildSkipsReported of the
// stretches stepped over are described in a RebuildResult (all are counted).
const (
	rebuildPlanBytes     = 64 << 20
	rebuildBufferBytes   = 64 << 10
	rebuildSkipsReported = 16
)

// RebuildResult says what Rebuild could not replay.
type RebuildResult struct {
	// Skipped are the first rebuildSkipsReported stretches of log stepped over; SkippedCount
	// counts them all.
	Skipped      []Skip
	SkippedCount int
}

// Skip is a stretch of log Rebuild stepped over: offsets [From, To) were not replayed because
// the bytes at From no longer form a batch (Err, the first failure, wraps log.ErrCorruptLog).
type Skip struct {
	From, To record.Offset
	Err      error
}

// Rebuild replays into s the batch headers of l from s's EndOffset (or l's start offset, if
// later) to l's end offset, as Kafka's rebuildProducerState does after loading a snapshot;
// afterwards s.EndOffset() is l's end offset. It reads only headers, inline: recovery runs
// before the partition serves, and a snapshot at every segment roll keeps the replay within
// about one segment. Batches were checked by log recovery (CRC above the recovery point);
// here only their headers' extents and offsets are.
//
// Below the recovery point recovery scans nothing (as Kafka's), so bytes a faulty disk changed
// there are first met here. Kafka fails the log's load then, and the broker with it; Rebuild
// steps over them instead (log.OffsetPastDamage) and reports what it skipped, so that damage
// to stored data costs what it destroyed, not the node: the reads of those offsets are refused
// anyway, and a producer whose batches were skipped is known again from its later ones. I/O
// errors still fail it: they may pass, and a restart retries.
func Rebuild(fsys diskio.FS, l *log.Log, s *State) (RebuildResult, error) {
	var res RebuildResult
	end := l.EndOffset()
	if s.endOffset > end {
		return res, fmt.Errorf("producer: state at offset %d is past the log end %d: load it again", s.endOffset, end)
	}
	if start := l.StartOffset(); s.endOffset < start {
		s.endOffset = start // Kafka: the map end moves up to the log start offset
	}
	lastSkipTo := record.Offset(-1)
	skip := func(damaged error) error {
		from := s.endOffset
		to, err := l.OffsetPastDamage(from)
		if err != nil {
			return fmt.Errorf("producer: rebuild: stepping over damage at offset %d (%w): %w", from, damaged, err)
		}
		if to <= from {
			panic(fmt.Sprintf("producer: invariant: log.OffsetPastDamage(%d) = %d is not above it", from, to))
		}
		s.endOffset = to
		if from == lastSkipTo {
			// The damage goes on where the last step over it landed: one stretch.
			if k := len(res.Skipped) - 1; k+1 == res.SkippedCount {
				res.Skipped[k].To = to
			}
			lastSkipTo = to
			return nil
		}
		lastSkipTo = to
		if len(res.Skipped) < rebuildSkipsReported {
			res.Skipped = append(res.Skipped, Skip{From: from, To: to, Err: damaged})
		}
		res.SkippedCount++
		return nil
	}
	buf := make([]byte, rebuildBufferBytes)
	for s.endOffset < end {
		from := s.endOffset
		plan, err := l.Read(from, rebuildPlanBytes, end, true)
		if errors.Is(err, log.ErrCorruptLog) {
			if err := skip(err); err != nil {
				return res, err
			}
			continue
		}
		if err != nil {
			return res, fmt.Errorf("producer: rebuild from offset %d: %w", from, err)
		}
		damaged := false
		for _, r := range plan.Ranges {
			err := replayRange(fsys, r, buf, s, plan.NextOffset)
			if errors.Is(err, log.ErrCorruptLog) {
				// The batches before the damage are replayed: step over from the next offset.
				if err := skip(err); err != nil {
					return res, err
				}
				damaged = true
				break
			}
			if err != nil {
				return res, err
			}
		}
		if damaged {
			continue
		}
		if plan.NextOffset <= from {
			return res, fmt.Errorf("producer: rebuild made no progress at offset %d (log end %d)", from, end)
		}
		// A gap below the recovery point (compaction) leaves the plan's end past the batches.
		s.endOffset = max(s.endOffset, plan.NextOffset)
	}
	return res, nil
}

// replayRange walks the batch headers of one file range of a read plan ending at planNext.
// Headers that do not parse, run past the range or whose offsets do not increase inside the
// plan are damage (log.ErrCorruptLog): the read plan took most of them unread, by the index.
func replayRange(fsys diskio.FS, r log.FileRange, buf []byte, s *State, planNext record.Offset) (err error) {
	f, err := fsys.Open(r.Path)
	if err != nil {
		return fmt.Errorf("producer: rebuild: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("producer: rebuild: close %s: %w", r.Path, cerr)
		}
	}()
	position, limit := r.Position, r.Position+r.SizeBytes
	lastOffset := record.Offset(-1)
	for position < limit {
		want := min(int64(len(buf)), limit-position)
		if want < record.HeaderSizeBytes {
			return fmt.Errorf("%w: producer: rebuild: %s: %d bytes at %d cannot hold a batch header",
				log.ErrCorruptLog, r.Path, want, position)
		}
		n, err := f.ReadAt(buf[:want], position)
		if int64(n) < want {
			return fmt.Errorf("producer: rebuild: read %s at %d: %d of %d bytes: %w", r.Path, position, n, want, err)
		}
		chunk := buf[:want]
		for len(chunk) >= record.HeaderSizeBytes {
			h, err := record.ParseHeader(chunk)
			if err != nil {
				return fmt.Errorf("%w: producer: rebuild: %s at %d: %w", log.ErrCorruptLog, r.Path, position, err)
			}
			if position+h.SizeBytes() > limit {
				return fmt.Errorf("%w: producer: rebuild: %s: batch at %d ends past its range end %d",
					log.ErrCorruptLog, r.Path, position, limit)
			}
			if h.LastOffsetDelta < 0 || h.BaseOffset <= lastOffset || h.LastOffset() >= planNext {
				return fmt.Errorf("%w: producer: rebuild: %s at %d: batch [%d, %d] out of place after offset %d (plan end %d)",
					log.ErrCorruptLog, r.Path, position, h.BaseOffset, h.LastOffset(), lastOffset, planNext)
			}
			s.ReplayBatch(h)
			lastOffset = h.LastOffset()
			position += h.SizeBytes()
			if h.SizeBytes() >= int64(len(chunk)) {
				break
			}
			chunk = chunk[h.SizeBytes():]
		}
	}
	return nil
}
