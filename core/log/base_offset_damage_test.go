package log

import (
	"errors"
	"testing"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// A batch's base offset lies outside its CRC (KIP-98 left it out so that a leader assigns it
// without recomputing the checksum), so a flipped bit there passes every batch check. These
// tests damage only that field and hold reads and recovery to "refused or truncated, never
// served": found by sim seeds 88 (a batch read at offsets 64 too high, the records between
// skipped by every reader) and 1309 (recovery kept the damaged batch and cut the intact one
// after it, losing every later acknowledged record and reusing its offsets).

// baseOffsetDamageLog appends count batches of two records each (batch i holds offsets 2i and
// 2i+1) to one segment with no index entries, so that reads walk every header, syncs them and
// returns the log and each batch's position.
func baseOffsetDamageLog(t *testing.T, count int) (*Log, []int64, diskio.FS, Config) {
	t.Helper()
	fsys := newMemFS()
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20
	cfg.IndexIntervalBytes = 1 << 20
	l := mustOpen(t, fsys, cfg, OpenOptions{})
	var positions []int64
	for i := range count {
		positions = append(positions, l.SizeBytes())
		if _, err := l.Append(makeBatch(t, 0, 2, 10, int64(i)), AppendOptions{AssignOffsets: true, LeaderEpoch: 0}); err != nil {
			t.Fatal(err)
		}
	}
	syncAll(t, l)
	return l, positions, fsys, cfg
}

// flipBaseOffsetBit flips bit of the base offset's low byte of the batch at position in the
// segment file at path, leaving the CRC valid.
func flipBaseOffsetBit(t *testing.T, fsys diskio.FS, path string, position int64, bit uint) {
	t.Helper()
	f, err := fsys.OpenReadWrite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := readFull(f, b, position+7); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 1 << bit
	if _, err := f.WriteAt(b, position+7); err != nil {
		t.Fatal(err)
	}
}

func TestReadRefusesABatchWhoseBaseOffsetWasDamaged(t *testing.T) {
	for _, tc := range []struct {
		name string
		// batch and bit: the base offset 2*batch becomes 2*batch ^ 1<<bit.
		batch int
		bit   uint
		// Reading from 0 serves offsets [0, servedEnd); reading from each of refused fails.
		servedEnd record.Offset
		refused   []record.Offset
	}{
		// Batch 2 (offsets 4-5) claims 12-13: batch 3 at 6 then goes backwards. Either header
		// may be the damaged one, so neither is served.
		{"raised", 2, 3, 4, []record.Offset{4, 6}},
		// Batch 3 (offsets 6-7) claims 2-3, below batch 2's 5.
		{"lowered", 3, 2, 4, []record.Offset{4, 6, 8}},
		// The last batch (18-19) claims 26-27, past the log end 20.
		{"raised past the end", 9, 3, 18, []record.Offset{18}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, positions, fsys, _ := baseOffsetDamageLog(t, 10)
			defer l.Close()
			flipBaseOffsetBit(t, fsys, l.active().logPath, positions[tc.batch], tc.bit)
			plan, err := l.Read(0, 1<<20, l.EndOffset(), true)
			if err != nil || plan.FirstOffset != 0 || plan.NextOffset != tc.servedEnd || plan.SizeBytes != positions[tc.servedEnd/2] {
				t.Fatalf("read from 0: %+v, %v; want offsets [0, %d) in %d bytes", plan, err, tc.servedEnd, positions[tc.servedEnd/2])
			}
			if _, err := AppendPlan(fsys, nil, plan); err != nil {
				t.Fatalf("executing the plan from 0: %v", err)
			}
			for _, from := range tc.refused {
				if plan, err := l.Read(from, 1<<20, l.EndOffset(), true); !errors.Is(err, ErrCorruptLog) {
					t.Fatalf("read from %d: %+v, %v; want ErrCorruptLog", from, plan, err)
				}
			}
		})
	}
}

