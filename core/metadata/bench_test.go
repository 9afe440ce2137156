package metadata

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/weirdata/weir/core/uuid"
)

func BenchmarkEncodePartitionRecord(b *testing.B) {
	r := &PartitionRecord{Version: 1, TopicID: UUID{1: 1}, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 1, Directories: make([]UUID, 3)}
	var buf []byte
	for b.Loop() {
		var err error
		if buf, err = AppendRecord(buf[:0], r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePartitionRecord(b *testing.B) {
	value, err := EncodeRecord(&PartitionRecord{Version: 1, TopicID: UUID{1: 1}, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 1, Directories: make([]UUID, 3)})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := DecodeRecord(value); err != nil {
			b.Fatal(err)
		}
	}
}

// imageWithTopics builds an image of n topics of 3 partitions each.
func imageWithTopics(b *testing.B, n int) *Image {
	rng := rand.New(rand.NewPCG(1, 1))
	builder := EmptyImage().NewBuilder()
	for _, r := range BootstrapRecords(MetadataVersionDefault) {
		if err := builder.Replay(r); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		records, err := NewTopicRecords(fmt.Sprintf("topic-%06d", i), uuid.FromRand(rng), [][]int32{{0}, {0}, {0}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range records {
			if err := builder.Replay(r); err != nil {
				b.Fatal(err)
			}
		}
	}
	return builder.Build()
}

// BenchmarkApplyLeaderChange10kTopics: one partition change on an image of 10,000 topics: the
// copy-on-write cost (the topic maps are copied per new image).
func BenchmarkApplyLeaderChange10kTopics(b *testing.B) {
	img := imageWithTopics(b, 10000)
	topic := img.Topics()[5000]
	for b.Loop() {
		if _, err := img.Apply([]Record{NewLeaderChangeRecord(topic.ID, 1, 0, nil)}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSnapshotEncodeDecode10kTopics(b *testing.B) {
	img := imageWithTopics(b, 10000)
	for b.Loop() {
		data, err := EncodeSnapshot(img, SnapshotID{EndOffset: 1, Epoch: 1}, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := DecodeSnapshot(data); err != nil {
			b.Fatal(err)
		}
	}
}
