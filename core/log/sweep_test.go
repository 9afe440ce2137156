package log

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/errorfs"
	"github.com/weirdata/weir/diskio/memfs"
)

// sweepWorkload is a scripted workload over fsys touching every file operation the log makes:
// appends with rolls and epoch changes, syncs run as a driver runs them, reads, a truncation,
// DeleteRecords, retention (with its unlinks), a reopen and a full truncation. It stops at the
// first error and reports the durable offset then; the model records everything written.
type sweepWorkload struct {
	fsys    diskio.FS
	cfg     Config
	log     *Log
	model   logModel
	durable record.Offset
	start   record.Offset // the log start offset a broker would have checkpointed
}

func newSweepWorkload(fsys diskio.FS) *sweepWorkload {
	cfg := testConfig()
	cfg.SegmentBytes = 1024
	cfg.IndexIntervalBytes = 150
	cfg.OpenSegmentsMax = 1
	return &sweepWorkload{fsys: fsys, cfg: cfg, model: logModel{history: map[record.Offset][]written{}}}
}

// run returns nil when the whole workload ran.
func (w *sweepWorkload) run(tb tester) error {
	var err error
	if w.log, err = Open(w.fsys, testDir, w.cfg, OpenOptions{}); err != nil {
		return err
	}
	defer func() {
		w.durable = w.log.DurableOffset()
		w.start = w.log.StartOffset()
	}()
	for i := 0; i < 24; i++ {
		b := makeBatch(tb, 0, 1+i%3, 100+20*(i%5), int64(1000*i))
		res, err := w.log.Append(b, AppendOptions{AssignOffsets: true, LeaderEpoch: record.Epoch(i / 8), NowMs: int64(1000 * i)})
		// Whatever happened, the bytes may be on disk at the offset stamped into b.
		h, _ := record.ParseHeader(b)
		w.model.history[h.BaseOffset] = append(w.model.history[h.BaseOffset], written{data: bytes.Clone(b), prevStart: w.model.start, prevEnd: h.BaseOffset})
		if err != nil {
			return err
		}
		w.model.batches = append(w.model.batches, modelBatch{res.BaseOffset, res.LastOffset, bytes.Clone(b)})
		w.model.end = res.LastOffset + 1
		if i%3 == 2 {
			if err := w.sync(); err != nil {
				return err
			}
		}
		switch i {
		case 9:
			if _, err := w.log.Read(0, 1<<20, w.log.EndOffset(), true); err != nil {
				return err
			}
			if _, _, _, err := w.log.OffsetForTimestamp(3500); err != nil {
				return err
			}
		case 12:
			o := w.model.batches[len(w.model.batches)-3].base
			if err := w.log.TruncateTo(o); err != nil {
				return err
			}
			w.model.truncate(o)
		case 15:
			if err := w.log.DeleteRecordsBefore(w.model.batches[4].base); err != nil {
				return err
			}
			w.model.start = w.model.batches[4].base
			ops, err := w.log.ApplyRetention(0)
			if err != nil {
				return err
			}
			for _, op := range ops {
				if err := w.fsys.Remove(op.Path); err != nil {
					return err
				}
			}
			w.model.start = w.log.StartOffset()
		case 18:
			if err := w.sync(); err != nil {
				return err
			}
			durable, start := w.log.DurableOffset(), w.log.StartOffset()
			if err := w.log.Close(); err != nil {
				return err
			}
			if w.log, err = Open(w.fsys, testDir, w.cfg, OpenOptions{RecoveryPoint: durable, LogStartOffset: start}); err != nil {
				// Keep reporting through a log that says what was durable.
				w.log = &Log{durableOffset: durable, startOffset: start}
				return err
			}
		case 21:
			o := w.model.end + 5
			if err := w.log.TruncateFullyAndStartAt(o); err != nil {
				return err
			}
			w.model.batches, w.model.start, w.model.end = nil, o, o
		}
	}
	if err := w.sync(); err != nil {
		return err
	}
	// A failure the last call did not report (closing a file after its sync) still poisons.
	return w.log.check()
}

func (w *sweepWorkload) sync() error {
	req, ok := w.log.PendingSync()
	if !ok {
		return nil
	}
	err := req.Run(w.fsys)
	w.log.Synced(req, err)
	return err
}

