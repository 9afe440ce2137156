package log

import (
	"errors"
	"testing"

	"github.com/weirdata/weir/core/record"
)

// TestOffsetPastDamage: from every offset, the step lands on the next offset the segment's
// index locates (an entry's offset, the last of a batch a read can start at) or on the next
// segment's base or the log end, never at or below from, never in a later segment.
func TestOffsetPastDamage(t *testing.T) {
	l := mustOpen(t, newMemFS(), testConfig(), OpenOptions{NowMs: 1000})
	defer l.Close()
	for i := range 120 {
		if _, err := l.Append(makeBatch(t, 0, 1+i%3, 90, 1000), AppendOptions{AssignOffsets: true, NowMs: 1000}); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.segments) < 4 {
		t.Fatalf("only %d segments", len(l.segments))
	}
	end := l.EndOffset()
	indexed := 0
	for from := l.StartOffset(); from < end; from++ {
		i := l.segmentIndex(from)
		s := l.segments[i]
		want := end
		if i+1 < len(l.segments) {
			want = l.segments[i+1].baseOffset
		}
		if _, err := l.files(s); err != nil {
			t.Fatal(err)
		}
		for e := range s.indexEntries {
			o, _, err := l.readOffsetIndexEntry(s, e)
			if err != nil {
				t.Fatal(err)
			}
			if o > from {
				want = o
				break
			}
		}
		got, err := l.OffsetPastDamage(from)
		if err != nil || got != want {
			t.Fatalf("OffsetPastDamage(%d) = %d, %v; want %d", from, got, err, want)
		}
		if i+1 < len(l.segments) && got < l.segments[i+1].baseOffset {
			indexed++
			// A read from there starts at the indexed batch, which ends at got.
			plan, err := l.Read(got, 1, end, true)
			if err != nil || plan.NextOffset != got+1 || plan.Ranges[0].Path != s.logPath {
				t.Fatalf("read from the step %d: %+v, %v", got, plan, err)
			}
		}
	}
	if indexed == 0 {
		t.Fatal("no step landed on an index entry: the test checks only segment bases")
	}
	for _, from := range []record.Offset{l.StartOffset() - 1, end} {
		if _, err := l.OffsetPastDamage(from); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("OffsetPastDamage(%d) outside the log: %v", from, err)
		}
	}
}

// TestReadServesBeforeAMissingTail is sim seed 2197's shape: the segment's last append was a
// misdirected write (it landed further back in the file, over earlier batches), so the file
// ends where that batch should start while the log counts its bytes. The missing batch is
// damage like a bad header: a read from before it serves the batches up to it — whether it
// walks their headers or jumps over them by the index — and a read from it is refused with
// ErrCorruptLog. It was an I/O error (io.ErrUnexpectedEOF) that failed every read whose
// plan reached the missing bytes, so the intact batches before them were never served.
func TestReadServesBeforeAMissingTail(t *testing.T) {
	for _, tc := range []struct {
		name          string
		indexInterval int64
	}{
		{"walked", 1 << 20}, // no index entries: Read parses every header up to the tail
		{"jumped", 0},       // every batch indexed: Read jumps over headers to the last entry
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := newMemFS()
			cfg := testConfig()
			cfg.SegmentBytes = 1 << 20
			cfg.IndexIntervalBytes = tc.indexInterval
			l := mustOpen(t, fsys, cfg, OpenOptions{})
			defer l.Close()
			var positions []int64
			for i := range 10 {
				positions = append(positions, l.SizeBytes())
				if _, err := l.Append(makeBatch(t, 0, 2, 10, int64(i)), AppendOptions{AssignOffsets: true}); err != nil {
					t.Fatal(err)
				}
			}
			syncAll(t, l)
			// The last batch (offsets 18-19) never reached the file.
			f, err := fsys.OpenReadWrite(l.active().logPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(positions[9]); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			for _, from := range []record.Offset{0, 8, 17} {
				plan, err := l.Read(from, 1<<20, l.EndOffset(), true)
				if err != nil || plan.NextOffset != 18 || plan.SizeBytes != positions[9]-positions[from/2] {
					t.Fatalf("read from %d: %+v, %v; want offsets up to 18 in %d bytes", from, plan, err, positions[9]-positions[from/2])
				}
				if _, err := AppendPlan(fsys, nil, plan); err != nil {
					t.Fatalf("executing the plan from %d: %v", from, err)
				}
			}
			for _, from := range []record.Offset{18, 19} {
				if plan, err := l.Read(from, 1<<20, l.EndOffset(), true); !errors.Is(err, ErrCorruptLog) {
					t.Fatalf("read from %d: %+v, %v; want ErrCorruptLog", from, plan, err)
				}
			}
		})
	}
}
