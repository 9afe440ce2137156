package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"testing"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

// faultFS fails the failAt-th mutating call (1-based) and every one after it with
// diskio.ErrInjected, as a disk that died at that moment; 0 never fails. calls counts them.
type faultFS struct {
	diskio.FS
	failAt int
	calls  int
}

func (f *faultFS) step(op, name string) error {
	f.calls++
	if f.failAt > 0 && f.calls >= f.failAt {
		return &fs.PathError{Op: op, Path: name, Err: diskio.ErrInjected}
	}
	return nil
}

func (f *faultFS) Create(name string) (diskio.File, error) {
	if err := f.step("create", name); err != nil {
		return nil, err
	}
	file, err := f.FS.Create(name)
	return f.wrap(file, name, err)
}

func (f *faultFS) OpenReadWrite(name string) (diskio.File, error) {
	if err := f.step("open", name); err != nil {
		return nil, err
	}
	file, err := f.FS.OpenReadWrite(name)
	return f.wrap(file, name, err)
}

func (f *faultFS) OpenDir(name string) (diskio.File, error) {
	file, err := f.FS.OpenDir(name)
	return f.wrap(file, name, err)
}

func (f *faultFS) wrap(file diskio.File, name string, err error) (diskio.File, error) {
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

func (f *faultFS) Remove(name string) error {
	if err := f.step("remove", name); err != nil {
		return err
	}
	return f.FS.Remove(name)
}

func (f *faultFS) RemoveAll(name string) error {
	if err := f.step("removeall", name); err != nil {
		return err
	}
	return f.FS.RemoveAll(name)
}

func (f *faultFS) Rename(oldname, newname string) error {
	if err := f.step("rename", oldname); err != nil {
		return err
	}
	return f.FS.Rename(oldname, newname)
}

func (f *faultFS) MkdirAll(dir string, perm fs.FileMode) error {
	if err := f.step("mkdir", dir); err != nil {
		return err
	}
	return f.FS.MkdirAll(dir, perm)
}

func (f *faultFS) Lock(name string) (io.Closer, error) { return f.FS.Lock(name) }

type faultFile struct {
	diskio.File
	fs   *faultFS
	name string
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.step("write", f.name); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Sync() error {
	if err := f.fs.step("sync", f.name); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) SyncData() error {
	if err := f.fs.step("syncdata", f.name); err != nil {
		return err
	}
	return f.File.SyncData()
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.step("truncate", f.name); err != nil {
		return err
	}
	return f.File.Truncate(size)
}

func (f *faultFile) Preallocate(off, length int64) error {
	if err := f.fs.step("preallocate", f.name); err != nil {
		return err
	}
	return f.File.Preallocate(off, length)
}

// crashClones are the post-crash disks a sweep checks: the worst case and a few random ones.
func crashClones(fsys *memfs.FS, k int) []*memfs.FS {
	return []*memfs.FS{
		fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}),
		fsys.CrashClone(memfs.CrashConfig{Seed: uint64(k)}),
		fsys.CrashClone(memfs.CrashConfig{Seed: uint64(k) + 1000}),
	}
}

// TestEnsureFormattedFaultSweep: the disk dies at every possible step of a first start; after
// the crash, the next start still formats and opens, for one cluster.
func TestEnsureFormattedFaultSweep(t *testing.T) {
	dirs := []string{"/d1/kafka", "/d2/kafka"}
	for k := 1; ; k++ {
		base := memfs.New()
		faulty := &faultFS{FS: base, failAt: k}
		_, _, err := EnsureFormatted(faulty, dirs, 1, testRandom(uint64(k)))
		if err == nil {
			if k == 1 {
				t.Fatal("no mutating calls made")
			}
			t.Logf("swept %d failure points", k-1)
			return
		}
		if !errors.Is(err, diskio.ErrInjected) {
			t.Fatalf("k=%d: unexpected error %v", k, err)
		}
		for i, clone := range crashClones(base, k) {
			ids, cluster, err := EnsureFormatted(clone, dirs, 1, testRandom(uint64(k+i)))
			if err != nil {
				t.Fatalf("k=%d clone %d: restart failed: %v", k, i, err)
			}
			for _, id := range ids {
				if id.Meta.ClusterID != cluster {
					t.Fatalf("k=%d clone %d: dir %s in cluster %s, not %s", k, i, id.Dir, id.Meta.ClusterID, cluster)
				}
			}
		}
	}
}

