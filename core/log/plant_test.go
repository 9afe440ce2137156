package log

import (
	"math/rand/v2"
	"testing"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/record"
)

// planted returns a B with bug planted and no buggify site enabled.
func planted(bug buggify.Bug) *buggify.B {
	return buggify.New(rand.New(rand.NewPCG(1, 1)), buggify.Options{EnableOneIn: 1 << 30, FireOneIn: 1, Planted: []buggify.Bug{bug}})
}

// The planted bugs of core/log do what they say; the simulator's tests show they are caught.

func TestPlantedIndexOffByOne(t *testing.T) {
	for _, plant := range []bool{false, true} {
		fsys := newMemFS()
		cfg := testConfig()
		cfg.IndexIntervalBytes = 0 // an index entry at every batch
		if plant {
			cfg.Buggify = planted(buggify.BugIndexOffByOne)
		}
		l := mustOpen(t, fsys, cfg, OpenOptions{})
		for i := range 4 {
			if _, err := l.Append(makeBatch(t, 0, 2, 10, int64(i)), AppendOptions{AssignOffsets: true, LeaderEpoch: 0}); err != nil {
				t.Fatal(err)
			}
		}
		syncAll(t, l)
		// Offset 3 is the last of the second batch [2, 3]: the plan must start at that batch.
		plan, err := l.Read(3, 1<<20, l.EndOffset(), true)
		if err != nil {
			t.Fatal(err)
		}
		data, err := readPlan(fsys, plan)
		if err != nil {
			t.Fatal(err)
		}
		h, err := record.ParseHeader(data)
		if err != nil {
			t.Fatal(err)
		}
		if want := record.Offset(2); (h.BaseOffset == want) == plant {
			t.Errorf("planted=%v: a read of offset 3 starts at the batch at %d", plant, h.BaseOffset)
		}
		l.Close()
	}
}

func TestPlantedRecoverySkipsCRC(t *testing.T) {
	for _, plant := range []bool{false, true} {
		fsys := newMemFS()
		cfg := testConfig()
		l := mustOpen(t, fsys, cfg, OpenOptions{})
		for i := range 3 {
			if _, err := l.Append(makeBatch(t, 0, 1, 10, int64(i)), AppendOptions{AssignOffsets: true, LeaderEpoch: 0}); err != nil {
				t.Fatal(err)
			}
		}
		syncAll(t, l)
		l.Close()
		// Flip the last byte of the log: the last batch's value, covered by its CRC.
		path := testDir + "/" + "00000000000000000000.log"
		f, err := fsys.OpenReadWrite(path)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := f.Stat()
		b := []byte{0}
		if _, err := f.ReadAt(b, info.Size()-1); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0xff
		if _, err := f.WriteAt(b, info.Size()-1); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if plant {
			cfg.Buggify = planted(buggify.BugRecoverySkipsCRC)
		}
		l = mustOpen(t, fsys, cfg, OpenOptions{RecoveryPoint: 0})
		if got, want := l.EndOffset(), record.Offset(2); (got == want) == plant {
			t.Errorf("planted=%v: recovery of a log whose last batch is corrupt ends at %d", plant, got)
		}
		l.Close()
	}
}

func TestPlantedRetentionDeletesActive(t *testing.T) {
	for _, plant := range []bool{false, true} {
		fsys := newMemFS()
		cfg := testConfig()
		cfg.RetentionMs = 1000
		if plant {
			cfg.Buggify = planted(buggify.BugRetentionDeletesActive)
		}
		l := mustOpen(t, fsys, cfg, OpenOptions{})
		// An old batch, a roll, and a fresh one in the active segment.
		if _, err := l.Append(makeBatch(t, 0, 1, 10, 0), AppendOptions{AssignOffsets: true, LeaderEpoch: 0, NowMs: 0}); err != nil {
			t.Fatal(err)
		}
		if err := l.roll(l.EndOffset()); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(makeBatch(t, 0, 1, 10, 9_500), AppendOptions{AssignOffsets: true, LeaderEpoch: 0, NowMs: 9_500}); err != nil {
			t.Fatal(err)
		}
		syncAll(t, l)
		ops, err := l.ApplyRetentionBelow(10_000, l.EndOffset())
		if err != nil {
			t.Fatal(err)
		}
		runFileOps(t, fsys, ops)
		if want := record.Offset(1); (l.StartOffset() == want) != !plant {
			t.Errorf("planted=%v: retention at 10 s of a record from 0 s and one from 9.5 s (retention 1 s) leaves the log start at %d", plant, l.StartOffset())
		}
		l.Close()
	}
}
