package osfs_test

import (
	"path/filepath"
	"testing"

	"github.com/weirdata/weir/diskio/osfs"
)

// BenchmarkAppend appends 4 KiB with pwrite (page cache only).
func BenchmarkAppend(b *testing.B) {
	f, err := osfs.New().Create(filepath.Join(b.TempDir(), "seg"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	offset := int64(0)
	for b.Loop() {
		if _, err := f.WriteAt(buf, offset); err != nil {
			b.Fatal(err)
		}
		offset += int64(len(buf))
		if offset >= 64<<20 {
			offset = 0
		}
	}
}

// BenchmarkAppendSyncData appends 4 KiB and fdatasyncs each: the cost of an unbatched ack.
func BenchmarkAppendSyncData(b *testing.B) {
	f, err := osfs.New().Create(filepath.Join(b.TempDir(), "seg"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	offset := int64(0)
	for b.Loop() {
		if _, err := f.WriteAt(buf, offset); err != nil {
			b.Fatal(err)
		}
		if err := f.SyncData(); err != nil {
			b.Fatal(err)
		}
		offset += int64(len(buf))
	}
}

// BenchmarkReadAt reads 4 KiB from a cached file with pread.
func BenchmarkReadAt(b *testing.B) {
	f, err := osfs.New().Create(filepath.Join(b.TempDir(), "seg"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for i := range 256 {
		f.WriteAt(buf, int64(i*len(buf)))
	}
	b.SetBytes(int64(len(buf)))
	i := 0
	for b.Loop() {
		if _, err := f.ReadAt(buf, int64(i%256*len(buf))); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
