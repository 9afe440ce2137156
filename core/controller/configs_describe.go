package controller

import (
	"slices"
	"strconv"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/metadata"
)

// Kafka's DescribeConfigs sources, most specific first.
const (
	ConfigSourceDynamicTopic         int8 = 1
	ConfigSourceDynamicBroker        int8 = 2
	ConfigSourceDynamicDefaultBroker int8 = 3
	ConfigSourceStaticBroker         int8 = 4
	ConfigSourceDefault              int8 = 5
)

// ConfigEntry is one described config key: its effective value, where that comes from, and
// the chain of synonyms below it (most specific first), as DescribeConfigs and CreateTopics
// v5+ answer.
type ConfigEntry struct {
	Name     string
	Value    string
	Source   int8
	Synonyms []ConfigSynonym
}

// ConfigSynonym is one level of a config's chain.
type ConfigSynonym struct {
	Name, Value string
	Source      int8
}

// DynamicBrokerValues returns the dynamic values of a broker key for node nodeID: its own
// (DYNAMIC_BROKER_CONFIG) over the cluster default (DYNAMIC_DEFAULT_BROKER_CONFIG).
func DynamicBrokerValues(img *metadata.Image, nodeID int32, brokerKey string) []ConfigSynonym {
	var out []ConfigSynonym
	if v, ok := img.ConfigValue(metadata.ResourceBroker, strconv.Itoa(int(nodeID)), brokerKey); ok {
		out = append(out, ConfigSynonym{brokerKey, v, ConfigSourceDynamicBroker})
	}
	if v, ok := img.ConfigValue(metadata.ResourceBroker, "", brokerKey); ok {
		out = append(out, ConfigSynonym{brokerKey, v, ConfigSourceDynamicDefaultBroker})
	}
	return out
}

// MergedTopicOverrides is what a topic sets on node nodeID beyond server.properties: its own
// overrides over the topic keys the dynamic broker configs of that node and of the cluster
// (img) supply (log.retention.ms for retention.ms, ...).
func MergedTopicOverrides(img *metadata.Image, nodeID int32, overrides map[string]string) map[string]string {
	merged := make(map[string]string, len(overrides))
	for _, k := range config.TopicKeys() {
		if k.BrokerSynonym == "" {
			continue
		}
		if dyn := DynamicBrokerValues(img, nodeID, k.BrokerSynonym); len(dyn) > 0 {
			merged[k.Name] = dyn[0].Value
		}
	}
	for _, k := range sortedKeys(overrides) {
		merged[k] = overrides[k]
	}
	return merged
}

// EffectiveTopicConfig is a topic's config on node nodeID: MergedTopicOverrides over
// server.properties (b).
func EffectiveTopicConfig(b *config.BrokerConfig, img *metadata.Image, nodeID int32, overrides map[string]string) (config.TopicConfig, error) {
	return config.EffectiveTopicConfig(b, MergedTopicOverrides(img, nodeID, overrides))
}

// TopicConfigEntries describes a topic's keys (all when names is empty) as node nodeID runs
// it: tc is its effective config, overrides its own settings.
func TopicConfigEntries(b *config.BrokerConfig, img *metadata.Image, nodeID int32, tc *config.TopicConfig, overrides map[string]string, names []string) []ConfigEntry {
	kafkaDefaults := config.DefaultBrokerConfig()
	defaults := config.TopicDefaults(&kafkaDefaults)
	var out []ConfigEntry
	for _, k := range config.TopicKeys() {
		if len(names) > 0 && !slices.Contains(names, k.Name) {
			continue
		}
		v, _ := tc.Get(k.Name)
		e := ConfigEntry{Name: k.Name, Value: v}
		if ov, ok := overrides[k.Name]; ok {
			e.Synonyms = append(e.Synonyms, ConfigSynonym{k.Name, ov, ConfigSourceDynamicTopic})
		}
		if k.BrokerSynonym != "" {
			e.Synonyms = append(e.Synonyms, DynamicBrokerValues(img, nodeID, k.BrokerSynonym)...)
			if b.Raw != nil {
				if bv, ok := b.Raw.Get(k.BrokerSynonym); ok {
					e.Synonyms = append(e.Synonyms, ConfigSynonym{k.BrokerSynonym, bv, ConfigSourceStaticBroker})
				}
			}
		}
		dv, _ := defaults.Get(k.Name)
		e.Synonyms = append(e.Synonyms, ConfigSynonym{k.Name, dv, ConfigSourceDefault})
		e.Source = e.Synonyms[0].Source
		out = append(out, e)
	}
	return out
}
