package controller

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
)

type op struct {
	key   string
	op    kmsg.IncrementalAlterConfigOp
	value *string
}

func set(key, value string) op      { return op{key, kmsg.IncrementalAlterConfigOpSet, &value} }
func del(key string) op             { return op{key, kmsg.IncrementalAlterConfigOpDelete, nil} }
func appendOp(key, value string) op { return op{key, kmsg.IncrementalAlterConfigOpAppend, &value} }
func subtract(key, value string) op { return op{key, kmsg.IncrementalAlterConfigOpSubtract, &value} }

func incremental(resourceType metadata.ResourceType, name string, ops ...op) kmsg.IncrementalAlterConfigsRequestResource {
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceType(resourceType), name
	for _, o := range ops {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = o.key, o.op, o.value
		rr.Configs = append(rr.Configs, c)
	}
	return rr
}

func incrementalRequest(resources ...kmsg.IncrementalAlterConfigsRequestResource) *kmsg.IncrementalAlterConfigsRequest {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.Version = 1
	req.Resources = resources
	return req
}

func configErrors(resp kmsg.Response) []errOf {
	var out []errOf
	switch r := resp.(type) {
	case *kmsg.IncrementalAlterConfigsResponse:
		for _, rr := range r.Resources {
			out = append(out, errFrom(rr.ErrorCode, rr.ErrorMessage))
		}
	case *kmsg.AlterConfigsResponse:
		for _, rr := range r.Resources {
			out = append(out, errFrom(rr.ErrorCode, rr.ErrorMessage))
		}
	}
	return out
}

func TestIncrementalAlterConfigsTopic(t *testing.T) {
	img := imageWith(t, brokersN(1)...)
	c := newTestController(t, 21)
	img = createdTopics(t, c, img, map[string]int32{"t": 1})

	res := c.IncrementalAlterConfigs(img, 0, incrementalRequest(incremental(metadata.ResourceTopic, "t",
		set("retention.ms", "1000"), appendOp("cleanup.policy", "compact,delete"))))
	require.Equal(t, []errOf{{}}, configErrors(res.Response))
	img = apply(t, img, res)
	require.Equal(t, map[string]string{"retention.ms": "1000", "cleanup.policy": "compact,delete"}, img.Config(metadata.ResourceTopic, "t"))

	res = c.IncrementalAlterConfigs(img, 0, incrementalRequest(incremental(metadata.ResourceTopic, "t",
		del("retention.ms"), subtract("cleanup.policy", "delete"))))
	require.Equal(t, []errOf{{}}, configErrors(res.Response))
	img = apply(t, img, res)
	require.Equal(t, map[string]string{"cleanup.policy": "compact"}, img.Config(metadata.ResourceTopic, "t"))

	// Setting what is already set changes nothing: no records.
	res = c.IncrementalAlterConfigs(img, 0, incrementalRequest(incremental(metadata.ResourceTopic, "t", set("cleanup.policy", "compact"))))
	require.Equal(t, []errOf{{}}, configErrors(res.Response))
	require.Empty(t, res.Records)

	for _, tc := range []struct {
		name     string
		resource kmsg.IncrementalAlterConfigsRequestResource
		want     errOf
	}{
		{"unknown topic", incremental(metadata.ResourceTopic, "nope", set("retention.ms", "1")), errOf{errUnknownTopicOrPartition, "Topic nope does not exist"}},
		{"bad value", incremental(metadata.ResourceTopic, "t", set("retention.ms", "x")), errOf{errInvalidConfig,
			`invalid value "x" for configuration retention.ms: not a number of type LONG`}},
		{"unknown key", incremental(metadata.ResourceTopic, "t", set("nope", "x")), errOf{errInvalidConfig, "unknown topic config name: nope"}},
		{"append to a scalar", incremental(metadata.ResourceTopic, "t", appendOp("retention.ms", "1")), errOf{errInvalidConfig,
			"Config value append/subtract is not allowed for config key: retention.ms"}},
		{"null set", incremental(metadata.ResourceTopic, "t", op{"retention.ms", kmsg.IncrementalAlterConfigOpSet, nil}), errOf{errInvalidRequest,
			"Null value not supported for : retention.ms"}},
		{"key twice", incremental(metadata.ResourceTopic, "t", set("retention.ms", "1"), del("retention.ms")), errOf{errInvalidRequest,
			"Error due to duplicate config keys"}},
		{"unknown op", incremental(metadata.ResourceTopic, "t", op{"retention.ms", 9, nil}), errOf{errInvalidRequest, "Unknown config operation 9"}},
		{"lag conflict", incremental(metadata.ResourceTopic, "t", set("min.compaction.lag.ms", "10"), set("max.compaction.lag.ms", "5")), errOf{errInvalidConfig,
			"conflict topic config setting: min.compaction.lag.ms (10) must not be greater than max.compaction.lag.ms (5)"}},
		{"logger resource", incremental(metadata.ResourceBrokerLogger, "1", set("x", "DEBUG")), errOf{errInvalidRequest,
			"Unsupported resource type 8: only TOPIC and BROKER configs can be altered"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.IncrementalAlterConfigs(img, 0, incrementalRequest(tc.resource))
			require.Empty(t, res.Records)
			require.Equal(t, []errOf{tc.want}, configErrors(res.Response))
		})
	}
}