// verify reopens the log on fsys as a restarted broker would and checks it against the
// workload's model, then checks that it works: append, sync, reopen.
func (w *sweepWorkload) verify(tb tester, fsys *memfs.FS) {
	tb.Helper()
	l, err := Open(fsys, testDir, w.cfg, OpenOptions{RecoveryPoint: w.durable, LogStartOffset: w.start})
	if err != nil {
		tb.Fatalf("reopen: %v", err)
	}
	model := w.model
	model.batches = append([]modelBatch(nil), w.model.batches...)
	checkRecovered(tb, l, &model, w.durable)
	if _, err := l.Append(makeBatch(tb, 0, 1, 10, 1), AppendOptions{AssignOffsets: true}); err != nil {
		tb.Fatalf("append after recovery: %v", err)
	}
	req, _ := l.PendingSync()
	l.Synced(req, req.Run(fsys))
	end := l.EndOffset()
	if err := l.Close(); err != nil {
		tb.Fatal(err)
	}
	l, err = Open(fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}), testDir, w.cfg, OpenOptions{RecoveryPoint: end})
	if err != nil || l.EndOffset() != end {
		tb.Fatalf("after recovery, append and sync: reopen %v, end %d want %d", err, l.EndOffset(), end)
	}
}

// TestErrorSweep fails the k-th file system call of the workload, for every k until the
// workload runs clean, and checks the log reopened on what the disk holds — as the process
// left it, and after a crash losing or tearing what was not synced.
func TestErrorSweep(t *testing.T) {
	for _, partial := range []bool{false, true} {
		k := int64(0)
		for ; ; k++ {
			mem := newMemFS()
			index := errorfs.OnIndex(k)
			var failed errorfs.Op
			inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
				err := index.MaybeError(op)
				if err != nil {
					failed = op
				}
				return err
			})
			var opts []errorfs.Option
			if partial {
				opts = append(opts, errorfs.WithPartialWrites(uint64(k)))
			}
			w := newSweepWorkload(errorfs.Wrap(mem, inj, opts...))
			err := w.run(t)
			if index.Count() <= k {
				if err != nil {
					t.Fatalf("workload failed without an injected error: %v", err)
				}
				break
			}
			switch {
			case err == nil && failed.Kind != errorfs.OpClose:
				t.Fatalf("k=%d: injected error on %v swallowed", k, failed)
			case err == nil:
				// diskio.ReadFile ignores the close of a file it only read: harmless.
			case !errors.Is(err, diskio.ErrInjected):
				t.Fatalf("k=%d: error does not wrap the injected one: %v", k, err)
			}
			w.verify(t, mem.CrashClone(memfs.CrashConfig{Mode: memfs.CrashKeepUnsynced}))
			w.verify(t, mem.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}))
			w.verify(t, mem.CrashClone(memfs.CrashConfig{Seed: uint64(k)}))
		}
		if k < 100 {
			t.Fatalf("the workload made only %d file system calls", k)
		}
		t.Logf("partial writes %v: swept %d operations", partial, k)
	}
}

// TestCrashSweep crashes (a seeded crash clone, and the worst case losing everything unsynced)
// just before the k-th mutating file system call,
// for every k, and checks the log recovered from that disk against the durable offset at
// that moment.
func TestCrashSweep(t *testing.T) {
	k := 0
	for ; ; k++ {
		mem := newMemFS()
		var (
			w        *sweepWorkload
			crashed  *memfs.FS
			worst    *memfs.FS
			durable  record.Offset
			start    record.Offset
			model    logModel
			mutating = 0
		)
		inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
			if !op.Kind.Mutates() {
				return nil
			}
			if mutating == k {
				crashed = mem.CrashClone(memfs.CrashConfig{Seed: uint64(k)})
				worst = mem.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
				if w.log != nil {
					durable, start = w.log.DurableOffset(), w.log.StartOffset()
				}
				model = w.model
				model.batches = append([]modelBatch(nil), w.model.batches...)
			}
			mutating++
			return nil
		})
		w = newSweepWorkload(errorfs.Wrap(mem, inj))
		if err := w.run(t); err != nil {
			t.Fatalf("k=%d: %v", k, err)
		}
		if crashed == nil {
			break
		}
		w.durable, w.start = durable, start
		model.history = w.model.history // everything written up to the crash, and more
		w.model = model
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			w.verify(t, crashed)
			w.verify(t, worst)
		})
	}
	if k < 100 {
		t.Fatalf("the workload made only %d mutating calls", k)
	}
	t.Logf("swept %d crash points", k)
}
