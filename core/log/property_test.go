package log

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"testing"

	"pgregory.net/rapid"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio/memfs"
)

// logModel is what the log should hold: its batches in order and its offsets.
type logModel struct {
	batches []modelBatch
	start   record.Offset
	end     record.Offset
	history map[record.Offset][]written // every batch ever appended, by base offset
}

// written is one append as it was made.
type written struct {
	data []byte
	// prevStart and prevEnd are the log's start and end offsets before the append: the log then
	// held [prevStart, prevEnd). prevEnd is below the batch's base when a follower append left
	// a gap (a compacted leader's), equal to it otherwise.
	prevStart, prevEnd record.Offset
}

type modelBatch struct {
	base, last record.Offset
	data       []byte
}

// visible is what a read from the start returns: batches reaching the start offset.
func (m *logModel) visible() []modelBatch {
	var out []modelBatch
	for _, b := range m.batches {
		if b.last >= m.start {
			out = append(out, b)
		}
	}
	return out
}

func (m *logModel) truncate(o record.Offset) {
	keep := 0
	for keep < len(m.batches) && m.batches[keep].last < o {
		keep++
	}
	m.batches = m.batches[:keep]
	m.end = o
}

type propertyHarness struct {
	t     *rapid.T
	fs    *memfs.FS
	cfg   Config
	log   *Log
	model logModel
	sync  *SyncRequest
}

// TestPropertyModel runs random operations against the log and a model of it: appends
// (leader and follower, with gaps), syncs (interleaved with other operations), reads with
// random limits, rolls (small segments), retention, DeleteRecords, TruncateTo,
// TruncateFullyAndStartAt, clean reopens and crashes with random seeds. After a crash the log
// must hold every batch below the durable offset exactly, above it only batches that were
// really written at those offsets, and no gap that lost records left (checkRecovered).
func TestPropertyModel(t *testing.T) {
	rapid.Check(t, propertyModel)
}

// TestPropertyModelSeeds replays seeds that once failed TestPropertyModel.
func TestPropertyModelSeeds(t *testing.T) {
	// A follower batch at 1 over an empty log, DeleteRecords(1), TruncateTo(1), a leader batch at
	// 1, a crash, TruncateTo(0) (the log start drops to 0, as Kafka's truncateTo does), and a
	// crash that undid the unsynced truncation: offsets [0, 1) were never in the log when the
	// batch at 1 was appended, so their absence is no loss.
	for _, seed := range []string{"14065566120621667779"} {
		old := flag.Lookup("rapid.seed").Value.String()
		if err := flag.Set("rapid.seed", seed); err != nil {
			t.Fatal(err)
		}
		rapid.Check(t, propertyModel)
		flag.Set("rapid.seed", old)
	}
}

