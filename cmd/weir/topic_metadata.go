package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Special timestamps of a ListOffsets request.
const (
	listOffsetsLatest   = -1 // the high watermark, or the last stable offset under read_committed
	listOffsetsEarliest = -2 // the log start offset
)

// Isolation levels of ListOffsets and Fetch.
const (
	readUncommitted = 0
	readCommitted   = 1
)

// requestMetadata asks for the named topics' metadata, or every topic's if topics is nil.
// It never creates a topic. Partitions are sorted by number.
func requestMetadata(ctx context.Context, cl *kgo.Client, topics []string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = false
	if topics != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
	}
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("metadata request: %w", err)
	}
	for i := range resp.Topics {
		slices.SortFunc(resp.Topics[i].Partitions, func(x, y kmsg.MetadataResponseTopicPartition) int {
			return int(x.Partition) - int(y.Partition)
		})
	}
	return resp, nil
}

// metadataByTopic indexes a metadata response's topics by name.
func metadataByTopic(resp *kmsg.MetadataResponse) map[string]*kmsg.MetadataResponseTopic {
	byName := make(map[string]*kmsg.MetadataResponseTopic, len(resp.Topics))
	for i := range resp.Topics {
		if t := &resp.Topics[i]; t.Topic != nil {
			byName[*t.Topic] = t
		}
	}
	return byName
}

// partitionOffset is one partition's answer to ListOffsets.
type partitionOffset struct {
	offset    int64
	errorCode int16
}

// topicPartitions lists partitions by topic.
type topicPartitions map[string][]int32

// listOffsets asks each partition's leader for the offset at timestamp (or a special timestamp
// above). A partition missing from the answers is missing from the result.
func listOffsets(ctx context.Context, cl *kgo.Client, partitions topicPartitions, timestamp int64, isolationLevel int8) (map[string]map[int32]partitionOffset, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	req.IsolationLevel = isolationLevel
	topics := make([]string, 0, len(partitions))
	for t := range partitions {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	for _, t := range topics {
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = t
		for _, p := range partitions[t] {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = p
			rp.Timestamp = timestamp
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	result := make(map[string]map[int32]partitionOffset, len(partitions))
	if len(req.Topics) == 0 {
		return result, nil
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("list offsets request: %w", err)
	}
	for _, rt := range resp.Topics {
		if result[rt.Topic] == nil {
			result[rt.Topic] = make(map[int32]partitionOffset, len(rt.Partitions))
		}
		for _, rp := range rt.Partitions {
			result[rt.Topic][rp.Partition] = partitionOffset{offset: rp.Offset, errorCode: rp.ErrorCode}
		}
	}
	return result, nil
}
