package log

import (
	"fmt"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// segment is one <base>.log with its .index and .timeindex. Index entries live only in their
// files: lookups binary-search them with small ReadAts, so memory per segment is constant.
type segment struct {
	baseOffset    record.Offset
	sizeBytes     int64 // bytes of whole batches in the .log
	logPath       string
	indexPath     string
	timeIndexPath string
	files         *segmentFiles // nil while closed (inactive and evicted from the LRU)

	indexEntries    int64
	indexLastOffset record.Offset // absolute; valid when indexEntries > 0
	// indexEntriesChecked is how many leading offset index entries CheckInvariants has
	// verified against the log. Entries are only appended or cut, so it drops to 0 wherever
	// indexEntries is set other than by an append, and each check reads only the new ones.
	indexEntriesChecked int64
	timeIndexEntries    int64
	timeIndexLastMs     int64 // valid when timeIndexEntries > 0
	timeIndexLastOffset record.Offset

	// maxTimestampMs is the largest batch max timestamp, record.NoTimestamp when none;
	// offsetOfMaxTimestamp is the last offset of the first batch that reached it (Kafka's
	// shallow offset of max timestamp).
	maxTimestampMs       int64
	offsetOfMaxTimestamp record.Offset
	bytesSinceIndexEntry int64
	firstAppendMs        int64 // NowMs of the first append this process saw, -1 unknown
	lastModifiedMs       int64 // time retention's fallback when no batch has a timestamp
	lruTick              uint64
}

type segmentFiles struct {
	log, index, timeIndex *handle
}

func newSegment(dir string, base record.Offset) *segment {
	return &segment{
		baseOffset:           base,
		logPath:              diskio.Join(dir, offsetFileName(base, logSuffix)),
		indexPath:            diskio.Join(dir, offsetFileName(base, indexSuffix)),
		timeIndexPath:        diskio.Join(dir, offsetFileName(base, timeIndexSuffix)),
		maxTimestampMs:       record.NoTimestamp,
		offsetOfMaxTimestamp: base,
		firstAppendMs:        -1,
		lastModifiedMs:       record.NoTimestamp,
	}
}

// largestTimestampMs is what time retention compares, as Kafka's LogSegment.largestTimestamp.
func (s *segment) largestTimestampMs() int64 {
	if s.maxTimestampMs >= 0 {
		return s.maxTimestampMs
	}
	return s.lastModifiedMs
}

// segmentIndex returns the index in l.segments of the segment holding offset o: the last one
// whose base offset is ≤ o, or -1 when o is below every segment.
func (l *Log) segmentIndex(o record.Offset) int {
	lo, hi := 0, len(l.segments)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if l.segments[mid].baseOffset <= o {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo - 1
}

func (l *Log) active() *segment { return l.segments[len(l.segments)-1] }

// files returns s's open files, opening them (and evicting the least recently used inactive
// segment beyond OpenSegmentsMax) if needed.
func (l *Log) files(s *segment) (*segmentFiles, error) {
	l.lruTick++
	s.lruTick = l.lruTick
	if s.files != nil {
		return s.files, nil
	}
	f := &segmentFiles{}
	var err error
	if f.log, err = l.openHandle(s.logPath); err != nil {
		return nil, err
	}
	if f.index, err = l.openHandle(s.indexPath); err != nil {
		l.release(f.log, false)
		return nil, err
	}
	if f.timeIndex, err = l.openHandle(s.timeIndexPath); err != nil {
		l.release(f.log, false)
		l.release(f.index, false)
		return nil, err
	}
	s.files = f
	if s != l.active() {
		l.lru = append(l.lru, s)
		l.evict()
	}
	return f, nil
}

// evict closes least recently used inactive segments until at most OpenSegmentsMax are open.
func (l *Log) evict() {
	keep := l.cfg.OpenSegmentsMax
	if l.cfg.Buggify.Fire("log/evict-segments") {
		// Every inactive segment but the one used last (a read may be about to use it)
		// reopens its files on its next read.
		keep = 1
	}
	for len(l.lru) > keep {
		oldest := 0
		for i, s := range l.lru {
			if s.lruTick < l.lru[oldest].lruTick {
				oldest = i
			}
		}
		s := l.lru[oldest]
		l.lru = append(l.lru[:oldest], l.lru[oldest+1:]...)
		l.closeSegment(s, false)
	}
}

// closeSegment releases s's files. deleting drops their unsynced data from the sync set.
func (l *Log) closeSegment(s *segment, deleting bool) {
	for i, o := range l.lru {
		if o == s {
			l.lru = append(l.lru[:i], l.lru[i+1:]...)
			break
		}
	}
	if s.files == nil {
		return
	}
	l.release(s.files.log, deleting)
	l.release(s.files.index, deleting)
	l.release(s.files.timeIndex, deleting)
	s.files = nil
}

// createSegment makes a new, empty active segment at base: the .log and both indexes,
// preallocated to their full size as Kafka does, and marks the directory for a sync.
func (l *Log) createSegment(base record.Offset) (*segment, error) {
	s := newSegment(l.dir, base)
	f := &segmentFiles{}
	var err error
	fail := func(err error) (*segment, error) {
		l.release(f.log, true)
		l.release(f.index, true)
		l.release(f.timeIndex, true)
		return nil, err
	}
	if f.log, err = l.createHandle(s.logPath); err != nil {
		return fail(err)
	}
	if f.index, err = l.createHandle(s.indexPath); err != nil {
		return fail(err)
	}
	if f.timeIndex, err = l.createHandle(s.timeIndexPath); err != nil {
		return fail(err)
	}
	s.files = f
	if err := l.preallocateIndexes(s); err != nil {
		s.files = nil
		return fail(err)
	}
	l.dirDirty = true
	return s, nil
}

// preallocateIndexes sizes the active segment's index files to their maximum, as Kafka does
// while a segment is active; the zeros past the last entry mark unused space.
func (l *Log) preallocateIndexes(s *segment) error {
	indexBytes := l.cfg.offsetIndexEntriesMax() * offsetIndexEntryBytes
	if err := s.files.index.file.Truncate(indexBytes); err != nil {
		return fmt.Errorf("log: preallocate %s: %w", s.indexPath, err)
	}
	timeIndexBytes := l.cfg.timeIndexEntriesMax() * timeIndexEntryBytes
	if err := s.files.timeIndex.file.Truncate(timeIndexBytes); err != nil {
		return fmt.Errorf("log: preallocate %s: %w", s.timeIndexPath, err)
	}
	return nil
}

// trimIndexes cuts both index files to their used size, as Kafka does when a segment stops
// being active, and queues them for the next sync (the recovery point may then pass them).
func (l *Log) trimIndexes(s *segment) error {
	if err := trimIndexFiles(s); err != nil {
		return err
	}
	l.markDirty(s.files.index)
	l.markDirty(s.files.timeIndex)
	return nil
}

func trimIndexFiles(s *segment) error {
	if err := s.files.index.file.Truncate(s.indexEntries * offsetIndexEntryBytes); err != nil {
		return fmt.Errorf("log: trim %s: %w", s.indexPath, err)
	}
	if err := s.files.timeIndex.file.Truncate(s.timeIndexEntries * timeIndexEntryBytes); err != nil {
		return fmt.Errorf("log: trim %s: %w", s.timeIndexPath, err)
	}
	return nil
}
