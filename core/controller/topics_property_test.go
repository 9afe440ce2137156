package controller

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/metadata"
)

var (
	propNames       = []string{"a", "b", "c.d", "c_d", "__consumer_offsets", "bad/name", ""}
	propTopicKeys   = []string{"retention.ms", "cleanup.policy", "segment.bytes", "min.compaction.lag.ms", "max.compaction.lag.ms", "nope"}
	propBrokerKeys  = []string{"log.retention.ms", "log.cleanup.policy", "log.segment.bytes", "num.partitions"}
	propConfigValue = []string{"1000", "compact", "delete", "-5", "x", "1048576", "compact,delete"}
)

// Property: any sequence of admin commands gives Results whose records the image accepts, whose
// answers agree with the records (every topic answered as created or deleted has its record),
// and whose new partitions sit on distinct registered brokers led by an active one.
func TestCommandSequencesApply(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var brokers []testBroker
		for i := range rapid.IntRange(1, 5).Draw(t, "brokers") {
			b := testBroker{id: int32(i), fenced: rapid.IntRange(0, 3).Draw(t, "fenced") == 0}
			if rapid.Bool().Draw(t, "rack") {
				b.rack = "r" + strconv.Itoa(rapid.IntRange(0, 2).Draw(t, "rackName"))
			}
			brokers = append(brokers, b)
		}
		img := imageWith(t, brokers...)
		b := config.DefaultBrokerConfig()
		b.NodeID = 0
		b.NumPartitions = int32(rapid.IntRange(1, 3).Draw(t, "num.partitions"))
		c, err := New(Config{NodeID: 0, Broker: b}, rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 1)))
		require.NoError(t, err)

		for step := range rapid.IntRange(1, 25).Draw(t, "steps") {
			var res Result
			validateOnly := rapid.IntRange(0, 4).Draw(t, "validateOnly") == 0
			switch kind := rapid.IntRange(0, 4).Draw(t, "kind"); kind {
			case 0:
				req := createTopicsRequest()
				req.ValidateOnly = validateOnly
				for range rapid.IntRange(1, 3).Draw(t, "topics") {
					rt := newTopic(rapid.SampledFrom(propNames).Draw(t, "name"),
						int32(rapid.IntRange(-1, 4).Draw(t, "partitions")), int16(rapid.IntRange(-1, 4).Draw(t, "rf")))
					if rapid.IntRange(0, 3).Draw(t, "manual") == 0 {
						var replicas [][]int32
						for range rapid.IntRange(1, 3).Draw(t, "manualPartitions") {
							var rs []int32
							for range rapid.IntRange(0, 3).Draw(t, "manualRF") {
								rs = append(rs, int32(rapid.IntRange(-1, 6).Draw(t, "replica")))
							}
							replicas = append(replicas, rs)
						}
						rt = withAssignment(rt, replicas...)
					}
					if rapid.Bool().Draw(t, "config") {
						v := rapid.SampledFrom(propConfigValue).Draw(t, "value")
						rt = withConfig(rt, rapid.SampledFrom(propTopicKeys).Draw(t, "key"), &v)
					}
					req.Topics = append(req.Topics, rt)
				}
				res = c.CreateTopics(img, 0, req)
				created := 0
				for _, out := range res.Response.(*kmsg.CreateTopicsResponse).Topics {
					if out.ErrorCode == errNone {
						created++
						require.Positive(t, out.NumPartitions)
					}
				}
				if validateOnly {
					created = 0
				}
				require.Equal(t, created, countRecords[*metadata.TopicRecord](res.Records), "step %d", step)
			case 1:
				req := createPartitionsRequest()
				req.ValidateOnly = validateOnly
				rt := growTo(rapid.SampledFrom(propNames).Draw(t, "name"), int32(rapid.IntRange(0, 6).Draw(t, "count")))
				if rapid.IntRange(0, 3).Draw(t, "manual") == 0 {
					rt.Assignment = []kmsg.CreatePartitionsRequestTopicAssignment{{Replicas: []int32{int32(rapid.IntRange(0, 5).Draw(t, "replica"))}}}
				}
				req.Topics = append(req.Topics, rt)
				res = c.CreatePartitions(img, 0, req)
			case 2:
				validateOnly = false // DeleteTopics has none
				req := kmsg.NewPtrDeleteTopicsRequest()
				req.Version = 6
				for range rapid.IntRange(1, 3).Draw(t, "topics") {
					rt := kmsg.NewDeleteTopicsRequestTopic()
					name := rapid.SampledFrom(propNames).Draw(t, "name")
					if topic, ok := img.TopicByName(name); ok && rapid.Bool().Draw(t, "byID") {
						rt.TopicID = topic.ID
					} else {
						rt.Topic = &name
					}
					req.Topics = append(req.Topics, rt)
				}
				res = c.DeleteTopics(img, 0, req)
				deleted := 0
				for _, out := range res.Response.(*kmsg.DeleteTopicsResponse).Topics {
					if out.ErrorCode == errNone {
						deleted++
					}
				}
				require.Equal(t, deleted, countRecords[*metadata.RemoveTopicRecord](res.Records), "step %d", step)
			case 3, 4:
				var resourceType metadata.ResourceType
				var name string
				var keys []string
				if rapid.Bool().Draw(t, "broker") {
					resourceType, keys = metadata.ResourceBroker, propBrokerKeys
					name = rapid.SampledFrom([]string{"", "0", "1", "x"}).Draw(t, "brokerName")
				} else {
					resourceType, keys = metadata.ResourceTopic, propTopicKeys
					name = rapid.SampledFrom(propNames).Draw(t, "name")
				}
				if kind == 3 {
					var ops []op
					for range rapid.IntRange(1, 3).Draw(t, "ops") {
						o := op{key: rapid.SampledFrom(keys).Draw(t, "key"), op: kmsg.IncrementalAlterConfigOp(rapid.IntRange(0, 3).Draw(t, "op"))}
						v := rapid.SampledFrom(propConfigValue).Draw(t, "value")
						o.value = &v
						ops = append(ops, o)
					}
					req := incrementalRequest(incremental(resourceType, name, ops...))
					req.ValidateOnly = validateOnly
					res = c.IncrementalAlterConfigs(img, 0, req)
				} else {
					req := kmsg.NewPtrAlterConfigsRequest()
					req.ValidateOnly = validateOnly
					rr := kmsg.NewAlterConfigsRequestResource()
					rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceType(resourceType), name
					for range rapid.IntRange(0, 2).Draw(t, "configs") {
						cfg := kmsg.NewAlterConfigsRequestResourceConfig()
						cfg.Name, cfg.Value = rapid.SampledFrom(keys).Draw(t, "key"), strp(rapid.SampledFrom(propConfigValue).Draw(t, "value"))
						rr.Configs = append(rr.Configs, cfg)
					}
					req.Resources = append(req.Resources, rr)
					res = c.AlterConfigs(img, 0, req)
				}
			}
			if validateOnly {
				require.Empty(t, res.Records, "step %d: validate-only recorded", step)
			}
			next, err := img.Apply(res.Records)
			require.NoError(t, err, "step %d", step)
			checkNewPartitions(t, img, next, res.Records)
			img = next
		}
	})
}

func countRecords[R metadata.Record](records []metadata.Record) int {
	n := 0
	for _, r := range records {
		if _, ok := r.(R); ok {
			n++
		}
	}
	return n
}

// checkNewPartitions checks each partition the records create: replicas registered, leader an
// active broker, ISR the active replicas.
func checkNewPartitions(t *rapid.T, before, after *metadata.Image, records []metadata.Record) {
	for _, r := range records {
		pr, ok := r.(*metadata.PartitionRecord)
		if !ok {
			continue
		}
		for _, id := range pr.Replicas {
			_, ok := before.Broker(id)
			require.True(t, ok, "partition %d replica %d is not registered", pr.PartitionID, id)
		}
		leader, ok := before.Broker(pr.Leader)
		require.True(t, ok)
		require.False(t, leader.Fenced, "partition %d led by fenced broker %d", pr.PartitionID, pr.Leader)
		require.Equal(t, unfencedOf(before, pr.Replicas), pr.ISR, fmt.Sprintf("partition %d", pr.PartitionID))
		_, ok = after.Partition(pr.TopicID, pr.PartitionID)
		require.True(t, ok)
	}
}
