package producer

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio/memfs"
)

// TestRebuildFromLog produces through a real partition log (several segments, read plans
// smaller than the log, a batch larger than Rebuild's buffer, non-idempotent batches between),
// then rebuilds the producer state from the log alone and from a snapshot plus the log.
func TestRebuildFromLog(t *testing.T) {
	const dir = "data/t-0"
	fsys := memfs.New()
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logCfg := log.DefaultConfig()
	logCfg.SegmentBytes = 256 << 10
	logCfg.ReadPlanBytesMax = 8 << 10
	l, err := log.Open(fsys, dir, logCfg, log.OpenOptions{NowMs: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	rng := rand.New(rand.NewPCG(1, 2))
	live := newTestState(t, DefaultConfig())
	type model struct {
		epoch int16
		seq   int32
	}
	producers := make([]model, 6)
	var snapshotOffset record.Offset
	for i := 0; i < 300; i++ {
		nowMs := int64(10_000 + i)
		p := rng.IntN(len(producers) + 1)
		opts := record.BatchOptions{FirstTimestamp: nowMs, ProducerID: record.NoProducerID, ProducerEpoch: -1, BaseSequence: record.NoSequence,
			PartitionLeaderEpoch: record.NoPartitionLeaderEpoch}
		n := 1 + rng.IntN(4)
		if p < len(producers) {
			if rng.IntN(20) == 0 {
				producers[p].epoch++
				producers[p].seq = 0
			}
			opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = int64(500+p), producers[p].epoch, producers[p].seq
			producers[p].seq += int32(n)
		}
		valueBytes := 100
		if i == 150 {
			valueBytes = 100 << 10 // larger than Rebuild's 64 KiB buffer
		}
		records := make([]record.Record, n)
		for j := range records {
			records[j] = record.Record{OffsetDelta: int32(j), TimestampDelta: int64(j), Value: bytes.Repeat([]byte{byte(i)}, valueBytes)}
		}
		buf, err := record.AppendBatch(nil, opts, records)
		if err != nil {
			t.Fatal(err)
		}
		h, err := record.ParseHeader(buf)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := live.CheckAppend(h, nowMs); err != nil || v.Kind != VerdictAppend {
			t.Fatalf("batch %d: %+v %v", i, v, err)
		}
		res, err := l.Append(buf, log.AppendOptions{AssignOffsets: true, LeaderEpoch: 0, NowMs: nowMs})
		if err != nil {
			t.Fatal(err)
		}
		written, _ := record.ParseHeader(buf)
		live.Update(written, res.BaseOffset, nowMs)
		if i == 200 {
			if snapshotOffset, err = live.WriteSnapshot(fsys, dir); err != nil {
				t.Fatal(err)
			}
		}
	}
	if l.SegmentCount() < 3 {
		t.Fatalf("only %d segments", l.SegmentCount())
	}

	// From the log alone.
	scratch := newTestState(t, DefaultConfig())
	if res, err := Rebuild(fsys, l, scratch); err != nil || res.SkippedCount != 0 || len(res.Skipped) != 0 {
		t.Fatalf("rebuild of an undamaged log: %+v, %v", res, err)
	}
	assertSameEntries(t, live.Entries(), scratch.Entries())
	if scratch.EndOffset() != l.EndOffset() || live.EndOffset() != l.EndOffset() {
		t.Fatalf("end offsets: rebuilt %d, live %d, log %d", scratch.EndOffset(), live.EndOffset(), l.EndOffset())
	}

	// From the snapshot, then the log past it: the same producers, epochs, timestamps and
	// last batches; each producer's retained batches a suffix of the live ones (the snapshot
	// keeps only the last batch before it, as Kafka's does).
	loaded, res, err := Load(fsys, dir, DefaultConfig(), l.StartOffset(), l.EndOffset(), 20_000)
	if err != nil || res.SnapshotOffset != snapshotOffset {
		t.Fatalf("load: %+v %v", res, err)
	}
	if res, err := Rebuild(fsys, l, loaded); err != nil || res.SkippedCount != 0 {
		t.Fatalf("rebuild after a snapshot: %+v, %v", res, err)
	}
	want, got := live.Entries(), loaded.Entries()
	if len(want) != len(got) {
		t.Fatalf("%d producers, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.ProducerID != g.ProducerID || w.ProducerEpoch != g.ProducerEpoch || w.LastTimestampMs != g.LastTimestampMs ||
			len(g.Batches) == 0 || len(g.Batches) > len(w.Batches) {
			t.Fatalf("producer %d: got %+v, want %+v", w.ProducerID, g, w)
		}
		suffix := w.Batches[len(w.Batches)-len(g.Batches):]
		for j := range suffix {
			if suffix[j] != g.Batches[j] {
				t.Fatalf("producer %d batch %d: got %+v, want %+v", w.ProducerID, j, g.Batches[j], suffix[j])
			}
		}
	}

	// A state past the log end is refused.
	ahead, _ := NewState(DefaultConfig(), l.EndOffset()+1)
	if _, err := Rebuild(fsys, l, ahead); err == nil {
		t.Fatal("rebuilt a state past the log end")
	}
}
