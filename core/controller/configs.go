package controller

// IncrementalAlterConfigs (versions 0-1) and AlterConfigs (versions 0-2), as Kafka's
// ConfigurationControlManager decides them.
//
// TOPIC resources: the topic must exist (UNKNOWN_TOPIC_OR_PARTITION). IncrementalAlterConfigs
// applies each op (SET, DELETE, APPEND and SUBTRACT for list keys) to the topic's overrides;
// AlterConfigs replaces them whole. The result is checked by core/config over the broker's
// defaults (INVALID_CONFIG for an unknown key or a bad value, APPEND/SUBTRACT on a non-list
// key too).
//
// BROKER resources: the name is a node id or "" for the cluster-wide default (anything else is
// INVALID_REQUEST). Only the broker keys Weir can change at runtime are accepted: the broker
// synonyms of the topic keys (log.retention.ms, log.segment.bytes, message.max.bytes, ...),
// all of them dynamic cluster-wide in Kafka (DynamicLogConfig), and the dynamic-only broker
// keys (leader/follower.replication.throttled.rate, Kafka's DynamicConfig.Broker: LONG, at
// least 0). Any other key is refused for
// the whole resource with INVALID_REQUEST "Cannot update these configs dynamically: [...]",
// as Kafka refuses its read-only keys. Values are checked as the topic key they supply.
//
// In both requests a key twice in one resource is INVALID_REQUEST, and so is a resource twice
// in one request (its changes would be decided on the same image). ValidateOnly answers without
// records. The records of every accepted resource form one Result.
//
// Left out: BROKER_LOGGER, CLIENT_METRICS and GROUP resources (INVALID_REQUEST),
// AlterConfigPolicy, sensitive and per-listener broker keys (none is dynamic in Weir).

import (
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
)

// IncrementalAlterConfigs ops.
const (
	opSet      = kmsg.IncrementalAlterConfigOp(0)
	opDelete   = kmsg.IncrementalAlterConfigOp(1)
	opAppend   = kmsg.IncrementalAlterConfigOp(2)
	opSubtract = kmsg.IncrementalAlterConfigOp(3)
)

// Config resource types, as kmsg carries them.
const (
	resourceTypeTopic  = kmsg.ConfigResourceType(metadata.ResourceTopic)
	resourceTypeBroker = kmsg.ConfigResourceType(metadata.ResourceBroker)
)

// listKeys are the keys, topic or broker, whose values are lists.
var listKeys = []string{"cleanup.policy", "log.cleanup.policy",
	config.LeaderReplicationThrottledReplicasKey, config.FollowerReplicationThrottledReplicasKey}

// configEdit changes a resource's current configs in place.
type configEdit func(configs map[string]string) *apiError

// IncrementalAlterConfigs decides an IncrementalAlterConfigs request on img, the latest image.
func (c *Controller) IncrementalAlterConfigs(img *metadata.Image, nowMs int64, req *kmsg.IncrementalAlterConfigsRequest) Result {
	resp := kmsg.NewPtrIncrementalAlterConfigsResponse()
	resp.Version = req.Version
	counts := resourceCounts(len(req.Resources), func(i int) resourceKey {
		return resourceKey{req.Resources[i].ResourceType, req.Resources[i].ResourceName}
	})
	var records []metadata.Record
	for _, rr := range req.Resources {
		out := kmsg.NewIncrementalAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		var aerr *apiError
		if counts[resourceKey{rr.ResourceType, rr.ResourceName}] > 1 {
			aerr = errorf(errInvalidRequest, "Each resource may appear at most once.")
		} else {
			var rs []metadata.Record
			rs, aerr = c.alterConfigs(img, rr.ResourceType, rr.ResourceName, func(configs map[string]string) *apiError {
				seen := make(map[string]bool, len(rr.Configs))
				for _, op := range rr.Configs {
					if seen[op.Name] {
						return errorf(errInvalidRequest, "Error due to duplicate config keys")
					}
					seen[op.Name] = true
					if aerr := applyIncrementalOp(configs, op.Name, op.Op, op.Value); aerr != nil {
						return aerr
					}
				}
				return nil
			})
			if aerr == nil && !req.ValidateOnly {
				records = append(records, rs...)
			}
		}
		if aerr != nil {
			out.ErrorCode, out.ErrorMessage = aerr.code, strp(aerr.msg)
		}
		resp.Resources = append(resp.Resources, out)
	}
	return Result{Records: records, Response: resp}
}

