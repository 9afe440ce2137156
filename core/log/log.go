package log

import (
	"errors"
	"fmt"
	"io"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// Log is one partition's log. It is not safe for concurrent use: one driver calls it, one
// event at a time (DESIGN §3). Files it hands out in a SyncRequest may be synced on another
// goroutine; the log does not close them before Synced.
type Log struct {
	fs  diskio.FS
	dir string
	cfg Config
	// deletedDir is where dir goes when the partition is deleted (OpenOptions.DeletedDir);
	// every read plan carries it.
	deletedDir string

	segments []*segment // sorted by base offset, never empty; the last is active
	lru      []*segment // open inactive segments, at most cfg.OpenSegmentsMax
	lruTick  uint64

	startOffset   record.Offset
	endOffset     record.Offset
	durableOffset record.Offset

	dirty    []*handle // files with data written since they were last handed out for a sync
	dirDirty bool      // directory entries created or removed since the last sync request
	inflight *inflightSync

	epochs epochCache

	// recoveryCutDurable: Open's recovery found a record below the recovery point corrupt and
	// cut the log there, dropping records that were synced.
	recoveryCutDurable bool

	poisoned error
	closed   bool

	headerBuf []byte // one batch header, for inline header reads
	entryBuf  []byte // one index entry
}

// StartOffset is the log start offset: the first offset a read may ask for.
func (l *Log) StartOffset() record.Offset { return l.startOffset }

// EndOffset is the log end offset: the offset the next appended record gets.
func (l *Log) EndOffset() record.Offset { return l.endOffset }

// DurableOffset is the recovery point: every batch below it is synced, with its segment's
// directory entry. Checkpoint it as recovery-point-offset-checkpoint.
func (l *Log) DurableOffset() record.Offset { return l.durableOffset }

// RecoveryCutDurable reports whether Open's recovery cut the log below its recovery point:
// records it had synced (and a replica may have reported as held) were corrupt, so what the
// log holds is less than it held when the broker stopped.
func (l *Log) RecoveryCutDurable() bool { return l.recoveryCutDurable }

// SizeBytes is the total size of the log's segments.
func (l *Log) SizeBytes() int64 {
	var n int64
	for _, s := range l.segments {
		n += s.sizeBytes
	}
	return n
}

// SegmentCount is the number of segments, the active one included.
func (l *Log) SegmentCount() int { return len(l.segments) }

// Dir is the partition directory.
func (l *Log) Dir() string { return l.dir }

// Config is the log's configuration.
func (l *Log) Config() Config { return l.cfg }

// SetConfig changes the configuration (a topic config change); new sizes apply to new
// segments and the next retention pass.
func (l *Log) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	// A changed index size is safe mid-segment: a smaller one rolls at the next append
	// (indexFull), a larger one extends the file past its preallocation.
	l.cfg = cfg
	l.evict()
	return nil
}

// Poisoned returns the failure that poisoned the log (wrapped in ErrPoisoned), or nil. A
// driver checks it to know the node must crash and recover.
func (l *Log) Poisoned() error {
	if l.poisoned == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrPoisoned, l.poisoned)
}

// check returns the error every call fails with once the log is closed or poisoned.
func (l *Log) check() error {
	if l.closed {
		return ErrClosed
	}
	if l.poisoned != nil {
		return fmt.Errorf("%w: %w", ErrPoisoned, l.poisoned)
	}
	return nil
}

// poison records a failed write or sync: the page cache's state is unknown from now on.
func (l *Log) poison(err error) {
	if l.poisoned == nil {
		l.poisoned = err
	}
}

// Close finishes the active segment's indexes (as Kafka does on a clean shutdown) and closes
// every file not held by a sync in flight; those close when Synced reports them. A poisoned
// log still closes its files and returns the poison. Close does not sync: a clean shutdown
// runs PendingSync/Synced first.
func (l *Log) Close() error {
	if l.closed {
		return ErrClosed
	}
	var err error
	if l.poisoned == nil {
		if s := l.active(); s.files != nil {
			// As Kafka's LogSegment.close: the max timestamp entry, then trimmed indexes.
			if err = l.maybeAppendTimeIndexFinal(s); err == nil {
				err = l.trimIndexes(s)
			}
		}
	}
	for _, s := range l.segments {
		if s.files == nil {
			continue
		}
		for _, h := range []*handle{s.files.log, s.files.index, s.files.timeIndex} {
			if h.syncsInFlight > 0 {
				h.closePending = true
				continue
			}
			if !h.closed {
				h.closed = true
				if cerr := h.file.Close(); cerr != nil && err == nil {
					err = fmt.Errorf("log: close %s: %w", h.path, cerr)
				}
			}
		}
		s.files = nil
	}
	l.dirty = nil
	l.lru = nil
	if err == nil && l.poisoned != nil {
		err = fmt.Errorf("%w: %w", ErrPoisoned, l.poisoned)
	}
	l.closed = true
	return err
}

// readFull reads len(b) bytes at off; a short read is an error.
func readFull(f diskio.File, b []byte, off int64) (int, error) {
	n, err := f.ReadAt(b, off)
	if n == len(b) {
		return n, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// readHeader reads and parses the batch header at position in s, checking that it is a
// sane batch lying wholly inside the segment. Bad bytes here are corruption, not a crash
// artefact (recovery removed those), so they are reported as ErrCorruptLog — and so is a file
// that ends before the bytes the log wrote there (a misdirected write at the file's end left
// them unwritten): those bytes are as gone as damaged ones, not a failing read to retry.
func (l *Log) readHeader(s *segment, position int64) (record.Header, error) {
	if position+record.HeaderSizeBytes > s.sizeBytes {
		return record.Header{}, fmt.Errorf("%w: header at %d past the end (%d) of %s", ErrCorruptLog, position, s.sizeBytes, s.logPath)
	}
	if _, err := readFull(s.files.log.file, l.headerBuf, position); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return record.Header{}, fmt.Errorf("%w: %s at %d: the file ends before the %d bytes the log wrote: %w", ErrCorruptLog, s.logPath, position, s.sizeBytes, err)
		}
		return record.Header{}, fmt.Errorf("log: read %s at %d: %w", s.logPath, position, err)
	}
	h, err := record.ParseHeader(l.headerBuf)
	if err != nil {
		return h, fmt.Errorf("%w: %s at %d: %w", ErrCorruptLog, s.logPath, position, err)
	}
	if position+h.SizeBytes() > s.sizeBytes || h.BaseOffset < s.baseOffset || h.LastOffsetDelta < 0 {
		return h, fmt.Errorf("%w: %s at %d: batch at offset %d of %d bytes does not fit the segment", ErrCorruptLog, s.logPath, position, h.BaseOffset, h.SizeBytes())
	}
	return h, nil
}
