package wire

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/record"
)

func batchOf(t testing.TB, codec record.Codec, values ...string) []byte {
	t.Helper()
	records := make([]record.Record, len(values))
	for i, v := range values {
		records[i] = record.Record{OffsetDelta: int32(i), TimestampDelta: int64(i), Key: []byte("k"), Value: []byte(v)}
	}
	b, err := record.AppendBatch(nil, record.BatchOptions{
		PartitionLeaderEpoch: record.NoPartitionLeaderEpoch, Codec: codec, FirstTimestamp: 1_700_000_000_000,
		ProducerID: record.NoProducerID, ProducerEpoch: -1, BaseSequence: record.NoSequence,
	}, records)
	require.NoError(t, err)
	return b
}

func produceRequest(version int16, records ...[]byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = version
	topic := kmsg.NewProduceRequestTopic()
	topic.Topic = "orders"
	for i, r := range records {
		p := kmsg.NewProduceRequestTopicPartition()
		p.Partition = int32(i)
		p.Records = r
		topic.Partitions = append(topic.Partitions, p)
	}
	req.Topics = append(req.Topics, topic)
	return req
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestValidateProduce(t *testing.T) {
	good := batchOf(t, record.CodecNone, "a", "b", "c")
	zstd := batchOf(t, record.CodecZstd, "a", "b")
	badCRC := append([]byte{}, good...)
	badCRC[len(badCRC)-1] ^= 0xff
	// A legacy v1 message: offset, size, crc, magic 1, attributes, timestamp, key -1, value "x".
	legacy := binary.BigEndian.AppendUint64(nil, 0)
	legacy = binary.BigEndian.AppendUint32(legacy, 4+1+1+8+4+4+1)
	legacy = append(legacy, 0, 0, 0, 0, 1, 0)
	legacy = binary.BigEndian.AppendUint64(legacy, 0)
	legacy = append(legacy, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 'x')
	badMagic := append([]byte{}, good...)
	badMagic[16] = 3
	tooSmall := append([]byte{}, good[:12]...)
	binary.BigEndian.PutUint32(tooSmall[8:], 13)
	// Offset deltas 0 and 2: a valid batch by its CRC, but not what a producer may send.
	gapped, err := record.AppendBatch(nil, record.BatchOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, PartitionLeaderEpoch: -1},
		[]record.Record{{OffsetDelta: 0, Value: []byte("a")}, {OffsetDelta: 2, Value: []byte("b")}})
	require.NoError(t, err)

	for _, tc := range []struct {
		name      string
		version   int16
		records   []byte
		wantCode  int16
		wantBatch []byte
	}{
		{"one batch", 9, good, NoError, good},
		{"one zstd batch at v7", 7, zstd, NoError, zstd},
		{"zstd before v7", 6, zstd, UnsupportedCompressionType, nil},
		{"null records", 9, nil, InvalidRecord, nil},
		{"a partial batch only", 9, good[:len(good)-1], InvalidRecord, nil},
		{"fewer bytes than a size field", 9, good[:11], InvalidRecord, nil},
		{"two batches", 9, cat(good, good), InvalidRecord, nil},
		{"a batch and a partial one", 9, cat(good, good[:30]), NoError, good},
		{"a batch and a damaged second header", 9, cat(good, tooSmall), CorruptMessage, nil},
		{"size below any message", 9, tooSmall, CorruptMessage, nil},
		{"magic 3", 9, badMagic, CorruptMessage, nil},
		{"magic 1 at v3", 3, legacy, InvalidRecord, nil},
		{"magic 1 at v2", 2, legacy, UnsupportedForMessageFormat, nil},
		{"bad crc", 9, badCRC, CorruptMessage, nil},
		{"offset deltas with a gap", 9, gapped, InvalidRecord, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := produceRequest(tc.version, tc.records)
			results := ValidateProduce(req, record.NewDecompressor(1<<20), nil)
			require.Len(t, results, 1)
			got := results[0]
			require.Equal(t, tc.wantCode, got.ErrorCode, "err: %v", got.Err)
			require.Equal(t, tc.wantBatch, got.Batch)
			require.Equal(t, "orders", got.Topic)
			if tc.wantCode == NoError {
				require.NoError(t, got.Err)
				h, err := record.ParseHeader(tc.wantBatch)
				require.NoError(t, err)
				require.Equal(t, h, got.Summary.Header)
				require.Positive(t, got.Summary.Header.RecordCount)
			} else {
				require.Error(t, got.Err)
			}
		})
	}
}

func TestValidateProducePerPartition(t *testing.T) {
	good := batchOf(t, record.CodecGzip, "x", "y")
	req := produceRequest(11, good, nil, good)
	second := kmsg.NewProduceRequestTopic()
	second.Topic = "audit"
	p := kmsg.NewProduceRequestTopicPartition()
	p.Partition = 7
	p.Records = cat(good, good)
	second.Partitions = append(second.Partitions, p)
	req.Topics = append(req.Topics, second)

	results := ValidateProduce(req, record.NewDecompressor(1<<20), make([]ProducePartition, 0, 4))
	require.Len(t, results, 4)
	type verdict struct {
		topicIndex, partitionIndex int
		topic                      string
		partition                  int32
		code                       int16
	}
	var got []verdict
	for _, r := range results {
		got = append(got, verdict{r.TopicIndex, r.PartitionIndex, r.Topic, r.Partition, r.ErrorCode})
	}
	require.Equal(t, []verdict{
		{0, 0, "orders", 0, NoError},
		{0, 1, "orders", 1, InvalidRecord},
		{0, 2, "orders", 2, NoError},
		{1, 0, "audit", 7, InvalidRecord},
	}, got)
	require.Equal(t, int32(2), results[0].Summary.Header.RecordCount)

	// A Decompressor's bound makes a batch that inflates past it corrupt, not a crash.
	big := batchOf(t, record.CodecGzip, string(make([]byte, 64<<10)))
	results = ValidateProduce(produceRequest(11, big), record.NewDecompressor(1<<10), nil)
	require.Equal(t, CorruptMessage, results[0].ErrorCode)

	require.Panics(t, func() { ValidateProduce(req, nil, nil) })
}
