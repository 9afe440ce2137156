package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"

	"github.com/weirdata/weir/core/uuid"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	// LogDirs are the log directories in config order (log.dirs); placement breaks ties in
	// this order.
	LogDirs []string
	// NodeID is this node's node.id; every directory must be formatted for it.
	NodeID int32
	// ClusterID is the cluster the node must belong to, or "" to take it from meta.properties.
	ClusterID string
	// ConfigFor gives the log config of a partition found at startup; nil means
	// log.DefaultConfig() for all. Topic configs can be changed later with Log.SetConfig.
	ConfigFor func(tp TopicPartition) log.Config
	// NowMs is the wall clock at open, ms (segment roll ages start from it).
	NowMs int64
	// Random supplies directory ids (for directories an older Kafka formatted without one)
	// and the unique ids of deleted partitions' directories (one drawn per log as it is opened
	// or created, so that its read plans can name it).
	Random io.Reader
	// PartitionsMax bounds the open logs across all directories; 0 means no bound.
	PartitionsMax int
}

// logEntry is one open partition log.
type logEntry struct {
	log    *log.Log
	logDir string // the log directory holding it
	dir    string // the partition directory
	// deleteDir is what DeleteLog renames dir to, drawn when the log was opened so that its
	// read plans can name it (log.OpenOptions.DeletedDir); each incarnation has its own.
	deleteDir string
	topicID   UUID
	// parentDirty: the partition directory's own entry in logDir is not yet durable; the
	// next sync of this log must also sync logDir (see PendingSync).
	parentDirty bool
}

// Manager is the log-directory layer, Kafka's LogManager: it holds the locks on the log
// directories, opens every partition log found there, places new partitions, deletes
// partitions and writes the per-directory checkpoints. It is single-threaded, like the
// state machine that owns it, and does no I/O on its own but through diskio.FS.
type Manager struct {
	fsys      diskio.FS
	opts      ManagerOptions
	dirs      []LogDirIdentity
	clusterID string
	locks     []io.Closer
	logs      map[TopicPartition]*logEntry
	// sorted is Partitions' answer, built on demand and dropped whenever logs changes: the
	// broker walks every partition on each timer, and sorting them each time cost more than
	// the walk. Never modified once built, so a caller iterating it may add or remove logs.
	sorted []TopicPartition
	// startupOps remove the directories of partitions deleted before the last shutdown.
	startupOps []log.FileOp
	warnings   []error
	closed     bool
	// previousBrokerEpoch is what the directories' BrokerEpochFile said at open (-1: none);
	// brokerEpoch what the next checkpoints record (-1: nothing yet).
	previousBrokerEpoch, brokerEpoch int64
}

// ErrLogExists is returned by CreateLog for a partition that has a log with another topic id.
var ErrLogExists = errors.New("storage: partition log already exists")

// OpenManager checks every log directory's meta.properties (CheckMetaProperties), locks each
// directory, reads its checkpoints and opens (recovering) every partition log in it, in
// sorted order. A directory entry that is not a partition directory is an error, as in Kafka;
// directories of partitions deleted before a crash (-delete) become StartupFileOps; -future
// and -stray directories and the metadata log's directory are left alone. An unreadable
// checkpoint is not fatal (Kafka resets it): the affected logs recover from offset 0 and the
// problem is listed in Warnings.
func OpenManager(fsys diskio.FS, opts ManagerOptions) (*Manager, error) {
	if opts.Random == nil {
		return nil, errors.New("storage: ManagerOptions.Random is required (directory and deletion ids)")
	}
	if opts.PartitionsMax < 0 {
		return nil, fmt.Errorf("storage: PartitionsMax %d must not be negative", opts.PartitionsMax)
	}
	ids, clusterID, err := CheckMetaProperties(fsys, opts.LogDirs, opts.ClusterID, opts.NodeID, opts.Random)
	if err != nil {
		return nil, err
	}
	m := &Manager{fsys: fsys, opts: opts, dirs: ids, clusterID: clusterID, logs: map[TopicPartition]*logEntry{}, previousBrokerEpoch: -1, brokerEpoch: -1}
	if err := m.open(); err != nil {
		m.closeAll()
		return nil, err
	}
	return m, nil
}

