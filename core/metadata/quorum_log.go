package metadata

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// QuorumLog is the metadata quorum's log on disk (quorum.Log): the entries in core/log's
// partition directory `<metadata log dir>/__cluster_metadata-0/` and the snapshots beside them
// as `<end offset>-<epoch>.checkpoint`, Kafka's KafkaMetadataLog layout.
//
// Each batch of quorum entries (see quorum.Entry) is one core/log record batch, framed by
// quorum.AppendBatches: the leader's stamped with its wall clock, a follower's with the
// leader's timestamp, so that a follower's batch is the leader's byte for byte (same base
// offset, epoch, record count, records and timestamps). Batch boundaries are the same on
// every node, and every offset the quorum truncates to is one, so core/log's whole-batch
// truncation cuts exactly there; its recovery drops a torn last batch whole, so a crash never
// leaves part of a batch (of a command) in the log.
//
// Driver contract:
//   - SetNowMs before each call into the quorum node: the wall clock stamps the batches (as
//     KRaft stamps its appends) and drives segment.ms rolls. Core reads no clock.
//   - Flush: when a quorum.Ready asks for one, and whenever a flush is wanted and no sync is in
//     flight, call PendingSync; run the request off the loop (log.SyncRequest.Run), report it
//     with Synced, then call the node's Flushed. PendingSync returns false while a sync is in
//     flight (appends made meanwhile ride on the next one, so keep the wish and ask again after
//     Synced) and when nothing is unsynced (then call Flushed at once). A failed sync poisons
//     the log: every later call fails, and the process restarts and reopens.
//   - Snapshots the application takes are written by it durably (metadata.SnapshotWrite.Run)
//     and recorded with RecordSnapshot; DeleteBefore then moves the log start up to one and
//     returns the file removals to run off the loop (log.RunFileOps).
//   - Reads (Read, ReadSnapshot), snapshot chunk writes and installs run inline: the quorum's
//     Log interface is synchronous. InstallSnapshot syncs inline; it is rare.
//
// Not safe for concurrent use: one driver calls it, one event at a time.
type QuorumLog struct {
	fsys diskio.FS
	dir  string
	cfg  QuorumLogConfig
	log  *log.Log

	nowMs      int64
	start      quorum.EpochEndOffset // log start and the epoch of the snapshot ending there
	snapshots  []SnapshotID          // complete snapshot files, by end offset
	pending    *pendingSnapshot      // a snapshot being fetched
	batchBuf   []byte
	readBuf    []byte
	dirSyncErr error // first failure of an inline directory sync (the log is unusable after it)
}

// pendingSnapshot is a snapshot being fetched into <name>.checkpoint.part.
type pendingSnapshot struct {
	id        SnapshotID
	path      string
	file      diskio.File
	sizeBytes int64
}

// QuorumLogConfig configures a QuorumLog.
type QuorumLogConfig struct {
	// Log is the metadata log's segment settings (metadata.log.segment.bytes, ...). Retention
	// should be off (-1): the log start moves only to a snapshot (DeleteBefore).
	Log log.Config
	// ReadBytesMax bounds the bytes one Read plans and reads (one oversized entry excepted).
	ReadBytesMax int64
}

// DefaultQuorumLogConfig is Kafka's metadata log defaults with retention off.
func DefaultQuorumLogConfig() QuorumLogConfig {
	cfg := log.DefaultConfig()
	cfg.RetentionBytes, cfg.RetentionMs = -1, -1
	return QuorumLogConfig{Log: cfg, ReadBytesMax: 1 << 20}
}

func (c QuorumLogConfig) validate() error {
	if c.ReadBytesMax < 1 {
		return fmt.Errorf("metadata: quorum log ReadBytesMax %d < 1", c.ReadBytesMax)
	}
	return c.Log.Validate()
}

var _ quorum.Log = (*QuorumLog)(nil)

