package producer

import (
	"bytes"
	"errors"
	"testing"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

// storedBatch is where one batch of a test log lies.
type storedBatch struct {
	path        string
	position    int64
	base, next  record.Offset
	firstInFile bool
}

// idempotentLog writes a log of several segments with idempotent batches from three producers,
// each producing last in the active segment, and returns the file system, the state as the
// leader kept it, and where every batch lies. The log is closed.
func idempotentLog(t *testing.T, dir string) (*memfs.FS, *State, []storedBatch, log.Config) {
	t.Helper()
	fsys := memfs.New()
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := log.DefaultConfig()
	cfg.SegmentBytes = 2048
	cfg.IndexIntervalBytes = 400 // sparse: most batches are not indexed
	l, err := log.Open(fsys, dir, cfg, log.OpenOptions{NowMs: 1000})
	if err != nil {
		t.Fatal(err)
	}
	live := newTestState(t, DefaultConfig())
	seqs := make([]int32, 3)
	for i := range 63 {
		p := i % len(seqs)
		n := 1 + i%3
		nowMs := int64(10_000 + i)
		opts := record.BatchOptions{FirstTimestamp: nowMs, ProducerID: int64(700 + p), ProducerEpoch: 0,
			BaseSequence: seqs[p], PartitionLeaderEpoch: record.NoPartitionLeaderEpoch}
		seqs[p] += int32(n)
		records := make([]record.Record, n)
		for j := range records {
			records[j] = record.Record{OffsetDelta: int32(j), Value: bytes.Repeat([]byte{byte(i)}, 40)}
		}
		buf, err := record.AppendBatch(nil, opts, records)
		if err != nil {
			t.Fatal(err)
		}
		res, err := l.Append(buf, log.AppendOptions{AssignOffsets: true, NowMs: nowMs})
		if err != nil {
			t.Fatal(err)
		}
		h, _ := record.ParseHeader(buf)
		live.Update(h, res.BaseOffset, nowMs)
	}
	if l.SegmentCount() < 5 {
		t.Fatalf("only %d segments", l.SegmentCount())
	}
	var stored []storedBatch
	for from := l.StartOffset(); from < l.EndOffset(); {
		plan, err := l.Read(from, 1, l.EndOffset(), true)
		if err != nil || len(plan.Ranges) != 1 {
			t.Fatalf("read %d: %+v %v", from, plan, err)
		}
		r := plan.Ranges[0]
		stored = append(stored, storedBatch{path: r.Path, position: r.Position, base: plan.FirstOffset, next: plan.NextOffset, firstInFile: r.Position == 0})
		from = plan.NextOffset
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return fsys, live, stored, cfg
}

// TestRebuildStepsOverDamage: bytes the disk changed below the recovery point (recovery does
// not scan there, as Kafka's does not) fail no restart: Rebuild steps over the batches it
// cannot read, says so, and still ends at the log end with every producer's latest batches.
// (Seed 1249 with every fault: a misdirected write zeroed the first batch of a segment, a
// producer snapshot was missing, and every restart failed rebuilding the state.)
func TestRebuildStepsOverDamage(t *testing.T) {
	const dir = "data/t-0"
	cases := []struct {
		name string
		// pick chooses the damaged batch among the stored ones; damage changes the file.
		pick   func(stored []storedBatch) storedBatch
		damage func(t *testing.T, fsys *memfs.FS, b storedBatch)
	}{
		{"zeroed header at a segment's start", func(stored []storedBatch) storedBatch {
			return nthFirstInFile(t, stored, 2)
		}, zeroHeader},
		{"zeroed header inside a segment", func(stored []storedBatch) storedBatch {
			b := nthFirstInFile(t, stored, 2)
			for _, c := range stored {
				if c.path == b.path && c.position > 0 && c.base > b.base+4 {
					return c
				}
			}
			t.Fatal("no batch inside the segment")
			return b
		}, zeroHeader},
		{"an earlier header landed on a batch", func(stored []storedBatch) storedBatch {
			return stored[len(stored)/3]
		}, func(t *testing.T, fsys *memfs.FS, b storedBatch) {
			// The segment's first header where a later one belongs (a misdirected write):
			// it parses, but its offsets go backwards.
			src := headerAt(t, fsys, b.path, 0)
			writeAt(t, fsys, b.path, b.position, src)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsys, live, stored, cfg := idempotentLog(t, dir)
			b := tc.pick(stored)
			tc.damage(t, fsys, b)
			end := stored[len(stored)-1].next
			l, err := log.Open(fsys, dir, cfg, log.OpenOptions{RecoveryPoint: end, NowMs: 20_000})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if l.EndOffset() != end {
				t.Fatalf("recovery moved the end to %d from %d: the damage must be below the recovery point", l.EndOffset(), end)
			}
			if _, err := l.Read(b.base, 1<<20, end, true); err == nil {
				t.Fatalf("the damage at offset %d is not seen by a read", b.base)
			}
			rebuilt := newTestState(t, DefaultConfig())
			res, err := Rebuild(fsys, l, rebuilt)
			if err != nil {
				t.Fatalf("rebuild over damage at offset %d (%s at %d): %v", b.base, b.path, b.position, err)
			}
			// One stretch stepped over, from the damaged batch to no further than the next
			// segment: what the damage destroyed, with the batches the sparse index does not
			// locate.
			if res.SkippedCount != 1 || len(res.Skipped) != 1 {
				t.Fatalf("skipped %+v", res)
			}
			sk := res.Skipped[0]
			segmentEnd := end
			for _, c := range stored {
				if c.firstInFile && c.base > b.base {
					segmentEnd = c.base
					break
				}
			}
			if sk.From != b.base || sk.To <= b.base || sk.To > segmentEnd || !errors.Is(sk.Err, log.ErrCorruptLog) {
				t.Fatalf("skipped %+v; the damaged batch is [%d, %d), its segment ends at %d", sk, b.base, b.next, segmentEnd)
			}
			if rebuilt.EndOffset() != end {
				t.Fatalf("rebuilt to %d, log end %d", rebuilt.EndOffset(), end)
			}
			want, got := live.Entries(), rebuilt.Entries()
			if len(want) != len(got) {
				t.Fatalf("%d producers, want %d", len(got), len(want))
			}
			for i := range want {
				w, g := want[i], got[i]
				if w.ProducerID != g.ProducerID || w.ProducerEpoch != g.ProducerEpoch || len(g.Batches) == 0 ||
					g.Batches[len(g.Batches)-1] != w.Batches[len(w.Batches)-1] {
					t.Fatalf("producer %d: got %+v, want %+v", w.ProducerID, g, w)
				}
			}
		})
	}
}

func nthFirstInFile(t *testing.T, stored []storedBatch, n int) storedBatch {
	t.Helper()
	for _, b := range stored {
		if b.firstInFile {
			if n == 0 {
				return b
			}
			n--
		}
	}
	t.Fatal("too few segments")
	return storedBatch{}
}

func zeroHeader(t *testing.T, fsys *memfs.FS, b storedBatch) {
	writeAt(t, fsys, b.path, b.position, make([]byte, record.HeaderSizeBytes))
}

func headerAt(t *testing.T, fsys *memfs.FS, path string, position int64) []byte {
	t.Helper()
	data, err := diskio.ReadFile(fsys, path)
	if err != nil {
		t.Fatal(err)
	}
	return data[position : position+record.HeaderSizeBytes]
}

func writeAt(t *testing.T, fsys *memfs.FS, path string, position int64, b []byte) {
	t.Helper()
	f, err := fsys.OpenReadWrite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, position); err != nil {
		t.Fatal(err)
	}
}
