package log

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// ErrPlanCut means a read plan was served only up to its last whole valid batch: a file
// shrank or vanished, a batch failed its checks, or the batches are not the offsets the plan
// promised. The bytes before the cut are served; the client fetches the rest again.
var ErrPlanCut = errors.New("log: read plan cut")

// AppendPlan executes a read plan, as every driver does outside its loop (netio with pread,
// the simulator on its disk): it reads each range through fsys, checks every batch (header
// sense and CRC, by record.NextBatch, and offsets rising from plan.FirstOffset and ending by
// plan.NextOffset) and appends the batches to dst. When it has to cut, it returns dst with the
// whole valid batches before the cut and an error wrapping ErrPlanCut that says where and why;
// a caller serves the bytes and logs the error.
//
// It opens each file per range rather than caching descriptors (netio.PlanReader says why).
// Safe for concurrent use when fsys is.
func AppendPlan(fsys diskio.FS, dst []byte, plan ReadPlan) ([]byte, error) {
	next := plan.FirstOffset // the lowest base offset the next batch may have
	for i, fr := range plan.Ranges {
		if fr.SizeBytes < 0 || fr.Position < 0 || int64(len(dst))+fr.SizeBytes > math.MaxInt32 {
			return dst, fmt.Errorf("%w: range %d of %s at %d: size %d bytes cannot be read into a response of %d bytes", ErrPlanCut, i, fr.Path, fr.Position, fr.SizeBytes, len(dst))
		}
		start := len(dst)
		dst = grow(dst, int(fr.SizeBytes))
		n, readErr := readRange(fsys, dst[start:start+int(fr.SizeBytes)], fr)
		data := dst[start : start+n]
		valid, walkErr := walkBatches(data, &next, plan.NextOffset, i == 0)
		dst = dst[:start+valid]
		switch {
		case readErr != nil:
			return dst, fmt.Errorf("%w: %s at %d: read %d of %d bytes: %w", ErrPlanCut, fr.Path, fr.Position, n, fr.SizeBytes, readErr)
		case walkErr != nil:
			return dst, fmt.Errorf("%w: %s at %d, %d bytes in: %w", ErrPlanCut, fr.Path, fr.Position, valid, walkErr)
		}
	}
	return dst, nil
}

// readRange reads fr into b (len(b) == fr.SizeBytes) and returns how many bytes it got.
// A segment that retention renamed to *.deleted after the plan was made is read under its new
// name: Kafka keeps such files file.delete.delay.ms before unlinking them so that reads in
// flight finish.
func readRange(fsys diskio.FS, b []byte, fr FileRange) (int, error) {
	f, err := fsys.Open(fr.Path)
	if errors.Is(err, diskio.ErrNotExist) {
		f, err = fsys.Open(fr.Path + deletedSuffix)
	}
	if err != nil {
		return 0, err
	}
	n, err := f.ReadAt(b, fr.Position)
	closeErr := f.Close()
	if err != nil {
		if errors.Is(err, io.EOF) && n < len(b) {
			err = fmt.Errorf("file shrank: %w", err)
		}
		if n == len(b) && errors.Is(err, io.EOF) {
			err = nil
		}
	}
	if err == nil && closeErr != nil {
		err = closeErr
	}
	return n, err
}

// walkBatches checks data's batches in order and returns the length of its whole valid prefix.
// Offsets must rise from *next (the plan's first offset for the first batch exactly) and end
// by nextOffsetMax; *next advances past each valid batch.
func walkBatches(data []byte, next *record.Offset, nextOffsetMax record.Offset, first bool) (int, error) {
	rest := data
	for len(rest) > 0 {
		h, _, after, err := record.NextBatch(rest)
		if err != nil {
			return len(data) - len(rest), err
		}
		switch {
		case first && h.BaseOffset != *next:
			return len(data) - len(rest), fmt.Errorf("first batch at offset %d, plan starts at %d", h.BaseOffset, *next)
		case h.BaseOffset < *next:
			return len(data) - len(rest), fmt.Errorf("batch at offset %d after offset %d was served", h.BaseOffset, *next-1)
		case h.NextOffset() > nextOffsetMax:
			return len(data) - len(rest), fmt.Errorf("batch ends at offset %d past the plan's end %d", h.LastOffset(), nextOffsetMax)
		}
		first = false
		*next = h.NextOffset()
		rest = after
	}
	return len(data), nil
}

// grow extends b by n bytes, reallocating when needed.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	grown := make([]byte, len(b)+n, max(2*cap(b), len(b)+n))
	copy(grown, b)
	return grown
}