// AlterConfigs decides a (legacy, non-incremental) AlterConfigs request on img: the configs
// given become the resource's whole set; keys not listed revert to their defaults.
func (c *Controller) AlterConfigs(img *metadata.Image, nowMs int64, req *kmsg.AlterConfigsRequest) Result {
	resp := kmsg.NewPtrAlterConfigsResponse()
	resp.Version = req.Version
	counts := resourceCounts(len(req.Resources), func(i int) resourceKey {
		return resourceKey{req.Resources[i].ResourceType, req.Resources[i].ResourceName}
	})
	var records []metadata.Record
	for _, rr := range req.Resources {
		out := kmsg.NewAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		var aerr *apiError
		if counts[resourceKey{rr.ResourceType, rr.ResourceName}] > 1 {
			aerr = errorf(errInvalidRequest, "Each resource may appear at most once.")
		} else {
			var rs []metadata.Record
			rs, aerr = c.alterConfigs(img, rr.ResourceType, rr.ResourceName, func(configs map[string]string) *apiError {
				clear(configs)
				for _, cfg := range rr.Configs {
					if _, dup := configs[cfg.Name]; dup {
						return errorf(errInvalidRequest, "Error due to duplicate config keys")
					}
					if cfg.Value == nil {
						return errorf(errInvalidRequest, "Null value not supported for : %s", cfg.Name)
					}
					configs[cfg.Name] = *cfg.Value
				}
				return nil
			})
			if aerr == nil && !req.ValidateOnly {
				records = append(records, rs...)
			}
		}
		if aerr != nil {
			out.ErrorCode, out.ErrorMessage = aerr.code, strp(aerr.msg)
		}
		resp.Resources = append(resp.Resources, out)
	}
	return Result{Records: records, Response: resp}
}

type resourceKey struct {
	resourceType kmsg.ConfigResourceType
	name         string
}

func resourceCounts(n int, key func(int) resourceKey) map[resourceKey]int {
	counts := make(map[resourceKey]int, n)
	for i := range n {
		counts[key(i)]++
	}
	return counts
}

// applyIncrementalOp applies one IncrementalAlterConfigs op to configs.
func applyIncrementalOp(configs map[string]string, key string, op kmsg.IncrementalAlterConfigOp, value *string) *apiError {
	switch op {
	case opSet:
		if value == nil {
			return errorf(errInvalidRequest, "Null value not supported for : %s", key)
		}
		configs[key] = *value
	case opDelete:
		delete(configs, key)
	case opAppend, opSubtract:
		if !slices.Contains(listKeys, key) {
			return errorf(errInvalidConfig, "Config value append/subtract is not allowed for config key: %s", key)
		}
		if value == nil {
			return errorf(errInvalidRequest, "Null value not supported for : %s", key)
		}
		var current []string
		if v, ok := configs[key]; ok && v != "" {
			current = strings.Split(v, ",")
		}
		for _, item := range strings.Split(*value, ",") {
			item = strings.TrimSpace(item)
			has := slices.Contains(current, item)
			switch {
			case op == opAppend && !has:
				current = append(current, item)
			case op == opSubtract && has:
				current = slices.DeleteFunc(current, func(c string) bool { return c == item })
			}
		}
		configs[key] = strings.Join(current, ",")
	default:
		return errorf(errInvalidRequest, "Unknown config operation %d", op)
	}
	return nil
}

