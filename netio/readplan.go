package netio

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// PartitionRead is one fetch read plan to execute before a FetchResponse is encoded: its
// bytes become RecordBatches of Topics[TopicIndex].Partitions[PartitionIndex]. The fields are
// core/broker's PartitionRead's, so the driver converts one into the other.
type PartitionRead struct {
	TopicIndex, PartitionIndex int
	Plan                       log.ReadPlan
}

// ErrPlanCut means a read plan was served only up to its last whole valid batch: a file
// shrank or vanished, a batch failed its checks, or the batches are not the offsets the plan
// promised. The bytes before the cut are served; the client fetches the rest again.
var ErrPlanCut = errors.New("netio: read plan cut")

// PlanReader executes read plans: pread through a diskio.FS, then every batch is checked
// (header sense and CRC, by record.NextBatch) and the answer ends at the last whole valid
// batch. It opens each file per range rather than caching descriptors. Measured
// (BenchmarkPlanReader, page cache warm) an open and a close add about 4 µs to a range: a
// 64 KiB plan takes 10.7 µs against 6.8 µs on a kept-open descriptor, less in proportion for
// the larger reads consumers make. A descriptor cache would have to be invalidated by the
// loop (a cached descriptor of a segment that was deleted, or truncated away and recreated
// under the same name, serves stale bytes and keeps the deleted file's disk space), which is
// not worth 4 µs per range now; sendfile will change the trade-off anyway.
// Reads are kept behind AppendPlan so sendfile can replace them (sendfile would check the
// batch headers the same way before splicing the file ranges to the socket).
// Safe for concurrent use.
type PlanReader struct {
	fs diskio.FS
}

// NewPlanReader returns a PlanReader over fsys.
func NewPlanReader(fsys diskio.FS) *PlanReader { return &PlanReader{fs: fsys} }

// AppendPlan appends plan's record batches to dst. When it has to cut, it returns the bytes
// up to the cut and an error wrapping ErrPlanCut that says where and why; a caller serves the
// bytes and logs the error.
func (r *PlanReader) AppendPlan(dst []byte, plan log.ReadPlan) ([]byte, error) {
	next := plan.FirstOffset // the lowest base offset the next batch may have
	for i, fr := range plan.Ranges {
		if fr.SizeBytes < 0 || fr.Position < 0 || int64(len(dst))+fr.SizeBytes > math.MaxInt32 {
			return dst, fmt.Errorf("%w: range %d of %s at %d: size %d bytes cannot be read into a response of %d bytes", ErrPlanCut, i, fr.Path, fr.Position, fr.SizeBytes, len(dst))
		}
		start := len(dst)
		dst = grow(dst, int(fr.SizeBytes))
		n, readErr := r.readRange(dst[start:start+int(fr.SizeBytes)], fr)
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
func (r *PlanReader) readRange(b []byte, fr log.FileRange) (int, error) {
	f, err := r.fs.Open(fr.Path)
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
