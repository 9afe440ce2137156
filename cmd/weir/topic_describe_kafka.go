package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/uuid"
)

// formatKafka is topic describe's --format printing kafka-topics.sh --describe's lines.
const formatKafka = "kafka"

// partitionFilters are kafka-topics.sh --describe's partition filters; with any set, only the
// partitions matching one of them are printed, and no topic lines.
type partitionFilters struct {
	underReplicated, underMinISR, atMinISR, unavailable bool
}

func (f partitionFilters) any() bool {
	return f.underReplicated || f.underMinISR || f.atMinISR || f.unavailable
}

// kafkaDescribeOptions are kafka-topics.sh --describe's options.
type kafkaDescribeOptions struct {
	filters             partitionFilters
	topicsWithOverrides bool // only the topic lines of topics with configs not at their default
	excludeInternal     bool // leave internal topics out when describing all
}

// kafkaOnly reports whether an option that only --format kafka has is set.
func (o kafkaDescribeOptions) kafkaOnly() bool { return o.filters.any() || o.topicsWithOverrides }

// minISRConfig is the topic config the min-ISR filters compare the ISR with.
const minISRConfig = "min.insync.replicas"

// kafkaPartition is what a partition line of kafka-topics.sh --describe needs.
type kafkaPartition struct {
	topic        string
	p            *kmsg.MetadataResponseTopicPartition
	reassignment *kmsg.ListPartitionReassignmentsResponseTopicPartition // nil when none is in progress
	minISR       int
	live         map[int32]bool // the brokers in the Metadata broker list
}

// replicationFactor is Kafka's: during a reassignment, the replicas less those being added.
func (k kafkaPartition) replicationFactor() int {
	if r := k.reassignment; r != nil {
		for _, id := range k.p.Replicas {
			if slices.Contains(r.AddingReplicas, id) || slices.Contains(r.RemovingReplicas, id) {
				return len(r.Replicas) - len(r.AddingReplicas)
			}
		}
	}
	return len(k.p.Replicas)
}

func (k kafkaPartition) hasLeader() bool       { return k.p.Leader >= 0 }
func (k kafkaPartition) underReplicated() bool { return k.replicationFactor()-len(k.p.ISR) > 0 }
func (k kafkaPartition) underMinISR() bool     { return !k.hasLeader() || len(k.p.ISR) < k.minISR }
func (k kafkaPartition) atMinISR() bool        { return len(k.p.ISR) == k.minISR }
func (k kafkaPartition) unavailable() bool     { return !k.hasLeader() || !k.live[k.p.Leader] }