// OpenQuorumLog opens (creating) the quorum's log in <metadataLogDir>/__cluster_metadata-0 and
// recovers it:
//   - a stray .checkpoint.part (a snapshot fetch a crash interrupted) is removed;
//   - the log is recovered from its start (core/log's Open with recovery point 0: the metadata
//     log is small, and no recovery-point checkpoint is kept for it), and the recovered log is
//     synced before Open returns: DurableOffset is EndOffset;
//   - a log that does not hold the newest snapshot's last entry (shorter, or with another epoch
//     there: the rest of a divergent log a crash kept) restarts at the snapshot, durably, as
//     Kafka's KafkaMetadataLog truncates to its latest snapshot;
//   - the log start is aligned to a snapshot end (or 0): the oldest snapshot at or above the
//     log's first segment.
func OpenQuorumLog(fsys diskio.FS, metadataLogDir string, cfg QuorumLogConfig, nowMs int64) (*QuorumLog, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	q := &QuorumLog{fsys: fsys, dir: diskio.Join(metadataLogDir, DirName), cfg: cfg, nowMs: nowMs}
	if err := fsys.MkdirAll(q.dir, 0o755); err != nil {
		return nil, fmt.Errorf("metadata: create %s: %w", q.dir, err)
	}
	if err := syncParentDirs(fsys, q.dir); err != nil {
		return nil, err
	}
	l, err := log.Open(fsys, q.dir, cfg.Log, log.OpenOptions{NowMs: nowMs})
	if err != nil {
		return nil, fmt.Errorf("metadata: open quorum log %s: %w", q.dir, err)
	}
	q.log = l
	if err := q.recover(); err != nil {
		l.Close()
		return nil, err
	}
	// The recovered tail may sit only in the page cache of the crashed process. Sync it here,
	// as part of recovery: the quorum acknowledges only durable entries and would otherwise
	// wait for a flush nothing asks for (it asks only after it appends).
	if req, ok := l.PendingSync(); ok {
		err := req.Run(fsys)
		l.Synced(req, err)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("metadata: sync the recovered quorum log %s: %w", q.dir, err)
		}
	}
	return q, nil
}

func (q *QuorumLog) recover() error {
	ids, err := scanSnapshotFiles(q.fsys, q.dir)
	if err != nil {
		return err
	}
	// A snapshot at 0 or of no epoch holds nothing the quorum can start from.
	q.snapshots = slices.DeleteFunc(ids, func(id SnapshotID) bool { return id.EndOffset <= 0 || id.Epoch < 0 })
	logStart, logEnd := q.log.StartOffset(), q.log.EndOffset()
	if n := len(q.snapshots); n > 0 {
		latest := q.snapshots[n-1]
		if logStart > latest.EndOffset {
			return fmt.Errorf("metadata: quorum log %s starts at %d, above its newest snapshot %s", q.dir, logStart, latest)
		}
		holds := logEnd >= latest.EndOffset
		if holds && logStart < latest.EndOffset {
			epoch, ok := q.log.EpochForOffset(latest.EndOffset - 1)
			holds = ok && epoch == latest.Epoch
		}
		if !holds {
			return q.restartAt(latest)
		}
	}
	// The log start is the oldest snapshot at or above the first segment. Recovery scanned
	// every segment and rebuilt the epoch cache from the batches, so the log holds every entry
	// from there, whichever snapshot that is: one DeleteBefore moved the start to, or an older
	// one whose removal a crash undid (the start then comes back down, to entries still held).
	floor := logStart
	if floor == 0 {
		q.start = quorum.EpochEndOffset{Epoch: 0, EndOffset: 0}
		return nil
	}
	i := slices.IndexFunc(q.snapshots, func(id SnapshotID) bool { return id.EndOffset >= floor })
	if i < 0 {
		return fmt.Errorf("metadata: quorum log %s starts at %d and no snapshot reaches it (snapshots %v)", q.dir, floor, q.snapshots)
	}
	at := q.snapshots[i]
	if err := q.log.DeleteRecordsBefore(at.EndOffset); err != nil {
		return fmt.Errorf("metadata: align quorum log start to snapshot %s: %w", at, err)
	}
	q.start = quorum.EpochEndOffset{Epoch: at.Epoch, EndOffset: at.EndOffset}
	return nil
}

