package broker

// IncrementalAlterConfigs, versions 0-1.
//
// Behaviour: TOPIC resources only. Each op (SET, DELETE, APPEND and SUBTRACT for list keys,
// i.e. cleanup.policy) is applied to the topic's overrides; the result is checked as a whole
// by core/config (INVALID_CONFIG for an unknown key or a bad value; APPEND/SUBTRACT on a
// non-list key too), a key twice is INVALID_REQUEST, an unknown topic
// UNKNOWN_TOPIC_OR_PARTITION. ValidateOnly stops there. Otherwise ConfigRecords are appended
// to the metadata log; once durable the topic's logs take the new config (log.SetConfig) and
// the answer goes out (within cfg.MetadataWaitMs, else REQUEST_TIMED_OUT).
//
// Left out: BROKER and BROKER_LOGGER resources (dynamic broker configs: INVALID_REQUEST),
// AlterConfigPolicy.

import (
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
)

// IncrementalAlterConfigs ops.
const (
	opSet      = kmsg.IncrementalAlterConfigOp(0)
	opDelete   = kmsg.IncrementalAlterConfigOp(1)
	opAppend   = kmsg.IncrementalAlterConfigOp(2)
	opSubtract = kmsg.IncrementalAlterConfigOp(3)
)

// listTopicKeys are the topic keys whose values are lists.
var listTopicKeys = []string{"cleanup.policy"}

func (n *Node) handleIncrementalAlterConfigs(cs *conn, s *slot, req *kmsg.IncrementalAlterConfigsRequest) {
	resp := kmsg.NewPtrIncrementalAlterConfigsResponse()
	var upTo record.Offset
	var changed []int
	for _, rr := range req.Resources {
		out := kmsg.NewIncrementalAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		offset, appended, terr := n.alterTopicConfigs(rr.ResourceType, rr.ResourceName, req.ValidateOnly, func(overrides map[string]string) *topicError {
			var seen []string
			for _, c := range rr.Configs {
				if slices.Contains(seen, c.Name) {
					return &topicError{errInvalidRequest, "Error due to duplicate config keys"}
				}
				seen = append(seen, c.Name)
				if err := incrementalOp(overrides, c.Name, c.Op, c.Value); err != nil {
					return err
				}
			}
			return nil
		})
		if terr != nil {
			out.ErrorCode, out.ErrorMessage = terr.code, strp(terr.msg)
		}
		if appended {
			upTo = max(upTo, offset)
			changed = append(changed, len(resp.Resources))
		}
		resp.Resources = append(resp.Resources, out)
	}
	n.answerWhenCommitted(cs, s, resp, len(changed) > 0, upTo, n.cfg.MetadataWaitMs, func() {
		for _, i := range changed {
			r := &resp.Resources[i]
			r.ErrorCode, r.ErrorMessage = errRequestTimedOut, strp("Timed out waiting for the config change to be durable.")
		}
	})
}

// incrementalOp applies one op to overrides.
func incrementalOp(overrides map[string]string, key string, op kmsg.IncrementalAlterConfigOp, value *string) *topicError {
	isList := slices.Contains(listTopicKeys, key)
	switch op {
	case opSet:
		if value == nil {
			return &topicError{errInvalidRequest, "Null value not supported for : " + key}
		}
		overrides[key] = *value
	case opDelete:
		delete(overrides, key)
	case opAppend, opSubtract:
		if !isList {
			return &topicError{errInvalidConfig, "Config value append/subtract is not allowed for config key: " + key}
		}
		if value == nil {
			return &topicError{errInvalidRequest, "Null value not supported for : " + key}
		}
		var current []string
		if v, ok := overrides[key]; ok && v != "" {
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
		overrides[key] = strings.Join(current, ",")
	default:
		return &topicError{errInvalidRequest, "Unknown config operation"}
	}
	return nil
}

// alterTopicConfigs computes a topic's new overrides with edit, checks them and, unless
// validateOnly, appends the ConfigRecords. It reports whether records were appended and the
// committed offset that will cover them.
func (n *Node) alterTopicConfigs(resourceType kmsg.ConfigResourceType, name string, validateOnly bool,
	edit func(overrides map[string]string) *topicError) (record.Offset, bool, *topicError) {
	if resourceType != resourceTypeTopic {
		return 0, false, &topicError{errInvalidRequest, "Only topic configs can be altered; dynamic broker configs are not supported"}
	}
	img := n.meta.Latest()
	if _, ok := img.TopicByName(name); !ok {
		return 0, false, &topicError{errUnknownTopicOrPartition, "Topic " + name + " does not exist"}
	}
	old := img.Config(metadata.ResourceTopic, name)
	overrides := maps.Clone(old)
	if overrides == nil {
		overrides = make(map[string]string)
	}
	if terr := edit(overrides); terr != nil {
		return 0, false, terr
	}
	keys := slices.Sorted(maps.Keys(overrides))
	for _, k := range keys {
		if err := config.ValidateTopicConfig(k, overrides[k]); err != nil {
			return 0, false, &topicError{errInvalidConfig, err.Error()}
		}
	}
	tc, err := config.EffectiveTopicConfig(&n.cfg.Broker, overrides)
	if err == nil {
		_, err = tc.LogConfig(n.cfg.LogBase)
	}
	if err != nil {
		return 0, false, &topicError{errInvalidConfig, err.Error()}
	}
	if validateOnly {
		return 0, false, nil
	}
	set := make(map[string]string)
	for _, k := range keys {
		if v, ok := old[k]; !ok || v != overrides[k] {
			set[k] = overrides[k]
		}
	}
	var deletes []string
	for _, k := range slices.Sorted(maps.Keys(old)) {
		if _, ok := overrides[k]; !ok {
			deletes = append(deletes, k)
		}
	}
	if len(set) == 0 && len(deletes) == 0 {
		return 0, false, nil
	}
	records, err := metadata.NewConfigRecords(metadata.ResourceTopic, name, set, deletes)
	if err != nil {
		return 0, false, &topicError{errInvalidConfig, err.Error()}
	}
	offset, terr := n.appendMetadata(records, metaAction{kind: actionSyncLogs, topic: name})
	if terr != nil {
		return 0, false, terr
	}
	return offset, true, nil
}
