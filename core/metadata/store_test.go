package metadata

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/weirdata/weir/core/uuid"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

const testLogDir = "/meta"

// tb is what the test helpers need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// storeDriver runs a Store the way a driver does: syncs, snapshot writes and file ops.
type storeDriver struct {
	t     tb
	fs    *memfs.FS
	store *Store
	nowMs int64
	// inflight is the sync an Append handed out, not yet run.
	inflight *log.SyncRequest
}

func smallStoreConfig() StoreConfig {
	cfg := DefaultStoreConfig()
	cfg.Log.SegmentBytes = 4 << 10
	cfg.SnapshotIntervalBytes = 8 << 10
	return cfg
}

func openDriver(t tb, fs *memfs.FS, cfg StoreConfig) *storeDriver {
	t.Helper()
	s, err := OpenStore(fs, testLogDir, cfg, 1000)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	d := &storeDriver{t: t, fs: fs, store: s, nowMs: 1000}
	d.sync()
	return d
}

// sync runs every pending sync until the store has none.
func (d *storeDriver) sync() {
	if d.inflight != nil {
		req := *d.inflight
		d.inflight = nil
		d.store.Synced(req, req.Run(d.fs))
	}
	for {
		req, ok := d.store.PendingSync()
		if !ok {
			return
		}
		d.store.Synced(req, req.Run(d.fs))
	}
}

func (d *storeDriver) append(records []Record) AppendResult {
	d.t.Helper()
	res, err := d.tryAppend(records)
	if err != nil {
		d.t.Fatalf("append: %v", err)
	}
	return res
}

// tryAppend appends and keeps the sync the Append handed out for sync to run.
func (d *storeDriver) tryAppend(records []Record) (AppendResult, error) {
	d.nowMs++
	res, err := d.store.Append(records, 1, d.nowMs)
	if err != nil {
		return res, err
	}
	if res.SyncNeeded {
		if d.inflight != nil {
			d.t.Fatal("Append handed out a sync while one was in flight")
		}
		d.inflight = &res.Sync
	}
	return res, nil
}

func (d *storeDriver) runFileOps(ops []log.FileOp) {
	for _, op := range ops {
		if err := d.fs.Remove(op.Path); err != nil && !errors.Is(err, diskio.ErrNotExist) {
			d.t.Fatalf("remove %s: %v", op.Path, err)
		}
	}
}

// snapshot takes a snapshot of the committed image if one is possible, and runs it to the end.
func (d *storeDriver) snapshot() bool {
	d.t.Helper()
	w, err := d.store.PrepareSnapshot()
	if err != nil {
		d.t.Fatalf("prepare snapshot: %v", err)
	}
	if w == nil {
		return false
	}
	ops, err := d.store.SnapshotWritten(w, w.Run(d.fs), d.nowMs)
	if err != nil {
		d.t.Fatalf("snapshot written: %v", err)
	}
	d.runFileOps(ops)
	return true
}

func TestStoreAppendSyncReopen(t *testing.T) {
	fs := memfs.New()
	d := openDriver(t, fs, DefaultStoreConfig())
	rng := rand.New(rand.NewPCG(7, 8))
	res := d.append(BootstrapRecords(MetadataVersionDefault))
	if res.BaseOffset != 0 || res.LastOffset != 0 || !res.SyncNeeded {
		t.Fatalf("first append: %+v", res)
	}
	id := uuid.FromRand(rng)
	res = d.append(newTopic(t, "orders", id, [][]int32{{0}, {0}}, map[string]string{"retention.ms": "1"}))
	if res.BaseOffset != 1 || res.LastOffset != 4 {
		t.Fatalf("second append: %+v", res)
	}
	// Not durable yet: Latest has the topic, Committed does not.
	if _, ok := d.store.Latest().TopicByName("orders"); !ok {
		t.Fatal("Latest lacks the topic")
	}
	if _, ok := d.store.Committed().TopicByName("orders"); ok {
		t.Fatal("Committed has a topic before its sync")
	}
	d.sync()
	if d.store.CommittedOffset() != 5 || !d.store.Committed().Equal(d.store.Latest()) {
		t.Fatalf("after sync committed offset %d", d.store.CommittedOffset())
	}
	want := d.store.Latest()
	if err := d.store.Close(); err != nil {
		t.Fatal(err)
	}

	d2 := openDriver(t, fs, DefaultStoreConfig())
	if !d2.store.Latest().Equal(want) || !d2.store.Committed().Equal(want) || d2.store.LatestOffset() != 5 {
		t.Fatalf("reopened image differs (end %d)", d2.store.LatestOffset())
	}
	// The reopened store appends after what it recovered.
	res = d2.append(NewRemoveTopicRecords(id))
	if res.BaseOffset != 5 {
		t.Fatalf("append after reopen at %d", res.BaseOffset)
	}
}

