package osfs_test

import (
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/osfs"
)

// TestNoSpace fills a small tmpfs when the test may mount one (root in a private mount
// namespace); elsewhere it is skipped.
func TestNoSpace(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, 0) }) // before TempDir's cleanup removes dir
	fs := osfs.New()
	f, err := fs.Create(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = f.WriteAt(make([]byte, 1<<20), 0)
	if !errors.Is(err, diskio.ErrNoSpace) || !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("want ErrNoSpace and ENOSPC, got %v", err)
	}
}