func propertyModel(t *rapid.T) {
	{
		cfg := DefaultConfig()
		cfg.SegmentBytes = rapid.Int64Range(record.HeaderSizeBytes, 3000).Draw(t, "segmentBytes")
		cfg.IndexIntervalBytes = rapid.Int64Range(0, 600).Draw(t, "indexIntervalBytes")
		cfg.SegmentIndexBytes = rapid.Int64Range(2*timeIndexEntryBytes, 300).Draw(t, "segmentIndexBytes")
		cfg.OpenSegmentsMax = rapid.IntRange(1, 3).Draw(t, "openSegmentsMax")
		cfg.ReadPlanBytesMax = 1 << 20
		cfg.SegmentMs = rapid.Int64Range(1, 1000).Draw(t, "segmentMs")
		if rapid.Bool().Draw(t, "buggify") {
			// Every rare path of the log on, firing at drawn odds: the model must hold all the same.
			seed := rapid.Uint64().Draw(t, "buggifySeed")
			cfg.Buggify = buggify.New(rand.New(rand.NewPCG(seed, 0)), buggify.Options{EnableOneIn: 1, FireOneIn: rapid.IntRange(1, 4).Draw(t, "buggifyFireOneIn")})
		}
		h := &propertyHarness{t: t, fs: newMemFS(), cfg: cfg, model: logModel{history: map[record.Offset][]written{}}}
		h.reopen(0, 0)
		nowMs := int64(0)
		t.Repeat(map[string]func(*rapid.T){
			"append": func(t *rapid.T) {
				nowMs += rapid.Int64Range(0, 100).Draw(t, "advanceMs")
				count := rapid.IntRange(1, 5).Draw(t, "count")
				b := makeBatch(t, 0, count, rapid.IntRange(0, 400).Draw(t, "valueBytes"), rapid.Int64Range(0, 10000).Draw(t, "ts"))
				opts := AppendOptions{AssignOffsets: true, LeaderEpoch: record.Epoch(rapid.IntRange(0, 3).Draw(t, "epoch")), NowMs: nowMs}
				if rapid.Bool().Draw(t, "follower") {
					opts.AssignOffsets = false
					record.SetBaseOffset(b, h.model.end+record.Offset(rapid.IntRange(0, 3).Draw(t, "gap")))
				}
				res, err := h.log.Append(b, opts)
				if err != nil {
					t.Fatalf("append: %v", err)
				}
				h.model.batches = append(h.model.batches, modelBatch{res.BaseOffset, res.LastOffset, bytes.Clone(b)})
				h.model.history[res.BaseOffset] = append(h.model.history[res.BaseOffset], written{data: bytes.Clone(b), prevStart: h.model.start, prevEnd: h.model.end})
				h.model.end = res.LastOffset + 1
			},
			"sync": func(t *rapid.T) {
				if h.sync != nil {
					h.log.Synced(*h.sync, h.sync.Run(h.fs))
					h.sync = nil
					return
				}
				req, ok := h.log.PendingSync()
				if !ok {
					return
				}
				if rapid.Bool().Draw(t, "finishLater") {
					h.sync = &req
					return
				}
				h.log.Synced(req, req.Run(h.fs))
				if h.log.DurableOffset() != req.UpTo {
					t.Fatalf("durable %d after sync up to %d", h.log.DurableOffset(), req.UpTo)
				}
			},
			"read": func(t *rapid.T) {
				from := record.Offset(rapid.Int64Range(int64(h.model.start), int64(h.model.end)).Draw(t, "from"))
				maxBytes := rapid.Int64Range(0, 5000).Draw(t, "maxBytes")
				maxOffset := record.Offset(rapid.Int64Range(int64(from), int64(h.model.end)+1).Draw(t, "maxOffset"))
				minOne := rapid.Bool().Draw(t, "minOne")
				plan, err := h.log.Read(from, maxBytes, maxOffset, minOne)
				if err != nil {
					t.Fatalf("read %d: %v", from, err)
				}
				data, err := readPlan(h.fs, plan)
				if err != nil {
					t.Fatalf("execute plan: %v", err)
				}
				// Expected: whole batches from the one reaching `from`, within the limits.
				var want, short []byte
				next, shortNext := from, from
				first, shortFirst := from, from
				for _, b := range h.model.batches {
					if b.last < from {
						continue
					}
					if b.last >= maxOffset {
						break
					}
					if minOne && short == nil {
						short, shortFirst, shortNext = b.data, b.base, b.last+1
					}
					if int64(len(want)+len(b.data)) > maxBytes && !(minOne && len(want) == 0) {
						break
					}
					if len(want) == 0 {
						first = b.base
					}
					want = append(want, b.data...)
					next = b.last + 1
					if int64(len(want)) > maxBytes {
						break
					}
				}
				if h.cfg.Buggify != nil && bytes.Equal(data, short) && plan.NextOffset == shortNext && plan.FirstOffset == shortFirst {
					return // log/read-short: one batch if minOne, else none; the reader comes back
				}
				if !bytes.Equal(data, want) || plan.NextOffset != next || plan.FirstOffset != first {
					t.Fatalf("read(%d, %d, %d, %v) = %+v (%d bytes), want first %d next %d (%d bytes)", from, maxBytes, maxOffset, minOne, plan, len(data), first, next, len(want))
				}
			},
			"truncateTo": func(t *rapid.T) {
				o := record.Offset(rapid.Int64Range(0, int64(h.model.end)+2).Draw(t, "offset"))
				below := o < h.log.segments[0].baseOffset
				if err := h.log.TruncateTo(o); err != nil {
					t.Fatalf("truncate to %d: %v", o, err)
				}
				switch {
				case o >= h.model.end:
				case below:
					h.model.batches, h.model.start, h.model.end = nil, o, o
				default:
					h.model.truncate(o)
					h.model.start = min(h.model.start, o)
					// The end is where the records end, or the active segment's base.
					dataEnd := h.model.start
					if n := len(h.model.batches); n > 0 {
						dataEnd = max(dataEnd, h.model.batches[n-1].last+1)
					}
					if e := h.log.EndOffset(); e > o || e < dataEnd || (e > dataEnd && e != h.log.active().baseOffset && e != h.model.start) {
						t.Fatalf("end %d after truncating to %d, records end at %d", e, o, dataEnd)
					}
					h.model.end = h.log.EndOffset()
				}
			},
			"truncateFully": func(t *rapid.T) {
				o := record.Offset(rapid.Int64Range(0, int64(h.model.end)+10).Draw(t, "offset"))
				if err := h.log.TruncateFullyAndStartAt(o); err != nil {
					t.Fatalf("truncate fully at %d: %v", o, err)
				}
				h.model.batches, h.model.start, h.model.end = nil, o, o
			},
			"deleteRecords": func(t *rapid.T) {
				o := record.Offset(rapid.Int64Range(int64(h.model.start), int64(h.model.end)).Draw(t, "offset"))
				if err := h.log.DeleteRecordsBefore(o); err != nil {
					t.Fatalf("delete records before %d: %v", o, err)
				}
				h.model.start = o
			},
			"retention": func(t *rapid.T) {
				cfg := h.log.Config()
				cfg.RetentionBytes = rapid.Int64Range(-1, 5000).Draw(t, "retentionBytes")
				cfg.RetentionMs = rapid.Int64Range(-1, 10000).Draw(t, "retentionMs")
				if err := h.log.SetConfig(cfg); err != nil {
					t.Fatal(err)
				}
				before := h.log.StartOffset()
				ops, err := h.log.ApplyRetention(rapid.Int64Range(0, 20000).Draw(t, "nowMs"))
				if err != nil {
					t.Fatalf("retention: %v", err)
				}
				runFileOps(t, h.fs, ops)
				if s := h.log.StartOffset(); s < before || s > h.model.end || s != max(before, h.log.segments[0].baseOffset) {
					t.Fatalf("start %d after retention (was %d, first segment %d)", s, before, h.log.segments[0].baseOffset)
				}
				h.model.start = h.log.StartOffset()
				if h.model.end != h.log.EndOffset() {
					t.Fatalf("retention moved the end to %d", h.log.EndOffset())
				}
			},
			"reopen": func(t *rapid.T) {
				if h.sync != nil {
					h.log.Synced(*h.sync, h.sync.Run(h.fs))
					h.sync = nil
				}
				h.reopen(h.log.DurableOffset(), h.model.start)
				h.checkEqual()
			},
			"crash": func(t *rapid.T) {
				cfg := memfs.CrashConfig{Seed: rapid.Uint64().Draw(t, "seed")}
				switch rapid.IntRange(0, 3).Draw(t, "mode") {
				case 0:
					cfg.Mode = memfs.CrashLoseUnsynced
				case 1:
					cfg.Mode = memfs.CrashKeepUnsynced
				}
				durable := h.log.DurableOffset()
				rp := durable
				if rapid.Bool().Draw(t, "fullScan") {
					rp = 0 // an unknown recovery point: everything is scanned
				}
				h.fs = h.fs.CrashClone(cfg)
				h.sync = nil
				h.reopen(rp, h.model.start)
				h.checkCrash(durable)
			},
			"": func(t *rapid.T) { h.checkInvariants() },
		})
	}
}

