package log

import (
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

// TestDataDriven runs the scripts in testdata/script/: sequences of appends, syncs, reads,
// truncations, retention passes, crashes and reopens, with transcripts. Regenerate with
// `go test ./core/log -run DataDriven -rewrite` and review the diff.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/script", func(t *testing.T, path string) {
		h := &scriptHarness{fs: newMemFS(), cfg: testConfig()}
		datadriven.RunTest(t, path, h.run)
	})
}

type scriptHarness struct {
	fs   *memfs.FS
	cfg  Config
	log  *Log
	sync *SyncRequest // started, not finished
}

func (h *scriptHarness) run(t *testing.T, td *datadriven.TestData) string {
	var out strings.Builder
	l := h.log
	errOut := func(err error) string {
		if err != nil {
			return fmt.Sprintf("error: %v\n", err)
		}
		return ""
	}
	switch td.Cmd {
	case "open":
		h.scanConfig(t, td)
		var opts OpenOptions
		td.MaybeScanArgs(t, "recovery-point", (*int64)(&opts.RecoveryPoint))
		td.MaybeScanArgs(t, "log-start", (*int64)(&opts.LogStartOffset))
		td.MaybeScanArgs(t, "now", &opts.NowMs)
		if h.log != nil {
			h.log.Close()
		}
		var err error
		if h.log, err = Open(h.fs, testDir, h.cfg, opts); err != nil {
			return errOut(err)
		}
		return h.state()
	case "close":
		return errOut(l.Close()) + "ok\n"
	case "append":
		count, valueBytes, ts, epoch, now := 1, 10, int64(0), int64(-1), int64(0)
		td.MaybeScanArgs(t, "count", &count)
		td.MaybeScanArgs(t, "value", &valueBytes)
		td.MaybeScanArgs(t, "ts", &ts)
		td.MaybeScanArgs(t, "epoch", &epoch)
		td.MaybeScanArgs(t, "now", &now)
		times := 1
		td.MaybeScanArgs(t, "times", &times)
		for i := 0; i < times; i++ {
			opts := AppendOptions{AssignOffsets: true, LeaderEpoch: record.Epoch(epoch), NowMs: now, LogAppendTime: td.HasArg("log-append-time")}
			base := int64(0)
			if td.MaybeScanArgs(t, "base", &base) {
				opts.AssignOffsets = false
			}
			b := makeBatch(t, record.Offset(base), count, valueBytes, ts)
			if !opts.AssignOffsets && epoch >= 0 {
				record.SetPartitionLeaderEpoch(b, record.Epoch(epoch))
			}
			if td.HasArg("corrupt") {
				b[len(b)-1] ^= 0xff
			}
			res, err := l.Append(b, opts)
			if err != nil {
				return out.String() + errOut(err)
			}
			fmt.Fprintf(&out, "appended [%d, %d] max-ts=%d bytes=%d\n", res.BaseOffset, res.LastOffset, res.MaxTimestamp, len(b))
		}
		if times > 3 {
			return fmt.Sprintf("appended %d batches; end=%d segments=%d\n", times, l.EndOffset(), l.SegmentCount())
		}
		return out.String()
	case "sync", "sync-start":
		req, ok := l.PendingSync()
		if !ok {
			return "nothing to sync\n"
		}
		fmt.Fprintf(&out, "sync up-to=%d files=%d dirs=%v\n", req.UpTo, len(req.Files), req.Dirs)
		if td.Cmd == "sync-start" {
			h.sync = &req
			return out.String()
		}
		err := diskio.ErrInjected // "fail": the sync never reached the disk
		if !td.HasArg("fail") {
			err = req.Run(h.fs)
		}
		l.Synced(req, err)
		fmt.Fprintf(&out, "durable=%d\n", l.DurableOffset())
		return out.String()
	case "sync-finish":
		req := *h.sync
		h.sync = nil
		err := diskio.ErrInjected
		if !td.HasArg("fail") {
			err = req.Run(h.fs)
		}
		l.Synced(req, err)
		return fmt.Sprintf("durable=%d\n", l.DurableOffset())
	case "read":
		var from int64
		maxBytes, maxOffset := int64(1<<20), int64(l.EndOffset())
		td.ScanArgs(t, "from", &from)
		td.MaybeScanArgs(t, "max-bytes", &maxBytes)
		td.MaybeScanArgs(t, "max-offset", &maxOffset)
		plan, err := l.Read(record.Offset(from), maxBytes, record.Offset(maxOffset), td.HasArg("min-one"))
		if err != nil {
			return errOut(err)
		}
		fmt.Fprintf(&out, "first=%d next=%d bytes=%d\n", plan.FirstOffset, plan.NextOffset, plan.SizeBytes)
		for _, r := range plan.Ranges {
			fmt.Fprintf(&out, "  %s [%d, +%d)\n", path.Base(r.Path), r.Position, r.SizeBytes)
		}
		data, err := readPlan(h.fs, plan)
		if err != nil {
			return out.String() + errOut(err)
		}
		for len(data) > 0 {
			h2, perr := record.ParseHeader(data)
			if perr != nil || int64(len(data)) < h2.SizeBytes() {
				return out.String() + "bad plan bytes\n"
			}
			if _, err := record.Validate(data[:h2.SizeBytes()]); err != nil {
				return out.String() + errOut(err)
			}
			data = data[h2.SizeBytes():]
		}
		return out.String()
	case "truncate":
		var to int64
		td.ScanArgs(t, "to", &to)
		return errOut(l.TruncateTo(record.Offset(to))) + h.state()
	case "truncate-fully":
		var at int64
		td.ScanArgs(t, "at", &at)
		return errOut(l.TruncateFullyAndStartAt(record.Offset(at))) + h.state()
	case "delete-records":
		var before int64
		td.ScanArgs(t, "before", &before)
		return errOut(l.DeleteRecordsBefore(record.Offset(before))) + h.state()
	case "retention":
		h.scanConfig(t, td)
		if err := l.SetConfig(h.cfg); err != nil {
			return errOut(err)
		}
		var now int64
		td.ScanArgs(t, "now", &now)
		hw := int64(l.EndOffset())
		td.MaybeScanArgs(t, "hw", &hw)
		ops, err := l.ApplyRetentionBelow(now, record.Offset(hw))
		for _, op := range ops {
			fmt.Fprintf(&out, "remove %s\n", path.Base(op.Path))
			if err := h.fs.Remove(op.Path); err != nil {
				fmt.Fprintf(&out, "  error: %v\n", err)
			}
		}
		return out.String() + errOut(err) + h.state()
	case "crash":
		cfg := memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}
		mode := "lose"
		td.MaybeScanArgs(t, "mode", &mode)
		switch mode {
		case "keep":
			cfg.Mode = memfs.CrashKeepUnsynced
		case "random":
			cfg.Mode = memfs.CrashRandom
			td.ScanArgs(t, "seed", &cfg.Seed)
		}
		rp := int64(l.DurableOffset())
		td.MaybeScanArgs(t, "recovery-point", &rp)
		h.fs = h.fs.CrashClone(cfg)
		h.sync = nil
		var err error
		if h.log, err = Open(h.fs, testDir, h.cfg, OpenOptions{RecoveryPoint: record.Offset(rp), LogStartOffset: l.StartOffset()}); err != nil {
			return errOut(err)
		}
		return h.state()
	case "fsync":
		// The OS writing one file (page cache writeback) and the directory back on its own:
		// what then survives a crash whatever the log synced.
		// Without file=, only the directory: new files survive, empty.
		var name string
		if td.MaybeScanArgs(t, "file", &name) {
			f, err := h.fs.OpenReadWrite(diskio.Join(testDir, name))
			if err != nil {
				return errOut(err)
			}
			err = f.Sync()
			f.Close()
			if err != nil {
				return errOut(err)
			}
		}
		return errOut(diskio.SyncDir(h.fs, testDir)) + "ok\n"
	case "corrupt":
		var name string
		var pos int64
		td.ScanArgs(t, "file", &name)
		td.ScanArgs(t, "pos", &pos)
		f, err := h.fs.OpenReadWrite(diskio.Join(testDir, name))
		if err != nil {
			return errOut(err)
		}
		b := []byte{0}
		readFull(f, b, pos)
		b[0] ^= 0x55
		f.WriteAt(b, pos)
		f.Sync()
		f.Close()
		return "ok\n"
	case "state":
		return h.state()
	case "ls":
		names, err := h.fs.List(testDir)
		if err != nil {
			return errOut(err)
		}
		for _, n := range names {
			info, _ := h.fs.Stat(diskio.Join(testDir, n))
			fmt.Fprintf(&out, "%s %d\n", n, info.Size())
		}
		return out.String()
	case "epochs":
		data, err := diskio.ReadFile(h.fs, diskio.Join(testDir, EpochCheckpointFileName))
		if err != nil {
			return errOut(err)
		}
		return fmt.Sprintf("cache %v\nfile %q\n", l.EpochEntries(), data)
	case "offset-for-epoch":
		var epoch int64
		td.ScanArgs(t, "epoch", &epoch)
		e, o, err := l.EndOffsetForEpoch(record.Epoch(epoch))
		return errOut(err) + fmt.Sprintf("epoch=%d end-offset=%d\n", e, o)
	case "offset-for-time":
		var ts int64
		td.ScanArgs(t, "ts", &ts)
		o, fts, found, err := l.OffsetForTimestamp(ts)
		return errOut(err) + fmt.Sprintf("offset=%d ts=%d found=%v\n", o, fts, found)
	}
	t.Fatalf("unknown command %s", td.Cmd)
	return ""
}

