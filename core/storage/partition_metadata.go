package storage

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/weirdata/weir/core/uuid"

	"github.com/weirdata/weir/diskio"
)

// PartitionMetadataFile holds a partition directory's topic id (Kafka's PartitionMetadataFile).
const PartitionMetadataFile = "partition.metadata"

// EncodePartitionMetadata writes Kafka's format: "version: 0\ntopic_id: <uuid>", with no
// newline after the last line, as Kafka writes it.
func EncodePartitionMetadata(topicID UUID) []byte {
	return []byte("version: 0\ntopic_id: " + topicID.String())
}

var partitionMetadataSeparator = regexp.MustCompile(`:\s+`)

// DecodePartitionMetadata parses partition.metadata as Kafka's PartitionMetadataReadBuffer
// does: two lines, each "key:<whitespace>value"; version at least 0; a non-zero topic id.
func DecodePartitionMetadata(path string, data []byte) (UUID, error) {
	text := strings.TrimRight(string(data), "\r\n")
	lines := strings.Split(text, "\n")
	if len(lines) != 2 {
		return uuid.Zero, fmt.Errorf("malformed partition metadata file %s: %d lines, want 2", path, len(lines))
	}
	parse := func(line, key string) (string, error) {
		parts := partitionMetadataSeparator.Split(strings.TrimSuffix(line, "\r"), -1)
		if len(parts) != 2 || parts[0] != key {
			return "", fmt.Errorf("malformed line in partition metadata file %s: %q", path, line)
		}
		return parts[1], nil
	}
	versionText, err := parse(lines[0], "version")
	if err != nil {
		return uuid.Zero, err
	}
	if version, err := strconv.Atoi(versionText); err != nil || version < 0 {
		return uuid.Zero, fmt.Errorf("unrecognized version of partition metadata file %s: %q", path, versionText)
	}
	idText, err := parse(lines[1], "topic_id")
	if err != nil {
		return uuid.Zero, err
	}
	id, err := uuid.Parse(idText)
	if err != nil {
		return uuid.Zero, fmt.Errorf("partition metadata file %s: %w", path, err)
	}
	if id == uuid.Zero {
		return uuid.Zero, fmt.Errorf("invalid topic id in partition metadata file %s", path)
	}
	return id, nil
}

// ReadPartitionMetadata reads a partition directory's topic id.
func ReadPartitionMetadata(fsys diskio.FS, partitionDir string) (UUID, error) {
	path := diskio.Join(partitionDir, PartitionMetadataFile)
	data, err := diskio.ReadFile(fsys, path)
	if err != nil {
		return uuid.Zero, fmt.Errorf("read %s: %w", path, err)
	}
	return DecodePartitionMetadata(path, data)
}
