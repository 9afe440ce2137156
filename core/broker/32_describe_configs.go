package broker

// DescribeConfigs, versions 1-4.
//
// Behaviour: a TOPIC resource lists every topic-level key (or those named) with its
// effective value and source: DYNAMIC_TOPIC_CONFIG for the topic's override,
// DYNAMIC_BROKER_CONFIG / DYNAMIC_DEFAULT_BROKER_CONFIG for a dynamic broker config of this
// node / of the cluster, STATIC_BROKER_CONFIG when server.properties sets the broker synonym,
// DEFAULT_CONFIG otherwise; with IncludeSynonyms the chain below it, as Kafka lists them
// (controller.TopicConfigEntries). An unknown topic is UNKNOWN_TOPIC_OR_PARTITION. A BROKER
// resource named by this node's id lists the broker synonyms of the topic keys and the
// replication throttled rates (dynamic) and the broker keys the Node acts on (read-only); the
// resource "" lists the cluster-wide
// dynamic configs set; another id is INVALID_REQUEST.
//
// Left out: BROKER_LOGGER and other resource types (INVALID_REQUEST), documentation, config
// types (v3 ConfigType is left UNKNOWN), sensitive keys (none are topic keys).

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/metadata"
)

func (n *Node) handleDescribeConfigs(cs *conn, s *slot, req *kmsg.DescribeConfigsRequest) {
	img := n.img
	resp := kmsg.NewPtrDescribeConfigsResponse()
	nodeID := n.cfg.Broker.NodeID
	for _, rr := range req.Resources {
		r := kmsg.NewDescribeConfigsResponseResource()
		r.ResourceType, r.ResourceName = rr.ResourceType, rr.ResourceName
		var entries []describedConfig
		switch rr.ResourceType {
		case resourceTypeTopic:
			if _, ok := img.TopicByName(rr.ResourceName); !ok {
				r.ErrorCode = errUnknownTopicOrPartition
				r.ErrorMessage = strp("Topic " + rr.ResourceName + " does not exist")
				break
			}
			overrides := img.Config(metadata.ResourceTopic, rr.ResourceName)
			tc, err := controller.EffectiveTopicConfig(&n.cfg.Broker, img, nodeID, overrides)
			if err != nil {
				r.ErrorCode, r.ErrorMessage = errInvalidConfig, strp(err.Error())
				break
			}
			for _, e := range controller.TopicConfigEntries(&n.cfg.Broker, img, nodeID, &tc, overrides, rr.ConfigNames) {
				entries = append(entries, describedConfig{ConfigEntry: e})
			}
		case resourceTypeBroker:
			switch rr.ResourceName {
			case "":
				entries = n.brokerDefaultConfigEntries(img, rr.ConfigNames)
			case strconv.Itoa(int(nodeID)):
				entries = n.brokerConfigEntries(img, rr.ConfigNames)
			default:
				r.ErrorCode, r.ErrorMessage = errInvalidRequest, strp("Unexpected broker id, expected "+strconv.Itoa(int(nodeID)))
			}
		default:
			r.ErrorCode, r.ErrorMessage = errInvalidRequest, strp("Unsupported resource type")
		}
		for _, e := range entries {
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name, c.Value, c.ReadOnly = e.Name, strp(e.Value), e.readOnly
			c.Source = kmsg.ConfigSource(e.Source)
			c.IsDefault = e.Source == controller.ConfigSourceDefault
			if req.IncludeSynonyms {
				for _, syn := range e.Synonyms {
					cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					cs.Name, cs.Value, cs.Source = syn.Name, strp(syn.Value), kmsg.ConfigSource(syn.Source)
					c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
				}
			}
			r.Configs = append(r.Configs, c)
		}
		resp.Resources = append(resp.Resources, r)
	}
	n.finish(cs, s, resp, nil)
}

const (
	resourceTypeTopic  = kmsg.ConfigResourceType(metadata.ResourceTopic)
	resourceTypeBroker = kmsg.ConfigResourceType(metadata.ResourceBroker)
)

// describedConfig is one described key with whether it can be altered.
type describedConfig struct {
	controller.ConfigEntry
	readOnly bool
}

