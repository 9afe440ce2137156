package controller

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
)

// The replication throttled rates are dynamic broker configs, at the cluster default and per
// broker (as kafka-configs --entity-type brokers [--entity-default | --entity-name N] sets
// them), through IncrementalAlterConfigs and AlterConfigs.
func TestAlterReplicationThrottledRates(t *testing.T) {
	img := imageWith(t, brokersN(2)...)
	c := newTestController(t, 24)
	img = createdTopics(t, c, img, map[string]int32{"t": 1})

	res := c.IncrementalAlterConfigs(img, 0, incrementalRequest(
		incremental(metadata.ResourceBroker, "", set("leader.replication.throttled.rate", "1000000")),
		incremental(metadata.ResourceBroker, "1", set("leader.replication.throttled.rate", "500"), set("follower.replication.throttled.rate", "700"))))
	require.Equal(t, []errOf{{}, {}}, configErrors(res.Response))
	img = apply(t, img, res)
	require.Equal(t, map[string]string{"leader.replication.throttled.rate": "1000000"}, img.Config(metadata.ResourceBroker, ""))
	require.Equal(t, map[string]string{"leader.replication.throttled.rate": "500", "follower.replication.throttled.rate": "700"},
		img.Config(metadata.ResourceBroker, "1"))
	require.Equal(t, []ConfigSynonym{
		{"leader.replication.throttled.rate", "500", ConfigSourceDynamicBroker},
		{"leader.replication.throttled.rate", "1000000", ConfigSourceDynamicDefaultBroker},
	}, DynamicBrokerValues(img, 1, "leader.replication.throttled.rate"))
	require.Equal(t, []ConfigSynonym{
		{"leader.replication.throttled.rate", "1000000", ConfigSourceDynamicDefaultBroker},
	}, DynamicBrokerValues(img, 0, "leader.replication.throttled.rate"))

	// Removing the per-broker value leaves the cluster default.
	res = c.IncrementalAlterConfigs(img, 0, incrementalRequest(incremental(metadata.ResourceBroker, "1", del("leader.replication.throttled.rate"))))
	require.Equal(t, []errOf{{}}, configErrors(res.Response))
	img = apply(t, img, res)
	require.Equal(t, map[string]string{"follower.replication.throttled.rate": "700"}, img.Config(metadata.ResourceBroker, "1"))

	for _, tc := range []struct {
		name     string
		resource kmsg.IncrementalAlterConfigsRequestResource
		want     errOf
	}{
		{"negative", incremental(metadata.ResourceBroker, "1", set("leader.replication.throttled.rate", "-1")), errOf{errInvalidConfig,
			`Invalid value -1 for configuration leader.replication.throttled.rate: invalid value "-1" for configuration leader.replication.throttled.rate: value must be at least 0`}},
		{"not a long", incremental(metadata.ResourceBroker, "", set("follower.replication.throttled.rate", "fast")), errOf{errInvalidConfig,
			`Invalid value fast for configuration follower.replication.throttled.rate: invalid value "fast" for configuration follower.replication.throttled.rate: not a number of type LONG`}},
		{"append to a rate", incremental(metadata.ResourceBroker, "", appendOp("follower.replication.throttled.rate", "1")), errOf{errInvalidConfig,
			"Config value append/subtract is not allowed for config key: follower.replication.throttled.rate"}},
		{"window is static", incremental(metadata.ResourceBroker, "1", set("replication.quota.window.num", "3")), errOf{errInvalidRequest,
			"Cannot update these configs dynamically: [replication.quota.window.num]"}},
		{"a list is a topic key", incremental(metadata.ResourceBroker, "1", set("leader.replication.throttled.replicas", "*")), errOf{errInvalidRequest,
			"Cannot update these configs dynamically: [leader.replication.throttled.replicas]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.IncrementalAlterConfigs(img, 0, incrementalRequest(tc.resource))
			require.Empty(t, res.Records)
			require.Equal(t, []errOf{tc.want}, configErrors(res.Response))
		})
	}

	// The legacy AlterConfigs replaces a broker's whole set.
	req := kmsg.NewPtrAlterConfigsRequest()
	rr := kmsg.NewAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceType(metadata.ResourceBroker), "1"
	cfg := kmsg.NewAlterConfigsRequestResourceConfig()
	cfg.Name, cfg.Value = "leader.replication.throttled.rate", strp("42")
	rr.Configs = append(rr.Configs, cfg)
	req.Resources = append(req.Resources, rr)
	res = c.AlterConfigs(img, 0, req)
	require.Equal(t, []errOf{{}}, configErrors(res.Response))
	img = apply(t, img, res)
	require.Equal(t, map[string]string{"leader.replication.throttled.rate": "42"}, img.Config(metadata.ResourceBroker, "1"))
}

// The throttled replica lists are topic configs with Kafka's validation; APPEND and SUBTRACT
// work on them as on any list.
func TestAlterThrottledReplicaLists(t *testing.T) {
	img := imageWith(t, brokersN(2)...)
	c := newTestController(t, 25)
	img = createdTopics(t, c, img, map[string]int32{"t": 2})

	res := c.IncrementalAlterConfigs(img, 0, incrementalRequest(incremental(metadata.ResourceTopic, "t",
		set("leader.replication.throttled.replicas", "0:0,1:1"), set("follower.replication.throttled.replicas", "*"))))
	require.Equal(t, []errOf{{}}, configErrors(res.Response))
	img = apply(t, img, res)
	res = c.IncrementalAlterConfigs(img, 0, incrementalRequest(incremental(metadata.ResourceTopic, "t",
		appendOp("leader.replication.throttled.replicas", "1:0"), subtract("follower.replication.throttled.replicas", "*"))))
	require.Equal(t, []errOf{{}}, configErrors(res.Response))
	img = apply(t, img, res)
	require.Equal(t, map[string]string{"leader.replication.throttled.replicas": "0:0,1:1,1:0", "follower.replication.throttled.replicas": ""},
		img.Config(metadata.ResourceTopic, "t"))

	tc, err := EffectiveTopicConfig(&c.cfg.Broker, img, 0, img.Config(metadata.ResourceTopic, "t"))
	require.NoError(t, err)
	require.True(t, tc.LeaderReplicationThrottledReplicas.Throttled(1, 0))
	require.False(t, tc.LeaderReplicationThrottledReplicas.Throttled(0, 1))
	entries := TopicConfigEntries(&c.cfg.Broker, img, 0, &tc, img.Config(metadata.ResourceTopic, "t"), []string{"leader.replication.throttled.replicas"})
	require.Equal(t, []ConfigEntry{{Name: "leader.replication.throttled.replicas", Value: "0:0,1:1,1:0", Source: ConfigSourceDynamicTopic, Synonyms: []ConfigSynonym{
		{"leader.replication.throttled.replicas", "0:0,1:1,1:0", ConfigSourceDynamicTopic},
		{"leader.replication.throttled.replicas", "", ConfigSourceDefault},
	}}}, entries)

	res = c.IncrementalAlterConfigs(img, 0, incrementalRequest(incremental(metadata.ResourceTopic, "t",
		set("follower.replication.throttled.replicas", "0-1"))))
	require.Empty(t, res.Records)
	require.Equal(t, []errOf{{errInvalidConfig, `invalid value "0-1" for configuration follower.replication.throttled.replicas: ` +
		"follower.replication.throttled.replicas must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],..."}},
		configErrors(res.Response))
}
