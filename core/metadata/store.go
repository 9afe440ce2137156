package metadata

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// DirName is the metadata log's partition directory inside the metadata log dir.
const DirName = "__cluster_metadata-0"

// StoreConfig bounds the Store. The zero value is not valid; start from DefaultStoreConfig.
type StoreConfig struct {
	// Log is the metadata log's segment settings (metadata.log.segment.bytes, ...). Its
	// retention settings apply only below the oldest kept snapshot: the metadata log is never
	// cut above a snapshot.
	Log log.Config
	// AppendRecordsMax bounds the records of one Append (one batch), as Kafka's controller
	// bounds the records of one operation (MAX_RECORDS_PER_USER_OP, 10000).
	AppendRecordsMax int
	// PendingAppendsMax bounds the appends awaiting their sync; each holds an image.
	PendingAppendsMax int
	// SnapshotIntervalBytes is metadata.log.max.record.bytes.between.snapshots: SnapshotDue
	// once this many bytes were appended since the last snapshot.
	SnapshotIntervalBytes int64
	// SnapshotsRetained is how many snapshots are kept; the log is kept from the oldest of them,
	// so a damaged newest snapshot falls back to an older one. At least 1.
	SnapshotsRetained int
	// SnapshotBytesMax is the largest snapshot file Open will load.
	SnapshotBytesMax int64
	// ReadBytesMax is the log read per step while Open replays.
	ReadBytesMax int64
}

// DefaultStoreConfig returns Kafka's metadata-log defaults where Kafka has one.
func DefaultStoreConfig() StoreConfig {
	cfg := log.DefaultConfig()
	cfg.RetentionBytes, cfg.RetentionMs = -1, -1
	return StoreConfig{
		Log:                   cfg,
		AppendRecordsMax:      10000,
		PendingAppendsMax:     1024,
		SnapshotIntervalBytes: 20 << 20,
		SnapshotsRetained:     2,
		SnapshotBytesMax:      1 << 30,
		ReadBytesMax:          8 << 20,
	}
}

func (c StoreConfig) validate() error {
	switch {
	case c.AppendRecordsMax < 1:
		return fmt.Errorf("metadata: AppendRecordsMax %d < 1", c.AppendRecordsMax)
	case c.PendingAppendsMax < 1:
		return fmt.Errorf("metadata: PendingAppendsMax %d < 1", c.PendingAppendsMax)
	case c.SnapshotIntervalBytes < 1:
		return fmt.Errorf("metadata: SnapshotIntervalBytes %d < 1", c.SnapshotIntervalBytes)
	case c.SnapshotsRetained < 1:
		return fmt.Errorf("metadata: SnapshotsRetained %d < 1", c.SnapshotsRetained)
	case c.SnapshotBytesMax < 1 || c.ReadBytesMax < 1:
		return fmt.Errorf("metadata: SnapshotBytesMax %d, ReadBytesMax %d", c.SnapshotBytesMax, c.ReadBytesMax)
	}
	return c.Log.Validate()
}

// ErrTooManyPending is returned by Append when PendingAppendsMax appends await their sync.
var ErrTooManyPending = errors.New("metadata: too many appends awaiting sync")

// imageState is an image with where in the log it stands.
type imageState struct {
	image     *Image
	endOffset record.Offset // every record below is applied
	epoch     record.Epoch  // leader epoch of the last applied record
	lastMs    int64         // append time of the last applied record
}

// Store is the metadata log on disk with its image: it appends records as batches through
// core/log, keeps the image of everything appended (Latest) and of everything durable
// (Committed), writes snapshots, and rebuilds both on Open.
//
// Ordering contract: a change is acknowledged only once Committed covers it, that is after
// the SyncRequest its Append returned (or a later one) was run and reported with Synced.
// Snapshots cover only committed records. A Store is driven by one goroutine.
type Store struct {
	fsys diskio.FS
	dir  string
	cfg  StoreConfig
	log  *log.Log

	latest    imageState
	committed imageState
	pending   []imageState // appended, not yet durable, by end offset

	snapshots          []SnapshotID // durable snapshots on disk, oldest first
	badSnapshots       []SnapshotID // snapshot files that failed to load, removed at the next retention
	snapshotInFlight   *SnapshotWrite
	bytesSinceSnapshot int64
}

