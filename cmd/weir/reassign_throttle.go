package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka's replication throttle configs, set by reassign execute --throttle and cleared by
// verify and cancel.
const (
	leaderThrottledRateConfig       = "leader.replication.throttled.rate"
	followerThrottledRateConfig     = "follower.replication.throttled.rate"
	alterLogDirsThrottledRateConfig = "replica.alter.log.dirs.io.max.bytes.per.second"
	leaderThrottledReplicasConfig   = "leader.replication.throttled.replicas"
	followerThrottledReplicasConfig = "follower.replication.throttled.replicas"
)

// brokerThrottleConfigs and topicThrottleConfigs are what clearing the throttles deletes.
var (
	brokerThrottleConfigs = []string{leaderThrottledRateConfig, followerThrottledRateConfig, alterLogDirsThrottledRateConfig}
	topicThrottleConfigs  = []string{leaderThrottledReplicasConfig, followerThrottledReplicasConfig}
)

// partitionMove is where a moving partition's data comes from (its replicas before the move)
// and goes to (the replicas it gains).
type partitionMove struct {
	sources, destinations []int32 // sorted, without repeats
}

// proposedMoves computes, as Kafka's calculateProposedMoveMap does, every moving partition:
// those already reassigning (sources: their replicas less the adding ones) and those proposed
// (sources: the ongoing move's, else the current replicas; destinations: the proposed replicas
// that are not sources).
func proposedMoves(ongoing map[topicPartition]kmsg.ListPartitionReassignmentsResponseTopicPartition,
	proposed, current map[topicPartition][]int32) (map[topicPartition]partitionMove, error) {
	moves := make(map[topicPartition]partitionMove, len(ongoing)+len(proposed))
	for tp, r := range ongoing {
		moves[tp] = partitionMove{sources: without(r.Replicas, r.AddingReplicas), destinations: sortedSet(r.AddingReplicas)}
	}
	for tp, replicas := range proposed {
		var sources []int32
		if m, ok := moves[tp]; ok {
			sources = m.sources
		} else if cur, ok := current[tp]; ok {
			sources = sortedSet(cur)
		} else {
			return nil, fmt.Errorf("Trying to reassign a topic partition %s with 0 replicas", tp)
		}
		moves[tp] = partitionMove{sources: sources, destinations: without(replicas, sources)}
	}
	return moves, nil
}

// throttledReplicas returns per topic Kafka's leader and follower throttled-replica lists:
// "partition:broker" entries for the sources (leader) and the destinations (follower), sorted
// as strings as Kafka's TreeSet sorts them.
func throttledReplicas(moves map[topicPartition]partitionMove) (leader, follower map[string]string) {
	leaderSets, followerSets := map[string][]string{}, map[string][]string{}
	for tp, m := range moves {
		// Every moving topic gets both configs, empty if it has no entries, as in Kafka.
		if _, ok := leaderSets[tp.topic]; !ok {
			leaderSets[tp.topic], followerSets[tp.topic] = []string{}, []string{}
		}
		for _, b := range m.sources {
			leaderSets[tp.topic] = append(leaderSets[tp.topic], fmt.Sprintf("%d:%d", tp.partition, b))
		}
		for _, b := range m.destinations {
			if !slices.Contains(m.sources, b) {
				followerSets[tp.topic] = append(followerSets[tp.topic], fmt.Sprintf("%d:%d", tp.partition, b))
			}
		}
	}
	join := func(sets map[string][]string) map[string]string {
		out := make(map[string]string, len(sets))
		for topic, entries := range sets {
			slices.Sort(entries)
			out[topic] = strings.Join(slices.Compact(entries), ",")
		}
		return out
	}
	return join(leaderSets), join(followerSets)
}

// reassigningBrokers are all the sources and destinations of the moves, sorted.
func reassigningBrokers(moves map[topicPartition]partitionMove) []int32 {
	var ids []int32
	for _, m := range moves {
		ids = append(ids, m.sources...)
		ids = append(ids, m.destinations...)
	}
	return sortedSet(ids)
}

// setReassignmentThrottle sets the topics' throttled replicas and the brokers' leader and
// follower rates, as kafka-reassign-partitions.sh --execute --throttle does.
func setReassignmentThrottle(ctx context.Context, cl *kgo.Client, moves map[topicPartition]partitionMove, rateBytesPerSecond int64) error {
	leader, follower := throttledReplicas(moves)
	var topics []string
	for topic := range leader {
		topics = append(topics, topic)
	}
	slices.Sort(topics)
	var resources []kmsg.IncrementalAlterConfigsRequestResource
	for _, topic := range topics {
		resources = append(resources, configResource(kmsg.ConfigResourceTypeTopic, topic, kmsg.IncrementalAlterConfigOpSet,
			map[string]string{leaderThrottledReplicasConfig: leader[topic], followerThrottledReplicasConfig: follower[topic]}))
	}
	if err := incrementalAlterConfigs(ctx, cl, resources); err != nil {
		return err
	}
	rate := strconv.FormatInt(rateBytesPerSecond, 10)
	resources = nil
	for _, id := range reassigningBrokers(moves) {
		resources = append(resources, configResource(kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(id)), kmsg.IncrementalAlterConfigOpSet,
			map[string]string{leaderThrottledRateConfig: rate, followerThrottledRateConfig: rate}))
	}
	return incrementalAlterConfigs(ctx, cl, resources)
}

