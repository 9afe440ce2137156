package metadata

import (
	"errors"
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

// TestStoreErrorSweep runs one scenario (open, appends, syncs, snapshots) with the k-th disk
// operation failing, for every k until the scenario completes. Whatever failed, nothing panics,
// and after a crash the reopened store (on a healthy disk) holds the model's image at its
// recovered end, which is at least what was durable when the disk failed.
func TestStoreErrorSweep(t *testing.T) {
	for k := 1; ; k++ {
		mem := memfs.New()
		ffs := &failingFS{FS: mem, failAt: k}
		history := map[record.Offset]*Image{0: EmptyImage()}
		durable, completed := runFaultScenario(ffs, history)
		for seed := uint64(0); seed < 3; seed++ {
			after := mem.CrashClone(memfs.CrashConfig{Seed: seed, Mode: memfs.CrashMode(seed % 3)})
			s, err := OpenStore(after, testLogDir, smallStoreConfig(), 0)
			if err != nil {
				t.Fatalf("k=%d seed=%d: reopen on a healthy disk: %v", k, seed, err)
			}
			end := s.LatestOffset()
			want, ok := history[end]
			if end < durable || !ok {
				t.Fatalf("k=%d seed=%d: recovered to %d, durable was %d, known ends %v", k, seed, end, durable, len(history))
			}
			if !s.Latest().Equal(want) {
				t.Fatalf("k=%d seed=%d: image at %d differs from the model", k, seed, end)
			}
			s.Close()
		}
		if completed {
			if k < 20 {
				t.Fatalf("scenario finished after only %d operations", k)
			}
			return
		}
	}
}

// runFaultScenario drives a store on fsys until the first error. It records every appended end
// offset's image in history and returns the durable offset reached and whether it finished.
func runFaultScenario(fsys diskio.FS, history map[record.Offset]*Image) (record.Offset, bool) {
	s, err := OpenStore(fsys, testLogDir, smallStoreConfig(), 0)
	if err != nil {
		return 0, false
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(11, 12))
	durable := record.Offset(0)
	sync := func(req log.SyncRequest) bool {
		err := req.Run(fsys)
		s.Synced(req, err)
		if err != nil {
			return false
		}
		durable = s.CommittedOffset()
		return true
	}
	appendBatch := func(records []Record) bool {
		// A failed append may still reach the disk (its outcome is unknown), so the model holds
		// the image it would make before knowing.
		next, err := s.Latest().Apply(records)
		if err != nil {
			panic(err)
		}
		history[s.LatestOffset()+record.Offset(len(records))] = next
		res, err := s.Append(records, 1, 1)
		if err != nil {
			return false
		}
		if !res.Image.Equal(next) {
			panic("Append's image differs from the model")
		}
		if res.SyncNeeded && !sync(res.Sync) {
			return false
		}
		for {
			req, ok := s.PendingSync()
			if !ok {
				return true
			}
			if !sync(req) {
				return false
			}
		}
	}
	if !appendBatch(BootstrapRecords(MetadataVersionDefault)) {
		return durable, false
	}
	for i := 0; i < 40; i++ {
		records, err := NewTopicRecords(fmt.Sprintf("t%d", i), uuid.FromRand(rng), [][]int32{{0}, {0}}, map[string]string{"k": "v"})
		if err != nil {
			panic(err)
		}
		if !appendBatch(records) {
			return durable, false
		}
		if i%10 == 9 {
			w, err := s.PrepareSnapshot()
			if err != nil {
				return durable, false
			}
			if w != nil {
				ops, err := s.SnapshotWritten(w, w.Run(fsys), 1)
				if err != nil {
					return durable, false
				}
				for _, op := range ops {
					if err := fsys.Remove(op.Path); err != nil && !errors.Is(err, diskio.ErrNotExist) {
						return durable, false
					}
				}
			}
		}
	}
	return durable, true
}
