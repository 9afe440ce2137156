// Package log is one partition's log, laid out on disk as Kafka lays it out: segments named by
// their 20-digit base offset (.log holding record batches byte for byte, a sparse .index of
// offset → position, a .timeindex of timestamp → offset), a leader-epoch-checkpoint and a
// partition.metadata file.
//
// The log is a pure state machine over diskio.FS. Appends write the page cache inline (batch
// and index entries through File.WriteAt); everything slow is handed to the driver: syncs
// (PendingSync/Synced, at most one in flight, so group commit falls out naturally), unlinks of
// deleted segments (FileOps), and reads of record data (Read returns a plan of byte ranges).
// Reading 61-byte batch headers and index entries inline is allowed: lookups need them.
// Bytes a faulty disk changed below the recovery point, which recovery does not scan, are
// found by reads (ErrCorruptLog); OffsetPastDamage says where a reader may go on past them.
//
// Durability follows DESIGN §4: DurableOffset moves only when a sync covering it succeeded,
// data in a new segment counts only after the directory is synced, and after a failed sync or
// write the log is poisoned — every later call fails, the node crashes and Open recovers.
//
// Rare operations do small synchronous I/O inline, as Kafka does: the leader-epoch-checkpoint
// is rewritten atomically (with its fsyncs) when the epoch cache changes; truncations unlink
// and truncate files inline; retention renames deleted segments to *.deleted inline and
// leaves the unlinks to the driver; Open syncs what it recovers of inactive segments.
//
// Segments are contiguous above the recovery point: each starts at the offset after the
// previous one's last record (a roll starts the new segment at the log end, for a follower
// batch past the end too, where Kafka would start it at the batch). Recovery relies on it: a
// gap above the recovery point after a scanned segment can only be records never synced,
// lost in a crash while a later segment's file survived — a sync covers the whole log up to
// its end, so DurableOffset never passed them and nothing at or after them was acknowledged —
// and the log is truncated there as at a torn tail. Gaps between segments are legitimate only
// below the recovery point, which makes two rules:
//   - the log cleaner (a later issue) must only rewrite segments below the recovery point
//     already checkpointed on disk, so compaction gaps never lie above it. A lost checkpoint
//     reads as recovery point 0 and puts every gap above it, so the cleaner should also leave
//     each rewritten segment ending where it ended (keeping an emptied last batch's header,
//     as Kafka's cleaner can), or such a recovery cuts the log at the first cleaned gap;
//   - a follower batch more than 2^31 offsets past the end cannot share a segment boundary
//     with the log end (index offsets are relative int32s); a crash before the recovery
//     point passes it truncates there, and the follower fetches the records again.
//
// The caller keeps the log dir's checkpoints: recovery-point-offset-checkpoint from
// DurableOffset (rewrite it after TruncateTo, as Kafka does, so a stale, higher recovery point
// never hides rewritten data from recovery) and log-start-offset-checkpoint from StartOffset.
package log