func (m *Manager) open() error {
	for _, id := range m.dirs {
		lock, err := m.fsys.Lock(diskio.Join(id.Dir, lockFile))
		if err != nil {
			return fmt.Errorf("lock log dir %s (is another broker using it?): %w", id.Dir, err)
		}
		m.locks = append(m.locks, lock)
	}
	for _, id := range m.dirs {
		if err := m.loadDir(id.Dir); err != nil {
			return err
		}
	}
	m.previousBrokerEpoch = m.readPreviousBrokerEpoch()
	if marked, err := m.takeUncleanMarker(); err != nil {
		return err
	} else if marked {
		m.warnings = append(m.warnings, fmt.Errorf("the broker stopped after finding records it vouched for damaged on disk (%s); it registers as back from an unclean restart", UncleanRestartFile))
		m.previousBrokerEpoch = -1
		return nil
	}
	for _, tp := range m.Partitions() {
		if m.previousBrokerEpoch >= 0 && m.logs[tp].log.RecoveryCutDurable() {
			// Synced records were found corrupt and cut away: the replica holds less than it
			// may have reported, so its ISR and ELR standing must go, as after a lost disk.
			m.warnings = append(m.warnings, fmt.Errorf("recovery of %s cut records below its recovery point (corrupt on disk); the broker registers as back from an unclean restart", tp))
			m.previousBrokerEpoch = -1
			return m.forgetBrokerEpoch()
		}
	}
	return nil
}

// forgetBrokerEpoch removes every log dir's broker epoch file, durably: the cut is done, and
// a later start must not find the file and take the broker for clean (as Kafka deletes its
// clean-shutdown marker when it starts).
func (m *Manager) forgetBrokerEpoch() error {
	for _, id := range m.dirs {
		path := diskio.Join(id.Dir, BrokerEpochFile)
		if err := m.fsys.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s after recovery cut synced records: %w", path, err)
		}
		if err := diskio.SyncDir(m.fsys, id.Dir); err != nil {
			return fmt.Errorf("sync %s after removing %s: %w", id.Dir, BrokerEpochFile, err)
		}
	}
	return nil
}