// restartAt empties the log and starts it at snapshot id, durably: the segments' removal and
// the new segment are directory entries, synced here, and the epoch checkpoint core/log
// rewrites atomically. Snapshots below id are removed: the log can never start at them again.
func (q *QuorumLog) restartAt(id SnapshotID) error {
	if err := q.log.TruncateFullyAndStartAt(id.EndOffset); err != nil {
		return fmt.Errorf("metadata: restart quorum log at snapshot %s: %w", id, err)
	}
	if err := diskio.SyncDir(q.fsys, q.dir); err != nil {
		q.dirSyncErr = fmt.Errorf("metadata: sync %s after restarting at snapshot %s: %w", q.dir, id, err)
		return q.dirSyncErr
	}
	q.start = quorum.EpochEndOffset{Epoch: id.Epoch, EndOffset: id.EndOffset}
	kept := q.snapshots[:0]
	for _, s := range q.snapshots {
		if s.EndOffset < id.EndOffset {
			if err := q.fsys.Remove(diskio.Join(q.dir, SnapshotFileName(s))); err != nil && !errors.Is(err, diskio.ErrNotExist) {
				return fmt.Errorf("metadata: remove snapshot %s below the log start: %w", s, err)
			}
			continue
		}
		kept = append(kept, s)
	}
	q.snapshots = kept
	return nil
}

// check returns the error every call fails with once the log is unusable.
func (q *QuorumLog) check() error {
	if q.dirSyncErr != nil {
		return q.dirSyncErr
	}
	return q.log.Poisoned()
}

// SetNowMs sets the wall clock (ms) the next appends are stamped with.
func (q *QuorumLog) SetNowMs(nowMs int64) { q.nowMs = nowMs }

// Dir is the log's partition directory, where the snapshots and the quorum-state file live.
func (q *QuorumLog) Dir() string { return q.dir }

// EndOffset is the offset the next appended entry gets.
func (q *QuorumLog) EndOffset() record.Offset { return q.log.EndOffset() }

// LastEpoch is the epoch of the last entry, or the start's when the log holds none.
func (q *QuorumLog) LastEpoch() record.Epoch {
	if q.log.EndOffset() > q.start.EndOffset {
		if e, ok := q.log.LatestEpoch(); ok {
			return e
		}
		panic(fmt.Sprintf("metadata: invariant: quorum log [%d, %d) has no epoch", q.start.EndOffset, q.log.EndOffset()))
	}
	return q.start.Epoch
}

// Start is the log start and the epoch of the snapshot ending there ({0, 0} at offset 0).
func (q *QuorumLog) Start() quorum.EpochEndOffset { return q.start }

// EndOffsetForEpoch answers from core/log's epoch cache, counting the start's epoch as an
// epoch starting at the log start (the snapshot's), as the quorum's Log documents.
func (q *QuorumLog) EndOffsetForEpoch(epoch record.Epoch) (record.Epoch, record.Offset) {
	type epochStart struct {
		epoch record.Epoch
		start record.Offset
	}
	var list []epochStart
	if q.start.EndOffset > 0 {
		list = append(list, epochStart{q.start.Epoch, q.start.EndOffset})
	}
	for _, e := range q.log.EpochEntries() {
		if e.StartOffset < q.start.EndOffset {
			continue // only before alignment on open; the start entry covers it
		}
		if n := len(list); n > 0 && list[n-1].epoch >= e.Epoch {
			continue // the start's own epoch, moved up to the start by core/log
		}
		list = append(list, epochStart{e.Epoch, e.StartOffset})
	}
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].epoch <= epoch {
			if i == len(list)-1 {
				return list[i].epoch, q.log.EndOffset()
			}
			return list[i].epoch, list[i+1].start
		}
	}
	return quorum.UndefinedEpoch, quorum.UndefinedOffset
}

