package log

import (
	"bytes"
	"errors"
	"testing"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/errorfs"
	"github.com/weirdata/weir/diskio/memfs"
)

// planSegment writes batches of three records each, from base offset base, to path on fsys,
// and returns the file's bytes and the end position of each batch.
func planSegment(t testing.TB, fsys diskio.FS, path string, base record.Offset, batches int) ([]byte, []int64) {
	t.Helper()
	var data []byte
	var ends []int64
	for i := range batches {
		records := make([]record.Record, 3)
		for j := range records {
			records[j] = record.Record{OffsetDelta: int32(j), Value: bytes.Repeat([]byte{byte('a' + i)}, 100+j)}
		}
		var err error
		data, err = record.AppendBatch(data, record.BatchOptions{
			BaseOffset: base + record.Offset(3*i), PartitionLeaderEpoch: 1, FirstTimestamp: 1700000000000,
			ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		}, records)
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, int64(len(data)))
	}
	writePlanFile(t, fsys, path, data)
	return data, ends
}

func writePlanFile(t testing.TB, fsys diskio.FS, path string, data []byte) {
	t.Helper()
	f, err := fsys.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func wholeFilePlan(path string, base record.Offset, ends []int64) ReadPlan {
	return ReadPlan{
		Ranges:      []FileRange{{Path: path, Position: 0, SizeBytes: ends[len(ends)-1]}},
		FirstOffset: base,
		NextOffset:  base + record.Offset(3*len(ends)),
		SizeBytes:   ends[len(ends)-1],
	}
}

func TestAppendPlan(t *testing.T) {
	fsys := memfs.New()
	read := func(plan ReadPlan) ([]byte, error) { return AppendPlan(fsys, nil, plan) }

	t.Run("whole", func(t *testing.T) {
		data, ends := planSegment(t, fsys, "whole.log", 0, 3)
		got, err := read(wholeFilePlan("whole.log", 0, ends))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("got %d bytes, err %v; want the file's %d", len(got), err, len(data))
		}
	})
	t.Run("appends to dst", func(t *testing.T) {
		data, ends := planSegment(t, fsys, "dst.log", 0, 2)
		got, err := AppendPlan(fsys, []byte("prefix"), wholeFilePlan("dst.log", 0, ends))
		if err != nil || !bytes.Equal(got, append([]byte("prefix"), data...)) {
			t.Fatalf("got %d bytes, err %v", len(got), err)
		}
	})
	t.Run("middle range", func(t *testing.T) {
		data, ends := planSegment(t, fsys, "middle.log", 30, 3)
		plan := ReadPlan{Ranges: []FileRange{{Path: "middle.log", Position: ends[0], SizeBytes: ends[2] - ends[0]}}, FirstOffset: 33, NextOffset: 39}
		got, err := read(plan)
		if err != nil || !bytes.Equal(got, data[ends[0]:]) {
			t.Fatalf("got %d bytes, err %v", len(got), err)
		}
	})
	t.Run("corrupt batch", func(t *testing.T) {
		data, ends := planSegment(t, fsys, "corrupt.log", 0, 3)
		data[ends[1]+record.HeaderSizeBytes+5] ^= 0xff // a record byte of the third batch: CRC fails
		writePlanFile(t, fsys, "corrupt.log", data)
		got, err := read(wholeFilePlan("corrupt.log", 0, ends))
		if !errors.Is(err, ErrPlanCut) || !errors.Is(err, record.ErrCorruptBatch) || !bytes.Equal(got, data[:ends[1]]) {
			t.Fatalf("got %d bytes, err %v; want the first two batches (%d bytes) cut at a corrupt batch", len(got), err, ends[1])
		}
	})
	t.Run("file shrank", func(t *testing.T) {
		data, ends := planSegment(t, fsys, "shrank.log", 0, 3)
		plan := wholeFilePlan("shrank.log", 0, ends)
		f, err := fsys.OpenReadWrite("shrank.log")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(ends[1] - 10); err != nil {
			t.Fatal(err)
		}
		f.Close()
		got, err := read(plan)
		if !errors.Is(err, ErrPlanCut) || !bytes.Equal(got, data[:ends[0]]) {
			t.Fatalf("got %d bytes, err %v; want the first batch (%d bytes)", len(got), err, ends[0])
		}
	})
	t.Run("file gone", func(t *testing.T) {
		got, err := read(wholeFilePlan("gone.log", 0, []int64{100}))
		if !errors.Is(err, ErrPlanCut) || !errors.Is(err, diskio.ErrNotExist) || len(got) != 0 {
			t.Fatalf("got %d bytes, err %v", len(got), err)
		}
	})
	t.Run("wrong offsets", func(t *testing.T) {
		_, ends := planSegment(t, fsys, "rewritten.log", 100, 2)
		got, err := read(wholeFilePlan("rewritten.log", 90, ends)) // the plan was made for another file
		if !errors.Is(err, ErrPlanCut) || len(got) != 0 {
			t.Fatalf("got %d bytes, err %v", len(got), err)
		}
	})
	t.Run("past the plan's end", func(t *testing.T) {
		data, ends := planSegment(t, fsys, "longer.log", 0, 3)
		plan := wholeFilePlan("longer.log", 0, ends)
		plan.NextOffset = 6 // the file holds a batch the plan did not promise
		got, err := read(plan)
		if !errors.Is(err, ErrPlanCut) || !bytes.Equal(got, data[:ends[1]]) {
			t.Fatalf("got %d bytes, err %v; want two batches", len(got), err)
		}
	})
	t.Run("negative range", func(t *testing.T) {
		got, err := read(ReadPlan{Ranges: []FileRange{{Path: "whole.log", SizeBytes: -1}}})
		if !errors.Is(err, ErrPlanCut) || len(got) != 0 {
			t.Fatalf("got %d bytes, err %v", len(got), err)
		}
	})
	t.Run("cut stops later ranges", func(t *testing.T) {
		first, ends1 := planSegment(t, fsys, "00.log", 0, 2)
		second, ends2 := planSegment(t, fsys, "06.log", 6, 2)
		broken := bytes.Clone(first)
		broken[ends1[1]-1] ^= 0xff // the last batch of the first file
		writePlanFile(t, fsys, "00.log", broken)
		plan := ReadPlan{Ranges: []FileRange{
			{Path: "00.log", SizeBytes: ends1[1]}, {Path: "06.log", SizeBytes: ends2[1]},
		}, FirstOffset: 0, NextOffset: 12}
		got, err := read(plan)
		if !errors.Is(err, ErrPlanCut) || !bytes.Equal(got, first[:ends1[0]]) {
			t.Fatalf("got %d bytes, err %v; want only the first batch", len(got), err)
		}
		// Whole, the two files are served back to back.
		writePlanFile(t, fsys, "00.log", first)
		got, err = read(plan)
		if err != nil || !bytes.Equal(got, append(bytes.Clone(first), second...)) {
			t.Fatalf("got %d bytes, err %v", len(got), err)
		}
	})
	t.Run("read error", func(t *testing.T) {
		_, ends := planSegment(t, fsys, "eio.log", 0, 2)
		failing := errorfs.Wrap(fsys, errorfs.OnKinds(errorfs.OpRead))
		got, err := AppendPlan(failing, nil, wholeFilePlan("eio.log", 0, ends))
		if !errors.Is(err, ErrPlanCut) || !errors.Is(err, diskio.ErrInjected) || len(got) != 0 {
			t.Fatalf("got %d bytes, err %v", len(got), err)
		}
	})
}

