package memfs_test

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"

	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

func mustWrite(t *testing.T, fs diskio.FS, name string, data []byte, sync bool) diskio.File {
	t.Helper()
	f, err := fs.OpenReadWrite(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func mustSyncDir(t *testing.T, fs diskio.FS, dir string) {
	t.Helper()
	if err := diskio.SyncDir(fs, dir); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, fs diskio.FS, name string) bool {
	t.Helper()
	_, err := fs.Stat(name)
	if err == nil {
		return true
	}
	if !errors.Is(err, diskio.ErrNotExist) {
		t.Fatalf("stat %s: %v", name, err)
	}
	return false
}

func readAll(t *testing.T, fs diskio.FS, name string) []byte {
	t.Helper()
	data, err := diskio.ReadFile(fs, name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestCapacity(t *testing.T) {
	fs := memfs.New()
	fs.SetCapacityBytes(1000)
	f := mustWrite(t, fs, "a", make([]byte, 600), false)
	if _, err := f.WriteAt(make([]byte, 500), 600); !errors.Is(err, diskio.ErrNoSpace) {
		t.Fatalf("want ErrNoSpace, got %v", err)
	}
	if err := f.Preallocate(0, 2000); !errors.Is(err, diskio.ErrNoSpace) {
		t.Fatalf("want ErrNoSpace, got %v", err)
	}
	if err := f.Preallocate(0, 1000); err != nil {
		t.Fatal(err)
	}
	// Writes inside the preallocated extent need no new space.
	if _, err := f.WriteAt(make([]byte, 400), 600); err != nil {
		t.Fatal(err)
	}
	if fs.UsedBytes() != 1000 {
		t.Fatalf("used %d", fs.UsedBytes())
	}
	g := mustWrite(t, fs, "b", nil, false)
	if _, err := g.WriteAt([]byte{1}, 0); !errors.Is(err, diskio.ErrNoSpace) {
		t.Fatalf("want ErrNoSpace, got %v", err)
	}
	if err := fs.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.WriteAt([]byte{1}, 0); err != nil {
		t.Fatal(err)
	}
	if fs.UsedBytes() != 1 {
		t.Fatalf("used %d", fs.UsedBytes())
	}
}

func TestConcurrentUse(t *testing.T) {
	fs := memfs.New()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			name := fmt.Sprintf("f%d", g)
			f, err := fs.OpenReadWrite(name)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			buf := make([]byte, 64)
			for i := range 200 {
				if _, err := f.WriteAt(buf, int64(i*64)); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 0 {
					if err := f.SyncData(); err != nil {
						t.Error(err)
					}
					fs.CrashClone(memfs.CrashConfig{Seed: uint64(i)})
				}
				if _, err := f.ReadAt(buf, int64(i*32)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	names, err := fs.List("/")
	if err != nil || len(names) != 8 {
		t.Fatalf("names %v err %v", names, err)
	}
}

func TestFileBytesMax(t *testing.T) {
	fs := memfs.New()
	f := mustWrite(t, fs, "f", nil, false)
	if _, err := f.WriteAt([]byte{1}, memfs.FileBytesMax); !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("got %v", err)
	}
	if err := f.Truncate(memfs.FileBytesMax + 1); !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("got %v", err)
	}
	if err := f.Preallocate(1, memfs.FileBytesMax); !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("got %v", err)
	}
}