// Append writes entries, whole batches, at EndOffset: one core/log record batch per batch of
// entries, as follower appends (offsets kept), so core/log's epoch cache learns each batch's
// epoch from its PartitionLeaderEpoch. Batches whose entries carry no timestamp (the leader's
// own) are stamped with the wall clock (SetNowMs); the others keep theirs.
func (q *QuorumLog) Append(entries []quorum.Entry) error {
	if err := q.check(); err != nil {
		return err
	}
	last := q.LastEpoch()
	for i, e := range entries {
		if e.Epoch < last {
			// core/log's epoch cache would drop the later epochs to take it: never from Raft.
			return fmt.Errorf("metadata: entry at %d of epoch %d after epoch %d", q.log.EndOffset()+record.Offset(i), e.Epoch, last)
		}
		last = e.Epoch
	}
	offset := q.log.EndOffset()
	framed, err := quorum.AppendBatches(q.batchBuf[:0], offset, entries, q.nowMs)
	if err != nil {
		return fmt.Errorf("metadata: frame %d entries at %d: %w", len(entries), offset, err)
	}
	q.batchBuf = framed
	it := record.NewBatchIterator(framed)
	for it.Next() {
		if _, err := q.log.Append(it.Batch(), log.AppendOptions{NowMs: q.nowMs}); err != nil {
			return fmt.Errorf("metadata: append the batch at %d: %w", it.Header().BaseOffset, err)
		}
	}
	if err := it.Err(); err != nil {
		panic(fmt.Sprintf("metadata: invariant: batches framed at %d do not parse: %v", offset, err))
	}
	return nil
}

// TruncateTo drops every entry at or above offset (log start ≤ offset ≤ EndOffset).
func (q *QuorumLog) TruncateTo(offset record.Offset) error {
	if err := q.check(); err != nil {
		return err
	}
	if offset < q.start.EndOffset || offset > q.log.EndOffset() {
		return fmt.Errorf("metadata: truncate quorum log to %d outside [%d, %d]", offset, q.start.EndOffset, q.log.EndOffset())
	}
	if err := q.log.TruncateTo(offset); err != nil {
		return fmt.Errorf("metadata: truncate quorum log to %d: %w", offset, err)
	}
	if end := q.log.EndOffset(); end != offset {
		// core/log dropped the batch straddling offset whole.
		panic(fmt.Sprintf("metadata: invariant: truncation at a batch boundary: quorum log truncated to %d ends at %d", offset, end))
	}
	return nil
}

// readBytesPerEntryGuess sizes a Read's first plan: a one-record batch is 70 bytes plus the
// entry's data, a record in a larger batch about 10 plus its data. A short guess costs
// another plan; a long one reads bytes thrown away.
const readBytesPerEntryGuess = 256

// Read returns whole batches from `from` (log start ≤ from < EndOffset, a batch boundary),
// executing core/log's read plans inline: as many as fit in entriesMax entries and about
// ReadBytesMax bytes, and always at least one whole batch.
func (q *QuorumLog) Read(from record.Offset, entriesMax int) ([]quorum.Entry, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	end := q.log.EndOffset()
	if from < q.start.EndOffset || from >= end || entriesMax < 1 {
		return nil, fmt.Errorf("metadata: read %d entries of the quorum log at %d outside [%d, %d)", entriesMax, from, q.start.EndOffset, end)
	}
	var out []quorum.Entry
	budget := q.cfg.ReadBytesMax
	for next := from; next < end && len(out) < entriesMax && budget > 0; {
		want := min(budget, int64(entriesMax-len(out))*readBytesPerEntryGuess)
		plan, err := q.log.Read(next, want, end, len(out) == 0)
		if err != nil {
			return nil, fmt.Errorf("metadata: plan quorum log read at %d: %w", next, err)
		}
		if len(plan.Ranges) == 0 {
			break // the next batch alone is larger than what is left of the budget
		}
		data, err := log.AppendPlan(q.fsys, q.readBuf[:0], plan)
		if err != nil {
			return nil, fmt.Errorf("metadata: read quorum log at %d: %w", next, err)
		}
		q.readBuf = data[:0]
		base, entries, err := quorum.DecodeBatches(data)
		if err != nil {
			return nil, fmt.Errorf("metadata: quorum log at %d: %w", next, err)
		}
		if base != next || len(entries) == 0 {
			return nil, fmt.Errorf("metadata: quorum log read at %d got batches from %d (%d entries): not at a batch boundary", next, base, len(entries))
		}
		n := wholeBatches(entries, entriesMax-len(out), len(out) == 0)
		out = append(out, entries[:n]...)
		if n < len(entries) {
			break // the next batch would pass entriesMax
		}
		next += record.Offset(len(entries))
		budget -= plan.SizeBytes
	}
	return out, nil
}