// FuzzWalkBatches: on any bytes the walk never panics, and the prefix it keeps walks again
// whole, without error.
func FuzzWalkBatches(f *testing.F) {
	var seed []byte
	for i := range 3 {
		var err error
		seed, err = record.AppendBatch(seed, record.BatchOptions{BaseOffset: record.Offset(2 * i), ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1},
			[]record.Record{{Value: []byte("v")}, {OffsetDelta: 1, Value: []byte("w")}})
		if err != nil {
			f.Fatal(err)
		}
	}
	f.Add(seed, int64(0), int64(6))
	f.Add(seed[:len(seed)-1], int64(0), int64(6))
	f.Add([]byte{}, int64(0), int64(0))
	f.Fuzz(func(t *testing.T, data []byte, first, nextMax int64) {
		next := record.Offset(first)
		n, err := walkBatches(data, &next, record.Offset(nextMax), true)
		if n < 0 || n > len(data) || (err == nil && n != len(data)) {
			t.Fatalf("kept %d of %d bytes, err %v", n, len(data), err)
		}
		again := record.Offset(first)
		if m, err := walkBatches(data[:n], &again, record.Offset(nextMax), true); err != nil || m != n || again != next {
			t.Fatalf("the kept prefix of %d bytes walks to %d bytes, err %v", n, m, err)
		}
	})
}

