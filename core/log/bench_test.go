package log

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/osfs"
)

// benchBatch is a 16 KiB batch of 1 KiB records, the benchmarks' unit.
func benchBatch(tb tester) []byte {
	records := make([]record.Record, 16)
	for i := range records {
		records[i] = record.Record{OffsetDelta: int32(i), TimestampDelta: int64(i), Value: bytes.Repeat([]byte{byte(i)}, 1000)}
	}
	b, err := record.AppendBatch(nil, record.BatchOptions{
		PartitionLeaderEpoch: record.NoPartitionLeaderEpoch, FirstTimestamp: 1_700_000_000_000,
		ProducerID: record.NoProducerID, ProducerEpoch: -1, BaseSequence: record.NoSequence,
	}, records)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkAppend measures leader appends of 16 KiB batches into the page cache (no syncs;
// see the sync variant), with 64 MiB segments rolling and retention keeping 256 MiB.
func BenchmarkAppend(b *testing.B) {
	for _, backend := range []string{"memfs", "osfs"} {
		for _, syncEvery := range []int{0, 64} {
			b.Run(fmt.Sprintf("%s/sync-every=%d", backend, syncEvery), func(b *testing.B) {
				var fsys diskio.FS = newMemFS()
				dir := testDir
				if backend == "osfs" {
					fsys, dir = osfs.New(), diskio.Join(b.TempDir(), "topic-0")
				}
				cfg := DefaultConfig()
				cfg.SegmentBytes = 64 << 20
				cfg.RetentionBytes = 256 << 20
				l, err := Open(fsys, dir, cfg, OpenOptions{})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				batch := benchBatch(b)
				opts := AppendOptions{AssignOffsets: true, LeaderEpoch: 1, NowMs: 1_700_000_000_000}
				b.SetBytes(int64(len(batch)))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := l.Append(batch, opts); err != nil {
						b.Fatal(err)
					}
					i++
					if syncEvery > 0 && i%syncEvery == 0 {
						req, _ := l.PendingSync()
						l.Synced(req, req.Run(fsys))
					}
					if i%8192 == 0 {
						if syncEvery == 0 {
							// Let retention's unlinks free the memory of deleted segments.
							req, _ := l.PendingSync()
							l.Synced(req, req.Run(fsys))
						}
						ops, err := l.ApplyRetention(opts.NowMs)
						if err != nil {
							b.Fatal(err)
						}
						runFileOps(b, fsys, ops)
					}
				}
			})
		}
	}
}

// BenchmarkRecover measures Open scanning one large segment from offset 0: every batch's
// header and CRC32C checked and both indexes rebuilt (memfs, so the disk is not measured).
func BenchmarkRecover(b *testing.B) {
	for _, segmentBytes := range []int64{256 << 20, 1 << 30} {
		b.Run(fmt.Sprintf("%dMiB", segmentBytes>>20), func(b *testing.B) {
			fsys := newMemFS()
			cfg := DefaultConfig()
			cfg.SegmentBytes = segmentBytes
			l, err := Open(fsys, testDir, cfg, OpenOptions{})
			if err != nil {
				b.Fatal(err)
			}
			batch := benchBatch(b)
			for l.SizeBytes()+int64(len(batch)) <= segmentBytes {
				if _, err := l.Append(batch, AppendOptions{AssignOffsets: true}); err != nil {
					b.Fatal(err)
				}
			}
			size, end := l.SizeBytes(), l.EndOffset()
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				l, err := Open(fsys, testDir, cfg, OpenOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if l.EndOffset() != end {
					b.Fatalf("recovered end %d, want %d", l.EndOffset(), end)
				}
				l.Close()
			}
		})
	}
}

// BenchmarkIndexLookup measures the sparse index lookup (binary search over entries read with
// ReadAt) in a 64 MiB segment with the default 4 KiB index interval (~4k entries), and a whole
// read plan (lookup plus header scan to the batch).
func BenchmarkIndexLookup(b *testing.B) {
	fsys := newMemFS()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 64 << 20
	l, err := Open(fsys, testDir, cfg, OpenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	records := []record.Record{{Value: make([]byte, 900)}}
	small, _ := record.AppendBatch(nil, record.BatchOptions{PartitionLeaderEpoch: -1, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, records)
	for l.SizeBytes()+int64(len(small)) <= cfg.SegmentBytes {
		if _, err := l.Append(small, AppendOptions{AssignOffsets: true}); err != nil {
			b.Fatal(err)
		}
	}
	s := l.active()
	end := int64(l.EndOffset())
	b.Run("lookup", func(b *testing.B) {
		b.Logf("%d index entries", s.indexEntries)
		rng := rand.New(rand.NewPCG(1, 2))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := l.lookupPosition(s, record.Offset(rng.Int64N(end))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("read-plan", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := l.Read(record.Offset(rng.Int64N(end)), 1<<20, l.EndOffset(), true); err != nil {
				b.Fatal(err)
			}
		}
	})
}
