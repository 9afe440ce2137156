package log

import (
	"errors"
	"testing"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// FuzzRecover hands Open arbitrary bytes as a segment (and optionally as its indexes). Open
// must not panic or fail (bad bytes on disk are truncated away, not errors); every batch a
// read plan then covers must validate; and the log must take appends afterwards.
//
// With trusted set, the fuzzed segment lies below the recovery point, followed by a valid
// one: it is not scanned, only its indexes checked. Reads of it may then report
// ErrCorruptLog, but nothing may panic.
func FuzzRecover(f *testing.F) {
	var valid []byte
	for i := 0; i < 6; i++ {
		valid = append(valid, makeBatch(f, record.Offset(3*i), 3, 40*i, int64(i))...)
	}
	f.Add(valid, []byte(nil), false, false)
	f.Add(valid[:len(valid)-5], []byte(nil), false, false)
	f.Add(append(valid[:len(valid):len(valid)], make([]byte, 100)...), []byte{0, 0, 0, 5, 0, 0, 0, 80}, true, false)
	f.Add(valid, []byte{0, 0, 0, 5, 0, 0, 1, 0}, true, true)
	f.Add([]byte{}, []byte{}, true, false)
	f.Fuzz(func(t *testing.T, segment, index []byte, withIndex, trusted bool) {
		fsys := newMemFS()
		if err := fsys.MkdirAll(testDir, 0o755); err != nil {
			t.Fatal(err)
		}
		write := func(name string, data []byte) {
			fl, err := fsys.Create(diskio.Join(testDir, name))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fl.WriteAt(data, 0); err != nil {
				t.Fatal(err)
			}
			fl.Close()
		}
		write(offsetFileName(0, logSuffix), segment)
		if withIndex {
			write(offsetFileName(0, indexSuffix), index)
			write(offsetFileName(0, timeIndexSuffix), index)
		}
		opts := OpenOptions{}
		const nextBase = 1 << 20
		if trusted {
			write(offsetFileName(nextBase, logSuffix), makeBatch(t, nextBase, 2, 10, 5))
			opts.RecoveryPoint = nextBase + 2
		}
		cfg := testConfig()
		l, err := Open(fsys, testDir, cfg, opts)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		for from := l.StartOffset(); from < l.EndOffset(); {
			plan, err := l.Read(from, 1<<20, l.EndOffset(), true)
			if trusted && errors.Is(err, ErrCorruptLog) {
				break
			}
			if err != nil {
				t.Fatalf("read from %d: %v", from, err)
			}
			if plan.NextOffset <= from && len(plan.Ranges) == 0 {
				break
			}
			data, err := readPlan(fsys, plan)
			if err != nil {
				t.Fatal(err)
			}
			for len(data) > 0 {
				h, err := record.ParseHeader(data)
				if err != nil || h.SizeBytes() > int64(len(data)) {
					if trusted {
						break
					}
					t.Fatalf("plan from %d covers a bad header: %v", from, err)
				}
				if _, err := record.Validate(data[:h.SizeBytes()]); err != nil && !trusted {
					t.Fatalf("plan from %d covers a bad batch: %v", from, err)
				}
				data = data[h.SizeBytes():]
			}
			from = plan.NextOffset
		}
		if trusted {
			return
		}
		_, _, _, _ = l.OffsetForTimestamp(0)
		_, _ = l.MaxTimestamp()
		end := l.EndOffset()
		res, err := l.Append(makeBatch(t, 0, 1, 5, 1), AppendOptions{AssignOffsets: true})
		if err != nil || res.BaseOffset != end {
			t.Fatalf("append after recovery: %+v %v", res, err)
		}
		if got := readAllBatches(t, l); len(got) == 0 {
			t.Fatal("appended batch not readable")
		}
	})
}

// FuzzParsePartitionMetadata: whatever parses re-encodes to Kafka's exact form, which parses
// back to the same id.
func FuzzParsePartitionMetadata(f *testing.F) {
	f.Add([]byte("version: 0\ntopic_id: X6wn3fOXRgO0Gt4anI3Ysg"))
	f.Add([]byte("version:\t00\r\ntopic_id:  X6wn3fOXRgO0Gt4anI3Ysg==\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := ParsePartitionMetadata(data)
		if err != nil {
			return
		}
		enc := EncodePartitionMetadata(id)
		again, err := ParsePartitionMetadata(enc)
		if err != nil || again != id || string(enc) != "version: 0\ntopic_id: "+id.String() {
			t.Fatalf("round trip %v → %q → %v, %v", id, enc, again, err)
		}
	})
}
