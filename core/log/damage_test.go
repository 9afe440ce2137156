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