// OpenStore opens the metadata log in <metadataLogDir>/__cluster_metadata-0 (creating it) and
// rebuilds the image: from the newest snapshot that loads (a torn, CRC-bad or unreplayable one is
// skipped for an older one, or for full replay from offset 0), then every log batch after it.
// Control batches are skipped. A log batch that does not decode or replay stops Open with an
// error wrapping ErrCorruptRecord or ErrInvalidRecord: the log is Weir's own and such a batch
// is a bug or damage recovery cannot see, not something to serve around.
//
// Open reads files inline: it is recovery, before the loop serves anything. Records recovered
// past the log's recovery point are in Latest but not yet in Committed: the driver runs
// PendingSync first, as after any Append.
func OpenStore(fsys diskio.FS, metadataLogDir string, cfg StoreConfig, nowMs int64) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Store{fsys: fsys, dir: diskio.Join(metadataLogDir, DirName), cfg: cfg}
	if err := fsys.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("metadata: create %s: %w", s.dir, err)
	}
	if err := syncParentDirs(fsys, s.dir); err != nil {
		return nil, err
	}
	if err := s.listSnapshots(); err != nil {
		return nil, err
	}
	base, snapshotErrs := s.loadNewestSnapshot()
	l, err := log.Open(fsys, s.dir, cfg.Log, log.OpenOptions{RecoveryPoint: base.endOffset, NowMs: nowMs})
	if err != nil {
		return nil, fmt.Errorf("metadata: open log: %w", err)
	}
	s.log = l
	if err := s.recover(base, snapshotErrs); err != nil {
		l.Close()
		return nil, err
	}
	return s, nil
}

// listSnapshots finds the snapshot files and removes leftovers of interrupted snapshot writes.
func (s *Store) listSnapshots() error {
	ids, err := scanSnapshotFiles(s.fsys, s.dir)
	s.snapshots = ids
	return err
}

// syncParentDirs syncs each parent of dir up to the root: a directory (and any parent
// MkdirAll made) survives a crash only once each parent is synced; Kafka likewise flushes the
// parent after creating a log dir.
func syncParentDirs(fsys diskio.FS, dir string) error {
	for {
		parent := path.Dir(dir)
		if err := diskio.SyncDir(fsys, parent); err != nil {
			return fmt.Errorf("metadata: sync %s: %w", parent, err)
		}
		if parent == dir || parent == "/" || parent == "." {
			return nil
		}
		dir = parent
	}
}

// scanSnapshotFiles returns the ids of the snapshot files in dir by end offset, and removes
// partial ones (*.checkpoint.part, a write or fetch a crash interrupted): nothing refers to
// them, and one a crash brings back is harmless.
func scanSnapshotFiles(fsys diskio.FS, dir string) ([]SnapshotID, error) {
	names, err := fsys.List(dir)
	if err != nil {
		return nil, fmt.Errorf("metadata: list %s: %w", dir, err)
	}
	var ids []SnapshotID
	for _, name := range names {
		if strings.HasSuffix(name, snapshotPartSuffix) {
			if err := fsys.Remove(diskio.Join(dir, name)); err != nil && !errors.Is(err, diskio.ErrNotExist) {
				return nil, fmt.Errorf("metadata: remove partial snapshot %s: %w", name, err)
			}
			continue
		}
		if id, ok := ParseSnapshotFileName(name); ok {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b SnapshotID) int { return cmp.Compare(a.EndOffset, b.EndOffset) })
	return ids, nil
}

// loadNewestSnapshot returns the state of the newest snapshot that loads, or the empty state.
// Snapshots that fail to load are dropped from s.snapshots (their files are left for
// inspection and removed by retention later) and their errors returned.
func (s *Store) loadNewestSnapshot() (imageState, []error) {
	var errs []error
	for i := len(s.snapshots) - 1; i >= 0; i-- {
		id := s.snapshots[i]
		img, lastMs, err := s.readSnapshot(id)
		if err != nil {
			errs = append(errs, err)
			s.badSnapshots = append(s.badSnapshots, id)
			s.snapshots = slices.Delete(s.snapshots, i, i+1)
			continue
		}
		return imageState{image: img, endOffset: id.EndOffset, epoch: id.Epoch, lastMs: lastMs}, errs
	}
	return imageState{image: EmptyImage()}, errs
}