// wholeBatches is how many of entries (whole batches) make the most whole batches within
// room entries; the first batch however large when first.
func wholeBatches(entries []quorum.Entry, room int, first bool) int {
	n := 0
	for i := range entries {
		if entries[i].MoreInBatch {
			continue
		}
		if i+1 > room && !(first && n == 0) {
			break
		}
		n = i + 1
	}
	return n
}

// DurableOffset is the end of the flushed prefix: core/log's, and at least the log start,
// whose entries are in a durable snapshot.
func (q *QuorumLog) DurableOffset() record.Offset {
	return max(q.log.DurableOffset(), q.start.EndOffset)
}

// PendingSync is core/log's: the sync that makes everything appended so far durable (see the
// driver contract on QuorumLog).
func (q *QuorumLog) PendingSync() (log.SyncRequest, bool) {
	if q.dirSyncErr != nil {
		return log.SyncRequest{}, false
	}
	return q.log.PendingSync()
}

// Synced reports the completion of PendingSync's request.
func (q *QuorumLog) Synced(req log.SyncRequest, err error) { q.log.Synced(req, err) }

// Poisoned is the failure that made the log unusable, or nil.
func (q *QuorumLog) Poisoned() error { return q.check() }

// Close closes the log and a pending snapshot's file. It does not sync.
func (q *QuorumLog) Close() error {
	if q.pending != nil {
		q.pending.file.Close()
		q.pending = nil
	}
	return q.log.Close()
}

// LatestSnapshot is the newest complete snapshot.
func (q *QuorumLog) LatestSnapshot() (quorum.EpochEndOffset, bool) {
	if n := len(q.snapshots); n > 0 {
		return quorum.EpochEndOffset{Epoch: q.snapshots[n-1].Epoch, EndOffset: q.snapshots[n-1].EndOffset}, true
	}
	return quorum.EpochEndOffset{}, false
}

// Snapshots returns the complete snapshots, oldest first.
func (q *QuorumLog) Snapshots() []SnapshotID { return slices.Clone(q.snapshots) }

// ReadSnapshot reads up to bytesMax bytes of snapshot id at position, inline, and its size.
func (q *QuorumLog) ReadSnapshot(id quorum.EpochEndOffset, position int64, bytesMax int32) ([]byte, int64, error) {
	sid := SnapshotID{EndOffset: id.EndOffset, Epoch: id.Epoch}
	if !slices.Contains(q.snapshots, sid) {
		return nil, 0, fmt.Errorf("metadata: snapshot %s: %w", sid, quorum.ErrNoSnapshot)
	}
	file := diskio.Join(q.dir, SnapshotFileName(sid))
	f, err := q.fsys.Open(file)
	if errors.Is(err, diskio.ErrNotExist) {
		return nil, 0, fmt.Errorf("metadata: snapshot %s: %w: %w", file, quorum.ErrNoSnapshot, err)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("metadata: open snapshot %s: %w", file, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("metadata: stat snapshot %s: %w", file, err)
	}
	size := info.Size()
	if position < 0 || position >= size || bytesMax < 1 {
		return nil, size, nil
	}
	data := make([]byte, min(int64(bytesMax), size-position))
	n, err := f.ReadAt(data, position)
	if n < len(data) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, size, fmt.Errorf("metadata: read snapshot %s at %d: %w", file, position, err)
	}
	return data, size, nil
}