// alterConfigs computes one resource's new configs with edit, checks them and returns the
// ConfigRecords that turn the current configs into them (none when nothing changes).
func (c *Controller) alterConfigs(img *metadata.Image, resourceType kmsg.ConfigResourceType, name string, edit configEdit) ([]metadata.Record, *apiError) {
	var mtype metadata.ResourceType
	switch resourceType {
	case resourceTypeTopic:
		mtype = metadata.ResourceTopic
		if _, ok := img.TopicByName(name); !ok {
			return nil, errorf(errUnknownTopicOrPartition, "Topic %s does not exist", name)
		}
	case resourceTypeBroker:
		mtype = metadata.ResourceBroker
		if aerr := checkBrokerResourceName(name); aerr != nil {
			return nil, aerr
		}
	default:
		return nil, errorf(errInvalidRequest, "Unsupported resource type %d: only TOPIC and BROKER configs can be altered", resourceType)
	}
	old := img.Config(mtype, name)
	configs := img.Config(mtype, name) // a copy: edit may change it
	if aerr := edit(configs); aerr != nil {
		return nil, aerr
	}
	switch mtype {
	case metadata.ResourceTopic:
		if _, err := c.checkTopicConfigs(img, name, configs); err != nil {
			return nil, err
		}
	case metadata.ResourceBroker:
		if aerr := checkBrokerConfigs(configs); aerr != nil {
			return nil, aerr
		}
	}
	set := make(map[string]string)
	for _, k := range sortedKeys(configs) {
		if v, ok := old[k]; !ok || v != configs[k] {
			set[k] = configs[k]
		}
	}
	var deletes []string
	for _, k := range sortedKeys(old) {
		if _, ok := configs[k]; !ok {
			deletes = append(deletes, k)
		}
	}
	if len(set) == 0 && len(deletes) == 0 {
		return nil, nil
	}
	records, err := metadata.NewConfigRecords(mtype, name, set, deletes)
	if err != nil {
		// An empty key: Kafka's ConfigRecord refuses it too.
		return nil, errorf(errInvalidConfig, "%s", err.Error())
	}
	return records, nil
}

// checkTopicConfigs checks a topic's overrides: each key and value, then the whole over the
// broker's defaults (static and dynamic), as a log would run with it.
func (c *Controller) checkTopicConfigs(img *metadata.Image, topic string, overrides map[string]string) (config.TopicConfig, *apiError) {
	for _, k := range sortedKeys(overrides) {
		if err := config.ValidateTopicConfig(k, overrides[k]); err != nil {
			return config.TopicConfig{}, errorf(errInvalidConfig, "%s", err.Error())
		}
	}
	tc, err := EffectiveTopicConfig(&c.cfg.Broker, img, c.cfg.NodeID, overrides)
	if err == nil {
		_, err = tc.LogConfig(log.DefaultConfig())
	}
	if err != nil {
		return config.TopicConfig{}, errorf(errInvalidConfig, "%s", err.Error())
	}
	return tc, nil
}

// checkBrokerResourceName accepts "" (the cluster default) or a node id.
func checkBrokerResourceName(name string) *apiError {
	if name == "" {
		return nil
	}
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil || id < 0 {
		return errorf(errInvalidRequest, "Unable to parse broker name as a base 10 number: %q", name)
	}
	return nil
}

// checkBrokerConfigs checks a broker resource's dynamic configs: every key dynamic in Weir,
// every value valid for the topic key it supplies (or, for a dynamic-only key, for itself).
func checkBrokerConfigs(configs map[string]string) *apiError {
	keys := sortedKeys(configs)
	var static []string
	for _, k := range keys {
		if _, ok := topicKeyOfBrokerSynonym(k); !ok && !config.IsDynamicBrokerKey(k) {
			static = append(static, k)
		}
	}
	if len(static) > 0 {
		return errorf(errInvalidRequest, "Cannot update these configs dynamically: [%s]", strings.Join(static, ", "))
	}
	for _, k := range keys {
		if config.IsDynamicBrokerKey(k) {
			if _, err := config.ParseDynamicBrokerValue(k, configs[k]); err != nil {
				return errorf(errInvalidConfig, "Invalid value %s for configuration %s: %v", configs[k], k, err)
			}
			continue
		}
		topicKey, _ := topicKeyOfBrokerSynonym(k)
		if err := config.ValidateTopicConfig(topicKey, configs[k]); err != nil {
			return errorf(errInvalidConfig, "Invalid value %s for configuration %s: %v", configs[k], k, err)
		}
	}
	return nil
}

// topicKeyOfBrokerSynonym returns the topic key a broker key supplies the default of.
func topicKeyOfBrokerSynonym(brokerKey string) (string, bool) {
	for _, k := range config.TopicKeys() {
		if k.BrokerSynonym == brokerKey {
			return k.Name, true
		}
	}
	return "", false
}
