package broker

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/record"
)

// produceFrames builds count acks=-1 produce frames of one batch each (records of valueBytes)
// to topic/0; with an idempotent producer (producerID >= 0) their sequences follow each other.
func produceFrames(t testing.TB, topic string, count, records, valueBytes int, wallMs, producerID int64) [][]byte {
	frames := make([][]byte, count)
	for i := range frames {
		recs := make([]record.Record, records)
		for j := range recs {
			// Two headers per record, as tracing and schema-registry clients add.
			recs[j] = record.Record{OffsetDelta: int32(j), Key: fmt.Appendf(nil, "k%d", j), Value: make([]byte, valueBytes),
				Headers: []record.RecordHeader{{Key: "trace-id", Value: []byte("abc")}, {Key: "schema", Value: []byte("7")}}}
		}
		opts := record.BatchOptions{PartitionLeaderEpoch: -1, FirstTimestamp: wallMs, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
		if producerID >= 0 {
			opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = producerID, 0, int32(i*records)
		}
		batch, err := record.AppendBatch(nil, opts, recs)
		if err != nil {
			t.Fatal(err)
		}
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 30000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		frames[i] = appendRequestFrame(int32(i+1000), 11, req)
	}
	return frames
}

// produceOne runs one produce frame through the path a request takes: decode (netio's reader),
// the Node's append, the sync (memfs) and its completion, and checks it was answered.
func produceOne(t testing.TB, h *harness, frame []byte) {
	rd := h.node.Request(h.now, 1, decodeFrame(t, h, frame))
	for len(rd.Syncs) > 0 {
		s := rd.Syncs[0]
		rd = h.node.Synced(h.now, s.ID, s.Req.Run(h.fs))
	}
	if len(rd.Responses) != 1 {
		t.Fatalf("want the produce answered after its sync, got %d responses", len(rd.Responses))
	}
	if p := rd.Responses[0].Body.(*kmsg.ProduceResponse).Topics[0].Partitions[0]; p.ErrorCode != 0 {
		t.Fatalf("produce answered with error %d", p.ErrorCode)
	}
}

// TestProduceAllocsPerRecord pins "0 allocations per record on the produce path": a request
// of 256 records allocates no more than one of a single record, idempotent or not. Per-request
// allocations remain (the decoded request, its response, the sync); see
// BenchmarkProduceAcksAll for their count.
func TestProduceAllocsPerRecord(t *testing.T) {
	const runs = 50
	for _, idempotent := range []bool{false, true} {
		allocs := map[int]float64{}
		for _, records := range []int{1, 256} {
			var h *harness
			topic, producerID := "a", int64(-1)
			if idempotent {
				h, topic, producerID = idempotentHarness(t, noRetention, nil, nil), "r", 0
			} else {
				h = newTopicHarness(t, noRetention)
			}
			frames := produceFrames(t, topic, runs+1, records, 100, h.now.WallMs, producerID)
			next := 0
			allocs[records] = testing.AllocsPerRun(runs, func() {
				produceOne(t, h, append([]byte(nil), frames[next]...))
				next++
			})
		}
		// The frame copy above is one allocation of the test's own, in both.
		if allocs[256] > allocs[1] {
			t.Errorf("idempotent=%v: a 256-record produce allocates %.0f times, a 1-record one %.0f: the path allocates per record",
				idempotent, allocs[256], allocs[1])
		}
		t.Logf("idempotent=%v: %.0f allocations per request for 1 record, %.0f for 256", idempotent, allocs[1], allocs[256])
	}
}

// BenchmarkProduceAcksAll measures the Node's produce path: a decoded acks=-1 request of one
// batch appended to one partition, then its sync reported. The sync itself runs on memfs (no
// device), so this is the loop's cost, not the disk's. allocs/record is the allocations of a
// request divided by its records (TestProduceAllocsPerRecord shows they do not grow with
// records; memfs's own growth is counted here).
func BenchmarkProduceAcksAll(b *testing.B) {
	for _, tc := range []struct{ records, valueBytes int }{{10, 1024}, {1, 100}, {100, 100}, {1000, 100}} {
		b.Run(fmt.Sprintf("records=%d/value=%dB", tc.records, tc.valueBytes), func(b *testing.B) {
			h := newTopicHarness(&testing.T{}, noRetention)
			frames := produceFrames(b, "a", 1, tc.records, tc.valueBytes, h.now.WallMs, -1)
			b.SetBytes(int64(len(frames[0])))
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				frame := append([]byte(nil), frames[0]...)
				b.StartTimer()
				produceOne(b, h, frame)
			}
			b.ReportMetric(float64(tc.records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkProduceManyPartitions is BenchmarkProduceAcksAll's 10 x 1 KiB case on a node with
// 2000 partitions, producing to one: the loop's cost per event must not grow with partitions.
func BenchmarkProduceManyPartitions(b *testing.B) {
	h := newHarness(b, func(c *config.BrokerConfig) {
		noRetention(c)
		c.LogIndexSizeMaxBytes = 4096 // memfs holds every preallocated index in memory
	})
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "a", 2000, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 1000
	h.request(1, 7, req)
	h.syncAll()
	h.take()
	frames := produceFrames(b, "a", 1, 10, 1024, h.now.WallMs, -1)
	b.SetBytes(int64(len(frames[0])))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		frame := append([]byte(nil), frames[0]...)
		b.StartTimer()
		produceOne(b, h, frame)
	}
}