// TestReadRefusesABatchRaisedPastItsSegment is seed 88's shape: the last batch of an inactive
// segment claims offsets that belong to the next segment.
func TestReadRefusesABatchRaisedPastItsSegment(t *testing.T) {
	fsys := newMemFS()
	cfg := testConfig()
	batchBytes := int64(len(makeBatch(t, 0, 2, 10, 0)))
	cfg.SegmentBytes = 3 * batchBytes // three batches (six offsets) per segment
	cfg.IndexIntervalBytes = 1 << 20
	l := mustOpen(t, fsys, cfg, OpenOptions{})
	defer l.Close()
	for i := range 9 {
		if _, err := l.Append(makeBatch(t, 0, 2, 10, int64(i)), AppendOptions{AssignOffsets: true}); err != nil {
			t.Fatal(err)
		}
	}
	syncAll(t, l)
	if len(l.segments) != 3 || l.segments[1].baseOffset != 6 {
		t.Fatalf("segments %d, the second at %d; want 3, the second at 6", len(l.segments), l.segments[1].baseOffset)
	}
	// The first segment's last batch (offsets 4-5) claims 12-13: in the third segment.
	flipBaseOffsetBit(t, fsys, l.segments[0].logPath, 2*batchBytes, 3)
	plan, err := l.Read(0, 1<<20, l.EndOffset(), true)
	if err != nil || plan.NextOffset != 4 || plan.SizeBytes != 2*batchBytes {
		t.Fatalf("read from 0: %+v, %v; want offsets [0, 4)", plan, err)
	}
	if plan, err := l.Read(4, 1<<20, l.EndOffset(), true); !errors.Is(err, ErrCorruptLog) {
		t.Fatalf("read from 4: %+v, %v; want ErrCorruptLog", plan, err)
	}
	if plan, err := l.Read(6, 1<<20, l.EndOffset(), true); err != nil || plan.FirstOffset != 6 || plan.NextOffset != 18 {
		t.Fatalf("read from 6: %+v, %v; want offsets [6, 18): the later segments are intact", plan, err)
	}
}

func TestRecoverTruncatesAtADamagedBaseOffset(t *testing.T) {
	for _, tc := range []struct {
		name  string
		batch int
		bit   uint
		// breakCRC also damages the batch's records: it fails its CRC, so its base offset
		// says nothing about the batch before it.
		breakCRC bool
		wantEnd  record.Offset
	}{
		// Batch 2 claims 12-13 and batch 3 (6) goes backwards: batch 2 does not continue
		// batch 1 (ending at 3) either, so either header may be the damaged one, and recovery
		// cuts at the first of them, batch 2.
		{"raised", 2, 3, false, 4},
		// Batch 3 claims 2-3, below batch 2 (4-5); batch 2 continues batch 1, so it is sound
		// and kept, and recovery cuts at batch 3.
		{"lowered", 3, 2, false, 6},
		{"lowered and garbled", 3, 2, true, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, positions, fsys, cfg := baseOffsetDamageLog(t, 10)
			path := l.active().logPath
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			flipBaseOffsetBit(t, fsys, path, positions[tc.batch], tc.bit)
			if tc.breakCRC {
				f, err := fsys.OpenReadWrite(path)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteAt([]byte{0xff}, positions[tc.batch]+record.HeaderSizeBytes+2); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			l2 := mustOpen(t, fsys, cfg, OpenOptions{})
			defer l2.Close()
			if l2.EndOffset() != tc.wantEnd {
				t.Fatalf("recovered end %d, want %d", l2.EndOffset(), tc.wantEnd)
			}
			res, err := l2.Append(makeBatch(t, 0, 1, 10, 1), AppendOptions{AssignOffsets: true})
			if err != nil || res.BaseOffset != tc.wantEnd {
				t.Fatalf("append after recovery: %+v %v", res, err)
			}
		})
	}
}

// A crash tore the unsynced batch after a synced one so that the sector holding its first
// bytes came back as zeros while the rest of it, CRC included, survived: its base offset reads
// 0, below the synced batch. The synced batch is intact and contiguous with the log before it,
// so it is the later batch that is damaged: recovery keeps the synced batch, which was
// acknowledged, and cuts at the torn one. (Found by the quorum log's randomized cluster test:
// a node that had claimed durable offset 115 came back ending at 114.)
func TestRecoverKeepsASyncedBatchBeforeATornBaseOffset(t *testing.T) {
	for _, recoveryPoint := range []record.Offset{0, 2} {
		l, positions, fsys, cfg := baseOffsetDamageLog(t, 1)
		if _, err := l.Append(makeBatch(t, 0, 2, 10, 1), AppendOptions{AssignOffsets: true}); err != nil {
			t.Fatal(err)
		}
		positions = append(positions, positions[0]+int64(len(makeBatch(t, 0, 2, 10, 0))))
		path := l.active().logPath
		if l.DurableOffset() != 2 {
			t.Fatalf("durable offset %d, want 2", l.DurableOffset())
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := fsys.OpenReadWrite(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(make([]byte, 8), positions[1]); err != nil {
			t.Fatal(err)
		}
		f.Close()
		l2 := mustOpen(t, fsys, cfg, OpenOptions{RecoveryPoint: recoveryPoint})
		if l2.EndOffset() != 2 {
			t.Fatalf("recovery point %d: recovered end %d, want 2 (the synced batch kept, the torn one cut)", recoveryPoint, l2.EndOffset())
		}
		l2.Close()
	}
}
