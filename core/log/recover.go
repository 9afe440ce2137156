package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// OpenOptions carry what the log dir's checkpoints say about this log.
type OpenOptions struct {
	RecoveryPoint  record.Offset // from recovery-point-offset-checkpoint; 0 if unknown
	LogStartOffset record.Offset // from log-start-offset-checkpoint; 0 if unknown
	NowMs          int64         // wall clock, ms
	// DeletedDir is the path the log's directory will be renamed to when the partition is
	// deleted (storage.Manager.DeleteLog), chosen when the log is opened so that read plans
	// can carry it: a plan made before the rename and executed after it reads there. "" for
	// a log whose directory is never renamed.
	DeletedDir string
}

// epochEntriesMax bounds the leader-epoch-checkpoint a damaged file could make us load.
const epochEntriesMax = 1 << 20

// recoveryChunkBytes is how much of a segment recovery reads at a time.
const recoveryChunkBytes = 1 << 20

// Open opens (creating if missing) the partition log in dir, recovering it as Kafka's
// LogLoader does:
//   - leftover .tmp/.deleted/.cleaned/.swap files and orphaned index files are deleted;
//   - every segment from the one holding the last durable batch (the batch just below the
//     recovery point) to the end is scanned: each batch's header and CRC checked, offsets
//     increasing and inside the segment (of two batches out of order, the first counts as
//     bad: base offsets are outside the CRC). The first bad or torn batch and everything
//     after it (later segments too) is truncated away; the scanned segments' indexes are
//     rebuilt. The active segment is always scanned;
//   - a scanned segment followed by a gap reaching above the recovery point (the next
//     segment's base past the offset after its last record) lost unsynced records: the log
//     ends there too, and the later segments are deleted;
//   - earlier segments, trusted to be synced, only have their indexes checked for sense
//     (entry size, increasing entries, positions inside the log) and are recovered like the
//     others when an index is missing or bad;
//   - the epoch cache is loaded and cut to the recovered log.
//
// Nothing below the recovery point is dropped unless it is corrupt. The recovered tail is not
// yet known durable (it may sit only in the page cache of a crashed process): DurableOffset
// starts at the recovery point and the tail is queued for the first sync.
func Open(fsys diskio.FS, dir string, cfg Config, opts OpenOptions) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Log{
		fs:         fsys,
		dir:        dir,
		cfg:        cfg,
		deletedDir: opts.DeletedDir,
		headerBuf:  make([]byte, record.HeaderSizeBytes),
		entryBuf:   make([]byte, timeIndexEntryBytes),
	}
	if err := l.open(opts); err != nil {
		l.closeAll()
		return nil, err
	}
	return l, nil
}

