package broker

// DescribeConfigs, versions 1-4.
//
// Behaviour: a TOPIC resource lists every topic-level key (or those named) with its
// effective value and source: DYNAMIC_TOPIC_CONFIG for the topic's override,
// STATIC_BROKER_CONFIG when server.properties sets the broker synonym, DEFAULT_CONFIG
// otherwise; with IncludeSynonyms the chain below it (override, broker key, Kafka default),
// as Kafka lists them. An unknown topic is UNKNOWN_TOPIC_OR_PARTITION. A BROKER resource
// named by this node's id lists the broker synonyms of the topic keys and the broker keys
// the Node acts on, all read-only (no dynamic broker configs); another id is INVALID_REQUEST.
//
// Left out: BROKER_LOGGER and other resource types (INVALID_REQUEST), documentation, config
// types (v3 ConfigType is left UNKNOWN), sensitive keys (none are topic keys).

import (
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/metadata"
)

// Kafka's DescribeConfigs sources.
const (
	configSourceDynamicTopic int8 = 1
	configSourceStaticBroker int8 = 4
	configSourceDefault      int8 = 5
)

const (
	resourceTypeTopic  = kmsg.ConfigResourceType(2)
	resourceTypeBroker = kmsg.ConfigResourceType(4)
)

// configEntry is one described config.
type configEntry struct {
	name     string
	value    string
	source   int8
	synonyms []configSynonym
}

type configSynonym struct {
	name, value string
	source      int8
}

// topicConfigEntries describes a topic's config keys (all when names is empty).
func (n *Node) topicConfigEntries(tc *config.TopicConfig, overrides map[string]string, names []string) []configEntry {
	kafkaDefaults := config.DefaultBrokerConfig()
	defaults := config.TopicDefaults(&kafkaDefaults)
	var out []configEntry
	for _, k := range config.TopicKeys() {
		if len(names) > 0 && !slices.Contains(names, k.Name) {
			continue
		}
		v, _ := tc.Get(k.Name)
		e := configEntry{name: k.Name, value: v, source: configSourceDefault}
		if ov, ok := overrides[k.Name]; ok {
			e.synonyms = append(e.synonyms, configSynonym{k.Name, ov, configSourceDynamicTopic})
		}
		if k.BrokerSynonym != "" && n.cfg.Broker.Raw != nil {
			if bv, ok := n.cfg.Broker.Raw.Get(k.BrokerSynonym); ok {
				e.synonyms = append(e.synonyms, configSynonym{k.BrokerSynonym, bv, configSourceStaticBroker})
			}
		}
		dv, _ := defaults.Get(k.Name)
		e.synonyms = append(e.synonyms, configSynonym{k.Name, dv, configSourceDefault})
		e.source = e.synonyms[0].source
		out = append(out, e)
	}
	return out
}

func (n *Node) handleDescribeConfigs(cs *conn, s *slot, req *kmsg.DescribeConfigsRequest) {
	img := n.meta.Committed()
	resp := kmsg.NewPtrDescribeConfigsResponse()
	for _, rr := range req.Resources {
		r := kmsg.NewDescribeConfigsResponseResource()
		r.ResourceType, r.ResourceName = rr.ResourceType, rr.ResourceName
		var entries []configEntry
		readOnly := false
		switch rr.ResourceType {
		case resourceTypeTopic:
			if _, ok := img.TopicByName(rr.ResourceName); !ok {
				r.ErrorCode = errUnknownTopicOrPartition
				r.ErrorMessage = strp("Topic " + rr.ResourceName + " does not exist")
				break
			}
			overrides := img.Config(metadata.ResourceTopic, rr.ResourceName)
			tc, err := config.EffectiveTopicConfig(&n.cfg.Broker, overrides)
			if err != nil {
				r.ErrorCode, r.ErrorMessage = errInvalidConfig, strp(err.Error())
				break
			}
			entries = n.topicConfigEntries(&tc, overrides, rr.ConfigNames)
		case resourceTypeBroker:
			if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(n.cfg.Broker.NodeID)) {
				r.ErrorCode, r.ErrorMessage = errInvalidRequest, strp("Unexpected broker id, expected "+strconv.Itoa(int(n.cfg.Broker.NodeID)))
				break
			}
			readOnly = true
			entries = n.brokerConfigEntries(rr.ConfigNames)
		default:
			r.ErrorCode, r.ErrorMessage = errInvalidRequest, strp("Unsupported resource type")
		}
		for _, e := range entries {
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name, c.Value, c.ReadOnly = e.name, strp(e.value), readOnly
			c.Source = kmsg.ConfigSource(e.source)
			c.IsDefault = e.source == configSourceDefault
			if req.IncludeSynonyms {
				for _, syn := range e.synonyms {
					cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					cs.Name, cs.Value, cs.Source = syn.name, strp(syn.value), kmsg.ConfigSource(syn.source)
					c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
				}
			}
			r.Configs = append(r.Configs, c)
		}
		resp.Resources = append(resp.Resources, r)
	}
	n.finish(cs, s, resp, nil)
}

// brokerConfigEntries describes the broker keys the Node acts on: the synonyms of the topic
// keys (their values are the topic defaults) and the node's own settings.
func (n *Node) brokerConfigEntries(names []string) []configEntry {
	defaults := config.TopicDefaults(&n.cfg.Broker)
	b := &n.cfg.Broker
	source := func(key string) int8 {
		if b.Raw != nil {
			if _, ok := b.Raw.Get(key); ok {
				return configSourceStaticBroker
			}
		}
		return configSourceDefault
	}
	var out []configEntry
	add := func(key, value string) {
		if len(names) > 0 && !slices.Contains(names, key) {
			return
		}
		out = append(out, configEntry{name: key, value: value, source: source(key)})
	}
	add("auto.create.topics.enable", strconv.FormatBool(b.AutoCreateTopicsEnable))
	add("default.replication.factor", strconv.Itoa(int(b.DefaultReplicationFactor)))
	add("node.id", strconv.Itoa(int(b.NodeID)))
	add("num.partitions", strconv.Itoa(int(b.NumPartitions)))
	for _, k := range config.TopicKeys() {
		if k.BrokerSynonym == "" {
			continue
		}
		v, _ := defaults.Get(k.Name)
		add(k.BrokerSynonym, v)
	}
	slices.SortFunc(out, func(a, b configEntry) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	return out
}
