package log

import (
	"errors"
	"testing"

	"github.com/weirdata/weir/core/record"
)

// garbleRecords overwrites a byte of the records of the batch at position in the file at
// path, so that the batch fails its CRC while its header still makes sense.
func garbleRecords(t *testing.T, l *Log, path string, position int64) {
	t.Helper()
	f, err := l.fs.OpenReadWrite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte{0xff, 0x00, 0xff}, position+record.HeaderSizeBytes+2); err != nil {
		t.Fatal(err)
	}
}

// A batch of a live log fails its CRC (a flipped bit at rest, never seen by recovery): the
// read plan over it is served short at it, CutOffset says where, FindDamage confirms it and
// CutDamage ends the log there, later segments and epochs too; appends go on from there and
// a restart recovers the same log.
func TestCutDamageEndsTheLogAtADamagedBatch(t *testing.T) {
	fsys := newMemFS()
	cfg := testConfig()
	l := mustOpen(t, fsys, cfg, OpenOptions{NowMs: 1000})
	defer func() { l.Close() }()
	for i := range 120 {
		epoch := record.Epoch(1 + i/40) // epochs 1, 2, 3 start at 0, 80, 160
		if _, err := l.AssignEpochStart(epoch, l.EndOffset()); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(makeBatch(t, 0, 2, 90, 1000), AppendOptions{AssignOffsets: true, LeaderEpoch: epoch, NowMs: 1000}); err != nil {
			t.Fatal(err)
		}
	}
	syncAll(t, l)
	if len(l.segments) < 4 {
		t.Fatalf("only %d segments", len(l.segments))
	}
	// Damage a batch in the middle of the second segment, of epoch 1 (offsets below 80).
	s := l.segments[1]
	if _, err := l.files(s); err != nil {
		t.Fatal(err)
	}
	damagedAt := s.baseOffset + 4
	position, dataEnd, err := l.cutPosition(s, damagedAt)
	if err != nil || dataEnd != damagedAt {
		t.Fatalf("cut position for %d: %d %d %v", damagedAt, position, dataEnd, err)
	}
	garbleRecords(t, l, s.logPath, position)

	// Sound batches before it are not damage.
	if d, found, err := l.FindDamage(s.baseOffset + 1); found || err != nil {
		t.Fatalf("a sound batch reported damaged: %+v %v", d, err)
	}
	plan, err := l.Read(s.baseOffset, 1<<20, l.EndOffset(), true)
	if err != nil {
		t.Fatal(err)
	}
	served, err := AppendPlan(fsys, nil, plan)
	if !errors.Is(err, ErrPlanCut) {
		t.Fatalf("plan over the damaged batch served whole: %v", err)
	}
	cutAt := CutOffset(plan, served)
	if cutAt != damagedAt {
		t.Fatalf("CutOffset %d, want %d", cutAt, damagedAt)
	}
	d, found, err := l.FindDamage(cutAt + 1) // inside the damaged batch
	if !found || err != nil || d.Offset != damagedAt || !errors.Is(d.Err, ErrCorruptLog) {
		t.Fatalf("FindDamage(%d): %+v %v %v", cutAt+1, d, found, err)
	}
	if err := l.CutDamage(d); err != nil {
		t.Fatal(err)
	}
	if l.EndOffset() != damagedAt || len(l.segments) != 2 || l.DurableOffset() > damagedAt {
		t.Fatalf("after the cut: end %d, %d segments, durable %d", l.EndOffset(), len(l.segments), l.DurableOffset())
	}
	if epochs := l.EpochEntries(); len(epochs) != 1 || epochs[0].Epoch != 1 {
		t.Fatalf("epochs after the cut: %v", epochs)
	}
	if err := l.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	// The damage found before the cut no longer applies to the log.
	if err := l.CutDamage(d); err == nil {
		t.Fatal("a stale damage cut the log again")
	}
	if l.Poisoned() != nil {
		t.Fatalf("a refused stale cut poisoned the log: %v", l.Poisoned())
	}
	res, err := l.Append(makeBatch(t, 0, 2, 90, 1000), AppendOptions{AssignOffsets: true, LeaderEpoch: 4, NowMs: 1000})
	if err != nil || res.BaseOffset != damagedAt {
		t.Fatalf("append after the cut: %+v %v", res, err)
	}
	syncAll(t, l)
	want := readAllBatches(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, fsys, cfg, OpenOptions{RecoveryPoint: damagedAt + 2, NowMs: 2000})
	if l.EndOffset() != damagedAt+2 || len(readAllBatches(t, l)) != len(want) {
		t.Fatalf("recovered end %d with %d batches, want %d with %d", l.EndOffset(), len(readAllBatches(t, l)), damagedAt+2, len(want))
	}
}

// A damaged header is found without reading the batch: a base offset going back below the
// batch before cuts before both (either may be the damaged one, as Read serves neither), and a
// sound log reports nothing anywhere.
func TestFindDamageInHeaders(t *testing.T) {
	l, positions, fsys, _ := baseOffsetDamageLog(t, 10)
	defer l.Close()
	for from := l.StartOffset(); from < l.EndOffset(); from++ {
		if d, found, err := l.FindDamage(from); found || err != nil {
			t.Fatalf("sound log: FindDamage(%d) = %+v %v", from, d, err)
		}
	}
	if _, found, err := l.FindDamage(l.EndOffset()); found || err != nil {
		t.Fatalf("FindDamage at the end: %v %v", found, err)
	}
	// Batch 3 (offsets 6-7) claims 2-3, below batch 2's 5.
	flipBaseOffsetBit(t, fsys, l.active().logPath, positions[3], 2)
	d, found, err := l.FindDamage(6)
	if !found || err != nil || d.Offset != 4 {
		t.Fatalf("FindDamage(6): %+v %v %v", d, found, err)
	}
	if err := l.CutDamage(d); err != nil {
		t.Fatal(err)
	}
	if l.EndOffset() != 4 {
		t.Fatalf("end %d after the cut, want 4", l.EndOffset())
	}
	if err := l.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}
