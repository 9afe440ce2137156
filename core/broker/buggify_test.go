package broker

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/diskio/memfs"
)

// brokerBuggifySites are the sites TestBuggifyKeepsGuarantees must see fire: every site of
// core/broker and core/log (see core/buggify's doc).
var brokerBuggifySites = []string{
	"log/roll-early", "log/index-every-batch", "log/read-short", "log/recover-from-start", "log/evict-segments",
	"broker/fetch-wake-early", "broker/retention-now", "broker/checkpoint-now", "broker/producer-expire-now",
	"broker/producer-snapshot-skip",
}

// TestBuggifyKeepsGuarantees runs an idempotent producer with long-polling fetches, timers
// and crashes while every buggify site is on and fires half the time: every site is reached,
// and the log ends holding exactly the acknowledged batches at their offsets, none twice.
func TestBuggifyKeepsGuarantees(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		bug := buggify.New(rand.New(rand.NewPCG(seed, 0)), buggify.Options{EnableOneIn: 1, FireOneIn: 2})
		rng := rand.New(rand.NewPCG(seed, 1))
		adjust := func(b *config.BrokerConfig) {
			noRetention(b)
			b.LogSegmentBytes = 4096
			b.LogIndexSizeMaxBytes = 4096 // each roll preallocates its indexes
			b.LogRetentionCheckIntervalMs = 60_000
		}
		h := newHarnessBuggify(t, adjust, bug)
		type acked struct {
			base     int64
			seq      int32
			count    int
			producer int64
		}
		var want []acked
		seq := int32(0)
		for i := range 300 {
			if i%25 == 24 {
				// A long poll waiting for more than will come; the next produce may wake it early.
				fetchAtEnd(t, h, logEnd(t, h, tpR))
			}
			count := 1 + rng.IntN(5)
			p := produceIdempotent(t, h, 0, 0, seq, count)
			if p.ErrorCode != 0 {
				t.Fatalf("seed %d: produce %d (seq %d) failed with %d", seed, i, seq, p.ErrorCode)
			}
			want = append(want, acked{base: p.BaseOffset, seq: seq, count: count})
			seq += int32(count)
			if i%10 == 9 {
				h.advance(1 + rng.Int64N(2000))
			}
			if i%60 == 59 {
				h = h.restart(false) // a crash: only what was synced survives
				h.take()
			}
		}

		l, _ := h.logs.GetLog(tpR)
		var got []acked
		for from := l.StartOffset(); from < l.EndOffset(); {
			plan, err := l.Read(from, 1<<20, l.EndOffset(), true)
			if err != nil {
				t.Fatalf("seed %d: read at %d: %v", seed, from, err)
			}
			data := readPlanData(t, h, plan.Ranges)
			for len(data) > 0 {
				hdr, err := record.ParseHeader(data)
				if err != nil {
					t.Fatalf("seed %d: batch at %d: %v", seed, from, err)
				}
				got = append(got, acked{base: int64(hdr.BaseOffset), seq: hdr.BaseSequence, count: int(hdr.RecordCount)})
				data = data[hdr.SizeBytes():]
			}
			from = plan.NextOffset
		}
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: the log holds %d batches %v,\nwant the %d acknowledged %v", seed, len(got), got, len(want), want)
		}
		fired := map[string]int64{}
		for _, s := range bug.Stats() {
			fired[s.Site] = s.Fires
		}
		for _, site := range brokerBuggifySites {
			if fired[site] == 0 {
				t.Errorf("seed %d: site %s never fired (%s)", seed, site, bug)
			}
		}
	}
}

// newHarnessBuggify is idempotentHarness's start (topic r, producer id 0) on a node with bug on.
func newHarnessBuggify(t *testing.T, adjust func(*config.BrokerConfig), bug *buggify.B) *harness {
	t.Helper()
	fsys := memfs.New()
	if _, err := storage.Format(fsys, []string{testLogDir}, testClusterID, 1, rand.NewChaCha8([32]byte{1}), storage.FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	h := openHarnessBuggify(t, fsys, adjust, bug)
	createIdempotentTopic(t, h, nil)
	return h
}

// fetchAtEnd parks a fetch of r/0 at offset asking for 1 MiB within 5 s.
func fetchAtEnd(t *testing.T, h *harness, offset record.Offset) {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 5000, 1<<20, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "r"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = int64(offset), 1<<20, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	sendQuiet(t, h, 2, 12, req)
}