// TestAppendPlanAfterRetention: a plan built before retention renamed its segment away still
// reads it (sim seed 682: the retention pass in the same event as a fetch renamed the
// segment the fetch's plan named, and the fetch came back empty below the high watermark).
// The file is unlinked only later (file.delete.delay.ms), as in Kafka.
func TestAppendPlanAfterRetention(t *testing.T) {
	cfg := testConfig()
	cfg.RetentionMs = 10000
	fsys := newMemFS()
	l := mustOpen(t, fsys, cfg, OpenOptions{})
	for i := 0; i < 40; i++ {
		if _, err := l.Append(makeBatch(t, 0, 2, 100, int64(1000*i)), AppendOptions{AssignOffsets: true, NowMs: int64(1000 * i)}); err != nil {
			t.Fatal(err)
		}
	}
	plan, err := l.Read(0, 1<<20, l.EndOffset(), true)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := l.ApplyRetention(48000)
	if err != nil || len(ops) == 0 {
		t.Fatalf("retention: %d ops, %v", len(ops), err)
	}
	got, err := AppendPlan(fsys, nil, plan)
	if err != nil || int64(len(got)) != plan.SizeBytes {
		t.Fatalf("after the rename: %d of %d bytes, %v", len(got), plan.SizeBytes, err)
	}
	runFileOps(t, fsys, ops)
	if got, err := AppendPlan(fsys, nil, plan); !errors.Is(err, ErrPlanCut) || len(got) != 0 {
		t.Fatalf("after the unlink: %d bytes, %v", len(got), err)
	}
}

// TestAppendPlanAfterDirectoryRename: a plan made before its partition was deleted (the
// directory renamed to the plan's DeletedDir) reads the renamed files, also ones retention
// renamed to *.deleted before, and never the original path once the directory moved: a new
// incarnation of the partition may be there with other batches at the same offsets.
func TestAppendPlanAfterDirectoryRename(t *testing.T) {
	const dir, deletedDir = "data/p-0", "data/p-0.0123456789abcdef0123456789abcdef-delete"
	seg := dir + "/00000000000000000000.log"
	setup := func(t *testing.T) (*memfs.FS, []byte, ReadPlan) {
		fsys := memfs.New()
		if err := fsys.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		data, ends := planSegment(t, fsys, seg, 0, 3)
		plan := wholeFilePlan(seg, 0, ends)
		plan.DeletedDir = deletedDir
		return fsys, data, plan
	}
	rename := func(t *testing.T, fsys diskio.FS, from, to string) {
		t.Helper()
		if err := fsys.Rename(from, to); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name       string
		retention  bool // the segment was renamed *.deleted before the directory moved
		moved      bool // the directory was renamed to DeletedDir
		recreated  bool // a new incarnation wrote other batches at the original path
		noDeletion bool // the plan names no DeletedDir
		wantCut    bool
	}{
		{name: "in place"},
		{name: "retention", retention: true},
		{name: "deleted", moved: true},
		{name: "retention then deleted", retention: true, moved: true},
		{name: "deleted and recreated", moved: true, recreated: true},
		{name: "retention, deleted and recreated", retention: true, moved: true, recreated: true},
		{name: "deleted, plan without DeletedDir", moved: true, noDeletion: true, wantCut: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys, data, plan := setup(t)
			if tc.noDeletion {
				plan.DeletedDir = ""
			}
			if tc.retention {
				rename(t, fsys, seg, seg+deletedSuffix)
			}
			if tc.moved {
				rename(t, fsys, dir, deletedDir)
			}
			if tc.recreated {
				if err := fsys.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				// The same offsets in one batch of other records, at least as long.
				records := make([]record.Record, 9)
				for j := range records {
					records[j] = record.Record{OffsetDelta: int32(j), Value: bytes.Repeat([]byte{'z'}, 120)}
				}
				other, err := record.AppendBatch(nil, record.BatchOptions{
					PartitionLeaderEpoch: 2, FirstTimestamp: 1700000000000, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
				}, records)
				if err != nil || len(other) < len(data) {
					t.Fatalf("new incarnation's batch: %d bytes, %v", len(other), err)
				}
				writePlanFile(t, fsys, seg, other)
			}
			got, err := AppendPlan(fsys, nil, plan)
			if tc.wantCut {
				if !errors.Is(err, ErrPlanCut) || len(got) != 0 {
					t.Fatalf("got %d bytes, %v; want cut at nothing", len(got), err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("got %d of %d bytes (equal: %t), %v", len(got), len(data), bytes.Equal(got, data), err)
			}
		})
	}
}

// TestReadPlanCarriesDeletedDir: every plan names the directory OpenOptions.DeletedDir gave.
func TestReadPlanCarriesDeletedDir(t *testing.T) {
	const deletedDir = "data.00000000000000000000000000000001-delete"
	fsys := newMemFS()
	l := mustOpen(t, fsys, testConfig(), OpenOptions{DeletedDir: deletedDir})
	if _, err := l.Append(makeBatch(t, 0, 2, 100, 1000), AppendOptions{AssignOffsets: true, NowMs: 1000}); err != nil {
		t.Fatal(err)
	}
	for _, from := range []record.Offset{0, l.EndOffset()} {
		plan, err := l.Read(from, 1<<20, l.EndOffset(), true)
		if err != nil || plan.DeletedDir != deletedDir {
			t.Fatalf("plan from %d names DeletedDir %q, %v; want %q", from, plan.DeletedDir, err, deletedDir)
		}
	}
}
