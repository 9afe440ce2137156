package log

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/weirdata/weir/core/uuid"
	"github.com/weirdata/weir/diskio"
)

// partitionMetadataVersion is PartitionMetadataFile.CURRENT_VERSION, the only one Kafka reads.
const partitionMetadataVersion = 0

// partitionMetadataBytesMax bounds what ReadPartitionMetadata reads from a damaged file.
const partitionMetadataBytesMax = 1024

// partitionMetadataSeparator is Kafka's WHITE_SPACES_PATTERN, which splits each line.
var partitionMetadataSeparator = regexp.MustCompile(`:\s+`)

// EncodePartitionMetadata renders Kafka's partition.metadata text, exactly as Kafka's
// PartitionMetadataFile writes it: "version: 0\ntopic_id: <id>", no final newline.
func EncodePartitionMetadata(topicID uuid.UUID) []byte {
	return []byte("version: " + strconv.Itoa(partitionMetadataVersion) + "\ntopic_id: " + topicID.String())
}

// ParsePartitionMetadata parses partition.metadata as Kafka's PartitionMetadataReadBuffer
// does: two lines of "key:<whitespace>value" (a final newline tolerated), version 0, and a
// topic id that is not the zero UUID.
func ParsePartitionMetadata(data []byte) (uuid.UUID, error) {
	id, err := parsePartitionMetadata(data)
	if err != nil {
		return uuid.Zero, fmt.Errorf("log: %s: %w", PartitionMetadataFileName, err)
	}
	return id, nil
}

func parsePartitionMetadata(data []byte) (uuid.UUID, error) {
	lines := strings.Split(strings.TrimRight(string(data), "\r\n"), "\n")
	if len(lines) != 2 {
		return uuid.Zero, fmt.Errorf("%d lines, want 2", len(lines))
	}
	field := func(line, key string) (string, error) {
		parts := partitionMetadataSeparator.Split(strings.TrimSuffix(line, "\r"), -1)
		if len(parts) != 2 || parts[0] != key {
			return "", fmt.Errorf("malformed line %q", line)
		}
		return parts[1], nil
	}
	versionText, err := field(lines[0], "version")
	if err != nil {
		return uuid.Zero, err
	}
	if version, err := strconv.Atoi(versionText); err != nil || version != partitionMetadataVersion {
		return uuid.Zero, fmt.Errorf("unrecognized version %q", versionText)
	}
	idText, err := field(lines[1], "topic_id")
	if err != nil {
		return uuid.Zero, err
	}
	id, err := uuid.Parse(idText)
	if err != nil {
		return uuid.Zero, err
	}
	if id == uuid.Zero {
		return uuid.Zero, errors.New("invalid topic id: the zero UUID")
	}
	return id, nil
}

// WritePartitionMetadata writes dir/partition.metadata atomically and durably (inline, as
// Kafka does: once per partition).
func WritePartitionMetadata(fsys diskio.FS, dir string, topicID uuid.UUID) error {
	if err := diskio.WriteFileAtomic(fsys, dir, PartitionMetadataFileName, EncodePartitionMetadata(topicID)); err != nil {
		return fmt.Errorf("log: write %s: %w", diskio.Join(dir, PartitionMetadataFileName), err)
	}
	return nil
}

// ReadPartitionMetadata reads dir/partition.metadata; a missing file is diskio.ErrNotExist.
// Errors name the file.
func ReadPartitionMetadata(fsys diskio.FS, dir string) (uuid.UUID, error) {
	path := diskio.Join(dir, PartitionMetadataFileName)
	info, err := fsys.Stat(path)
	if err != nil {
		return uuid.Zero, fmt.Errorf("log: read %s: %w", path, err)
	}
	if info.Size() > partitionMetadataBytesMax {
		return uuid.Zero, fmt.Errorf("log: %s: %d bytes, more than %d", path, info.Size(), partitionMetadataBytesMax)
	}
	data, err := diskio.ReadFile(fsys, path)
	if err != nil {
		return uuid.Zero, fmt.Errorf("log: read %s: %w", path, err)
	}
	id, err := parsePartitionMetadata(data)
	if err != nil {
		return uuid.Zero, fmt.Errorf("log: %s: %w", path, err)
	}
	return id, nil
}
