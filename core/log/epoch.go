package log

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// EpochEntry is one leader epoch and the first offset written in it.
type EpochEntry struct {
	Epoch       record.Epoch
	StartOffset record.Offset
}

// UndefinedEpoch and UndefinedOffset are OffsetForLeaderEpoch's "unknown" answers.
const (
	UndefinedEpoch  record.Epoch  = -1
	UndefinedOffset record.Offset = -1
)

// epochCache is Kafka's LeaderEpochFileCache: entries with strictly increasing epochs and
// start offsets, persisted to leader-epoch-checkpoint on every change.
type epochCache struct {
	entries []EpochEntry
}

// epochCheckpointVersion is the checkpoint file's format version, as Kafka writes it.
const epochCheckpointVersion = 0

// encodeEpochCheckpoint renders Kafka's checkpoint text: version, count, "epoch offset" lines.
func encodeEpochCheckpoint(entries []EpochEntry) []byte {
	var b []byte
	b = strconv.AppendInt(b, epochCheckpointVersion, 10)
	b = append(b, '\n')
	b = strconv.AppendInt(b, int64(len(entries)), 10)
	b = append(b, '\n')
	for _, e := range entries {
		b = strconv.AppendInt(b, int64(e.Epoch), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(e.StartOffset), 10)
		b = append(b, '\n')
	}
	return b
}