// readCheckpoint reads one checkpoint file; a corrupt one is a warning and reads as empty.
func (m *Manager) readCheckpoint(dir, name string) (map[TopicPartition]record.Offset, error) {
	entries, err := ReadOffsetCheckpoint(m.fsys, dir, name)
	var corrupt *CorruptCheckpointError
	if errors.As(err, &corrupt) {
		m.warnings = append(m.warnings, fmt.Errorf("%w; ignoring it: logs in %s recover from their start", err, dir))
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return checkpointMap(entries), nil
}

func (m *Manager) loadDir(logDir string) error {
	recoveryPoints, err := m.readCheckpoint(logDir, RecoveryPointCheckpointFile)
	if err != nil {
		return err
	}
	logStarts, err := m.readCheckpoint(logDir, LogStartOffsetCheckpointFile)
	if err != nil {
		return err
	}
	names, err := m.fsys.List(logDir)
	if err != nil {
		return fmt.Errorf("list log dir %s: %w", logDir, err)
	}
	for _, name := range names {
		path := diskio.Join(logDir, name)
		info, err := m.fsys.Stat(path)
		if err != nil {
			return fmt.Errorf("stat %s: %w", path, err)
		}
		if !info.IsDir() {
			continue // meta.properties, checkpoints, the lock, leftovers of atomic writes
		}
		tp, kind, err := ParsePartitionDirName(name)
		if err != nil {
			return fmt.Errorf("log dir %s: %w", logDir, err)
		}
		switch {
		case kind == DirDeleted:
			ops, err := m.removeTreeOps(path)
			if err != nil {
				return err
			}
			m.startupOps = append(m.startupOps, ops...)
			continue
		case kind == DirFuture || kind == DirStray:
			m.warnings = append(m.warnings, fmt.Errorf("log dir %s: ignoring %s (moving replicas between log dirs and stray logs are not supported)", logDir, name))
			continue
		case tp.Topic == MetadataTopic:
			continue // the quorum's log
		}
		if other, dup := m.logs[tp]; dup {
			return fmt.Errorf("duplicate log directories for %s are found in both %s and %s", tp, other.logDir, logDir)
		}
		if m.opts.PartitionsMax > 0 && len(m.logs) >= m.opts.PartitionsMax {
			return fmt.Errorf("log dirs hold more than %d partitions (the configured maximum)", m.opts.PartitionsMax)
		}
		topicID, err := log.ReadPartitionMetadata(m.fsys, path)
		if errors.Is(err, fs.ErrNotExist) {
			topicID, err = uuid.Zero, nil // Kafka tolerates a log without one; it is written on next assignment
		}
		if err != nil {
			return err
		}
		deleteDir, err := m.newDeleteDir(logDir, tp)
		if err != nil {
			return err
		}
		l, err := log.Open(m.fsys, path, m.configFor(tp), log.OpenOptions{
			RecoveryPoint:  recoveryPoints[tp],
			LogStartOffset: logStarts[tp],
			NowMs:          m.opts.NowMs,
			DeletedDir:     deleteDir,
		})
		if err != nil {
			return fmt.Errorf("open log %s: %w", path, err)
		}
		m.logs[tp] = &logEntry{log: l, logDir: logDir, dir: path, deleteDir: deleteDir, topicID: topicID}
		m.sorted = nil
	}
	return nil
}

func (m *Manager) configFor(tp TopicPartition) log.Config {
	if m.opts.ConfigFor != nil {
		return m.opts.ConfigFor(tp)
	}
	return log.DefaultConfig()
}

// newDeleteDir draws the path a partition log opened now goes to when it is deleted.
func (m *Manager) newDeleteDir(logDir string, tp TopicPartition) (string, error) {
	name, err := deleteDirName(tp, m.opts.Random)
	if err != nil {
		return "", fmt.Errorf("delete dir name for %s: %w", tp, err)
	}
	return diskio.Join(logDir, name), nil
}

// removeTreeOps lists a directory tree as unlinks, children before parents, for the driver.
func (m *Manager) removeTreeOps(dir string) ([]log.FileOp, error) {
	names, err := m.fsys.List(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var ops []log.FileOp
	for _, name := range names {
		path := diskio.Join(dir, name)
		info, err := m.fsys.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", path, err)
		}
		if info.IsDir() {
			sub, err := m.removeTreeOps(path)
			if err != nil {
				return nil, err
			}
			ops = append(ops, sub...)
			continue
		}
		ops = append(ops, log.FileOp{Kind: log.FileOpRemove, Path: path})
	}
	return append(ops, log.FileOp{Kind: log.FileOpRemove, Path: dir}), nil
}

// ClusterID is the cluster the log directories belong to.
func (m *Manager) ClusterID() string { return m.clusterID }

// LogDirs returns the log directories and their meta.properties, in config order.
func (m *Manager) LogDirs() []LogDirIdentity { return slices.Clone(m.dirs) }

// Warnings lists problems OpenManager tolerated (as Kafka does), for the driver to log.
func (m *Manager) Warnings() []error { return slices.Clone(m.warnings) }

// StartupFileOps returns, once, the removals of partition directories deleted before the
// last shutdown but not yet removed. The driver runs them off the loop, in order.
func (m *Manager) StartupFileOps() []log.FileOp {
	ops := m.startupOps
	m.startupOps = nil
	return ops
}

// Partitions returns every open partition, sorted. The slice is shared: callers must not modify it.
func (m *Manager) Partitions() []TopicPartition {
	if m.sorted == nil && len(m.logs) > 0 {
		m.sorted = slices.SortedFunc(maps.Keys(m.logs), compareTopicPartitions)
	}
	return m.sorted
}

// GetLog returns a partition's log.
func (m *Manager) GetLog(tp TopicPartition) (*log.Log, bool) {
	e, ok := m.logs[tp]
	if !ok {
		return nil, false
	}
	return e.log, true
}

// TopicID returns the topic id in a partition's partition.metadata (uuid.Zero if it had none).
func (m *Manager) TopicID(tp TopicPartition) (UUID, bool) {
	e, ok := m.logs[tp]
	if !ok {
		return uuid.Zero, false
	}
	return e.topicID, true
}

// LogDirOf returns the log directory holding a partition.
func (m *Manager) LogDirOf(tp TopicPartition) (string, bool) {
	e, ok := m.logs[tp]
	if !ok {
		return "", false
	}
	return e.logDir, true
}

// nextLogDir picks the directory for a new partition as Kafka's LogManager.nextLogDirs: the
// one with the fewest partitions, ties going to the first in config order.
func (m *Manager) nextLogDir() string {
	counts := make(map[string]int, len(m.dirs))
	//purity:allow-map-range counting is order-free
	for _, e := range m.logs {
		counts[e.logDir]++
	}
	best := m.dirs[0].Dir
	for _, id := range m.dirs[1:] {
		if counts[id.Dir] < counts[best] {
			best = id.Dir
		}
	}
	return best
}

// CreateLog creates a partition's log, as Kafka's getOrCreateLog: in the log directory with
// the fewest partitions, with a partition.metadata holding topicID. If the partition already
// has a log with the same topic id, that log is returned; with another topic id it is
// ErrLogExists.
//
// Durability: partition.metadata is written atomically and synced inline (as Kafka does; it
// is once per partition). The new directory's entry in the log directory is made durable
// with the log's first sync: take syncs of this log through PendingSync, which adds the log
// directory to them until one succeeded.
func (m *Manager) CreateLog(tp TopicPartition, topicID UUID, cfg log.Config) (*log.Log, error) {
	if m.closed {
		return nil, errors.New("storage: manager is closed")
	}
	if tp.Topic == "" || tp.Partition < 0 {
		return nil, fmt.Errorf("storage: invalid partition %q %d", tp.Topic, tp.Partition)
	}
	if topicID == uuid.Zero {
		return nil, fmt.Errorf("storage: create %s: topic id must not be zero", tp)
	}
	if e, ok := m.logs[tp]; ok {
		if e.topicID != topicID {
			return nil, fmt.Errorf("%w: %s has topic id %s, not %s", ErrLogExists, tp, e.topicID, topicID)
		}
		return e.log, nil
	}
	if m.opts.PartitionsMax > 0 && len(m.logs) >= m.opts.PartitionsMax {
		return nil, fmt.Errorf("storage: create %s: already %d partitions, the configured maximum", tp, m.opts.PartitionsMax)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", tp, err)
	}
	logDir := m.nextLogDir()
	dir := diskio.Join(logDir, PartitionDirName(tp))
	deleteDir, err := m.newDeleteDir(logDir, tp)
	if err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", tp, err)
	}
	if err := m.fsys.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", dir, err)
	}
	if err := log.WritePartitionMetadata(m.fsys, dir, topicID); err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", tp, err)
	}
	l, err := log.Open(m.fsys, dir, cfg, log.OpenOptions{NowMs: m.opts.NowMs, DeletedDir: deleteDir})
	if err != nil {
		return nil, fmt.Errorf("storage: create log %s: %w", dir, err)
	}
	m.logs[tp] = &logEntry{log: l, logDir: logDir, dir: dir, deleteDir: deleteDir, topicID: topicID, parentDirty: true}
	m.sorted = nil
	return l, nil
}