func (l *Log) open(opts OpenOptions) error {
	if _, err := l.fs.Stat(l.dir); isNotExist(err) {
		// A new partition: its directory entry in the log dir must be durable before any of
		// its data can be (Kafka flushes the parent directory too).
		if err := l.fs.MkdirAll(l.dir, 0o755); err != nil {
			return fmt.Errorf("log: create %s: %w", l.dir, err)
		}
		if err := diskio.SyncDir(l.fs, diskio.Join(l.dir, "..")); err != nil {
			return fmt.Errorf("log: sync the parent of %s: %w", l.dir, err)
		}
	} else if err != nil {
		return fmt.Errorf("log: stat %s: %w", l.dir, err)
	}
	bases, err := l.cleanDir()
	if err != nil {
		return err
	}
	if err := l.loadEpochCheckpoint(); err != nil {
		return err
	}
	saved := slices.Clone(l.epochs.entries)
	l.dirDirty = true // entries made before the crash may never have been synced

	logStart := max(opts.LogStartOffset, 0)
	if len(bases) == 0 {
		s, err := l.createSegment(logStart)
		if err != nil {
			return err
		}
		l.segments = []*segment{s}
		l.startOffset, l.endOffset, l.durableOffset = logStart, logStart, logStart
		l.epochs.entries = l.epochs.entries[:0]
		return l.writeEpochCheckpointIfChanged(saved)
	}
	for _, base := range bases {
		s := newSegment(l.dir, base)
		info, err := l.fs.Stat(s.logPath)
		if err != nil {
			return fmt.Errorf("log: stat %s: %w", s.logPath, err)
		}
		s.sizeBytes = info.Size()
		if mt := info.ModTime(); !mt.IsZero() {
			s.lastModifiedMs = mt.UnixMilli()
		}
		l.segments = append(l.segments, s)
	}

	recoveryPoint := max(opts.RecoveryPoint, 0)
	if l.cfg.Buggify.Fire("log/recover-from-start") {
		recoveryPoint = 0 // as after a lost checkpoint file: every segment is checked
	}
	first := max(l.segmentIndex(recoveryPoint-1), 0)
	for i := 0; i < first; i++ {
		next := l.segments[i+1].baseOffset
		ok, err := l.checkIndexes(l.segments[i], next)
		if err != nil {
			return err
		}
		if !ok {
			if _, _, err := l.recoverSegment(l.segments[i], l.segments[i].baseOffset-1, next, false); err != nil {
				return err
			}
		}
	}
	prevLast := l.segments[first].baseOffset - 1
	for i := first; i < len(l.segments); i++ {
		s := l.segments[i]
		last := i == len(l.segments)-1
		if s.baseOffset <= prevLast {
			// A segment overlapping the one before it: the tail of an interrupted truncation or
			// roll. Like a corrupt batch, it ends the log.
			if err := l.dropSegmentsFrom(i); err != nil {
				return err
			}
			break
		}
		if s.baseOffset > prevLast+1 && s.baseOffset > recoveryPoint {
			// Offsets [prevLast+1, s.baseOffset) are missing and reach above the recovery point,
			// after a segment recovery scanned: that segment lost records never synced (its
			// tail, or all its data) while this later file survived. A sync covers the whole
			// log up to its end, so nothing at or after the gap was ever durable: like a torn
			// tail, it ends the log. Segments are contiguous above the recovery point (doc.go),
			// so this is no compaction gap. (Only i > first can get here.)
			if err := l.dropSegmentsFrom(i); err != nil {
				return err
			}
			break
		}
		next := record.Offset(math.MaxInt64)
		if !last {
			next = l.segments[i+1].baseOffset
		}
		lastOffset, corrupt, err := l.recoverSegment(s, prevLast, next, last)
		if err != nil {
			return err
		}
		prevLast = lastOffset
		if corrupt && !last {
			if err := l.dropSegmentsFrom(i + 1); err != nil {
				return err
			}
			break
		}
	}

	active := l.active()
	if active.files == nil || active.files.index == nil {
		panic("log: invariant: active segment not open after recovery")
	}
	l.endOffset = max(prevLast+1, active.baseOffset)
	if active.sizeBytes > 0 {
		active.firstAppendMs = opts.NowMs
	}
	if err := l.preallocateIndexes(active); err != nil {
		return err
	}
	l.startOffset = max(logStart, l.segments[0].baseOffset)
	if l.startOffset > l.endOffset {
		// Records were deleted (DeleteRecords) past what survived: nothing readable is left.
		if err := l.truncateFully(l.startOffset); err != nil {
			return err
		}
		return l.writeEpochCheckpointIfChanged(nil)
	}
	l.recoveryCutDurable = l.endOffset < opts.RecoveryPoint
	// Offsets below the log start are never read, so they count as durable: the durable
	// offset (a single node's high watermark) never starts below the log start.
	l.durableOffset = min(max(recoveryPoint, l.startOffset), l.endOffset)
	l.epochs.truncateFromEnd(l.endOffset)
	l.epochs.truncateFromStart(l.startOffset)
	return l.writeEpochCheckpointIfChanged(saved)
}

// cleanDir removes leftovers and orphaned index files and returns the segments' base offsets
// in order.
func (l *Log) cleanDir() ([]record.Offset, error) {
	names, err := l.fs.List(l.dir)
	if err != nil {
		return nil, fmt.Errorf("log: list %s: %w", l.dir, err)
	}
	var bases []record.Offset
	logs := make(map[record.Offset]bool)
	for _, name := range names {
		if base, suffix, ok := parseOffsetFileName(name); ok && suffix == logSuffix {
			logs[base] = true
			bases = append(bases, base)
		}
	}
	for _, name := range names {
		remove := isLeftover(name)
		if base, suffix, ok := parseOffsetFileName(name); ok && (suffix == indexSuffix || suffix == timeIndexSuffix) && !logs[base] {
			remove = true
		}
		if remove {
			if err := l.fs.Remove(diskio.Join(l.dir, name)); err != nil && !isNotExist(err) {
				return nil, fmt.Errorf("log: remove leftover %s: %w", name, err)
			}
		}
	}
	slices.Sort(bases)
	return bases, nil
}