func TestStoreRefusesInvalidAppend(t *testing.T) {
	d := openDriver(t, memfs.New(), DefaultStoreConfig())
	d.append(BootstrapRecords(MetadataVersionDefault))
	_, err := d.store.Append([]Record{&TopicRecord{Name: "ok", TopicID: UUID{1: 1}}, &RemoveTopicRecord{TopicID: UUID{2: 2}}}, 1, 5)
	if !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("got %v", err)
	}
	if d.store.LatestOffset() != 1 || d.store.Log().EndOffset() != 1 {
		t.Fatalf("a refused append wrote: end %d", d.store.Log().EndOffset())
	}
	if _, err := d.store.Append(nil, 1, 5); err == nil {
		t.Fatal("empty append accepted")
	}
}

func TestStorePendingBound(t *testing.T) {
	cfg := DefaultStoreConfig()
	cfg.PendingAppendsMax = 2
	d := openDriver(t, memfs.New(), cfg)
	d.append(BootstrapRecords(MetadataVersionDefault))
	d.append([]Record{&ProducerIdsRecord{NextProducerID: 1000}})
	if _, err := d.store.Append([]Record{&ProducerIdsRecord{NextProducerID: 2000}}, 1, 5); !errors.Is(err, ErrTooManyPending) {
		t.Fatalf("got %v", err)
	}
	d.sync()
	d.append([]Record{&ProducerIdsRecord{NextProducerID: 2000}})
}

// TestStoreSnapshotsAndRetention: snapshots are written Kafka-style, the log below the oldest
// kept snapshot goes, and reopening (also with the newest snapshot damaged) rebuilds the image.
func TestStoreSnapshotsAndRetention(t *testing.T) {
	fs := memfs.New()
	cfg := smallStoreConfig()
	d := openDriver(t, fs, cfg)
	rng := rand.New(rand.NewPCG(9, 10))
	d.append(BootstrapRecords(MetadataVersionDefault))
	snapshots := 0
	for i := 0; i < 300; i++ {
		name := "t" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		d.append(newTopic(t, name, uuid.FromRand(rng), [][]int32{{0}}, nil))
		d.sync()
		if d.store.SnapshotDue() && d.snapshot() {
			snapshots++
		}
	}
	if snapshots < 3 {
		t.Fatalf("only %d snapshots", snapshots)
	}
	kept := d.store.Snapshots()
	if len(kept) != cfg.SnapshotsRetained {
		t.Fatalf("kept snapshots %v", kept)
	}
	names, err := fs.List(testLogDir + "/" + DirName)
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []SnapshotID
	for _, n := range names {
		if id, ok := ParseSnapshotFileName(n); ok {
			onDisk = append(onDisk, id)
		}
	}
	if !slices.Equal(onDisk, kept) {
		t.Fatalf("snapshot files %v, store keeps %v", onDisk, kept)
	}
	if start := d.store.Log().StartOffset(); start != kept[0].EndOffset {
		t.Fatalf("log starts at %d, oldest snapshot ends at %d", start, kept[0].EndOffset)
	}
	if _, err := fs.Stat(testLogDir + "/" + DirName + "/00000000000000000000.log"); !errors.Is(err, diskio.ErrNotExist) {
		t.Fatalf("the first segment survived retention: %v", err)
	}
	want := d.store.Latest()
	d.store.Close()

	// Reopen: from the newest snapshot.
	d2 := openDriver(t, fs, cfg)
	if !d2.store.Latest().Equal(want) {
		t.Fatal("reopened image differs")
	}
	d2.store.Close()

	// Damage the newest snapshot: Open falls back to the older one and replays more log.
	newest := testLogDir + "/" + DirName + "/" + SnapshotFileName(kept[len(kept)-1])
	data, err := diskio.ReadFile(fs, newest)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := diskio.WriteFileAtomic(fs, testLogDir+"/"+DirName, SnapshotFileName(kept[len(kept)-1]), data); err != nil {
		t.Fatal(err)
	}
	d3 := openDriver(t, fs, cfg)
	if !d3.store.Latest().Equal(want) {
		t.Fatal("image after falling back to the older snapshot differs")
	}
	if got := d3.store.Snapshots(); len(got) != 1 || got[0] != kept[0] {
		t.Fatalf("snapshots after fallback %v", got)
	}
	// The damaged file goes at the next snapshot's retention.
	d3.append([]Record{&ProducerIdsRecord{NextProducerID: 1000}})
	d3.sync()
	if !d3.snapshot() {
		t.Fatal("no snapshot taken")
	}
	if _, err := fs.Stat(newest); !errors.Is(err, diskio.ErrNotExist) {
		t.Fatalf("damaged snapshot still there: %v", err)
	}
}

