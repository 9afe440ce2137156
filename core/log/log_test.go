package log

import (
	"bytes"
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/uuid"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

func TestAppendAssignsOffsetsAndReads(t *testing.T) {
	fsys := newMemFS()
	l := mustOpen(t, fsys, testConfig(), OpenOptions{})
	var want [][]byte
	for i := 0; i < 40; i++ {
		b := makeBatch(t, 999, 3, 100, int64(1000+i))
		res, err := l.Append(b, AppendOptions{AssignOffsets: true, LeaderEpoch: 5, NowMs: 1})
		if err != nil {
			t.Fatal(err)
		}
		if res.BaseOffset != record.Offset(3*i) || res.LastOffset != record.Offset(3*i+2) {
			t.Fatalf("batch %d: got %+v", i, res)
		}
		h, _ := record.Validate(b)
		if h.BaseOffset != res.BaseOffset || h.PartitionLeaderEpoch != 5 {
			t.Fatalf("batch %d not stamped in place: %+v", i, h)
		}
		want = append(want, b)
	}
	if l.EndOffset() != 120 || l.SegmentCount() < 3 {
		t.Fatalf("end %d, %d segments", l.EndOffset(), l.SegmentCount())
	}
	got := readAllBatches(t, l)
	if len(got) != len(want) {
		t.Fatalf("read %d batches, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("batch %d differs", i)
		}
	}
	// Every offset inside a batch reads from that batch's start.
	for o := record.Offset(0); o < 120; o++ {
		plan, err := l.Read(o, 1, 120, true)
		if err != nil {
			t.Fatal(err)
		}
		if plan.FirstOffset != o/3*3 || plan.NextOffset != o/3*3+3 || plan.SizeBytes != int64(len(want[o/3])) {
			t.Fatalf("read %d: %+v", o, plan)
		}
	}
}

func TestReadBounds(t *testing.T) {
	l := mustOpen(t, newMemFS(), testConfig(), OpenOptions{})
	size := int64(0)
	for i := 0; i < 10; i++ {
		b := makeBatch(t, 0, 2, 50, 1)
		size = int64(len(b))
		if _, err := l.Append(b, AppendOptions{AssignOffsets: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Read(21, 100, 20, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read past end: %v", err)
	}
	plan, err := l.Read(20, 100, 20, true)
	if err != nil || len(plan.Ranges) != 0 || plan.NextOffset != 20 {
		t.Fatalf("read at end: %+v %v", plan, err)
	}
	// maxBytes smaller than a batch: one batch with minOneBatch, none without.
	if plan, _ := l.Read(0, 1, 20, true); plan.NextOffset != 2 {
		t.Fatalf("minOneBatch: %+v", plan)
	}
	if plan, _ := l.Read(0, 1, 20, false); plan.NextOffset != 0 || len(plan.Ranges) != 0 {
		t.Fatalf("no minOneBatch: %+v", plan)
	}
	// maxBytes of three batches and a half.
	if plan, _ := l.Read(0, 3*size+size/2, 20, false); plan.NextOffset != 6 || plan.SizeBytes != 3*size {
		t.Fatalf("three batches: %+v", plan)
	}
	// maxOffset (the high watermark) in the middle of a batch excludes that batch.
	if plan, _ := l.Read(0, 1<<20, 7, false); plan.NextOffset != 6 {
		t.Fatalf("max offset: %+v", plan)
	}
	// ReadPlanBytesMax caps maxBytes.
	cfg := l.Config()
	cfg.ReadPlanBytesMax = 2 * size
	if err := l.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if plan, _ := l.Read(0, 1<<20, 20, false); plan.NextOffset != 4 {
		t.Fatalf("plan cap: %+v", plan)
	}
}

func TestInvalidBatchNotWritten(t *testing.T) {
	l := mustOpen(t, newMemFS(), testConfig(), OpenOptions{})
	b := makeBatch(t, 0, 2, 10, 1)
	b[len(b)-1] ^= 0xff
	if _, err := l.Append(b, AppendOptions{AssignOffsets: true}); !errors.Is(err, ErrInvalidBatch) {
		t.Fatalf("corrupt batch: %v", err)
	}
	if l.EndOffset() != 0 || l.SizeBytes() != 0 {
		t.Fatalf("corrupt batch written: end %d size %d", l.EndOffset(), l.SizeBytes())
	}
	// The log is still usable.
	if _, err := l.Append(makeBatch(t, 0, 2, 10, 1), AppendOptions{AssignOffsets: true}); err != nil {
		t.Fatal(err)
	}
}

func TestFollowerAppend(t *testing.T) {
	l := mustOpen(t, newMemFS(), testConfig(), OpenOptions{})
	if _, err := l.Append(makeBatch(t, 10, 5, 10, 1), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if l.EndOffset() != 15 {
		t.Fatalf("end %d", l.EndOffset())
	}
	if _, err := l.Append(makeBatch(t, 14, 1, 10, 1), AppendOptions{}); !errors.Is(err, ErrNonMonotonicOffset) {
		t.Fatalf("backwards append: %v", err)
	}
	// A gap is allowed (compacted leader).
	if _, err := l.Append(makeBatch(t, 20, 1, 10, 1), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if plan, err := l.Read(17, 1<<20, 21, false); err != nil || plan.FirstOffset != 20 || plan.NextOffset != 21 {
		t.Fatalf("read in gap: %+v %v", plan, err)
	}
}

func TestFollowerAppendFarPastEmptySegment(t *testing.T) {
	l := mustOpen(t, newMemFS(), testConfig(), OpenOptions{})
	base := record.Offset(1) << 40
	if _, err := l.Append(makeBatch(t, base, 1, 10, 1), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if l.SegmentCount() != 1 || l.segments[0].baseOffset != base {
		t.Fatalf("segment not moved: %d at %d", l.SegmentCount(), l.segments[0].baseOffset)
	}
	if _, err := l.Append(makeBatch(t, 2*base, 1, 10, 1), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	// The new segment starts as near the log end as the index's int32 relative offsets allow.
	if l.SegmentCount() != 2 || l.active().baseOffset != 2*base-math.MaxInt32 {
		t.Fatalf("no roll for relative offset overflow: %d segments, active at %d", l.SegmentCount(), l.active().baseOffset)
	}
}

func TestRollAndIndexFiles(t *testing.T) {
	fsys := newMemFS()
	cfg := testConfig()
	l := mustOpen(t, fsys, cfg, OpenOptions{})
	for i := 0; i < 30; i++ {
		if _, err := l.Append(makeBatch(t, 0, 4, 100, int64(i)), AppendOptions{AssignOffsets: true}); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range l.segments {
		info, err := fsys.Stat(s.indexPath)
		if err != nil {
			t.Fatal(err)
		}
		tinfo, err := fsys.Stat(s.timeIndexPath)
		if err != nil {
			t.Fatal(err)
		}
		if s.sizeBytes > cfg.SegmentBytes {
			t.Fatalf("segment %d is %d bytes", i, s.sizeBytes)
		}
		if i < len(l.segments)-1 {
			if info.Size() != s.indexEntries*offsetIndexEntryBytes || tinfo.Size() != s.timeIndexEntries*timeIndexEntryBytes {
				t.Fatalf("inactive segment %d indexes not trimmed: %d %d", i, info.Size(), tinfo.Size())
			}
			if s.indexEntries == 0 || s.timeIndexEntries == 0 {
				t.Fatalf("inactive segment %d has no index entries", i)
			}
		} else if info.Size() != cfg.offsetIndexEntriesMax()*offsetIndexEntryBytes {
			t.Fatalf("active index not preallocated: %d", info.Size())
		}
		if next := i + 1; next < len(l.segments) && l.segments[next].baseOffset <= s.baseOffset {
			t.Fatal("segments out of order")
		}
	}
	if len(l.lru) > cfg.OpenSegmentsMax {
		t.Fatalf("%d open inactive segments", len(l.lru))
	}
}

func TestRollOnSegmentMs(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentMs = 100
	l := mustOpen(t, newMemFS(), cfg, OpenOptions{})
	for _, now := range []int64{1000, 1050, 1100, 1101, 1150} {
		if _, err := l.Append(makeBatch(t, 0, 1, 10, now), AppendOptions{AssignOffsets: true, NowMs: now}); err != nil {
			t.Fatal(err)
		}
	}
	// Rolled when the segment (first append at 1000) was older than 100 ms: at 1101.
	if l.SegmentCount() != 2 || l.active().baseOffset != 3 {
		t.Fatalf("%d segments, active at %d", l.SegmentCount(), l.active().baseOffset)
	}
}

func TestOversizedBatchGoesAlone(t *testing.T) {
	cfg := testConfig()
	l := mustOpen(t, newMemFS(), cfg, OpenOptions{})
	if _, err := l.Append(makeBatch(t, 0, 1, 10, 1), AppendOptions{AssignOffsets: true}); err != nil {
		t.Fatal(err)
	}
	big := makeBatch(t, 0, 2, int(cfg.SegmentBytes), 1)
	if _, err := l.Append(big, AppendOptions{AssignOffsets: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(makeBatch(t, 0, 1, 10, 1), AppendOptions{AssignOffsets: true}); err != nil {
		t.Fatal(err)
	}
	if l.SegmentCount() != 3 || l.segments[1].sizeBytes != int64(len(big)) {
		t.Fatalf("%d segments; middle %d bytes", l.SegmentCount(), l.segments[1].sizeBytes)
	}
	if got := readAllBatches(t, l); len(got) != 3 || !bytes.Equal(got[1], big) {
		t.Fatalf("read back %d batches", len(got))
	}
}

func TestSyncAdvancesDurableOffset(t *testing.T) {
	fsys := newMemFS()
	l := mustOpen(t, fsys, testConfig(), OpenOptions{})
	syncAll(t, l)
	if _, ok := l.PendingSync(); ok {
		t.Fatal("sync pending on an idle log")
	}
	if _, err := l.Append(makeBatch(t, 0, 5, 10, 1), AppendOptions{AssignOffsets: true}); err != nil {
		t.Fatal(err)
	}
	req, ok := l.PendingSync()
	if !ok || req.UpTo != 5 || len(req.Files) != 1 {
		t.Fatalf("pending sync: %+v %v", req, ok)
	}
	if _, ok := l.PendingSync(); ok {
		t.Fatal("second sync while one is in flight")
	}
	// An append while the sync is in flight is not covered by it.
	if _, err := l.Append(makeBatch(t, 0, 5, 10, 1), AppendOptions{AssignOffsets: true}); err != nil {
		t.Fatal(err)
	}
	if l.DurableOffset() != 0 {
		t.Fatalf("durable %d before the sync finished", l.DurableOffset())
	}
	l.Synced(req, req.Run(fsys))
	if l.DurableOffset() != 5 {
		t.Fatalf("durable %d after sync up to 5", l.DurableOffset())
	}
	syncAll(t, l)
	if l.DurableOffset() != 10 {
		t.Fatalf("durable %d", l.DurableOffset())
	}
	// After a crash losing everything unsynced, the durable records are there.
	l2 := mustOpen(t, fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}), testConfig(), OpenOptions{RecoveryPoint: 10})
	if l2.EndOffset() != 10 {
		t.Fatalf("recovered end %d", l2.EndOffset())
	}
}

func TestNewSegmentNeedsDirSync(t *testing.T) {
	fsys := newMemFS()
	cfg := testConfig()
	l := mustOpen(t, fsys, cfg, OpenOptions{})
	syncAll(t, l)
	for l.SegmentCount() < 2 {
		if _, err := l.Append(makeBatch(t, 0, 1, 500, 1), AppendOptions{AssignOffsets: true}); err != nil {
			t.Fatal(err)
		}
	}
	req, ok := l.PendingSync()
	if !ok || len(req.Dirs) != 1 || req.Dirs[0] != testDir {
		t.Fatalf("roll without a dir sync: %+v", req)
	}
	// Sync only the files, not the directory: the new segment vanishes in a crash, which is
	// why the log asks for the directory.
	for _, f := range req.Files {
		if err := f.SyncData(); err != nil {
			t.Fatal(err)
		}
	}
	crashed := mustOpen(t, fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}), cfg, OpenOptions{})
	if crashed.SegmentCount() != 1 {
		t.Fatalf("new segment survived without a dir sync: %d segments", crashed.SegmentCount())
	}
	l.Synced(req, req.Run(fsys))
	crashed = mustOpen(t, fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}), cfg, OpenOptions{})
	if crashed.EndOffset() != l.EndOffset() {
		t.Fatalf("after dir sync: end %d, want %d", crashed.EndOffset(), l.EndOffset())
	}
}

func TestFailedSyncPoisons(t *testing.T) {
	fsys := newMemFS()
	l := mustOpen(t, fsys, testConfig(), OpenOptions{})
	if _, err := l.Append(makeBatch(t, 0, 5, 10, 1), AppendOptions{AssignOffsets: true}); err != nil {
		t.Fatal(err)
	}
	req, _ := l.PendingSync()
	l.Synced(req, diskio.ErrInjected)
	if l.DurableOffset() != 0 {
		t.Fatal("durable offset moved on a failed sync")
	}
	if _, err := l.Append(makeBatch(t, 0, 5, 10, 1), AppendOptions{AssignOffsets: true}); !errors.Is(err, ErrPoisoned) {
		t.Fatalf("append after failed sync: %v", err)
	}
	if _, err := l.Read(0, 100, 5, true); !errors.Is(err, ErrPoisoned) {
		t.Fatalf("read after failed sync: %v", err)
	}
	if _, ok := l.PendingSync(); ok {
		t.Fatal("sync offered on a poisoned log")
	}
	if err := l.Poisoned(); !errors.Is(err, ErrPoisoned) || !errors.Is(err, diskio.ErrInjected) {
		t.Fatalf("Poisoned() = %v", err)
	}
	if err := l.Close(); !errors.Is(err, ErrPoisoned) {
		t.Fatalf("Close of a poisoned log: %v", err)
	}
}

// closeTrackingFS records closes of files so tests can see when the log closes them.
type closeTrackingFile struct {
	diskio.File
	closed *bool
}

func (f closeTrackingFile) Close() error { *f.closed = true; return f.File.Close() }

func TestFileInSyncNotClosedBeforeSynced(t *testing.T) {
	fsys := newMemFS()
	cfg := testConfig()
	cfg.OpenSegmentsMax = 1
	l := mustOpen(t, fsys, cfg, OpenOptions{})
	if _, err := l.Append(makeBatch(t, 0, 1, 500, 1), AppendOptions{AssignOffsets: true}); err != nil {
		t.Fatal(err)
	}
	closed := false
	first := l.segments[0]
	first.files.log.file = closeTrackingFile{first.files.log.file, &closed}
	req, _ := l.PendingSync()
	// Roll several times: the first segment leaves the LRU, and retention deletes it.
	for l.SegmentCount() < 4 {
		if _, err := l.Append(makeBatch(t, 0, 1, 500, 1), AppendOptions{AssignOffsets: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.DeleteRecordsBefore(l.segments[1].baseOffset); err != nil {
		t.Fatal(err)
	}
	ops, err := l.ApplyRetention(0)
	if err != nil || len(ops) != 3 {
		t.Fatalf("retention: %v %v", ops, err)
	}
	if closed {
		t.Fatal("file closed while its sync is in flight")
	}
	l.Synced(req, req.Run(fsys))
	// Appends after req dirtied the file again: it closes once a sync took that data too.
	syncAll(t, l)
	if !closed {
		t.Fatal("file not closed after its syncs completed")
	}
}

// syncedLogDamaged writes and syncs ten 2-record batches (offsets 0..19) in one segment,
// closes the log and rewrites its file as damage returns it.
func syncedLogDamaged(t *testing.T, damage func(data []byte) []byte) (*memfs.FS, Config) {
	t.Helper()
	fsys := newMemFS()
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20
	l := mustOpen(t, fsys, cfg, OpenOptions{})
	for i := 0; i < 10; i++ {
		if _, err := l.Append(makeBatch(t, 0, 2, 30, 1), AppendOptions{AssignOffsets: true}); err != nil {
			t.Fatal(err)
		}
	}
	syncAll(t, l)
	if l.RecoveryCutDurable() {
		t.Fatal("a new log reports a recovery cut")
	}
	path := l.active().logPath
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := diskio.ReadFile(fsys, path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(damage(data), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return fsys, cfg
}

func TestRecoverTruncatesCorruptTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(data []byte) []byte
		want   record.Offset
	}{
		{"torn last batch", func(d []byte) []byte { return d[:len(d)-7] }, 18},
		{"flipped crc byte", func(d []byte) []byte { d[len(d)-3] ^= 1; return d }, 18},
		{"garbage appended", func(d []byte) []byte { return append(d, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13) }, 20},
		{"zeros appended", func(d []byte) []byte { return append(d, make([]byte, 300)...) }, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys, cfg := syncedLogDamaged(t, tc.damage)
			l2 := mustOpen(t, fsys, cfg, OpenOptions{})
			if l2.EndOffset() != tc.want {
				t.Fatalf("recovered end %d, want %d", l2.EndOffset(), tc.want)
			}
			if got := readAllBatches(t, l2); len(got) != int(tc.want/2) {
				t.Fatalf("read %d batches", len(got))
			}
			// Appends continue right after the recovered tail.
			res, err := l2.Append(makeBatch(t, 0, 1, 10, 1), AppendOptions{AssignOffsets: true})
			if err != nil || res.BaseOffset != tc.want {
				t.Fatalf("append after recovery: %+v %v", res, err)
			}
		})
	}
}

// TestRecoverTruncatesAtLostSegmentTail: a crash loses a rolled segment's unsynced tail (or
// all its unsynced data) while the next segment's file survives, as when the OS wrote back the
// new file's pages but not the old one's. The offsets in between were never durable, so
// recovery ends the log at the last surviving record instead of leaving a gap before the later
// segment.
func TestRecoverTruncatesAtLostSegmentTail(t *testing.T) {
	for _, tc := range []struct {
		name      string
		recovery  record.Offset // recovery point passed to Open
		lostTail  bool          // false: every batch of the old segment was synced but the last
		wantEnd   record.Offset
		wantCount int // batches left
	}{
		{"tail lost, recovery point at durable", 4, true, 4, 2},
		{"tail lost, full scan", 0, true, 4, 2},
		{"whole segment data lost", 0, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := newMemFS()
			cfg := testConfig()
			cfg.SegmentBytes = 1 << 20
			l := mustOpen(t, fsys, cfg, OpenOptions{})
			appendN := func(n int) {
				for i := 0; i < n; i++ {
					if _, err := l.Append(makeBatch(t, 0, 2, 30, 1), AppendOptions{AssignOffsets: true, LeaderEpoch: 1}); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tc.lostTail {
				appendN(2) // [0, 3], synced
				syncAll(t, l)
			}
			appendN(2) // the old segment's unsynced tail
			lostEnd := l.EndOffset()
			if err := l.roll(l.EndOffset()); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Append(makeBatch(t, 0, 2, 30, 1), AppendOptions{AssignOffsets: true, LeaderEpoch: 2}); err != nil {
				t.Fatal(err)
			}
			// The new segment's data and directory entry reach the disk; the old tail does not.
			newSeg := l.active()
			f, err := fsys.OpenReadWrite(newSeg.logPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if err := diskio.SyncDir(fsys, testDir); err != nil {
				t.Fatal(err)
			}
			crashed := fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
			if info, err := crashed.Stat(newSeg.logPath); err != nil || info.Size() == 0 {
				t.Fatalf("test setup: segment %d did not survive: %v", newSeg.baseOffset, err)
			}
			l2 := mustOpen(t, crashed, cfg, OpenOptions{RecoveryPoint: tc.recovery})
			if l2.EndOffset() != tc.wantEnd {
				t.Fatalf("recovered end %d, want %d (records [%d, %d) were lost)", l2.EndOffset(), tc.wantEnd, tc.wantEnd, lostEnd)
			}
			if l2.SegmentCount() != 1 {
				t.Fatalf("%d segments survive, want 1: the one past the gap must go", l2.SegmentCount())
			}
			if _, err := crashed.Stat(newSeg.logPath); !isNotExist(err) {
				t.Fatalf("segment past the gap still on disk: %v", err)
			}
			if got := readAllBatches(t, l2); len(got) != tc.wantCount {
				t.Fatalf("read %d batches, want %d", len(got), tc.wantCount)
			}
			if plan, err := l2.Read(tc.wantEnd, 1<<20, tc.wantEnd+10, true); err != nil || len(plan.Ranges) != 0 || plan.NextOffset != tc.wantEnd {
				t.Fatalf("read at the end: %+v %v", plan, err)
			}
			// Epoch 2 began in the dropped segment: the cache and its file forget it.
			data, err := diskio.ReadFile(crashed, diskio.Join(testDir, EpochCheckpointFileName))
			if err != nil {
				t.Fatal(err)
			}
			onDisk, err := parseEpochCheckpoint(data, epochEntriesMax)
			if err != nil || !slices.Equal(onDisk, l2.EpochEntries()) {
				t.Fatalf("epoch checkpoint %v (%v), cache %v", onDisk, err, l2.EpochEntries())
			}
			for _, e := range l2.EpochEntries() {
				if e.StartOffset >= tc.wantEnd {
					t.Fatalf("epoch cache %v reaches past the end %d", l2.EpochEntries(), tc.wantEnd)
				}
			}
			// A new append lands right after the last surviving record and reads back.
			res, err := l2.Append(makeBatch(t, 0, 3, 10, 1), AppendOptions{AssignOffsets: true, LeaderEpoch: 3})
			if err != nil || res.BaseOffset != tc.wantEnd {
				t.Fatalf("append after recovery: %+v %v", res, err)
			}
			plan, err := l2.Read(tc.wantEnd, 1<<20, l2.EndOffset(), true)
			if err != nil || plan.FirstOffset != tc.wantEnd || plan.NextOffset != tc.wantEnd+3 {
				t.Fatalf("read of the new append: %+v %v", plan, err)
			}
		})
	}
}

func TestRecoverRebuildsMissingIndex(t *testing.T) {
	fsys := newMemFS()
	cfg := testConfig()
	l := mustOpen(t, fsys, cfg, OpenOptions{})
	for i := 0; i < 40; i++ {
		if _, err := l.Append(makeBatch(t, 0, 2, 100, int64(i)), AppendOptions{AssignOffsets: true}); err != nil {
			t.Fatal(err)
		}
	}
	syncAll(t, l)
	end := l.EndOffset()
	first := l.segments[0]
	wantEntries := first.indexEntries
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Remove(first.indexPath); err != nil {
		t.Fatal(err)
	}
	// A garbage time index on the second segment.
	f, _ := fsys.Create(l.segments[1].timeIndexPath)
	f.WriteAt([]byte{0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 2}, 0)
	f.Close()
	l2 := mustOpen(t, fsys, cfg, OpenOptions{RecoveryPoint: end})
	if l2.EndOffset() != end || l2.segments[0].indexEntries != wantEntries {
		t.Fatalf("end %d, first segment %d index entries (want %d)", l2.EndOffset(), l2.segments[0].indexEntries, wantEntries)
	}
	if got := readAllBatches(t, l2); len(got) != 40 {
		t.Fatalf("read %d batches", len(got))
	}
	o, ts, found, err := l2.OffsetForTimestamp(20)
	if err != nil || !found || ts < 0 || o < 0 {
		t.Fatalf("offset for timestamp after rebuild: %d %d %v %v", o, ts, found, err)
	}
}

func TestOffsetForTimestamp(t *testing.T) {
	l := mustOpen(t, newMemFS(), testConfig(), OpenOptions{})
	// Batch i holds records with timestamps 100*i, 100*i+1, 100*i+2 at offsets 3i..3i+2.
	for i := 0; i < 30; i++ {
		if _, err := l.Append(makeBatch(t, 0, 3, 100, int64(100*i)), AppendOptions{AssignOffsets: true}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		target int64
		offset record.Offset
		ts     int64
		found  bool
	}{
		{0, 0, 0, true},
		{1, 1, 1, true},
		{3, 3, 100, true},
		{1502, 47, 1502, true},
		{2902, 89, 2902, true},
		{2903, -1, -1, false},
	} {
		o, ts, found, err := l.OffsetForTimestamp(tc.target)
		if err != nil || o != tc.offset || ts != tc.ts || found != tc.found {
			t.Errorf("offset for %d: got %d %d %v %v, want %d %d %v", tc.target, o, ts, found, err, tc.offset, tc.ts, tc.found)
		}
	}
	if o, ts := l.MaxTimestamp(); o != 89 || ts != 2902 {
		t.Errorf("max timestamp: %d %d", o, ts)
	}
	if err := l.DeleteRecordsBefore(50); err != nil {
		t.Fatal(err)
	}
	if o, _, _, _ := l.OffsetForTimestamp(0); o != 50 {
		t.Errorf("offset for 0 after DeleteRecords(50): %d", o)
	}
	if o, _, _, _ := l.OffsetForTimestamp(TimestampEarliest); o != 50 {
		t.Errorf("earliest: %d", o)
	}
	if o, _, _, _ := l.OffsetForTimestamp(TimestampLatest); o != 90 {
		t.Errorf("latest: %d", o)
	}
}

func TestLogAppendTime(t *testing.T) {
	l := mustOpen(t, newMemFS(), testConfig(), OpenOptions{})
	b := makeBatch(t, 0, 3, 10, 5)
	res, err := l.Append(b, AppendOptions{AssignOffsets: true, LogAppendTime: true, NowMs: 777})
	if err != nil || res.MaxTimestamp != 777 {
		t.Fatalf("%+v %v", res, err)
	}
	if h, err := record.Validate(b); err != nil || !h.LogAppendTime() {
		t.Fatalf("not stamped: %v", err)
	}
	if o, ts := l.MaxTimestamp(); o != 0 || ts != 777 {
		t.Fatalf("max timestamp %d %d", o, ts)
	}
}

func TestTruncateTo(t *testing.T) {
	fsys := newMemFS()
	l := mustOpen(t, fsys, testConfig(), OpenOptions{})
	for i := 0; i < 40; i++ {
		if _, err := l.Append(makeBatch(t, 0, 2, 100, int64(i)), AppendOptions{AssignOffsets: true, LeaderEpoch: record.Epoch(i / 10)}); err != nil {
			t.Fatal(err)
		}
	}
	syncAll(t, l)
	segments := l.SegmentCount()
	if err := l.TruncateTo(31); err != nil { // inside batch 30-31: that batch goes
		t.Fatal(err)
	}
	// The end is where the records end: the start of the removed batch.
	if l.EndOffset() != 30 || l.DurableOffset() != 30 || l.SegmentCount() >= segments {
		t.Fatalf("end %d durable %d segments %d", l.EndOffset(), l.DurableOffset(), l.SegmentCount())
	}
	if got := readAllBatches(t, l); len(got) != 15 {
		t.Fatalf("%d batches after truncation", len(got))
	}
	if e := l.EpochEntries(); len(e) != 2 || e[1] != (EpochEntry{1, 20}) {
		t.Fatalf("epochs %v", e)
	}
	// Appends continue at the new end.
	res, err := l.Append(makeBatch(t, 0, 2, 100, 1), AppendOptions{AssignOffsets: true, LeaderEpoch: 7})
	if err != nil || res.BaseOffset != 30 {
		t.Fatalf("%+v %v", res, err)
	}
	if _, _, found, _ := l.OffsetForTimestamp(1000); found {
		t.Fatal("timestamp index still has truncated entries")
	}
	syncAll(t, l)
	l2 := mustOpen(t, fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}), testConfig(), OpenOptions{RecoveryPoint: l.DurableOffset()})
	if l2.EndOffset() != 32 || len(readAllBatches(t, l2)) != 16 {
		t.Fatalf("recovered end %d", l2.EndOffset())
	}
	if e := l2.EpochEntries(); len(e) != 3 || e[2] != (EpochEntry{7, 30}) {
		t.Fatalf("recovered epochs %v", e)
	}
}

func TestTruncateFullyAndDeleteRecords(t *testing.T) {
	fsys := newMemFS()
	l := mustOpen(t, fsys, testConfig(), OpenOptions{})
	for i := 0; i < 20; i++ {
		if _, err := l.Append(makeBatch(t, 0, 2, 100, int64(i)), AppendOptions{AssignOffsets: true, LeaderEpoch: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.DeleteRecordsBefore(41); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("delete past end: %v", err)
	}
	if err := l.DeleteRecordsBefore(13); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Read(12, 100, 40, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below start: %v", err)
	}
	if plan, err := l.Read(13, 1, 40, true); err != nil || plan.FirstOffset != 12 {
		t.Fatalf("read at start: %+v %v", plan, err)
	}
	if e := l.EpochEntries(); len(e) != 1 || e[0] != (EpochEntry{1, 13}) {
		t.Fatalf("epochs %v", e)
	}
	if err := l.TruncateFullyAndStartAt(1000); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != 1000 || l.EndOffset() != 1000 || l.SegmentCount() != 1 || len(l.EpochEntries()) != 0 {
		t.Fatalf("start %d end %d", l.StartOffset(), l.EndOffset())
	}
	names, _ := fsys.List(testDir)
	for _, n := range names {
		if base, _, ok := parseOffsetFileName(n); ok && base != 1000 {
			t.Fatalf("leftover %s", n)
		}
	}
	res, err := l.Append(makeBatch(t, 0, 1, 10, 1), AppendOptions{AssignOffsets: true})
	if err != nil || res.BaseOffset != 1000 {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestRetention(t *testing.T) {
	fill := func(t *testing.T, cfg Config) (*memfs.FS, *Log) {
		fsys := newMemFS()
		l := mustOpen(t, fsys, cfg, OpenOptions{})
		for i := 0; i < 40; i++ {
			if _, err := l.Append(makeBatch(t, 0, 2, 100, int64(1000*i)), AppendOptions{AssignOffsets: true, NowMs: int64(1000 * i)}); err != nil {
				t.Fatal(err)
			}
		}
		return fsys, l
	}
	t.Run("bytes", func(t *testing.T) {
		cfg := testConfig()
		cfg.RetentionBytes = 5000
		fsys, l := fill(t, cfg)
		ops, err := l.ApplyRetention(40000)
		if err != nil {
			t.Fatal(err)
		}
		runFileOps(t, fsys, ops)
		if l.SizeBytes() < cfg.RetentionBytes || l.SizeBytes()-l.segments[0].sizeBytes >= cfg.RetentionBytes {
			t.Fatalf("size %d after retention", l.SizeBytes())
		}
		if l.StartOffset() != l.segments[0].baseOffset {
			t.Fatalf("start %d, first segment %d", l.StartOffset(), l.segments[0].baseOffset)
		}
		names, _ := fsys.List(testDir)
		if len(names) != 3*l.SegmentCount()+1 { // + leader-epoch-checkpoint
			t.Fatalf("files left: %v", names)
		}
	})
	t.Run("time", func(t *testing.T) {
		cfg := testConfig()
		cfg.RetentionMs = 10000
		_, l := fill(t, cfg)
		if _, err := l.ApplyRetention(48000); err != nil {
			t.Fatal(err)
		}
		// Kept: every segment whose largest timestamp is within 10 s of now (≥ 38000).
		if first := l.segments[0]; first.maxTimestampMs < 38000-1000 {
			t.Fatalf("first segment max timestamp %d", first.maxTimestampMs)
		}
		for _, s := range l.segments[:len(l.segments)-1] {
			if 48000-s.maxTimestampMs > cfg.RetentionMs && s != l.segments[0] {
				t.Fatalf("expired segment kept")
			}
		}
		// Everything expired: the active segment goes too, after a roll.
		if _, err := l.ApplyRetention(1 << 40); err != nil {
			t.Fatal(err)
		}
		if l.SegmentCount() != 1 || l.SizeBytes() != 0 || l.StartOffset() != 80 || l.EndOffset() != 80 {
			t.Fatalf("after expiring everything: %d segments, %d bytes, start %d", l.SegmentCount(), l.SizeBytes(), l.StartOffset())
		}
	})
	t.Run("start offset", func(t *testing.T) {
		fsys, l := fill(t, testConfig())
		before := l.SegmentCount()
		if err := l.DeleteRecordsBefore(l.segments[2].baseOffset + 1); err != nil {
			t.Fatal(err)
		}
		ops, err := l.ApplyRetention(0)
		if err != nil {
			t.Fatal(err)
		}
		runFileOps(t, fsys, ops)
		if l.SegmentCount() != before-2 {
			t.Fatalf("%d segments, want %d", l.SegmentCount(), before-2)
		}
	})
	t.Run("high watermark bound", func(t *testing.T) {
		cfg := testConfig()
		cfg.RetentionBytes = 0
		_, l := fill(t, cfg)
		if l.SegmentCount() < 3 {
			t.Fatalf("only %d segments", l.SegmentCount())
		}
		bound := l.segments[2].baseOffset
		if _, err := l.ApplyRetentionBelow(0, bound); err != nil {
			t.Fatal(err)
		}
		if l.StartOffset() != bound || l.segments[0].baseOffset != bound {
			t.Fatalf("start %d, want the high watermark's segment %d", l.StartOffset(), bound)
		}
	})
}

func TestEpochCache(t *testing.T) {
	var c epochCache
	c.assign(1, 0)
	c.assign(1, 5) // same epoch later: no change
	c.assign(3, 10)
	c.assign(4, 20)
	if len(c.entries) != 3 {
		t.Fatalf("%v", c.entries)
	}
	for _, tc := range []struct {
		epoch      record.Epoch
		wantEpoch  record.Epoch
		wantOffset record.Offset
	}{
		{-1, -1, -1},
		{0, 0, 0},
		{1, 1, 10},
		{2, 1, 10},
		{3, 3, 20},
		{4, 4, 30},
		{5, -1, -1},
	} {
		e, o := c.endOffsetFor(tc.epoch, 30)
		if e != tc.wantEpoch || o != tc.wantOffset {
			t.Errorf("endOffsetFor(%d) = %d %d, want %d %d", tc.epoch, e, o, tc.wantEpoch, tc.wantOffset)
		}
	}
	// A lower epoch at a lower offset drops what it contradicts.
	c.assign(2, 15)
	if len(c.entries) != 2 || c.entries[1] != (EpochEntry{2, 15}) {
		t.Fatalf("%v", c.entries)
	}
	c = epochCache{}
	var data []byte
	c.assign(1, 0)
	c.assign(3, 10)
	c.assign(4, 20)
	data = encodeEpochCheckpoint(c.entries)
	if string(data) != "0\n3\n1 0\n3 10\n4 20\n" {
		t.Fatalf("checkpoint %q", data)
	}
	back, err := parseEpochCheckpoint(data, 10)
	if err != nil || len(back) != 3 || back[2] != (EpochEntry{4, 20}) {
		t.Fatalf("%v %v", back, err)
	}
	for _, bad := range []string{"", "1\n0\n", "0\n2\n1 0\n", "0\n1\n1\n", "0\n2\n3 5\n2 9\n", "0\n1\n-1 0\n"} {
		if _, err := parseEpochCheckpoint([]byte(bad), 10); err == nil {
			t.Errorf("parsed bad checkpoint %q", bad)
		}
	}
	c.truncateFromStart(15)
	if c.entries[0] != (EpochEntry{3, 15}) || len(c.entries) != 2 {
		t.Fatalf("truncateFromStart: %v", c.entries)
	}
	c.truncateFromEnd(20)
	if len(c.entries) != 1 {
		t.Fatalf("truncateFromEnd: %v", c.entries)
	}
}

// TestPartitionMetadata checks the format against a file as Kafka writes it, byte for byte,
// and Kafka's reading rules (PartitionMetadataReadBuffer).
func TestPartitionMetadata(t *testing.T) {
	sample, err := os.ReadFile("testdata/partition.metadata")
	if err != nil {
		t.Fatal(err)
	}
	id, err := ParsePartitionMetadata(sample)
	if err != nil || id.String() != "X6wn3fOXRgO0Gt4anI3Ysg" {
		t.Fatalf("sample: %v %v", id, err)
	}
	if enc := EncodePartitionMetadata(id); !bytes.Equal(enc, sample) {
		t.Fatalf("encoded %q, Kafka writes %q", enc, sample)
	}

	fsys := newMemFS()
	if err := fsys.MkdirAll(testDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPartitionMetadata(fsys, testDir); !errors.Is(err, diskio.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	other := uuid.UUID{0xfb, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff}
	if err := WritePartitionMetadata(fsys, testDir, other); err != nil {
		t.Fatal(err)
	}
	data, _ := diskio.ReadFile(fsys, diskio.Join(testDir, PartitionMetadataFileName))
	if string(data) != "version: 0\ntopic_id: -wECAwQFBgcICQoLDA0O_w" {
		t.Fatalf("%q", data)
	}
	if back, err := ReadPartitionMetadata(fsys, testDir); err != nil || back != other {
		t.Fatalf("read back %v %v", back, err)
	}

	for _, ok := range []string{
		"version:  0\ntopic_id:\t-wECAwQFBgcICQoLDA0O_w\n", // any whitespace after the colon
		"version: 0\r\ntopic_id: -wECAwQFBgcICQoLDA0O_w\r\n",
		"version: 00\ntopic_id: -wECAwQFBgcICQoLDA0O_w",  // Integer.parseInt
		"version: 0\ntopic_id: -wECAwQFBgcICQoLDA0O_w==", // Uuid.fromString takes padding
	} {
		if back, err := ParsePartitionMetadata([]byte(ok)); err != nil || back != other {
			t.Errorf("%q: %v %v", ok, back, err)
		}
	}
	for _, bad := range []string{
		"", "version: 0", "version: 0\n",
		"version: 1\ntopic_id: X6wn3fOXRgO0Gt4anI3Ysg", "version: -1\ntopic_id: X6wn3fOXRgO0Gt4anI3Ysg",
		"version 0\ntopic_id: X6wn3fOXRgO0Gt4anI3Ysg", "version:0\ntopic_id: X6wn3fOXRgO0Gt4anI3Ysg",
		"version: 0\ntopic: X6wn3fOXRgO0Gt4anI3Ysg", "version: 0\ntopic_id: zz", "version: 0\ntopic_id: abc\n",
		"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA", // the zero UUID
		"version: 0\ntopic_id: X6wn3fOXRgO0Gt4anI3Ysg\nextra: 1",
	} {
		if _, err := ParsePartitionMetadata([]byte(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}

	// Read errors name the file; an oversized file is refused before it is read.
	path := diskio.Join(testDir, PartitionMetadataFileName)
	for _, content := range [][]byte{[]byte("version: 0\ntopic_id: zz"), bytes.Repeat([]byte("x"), partitionMetadataBytesMax+1)} {
		f, err := fsys.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt(content, 0)
		f.Close()
		if _, err := ReadPartitionMetadata(fsys, testDir); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%d bytes: %v", len(content), err)
		}
	}
}

func TestOpenCleansLeftovers(t *testing.T) {
	fsys := newMemFS()
	l := mustOpen(t, fsys, testConfig(), OpenOptions{})
	for i := 0; i < 20; i++ {
		if _, err := l.Append(makeBatch(t, 0, 2, 100, 1), AppendOptions{AssignOffsets: true}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	for _, name := range []string{"00000000000000000004.log.deleted", "leader-epoch-checkpoint.tmp", "00000000000000099999.index", "x.swap"} {
		f, _ := fsys.Create(diskio.Join(testDir, name))
		f.Close()
	}
	l2 := mustOpen(t, fsys, testConfig(), OpenOptions{})
	names, _ := fsys.List(testDir)
	for _, n := range names {
		if isLeftover(n) || n == "00000000000000099999.index" {
			t.Fatalf("leftover %s kept", n)
		}
	}
	if l2.EndOffset() != 40 {
		t.Fatalf("end %d", l2.EndOffset())
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []func(*Config){
		func(c *Config) { c.SegmentBytes = 10 },
		func(c *Config) { c.SegmentBytes = 1 << 31 },
		func(c *Config) { c.SegmentMs = 0 },
		func(c *Config) { c.SegmentIndexBytes = 8 },
		func(c *Config) { c.OpenSegmentsMax = 0 },
		func(c *Config) { c.RetentionMs = -2 },
		func(c *Config) { c.ReadPlanBytesMax = 0 },
	}
	for i, f := range bad {
		c := DefaultConfig()
		f(&c)
		if c.Validate() == nil {
			t.Errorf("bad config %d accepted", i)
		}
	}
}

// TestReadPlanExhaustive compares Read with a brute-force answer for every start offset and
// many byte and offset limits, over segments dense with index entries (the plan skips the
// headers of batches the index shows inside the limits).
func TestReadPlanExhaustive(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 6000
	cfg.IndexIntervalBytes = 100
	l := mustOpen(t, newMemFS(), cfg, OpenOptions{})
	var batches []modelBatch
	for i := 0; i < 60; i++ {
		b := makeBatch(t, 0, 1+i%4, (i*37)%200, 1)
		res, err := l.Append(b, AppendOptions{AssignOffsets: true})
		if err != nil {
			t.Fatal(err)
		}
		batches = append(batches, modelBatch{res.BaseOffset, res.LastOffset, b})
	}
	end := l.EndOffset()
	for from := record.Offset(0); from <= end; from++ {
		for maxBytes := int64(0); maxBytes < 9000; maxBytes += 53 {
			for _, maxOffset := range []record.Offset{from, from + 1, from + 7, from + 40, end} {
				for _, minOne := range []bool{false, true} {
					plan, err := l.Read(from, maxBytes, maxOffset, minOne)
					if err != nil {
						t.Fatal(err)
					}
					var size int64
					first, next := from, from
					for _, b := range batches {
						if b.last < from || from >= maxOffset {
							continue
						}
						n := int64(len(b.data))
						if b.last >= maxOffset || (size+n > maxBytes && !(minOne && size == 0)) {
							break
						}
						if size == 0 {
							first = b.base
						}
						size += n
						next = b.last + 1
						if size > maxBytes {
							break
						}
					}
					if plan.SizeBytes != size || plan.FirstOffset != first || plan.NextOffset != next {
						t.Fatalf("Read(%d, %d, %d, %v) = %+v; want first %d next %d size %d", from, maxBytes, maxOffset, minOne, plan, first, next, size)
					}
				}
			}
		}
	}
}

func TestOpenRejectsMalformedEpochCheckpoint(t *testing.T) {
	fsys := newMemFS()
	l := mustOpen(t, fsys, testConfig(), OpenOptions{})
	if _, err := l.Append(makeBatch(t, 0, 1, 10, 1), AppendOptions{AssignOffsets: true, LeaderEpoch: 3}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	// Kafka fails the log dir on a malformed checkpoint rather than guess at epochs.
	if err := diskio.WriteFileAtomic(fsys, testDir, EpochCheckpointFileName, []byte("0\n2\n3 0\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(fsys, testDir, testConfig(), OpenOptions{}); err == nil {
		t.Fatal("opened with a malformed leader-epoch-checkpoint")
	}
	// A missing checkpoint is rebuilt from the batches recovery scans.
	if err := fsys.Remove(diskio.Join(testDir, EpochCheckpointFileName)); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, fsys, testConfig(), OpenOptions{})
	if e := l.EpochEntries(); len(e) != 1 || e[0] != (EpochEntry{3, 0}) {
		t.Fatalf("rebuilt epochs %v", e)
	}
	if e, o, err := l.EndOffsetForEpoch(3); err != nil || e != 3 || o != 1 {
		t.Fatalf("EndOffsetForEpoch(3) = %d %d %v", e, o, err)
	}
}

// TestOpenDurableNotBelowLogStart: a log opened with a recovery point below its log start (a
// lost recovery-point checkpoint) must not report a durable offset — the single-node high
// watermark — below its log start: log start ≤ high watermark ≤ log end.
func TestOpenDurableNotBelowLogStart(t *testing.T) {
	fsys := newMemFS()
	cfg := testConfig()
	l := mustOpen(t, fsys, cfg, OpenOptions{})
	for i := range 10 {
		if _, err := l.Append(makeBatch(t, 0, 1, 10, int64(i)), AppendOptions{AssignOffsets: true, LeaderEpoch: 0}); err != nil {
			t.Fatal(err)
		}
	}
	syncAll(t, l)
	l.Close()
	l = mustOpen(t, fsys, cfg, OpenOptions{RecoveryPoint: 0, LogStartOffset: 5})
	defer l.Close()
	if l.StartOffset() != 5 || l.DurableOffset() < l.StartOffset() {
		t.Fatalf("opened with log start %d and durable offset %d", l.StartOffset(), l.DurableOffset())
	}
}

// TestReadServesBeforeADamagedHeader: a read whose plan reaches a batch whose header is damaged
// on disk serves the whole batches before it; a read starting at the damaged batch is refused.
func TestReadServesBeforeADamagedHeader(t *testing.T) {
	fsys := newMemFS()
	cfg := testConfig()
	cfg.IndexIntervalBytes = 1 << 20 // no index entries: the read walks every header
	l := mustOpen(t, fsys, cfg, OpenOptions{})
	defer l.Close()
	var positions []int64
	for i := range 3 {
		positions = append(positions, l.SizeBytes())
		if _, err := l.Append(makeBatch(t, 0, 2, 10, int64(i)), AppendOptions{AssignOffsets: true, LeaderEpoch: 0}); err != nil {
			t.Fatal(err)
		}
	}
	syncAll(t, l)
	f, err := fsys.OpenReadWrite(testDir + "/00000000000000000000.log")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{9}, positions[2]+16); err != nil { // the third batch's magic
		t.Fatal(err)
	}
	f.Close()
	plan, err := l.Read(0, 1<<20, l.EndOffset(), true)
	if err != nil || plan.FirstOffset != 0 || plan.NextOffset != 4 || plan.SizeBytes != positions[2] {
		t.Fatalf("read from 0: %+v, %v; want the first two batches (offsets 0-3, %d bytes)", plan, err, positions[2])
	}
	if plan, err := l.Read(4, 1<<20, l.EndOffset(), true); !errors.Is(err, ErrCorruptLog) {
		t.Fatalf("read from the damaged batch: %+v, %v; want ErrCorruptLog", plan, err)
	}
}

// TestAssignEpochStartAboveCorruptEpoch: the partitionLeaderEpoch field lies outside the
// batch CRC, so a bit flip there survives recovery and can leave the cache ending with an
// epoch above any the controller handed out. Becoming leader at a real epoch must still work,
// dropping the contradicted entry as Kafka's LeaderEpochFileCache.assign does; refusing it made
// the broker crash on every leadership (seed 919 crash-looped).
func TestAssignEpochStartAboveCorruptEpoch(t *testing.T) {
	l := mustOpen(t, newMemFS(), testConfig(), OpenOptions{})
	if _, err := l.Append(makeBatch(t, 0, 3, 10, 1000), AppendOptions{AssignOffsets: true, LeaderEpoch: 10}); err != nil {
		t.Fatal(err)
	}
	flipped := record.Epoch(10 | 1<<22)
	if _, err := l.Append(makeBatch(t, 0, 2, 10, 1000), AppendOptions{AssignOffsets: true, LeaderEpoch: flipped}); err != nil {
		t.Fatal(err)
	}
	dropped, err := l.AssignEpochStart(12, l.EndOffset())
	if err != nil {
		t.Fatalf("AssignEpochStart below a corrupt epoch: %v", err)
	}
	if want := []EpochEntry{{flipped, 3}}; !slices.Equal(dropped, want) {
		t.Errorf("dropped %v, want %v", dropped, want)
	}
	if got, want := l.EpochEntries(), []EpochEntry{{10, 0}, {12, 5}}; !slices.Equal(got, want) {
		t.Fatalf("epoch cache %v, want %v", got, want)
	}
	if _, err := l.AssignEpochStart(13, 4); err == nil {
		t.Fatal("an epoch start below the log end was accepted")
	}
}

// TestTruncateToLogEndDropsEmptyEpoch: a broker that became leader recorded its epoch's start
// and appended nothing before losing leadership; as a follower its cache then ends with an
// epoch the new leader never had, at the log end. Truncating to the log end must still drop
// that entry (Kafka's UnifiedLog.truncateTo), or the follower keeps sending it as its last
// fetched epoch, the leader keeps answering "diverged at the log end", and the follower never
// catches up (sim seed 141, 5 brokers, RF=3).
func TestTruncateToLogEndDropsEmptyEpoch(t *testing.T) {
	fsys := newMemFS()
	l := mustOpen(t, fsys, testConfig(), OpenOptions{})
	if _, err := l.Append(makeBatch(t, 0, 5, 10, 1000), AppendOptions{AssignOffsets: true, LeaderEpoch: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AssignEpochStart(2, l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateTo(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if got, want := l.EpochEntries(), []EpochEntry{{1, 0}}; !slices.Equal(got, want) {
		t.Fatalf("epoch cache %v after truncating to the log end, want %v", got, want)
	}
	if l.EndOffset() != 5 {
		t.Fatalf("log end %d, want 5", l.EndOffset())
	}
	l.Close()
	l = mustOpen(t, fsys, testConfig(), OpenOptions{})
	if got, want := l.EpochEntries(), []EpochEntry{{1, 0}}; !slices.Equal(got, want) {
		t.Fatalf("epoch cache %v after reopening, want %v (the change must be persisted)", got, want)
	}
}

// TestRecoveryCutDurable: a cut below the recovery point drops records that were synced, which
// the broker must own up to (it registers as back from an unclean restart); a torn or garbage
// tail past the recovery point, or a cut with no recovery point known, is an ordinary crash.
func TestRecoveryCutDurable(t *testing.T) {
	for _, tc := range []struct {
		name          string
		recoveryPoint record.Offset
		damage        func(data []byte) []byte
		want          bool
	}{
		{"flipped crc byte below the recovery point", 20, func(d []byte) []byte { d[len(d)-3] ^= 1; return d }, true},
		{"torn last batch below the recovery point", 20, func(d []byte) []byte { return d[:len(d)-7] }, true},
		{"flipped crc byte past the recovery point", 18, func(d []byte) []byte { d[len(d)-3] ^= 1; return d }, false},
		{"no recovery point known", 0, func(d []byte) []byte { d[len(d)-3] ^= 1; return d }, false},
		{"garbage after the synced records", 20, func(d []byte) []byte { return append(d, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13) }, false},
		{"intact", 20, func(d []byte) []byte { return d }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys, cfg := syncedLogDamaged(t, tc.damage)
			l2 := mustOpen(t, fsys, cfg, OpenOptions{RecoveryPoint: tc.recoveryPoint})
			if got := l2.RecoveryCutDurable(); got != tc.want {
				t.Fatalf("RecoveryCutDurable = %v, want %v (recovered end %d, recovery point %d)", got, tc.want, l2.EndOffset(), tc.recoveryPoint)
			}
		})
	}
}