// PartitionSync is one partition's sync: the driver calls SyncData on every file of
// Request.Files and syncs every directory of Request.Dirs, then reports with Manager.Synced.
type PartitionSync struct {
	TopicPartition
	Request log.SyncRequest

	log       *log.Log
	parentDir string // Request.Dirs[0] when the Manager added it; "" otherwise
}

// PendingSync is the partition log's PendingSync, with the partition directory's parent
// added to Dirs while the directory's entry is not known durable (after CreateLog).
func (m *Manager) PendingSync(tp TopicPartition) (PartitionSync, bool) {
	e, ok := m.logs[tp]
	if !ok {
		return PartitionSync{}, false
	}
	req, ok := e.log.PendingSync()
	if !ok {
		return PartitionSync{}, false
	}
	ps := PartitionSync{TopicPartition: tp, Request: req, log: e.log}
	if e.parentDirty {
		ps.parentDir = e.logDir
		ps.Request.Dirs = append([]string{e.logDir}, req.Dirs...)
	}
	return ps, true
}

// PendingSyncs returns the pending sync of every partition that has one, in sorted order
// (one group commit).
func (m *Manager) PendingSyncs() []PartitionSync {
	var out []PartitionSync
	for _, tp := range m.Partitions() {
		if ps, ok := m.PendingSync(tp); ok {
			out = append(out, ps)
		}
	}
	return out
}

// Synced reports the completion of a PartitionSync. It works after DeleteLog too: a deleted
// log's files close once their sync is reported.
func (m *Manager) Synced(ps PartitionSync, err error) {
	if ps.log == nil {
		panic("storage: invariant: Synced for a PartitionSync not made by PendingSync")
	}
	req := ps.Request
	if ps.parentDir != "" {
		if len(req.Dirs) == 0 || req.Dirs[0] != ps.parentDir {
			panic(fmt.Sprintf("storage: invariant: sync of %s lost its parent dir %s", ps.TopicPartition, ps.parentDir))
		}
		req.Dirs = req.Dirs[1:]
		if len(req.Dirs) == 0 {
			req.Dirs = nil
		}
	}
	ps.log.Synced(req, err)
	if err == nil && ps.parentDir != "" {
		if e, ok := m.logs[ps.TopicPartition]; ok && e.log == ps.log {
			e.parentDirty = false
		}
	}
}