// TestStoreSnapshotAheadOfLog: a snapshot past the log's end (the log lost its tail, or a
// follower fetched the snapshot) wins: the log restarts at the snapshot's end offset.
func TestStoreSnapshotAheadOfLog(t *testing.T) {
	fs := memfs.New()
	d := openDriver(t, fs, DefaultStoreConfig())
	d.append(BootstrapRecords(MetadataVersionDefault))
	d.append([]Record{&ProducerIdsRecord{NextProducerID: 1000}})
	d.sync()
	data, err := EncodeSnapshot(d.store.Committed(), SnapshotID{EndOffset: 50, Epoch: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := d.store.Committed()
	d.store.Close()
	if err := diskio.WriteFileAtomic(fs, testLogDir+"/"+DirName, SnapshotFileName(SnapshotID{EndOffset: 50, Epoch: 1}), data); err != nil {
		t.Fatal(err)
	}
	d2 := openDriver(t, fs, DefaultStoreConfig())
	if d2.store.LatestOffset() != 50 || d2.store.Log().StartOffset() != 50 || !d2.store.Latest().Equal(want) {
		t.Fatalf("end %d start %d", d2.store.LatestOffset(), d2.store.Log().StartOffset())
	}
	if res := d2.append([]Record{&ProducerIdsRecord{NextProducerID: 2000}}); res.BaseOffset != 50 {
		t.Fatalf("appended at %d", res.BaseOffset)
	}
}

// TestStoreSkipsControlBatches: a control batch (a KRaft leader change) in the log is skipped.
func TestStoreSkipsControlBatches(t *testing.T) {
	fs := memfs.New()
	d := openDriver(t, fs, DefaultStoreConfig())
	d.append(BootstrapRecords(MetadataVersionDefault))
	control, err := record.AppendBatch(nil, record.BatchOptions{
		PartitionLeaderEpoch: 2, Control: true, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
	}, []record.Record{{Key: appendControlKey(nil, controlLeaderChange), Value: []byte{0, 0, 0, 0, 0, 1, 1, 1, 0}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.store.Log().Append(control, log.AppendOptions{AssignOffsets: true, LeaderEpoch: 2}); err != nil {
		t.Fatal(err)
	}
	d.sync()
	d.store.Close()
	d2 := openDriver(t, fs, DefaultStoreConfig())
	if d2.store.LatestOffset() != 2 || d2.store.Latest().MetadataVersion() != MetadataVersionDefault {
		t.Fatalf("end %d", d2.store.LatestOffset())
	}
}