// WriteSnapshotChunk writes fetched bytes of snapshot id at position into
// <id>.checkpoint.part, in the page cache. A chunk at position 0, or of another id, starts the
// pending snapshot over; any other position must continue where the last chunk ended.
func (q *QuorumLog) WriteSnapshotChunk(id quorum.EpochEndOffset, position int64, data []byte) error {
	if err := q.check(); err != nil {
		return err
	}
	sid := SnapshotID{EndOffset: id.EndOffset, Epoch: id.Epoch}
	if sid.EndOffset <= 0 || sid.Epoch < 0 {
		return fmt.Errorf("metadata: snapshot chunk of invalid snapshot %s", sid)
	}
	if q.pending == nil || q.pending.id != sid || position == 0 {
		if position != 0 {
			return fmt.Errorf("metadata: snapshot %s chunk at %d with nothing before it", sid, position)
		}
		if err := q.dropPending(); err != nil {
			return err
		}
		partPath := diskio.Join(q.dir, strings.TrimSuffix(SnapshotFileName(sid), snapshotSuffix)+snapshotPartSuffix)
		f, err := q.fsys.Create(partPath)
		if err != nil {
			return fmt.Errorf("metadata: create %s: %w", partPath, err)
		}
		q.pending = &pendingSnapshot{id: sid, path: partPath, file: f}
	}
	p := q.pending
	if position != p.sizeBytes {
		return fmt.Errorf("metadata: snapshot %s chunk at %d, have %d bytes", sid, position, p.sizeBytes)
	}
	if _, err := p.file.WriteAt(data, position); err != nil {
		q.dropPending()
		return fmt.Errorf("metadata: write %s at %d: %w", p.path, position, err)
	}
	p.sizeBytes += int64(len(data))
	return nil
}

// dropPending closes and removes the pending snapshot's file.
func (q *QuorumLog) dropPending() error {
	p := q.pending
	if p == nil {
		return nil
	}
	q.pending = nil
	p.file.Close()
	if err := q.fsys.Remove(p.path); err != nil && !errors.Is(err, diskio.ErrNotExist) {
		return fmt.Errorf("metadata: remove %s: %w", p.path, err)
	}
	return nil
}

// InstallSnapshot completes the pending snapshot id of size bytes and restarts the log at it,
// all durable before it returns: the .part file is synced and renamed to its .checkpoint name,
// the directory synced, then the log emptied and started at the snapshot's end with the
// snapshot's epoch as the start epoch (directory synced again). A crash between the two steps
// leaves the snapshot and the old log, which Open restarts at the snapshot.
func (q *QuorumLog) InstallSnapshot(id quorum.EpochEndOffset, size int64) error {
	if err := q.check(); err != nil {
		return err
	}
	sid := SnapshotID{EndOffset: id.EndOffset, Epoch: id.Epoch}
	p := q.pending
	if p == nil || p.id != sid || p.sizeBytes != size {
		return fmt.Errorf("metadata: install snapshot %s of %d bytes: not all fetched", sid, size)
	}
	if sid.EndOffset < q.start.EndOffset {
		return fmt.Errorf("metadata: install snapshot %s below the log start %d", sid, q.start.EndOffset)
	}
	q.pending = nil
	final := diskio.Join(q.dir, SnapshotFileName(sid))
	if err := p.file.Sync(); err != nil {
		p.file.Close()
		return q.failDir(fmt.Errorf("metadata: sync %s: %w", p.path, err))
	}
	if err := p.file.Close(); err != nil {
		return q.failDir(fmt.Errorf("metadata: close %s: %w", p.path, err))
	}
	if err := q.fsys.Rename(p.path, final); err != nil {
		return q.failDir(fmt.Errorf("metadata: rename %s: %w", p.path, err))
	}
	if err := diskio.SyncDir(q.fsys, q.dir); err != nil {
		return q.failDir(fmt.Errorf("metadata: sync %s: %w", q.dir, err))
	}
	if !slices.Contains(q.snapshots, sid) {
		q.snapshots = append(q.snapshots, sid)
		slices.SortFunc(q.snapshots, func(a, b SnapshotID) int { return cmp.Compare(a.EndOffset, b.EndOffset) })
	}
	return q.restartAt(sid)
}

// failDir makes a failed sync or rename of the snapshot path final: after a failed sync the
// state on disk is unknown (DESIGN §3), so the log must be reopened.
func (q *QuorumLog) failDir(err error) error {
	if q.dirSyncErr == nil {
		q.dirSyncErr = err
	}
	return err
}

