package memfs_test

import (
	"testing"

	"github.com/weirdata/weir/diskio/memfs"
)

// BenchmarkAppendSync appends 4 KiB writes and syncs every 16, like a log segment under group
// commit.
func BenchmarkAppendSync(b *testing.B) {
	fs := memfs.New()
	f, err := fs.Create("seg")
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	offset := int64(0)
	for i := 0; b.Loop(); i++ {
		if _, err := f.WriteAt(buf, offset); err != nil {
			b.Fatal(err)
		}
		offset += int64(len(buf))
		if i%16 == 15 {
			if err := f.SyncData(); err != nil {
				b.Fatal(err)
			}
		}
		if offset >= 64<<20 {
			offset = 0
		}
	}
}

// BenchmarkCrashClone clones 16 files of 1 MiB, each with 64 KiB unsynced.
func BenchmarkCrashClone(b *testing.B) {
	fs := memfs.New()
	data := make([]byte, 1<<20)
	for i := range 16 {
		f, err := fs.Create(string(rune('a' + i)))
		if err != nil {
			b.Fatal(err)
		}
		f.WriteAt(data, 0)
		f.Sync()
		f.WriteAt(data[:64<<10], 1<<20)
	}
	var seed uint64
	for b.Loop() {
		seed++
		fs.CrashClone(memfs.CrashConfig{Seed: seed})
	}
}