func (s *Store) readSnapshot(id SnapshotID) (*Image, int64, error) {
	file := diskio.Join(s.dir, SnapshotFileName(id))
	info, err := s.fsys.Stat(file)
	if err != nil {
		return nil, 0, fmt.Errorf("metadata: stat snapshot %s: %w", file, err)
	}
	if info.Size() > s.cfg.SnapshotBytesMax {
		return nil, 0, fmt.Errorf("metadata: snapshot %s is %d bytes, more than %d", file, info.Size(), s.cfg.SnapshotBytesMax)
	}
	data, err := diskio.ReadFile(s.fsys, file)
	if err != nil {
		return nil, 0, fmt.Errorf("metadata: read snapshot %s: %w", file, err)
	}
	img, lastMs, err := DecodeSnapshot(data)
	if err != nil {
		return nil, 0, fmt.Errorf("metadata: snapshot %s: %w", file, err)
	}
	return img, lastMs, nil
}

// recover lines the log up with the loaded snapshot and replays the log after it.
func (s *Store) recover(base imageState, snapshotErrs []error) error {
	switch {
	case base.endOffset > s.log.EndOffset():
		// The snapshot covers records the log lost (or never had: a follower's fetched
		// snapshot). As Kafka's KRaft log does, the snapshot wins and the log restarts at its end.
		if err := s.log.TruncateFullyAndStartAt(base.endOffset); err != nil {
			return fmt.Errorf("metadata: start log at snapshot %d: %w", base.endOffset, err)
		}
	case base.endOffset < s.log.StartOffset():
		return fmt.Errorf("metadata: log starts at %d and no snapshot reaches it (snapshots that failed: %w)",
			s.log.StartOffset(), errors.Join(snapshotErrs...))
	}
	s.committed = base
	state, err := s.replayLog(base)
	if err != nil {
		return err
	}
	s.latest = state
	if state.endOffset > base.endOffset {
		s.pending = []imageState{state}
	}
	if s.log.DurableOffset() >= state.endOffset {
		s.committed, s.pending = state, nil
	}
	return nil
}

// replayLog applies every batch from base.endOffset to the log end, one batch at a time.
//
// The metadata log is never compacted and its appends are contiguous, and log recovery
// truncates at any gap a crash leaves (records lost while a later segment survived), so a
// batch past the next offset means damage, not a state to repair.
func (s *Store) replayLog(base imageState) (imageState, error) {
	state := base
	end := s.log.EndOffset()
	for state.endOffset < end {
		from := state.endOffset
		plan, err := s.log.Read(state.endOffset, s.cfg.ReadBytesMax, end, true)
		if err != nil {
			return state, fmt.Errorf("metadata: read log at %d: %w", state.endOffset, err)
		}
		for _, r := range plan.Ranges {
			data, err := s.readRange(r)
			if err != nil {
				return state, err
			}
			it := record.NewBatchIterator(data)
			for it.Next() {
				if it.Header().BaseOffset > state.endOffset {
					return state, fmt.Errorf("metadata: log skips offsets [%d, %d) (%s at %d)",
						state.endOffset, it.Header().BaseOffset, r.Path, r.Position)
				}
				if state, err = replayBatch(state, it.Header(), it.Batch()); err != nil {
					return state, err
				}
			}
			if err := it.Err(); err != nil {
				return state, fmt.Errorf("metadata: %s at %d: %w", r.Path, r.Position, err)
			}
		}
		if state.endOffset <= from {
			return state, fmt.Errorf("metadata: log read at %d of [%d, %d) made no progress", from, s.log.StartOffset(), end)
		}
	}
	return state, nil
}

func (s *Store) readRange(r log.FileRange) ([]byte, error) {
	f, err := s.fsys.Open(r.Path)
	if err != nil {
		return nil, fmt.Errorf("metadata: open %s: %w", r.Path, err)
	}
	defer f.Close()
	data := make([]byte, r.SizeBytes)
	n, err := f.ReadAt(data, r.Position)
	if err != nil && !(errors.Is(err, io.EOF) && int64(n) == r.SizeBytes) {
		return nil, fmt.Errorf("metadata: read %s at %d: %w", r.Path, r.Position, err)
	}
	return data, nil
}

// replayBatch applies one log batch atomically. Records below state.endOffset (a batch that
// straddles a snapshot's end) were already applied and are skipped.
func replayBatch(state imageState, h record.Header, batch []byte) (imageState, error) {
	if h.NextOffset() <= state.endOffset {
		return state, nil
	}
	next := state
	next.endOffset = h.NextOffset()
	next.epoch = h.PartitionLeaderEpoch
	next.lastMs = h.MaxTimestamp
	if h.Control() {
		// Leader-change and other control records carry no metadata.
		return next, nil
	}
	b := state.image.NewBuilder()
	err := record.ForEachRecord(batch, func(r *record.Record) error {
		if h.BaseOffset+record.Offset(r.OffsetDelta) < state.endOffset {
			return nil
		}
		rec, err := DecodeRecord(r.Value)
		if err != nil {
			return err
		}
		return b.Replay(rec)
	})
	if err != nil {
		return state, fmt.Errorf("metadata: replay batch at offset %d: %w", h.BaseOffset, err)
	}
	next.image = b.Build()
	return next, nil
}