func TestIncrementalAlterConfigsBroker(t *testing.T) {
	img := imageWith(t, brokersN(2)...)
	c := newTestController(t, 22)
	img = createdTopics(t, c, img, map[string]int32{"t": 1})

	for _, tc := range []struct {
		name     string
		resource kmsg.IncrementalAlterConfigsRequestResource
		want     errOf
	}{
		{"read-only key", incremental(metadata.ResourceBroker, "0", set("num.partitions", "3"), set("log.dirs", "/x"), set("log.retention.ms", "1")),
			errOf{errInvalidRequest, "Cannot update these configs dynamically: [log.dirs, num.partitions]"}},
		{"bad value", incremental(metadata.ResourceBroker, "", set("log.segment.bytes", "tiny")), errOf{errInvalidConfig,
			`Invalid value tiny for configuration log.segment.bytes: invalid value "tiny" for configuration segment.bytes: not a number of type INT`}},
		{"bad name", incremental(metadata.ResourceBroker, "broker-1", set("log.retention.ms", "1")), errOf{errInvalidRequest,
			`Unable to parse broker name as a base 10 number: "broker-1"`}},
		{"negative id", incremental(metadata.ResourceBroker, "-1", set("log.retention.ms", "1")), errOf{errInvalidRequest,
			`Unable to parse broker name as a base 10 number: "-1"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.IncrementalAlterConfigs(img, 0, incrementalRequest(tc.resource))
			require.Empty(t, res.Records)
			require.Equal(t, []errOf{tc.want}, configErrors(res.Response))
		})
	}

	// The cluster default and a node's own value, both in one atomic Result; a resource twice
	// fails both occurrences.
	req := incrementalRequest(
		incremental(metadata.ResourceBroker, "", set("log.retention.ms", "7000")),
		incremental(metadata.ResourceBroker, "1", set("log.retention.ms", "5000")),
		incremental(metadata.ResourceTopic, "t", set("segment.ms", "100")),
		incremental(metadata.ResourceTopic, "t", set("segment.ms", "200")))
	res := c.IncrementalAlterConfigs(img, 0, req)
	dupe := errOf{errInvalidRequest, "Each resource may appear at most once."}
	require.Equal(t, []errOf{{}, {}, dupe, dupe}, configErrors(res.Response))
	img = apply(t, img, res)
	require.Equal(t, map[string]string{"log.retention.ms": "7000"}, img.Config(metadata.ResourceBroker, ""))
	require.Equal(t, map[string]string{"log.retention.ms": "5000"}, img.Config(metadata.ResourceBroker, "1"))

	// A topic's effective config follows: node 1 runs it with 5000, node 0 with the cluster's 7000.
	for node, want := range map[int32]int64{0: 7000, 1: 5000} {
		tc, err := EffectiveTopicConfig(&c.cfg.Broker, img, node, img.Config(metadata.ResourceTopic, "t"))
		require.NoError(t, err)
		require.Equal(t, want, tc.RetentionMs, "node %d", node)
	}
	tc, err := EffectiveTopicConfig(&c.cfg.Broker, img, 1, nil)
	require.NoError(t, err)
	entries := TopicConfigEntries(&c.cfg.Broker, img, 1, &tc, nil, []string{"retention.ms"})
	require.Equal(t, []ConfigEntry{{Name: "retention.ms", Value: "5000", Source: ConfigSourceDynamicBroker, Synonyms: []ConfigSynonym{
		{"log.retention.ms", "5000", ConfigSourceDynamicBroker},
		{"log.retention.ms", "7000", ConfigSourceDynamicDefaultBroker},
		{"retention.ms", "604800000", ConfigSourceDefault},
	}}}, entries)
}

func TestAlterConfigsReplacesTheWholeSet(t *testing.T) {
	img := imageWith(t, brokersN(1)...)
	c := newTestController(t, 23)
	img = createdTopics(t, c, img, map[string]int32{"t": 1})
	img = apply(t, img, c.IncrementalAlterConfigs(img, 0, incrementalRequest(incremental(metadata.ResourceTopic, "t",
		set("retention.ms", "1000"), set("segment.ms", "2000")))))

	legacy := func(resourceType metadata.ResourceType, name string, kv ...*string) *kmsg.AlterConfigsRequest {
		req := kmsg.NewPtrAlterConfigsRequest()
		rr := kmsg.NewAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceType(resourceType), name
		for i := 0; i < len(kv); i += 2 {
			cfg := kmsg.NewAlterConfigsRequestResourceConfig()
			cfg.Name, cfg.Value = *kv[i], kv[i+1]
			rr.Configs = append(rr.Configs, cfg)
		}
		req.Resources = append(req.Resources, rr)
		return req
	}
	res := c.AlterConfigs(img, 0, legacy(metadata.ResourceTopic, "t", strp("retention.ms"), strp("3000")))
	require.Equal(t, []errOf{{}}, configErrors(res.Response))
	after := apply(t, img, res)
	require.Equal(t, map[string]string{"retention.ms": "3000"}, after.Config(metadata.ResourceTopic, "t"))

	res = c.AlterConfigs(img, 0, legacy(metadata.ResourceTopic, "t", strp("retention.ms"), nil))
	require.Equal(t, []errOf{{errInvalidRequest, "Null value not supported for : retention.ms"}}, configErrors(res.Response))
	res = c.AlterConfigs(img, 0, legacy(metadata.ResourceTopic, "t", strp("retention.ms"), strp("1"), strp("retention.ms"), strp("2")))
	require.Equal(t, []errOf{{errInvalidRequest, "Error due to duplicate config keys"}}, configErrors(res.Response))

	res = c.AlterConfigs(img, 0, legacy(metadata.ResourceBroker, "", strp("log.retention.ms"), strp("9")))
	require.Equal(t, []errOf{{}}, configErrors(res.Response))
	after = apply(t, img, res)
	require.Equal(t, map[string]string{"log.retention.ms": "9"}, after.Config(metadata.ResourceBroker, ""))

	// ValidateOnly: checked, not recorded.
	req := legacy(metadata.ResourceTopic, "t")
	req.ValidateOnly = true
	res = c.AlterConfigs(img, 0, req)
	require.Equal(t, []errOf{{}}, configErrors(res.Response))
	require.Empty(t, res.Records)
}
