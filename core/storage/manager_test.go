package storage

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/weirdata/weir/core/uuid"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

const testCluster = "MkU3OEVBNTcwNTJENDM2Qk"

var threeDirs = []string{"/disk1/kafka", "/disk2/kafka", "/disk3/kafka"}

// newFormatted returns a memfs with dirs formatted for node 1 of testCluster.
func newFormatted(t *testing.T, dirs []string) *memfs.FS {
	t.Helper()
	fsys := memfs.New()
	if _, err := Format(fsys, dirs, testCluster, 1, testRandom(100), FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	return fsys
}

func openManager(t *testing.T, fsys diskio.FS, dirs []string, seed uint64) *Manager {
	t.Helper()
	m, err := OpenManager(fsys, ManagerOptions{LogDirs: dirs, NodeID: 1, Random: testRandom(seed), NowMs: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func smallConfig() log.Config {
	cfg := log.DefaultConfig()
	cfg.SegmentBytes = 4096
	cfg.SegmentIndexBytes = 1024
	return cfg
}

func topicID(t *testing.T, n int) UUID {
	t.Helper()
	u := UUID{0: 0x40, 15: byte(n + 1)}
	return u
}

func appendValues(t *testing.T, l *log.Log, n int) {
	t.Helper()
	for i := range n {
		batch, err := record.AppendBatch(nil, record.BatchOptions{
			PartitionLeaderEpoch: -1, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, FirstTimestamp: 1000,
		}, []record.Record{{Value: []byte(fmt.Sprintf("value-%d", i))}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(batch, log.AppendOptions{AssignOffsets: true, NowMs: 1000}); err != nil {
			t.Fatal(err)
		}
	}
}

// syncAll plays the driver: every pending sync is run and reported.
func syncAll(t *testing.T, fsys diskio.FS, m *Manager) {
	t.Helper()
	for _, ps := range m.PendingSyncs() {
		var err error
		for _, f := range ps.Request.Files {
			err = errors.Join(err, f.SyncData())
		}
		for _, d := range ps.Request.Dirs {
			err = errors.Join(err, diskio.SyncDir(fsys, d))
		}
		m.Synced(ps, err)
		if err != nil {
			t.Fatal(err)
		}
	}
}

func runOps(t *testing.T, fsys diskio.FS, ops []log.FileOp) {
	t.Helper()
	for _, op := range ops {
		if op.Kind != log.FileOpRemove {
			t.Fatalf("unexpected op %+v", op)
		}
		if err := fsys.Remove(op.Path); err != nil {
			t.Fatalf("remove %s: %v", op.Path, err)
		}
	}
}

func TestPlacementBalancesAcrossDirs(t *testing.T) {
	fsys := newFormatted(t, threeDirs)
	m := openManager(t, fsys, threeDirs, 1)
	defer m.Close()
	for p := range int32(9) {
		tp := TopicPartition{"orders", p}
		if _, err := m.CreateLog(tp, topicID(t, 0), smallConfig()); err != nil {
			t.Fatal(err)
		}
		dir, _ := m.LogDirOf(tp)
		if want := threeDirs[p%3]; dir != want {
			t.Fatalf("partition %d placed in %s, want %s (fewest partitions, ties in config order)", p, dir, want)
		}
	}
	// Deleting two partitions from disk2 makes it the emptiest.
	for _, p := range []int32{1, 4} {
		ops, err := m.DeleteLog(TopicPartition{"orders", p})
		if err != nil {
			t.Fatal(err)
		}
		runOps(t, fsys, ops)
	}
	for i, want := range []string{threeDirs[1], threeDirs[1], threeDirs[0]} {
		tp := TopicPartition{"payments", int32(i)}
		if _, err := m.CreateLog(tp, topicID(t, 1), smallConfig()); err != nil {
			t.Fatal(err)
		}
		if dir, _ := m.LogDirOf(tp); dir != want {
			t.Fatalf("%s placed in %s, want %s", tp, dir, want)
		}
	}
}

func TestCreateLogWritesPartitionMetadataAndIsIdempotent(t *testing.T) {
	fsys := newFormatted(t, threeDirs[:1])
	m := openManager(t, fsys, threeDirs[:1], 1)
	defer m.Close()
	tp := TopicPartition{"my.topic-with-dashes", 3}
	l, err := m.CreateLog(tp, topicID(t, 5), smallConfig())
	if err != nil {
		t.Fatal(err)
	}
	id, err := log.ReadPartitionMetadata(fsys, "/disk1/kafka/my.topic-with-dashes-3")
	if err != nil || id != topicID(t, 5) {
		t.Fatalf("partition.metadata: %v %v", id, err)
	}
	again, err := m.CreateLog(tp, topicID(t, 5), smallConfig())
	if err != nil || again != l {
		t.Fatalf("CreateLog again: %v", err)
	}
	if _, err := m.CreateLog(tp, topicID(t, 6), smallConfig()); !errors.Is(err, ErrLogExists) {
		t.Fatalf("CreateLog with another topic id: %v", err)
	}
	if _, err := m.CreateLog(TopicPartition{"t", 0}, uuid.Zero, smallConfig()); err == nil {
		t.Fatal("zero topic id accepted")
	}
	// The first sync of a new log includes the log dir, so the partition dir's entry is durable.
	ps, ok := m.PendingSync(tp)
	if !ok || len(ps.Request.Dirs) == 0 || ps.Request.Dirs[0] != "/disk1/kafka" {
		t.Fatalf("first sync %+v does not sync the log dir", ps.Request)
	}
	m.Synced(ps, nil)
	appendValues(t, l, 1)
	ps, ok = m.PendingSync(tp)
	if !ok || len(ps.Request.Dirs) > 0 && ps.Request.Dirs[0] == "/disk1/kafka" {
		t.Fatalf("later sync %+v syncs the log dir again", ps.Request)
	}
	m.Synced(ps, nil)
}

func TestPartitionsBound(t *testing.T) {
	fsys := newFormatted(t, threeDirs[:1])
	m, err := OpenManager(fsys, ManagerOptions{LogDirs: threeDirs[:1], NodeID: 1, Random: testRandom(1), PartitionsMax: 2})
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		if _, err := m.CreateLog(TopicPartition{"t", p}, topicID(t, 0), smallConfig()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.CreateLog(TopicPartition{"t", 2}, topicID(t, 0), smallConfig()); err == nil {
		t.Fatal("third partition accepted with PartitionsMax 2")
	}
	syncAll(t, fsys, m)
	m.Close()
	if _, err := OpenManager(fsys, ManagerOptions{LogDirs: threeDirs[:1], NodeID: 1, Random: testRandom(1), PartitionsMax: 1}); err == nil {
		t.Fatal("opened 2 partitions with PartitionsMax 1")
	}
}

// TestReopenAfterCrashKeepsSyncedPartitions: every partition whose sync completed survives any
// crash with at least its synced records; unsynced work may go, but never breaks the open.
func TestReopenAfterCrashKeepsSyncedPartitions(t *testing.T) {
	for seed := uint64(0); seed < 40; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			fsys := newFormatted(t, threeDirs)
			m := openManager(t, fsys, threeDirs, seed)
			durable := map[TopicPartition]record.Offset{}
			for i := range 6 {
				tp := TopicPartition{fmt.Sprintf("topic-%d", i%2), int32(i)}
				l, err := m.CreateLog(tp, topicID(t, i%2), smallConfig())
				if err != nil {
					t.Fatal(err)
				}
				appendValues(t, l, 20+i)
			}
			syncAll(t, fsys, m)
			for _, tp := range m.Partitions() {
				l, _ := m.GetLog(tp)
				durable[tp] = l.DurableOffset()
				if l.DurableOffset() != l.EndOffset() {
					t.Fatalf("%s: durable %d end %d after syncing all", tp, l.DurableOffset(), l.EndOffset())
				}
			}
			if seed%2 == 0 {
				if err := m.WriteCheckpoints(); err != nil {
					t.Fatal(err)
				}
			}
			// Unsynced work: more records, a partition never synced, a deletion.
			for _, tp := range m.Partitions()[:3] {
				l, _ := m.GetLog(tp)
				appendValues(t, l, 7)
			}
			if _, err := m.CreateLog(TopicPartition{"unsynced", 0}, topicID(t, 9), smallConfig()); err != nil {
				t.Fatal(err)
			}
			deleted := TopicPartition{"topic-1", 5}
			if _, err := m.DeleteLog(deleted); err != nil {
				t.Fatal(err)
			}

			cfg := memfs.CrashConfig{Seed: seed}
			if seed%5 == 0 {
				cfg = memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}
			}
			crashed := fsys.CrashClone(cfg)
			m2, err := OpenManager(crashed, ManagerOptions{LogDirs: threeDirs, NodeID: 1, Random: testRandom(seed + 1000), NowMs: 2000,
				ConfigFor: func(TopicPartition) log.Config { return smallConfig() }})
			if err != nil {
				t.Fatalf("reopen after crash: %v", err)
			}
			runOps(t, crashed, m2.StartupFileOps())
			for tp, want := range durable {
				l, ok := m2.GetLog(tp)
				if !ok {
					if tp == deleted {
						continue // its rename may have survived
					}
					t.Fatalf("synced partition %s lost", tp)
				}
				if l.EndOffset() < want {
					t.Fatalf("%s: end offset %d after crash, below the synced %d", tp, l.EndOffset(), want)
				}
				if id, _ := m2.TopicID(tp); id != topicID(t, int(tp.Partition)%2) {
					t.Fatalf("%s: topic id %s after crash", tp, id)
				}
			}
			if err := m2.WriteCheckpoints(); err != nil {
				t.Fatal(err)
			}
			if err := m2.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCheckpointsRecordDurableOffsets(t *testing.T) {
	fsys := newFormatted(t, threeDirs[:2])
	m := openManager(t, fsys, threeDirs[:2], 1)
	a, _ := m.CreateLog(TopicPartition{"a", 0}, topicID(t, 0), smallConfig())
	b, _ := m.CreateLog(TopicPartition{"b", 0}, topicID(t, 1), smallConfig())
	appendValues(t, a, 5)
	appendValues(t, b, 3)
	syncAll(t, fsys, m)
	appendValues(t, a, 4) // not synced: must not reach the recovery point
	if err := a.DeleteRecordsBefore(2); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteCheckpoints(); err != nil {
		t.Fatal(err)
	}
	rp, err := ReadOffsetCheckpoint(fsys, threeDirs[0], RecoveryPointCheckpointFile)
	if err != nil || len(rp) != 1 || rp[0].Topic != "a" || rp[0].Offset != 5 {
		t.Fatalf("recovery points in %s: %v %v", threeDirs[0], rp, err)
	}
	ls, err := ReadOffsetCheckpoint(fsys, threeDirs[0], LogStartOffsetCheckpointFile)
	if err != nil || len(ls) != 1 || ls[0].Offset != 2 {
		t.Fatalf("log start offsets: %v %v", ls, err)
	}
	rp, _ = ReadOffsetCheckpoint(fsys, threeDirs[1], RecoveryPointCheckpointFile)
	if len(rp) != 1 || rp[0].Topic != "b" || rp[0].Offset != 3 {
		t.Fatalf("recovery points in %s: %v", threeDirs[1], rp)
	}
	syncAll(t, fsys, m)
	m.Close()
	// The log start offset survives a restart through its checkpoint.
	m2 := openManager(t, fsys, threeDirs[:2], 2)
	defer m2.Close()
	if l, _ := m2.GetLog(TopicPartition{"a", 0}); l.StartOffset() != 2 || l.EndOffset() != 9 {
		t.Fatalf("after restart: start %d end %d", l.StartOffset(), l.EndOffset())
	}
}

func TestDeleteLog(t *testing.T) {
	fsys := newFormatted(t, threeDirs[:1])
	m := openManager(t, fsys, threeDirs[:1], 3)
	tp := TopicPartition{"gone", 0}
	l, _ := m.CreateLog(tp, topicID(t, 0), smallConfig())
	appendValues(t, l, 3)
	syncAll(t, fsys, m)
	ops, err := m.DeleteLog(tp)
	if err != nil || len(ops) == 0 {
		t.Fatalf("DeleteLog: %v %v", ops, err)
	}
	if _, ok := m.GetLog(tp); ok {
		t.Fatal("deleted log still listed")
	}
	names, _ := fsys.List(threeDirs[0])
	var deleteDir string
	for _, n := range names {
		if strings.HasPrefix(n, "gone-0.") && strings.HasSuffix(n, "-delete") {
			deleteDir = n
		}
		if n == "gone-0" {
			t.Fatal("partition dir not renamed")
		}
	}
	if deleteDir == "" {
		t.Fatalf("no -delete dir in %v", names)
	}
	if last := ops[len(ops)-1]; last.Path != diskio.Join(threeDirs[0], deleteDir) {
		t.Fatalf("last op %+v should remove the directory itself", last)
	}
	// A crash before the removal ran: the restart finds the -delete dir and removes it.
	syncDir(t, fsys, threeDirs[0])
	crashed := fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
	m2 := openManager(t, crashed, threeDirs[:1], 4)
	if _, ok := m2.GetLog(tp); ok {
		t.Fatal("deleted partition came back")
	}
	startup := m2.StartupFileOps()
	if len(startup) != len(ops) {
		t.Fatalf("startup ops %v, want %d removals", startup, len(ops))
	}
	runOps(t, crashed, startup)
	if len(m2.StartupFileOps()) != 0 {
		t.Fatal("StartupFileOps returned twice")
	}
	// The name is free again at once.
	if _, err := m2.CreateLog(tp, topicID(t, 1), smallConfig()); err != nil {
		t.Fatal(err)
	}
	m2.Close()
	runOps(t, fsys, ops)
	if ops, err := m.DeleteLog(tp); err != nil || ops != nil {
		t.Fatalf("deleting a missing log: %v %v", ops, err)
	}
	m.Close()
}

func syncDir(t *testing.T, fsys diskio.FS, dir string) {
	t.Helper()
	if err := diskio.SyncDir(fsys, dir); err != nil {
		t.Fatal(err)
	}
}

func TestOpenManagerRefuses(t *testing.T) {
	t.Run("cluster id mismatch", func(t *testing.T) {
		fsys := newFormatted(t, threeDirs)
		_, err := OpenManager(fsys, ManagerOptions{LogDirs: threeDirs, NodeID: 1, ClusterID: "tfIO-Ab4PdddYjiU3pEWqw", Random: testRandom(1)})
		if err == nil || !strings.Contains(err.Error(), "formatted for cluster "+testCluster+", config expects tfIO-Ab4PdddYjiU3pEWqw") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("dirs of two clusters", func(t *testing.T) {
		fsys := newFormatted(t, threeDirs[:2])
		if _, err := Format(fsys, threeDirs[2:], "tfIO-Ab4PdddYjiU3pEWqw", 1, testRandom(2), FormatOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenManager(fsys, ManagerOptions{LogDirs: threeDirs, NodeID: 1, Random: testRandom(1)}); err == nil {
			t.Fatal("opened dirs of two clusters")
		}
	})
	t.Run("node id mismatch", func(t *testing.T) {
		fsys := newFormatted(t, threeDirs)
		if _, err := OpenManager(fsys, ManagerOptions{LogDirs: threeDirs, NodeID: 2, Random: testRandom(1)}); err == nil {
			t.Fatal("node 2 opened node 1's dirs")
		}
	})
	t.Run("locked", func(t *testing.T) {
		fsys := newFormatted(t, threeDirs)
		m := openManager(t, fsys, threeDirs, 1)
		_, err := OpenManager(fsys, ManagerOptions{LogDirs: threeDirs[1:], NodeID: 1, Random: testRandom(1)})
		if !errors.Is(err, diskio.ErrLocked) {
			t.Fatalf("second manager on the same dirs: %v", err)
		}
		m.Close()
		m = openManager(t, fsys, threeDirs, 1) // locks released by Close
		m.Close()
	})
	t.Run("foreign directory", func(t *testing.T) {
		fsys := newFormatted(t, threeDirs[:1])
		if err := fsys.MkdirAll(threeDirs[0]+"/lost+found", 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := OpenManager(fsys, ManagerOptions{LogDirs: threeDirs[:1], NodeID: 1, Random: testRandom(1)})
		if err == nil || !strings.Contains(err.Error(), "lost+found") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("duplicate partition across dirs", func(t *testing.T) {
		fsys := newFormatted(t, threeDirs[:2])
		for _, d := range threeDirs[:2] {
			if err := fsys.MkdirAll(d+"/t-0", 0o755); err != nil {
				t.Fatal(err)
			}
		}
		_, err := OpenManager(fsys, ManagerOptions{LogDirs: threeDirs[:2], NodeID: 1, Random: testRandom(1)})
		if err == nil || !strings.Contains(err.Error(), "duplicate") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestOpenManagerTolerates(t *testing.T) {
	fsys := newFormatted(t, threeDirs[:1])
	dir := threeDirs[0]
	for _, name := range []string{"__cluster_metadata-0", "t-1.abcdef-future", "t-2.abcdef-stray"} {
		if err := fsys.MkdirAll(dir+"/"+name, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := diskio.WriteFileAtomic(fsys, dir, RecoveryPointCheckpointFile, []byte("0\n1\nbroken\n")); err != nil {
		t.Fatal(err)
	}
	m := openManager(t, fsys, threeDirs[:1], 1)
	defer m.Close()
	if len(m.Partitions()) != 0 {
		t.Fatalf("opened %v", m.Partitions())
	}
	warnings := fmt.Sprint(m.Warnings())
	for _, want := range []string{"recovery-point-offset-checkpoint line 3", "t-1.abcdef-future", "t-2.abcdef-stray"} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings %s lack %q", warnings, want)
		}
	}
	if m.ClusterID() != testCluster || len(m.LogDirs()) != 1 {
		t.Fatalf("cluster %q dirs %v", m.ClusterID(), m.LogDirs())
	}
}