// brokerConfigEntries describes the broker keys the Node acts on: the synonyms of the topic
// keys (dynamic, their values the topic defaults: this node's dynamic config over the
// cluster's over server.properties) and the node's own settings (read-only).
func (n *Node) brokerConfigEntries(img *metadata.Image, names []string) []describedConfig {
	b := &n.cfg.Broker
	var out []describedConfig
	// add describes key, which the node runs with value; kafkaDefault is Kafka's default (nil:
	// none); a dynamic key may be altered.
	add := func(key, value string, kafkaDefault *string, dynamic bool) {
		if len(names) > 0 && !slices.Contains(names, key) {
			return
		}
		var syns []controller.ConfigSynonym
		if dynamic {
			syns = controller.DynamicBrokerValues(img, b.NodeID, key)
		}
		if b.Raw != nil {
			if v, ok := b.Raw.Get(key); ok {
				syns = append(syns, controller.ConfigSynonym{Name: key, Value: v, Source: controller.ConfigSourceStaticBroker})
			}
		}
		if kafkaDefault != nil {
			syns = append(syns, controller.ConfigSynonym{Name: key, Value: *kafkaDefault, Source: controller.ConfigSourceDefault})
		}
		e := controller.ConfigEntry{Name: key, Value: value, Source: controller.ConfigSourceDefault, Synonyms: syns}
		if len(syns) > 0 {
			e.Source = syns[0].Source
		}
		if e.Source == controller.ConfigSourceDynamicBroker || e.Source == controller.ConfigSourceDynamicDefaultBroker {
			e.Value = syns[0].Value
		}
		out = append(out, describedConfig{ConfigEntry: e, readOnly: !dynamic})
	}
	kafka := config.DefaultBrokerConfig()
	add("auto.create.topics.enable", strconv.FormatBool(b.AutoCreateTopicsEnable), strp(strconv.FormatBool(kafka.AutoCreateTopicsEnable)), false)
	add("default.replication.factor", strconv.Itoa(int(b.DefaultReplicationFactor)), strp(strconv.Itoa(int(kafka.DefaultReplicationFactor))), false)
	add("node.id", strconv.Itoa(int(b.NodeID)), nil, false)
	add("num.partitions", strconv.Itoa(int(b.NumPartitions)), strp(strconv.Itoa(int(kafka.NumPartitions))), false)
	add("replication.quota.window.num", strconv.Itoa(int(b.Replication.QuotaWindowNum)), strp(strconv.Itoa(int(kafka.Replication.QuotaWindowNum))), false)
	add("replication.quota.window.size.seconds", strconv.Itoa(int(b.Replication.QuotaWindowSizeSeconds)), strp(strconv.Itoa(int(kafka.Replication.QuotaWindowSizeSeconds))), false)
	// The dynamic-only keys (the replication throttled rates): server.properties does not set
	// them, so the chain is this node's value, the cluster default, Kafka's default.
	for _, k := range config.DynamicBrokerKeys() {
		if len(names) > 0 && !slices.Contains(names, k.Name) {
			continue
		}
		syns := append(controller.DynamicBrokerValues(img, b.NodeID, k.Name),
			controller.ConfigSynonym{Name: k.Name, Value: k.Default, Source: controller.ConfigSourceDefault})
		out = append(out, describedConfig{ConfigEntry: controller.ConfigEntry{
			Name: k.Name, Value: syns[0].Value, Source: syns[0].Source, Synonyms: syns}})
	}
	defaults, kafkaDefaults := config.TopicDefaults(b), config.TopicDefaults(&kafka)
	for _, k := range config.TopicKeys() {
		if k.BrokerSynonym == "" {
			continue
		}
		v, _ := defaults.Get(k.Name)
		kv, _ := kafkaDefaults.Get(k.Name)
		add(k.BrokerSynonym, v, &kv, true)
	}
	slices.SortFunc(out, func(a, b describedConfig) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// brokerDefaultConfigEntries describes the cluster-wide dynamic broker configs (the BROKER
// resource ""): only the keys set, as Kafka lists them.
func (n *Node) brokerDefaultConfigEntries(img *metadata.Image, names []string) []describedConfig {
	configs := img.Config(metadata.ResourceBroker, "")
	var out []describedConfig
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		if len(names) > 0 && !slices.Contains(names, k) {
			continue
		}
		syn := controller.ConfigSynonym{Name: k, Value: configs[k], Source: controller.ConfigSourceDynamicDefaultBroker}
		out = append(out, describedConfig{ConfigEntry: controller.ConfigEntry{
			Name: k, Value: configs[k], Source: syn.Source, Synonyms: []controller.ConfigSynonym{syn}}})
	}
	return out
}