// AppendResult is what an Append did.
type AppendResult struct {
	BaseOffset, LastOffset record.Offset
	// Image is the latest image, these records included. Serve it only once committed.
	Image *Image
	// Sync, when SyncNeeded, must be run by the driver (SyncData each file, sync each dir) and
	// reported with Synced; the records are committed once a sync covering LastOffset succeeds.
	// When SyncNeeded is false a sync is in flight already: the next PendingSync, after it
	// completes, covers these records.
	Sync       log.SyncRequest
	SyncNeeded bool
}

// Append writes records as one batch at the log end, stamped with leaderEpoch (the caller's
// quorum epoch) and nowMs. It replays them onto the latest image first and writes nothing if
// any cannot apply (ErrInvalidRecord), cannot be encoded, or if PendingAppendsMax appends await
// their sync (ErrTooManyPending).
func (s *Store) Append(records []Record, leaderEpoch record.Epoch, nowMs int64) (AppendResult, error) {
	if len(records) == 0 || len(records) > s.cfg.AppendRecordsMax {
		return AppendResult{}, fmt.Errorf("metadata: append of %d records, want 1 to %d", len(records), s.cfg.AppendRecordsMax)
	}
	if len(s.pending) >= s.cfg.PendingAppendsMax {
		return AppendResult{}, fmt.Errorf("%w: %d", ErrTooManyPending, len(s.pending))
	}
	img, err := s.latest.image.Apply(records)
	if err != nil {
		return AppendResult{}, err
	}
	batchRecords := make([]record.Record, len(records))
	for i, r := range records {
		value, err := EncodeRecord(r)
		if err != nil {
			return AppendResult{}, err
		}
		batchRecords[i] = record.Record{OffsetDelta: int32(i), Value: value}
	}
	batch, err := record.AppendBatch(nil, record.BatchOptions{
		PartitionLeaderEpoch: leaderEpoch, FirstTimestamp: nowMs,
		ProducerID: record.NoProducerID, ProducerEpoch: -1, BaseSequence: record.NoSequence,
	}, batchRecords)
	if err != nil {
		return AppendResult{}, fmt.Errorf("metadata: build batch: %w", err)
	}
	res, err := s.log.Append(batch, log.AppendOptions{AssignOffsets: true, LeaderEpoch: leaderEpoch, NowMs: nowMs})
	if err != nil {
		return AppendResult{}, fmt.Errorf("metadata: append: %w", err)
	}
	s.latest = imageState{image: img, endOffset: res.LastOffset + 1, epoch: leaderEpoch, lastMs: nowMs}
	s.pending = append(s.pending, s.latest)
	s.bytesSinceSnapshot += int64(len(batch))
	out := AppendResult{BaseOffset: res.BaseOffset, LastOffset: res.LastOffset, Image: img}
	out.Sync, out.SyncNeeded = s.log.PendingSync()
	return out, nil
}

// PendingSync returns the sync that would make every append durable, if one is needed and none
// is in flight (see log.Log.PendingSync).
func (s *Store) PendingSync() (log.SyncRequest, bool) { return s.log.PendingSync() }

// Synced reports the completion of a sync from Append or PendingSync. On success Committed moves
// up to what it covered. On failure the log is poisoned: every later Append fails and the node
// must crash and reopen (DESIGN §2).
func (s *Store) Synced(req log.SyncRequest, err error) {
	s.log.Synced(req, err)
	durable := s.log.DurableOffset()
	i := 0
	for ; i < len(s.pending) && s.pending[i].endOffset <= durable; i++ {
		s.committed = s.pending[i]
	}
	s.pending = slices.Delete(s.pending, 0, i)
}

// Latest is the image of every record appended, durable or not: the state the next Append
// validates against (Kafka's controller state).
func (s *Store) Latest() *Image { return s.latest.image }

// LatestOffset is the end offset of the log: the offset the next record gets.
func (s *Store) LatestOffset() record.Offset { return s.latest.endOffset }

// Committed is the image of every durable record: the state a broker may serve.
func (s *Store) Committed() *Image { return s.committed.image }

