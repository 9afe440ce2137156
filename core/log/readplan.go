package log

import (
	"errors"
	"fmt"
	"io"
	"math"
	"path"

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
	// Once the log's directory was renamed for deletion its files are read there only: the
	// original path may already hold a new incarnation of the partition.
	deleted := plan.DeletedDir != "" && exists(fsys, plan.DeletedDir)
	for i, fr := range plan.Ranges {
		if fr.SizeBytes < 0 || fr.Position < 0 || int64(len(dst))+fr.SizeBytes > math.MaxInt32 {
			return dst, fmt.Errorf("%w: range %d of %s at %d: size %d bytes cannot be read into a response of %d bytes", ErrPlanCut, i, fr.Path, fr.Position, fr.SizeBytes, len(dst))
		}
		start := len(dst)
		dst = grow(dst, int(fr.SizeBytes))
		n, readErr := readRange(fsys, dst[start:start+int(fr.SizeBytes)], fr, plan.DeletedDir, deleted)
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
// A segment renamed after the plan was made is read under its new name: by retention to
// *.deleted, or with its whole directory to deletedDir by the partition's deletion (and
// possibly to *.deleted before that; deleted: the plan found deletedDir). Kafka keeps such
// files file.delete.delay.ms before unlinking them so that reads in flight finish.
func readRange(fsys diskio.FS, b []byte, fr FileRange, deletedDir string, deleted bool) (int, error) {
	f, err := openRenamed(fsys, fr.Path, deletedDir, deleted)
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

// openRenamed opens a segment file under the names it goes through, in the order it goes
// through them: segmentPath, segmentPath.deleted, then the same two inside deletedDir; only
// the last two once the directory is known renamed (deleted). Every rename is one-way and a
// deleted log's files are renamed no more, so a file that still exists is found even if it
// moves between two tries. The original path comes first otherwise: it is the name on every
// fetch that races nothing. (Only a deletion and re-creation of the partition between the
// caller's look for deletedDir and the open here could show it another incarnation's file;
// AppendPlan's batch checks stand behind that.)
func openRenamed(fsys diskio.FS, segmentPath, deletedDir string, deleted bool) (diskio.File, error) {
	var f diskio.File
	var err error
	if !deleted {
		// The renamed names are built only when needed: this runs for every range of every fetch.
		if f, err = fsys.Open(segmentPath); !errors.Is(err, diskio.ErrNotExist) {
			return f, err
		}
		if f, err = fsys.Open(segmentPath + deletedSuffix); !errors.Is(err, diskio.ErrNotExist) {
			return f, err
		}
	}
	if deletedDir == "" {
		return nil, fmt.Errorf("segment file gone (also as %s%s): %w", segmentPath, deletedSuffix, err)
	}
	moved := diskio.Join(deletedDir, path.Base(segmentPath))
	if f, err = fsys.Open(moved); !errors.Is(err, diskio.ErrNotExist) {
		return f, err
	}
	if f, err = fsys.Open(moved + deletedSuffix); !errors.Is(err, diskio.ErrNotExist) {
		return f, err
	}
	return nil, fmt.Errorf("segment file %s gone, renamed or not, from its directory and from %s: %w", segmentPath, deletedDir, err)
}

// exists reports whether name is known to exist; an error other than its absence counts as
// not known, and the reads that follow meet it.
func exists(fsys diskio.FS, name string) bool {
	_, err := fsys.Stat(name)
	return err == nil
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