func (l *Log) loadEpochCheckpoint() error {
	path := diskio.Join(l.dir, EpochCheckpointFileName)
	info, err := l.fs.Stat(path)
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("log: stat %s: %w", path, err)
	}
	if info.Size() > epochEntriesMax*32 {
		return fmt.Errorf("log: %s: %d bytes is more than a checkpoint holds", path, info.Size())
	}
	data, err := diskio.ReadFile(l.fs, path)
	if err != nil {
		return fmt.Errorf("log: read %s: %w", path, err)
	}
	entries, err := parseEpochCheckpoint(data, epochEntriesMax)
	if err != nil {
		return err
	}
	l.epochs.entries = entries
	return nil
}

func (l *Log) writeEpochCheckpointIfChanged(saved []EpochEntry) error {
	if saved != nil && slices.Equal(saved, l.epochs.entries) {
		return nil
	}
	return l.writeEpochCheckpoint()
}

// dropSegmentsFrom deletes segments i and later (recovery or CutDamage found them past a
// corrupt batch) and opens the segment left last as the active one.
func (l *Log) dropSegmentsFrom(i int) error {
	for len(l.segments) > i {
		s := l.segments[len(l.segments)-1]
		if err := l.removeSegmentNow(s); err != nil {
			return err
		}
		l.segments[len(l.segments)-1] = nil
		l.segments = l.segments[:len(l.segments)-1]
	}
	if len(l.segments) == 0 {
		panic("log: invariant: recovery dropped every segment")
	}
	// Reopen the new last segment as the active one (recovery scanned it; CutDamage cuts it
	// next).
	s := l.active()
	l.lruRemove(s)
	_, err := l.files(s)
	return err
}

// recoverSegment scans s from its start, validating every batch (Kafka's LogSegment.recover):
// each must parse, pass its CRC, lie above prevLast and below next (the next segment's base)
// with offsets relative to the segment fitting in an int32, and, unless it continues the
// offsets before it, not be followed by a sound batch going back to its offsets
// (followedInOrder). The first batch that fails, and
// everything after it, is truncated away (corrupt reports that). Both indexes are rebuilt;
// an inactive segment's are trimmed, the active one's are left open for appends. The
// segment's files are queued for the next sync.
func (l *Log) recoverSegment(s *segment, prevLast, next record.Offset, active bool) (lastOffset record.Offset, corrupt bool, err error) {
	if s.files != nil {
		l.closeSegment(s, false)
	}
	f := &segmentFiles{}
	if f.log, err = l.openHandle(s.logPath); err != nil {
		return 0, false, err
	}
	s.files = f
	if f.index, err = l.createHandle(s.indexPath); err != nil {
		return 0, false, err
	}
	if f.timeIndex, err = l.createHandle(s.timeIndexPath); err != nil {
		return 0, false, err
	}
	info, err := f.log.file.Stat()
	if err != nil {
		return 0, false, fmt.Errorf("log: stat %s: %w", s.logPath, err)
	}
	fileSize := info.Size()
	s.indexEntries, s.timeIndexEntries, s.bytesSinceIndexEntry = 0, 0, 0
	s.indexEntriesChecked = 0
	s.maxTimestampMs, s.offsetOfMaxTimestamp = record.NoTimestamp, s.baseOffset
	s.sizeBytes = 0

	r := chunkReader{file: f.log.file, sizeBytes: fileSize}
	lastOffset = prevLast
	position := int64(0)
	for position < fileSize {
		h, batch, ok, err := r.batchAt(position)
		if err != nil {
			return 0, false, fmt.Errorf("log: read %s at %d: %w", s.logPath, position, err)
		}
		if ok {
			if _, verr := record.Validate(batch); verr != nil && !(errors.Is(verr, record.ErrCorruptBatch) && l.cfg.Buggify.Planted(buggify.BugRecoverySkipsCRC)) {
				ok = false
			}
		}
		ok = ok && h.BaseOffset > lastOffset && h.BaseOffset >= s.baseOffset && h.LastOffset() < next &&
			int64(h.LastOffset()-s.baseOffset) <= math.MaxInt32
		if ok && h.BaseOffset != lastOffset+1 {
			// Only a batch that does not continue the offsets before it can be the damaged one
			// of a pair going back; one that does is sound, and the next iteration cuts at the
			// batch after it (a torn write zeroing an unsynced batch's base offset must not
			// cost the synced batch before it).
			if ok, err = r.followedInOrder(position, &h); err != nil {
				return 0, false, fmt.Errorf("log: read %s: %w", s.logPath, err)
			}
		}
		if !ok {
			corrupt = true
			break
		}
		s.sizeBytes = position + h.SizeBytes()
		if err := l.indexBatch(s, &h, position); err != nil {
			return 0, false, err
		}
		if h.PartitionLeaderEpoch >= 0 {
			l.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset)
		}
		lastOffset = h.LastOffset()
		position += h.SizeBytes()
	}
	if s.sizeBytes != fileSize {
		if err := f.log.file.Truncate(s.sizeBytes); err != nil {
			return 0, false, fmt.Errorf("log: truncate %s to %d: %w", s.logPath, s.sizeBytes, err)
		}
	}
	if active {
		l.markDirty(f.log)
		return lastOffset, corrupt, nil
	}
	// An inactive segment is finished and synced here, at startup, so that its files can
	// close: recovering many segments must not hold many handles until the first sync.
	if err := l.maybeAppendTimeIndexFinal(s); err != nil {
		return 0, false, err
	}
	if err := trimIndexFiles(s); err != nil {
		return 0, false, err
	}
	for _, h := range []*handle{f.log, f.index, f.timeIndex} {
		if err := h.file.SyncData(); err != nil {
			return 0, false, fmt.Errorf("log: sync %s: %w", h.path, err)
		}
	}
	l.closeSegment(s, false)
	return lastOffset, corrupt, nil
}

