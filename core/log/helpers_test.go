package log

import (
	"bytes"
	"fmt"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

const testDir = "data/topic-0"

// tester is what the helpers need from *testing.T, *testing.B and *rapid.T.
type tester interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// testConfig is a small configuration that makes rolls and index entries frequent.
func testConfig() Config {
	c := DefaultConfig()
	c.SegmentBytes = 4096
	c.IndexIntervalBytes = 256
	c.SegmentIndexBytes = 1200
	c.OpenSegmentsMax = 2
	c.ReadPlanBytesMax = 1 << 20
	return c
}

// makeBatch builds an uncompressed batch of count records with valueBytes-byte values;
// record i has timestamp firstTimestampMs+i.
func makeBatch(tb tester, base record.Offset, count, valueBytes int, firstTimestampMs int64) []byte {
	tb.Helper()
	records := make([]record.Record, count)
	for i := range records {
		v := bytes.Repeat([]byte{byte('a' + i%26)}, valueBytes)
		records[i] = record.Record{OffsetDelta: int32(i), TimestampDelta: int64(i), Key: []byte(fmt.Sprintf("k%d", i)), Value: v}
	}
	b, err := record.AppendBatch(nil, record.BatchOptions{
		BaseOffset:           base,
		PartitionLeaderEpoch: record.NoPartitionLeaderEpoch,
		FirstTimestamp:       firstTimestampMs,
		ProducerID:           record.NoProducerID,
		ProducerEpoch:        -1,
		BaseSequence:         record.NoSequence,
	}, records)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustOpen(tb tester, fsys diskio.FS, cfg Config, opts OpenOptions) *Log {
	tb.Helper()
	l, err := Open(fsys, testDir, cfg, opts)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	return l
}

// syncAll runs every pending sync to completion, as a driver would.
func syncAll(tb tester, l *Log) {
	tb.Helper()
	for {
		req, ok := l.PendingSync()
		if !ok {
			return
		}
		l.Synced(req, req.Run(l.fs))
	}
}

// runFileOps executes retention's file operations.
func runFileOps(tb tester, fsys diskio.FS, ops []FileOp) {
	tb.Helper()
	for _, op := range ops {
		if op.Kind != FileOpRemove {
			tb.Fatalf("unknown file op %v", op)
		}
		if err := fsys.Remove(op.Path); err != nil {
			tb.Fatalf("remove %s: %v", op.Path, err)
		}
	}
}

// readPlan executes a plan and returns the bytes, as the driver would.
func readPlan(fsys diskio.FS, plan ReadPlan) ([]byte, error) {
	var out []byte
	for _, r := range plan.Ranges {
		f, err := fsys.Open(r.Path)
		if err != nil {
			return nil, err
		}
		b := make([]byte, r.SizeBytes)
		_, err = readFull(f, b, r.Position)
		f.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

// readAllBatches reads every batch from the log start, checking each, and returns them.
func readAllBatches(tb tester, l *Log) [][]byte {
	tb.Helper()
	var batches [][]byte
	from := l.StartOffset()
	for from < l.EndOffset() {
		plan, err := l.Read(from, 1<<20, l.EndOffset(), true)
		if err != nil {
			tb.Fatalf("read from %d: %v", from, err)
		}
		if plan.NextOffset == from {
			break // a gap at the end (truncation inside a batch)
		}
		data, err := readPlan(l.fs, plan)
		if err != nil {
			tb.Fatalf("execute plan %+v: %v", plan, err)
		}
		for len(data) > 0 {
			h, err := record.ParseHeader(data)
			if err != nil {
				tb.Fatalf("plan from %d: %v", from, err)
			}
			b := data[:h.SizeBytes()]
			if _, err := record.Validate(b); err != nil {
				tb.Fatalf("plan from %d: %v", from, err)
			}
			batches = append(batches, b)
			data = data[h.SizeBytes():]
		}
		from = plan.NextOffset
	}
	return batches
}

// newMemFS returns a memfs holding a formatted, synced log dir "data".
func newMemFS() *memfs.FS {
	fsys := memfs.New()
	if err := fsys.MkdirAll("data", 0o755); err != nil {
		panic(err)
	}
	if err := diskio.SyncDir(fsys, "/"); err != nil {
		panic(err)
	}
	return fsys
}

// checkRecovered checks a log reopened after a crash or a failure against the model of what
// was written: every batch the model holds below the durable offset (and at or above the
// recovered start) is there unchanged, every batch above it is one that was once written at
// its offset, and every batch read validates. The recovered offsets are contiguous: a gap
// before a batch (after the previous one, or from the start) must be one the batch was
// appended after (a follower's gap), not records lost while a later batch survived, and the
// end follows the last record. The model becomes what survived.
func checkRecovered(tb tester, l *Log, model *logModel, durable record.Offset) {
	tb.Helper()
	start := l.StartOffset()
	if start > l.EndOffset() {
		tb.Fatalf("recovered start %d past end %d", start, l.EndOffset())
	}
	var want []modelBatch
	for _, b := range model.batches {
		if b.last >= start {
			want = append(want, b)
		}
	}
	got := readAllBatches(tb, l)
	var survived []modelBatch
	for i, b := range got {
		h, _ := record.ParseHeader(b)
		if h.LastOffset() < durable {
			if i >= len(want) || !bytes.Equal(b, want[i].data) {
				tb.Fatalf("durable batch %d (base %d, durable %d) lost or changed", i, h.BaseOffset, durable)
			}
		} else {
			found := false
			for _, old := range model.history[h.BaseOffset] {
				found = found || bytes.Equal(old.data, b)
			}
			if !found {
				tb.Fatalf("recovered batch at %d was never written", h.BaseOffset)
			}
		}
		if n := len(survived); n > 0 && h.BaseOffset <= survived[n-1].last {
			tb.Fatalf("recovered batch at %d not above the previous one", h.BaseOffset)
		}
		// Contiguity: the offsets between the previous record (or the start) and this batch.
		gapFrom := start
		if n := len(survived); n > 0 {
			gapFrom = survived[n-1].last + 1
		}
		if h.BaseOffset > gapFrom {
			followed := false
			for _, old := range model.history[h.BaseOffset] {
				// The gap lost nothing if none of its offsets were in the log when this batch was
				// appended: [gapFrom, base) and the log then, [prevStart, prevEnd), do not meet. A
				// follower's jump leaves prevEnd at or below gapFrom; an empty log held nothing
				// (after truncateTo below the log start, which Kafka also does, a crash can undo
				// the unsynced truncation while the start stays lowered).
				heldNone := max(gapFrom, old.prevStart) >= min(h.BaseOffset, old.prevEnd)
				followed = followed || (bytes.Equal(old.data, b) && heldNone)
			}
			if !followed {
				tb.Fatalf("recovered log skips offsets [%d, %d): batch at %d was appended after them", gapFrom, h.BaseOffset, h.BaseOffset)
			}
		}
		survived = append(survived, modelBatch{h.BaseOffset, h.LastOffset(), b})
	}
	wantEnd := start
	if n := len(survived); n > 0 {
		wantEnd = max(wantEnd, survived[n-1].last+1)
	}
	if l.EndOffset() != wantEnd {
		tb.Fatalf("recovered end %d, want %d: the offset after the last record (start %d)", l.EndOffset(), wantEnd, start)
	}
	for _, b := range want {
		if b.last < durable && (len(survived) == 0 || survived[len(survived)-1].last < b.last) {
			tb.Fatalf("durable batch at %d missing (durable %d, end %d)", b.base, durable, l.EndOffset())
		}
		if b.last < durable && l.EndOffset() <= b.last {
			tb.Fatalf("recovered end %d below durable batch [%d, %d]", l.EndOffset(), b.base, b.last)
		}
	}
	// Batches wholly below the start are not readable: keep the model's view of them.
	var below []modelBatch
	for _, b := range model.batches {
		if b.last < start {
			below = append(below, b)
		}
	}
	model.batches = append(below, survived...)
	model.start, model.end = start, l.EndOffset()
}
