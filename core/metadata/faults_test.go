package metadata

import (
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"testing"

	"github.com/weirdata/weir/core/uuid"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

// failingFS fails the failAt-th mutating or syncing operation (and every one after it, as a
// dead disk does) with diskio.ErrInjected. Reads pass.
type failingFS struct {
	diskio.FS
	ops, failAt int
}

func (f *failingFS) step(op string) error {
	f.ops++
	if f.failAt > 0 && f.ops >= f.failAt {
		return &iofs.PathError{Op: op, Path: "injected", Err: diskio.ErrInjected}
	}
	return nil
}

func (f *failingFS) wrap(file diskio.File, err error) (diskio.File, error) {
	if err != nil {
		return nil, err
	}
	return &failingFile{File: file, fs: f}, nil
}

func (f *failingFS) Create(name string) (diskio.File, error) {
	if err := f.step("create"); err != nil {
		return nil, err
	}
	return f.wrap(f.FS.Create(name))
}
func (f *failingFS) Open(name string) (diskio.File, error) { return f.wrap(f.FS.Open(name)) }
func (f *failingFS) OpenReadWrite(name string) (diskio.File, error) {
	if err := f.step("open"); err != nil {
		return nil, err
	}
	return f.wrap(f.FS.OpenReadWrite(name))
}
func (f *failingFS) OpenDir(name string) (diskio.File, error) { return f.wrap(f.FS.OpenDir(name)) }
func (f *failingFS) Remove(name string) error {
	if err := f.step("remove"); err != nil {
		return err
	}
	return f.FS.Remove(name)
}
func (f *failingFS) RemoveAll(name string) error {
	if err := f.step("removeall"); err != nil {
		return err
	}
	return f.FS.RemoveAll(name)
}
func (f *failingFS) Rename(oldname, newname string) error {
	if err := f.step("rename"); err != nil {
		return err
	}
	return f.FS.Rename(oldname, newname)
}
func (f *failingFS) MkdirAll(dir string, perm iofs.FileMode) error {
	if err := f.step("mkdir"); err != nil {
		return err
	}
	return f.FS.MkdirAll(dir, perm)
}
func (f *failingFS) Lock(name string) (io.Closer, error) { return f.FS.Lock(name) }

type failingFile struct {
	diskio.File
	fs *failingFS
}

func (f *failingFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.step("write"); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}
func (f *failingFile) Sync() error {
	if err := f.fs.step("sync"); err != nil {
		return err
	}
	return f.File.Sync()
}
func (f *failingFile) SyncData() error {
	if err := f.fs.step("syncdata"); err != nil {
		return err
	}
	return f.File.SyncData()
}
func (f *failingFile) Truncate(size int64) error {
	if err := f.fs.step("truncate"); err != nil {
		return err
	}
	return f.File.Truncate(size)
}
func (f *failingFile) Preallocate(offset, length int64) error {
	if err := f.fs.step("preallocate"); err != nil {
		return err
	}
	return f.File.Preallocate(offset, length)
}

// TestQuorumLogErrorSweep runs one scenario (open, commands, flushes, snapshots with the log
// cut below them) with the k-th disk operation failing, and every one after it as a dead disk
// does, for every k until the scenario completes. Whatever failed, nothing panics, a failed
// flush poisons the log, and after a crash the log reopened on a healthy disk rebuilds the
// model's image at its recovered end, which is at least what was flushed when the disk failed.
func TestQuorumLogErrorSweep(t *testing.T) {
	for k := 1; ; k++ {
		mem := memfs.New()
		ffs := &failingFS{FS: mem, failAt: k}
		history := map[record.Offset]*Image{0: EmptyImage()}
		durable, completed := runQuorumLogFaultScenario(t, ffs, history)
		for seed := uint64(0); seed < 3; seed++ {
			after := mem.CrashClone(memfs.CrashConfig{Seed: seed, Mode: memfs.CrashMode(seed % 3)})
			q, err := OpenQuorumLog(after, testLogDir, smallQuorumLogConfig(), 0)
			if err != nil {
				t.Fatalf("k=%d seed=%d: reopen on a healthy disk: %v", k, seed, err)
			}
			end := q.EndOffset()
			want, ok := history[end]
			if end < durable || !ok {
				t.Fatalf("k=%d seed=%d: recovered to %d, durable was %d, known ends %d", k, seed, end, durable, len(history))
			}
			img, err := replayQuorumLog(q)
			if err != nil {
				t.Fatalf("k=%d seed=%d: rebuild the image: %v", k, seed, err)
			}
			if !img.Equal(want) {
				t.Fatalf("k=%d seed=%d: image at %d differs from the model", k, seed, end)
			}
			q.Close()
		}
		if completed {
			if k < 20 {
				t.Fatalf("scenario finished after only %d operations", k)
			}
			return
		}
	}
}

// runQuorumLogFaultScenario drives a QuorumLog on fsys until the first error. It records the
// image at every batch boundary appended in history and returns the durable offset reached and
// whether it finished.
func runQuorumLogFaultScenario(t *testing.T, fsys diskio.FS, history map[record.Offset]*Image) (record.Offset, bool) {
	q, err := OpenQuorumLog(fsys, testLogDir, smallQuorumLogConfig(), 0)
	if err != nil {
		return 0, false
	}
	defer q.Close()
	rng := rand.New(rand.NewPCG(11, 12))
	durable := record.Offset(0)
	img := EmptyImage()
	flush := func() bool {
		req, ok := q.PendingSync()
		if !ok {
			return q.Poisoned() == nil
		}
		err := req.Run(fsys)
		q.Synced(req, err)
		if err != nil {
			if q.Poisoned() == nil {
				t.Fatalf("a failed flush (%v) left the log usable", err)
			}
			if q.Append(leaderChangeEntry(1)) == nil {
				t.Fatal("a poisoned log took an append")
			}
			return false
		}
		durable = q.DurableOffset()
		return true
	}
	appendCommand := func(records []Record) bool {
		next, err := img.Apply(records)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := commandEntries(records, 1)
		if err != nil {
			t.Fatal(err)
		}
		// A failed append may still reach the disk (its outcome is unknown), so the model holds
		// the image it would make before knowing.
		history[q.EndOffset()+record.Offset(len(entries))] = next
		if err := q.Append(entries); err != nil {
			return false
		}
		img = next
		return flush()
	}
	if !appendCommand(BootstrapRecords(MetadataVersionDefault)) {
		return durable, false
	}
	for i := 0; i < 40; i++ {
		records, err := NewTopicRecords(fmt.Sprintf("t%d", i), uuid.FromRand(rng), [][]int32{{0}, {0}}, map[string]string{"k": "v"})
		if err != nil {
			t.Fatal(err)
		}
		if !appendCommand(records) {
			return durable, false
		}
		if i%10 != 9 {
			continue
		}
		w, err := q.PrepareSnapshot(history[durable], durable, 1)
		if err != nil {
			return durable, false
		}
		if err := w.Run(fsys); err != nil {
			return durable, false
		}
		if err := q.RecordSnapshot(w.ID); err != nil {
			t.Fatalf("record the snapshot just written: %v", err)
		}
		ops, err := q.DeleteBefore(w.ID, 1)
		if err != nil {
			return durable, false
		}
		if err := log.RunFileOps(fsys, ops); err != nil {
			return durable, false
		}
	}
	return durable, true
}