// checkIndexes checks an unscanned segment's indexes for sense, as Kafka's sanityCheck, and
// loads their entry counts and the segment's max timestamp from them. It reports false when
// they must be rebuilt.
func (l *Log) checkIndexes(s *segment, next record.Offset) (bool, error) {
	for _, p := range []string{s.indexPath, s.timeIndexPath} {
		if _, err := l.fs.Stat(p); isNotExist(err) {
			return false, nil
		} else if err != nil {
			return false, fmt.Errorf("log: stat %s: %w", p, err)
		}
	}
	if _, err := l.files(s); err != nil {
		return false, err
	}
	indexSize, err := fileSize(s.files.index)
	if err != nil {
		return false, err
	}
	timeIndexSize, err := fileSize(s.files.timeIndex)
	if err != nil {
		return false, err
	}
	if indexSize%offsetIndexEntryBytes != 0 || timeIndexSize%timeIndexEntryBytes != 0 {
		return false, nil
	}
	// Offset index: increasing offsets and positions inside the segment; zeros past the end.
	s.indexEntries, s.indexEntriesChecked = 0, 0
	lastPosition := int64(-1)
	ok, err := scanEntries(s.files.index.file, indexSize, offsetIndexEntryBytes, func(b []byte) bool {
		rel, pos := binary.BigEndian.Uint32(b), int64(binary.BigEndian.Uint32(b[4:]))
		o := s.baseOffset + record.Offset(rel)
		if rel > math.MaxInt32 || o >= next || pos >= s.sizeBytes || pos <= lastPosition ||
			(s.indexEntries > 0 && o <= s.indexLastOffset) {
			return false
		}
		s.indexEntries++
		s.indexLastOffset, lastPosition = o, pos
		return true
	})
	if err != nil || !ok {
		return false, err
	}
	s.timeIndexEntries = 0
	ok, err = scanEntries(s.files.timeIndex.file, timeIndexSize, timeIndexEntryBytes, func(b []byte) bool {
		ts, rel := int64(binary.BigEndian.Uint64(b)), binary.BigEndian.Uint32(b[8:])
		o := s.baseOffset + record.Offset(rel)
		if ts < 0 || rel > math.MaxInt32 || o >= next ||
			(s.timeIndexEntries > 0 && (ts <= s.timeIndexLastMs || o < s.timeIndexLastOffset)) {
			return false
		}
		s.timeIndexEntries++
		s.timeIndexLastMs, s.timeIndexLastOffset = ts, o
		return true
	})
	if err != nil || !ok {
		return false, err
	}
	s.maxTimestampMs, s.offsetOfMaxTimestamp = record.NoTimestamp, s.baseOffset
	if s.timeIndexEntries > 0 {
		s.maxTimestampMs, s.offsetOfMaxTimestamp = s.timeIndexLastMs, s.timeIndexLastOffset
	}
	if indexSize != s.indexEntries*offsetIndexEntryBytes || timeIndexSize != s.timeIndexEntries*timeIndexEntryBytes {
		// Preallocated zeros left by a crash while the segment was active: trim them.
		if err := trimIndexFiles(s); err != nil {
			return false, err
		}
	}
	return true, nil
}