func (h *scriptHarness) scanConfig(t *testing.T, td *datadriven.TestData) {
	td.MaybeScanArgs(t, "segment-bytes", &h.cfg.SegmentBytes)
	td.MaybeScanArgs(t, "segment-ms", &h.cfg.SegmentMs)
	td.MaybeScanArgs(t, "index-interval", &h.cfg.IndexIntervalBytes)
	td.MaybeScanArgs(t, "index-bytes", &h.cfg.SegmentIndexBytes)
	td.MaybeScanArgs(t, "retention-bytes", &h.cfg.RetentionBytes)
	td.MaybeScanArgs(t, "retention-ms", &h.cfg.RetentionMs)
}

func (h *scriptHarness) state() string {
	l := h.log
	if l == nil {
		return "no log\n"
	}
	var out strings.Builder
	fmt.Fprintf(&out, "start=%d end=%d durable=%d size=%d", l.StartOffset(), l.EndOffset(), l.DurableOffset(), l.SizeBytes())
	if l.poisoned != nil {
		out.WriteString(" poisoned")
	}
	out.WriteString("\n")
	for _, s := range l.segments {
		fmt.Fprintf(&out, "  %020d size=%d index=%d timeindex=%d max-ts=%d\n", s.baseOffset, s.sizeBytes, s.indexEntries, s.timeIndexEntries, s.maxTimestampMs)
	}
	return out.String()
}