// setLogDirThrottle sets the brokers' replica.alter.log.dirs.io.max.bytes.per.second.
func setLogDirThrottle(ctx context.Context, cl *kgo.Client, brokers []int32, rateBytesPerSecond int64) error {
	var resources []kmsg.IncrementalAlterConfigsRequestResource
	for _, id := range brokers {
		resources = append(resources, configResource(kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(id)), kmsg.IncrementalAlterConfigOpSet,
			map[string]string{alterLogDirsThrottledRateConfig: strconv.FormatInt(rateBytesPerSecond, 10)}))
	}
	return incrementalAlterConfigs(ctx, cl, resources)
}

// clearThrottles deletes the throttle configs of the brokers and topics, printing what it
// clears as Kafka does.
func clearThrottles(ctx context.Context, cl *kgo.Client, print func(string, ...any), brokers []int32, topics []string) error {
	plural := func(n int) string {
		if n == 1 {
			return ""
		}
		return "s"
	}
	print("Clearing broker-level throttles on broker%s %s\n", plural(len(brokers)), joinIDs(brokers))
	var resources []kmsg.IncrementalAlterConfigsRequestResource
	deleteAll := func(keys []string) map[string]string {
		m := make(map[string]string, len(keys))
		for _, k := range keys {
			m[k] = ""
		}
		return m
	}
	for _, id := range brokers {
		resources = append(resources, configResource(kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(id)), kmsg.IncrementalAlterConfigOpDelete, deleteAll(brokerThrottleConfigs)))
	}
	if err := incrementalAlterConfigs(ctx, cl, resources); err != nil {
		return err
	}
	print("Clearing topic-level throttles on topic%s %s\n", plural(len(topics)), strings.Join(topics, ","))
	resources = nil
	for _, topic := range topics {
		resources = append(resources, configResource(kmsg.ConfigResourceTypeTopic, topic, kmsg.IncrementalAlterConfigOpDelete, deleteAll(topicThrottleConfigs)))
	}
	return incrementalAlterConfigs(ctx, cl, resources)
}

// configResource is one resource of an IncrementalAlterConfigs request applying op to the
// configs, in key order (a DELETE ignores the values).
func configResource(typ kmsg.ConfigResourceType, name string, op kmsg.IncrementalAlterConfigOp, configs map[string]string) kmsg.IncrementalAlterConfigsRequestResource {
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType = typ
	r.ResourceName = name
	keys := make([]string, 0, len(configs))
	for k := range configs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name = k
		c.Op = op
		if op != kmsg.IncrementalAlterConfigOpDelete {
			c.Value = kmsg.StringPtr(configs[k])
		}
		r.Configs = append(r.Configs, c)
	}
	return r
}

// incrementalAlterConfigs sends the resources (kgo routes a broker's to that broker) and
// returns an error naming each resource that failed.
func incrementalAlterConfigs(ctx context.Context, cl *kgo.Client, resources []kmsg.IncrementalAlterConfigsRequestResource) error {
	if len(resources) == 0 {
		return nil
	}
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.Resources = resources
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("IncrementalAlterConfigs: %w", err)
	}
	var errs []error
	answered := map[string]bool{}
	for _, r := range resp.Resources {
		answered[r.ResourceType.String()+"/"+r.ResourceName] = true
		if r.ErrorCode != 0 {
			errs = append(errs, fmt.Errorf("IncrementalAlterConfigs %s %s: %s", r.ResourceType, r.ResourceName, statusText(r.ErrorCode, r.ErrorMessage)))
		}
	}
	for _, r := range resources {
		if !answered[r.ResourceType.String()+"/"+r.ResourceName] {
			errs = append(errs, fmt.Errorf("IncrementalAlterConfigs %s %s: no answer from the broker", r.ResourceType, r.ResourceName))
		}
	}
	return errors.Join(errs...)
}

// sortedSet returns the ids sorted, without repeats, in a new slice.
func sortedSet(ids []int32) []int32 {
	s := slices.Clone(ids)
	slices.Sort(s)
	return slices.Compact(s)
}

// without returns the ids not in drop, as a sorted set.
func without(ids, drop []int32) []int32 {
	var keep []int32
	for _, id := range ids {
		if !slices.Contains(drop, id) {
			keep = append(keep, id)
		}
	}
	return sortedSet(keep)
}