// scanEntries calls check for each fixed-size entry until the first all-zero one (unused,
// preallocated space), after which every byte must be zero.
func scanEntries(f diskio.File, sizeBytes, entryBytes int64, check func(entry []byte) bool) (bool, error) {
	// Index files are preallocated, often far smaller than the chunk: size it to the file.
	chunk := make([]byte, min((64<<10)/entryBytes, (sizeBytes+entryBytes-1)/entryBytes)*entryBytes)
	zeros := false
	for off := int64(0); off < sizeBytes; {
		n := min(int64(len(chunk)), sizeBytes-off)
		b := chunk[:n]
		if _, err := readFull(f, b, off); err != nil {
			return false, err
		}
		for i := int64(0); i < n; i += entryBytes {
			e := b[i : i+entryBytes]
			zero := allZero(e)
			if zeros && !zero {
				return false, nil
			}
			if zero {
				zeros = true
				continue
			}
			if !check(e) {
				return false, nil
			}
		}
		off += n
	}
	return true, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func fileSize(h *handle) (int64, error) {
	info, err := h.file.Stat()
	if err != nil {
		return 0, fmt.Errorf("log: stat %s: %w", h.path, err)
	}
	return info.Size(), nil
}

// closeAll closes every file after a failed Open.
func (l *Log) closeAll() {
	for _, s := range l.segments {
		if s.files == nil {
			continue
		}
		for _, h := range []*handle{s.files.log, s.files.index, s.files.timeIndex} {
			if h != nil && !h.closed {
				h.closed = true
				_ = h.file.Close()
			}
		}
		s.files = nil
	}
	l.closed = true
}

// chunkReader reads a segment sequentially in large chunks for recovery.
type chunkReader struct {
	file      diskio.File
	sizeBytes int64
	buf       []byte
	bufPos    int64 // file position of buf[0]
}

// batchAt returns the batch at position. ok is false when the bytes there cannot be a batch
// (bad header, or a length running past the end of the file: a torn tail).
func (r *chunkReader) batchAt(position int64) (record.Header, []byte, bool, error) {
	if r.sizeBytes-position < record.HeaderSizeBytes {
		return record.Header{}, nil, false, nil
	}
	hb, err := r.bytes(position, record.HeaderSizeBytes)
	if err != nil {
		return record.Header{}, nil, false, err
	}
	h, err := record.ParseHeader(hb)
	if err != nil || h.SizeBytes() > r.sizeBytes-position {
		return h, nil, false, nil
	}
	b, err := r.bytes(position, h.SizeBytes())
	if err != nil {
		return h, nil, false, err
	}
	return h, b, true, nil
}

// followedInOrder reports whether the batch after h (at position) is not a sound batch going
// back to h's offsets. A base offset lies outside the batch's CRC (KIP-98 left it out so that a
// leader assigns it without recomputing the checksum), so when a sound batch follows with
// offsets that do not rise and h does not continue the offsets before it either, either header
// may carry a flipped bit: recovery cuts at h, the first of them, rather than keep a batch that
// may claim offsets it does not hold (and put the log end past records it never had). A torn
// or garbled next batch says nothing about h. (A batch continuing the offsets before it is
// not asked: it is the later batch that is damaged.)
func (r *chunkReader) followedInOrder(position int64, h *record.Header) (bool, error) {
	nh, batch, ok, err := r.batchAt(position + h.SizeBytes())
	if err != nil || !ok || nh.BaseOffset > h.LastOffset() {
		return true, err
	}
	_, verr := record.Validate(batch)
	return verr != nil, nil
}

// bytes returns [position, position+n) of the file, which the caller checked is inside it.
func (r *chunkReader) bytes(position, n int64) ([]byte, error) {
	if position >= r.bufPos && position+n <= r.bufPos+int64(len(r.buf)) {
		return r.buf[position-r.bufPos : position-r.bufPos+n], nil
	}
	want := min(max(n, recoveryChunkBytes), r.sizeBytes-position)
	if int64(cap(r.buf)) < want {
		r.buf = make([]byte, want)
	}
	r.buf = r.buf[:want]
	if _, err := readFull(r.file, r.buf, position); err != nil {
		r.buf = r.buf[:0]
		return nil, err
	}
	r.bufPos = position
	return r.buf[:n], nil
}
