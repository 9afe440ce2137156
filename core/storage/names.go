package storage

import (
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Names inside a log directory (Kafka's LogManager and UnifiedLog).
const (
	lockFile = ".lock"

	// MetadataTopic is the KRaft metadata log's topic; its directory belongs to the quorum,
	// not to the Manager (Kafka's LogManager skips it too).
	MetadataTopic = "__cluster_metadata"

	deleteDirSuffix = "-delete"
	futureDirSuffix = "-future"
	strayDirSuffix  = "-stray"

	// dirNameBytesMax is the longest file name most file systems allow.
	dirNameBytesMax = 255
)

// PartitionDirName is a partition's directory name: "<topic>-<partition>".
func PartitionDirName(tp TopicPartition) string { return tp.String() }

// DirKind says what a directory in a log dir holds.
type DirKind int

const (
	DirPartition DirKind = iota // a live partition: <topic>-<partition>
	DirDeleted                  // <topic>-<partition>.<id>-delete: awaiting removal
	DirFuture                   // <topic>-<partition>.<id>-future: an in-progress move (unsupported)
	DirStray                    // <topic>-<partition>.<id>-stray: a partition no longer assigned here
)

// ParsePartitionDirName parses a directory name as Kafka's UnifiedLog.parseTopicPartitionName
// does: the suffixes -delete, -future and -stray mark <topic>-<partition>.<id><suffix>; the
// partition number follows the LAST '-' (topic names may contain '-' and '.').
func ParsePartitionDirName(name string) (TopicPartition, DirKind, error) {
	bad := func(reason string) (TopicPartition, DirKind, error) {
		return TopicPartition{}, 0, fmt.Errorf("directory %q is not in the form of topic-partition or topic-partition.uniqueId-delete (%s); Kafka's log directories (and children) should only contain Kafka topic data", name, reason)
	}
	kind := DirPartition
	base := name
	for _, s := range []struct {
		suffix string
		kind   DirKind
	}{{deleteDirSuffix, DirDeleted}, {futureDirSuffix, DirFuture}, {strayDirSuffix, DirStray}} {
		if strings.HasSuffix(name, s.suffix) {
			dot := strings.LastIndexByte(name, '.')
			if dot < 0 || dot+1 >= len(name)-len(s.suffix) || strings.ContainsAny(name, " \t\n\r\f\v") {
				return bad("malformed " + s.suffix + " name")
			}
			kind, base = s.kind, name[:dot]
			break
		}
	}
	dash := strings.LastIndexByte(base, '-')
	if dash <= 0 || dash == len(base)-1 {
		return bad("no topic-partition")
	}
	partition, err := strconv.ParseInt(base[dash+1:], 10, 32)
	if err != nil || partition < 0 || base[dash+1] == '+' {
		return bad("partition is not a non-negative number")
	}
	return TopicPartition{Topic: base[:dash], Partition: int32(partition)}, kind, nil
}

// deleteDirName is the name a deleted partition's directory is renamed to, as Kafka's
// logDeleteDirName: "<topic>-<partition>.<32 hex digits>-delete", the topic cut short if the
// whole would pass 255 bytes. random supplies the unique id.
func deleteDirName(tp TopicPartition, random io.Reader) (string, error) {
	var id [16]byte
	if _, err := io.ReadFull(random, id[:]); err != nil {
		return "", fmt.Errorf("random delete dir id: %w", err)
	}
	suffix := "-" + strconv.Itoa(int(tp.Partition)) + "." + hex.EncodeToString(id[:]) + deleteDirSuffix
	topic := tp.Topic
	if len(topic)+len(suffix) > dirNameBytesMax {
		topic = topic[:dirNameBytesMax-len(suffix)]
	}
	return topic + suffix, nil
}
