package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Replication throttling (Kafka's replication quotas, KIP-73): which replicas are throttled is
// a pair of topic keys, how fast is a pair of dynamic broker keys. Both start unthrottled.

// Kafka's key names.
const (
	LeaderReplicationThrottledRateKey       = "leader.replication.throttled.rate"
	FollowerReplicationThrottledRateKey     = "follower.replication.throttled.rate"
	LeaderReplicationThrottledReplicasKey   = "leader.replication.throttled.replicas"
	FollowerReplicationThrottledReplicasKey = "follower.replication.throttled.replicas"
)

// ReplicationThrottledRateUnlimited is the throttled rates' default (Kafka's
// QuotaConfig.QUOTA_BYTES_PER_SECOND_DEFAULT, Long.MAX_VALUE): no throttle.
const ReplicationThrottledRateUnlimited int64 = math.MaxInt64

// ThrottledReplicas is the value of leader/follower.replication.throttled.replicas: every
// replica ("*") or a list of partitionId:brokerId pairs. The zero value throttles nothing.
type ThrottledReplicas struct {
	All      bool
	Replicas []ThrottledReplica // in the order given; empty when All
}

// ThrottledReplica is one partitionId:brokerId pair.
type ThrottledReplica struct {
	Partition int32
	Broker    int32
}

// Throttled reports whether the replica of partition on broker is throttled.
func (t ThrottledReplicas) Throttled(partition, broker int32) bool {
	if t.All {
		return true
	}
	for _, r := range t.Replicas {
		if r.Partition == partition && r.Broker == broker {
			return true
		}
	}
	return false
}

// String formats the value as DescribeConfigs shows a LIST: its items joined by commas.
func (t ThrottledReplicas) String() string {
	if t.All {
		return "*"
	}
	items := make([]string, len(t.Replicas))
	for i, r := range t.Replicas {
		items[i] = strconv.Itoa(int(r.Partition)) + ":" + strconv.Itoa(int(r.Broker))
	}
	return strings.Join(items, ",")
}

// ParseThrottledReplicas parses a throttled replica list as Kafka's
// ThrottledReplicaListValidator accepts it: the items of the comma-separated list, each
// trimmed, are all empty or [0-9]+:[0-9]+, or together they spell the literal "*". Empty
// items are skipped. A number past the int range is refused too (Kafka fails on it when the
// broker reads the list).
func ParseThrottledReplicas(key, value string) (ThrottledReplicas, error) {
	bad := func() error {
		return invalid(key, value, "%s must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...", key)
	}
	trimmed := strings.TrimSpace(value)
	if trimmed == "" {
		return ThrottledReplicas{}, nil
	}
	items := strings.Split(trimmed, ",")
	var joined strings.Builder
	for _, item := range items {
		joined.WriteString(strings.TrimSpace(item))
	}
	if joined.String() == "*" {
		return ThrottledReplicas{All: true}, nil
	}
	var out ThrottledReplicas
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		partitionText, brokerText, ok := strings.Cut(item, ":")
		if !ok || !allDigits(partitionText) || !allDigits(brokerText) {
			return ThrottledReplicas{}, bad()
		}
		partition, err1 := strconv.ParseInt(partitionText, 10, 32)
		broker, err2 := strconv.ParseInt(brokerText, 10, 32)
		if err1 != nil || err2 != nil {
			return ThrottledReplicas{}, invalid(key, value, "replica %q: partition and broker ids must be ints", item)
		}
		out.Replicas = append(out.Replicas, ThrottledReplica{Partition: int32(partition), Broker: int32(broker)})
	}
	return out, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// DynamicBrokerKey is a broker key that is only ever set dynamically (IncrementalAlterConfigs
// or AlterConfigs on a BROKER resource: a node id, or "" for the cluster default) and is not
// the synonym of a topic key: Kafka's DynamicConfig.Broker.
type DynamicBrokerKey struct {
	Name    string
	Default string // Kafka's default, as DescribeConfigs shows it
	parse   func(key, value string) (int64, error)
}

func parseRate(key, value string) (int64, error) { return parseInt64(key, value, 0, maxInt64) }

// dynamicBrokerKeys is sorted by name.
var dynamicBrokerKeys = []DynamicBrokerKey{
	{Name: FollowerReplicationThrottledRateKey, Default: strconv.FormatInt(ReplicationThrottledRateUnlimited, 10), parse: parseRate},
	{Name: LeaderReplicationThrottledRateKey, Default: strconv.FormatInt(ReplicationThrottledRateUnlimited, 10), parse: parseRate},
}

// DynamicBrokerKeys returns the dynamic-only broker keys, sorted by name.
func DynamicBrokerKeys() []DynamicBrokerKey {
	return append([]DynamicBrokerKey(nil), dynamicBrokerKeys...)
}

// IsDynamicBrokerKey reports whether key is a dynamic-only broker key.
func IsDynamicBrokerKey(key string) bool {
	for _, k := range dynamicBrokerKeys {
		if k.Name == key {
			return true
		}
	}
	return false
}

// ParseDynamicBrokerValue checks and parses a dynamic-only broker key's value (both are LONG,
// at least 0, as Kafka's QuotaConfig defines them).
func ParseDynamicBrokerValue(key, value string) (int64, error) {
	for _, k := range dynamicBrokerKeys {
		if k.Name == key {
			return k.parse(key, value)
		}
	}
	return 0, fmt.Errorf("%s is not a dynamic broker config", key)
}
