package producer

import (
	"fmt"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// Rebuild bounds: a plan covers at most rebuildPlanBytes of log, and headers are read through a
// buffer of rebuildBufferBytes whatever the batch sizes.
const (
	rebuildPlanBytes   = 64 << 20
	rebuildBufferBytes = 64 << 10
)

// Rebuild replays into s the batch headers of l from s's EndOffset (or l's start offset, if
// later) to l's end offset, as Kafka's rebuildProducerState does after loading a snapshot;
// afterwards s.EndOffset() is l's end offset. It reads only headers, inline: recovery runs
// before the partition serves, and a snapshot at every segment roll keeps the replay within
// about one segment. Batches were checked by log recovery (CRC above the recovery point);
// here only their headers' extents are.
func Rebuild(fsys diskio.FS, l *log.Log, s *State) error {
	end := l.EndOffset()
	if s.endOffset > end {
		return fmt.Errorf("producer: state at offset %d is past the log end %d: load it again", s.endOffset, end)
	}
	if start := l.StartOffset(); s.endOffset < start {
		s.endOffset = start // Kafka: the map end moves up to the log start offset
	}
	buf := make([]byte, rebuildBufferBytes)
	for s.endOffset < end {
		from := s.endOffset
		plan, err := l.Read(from, rebuildPlanBytes, end, true)
		if err != nil {
			return fmt.Errorf("producer: rebuild from offset %d: %w", from, err)
		}
		for _, r := range plan.Ranges {
			if err := replayRange(fsys, r, buf, s); err != nil {
				return err
			}
		}
		if plan.NextOffset <= from {
			return fmt.Errorf("producer: rebuild made no progress at offset %d (log end %d)", from, end)
		}
		// A gap below the recovery point (compaction) leaves the plan's end past the batches.
		s.endOffset = max(s.endOffset, plan.NextOffset)
	}
	return nil
}

// replayRange walks the batch headers of one file range.
func replayRange(fsys diskio.FS, r log.FileRange, buf []byte, s *State) (err error) {
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
	for position < limit {
		want := min(int64(len(buf)), limit-position)
		if want < record.HeaderSizeBytes {
			return fmt.Errorf("producer: rebuild: %s: %d bytes at %d cannot hold a batch header: %w",
				r.Path, want, position, record.ErrCorruptBatch)
		}
		n, err := f.ReadAt(buf[:want], position)
		if int64(n) < want {
			return fmt.Errorf("producer: rebuild: read %s at %d: %d of %d bytes: %w", r.Path, position, n, want, err)
		}
		chunk := buf[:want]
		for len(chunk) >= record.HeaderSizeBytes {
			h, err := record.ParseHeader(chunk)
			if err != nil {
				return fmt.Errorf("producer: rebuild: %s at %d: %w", r.Path, position, err)
			}
			if position+h.SizeBytes() > limit {
				return fmt.Errorf("producer: rebuild: %s: batch at %d ends past its range end %d: %w",
					r.Path, position, limit, record.ErrCorruptBatch)
			}
			s.ReplayBatch(h)
			position += h.SizeBytes()
			if h.SizeBytes() >= int64(len(chunk)) {
				break
			}
			chunk = chunk[h.SizeBytes():]
		}
	}
	return nil
}
