package wire

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/record"
)

// batch16KiB is one uncompressed batch of 16 records of about 1 KiB each.
func batch16KiB(b *testing.B) []byte {
	values := make([]string, 16)
	for i := range values {
		values[i] = strings.Repeat(string(rune('a'+i)), 1000)
	}
	return batchOf(b, record.CodecNone, values...)
}

func BenchmarkDecodeProduceRequest(b *testing.B) {
	versions := DefaultVersions()
	frame := encodeRequest(produceRequest(11, batch16KiB(b)), 11, 1, strPtr("bench"))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRequest(frame, &versions); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateProduce(b *testing.B) {
	req := produceRequest(11, batch16KiB(b))
	decompressor := record.NewDecompressor(1 << 20)
	results := make([]ProducePartition, 0, 1)
	b.SetBytes(int64(len(req.Topics[0].Partitions[0].Records)))
	b.ReportAllocs()
	for b.Loop() {
		results = ValidateProduce(req, decompressor, results[:0])
		if results[0].ErrorCode != NoError {
			b.Fatal(results[0].Err)
		}
	}
}

func BenchmarkAppendFetchResponse(b *testing.B) {
	batch := batch16KiB(b)
	resp := kmsg.NewPtrFetchResponse()
	topic := kmsg.NewFetchResponseTopic()
	topic.Topic = "orders"
	for p := range 4 {
		partition := kmsg.NewFetchResponseTopicPartition()
		partition.Partition = int32(p)
		partition.HighWatermark = 1000
		partition.LastStableOffset = 1000
		partition.RecordBatches = batch
		topic.Partitions = append(topic.Partitions, partition)
	}
	resp.Topics = append(resp.Topics, topic)
	header := RequestHeader{APIKey: 1, APIVersion: 16, CorrelationID: 1}
	dst := AppendResponse(nil, header, resp)
	b.SetBytes(int64(len(dst)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendResponse(dst[:0], header, resp)
	}
}
