package diskio_test

import (
	"testing"

	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/errorfs"
	"github.com/weirdata/weir/diskio/fstest"
	"github.com/weirdata/weir/diskio/memfs"
	"github.com/weirdata/weir/diskio/osfs"
)

func TestConformanceOS(t *testing.T) {
	fstest.Run(t, func(t *testing.T) (diskio.FS, string) { return osfs.New(), t.TempDir() })
}

func TestConformanceMem(t *testing.T) {
	fstest.Run(t, func(t *testing.T) (diskio.FS, string) {
		fs := memfs.New()
		if err := fs.MkdirAll("/data", 0o755); err != nil {
			t.Fatal(err)
		}
		return fs, "/data"
	})
}

func TestConformanceMemRoot(t *testing.T) {
	fstest.Run(t, func(t *testing.T) (diskio.FS, string) { return memfs.New(), "/" })
}

func TestConformanceErrorFSNever(t *testing.T) {
	fstest.Run(t, func(t *testing.T) (diskio.FS, string) {
		return errorfs.Wrap(memfs.New(), errorfs.Never()), "/"
	})
	fstest.Run(t, func(t *testing.T) (diskio.FS, string) {
		return errorfs.Wrap(osfs.New(), errorfs.Never()), t.TempDir()
	})
}