// RecordSnapshot registers a snapshot the application wrote itself at id, already durable
// under its .checkpoint name (metadata.SnapshotWrite.Run). It must cover committed entries the
// log holds or held: at or above the log start, at most the log end, and, when the log still
// holds its last entry, of that entry's epoch.
func (q *QuorumLog) RecordSnapshot(id SnapshotID) error {
	if err := q.check(); err != nil {
		return err
	}
	if id.EndOffset <= 0 || id.EndOffset < q.start.EndOffset || id.EndOffset > q.log.EndOffset() {
		return fmt.Errorf("metadata: record snapshot %s outside the log [%d, %d]", id, q.start.EndOffset, q.log.EndOffset())
	}
	epoch := q.start.Epoch
	if id.EndOffset > q.start.EndOffset {
		var ok bool
		if epoch, ok = q.log.EpochForOffset(id.EndOffset - 1); !ok {
			panic(fmt.Sprintf("metadata: invariant: no epoch for entry %d of the quorum log", id.EndOffset-1))
		}
	}
	if epoch != id.Epoch {
		return fmt.Errorf("metadata: record snapshot %s: the log's entry %d has epoch %d", id, id.EndOffset-1, epoch)
	}
	if err := q.checkBoundary(id.EndOffset); err != nil {
		return fmt.Errorf("metadata: record snapshot %s: %w", id, err)
	}
	if !slices.Contains(q.snapshots, id) {
		q.snapshots = append(q.snapshots, id)
		slices.SortFunc(q.snapshots, func(a, b SnapshotID) int { return cmp.Compare(a.EndOffset, b.EndOffset) })
	}
	return nil
}

// checkBoundary reports an error unless offset is a batch boundary of the log: the log start
// or end, or the end of the batch holding offset-1. Only the batch's header is read.
func (q *QuorumLog) checkBoundary(offset record.Offset) error {
	if offset <= q.start.EndOffset || offset >= q.log.EndOffset() {
		return nil
	}
	plan, err := q.log.Read(offset-1, 1, q.log.EndOffset(), true)
	if err != nil {
		return fmt.Errorf("find the batch holding %d: %w", offset-1, err)
	}
	if plan.NextOffset != offset {
		return fmt.Errorf("offset %d is inside the batch [%d, %d)", offset, plan.FirstOffset, plan.NextOffset)
	}
	return nil
}

// DeleteBefore moves the log start up to snapshot id (a recorded one), as Kafka keeps the
// metadata log from its oldest snapshot: the entries below become unreadable (a follower
// fetching them gets the latest snapshot), the snapshots ending below id are forgotten, and
// the file removals (those snapshots, segments wholly below id) are returned for the driver to
// run off the loop. A crash before they run, or before they are durable, is harmless: Open
// starts the log at the oldest snapshot it finds at or above the first segment, whose entries
// the log still holds.
func (q *QuorumLog) DeleteBefore(id SnapshotID, nowMs int64) ([]log.FileOp, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	if !slices.Contains(q.snapshots, id) {
		return nil, fmt.Errorf("metadata: delete the quorum log below %s: no such snapshot", id)
	}
	if id.EndOffset <= q.start.EndOffset {
		return nil, nil
	}
	if err := q.log.DeleteRecordsBefore(id.EndOffset); err != nil {
		return nil, fmt.Errorf("metadata: delete the quorum log below %s: %w", id, err)
	}
	q.start = quorum.EpochEndOffset{Epoch: id.Epoch, EndOffset: id.EndOffset}
	i := slices.Index(q.snapshots, id)
	var ops []log.FileOp
	for _, s := range q.snapshots[:i] {
		ops = append(ops, log.FileOp{Kind: log.FileOpRemove, Path: diskio.Join(q.dir, SnapshotFileName(s))})
	}
	q.snapshots = slices.Delete(q.snapshots, 0, i)
	logOps, err := q.log.ApplyRetentionBelow(nowMs, id.EndOffset)
	ops = append(ops, logOps...)
	if err != nil {
		return ops, fmt.Errorf("metadata: remove quorum log segments below %s: %w", id, err)
	}
	return ops, nil
}
