package log

import (
	"strconv"
	"strings"

	"github.com/weirdata/weir/core/record"
)

// File name suffixes, as Kafka spells them.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	deletedSuffix   = ".deleted"

	offsetDigits = 20

	// EpochCheckpointFileName is the leader epoch cache's file.
	EpochCheckpointFileName = "leader-epoch-checkpoint"
	// PartitionMetadataFileName holds the topic id.
	PartitionMetadataFileName = "partition.metadata"
)

// leftoverSuffixes mark files of an interrupted operation; Open deletes them as Kafka does
// (no cleaner swaps are in progress across a restart in Weir, so .swap files are dropped too).
var leftoverSuffixes = []string{".tmp", deletedSuffix, ".cleaned", ".swap"}

// offsetFileName is a segment file name: the base offset in 20 digits plus suffix.
func offsetFileName(base record.Offset, suffix string) string {
	digits := strconv.FormatInt(int64(base), 10)
	return strings.Repeat("0", offsetDigits-len(digits)) + digits + suffix
}

// parseOffsetFileName splits "<20 digits><suffix>"; ok is false for any other name.
func parseOffsetFileName(name string) (base record.Offset, suffix string, ok bool) {
	if len(name) <= offsetDigits {
		return 0, "", false
	}
	for i := 0; i < offsetDigits; i++ {
		if name[i] < '0' || name[i] > '9' {
			return 0, "", false
		}
	}
	n, err := strconv.ParseInt(name[:offsetDigits], 10, 64)
	if err != nil {
		return 0, "", false
	}
	return record.Offset(n), name[offsetDigits:], true
}

func isLeftover(name string) bool {
	for _, s := range leftoverSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}
