package quorum

import (
	"errors"
	"fmt"

	"github.com/weirdata/weir/core/record"
)

// ErrNoSnapshot is what Log.ReadSnapshot wraps for a snapshot it does not hold.
var ErrNoSnapshot = errors.New("quorum: no such snapshot")

// Entry is one entry of the replicated log, at one offset. Control entries (LeaderChange) are
// written by the quorum itself; the rest carry the caller's proposals.
//
// Entries come in batches, Kafka's record batches: the entries of one Propose call (a
// LeaderChange alone) are one batch, appended, replicated, committed and stored as a unit.
// Batch boundaries are part of the replicated log: every log has the same boundaries at the
// same offsets, the high watermark only ever sits at a boundary, and no fetch answer,
// truncation, snapshot or crash recovery cuts a batch. Every entry of a batch has the same
// Epoch, Control and TimestampMs.
type Entry struct {
	Epoch   record.Epoch
	Control bool
	Data    []byte
	// MoreInBatch says the entry at the next offset belongs to this entry's batch. The zero
	// value ends a batch: a lone Entry is a batch of one.
	MoreInBatch bool
	// TimestampMs is the batch's timestamp (Kafka's batch FirstTimestamp and MaxTimestamp):
	// the leader's wall clock when its log appended the batch. The leader's own entries carry
	// record.NoTimestamp until its Log stamps them; followers store the leader's timestamp, so
	// that their batches are the leader's byte for byte.
	TimestampMs int64
}

// sameBatch reports whether b may follow a in one batch.
func sameBatch(a, b *Entry) bool {
	return a.Epoch == b.Epoch && a.Control == b.Control && a.TimestampMs == b.TimestampMs
}

// checkBatches checks that entries are whole, well-formed batches: the last entry ends its
// batch and the entries of each batch agree on epoch, control flag and timestamp.
func checkBatches(entries []Entry) error {
	for i := range entries {
		if !entries[i].MoreInBatch {
			continue
		}
		if i == len(entries)-1 {
			return fmt.Errorf("the entries end inside a batch (entry %d of %d marks more)", i, len(entries))
		}
		if !sameBatch(&entries[i], &entries[i+1]) {
			return fmt.Errorf("entries %d and %d of one batch differ in epoch, control or timestamp (%d/%t/%d, %d/%t/%d)",
				i, i+1, entries[i].Epoch, entries[i].Control, entries[i].TimestampMs, entries[i+1].Epoch, entries[i+1].Control, entries[i+1].TimestampMs)
		}
	}
	return nil
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
// Batches (see Entry): Append takes whole batches and keeps their boundaries; Read returns whole
// batches; the quorum truncates only at batch boundaries; a Log recovered after a crash holds
// whole batches only (a torn last batch is dropped, as core/log drops one).
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
	// Append writes entries, whole batches, at EndOffset, keeping their batch
	// boundaries. Entries with TimestampMs record.NoTimestamp (the leader's own) are stamped
	// with the log's wall clock; the others keep theirs.
	Append(entries []Entry) error
	// TruncateTo drops every entry at or above offset (≥ the log start), a batch boundary:
	// the quorum truncates at no other offset, and a Log panics if asked to. DurableOffset
	// drops with it.
	TruncateTo(offset record.Offset) error
	// Read returns whole batches starting at from (log start ≤ from < EndOffset, a batch
	// boundary): as many as fit in entriesMax entries, and always at least one whole batch,
	// however large (as Kafka's fetch returns at least one batch, KIP-74).
	Read(from record.Offset, entriesMax int) ([]Entry, error)
	// DurableOffset is the end of the flushed prefix of the log. It may lie inside a batch (a
	// log that learned of a partial writeback), but a batch is durable only once
	// DurableOffset reaches its end: recovery keeps whole batches only.
	DurableOffset() record.Offset

	// LatestSnapshot is the id (end offset, epoch of its last entry) of the newest complete
	// snapshot; false when there is none. Snapshots cover committed entries only, and end at
	// a batch boundary (a high watermark).
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