// Live reports whether ps's log is still its partition's open log: false once the log was
// deleted (or deleted and created again) after the sync was handed out.
func (m *Manager) Live(ps PartitionSync) bool {
	e, ok := m.logs[ps.TopicPartition]
	return ok && e.log == ps.log
}

// DeleteLog deletes a partition's log as Kafka does: the log is closed and its directory is
// renamed at once to "<topic>-<partition>.<id>-delete" (so the name is free for a new
// incarnation, and a crash cannot bring it back as a live log once the rename is durable);
// removing the files is returned as FileOps for the driver, to run off the loop (after
// file.delete.delay.ms, if it wants Kafka's grace period: read plans made before the rename
// name the -delete directory, log.ReadPlan.DeletedDir, and read there until then). A missing
// partition is not an error (no ops).
func (m *Manager) DeleteLog(tp TopicPartition) ([]log.FileOp, error) {
	e, ok := m.logs[tp]
	if !ok {
		return nil, nil
	}
	delete(m.logs, tp)
	m.sorted = nil
	var errs []error
	if err := e.log.Close(); err != nil && !errors.Is(err, log.ErrClosed) {
		errs = append(errs, fmt.Errorf("close %s: %w", e.dir, err))
	}
	renamed := e.deleteDir
	if err := m.fsys.Rename(e.dir, renamed); err != nil {
		return nil, errors.Join(append(errs, fmt.Errorf("rename %s to %s: %w", e.dir, renamed, err))...)
	}
	ops, err := m.removeTreeOps(renamed)
	if err != nil {
		errs = append(errs, err)
	}
	return ops, errors.Join(errs...)
}

// CheckpointFile is one checkpoint file's new content.
type CheckpointFile struct {
	Dir, Name string
	Data      []byte
}

// Checkpoints returns the checkpoint files of every log directory: recovery points (each
// log's DurableOffset, so recovery never trusts unsynced data), log start offsets and, once
// recorded, the broker epoch. A
// driver writes each with diskio.WriteFileAtomic, off the loop; WriteCheckpoints does it
// inline.
func (m *Manager) Checkpoints() []CheckpointFile {
	recovery := make(map[string][]CheckpointEntry, len(m.dirs))
	starts := make(map[string][]CheckpointEntry, len(m.dirs))
	for _, tp := range m.Partitions() {
		e := m.logs[tp]
		recovery[e.logDir] = append(recovery[e.logDir], CheckpointEntry{TopicPartition: tp, Offset: e.log.DurableOffset()})
		starts[e.logDir] = append(starts[e.logDir], CheckpointEntry{TopicPartition: tp, Offset: e.log.StartOffset()})
	}
	out := make([]CheckpointFile, 0, 3*len(m.dirs))
	for _, id := range m.dirs {
		out = append(out,
			CheckpointFile{Dir: id.Dir, Name: RecoveryPointCheckpointFile, Data: EncodeOffsetCheckpoint(recovery[id.Dir])},
			CheckpointFile{Dir: id.Dir, Name: LogStartOffsetCheckpointFile, Data: EncodeOffsetCheckpoint(starts[id.Dir])})
	}
	return append(out, m.BrokerEpochCheckpoints()...)
}

// WriteCheckpoints writes Checkpoints inline, each atomically and durably. It is for clean
// shutdown and simple drivers; every error is reported, joined.
func (m *Manager) WriteCheckpoints() error {
	var errs []error
	for _, c := range m.Checkpoints() {
		if err := diskio.WriteFileAtomic(m.fsys, c.Dir, c.Name, c.Data); err != nil {
			errs = append(errs, fmt.Errorf("write %s: %w", diskio.Join(c.Dir, c.Name), err))
		}
	}
	return errors.Join(errs...)
}

// Close closes every log (in sorted order) and releases the directory locks. It does not
// write checkpoints: call WriteCheckpoints first on a clean shutdown.
func (m *Manager) Close() error {
	if m.closed {
		return errors.New("storage: manager already closed")
	}
	return m.closeAll()
}

func (m *Manager) closeAll() error {
	m.closed = true
	var errs []error
	for _, tp := range m.Partitions() {
		if err := m.logs[tp].log.Close(); err != nil && !errors.Is(err, log.ErrClosed) {
			errs = append(errs, fmt.Errorf("close log %s: %w", tp, err))
		}
	}
	clear(m.logs)
	for _, lock := range m.locks {
		if err := lock.Close(); err != nil {
			errs = append(errs, fmt.Errorf("release log dir lock: %w", err))
		}
	}
	m.locks = nil
	return errors.Join(errs...)
}
