package quorum

import "github.com/weirdata/weir/core/record"

// Entry is one entry of the replicated log, at one offset. Control entries (LeaderChange) are
// written by the quorum itself; the rest carry the caller's proposals.
type Entry struct {
	Epoch   record.Epoch
	Control bool
	Data    []byte
}

// Undefined answers of EndOffsetForEpoch, as core/log's.
const (
	UndefinedEpoch  record.Epoch  = -1
	UndefinedOffset record.Offset = -1
)

// Log is what the quorum needs of its log. Appends and truncations go to the page cache inline
// (as core/log's do); durability is a separate step the driver runs when a Ready asks for a
// flush, and DurableOffset says how far it has got. Errors are storage failures: the node
// returns them and must not be used afterwards (the process restarts and recovers).
type Log interface {
	// EndOffset is the offset the next appended entry gets.
	EndOffset() record.Offset
	// LastEpoch is the epoch of the entry below EndOffset, 0 for an empty log (Kafka's
	// lastFetchedEpoch of an empty log).
	LastEpoch() record.Epoch
	// EndOffsetForEpoch is core/log's OffsetForLeaderEpoch answer: the largest epoch ≤ epoch
	// the log holds and the offset where the next epoch starts (EndOffset for the latest);
	// (UndefinedEpoch, UndefinedOffset) when the log holds no epoch ≤ epoch.
	EndOffsetForEpoch(epoch record.Epoch) (record.Epoch, record.Offset)
	// Append writes entries at EndOffset.
	Append(entries []Entry) error
	// TruncateTo drops every entry at or above offset; DurableOffset drops with it.
	TruncateTo(offset record.Offset) error
	// Read returns up to entriesMax entries starting at from (from < EndOffset).
	Read(from record.Offset, entriesMax int) ([]Entry, error)
	// DurableOffset is the end of the flushed prefix of the log.
	DurableOffset() record.Offset
}

// upToDate reports whether a log ending at (lastEpoch, endOffset) is at least as up to date as
// l: Raft's election restriction, comparing the last epoch first, then the end offset.
func upToDate(l Log, lastEpoch record.Epoch, endOffset record.Offset) bool {
	ownEpoch := l.LastEpoch()
	if lastEpoch != ownEpoch {
		return lastEpoch > ownEpoch
	}
	return endOffset >= l.EndOffset()
}
