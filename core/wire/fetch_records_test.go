package wire

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFetchResponseNeverNullRecords: a fetch partition with no data must carry empty records
// (length 0), never null (length -1): librdkafka fails such a partition with "invalid
// MessageSetSize -1" and never reaches end of partition (found by kcat -e against the broker).
func TestFetchResponseNeverNullRecords(t *testing.T) {
	for _, version := range []int16{4, 11, 12, 16} {
		resp := kmsg.NewPtrFetchResponse()
		topic := kmsg.NewFetchResponseTopic()
		topic.Topic = "t"
		topic.Partitions = append(topic.Partitions, kmsg.NewFetchResponseTopicPartition()) // RecordBatches nil
		withData := kmsg.NewFetchResponseTopicPartition()
		withData.Partition = 1
		withData.RecordBatches = []byte{1, 2, 3}
		topic.Partitions = append(topic.Partitions, withData)
		resp.Topics = append(resp.Topics, topic)

		header := RequestHeader{APIKey: resp.Key(), APIVersion: version, CorrelationID: 7}
		frame := AppendResponse(nil, header, resp)
		_, decoded, err := DecodeResponse(frame[SizePrefixBytes:], resp.Key(), version)
		require.NoError(t, err, "v%d", version)
		partitions := decoded.(*kmsg.FetchResponse).Topics[0].Partitions
		require.NotNil(t, partitions[0].RecordBatches, "v%d: an empty partition's records must be encoded empty, not null", version)
		require.Empty(t, partitions[0].RecordBatches)
		require.Equal(t, []byte{1, 2, 3}, partitions[1].RecordBatches)
	}
}
