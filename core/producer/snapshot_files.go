package producer

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// SnapshotSuffix ends a producer snapshot's file name: `<offset, 20 digits>.snapshot`, the
// offset being the state's EndOffset when written (LogFileUtils.producerSnapshotFile).
const SnapshotSuffix = ".snapshot"

const offsetDigits = 20

// SnapshotFileName names the snapshot of a state whose end offset is offset.
func SnapshotFileName(offset record.Offset) string {
	digits := strconv.FormatInt(int64(offset), 10)
	return strings.Repeat("0", max(0, offsetDigits-len(digits))) + digits + SnapshotSuffix
}

// ParseSnapshotFileName returns the offset of a snapshot file name; ok is false for any other
// name (including the ".snapshot.tmp" of an interrupted write).
func ParseSnapshotFileName(name string) (offset record.Offset, ok bool) {
	if len(name) != offsetDigits+len(SnapshotSuffix) || !strings.HasSuffix(name, SnapshotSuffix) {
		return 0, false
	}
	for i := 0; i < offsetDigits; i++ {
		if name[i] < '0' || name[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(name[:offsetDigits], 10, 64)
	if err != nil {
		return 0, false
	}
	return record.Offset(n), true
}

// ListSnapshots returns the offsets of the snapshot files in a partition directory, ascending.
func ListSnapshots(fsys diskio.FS, dir string) ([]record.Offset, error) {
	names, err := fsys.List(dir)
	if err != nil {
		return nil, fmt.Errorf("producer: list snapshots in %s: %w", dir, err)
	}
	var offsets []record.Offset
	for _, name := range names { // List sorts names; 20-digit names sort by offset
		if o, ok := ParseSnapshotFileName(name); ok {
			offsets = append(offsets, o)
		}
	}
	return offsets, nil
}

// WriteSnapshot writes the state's snapshot at its EndOffset into a partition directory,
// atomically and durably (diskio.WriteFileAtomic: two syncs, so the broker calls it on rare
// events — a segment roll, a clean shutdown — as Kafka does), and returns the offset. An
// existing snapshot at that offset is replaced.
func (s *State) WriteSnapshot(fsys diskio.FS, dir string) (record.Offset, error) {
	data := s.AppendSnapshot(make([]byte, 0, snapshotHeaderBytes+len(s.producers)*snapshotEntryBytes))
	name := SnapshotFileName(s.endOffset)
	// Known even if the write fails: a file may be left under the name all the same, and
	// removing a missing one is no error.
	s.noteSnapshot(s.endOffset)
	if err := diskio.WriteFileAtomic(fsys, dir, name, data); err != nil {
		return 0, fmt.Errorf("producer: write snapshot %s: %w", diskio.Join(dir, name), err)
	}
	return s.endOffset, nil
}

func (s *State) noteSnapshot(offset record.Offset) {
	i, found := slices.BinarySearch(s.snapshotOffsets, offset)
	if !found {
		s.snapshotOffsets = slices.Insert(s.snapshotOffsets, i, offset)
	}
}

// SnapshotOffsets returns the offsets of the snapshots the state knows in its directory,
// ascending.
func (s *State) SnapshotOffsets() []record.Offset { return slices.Clone(s.snapshotOffsets) }

// DeleteSnapshotsBefore removes the state's snapshots below offset from dir (Kafka deletes
// those of segments retention removed, keeping the ones the last segments need). Unlinks are
// not synced: a snapshot that comes back after a crash is still a valid one, and the next
// Load removes it once the log start has passed it.
func (s *State) DeleteSnapshotsBefore(fsys diskio.FS, dir string, offset record.Offset) error {
	for len(s.snapshotOffsets) > 0 && s.snapshotOffsets[0] < offset {
		if err := removeSnapshot(fsys, dir, s.snapshotOffsets[0]); err != nil {
			return err
		}
		s.snapshotOffsets = s.snapshotOffsets[1:]
	}
	return nil
}

func removeSnapshot(fsys diskio.FS, dir string, offset record.Offset) error {
	path := diskio.Join(dir, SnapshotFileName(offset))
	if err := fsys.Remove(path); err != nil && !errors.Is(err, diskio.ErrNotExist) {
		return fmt.Errorf("producer: remove snapshot %s: %w", path, err)
	}
	return nil
}

// LoadResult says how Load built the state, for the broker's log.
type LoadResult struct {
	// SnapshotOffset is the offset of the snapshot loaded, or NoOffset when none was usable
	// and the state starts empty at the log start offset.
	SnapshotOffset record.Offset
	// Expired counts producers of the snapshot dropped as expired.
	Expired int
	// Corrupt says which corrupt snapshots were deleted, and why (each wraps
	// ErrCorruptSnapshot).
	Corrupt []error
	// Removed counts snapshots deleted as out of the log's range.
	Removed int
}

// Load rebuilds a partition's producer state from its newest usable snapshot, as Kafka's
// ProducerStateManager.truncateAndReload does after log recovery and after a truncation:
// snapshots above logEndOffset (the log lost or dropped what they reflect) or at or below
// logStartOffset (their producers' records are gone) are deleted; then the newest remaining
// snapshot that decodes is loaded, and corrupt ones met on the way are deleted. Producers
// expired at nowMs are dropped, and at most cfg.ProducersMax are kept. Without a usable
// snapshot the state is empty at logStartOffset. The caller then replays the log from the
// state's EndOffset (Rebuild). An I/O error other than a missing file is returned: a snapshot
// that cannot be read is not known to be corrupt.
func Load(fsys diskio.FS, dir string, cfg Config, logStartOffset, logEndOffset record.Offset, nowMs int64) (*State, LoadResult, error) {
	res := LoadResult{SnapshotOffset: NoOffset}
	if logStartOffset > logEndOffset {
		return nil, res, fmt.Errorf("producer: log start offset %d is past the log end %d", logStartOffset, logEndOffset)
	}
	s, err := NewState(cfg, logStartOffset)
	if err != nil {
		return nil, res, err
	}
	offsets, err := ListSnapshots(fsys, dir)
	if err != nil {
		return nil, res, err
	}
	var usable []record.Offset
	for _, o := range offsets {
		if o > logEndOffset || o <= logStartOffset {
			if err := removeSnapshot(fsys, dir, o); err != nil {
				return nil, res, err
			}
			res.Removed++
			continue
		}
		usable = append(usable, o)
	}
	for i := len(usable) - 1; i >= 0; i-- {
		o := usable[i]
		path := diskio.Join(dir, SnapshotFileName(o))
		data, err := diskio.ReadFile(fsys, path)
		if errors.Is(err, diskio.ErrNotExist) {
			usable = slices.Delete(usable, i, i+1)
			continue
		}
		if err != nil {
			return nil, res, fmt.Errorf("producer: read snapshot %s: %w", path, err)
		}
		entries, err := DecodeSnapshot(data)
		if err != nil {
			res.Corrupt = append(res.Corrupt, fmt.Errorf("producer: snapshot %s: %w", path, err))
			if err := removeSnapshot(fsys, dir, o); err != nil {
				return nil, res, err
			}
			usable = slices.Delete(usable, i, i+1)
			continue
		}
		for _, in := range entries {
			e := importEntry(in)
			if s.expired(e, nowMs) {
				res.Expired++
				continue
			}
			s.producers[e.producerID] = e
			s.noteTimestamp(e.lastTimestampMs)
		}
		s.trim(cfg.ProducersMax)
		s.endOffset = o
		s.snapshotOffsets = usable
		res.SnapshotOffset = o
		return s, res, nil
	}
	s.snapshotOffsets = usable
	return s, res, nil
}