// CommittedOffset is the offset below which every record is durable and in Committed.
func (s *Store) CommittedOffset() record.Offset { return s.committed.endOffset }

// Snapshots returns the durable snapshots on disk, oldest first.
func (s *Store) Snapshots() []SnapshotID { return slices.Clone(s.snapshots) }

// Log is the underlying log, for reads (a quorum follower's fetch) and inspection.
func (s *Store) Log() *log.Log { return s.log }

// SnapshotDue reports whether SnapshotIntervalBytes were appended since the last snapshot and a
// snapshot could be taken now.
func (s *Store) SnapshotDue() bool {
	return s.bytesSinceSnapshot >= s.cfg.SnapshotIntervalBytes && s.snapshotInFlight == nil && s.newSnapshotPossible()
}

// SnapshotPossible reports whether a snapshot could be taken now: none is in flight and the
// committed log has grown since the last one.
func (s *Store) SnapshotPossible() bool {
	return s.snapshotInFlight == nil && s.newSnapshotPossible()
}

func (s *Store) newSnapshotPossible() bool {
	return len(s.snapshots) == 0 && s.committed.endOffset > 0 ||
		len(s.snapshots) > 0 && s.committed.endOffset > s.snapshots[len(s.snapshots)-1].EndOffset
}

// PrepareSnapshot writes a snapshot of the committed image to the page cache under a temporary
// name and returns it for the driver to Run off the loop; report the outcome with
// SnapshotWritten. It returns nil when there is nothing new to snapshot or a snapshot is in
// flight.
func (s *Store) PrepareSnapshot() (*SnapshotWrite, error) {
	if s.snapshotInFlight != nil || !s.newSnapshotPossible() {
		return nil, nil
	}
	id := SnapshotID{EndOffset: s.committed.endOffset, Epoch: s.committed.epoch}
	data, err := EncodeSnapshot(s.committed.image, id, s.committed.lastMs)
	if err != nil {
		return nil, err
	}
	w, err := writeSnapshotFile(s.fsys, s.dir, id, data)
	if err != nil {
		return nil, err
	}
	s.snapshotInFlight = w
	s.bytesSinceSnapshot = 0
	return w, nil
}

// SnapshotWritten reports the outcome of a SnapshotWrite's Run. On success the snapshot is
// recorded, snapshots beyond SnapshotsRetained are deleted, and the log is cut below the oldest
// kept snapshot. The returned FileOps (unlinks) are for the driver, off the loop.
func (s *Store) SnapshotWritten(w *SnapshotWrite, err error, nowMs int64) ([]log.FileOp, error) {
	if w != s.snapshotInFlight {
		panic(fmt.Sprintf("metadata: invariant: SnapshotWritten for %s, not the snapshot in flight", w.ID))
	}
	s.snapshotInFlight = nil
	if err != nil {
		return []log.FileOp{{Kind: log.FileOpRemove, Path: w.TempPath}}, fmt.Errorf("metadata: snapshot %s: %w", w.ID, err)
	}
	s.snapshots = append(s.snapshots, w.ID)
	var ops []log.FileOp
	for _, id := range s.badSnapshots {
		if !slices.Contains(s.snapshots, id) { // a new snapshot may have replaced the bad file
			ops = append(ops, log.FileOp{Kind: log.FileOpRemove, Path: diskio.Join(s.dir, SnapshotFileName(id))})
		}
	}
	s.badSnapshots = nil
	if extra := len(s.snapshots) - s.cfg.SnapshotsRetained; extra > 0 {
		for _, id := range s.snapshots[:extra] {
			ops = append(ops, log.FileOp{Kind: log.FileOpRemove, Path: diskio.Join(s.dir, SnapshotFileName(id))})
		}
		s.snapshots = slices.Delete(s.snapshots, 0, extra)
	}
	oldest := s.snapshots[0].EndOffset
	if err := s.log.DeleteRecordsBefore(oldest); err != nil {
		return ops, fmt.Errorf("metadata: delete log below snapshot %d: %w", oldest, err)
	}
	logOps, err := s.log.ApplyRetentionBelow(nowMs, oldest)
	ops = append(ops, logOps...)
	if err != nil {
		return ops, fmt.Errorf("metadata: log retention: %w", err)
	}
	return ops, nil
}

// Close closes the log and any snapshot file still open.
func (s *Store) Close() error {
	if s.snapshotInFlight != nil {
		s.snapshotInFlight.File.Close()
		s.snapshotInFlight = nil
	}
	return s.log.Close()
}
