package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/record"
)

// BenchmarkProduceAcksAll measures the Node's produce path: a decoded acks=-1 request of one
// 10-record batch (1 KiB values) appended to one partition, then its sync reported. The sync
// itself runs on memfs (no device), so this is the loop's cost, not the disk's.
func BenchmarkProduceAcksAll(b *testing.B) {
	h := newTopicHarness(&testing.T{}, noRetention)
	batch := makeBatch(b, 10, 1024, testStartWallMs, record.CodecNone)
	frames := make([][]byte, 0, 1)
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 30000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "a"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	frames = append(frames, appendRequestFrame(1, 11, req))
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		frame := append([]byte(nil), frames[0]...)
		decoded := decodeFrame(b, h, frame)
		b.StartTimer()
		rd := h.node.Request(h.now, 1, decoded)
		for len(rd.Syncs) > 0 {
			s := rd.Syncs[0]
			rd = h.node.Synced(h.now, s.ID, s.Req.Run(h.fs))
		}
		if len(rd.Responses) != 1 {
			b.Fatalf("want the produce answered after its sync, got %d responses", len(rd.Responses))
		}
	}
}
