package metadata

import (
	"testing"

	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio/memfs"
)

// BenchmarkQuorumLogAppendFlush: a proposal of 10 entries of 100 bytes (one batch) per append,
// one flush per append.
func BenchmarkQuorumLogAppendFlush(b *testing.B) {
	fsys := memfs.New()
	q, err := OpenQuorumLog(fsys, testLogDir, DefaultQuorumLogConfig(), 0)
	if err != nil {
		b.Fatal(err)
	}
	entries := make([]quorum.Entry, 10)
	for i := range entries {
		entries[i] = quorum.Entry{Epoch: 1, Data: make([]byte, 100), MoreInBatch: i < len(entries)-1, TimestampMs: record.NoTimestamp}
	}
	b.SetBytes(10 * 100)
	b.ReportAllocs()
	for b.Loop() {
		if err := q.Append(entries); err != nil {
			b.Fatal(err)
		}
		flushQL(b, fsys, q)
	}
}

// BenchmarkQuorumLogRead: reads of 64 entries of 100 bytes (8 batches of 8) from a log of
// 10,000.
func BenchmarkQuorumLogRead(b *testing.B) {
	fsys := memfs.New()
	q, err := OpenQuorumLog(fsys, testLogDir, DefaultQuorumLogConfig(), 0)
	if err != nil {
		b.Fatal(err)
	}
	entries := make([]quorum.Entry, 96)
	for i := range entries {
		entries[i] = quorum.Entry{Epoch: 1, Data: make([]byte, 100), MoreInBatch: i%8 < 7, TimestampMs: record.NoTimestamp}
	}
	for q.EndOffset() < 10000 {
		if err := q.Append(entries); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(64 * 100)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		from := q.Start().EndOffset + record.Offset((i*64)%(9984-64)) // a batch boundary
		if _, err := q.Read(from, 64); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