// TestManagerFaultSweep: the disk dies at every step of a workload (create logs, append, sync,
// checkpoint, delete); after the crash the manager reopens, and every sync the driver saw
// succeed kept its records.
func TestManagerFaultSweep(t *testing.T) {
	dirs := []string{"/d1/kafka", "/d2/kafka"}
	for k := 1; ; k++ {
		base := memfs.New()
		if _, err := Format(base, dirs, testCluster, 1, testRandom(1), FormatOptions{}); err != nil {
			t.Fatal(err)
		}
		faulty := &faultFS{FS: base}
		m, err := OpenManager(faulty, ManagerOptions{LogDirs: dirs, NodeID: 1, Random: testRandom(2), NowMs: 1})
		if err != nil {
			t.Fatal(err)
		}
		faulty.failAt = faulty.calls + k
		acked := map[TopicPartition]record.Offset{}
		err = sweepWorkload(t, faulty, m, acked)
		if err == nil {
			t.Logf("swept %d failure points", k-1)
			m.Close()
			return
		}
		if !errors.Is(err, diskio.ErrInjected) {
			t.Fatalf("k=%d: unexpected error %v", k, err)
		}
		for i, clone := range crashClones(base, k) {
			m2, err := OpenManager(clone, ManagerOptions{LogDirs: dirs, NodeID: 1, Random: testRandom(3), NowMs: 2,
				ConfigFor: func(TopicPartition) log.Config { return smallConfig() }})
			if err != nil {
				t.Fatalf("k=%d clone %d: reopen: %v", k, i, err)
			}
			for tp, want := range acked {
				l, ok := m2.GetLog(tp)
				if !ok {
					t.Fatalf("k=%d clone %d: acknowledged partition %s lost", k, i, tp)
				}
				if l.EndOffset() < want {
					t.Fatalf("k=%d clone %d: %s end %d below acknowledged %d", k, i, tp, l.EndOffset(), want)
				}
			}
			m2.Close()
		}
	}
}

// sweepWorkload runs until the first error. acked gets each partition's durable offset after
// each sync reported successful.
func sweepWorkload(t *testing.T, fsys diskio.FS, m *Manager, acked map[TopicPartition]record.Offset) error {
	t.Helper()
	syncs := func() error {
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
				return err
			}
			l, _ := m.GetLog(ps.TopicPartition)
			acked[ps.TopicPartition] = l.DurableOffset()
		}
		return nil
	}
	for round := range 3 {
		for p := range int32(3) {
			tp := TopicPartition{"sweep", p}
			l, err := m.CreateLog(tp, topicID(t, 0), smallConfig())
			if err != nil {
				return err
			}
			for i := range 3 {
				batch, err := record.AppendBatch(nil, record.BatchOptions{PartitionLeaderEpoch: -1, ProducerID: -1,
					ProducerEpoch: -1, BaseSequence: -1, FirstTimestamp: 1},
					[]record.Record{{Value: []byte(fmt.Sprintf("r%d-%d", round, i))}})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := l.Append(batch, log.AppendOptions{AssignOffsets: true, NowMs: 1}); err != nil {
					return err
				}
			}
		}
		if err := syncs(); err != nil {
			return err
		}
		if err := m.WriteCheckpoints(); err != nil {
			return err
		}
	}
	ops, err := m.DeleteLog(TopicPartition{"sweep", 2})
	if err != nil {
		return err
	}
	delete(acked, TopicPartition{"sweep", 2})
	for _, op := range ops {
		if err := fsys.Remove(op.Path); err != nil {
			return err
		}
	}
	return syncs()
}