// parseEpochCheckpoint reads the checkpoint text; entriesMax bounds what a corrupt file may
// make us allocate.
func parseEpochCheckpoint(data []byte, entriesMax int) ([]EpochEntry, error) {
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) < 2 {
		return nil, fmt.Errorf("log: %s: %d lines, need at least 2", EpochCheckpointFileName, len(lines))
	}
	version, err := strconv.Atoi(string(lines[0]))
	if err != nil || version != epochCheckpointVersion {
		return nil, fmt.Errorf("log: %s: unsupported version %q", EpochCheckpointFileName, lines[0])
	}
	count, err := strconv.Atoi(string(lines[1]))
	if err != nil || count < 0 || count != len(lines)-2 || count > entriesMax {
		return nil, fmt.Errorf("log: %s: entry count %q does not match %d entries", EpochCheckpointFileName, lines[1], len(lines)-2)
	}
	entries := make([]EpochEntry, 0, count)
	for i, line := range lines[2:] {
		fields := bytes.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("log: %s: malformed line %d %q", EpochCheckpointFileName, i+3, line)
		}
		epoch, err1 := strconv.ParseInt(string(fields[0]), 10, 32)
		offset, err2 := strconv.ParseInt(string(fields[1]), 10, 64)
		if err1 != nil || err2 != nil || epoch < 0 || offset < 0 {
			return nil, fmt.Errorf("log: %s: malformed line %d %q", EpochCheckpointFileName, i+3, line)
		}
		e := EpochEntry{Epoch: record.Epoch(epoch), StartOffset: record.Offset(offset)}
		if n := len(entries); n > 0 && (e.Epoch <= entries[n-1].Epoch || e.StartOffset < entries[n-1].StartOffset) {
			return nil, fmt.Errorf("log: %s: line %d %q not above the previous entry", EpochCheckpointFileName, i+3, line)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// assign records that epoch starts at startOffset, as Kafka's LeaderEpochFileCache.assign:
// nothing changes unless the epoch differs from the latest or starts earlier; entries the new
// one contradicts (epoch or start offset not below it) are dropped.
func (c *epochCache) assign(epoch record.Epoch, startOffset record.Offset) bool {
	if epoch < 0 || startOffset < 0 {
		return false
	}
	if n := len(c.entries); n > 0 {
		latest := c.entries[n-1]
		if latest.Epoch == epoch && startOffset >= latest.StartOffset {
			return false
		}
	}
	keep := len(c.entries)
	for keep > 0 && (c.entries[keep-1].Epoch >= epoch || c.entries[keep-1].StartOffset >= startOffset) {
		keep--
	}
	c.entries = append(c.entries[:keep], EpochEntry{Epoch: epoch, StartOffset: startOffset})
	return true
}

// truncateFromEnd drops entries starting at or after endOffset (Kafka's truncateFromEnd).
func (c *epochCache) truncateFromEnd(endOffset record.Offset) bool {
	keep := len(c.entries)
	for keep > 0 && c.entries[keep-1].StartOffset >= endOffset {
		keep--
	}
	changed := keep != len(c.entries)
	c.entries = c.entries[:keep]
	return changed
}

// truncateFromStart drops entries wholly below startOffset; the last of them is kept with its
// start moved up to startOffset (Kafka's truncateFromStart).
func (c *epochCache) truncateFromStart(startOffset record.Offset) bool {
	below := 0
	for below < len(c.entries) && c.entries[below].StartOffset < startOffset {
		below++
	}
	if below == 0 {
		return false
	}
	kept := c.entries[below-1]
	kept.StartOffset = startOffset
	rest := append([]EpochEntry{kept}, c.entries[below:]...)
	c.entries = rest
	return true
}

// endOffsetFor answers OffsetForLeaderEpoch as Kafka's LeaderEpochFileCache.endOffsetFor: the
// largest epoch ≤ requested and the start offset of the first epoch above it (the log end
// offset when the requested epoch is the latest).
func (c *epochCache) endOffsetFor(requested record.Epoch, logEndOffset record.Offset) (record.Epoch, record.Offset) {
	n := len(c.entries)
	if requested == UndefinedEpoch || n == 0 {
		return UndefinedEpoch, UndefinedOffset
	}
	if c.entries[n-1].Epoch == requested {
		return requested, logEndOffset
	}
	higher := -1 // first entry with an epoch above requested
	for i, e := range c.entries {
		if e.Epoch > requested {
			higher = i
			break
		}
	}
	if higher < 0 {
		return UndefinedEpoch, UndefinedOffset
	}
	if higher == 0 {
		return requested, c.entries[0].StartOffset
	}
	return c.entries[higher-1].Epoch, c.entries[higher].StartOffset
}

// assignEpoch updates the cache for an appended batch and persists a change.
func (l *Log) assignEpoch(epoch record.Epoch, startOffset record.Offset) error {
	if !l.epochs.assign(epoch, startOffset) {
		return nil
	}
	return l.writeEpochCheckpoint()
}

// writeEpochCheckpoint persists the cache atomically. It syncs inline: epochs change once per
// leader change or truncation, and Kafka, too, flushes the checkpoint on every change.
func (l *Log) writeEpochCheckpoint() error {
	data := encodeEpochCheckpoint(l.epochs.entries)
	if err := diskio.WriteFileAtomic(l.fs, l.dir, EpochCheckpointFileName, data); err != nil {
		return fmt.Errorf("log: write %s: %w", EpochCheckpointFileName, err)
	}
	return nil
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch for this log: the largest epoch ≤ epoch the
// log knows and the end offset of that epoch, (UndefinedEpoch, UndefinedOffset) when unknown.
func (l *Log) EndOffsetForEpoch(epoch record.Epoch) (record.Epoch, record.Offset, error) {
	if err := l.check(); err != nil {
		return UndefinedEpoch, UndefinedOffset, err
	}
	e, o := l.epochs.endOffsetFor(epoch, l.endOffset)
	return e, o, nil
}

// LatestEpoch is the epoch of the last entry of the epoch cache; false when it is empty.
func (l *Log) LatestEpoch() (record.Epoch, bool) {
	if n := len(l.epochs.entries); n > 0 {
		return l.epochs.entries[n-1].Epoch, true
	}
	return UndefinedEpoch, false
}

// EpochForOffset is the epoch the record at offset o was written in (the last entry starting
// at or below o); false when no entry covers it.
func (l *Log) EpochForOffset(o record.Offset) (record.Epoch, bool) {
	e := l.epochs.entries
	for i := len(e) - 1; i >= 0; i-- {
		if e[i].StartOffset <= o {
			return e[i].Epoch, true
		}
	}
	return UndefinedEpoch, false
}

// EpochEntries returns a copy of the epoch cache.
func (l *Log) EpochEntries() []EpochEntry {
	return append([]EpochEntry(nil), l.epochs.entries...)
}

// AssignEpochStart records that leader epoch epoch starts at startOffset (the log end), as a
// new leader does before it appends (Kafka's maybeAssignEpochStartOffset in makeLeader): the
// leader's cache then always ends with its own epoch, so OffsetForLeaderEpoch and the fetch
// divergence check answer a follower's epoch from the epochs after it, never "unknown".
// Entries at or above epoch or startOffset are replaced; those above epoch are returned, for
// the caller to warn of: epochs only grow, so such an entry came from a batch whose
// partitionLeaderEpoch field (outside the CRC) was damaged on disk, and Kafka's cache, too,
// truncates it (maybeTruncateNonMonotonicEntries). The change is persisted.
func (l *Log) AssignEpochStart(epoch record.Epoch, startOffset record.Offset) (dropped []EpochEntry, err error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	if startOffset != l.endOffset {
		return nil, fmt.Errorf("log: epoch %d assigned at %d, not at the log end %d", epoch, startOffset, l.endOffset)
	}
	for _, e := range l.epochs.entries {
		if e.Epoch > epoch {
			dropped = append(dropped, e)
		}
	}
	return dropped, l.assignEpoch(epoch, startOffset)
}
