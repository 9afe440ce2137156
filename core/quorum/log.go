package quorum

import (
	"errors"

	"github.com/weirdata/weir/core/record"
)

// ErrNoSnapshot is what Log.ReadSnapshot wraps for a snapshot it does not hold.
var ErrNoSnapshot = errors.New("quorum: no such snapshot")

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
//
// Snapshots (KIP-630) bound the log: the application snapshots its state at a committed offset
// and may then delete the entries below it, moving the log start there. A follower whose fetch
// falls below the leader's log start fetches the leader's latest snapshot in chunks and
// restarts its log at the snapshot's end.
type Log interface {
	// EndOffset is the offset the next appended entry gets.
	EndOffset() record.Offset
	// LastEpoch is the epoch of the entry below EndOffset: the log start's epoch (Start) when
	// the log holds no entry, 0 for a log that never held one.
	LastEpoch() record.Epoch
	// Start is the log start offset and the epoch of the entry just below it (the epoch of
	// the snapshot ending there); {0, 0} for a log that starts at 0.
	Start() EpochEndOffset
	// EndOffsetForEpoch is core/log's OffsetForLeaderEpoch answer: the largest epoch ≤ epoch
	// the log holds (counting the epoch at its start) and the offset where the next epoch
	// starts (EndOffset for the latest); (UndefinedEpoch, UndefinedOffset) when the log holds
	// no epoch ≤ epoch.
	EndOffsetForEpoch(epoch record.Epoch) (record.Epoch, record.Offset)
	// Append writes entries at EndOffset.
	Append(entries []Entry) error
	// TruncateTo drops every entry at or above offset (≥ the log start); DurableOffset drops
	// with it.
	TruncateTo(offset record.Offset) error
	// Read returns up to entriesMax entries starting at from (log start ≤ from < EndOffset).
	Read(from record.Offset, entriesMax int) ([]Entry, error)
	// DurableOffset is the end of the flushed prefix of the log.
	DurableOffset() record.Offset

	// LatestSnapshot is the id (end offset, epoch of its last entry) of the newest complete
	// snapshot; false when there is none. Snapshots cover committed entries only.
	LatestSnapshot() (EpochEndOffset, bool)
	// ReadSnapshot returns up to bytesMax bytes of snapshot id from position, and its size;
	// an error wrapping ErrNoSnapshot when the log no longer holds that snapshot (a follower
	// fetching it starts over with the latest).
	ReadSnapshot(id EpochEndOffset, position int64, bytesMax int32) ([]byte, int64, error)
	// WriteSnapshotChunk writes fetched bytes of snapshot id at position into a pending
	// snapshot (starting a new pending snapshot discards any other).
	WriteSnapshotChunk(id EpochEndOffset, position int64, data []byte) error
	// InstallSnapshot completes the pending snapshot id of size bytes, makes it durable and
	// restarts the log at it: Start = {id.Epoch, id.EndOffset} = EndOffset = DurableOffset.
	InstallSnapshot(id EpochEndOffset, size int64) error
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
