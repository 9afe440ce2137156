package log

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/weirdata/weir/diskio"
)

// TopicID is a topic's 16-byte UUID.
type TopicID [16]byte

// String is Kafka's Uuid.toString: URL-safe base64 without padding, 22 characters.
func (id TopicID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// ParseTopicID parses the 22-character form.
func ParseTopicID(s string) (TopicID, error) {
	var id TopicID
	if len(s) != 22 {
		return id, fmt.Errorf("log: topic id %q: want 22 characters", s)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("log: topic id %q: not URL-safe base64 of 16 bytes", s)
	}
	copy(id[:], b)
	return id, nil
}

const partitionMetadataVersion = 0

// partitionMetadataBytesMax bounds what ReadPartitionMetadata reads from a damaged file.
const partitionMetadataBytesMax = 1024

// EncodePartitionMetadata renders Kafka's partition.metadata text, exactly as Kafka's
// PartitionMetadataFileFormatter does: "version: 0\ntopic_id: <id>", no final newline.
func EncodePartitionMetadata(id TopicID) []byte {
	return []byte(fmt.Sprintf("version: %d\ntopic_id: %s", partitionMetadataVersion, id))
}

// ParsePartitionMetadata parses partition.metadata as Kafka reads it: two lines of
// "key:<whitespace>value" (a final newline tolerated), version 0.
func ParsePartitionMetadata(data []byte) (TopicID, error) {
	lines := strings.Split(strings.TrimRight(string(data), "\r\n"), "\n")
	if len(lines) != 2 {
		return TopicID{}, fmt.Errorf("log: %s: %d lines, want 2", PartitionMetadataFileName, len(lines))
	}
	field := func(line, key string) (string, bool) {
		k, v, ok := strings.Cut(strings.TrimSuffix(line, "\r"), ":")
		if !ok || k != key || len(v) < 2 || (v[0] != ' ' && v[0] != '\t') {
			return "", false
		}
		return strings.TrimSpace(v), true
	}
	version, ok := field(lines[0], "version")
	if !ok || version != "0" {
		return TopicID{}, fmt.Errorf("log: %s: unsupported version line %q", PartitionMetadataFileName, lines[0])
	}
	id, ok := field(lines[1], "topic_id")
	if !ok {
		return TopicID{}, fmt.Errorf("log: %s: malformed topic id line %q", PartitionMetadataFileName, lines[1])
	}
	return ParseTopicID(id)
}

// WritePartitionMetadata writes dir/partition.metadata atomically and durably.
func WritePartitionMetadata(fsys diskio.FS, dir string, id TopicID) error {
	if err := diskio.WriteFileAtomic(fsys, dir, PartitionMetadataFileName, EncodePartitionMetadata(id)); err != nil {
		return fmt.Errorf("log: write %s: %w", PartitionMetadataFileName, err)
	}
	return nil
}

// ReadPartitionMetadata reads dir/partition.metadata; a missing file is diskio.ErrNotExist.
func ReadPartitionMetadata(fsys diskio.FS, dir string) (TopicID, error) {
	path := diskio.Join(dir, PartitionMetadataFileName)
	info, err := fsys.Stat(path)
	if err != nil {
		return TopicID{}, fmt.Errorf("log: read %s: %w", path, err)
	}
	if info.Size() > partitionMetadataBytesMax {
		return TopicID{}, fmt.Errorf("log: %s: %d bytes, more than %d", path, info.Size(), partitionMetadataBytesMax)
	}
	data, err := diskio.ReadFile(fsys, path)
	if err != nil {
		return TopicID{}, fmt.Errorf("log: read %s: %w", path, err)
	}
	return ParsePartitionMetadata(data)
}