// offline are the replicas whose broker is not live (not in the Metadata broker list) or that
// the broker reports offline, in replica order.
func (k kafkaPartition) offline() []int32 {
	var ids []int32
	for _, id := range k.p.Replicas {
		if !k.live[id] || slices.Contains(k.p.OfflineReplicas, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

func (k kafkaPartition) matches(f partitionFilters) bool {
	return !f.any() ||
		(f.underReplicated && k.underReplicated()) ||
		(f.underMinISR && k.underMinISR()) ||
		(f.atMinISR && k.atMinISR()) ||
		(f.unavailable && k.unavailable())
}

func (k kafkaPartition) line() string {
	leader := "none"
	if k.hasLeader() {
		leader = strconv.Itoa(int(k.p.Leader))
	}
	s := fmt.Sprintf("\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s\tOffline: %s",
		k.topic, k.p.Partition, leader, joinIDs(k.p.Replicas), joinIDs(k.p.ISR), joinIDs(k.offline()))
	if r := k.reassignment; r != nil {
		s += fmt.Sprintf("\tAdding Replicas: %s\tRemoving Replicas: %s", joinIDs(r.AddingReplicas), joinIDs(r.RemovingReplicas))
	}
	return s
}

// describeTopicsKafka prints topics as kafka-topics.sh --describe does: per topic (all topics,
// sorted, if names is empty) a line "Topic: t\tTopicId: id\tPartitionCount: n\t
// ReplicationFactor: r\tConfigs: k=v,..." (configs not at their default) and a line per
// partition; with filters, only the matching partitions' lines; with topicsWithOverrides,
// only the topic lines of topics with configs not at their default (both: nothing, as in
// Kafka). A named topic that does not exist is an error after the others are printed.
func describeTopicsKafka(ctx context.Context, cl *kgo.Client, logger *slog.Logger, out io.Writer, timeoutMs int32, names []string, opts kafkaDescribeOptions) error {
	filters := opts.filters
	var request []string // nil: all topics
	if len(names) > 0 {
		request = names
	}
	meta, err := requestMetadata(ctx, cl, request)
	if err != nil {
		return err
	}
	byName := metadataByTopic(meta)
	var topics, missing []string
	if len(names) > 0 {
		for _, name := range names {
			t, ok := byName[name]
			switch {
			case !ok || t.ErrorCode == kerr.UnknownTopicOrPartition.Code:
				missing = append(missing, name)
			case t.ErrorCode != 0:
				return fmt.Errorf("describe topic %s: %s", name, statusText(t.ErrorCode, nil))
			default:
				topics = append(topics, name)
			}
		}
	} else {
		for name, t := range byName {
			if t.ErrorCode == 0 && !(opts.excludeInternal && t.IsInternal) {
				topics = append(topics, name)
			}
		}
		slices.Sort(topics)
	}
	live := make(map[int32]bool, len(meta.Brokers))
	for _, b := range meta.Brokers {
		live[b.NodeID] = true
	}
	configs, err := topicConfigs(ctx, cl, topics)
	if err != nil {
		return err
	}
	var parts []topicPartition
	for _, name := range topics {
		for _, p := range byName[name].Partitions {
			parts = append(parts, topicPartition{name, p.Partition})
		}
	}
	reassignments := map[topicPartition]kmsg.ListPartitionReassignmentsResponseTopicPartition{}
	if len(parts) > 0 {
		// Kafka's describe goes on without the reassignments when it may not list them.
		if r, err := listReassignments(ctx, cl, timeoutMs, parts); err != nil {
			logger.Warn("describe: reassignments in progress unknown", "err", err)
		} else {
			reassignments = r
		}
	}
	for _, name := range topics {
		t := byName[name]
		minISR := 1 // Kafka's default, if the broker does not say
		if v := configs[name].minISR; v != nil {
			if minISR, err = strconv.Atoi(*v); err != nil {
				return fmt.Errorf("topic %s: %s %q: %w", name, minISRConfig, *v, err)
			}
		}
		described := make([]kafkaPartition, len(t.Partitions))
		for i := range t.Partitions {
			p := &t.Partitions[i]
			k := kafkaPartition{topic: name, p: p, minISR: minISR, live: live}
			if r, ok := reassignments[topicPartition{name, p.Partition}]; ok {
				k.reassignment = &r
			}
			described[i] = k
		}
		if !filters.any() && (!opts.topicsWithOverrides || len(configs[name].nonDefault) > 0) {
			line := "Topic: " + name
			if t.TopicID != ([16]byte{}) {
				line += "\tTopicId: " + uuid.UUID(t.TopicID).String()
			}
			rf := 0
			if len(described) > 0 {
				rf = described[0].replicationFactor()
			}
			line += fmt.Sprintf("\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s", len(t.Partitions), rf, strings.Join(configs[name].nonDefault, ","))
			fmt.Fprintln(out, line)
		}
		for _, k := range described {
			if !opts.topicsWithOverrides && k.matches(filters) {
				fmt.Fprintln(out, k.line())
			}
		}
	}
	if len(missing) > 0 {
		msgs := make([]string, len(missing))
		for i, name := range missing {
			msgs[i] = fmt.Sprintf("Topic '%s' does not exist as expected", name)
		}
		return fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
	return nil
}

// topicConfigSummary is what describe needs of a topic's configs.
type topicConfigSummary struct {
	minISR     *string  // min.insync.replicas, whatever its source; nil if not described
	nonDefault []string // "key=value" of the configs not at their default, sorted by key
}

// topicConfigs describes the topics' configs (DescribeConfigs).
func topicConfigs(ctx context.Context, cl *kgo.Client, topics []string) (map[string]topicConfigSummary, error) {
	result := make(map[string]topicConfigSummary, len(topics))
	if len(topics) == 0 {
		return result, nil
	}
	resp, err := describeTopicConfigs(ctx, cl, topics)
	if err != nil {
		return nil, err
	}
	for _, r := range resp.Resources {
		if r.ErrorCode != 0 {
			return nil, fmt.Errorf("describe configs of topic %s: %s", r.ResourceName, statusText(r.ErrorCode, r.ErrorMessage))
		}
		var summary topicConfigSummary
		for _, c := range r.Configs {
			if c.Name == minISRConfig {
				summary.minISR = c.Value
			}
			// Kafka's ConfigEntry.isDefault: the source is the default config.
			if c.Source != kmsg.ConfigSourceDefaultConfig {
				value := "null"
				if c.Value != nil {
					value = *c.Value
				}
				summary.nonDefault = append(summary.nonDefault, c.Name+"="+value)
			}
		}
		result[r.ResourceName] = summary
	}
	for _, name := range topics {
		if _, ok := result[name]; !ok {
			return nil, fmt.Errorf("describe configs of topic %s: no answer from the broker", name)
		}
	}
	return result, nil
}