func (h *propertyHarness) reopen(recoveryPoint, logStart record.Offset) {
	if h.log != nil {
		h.log.Close()
	}
	l, err := Open(h.fs, testDir, h.cfg, OpenOptions{RecoveryPoint: recoveryPoint, LogStartOffset: logStart})
	if err != nil {
		h.t.Fatalf("open: %v", err)
	}
	h.log = l
}

// checkEqual checks that the log holds exactly the model.
func (h *propertyHarness) checkEqual() {
	got := readAllBatches(h.t, h.log)
	want := h.model.visible()
	if h.log.StartOffset() != h.model.start || h.log.EndOffset() != h.model.end {
		h.t.Fatalf("log [%d, %d), model [%d, %d)", h.log.StartOffset(), h.log.EndOffset(), h.model.start, h.model.end)
	}
	if len(got) != len(want) {
		h.t.Fatalf("log has %d batches, model %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i].data) {
			h.t.Fatalf("batch %d (base %d) differs", i, want[i].base)
		}
	}
}

// checkCrash checks the recovered log against the model (checkRecovered) and makes the model
// what survived.
func (h *propertyHarness) checkCrash(durable record.Offset) {
	if h.log.StartOffset() != h.model.start && h.model.start <= h.log.EndOffset() {
		h.t.Fatalf("recovered start %d, model %d", h.log.StartOffset(), h.model.start)
	}
	checkRecovered(h.t, h.log, &h.model, durable)
	h.checkEqual()
}

func (h *propertyHarness) checkInvariants() {
	l := h.log
	if err := l.CheckInvariants(); err != nil {
		h.t.Fatal(err)
	}
	if len(l.segments) == 0 {
		h.t.Fatal("no segments")
	}
	if len(l.lru) > l.cfg.OpenSegmentsMax {
		h.t.Fatalf("%d open inactive segments", len(l.lru))
	}
	if l.DurableOffset() > l.EndOffset() && l.SizeBytes() > 0 {
		h.t.Fatalf("durable %d past end %d", l.DurableOffset(), l.EndOffset())
	}
	if l.StartOffset() > l.EndOffset() || l.StartOffset() < l.segments[0].baseOffset {
		h.t.Fatalf("start %d, end %d, first segment %d", l.StartOffset(), l.EndOffset(), l.segments[0].baseOffset)
	}
	for i, s := range l.segments {
		if i > 0 && s.baseOffset <= l.segments[i-1].baseOffset {
			h.t.Fatal("segments out of order")
		}
		if s.sizeBytes > l.cfg.SegmentBytes && s.indexEntries > 0 {
			h.t.Fatalf("segment %d of %d bytes holds more than one batch", s.baseOffset, s.sizeBytes)
		}
	}
	if l.EndOffset() != h.model.end {
		h.t.Fatalf("end %d, model %d", l.EndOffset(), h.model.end)
	}
	e := l.EpochEntries()
	for i := range e {
		if e[i].StartOffset > l.EndOffset() || (i > 0 && (e[i].Epoch <= e[i-1].Epoch || e[i].StartOffset < e[i-1].StartOffset)) {
			h.t.Fatalf("epoch cache %v with end %d", e, l.EndOffset())
		}
	}

}
