package osfs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/fstest"
	"github.com/weirdata/weir/diskio/osfs"
)

func TestConformance(t *testing.T) {
	fstest.Run(t, func(t *testing.T) (diskio.FS, string) { return osfs.New(), t.TempDir() })
}

// TestConcurrentReadWrite runs readers against a writer on one File, and closes it while
// readers may still be running: under -race this checks the descriptor handling.
func TestConcurrentReadWrite(t *testing.T) {
	fs := osfs.New()
	f, err := fs.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	const chunkBytes, chunks = 4096, 64
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range chunks {
			if _, err := f.WriteAt(bytes.Repeat([]byte{byte(i)}, chunkBytes), int64(i*chunkBytes)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			buf := make([]byte, chunkBytes)
			for i := range chunks {
				n, err := f.ReadAt(buf, int64(i*chunkBytes))
				if err != nil && !errors.Is(err, io.EOF) {
					t.Error(err)
					return
				}
				// Each byte is either not yet written or written.
				for _, b := range buf[:n] {
					if b != byte(i) && b != 0 {
						t.Errorf("chunk %d holds %d", i, b)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for range 4 {
		wg.Go(func() {
			buf := make([]byte, 16)
			for range 1000 {
				if _, err := f.ReadAt(buf, 0); err != nil {
					if !errors.Is(err, iofs.ErrClosed) {
						t.Error(err)
					}
					return
				}
			}
		})
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

func TestLockHeldByAnotherDescriptor(t *testing.T) {
	fs := osfs.New()
	name := filepath.Join(t.TempDir(), "LOCK")
	l, err := fs.Lock(name)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// A lock taken outside osfs (another process would look the same) blocks osfs too.
	fd, err := unix.Open(name, unix.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("want EWOULDBLOCK, got %v", err)
	}
}

func TestErrorsCarryOpAndPath(t *testing.T) {
	fs := osfs.New()
	name := filepath.Join(t.TempDir(), "missing")
	_, err := fs.Open(name)
	var pathErr *iofs.PathError
	if !errors.As(err, &pathErr) || pathErr.Op != "open" || pathErr.Path != name {
		t.Fatalf("got %#v", err)
	}
	err = fs.Rename(name, name+".new")
	if !errors.As(err, &pathErr) || pathErr.Op != "rename" || pathErr.Path != fmt.Sprintf("%s -> %s.new", name, name) {
		t.Fatalf("got %#v", err)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("rename error does not match ErrNotExist: %v", err)
	}
}
