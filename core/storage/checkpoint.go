package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// Per-directory offset checkpoint files (Kafka's OffsetCheckpointFile).
const (
	RecoveryPointCheckpointFile  = "recovery-point-offset-checkpoint"
	LogStartOffsetCheckpointFile = "log-start-offset-checkpoint"

	offsetCheckpointVersion = 0
)

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return tp.Topic + "-" + strconv.Itoa(int(tp.Partition)) }

// compareTopicPartitions orders by topic, then partition number.
func compareTopicPartitions(a, b TopicPartition) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return int(a.Partition) - int(b.Partition)
}

// CheckpointEntry is one line of an offset checkpoint: a partition and an offset.
type CheckpointEntry struct {
	TopicPartition
	Offset record.Offset
}

// EncodeOffsetCheckpoint writes Kafka's OffsetCheckpointFile format:
//
//	0                    the version
//	<count>
//	<topic> <partition> <offset>   one line per entry
//
// Entries are written sorted by topic and partition, so the same state gives the same bytes.
// A topic name with whitespace would make the file unreadable: that is a broken invariant
// (Kafka's topic names are [a-zA-Z0-9._-]), so it panics.
func EncodeOffsetCheckpoint(entries []CheckpointEntry) []byte {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b CheckpointEntry) int { return compareTopicPartitions(a.TopicPartition, b.TopicPartition) })
	var b bytes.Buffer
	b.WriteString(strconv.Itoa(offsetCheckpointVersion))
	b.WriteByte('\n')
	b.WriteString(strconv.Itoa(len(sorted)))
	b.WriteByte('\n')
	for i, e := range sorted {
		if e.Topic == "" || strings.ContainsAny(e.Topic, " \t\n\r\f\v") {
			panic(fmt.Sprintf("storage: invariant: checkpoint topic name %q must be non-empty without whitespace", e.Topic))
		}
		if i > 0 && sorted[i-1].TopicPartition == e.TopicPartition {
			panic(fmt.Sprintf("storage: invariant: partition %s appears twice in a checkpoint", e.TopicPartition))
		}
		b.WriteString(e.Topic)
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(int(e.Partition)))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(int64(e.Offset), 10))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// CorruptCheckpointError is a checkpoint file that cannot be read. Line is 1-based (0 when
// the problem is the file as a whole).
type CorruptCheckpointError struct {
	Path   string
	Line   int
	Reason string
}

func (e *CorruptCheckpointError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("corrupt checkpoint file %s line %d: %s", e.Path, e.Line, e.Reason)
	}
	return fmt.Sprintf("corrupt checkpoint file %s: %s", e.Path, e.Reason)
}

// DecodeOffsetCheckpoint parses an offset checkpoint as Kafka's CheckpointFile reader does:
// an empty file has no entries; fields are separated by runs of whitespace; the count must
// match the lines that follow. path names the file in errors.
func DecodeOffsetCheckpoint(path string, data []byte) ([]CheckpointEntry, error) {
	if len(data) == 0 {
		return nil, nil
	}
	lines := strings.Split(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1] // the newline ending the last line
	}
	corrupt := func(line int, format string, args ...any) error {
		return &CorruptCheckpointError{Path: path, Line: line, Reason: fmt.Sprintf(format, args...)}
	}
	for i := range lines {
		lines[i] = strings.TrimSuffix(lines[i], "\r") // Java's readLine accepts \r\n
	}
	version, err := strconv.Atoi(lines[0])
	if err != nil {
		return nil, corrupt(1, "malformed version line %q", lines[0])
	}
	if version != offsetCheckpointVersion {
		return nil, corrupt(1, "unrecognised version %d, expected version %d", version, offsetCheckpointVersion)
	}
	if len(lines) < 2 {
		return nil, nil // Kafka reads a file that ends after the version as empty
	}
	count, err := strconv.Atoi(lines[1])
	if err != nil || count < 0 {
		return nil, corrupt(2, "malformed entry count %q", lines[1])
	}
	body := lines[2:]
	if len(body) != count {
		return nil, corrupt(0, "expected %d entries but found %d", count, len(body))
	}
	if count == 0 {
		return nil, nil
	}
	entries := make([]CheckpointEntry, 0, count)
	seen := make(map[TopicPartition]bool, count)
	for i, line := range body {
		lineNo := i + 3
		fields := strings.Fields(line)
		if len(fields) != 3 {
			return nil, corrupt(lineNo, "malformed line %q: want <topic> <partition> <offset>", line)
		}
		partition, err := strconv.ParseInt(fields[1], 10, 32)
		if err != nil || partition < 0 {
			return nil, corrupt(lineNo, "malformed partition %q", fields[1])
		}
		offset, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			return nil, corrupt(lineNo, "malformed offset %q", fields[2])
		}
		tp := TopicPartition{Topic: fields[0], Partition: int32(partition)}
		if seen[tp] {
			return nil, corrupt(lineNo, "partition %s appears twice", tp)
		}
		seen[tp] = true
		entries = append(entries, CheckpointEntry{TopicPartition: tp, Offset: record.Offset(offset)})
	}
	return entries, nil
}

// ReadOffsetCheckpoint reads an offset checkpoint file; a missing file has no entries.
func ReadOffsetCheckpoint(fsys diskio.FS, dir, name string) ([]CheckpointEntry, error) {
	path := diskio.Join(dir, name)
	data, err := diskio.ReadFile(fsys, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return DecodeOffsetCheckpoint(path, data)
}

// WriteOffsetCheckpoint writes an offset checkpoint file atomically and durably.
func WriteOffsetCheckpoint(fsys diskio.FS, dir, name string, entries []CheckpointEntry) error {
	if err := diskio.WriteFileAtomic(fsys, dir, name, EncodeOffsetCheckpoint(entries)); err != nil {
		return fmt.Errorf("write %s: %w", diskio.Join(dir, name), err)
	}
	return nil
}

// checkpointMap turns entries into a lookup table.
func checkpointMap(entries []CheckpointEntry) map[TopicPartition]record.Offset {
	m := make(map[TopicPartition]record.Offset, len(entries))
	for _, e := range entries {
		m[e.TopicPartition] = e.Offset
	}
	return m
}
