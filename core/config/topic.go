package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
)

// TopicConfig is a topic's effective configuration: Kafka's topic-level keys, each either a
// per-topic override or the broker's default (its synonym). Field comments name the key.
type TopicConfig struct {
	CleanupPolicy     []string // cleanup.policy: delete, compact
	CompressionType   string   // compression.type
	DeleteRetentionMs int64    // delete.retention.ms
	FileDeleteDelayMs int64    // file.delete.delay.ms
	FlushMessages     int64    // flush.messages
	FlushMs           int64    // flush.ms
	// The replicas throttled by the leader and follower replication throttles (no broker
	// synonym: the default is the empty list).
	FollowerReplicationThrottledReplicas ThrottledReplicas // follower.replication.throttled.replicas
	LeaderReplicationThrottledReplicas   ThrottledReplicas // leader.replication.throttled.replicas
	IndexIntervalBytes                   int32             // index.interval.bytes
	MaxCompactionLagMs                   int64             // max.compaction.lag.ms
	MaxMessageBytes                      int32             // max.message.bytes
	MessageTimestampType                 string            // message.timestamp.type: CreateTime, LogAppendTime
	MessageTimestampBeforeMaxMs          int64             // message.timestamp.before.max.ms
	MessageTimestampAfterMaxMs           int64             // message.timestamp.after.max.ms
	MinCleanableDirtyRatioPpm            int64             // min.cleanable.dirty.ratio, parts per million
	MinCompactionLagMs                   int64             // min.compaction.lag.ms
	MinInsyncReplicas                    int32             // min.insync.replicas
	Preallocate                          bool              // preallocate
	RetentionBytes                       int64             // retention.bytes; -1 unbounded
	RetentionMs                          int64             // retention.ms; -1 unbounded
	SegmentBytes                         int32             // segment.bytes
	SegmentIndexBytes                    int32             // segment.index.bytes
	SegmentJitterMs                      int64             // segment.jitter.ms
	SegmentMs                            int64             // segment.ms
	UncleanLeaderElectionEnable          bool              // unclean.leader.election.enable
}

// TopicKey describes one topic-level key.
type TopicKey struct {
	Name          string // the topic key, e.g. retention.ms
	BrokerSynonym string // the broker key supplying its default, e.g. log.retention.ms
	set           func(t *TopicConfig, key, value string) error
	get           func(t *TopicConfig) string
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }
func i32(v int32) string { return strconv.FormatInt(int64(v), 10) }

// topicKeys is sorted by name; Kafka's LogConfig validators.
var topicKeys = []TopicKey{
	{Name: "cleanup.policy", BrokerSynonym: "log.cleanup.policy",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.CleanupPolicy, err = parseListOf(k, v, true, "compact", "delete")
			return err
		}, get: func(t *TopicConfig) string { return formatList(t.CleanupPolicy) }},
	{Name: "compression.type", BrokerSynonym: "compression.type",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.CompressionType, err = parseOneOf(k, v, compressionTypes...)
			return err
		}, get: func(t *TopicConfig) string { return t.CompressionType }},
	{Name: "delete.retention.ms", BrokerSynonym: "log.cleaner.delete.retention.ms",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.DeleteRetentionMs, err = parseInt64(k, v, 0, maxInt64)
			return err
		}, get: func(t *TopicConfig) string { return i64(t.DeleteRetentionMs) }},
	{Name: "file.delete.delay.ms", BrokerSynonym: "log.segment.delete.delay.ms",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.FileDeleteDelayMs, err = parseInt64(k, v, 0, maxInt64)
			return err
		}, get: func(t *TopicConfig) string { return i64(t.FileDeleteDelayMs) }},
	{Name: "flush.messages", BrokerSynonym: "log.flush.interval.messages",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.FlushMessages, err = parseInt64(k, v, 1, maxInt64)
			return err
		}, get: func(t *TopicConfig) string { return i64(t.FlushMessages) }},
	{Name: "flush.ms", BrokerSynonym: "log.flush.interval.ms",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.FlushMs, err = parseInt64(k, v, 0, maxInt64)
			return err
		}, get: func(t *TopicConfig) string { return i64(t.FlushMs) }},
	{Name: FollowerReplicationThrottledReplicasKey,
		set: func(t *TopicConfig, k, v string) (err error) {
			t.FollowerReplicationThrottledReplicas, err = ParseThrottledReplicas(k, v)
			return err
		}, get: func(t *TopicConfig) string { return t.FollowerReplicationThrottledReplicas.String() }},
	{Name: "index.interval.bytes", BrokerSynonym: "log.index.interval.bytes",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.IndexIntervalBytes, err = parseInt32(k, v, 0, math.MaxInt32)
			return err
		}, get: func(t *TopicConfig) string { return i32(t.IndexIntervalBytes) }},
	{Name: LeaderReplicationThrottledReplicasKey,
		set: func(t *TopicConfig, k, v string) (err error) {
			t.LeaderReplicationThrottledReplicas, err = ParseThrottledReplicas(k, v)
			return err
		}, get: func(t *TopicConfig) string { return t.LeaderReplicationThrottledReplicas.String() }},
	{Name: "max.compaction.lag.ms", BrokerSynonym: "log.cleaner.max.compaction.lag.ms",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.MaxCompactionLagMs, err = parseInt64(k, v, 1, maxInt64)
			return err
		}, get: func(t *TopicConfig) string { return i64(t.MaxCompactionLagMs) }},
	{Name: "max.message.bytes", BrokerSynonym: "message.max.bytes",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.MaxMessageBytes, err = parseInt32(k, v, 0, math.MaxInt32)
			return err
		}, get: func(t *TopicConfig) string { return i32(t.MaxMessageBytes) }},
	{Name: "message.timestamp.after.max.ms", BrokerSynonym: "log.message.timestamp.after.max.ms",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.MessageTimestampAfterMaxMs, err = parseInt64(k, v, 0, maxInt64)
			return err
		}, get: func(t *TopicConfig) string { return i64(t.MessageTimestampAfterMaxMs) }},
	{Name: "message.timestamp.before.max.ms", BrokerSynonym: "log.message.timestamp.before.max.ms",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.MessageTimestampBeforeMaxMs, err = parseInt64(k, v, 0, maxInt64)
			return err
		}, get: func(t *TopicConfig) string { return i64(t.MessageTimestampBeforeMaxMs) }},
	{Name: "message.timestamp.type", BrokerSynonym: "log.message.timestamp.type",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.MessageTimestampType, err = parseOneOf(k, v, "CreateTime", "LogAppendTime")
			return err
		}, get: func(t *TopicConfig) string { return t.MessageTimestampType }},
	{Name: "min.cleanable.dirty.ratio", BrokerSynonym: "log.cleaner.min.cleanable.ratio",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.MinCleanableDirtyRatioPpm, err = parseRatioPpm(k, v)
			return err
		}, get: func(t *TopicConfig) string { return formatRatioPpm(t.MinCleanableDirtyRatioPpm) }},
	{Name: "min.compaction.lag.ms", BrokerSynonym: "log.cleaner.min.compaction.lag.ms",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.MinCompactionLagMs, err = parseInt64(k, v, 0, maxInt64)
			return err
		}, get: func(t *TopicConfig) string { return i64(t.MinCompactionLagMs) }},
	{Name: "min.insync.replicas", BrokerSynonym: "min.insync.replicas",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.MinInsyncReplicas, err = parseInt32(k, v, 1, math.MaxInt32)
			return err
		}, get: func(t *TopicConfig) string { return i32(t.MinInsyncReplicas) }},
	{Name: "preallocate", BrokerSynonym: "log.preallocate",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.Preallocate, err = parseBool(k, v)
			return err
		}, get: func(t *TopicConfig) string { return strconv.FormatBool(t.Preallocate) }},
	{Name: "retention.bytes", BrokerSynonym: "log.retention.bytes",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.RetentionBytes, err = parseInt64(k, v, math.MinInt64, maxInt64)
			return err
		}, get: func(t *TopicConfig) string { return i64(t.RetentionBytes) }},
	{Name: "retention.ms", BrokerSynonym: "log.retention.ms",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.RetentionMs, err = parseInt64(k, v, -1, maxInt64)
			return err
		}, get: func(t *TopicConfig) string { return i64(t.RetentionMs) }},
	{Name: "segment.bytes", BrokerSynonym: "log.segment.bytes",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.SegmentBytes, err = parseInt32(k, v, recordOverheadV0Bytes, math.MaxInt32)
			return err
		}, get: func(t *TopicConfig) string { return i32(t.SegmentBytes) }},
	{Name: "segment.index.bytes", BrokerSynonym: "log.index.size.max.bytes",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.SegmentIndexBytes, err = parseInt32(k, v, 4, math.MaxInt32)
			return err
		}, get: func(t *TopicConfig) string { return i32(t.SegmentIndexBytes) }},
	{Name: "segment.jitter.ms", BrokerSynonym: "log.roll.jitter.ms",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.SegmentJitterMs, err = parseInt64(k, v, 0, maxInt64)
			return err
		}, get: func(t *TopicConfig) string { return i64(t.SegmentJitterMs) }},
	{Name: "segment.ms", BrokerSynonym: "log.roll.ms",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.SegmentMs, err = parseInt64(k, v, 1, maxInt64)
			return err
		}, get: func(t *TopicConfig) string { return i64(t.SegmentMs) }},
	{Name: "unclean.leader.election.enable", BrokerSynonym: "unclean.leader.election.enable",
		set: func(t *TopicConfig, k, v string) (err error) {
			t.UncleanLeaderElectionEnable, err = parseBool(k, v)
			return err
		}, get: func(t *TopicConfig) string { return strconv.FormatBool(t.UncleanLeaderElectionEnable) }},
}

// ErrUnknownTopicConfig is returned for a key that is not a topic-level config.
var ErrUnknownTopicConfig = errors.New("unknown topic config name")

func findTopicKey(name string) (TopicKey, bool) {
	i := sort.Search(len(topicKeys), func(i int) bool { return topicKeys[i].Name >= name })
	if i < len(topicKeys) && topicKeys[i].Name == name {
		return topicKeys[i], true
	}
	return TopicKey{}, false
}

// TopicKeys returns every topic-level key Weir knows, sorted by name.
func TopicKeys() []TopicKey { return append([]TopicKey(nil), topicKeys...) }

// TopicDefaults returns the topic config a topic without overrides gets from the broker.
func TopicDefaults(b *BrokerConfig) TopicConfig {
	return TopicConfig{
		CleanupPolicy:               append([]string(nil), b.LogCleanupPolicy...),
		CompressionType:             b.CompressionType,
		DeleteRetentionMs:           b.LogCleanerDeleteRetentionMs,
		FileDeleteDelayMs:           b.LogSegmentDeleteDelayMs,
		FlushMessages:               b.LogFlushIntervalMessages,
		FlushMs:                     b.LogFlushIntervalMs,
		IndexIntervalBytes:          b.LogIndexIntervalBytes,
		MaxCompactionLagMs:          b.LogCleanerMaxCompactionLagMs,
		MaxMessageBytes:             b.MessageMaxBytes,
		MessageTimestampType:        b.LogMessageTimestampType,
		MessageTimestampBeforeMaxMs: b.LogMessageTimestampBeforeMaxMs,
		MessageTimestampAfterMaxMs:  b.LogMessageTimestampAfterMaxMs,
		MinCleanableDirtyRatioPpm:   b.LogCleanerMinCleanableRatioPpm,
		MinCompactionLagMs:          b.LogCleanerMinCompactionLagMs,
		MinInsyncReplicas:           b.MinInsyncReplicas,
		Preallocate:                 b.LogPreallocate,
		RetentionBytes:              b.LogRetentionBytes,
		RetentionMs:                 b.LogRetentionMs,
		SegmentBytes:                b.LogSegmentBytes,
		SegmentIndexBytes:           b.LogIndexSizeMaxBytes,
		SegmentJitterMs:             b.LogRollJitterMs,
		SegmentMs:                   b.LogRollMs,
		UncleanLeaderElectionEnable: b.UncleanLeaderElectionEnable,
	}
}

// Set validates value for the topic key and sets it. An unknown key wraps
// ErrUnknownTopicConfig (Kafka answers INVALID_CONFIG for it).
func (t *TopicConfig) Set(key, value string) error {
	k, ok := findTopicKey(key)
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopicConfig, key)
	}
	return k.set(t, key, value)
}

// Get returns the key's value as Kafka's DescribeConfigs prints it.
func (t *TopicConfig) Get(key string) (string, bool) {
	k, ok := findTopicKey(key)
	if !ok {
		return "", false
	}
	return k.get(t), true
}

// ValidateTopicConfig checks one override without applying it.
func ValidateTopicConfig(key, value string) error {
	var scratch TopicConfig
	return scratch.Set(key, value)
}

// EffectiveTopicConfig applies a topic's overrides (key → value) over the broker's defaults.
// Every bad override is reported (joined, in key order); then the combination is checked.
func EffectiveTopicConfig(b *BrokerConfig, overrides map[string]string) (TopicConfig, error) {
	t := TopicDefaults(b)
	keys := slices.Sorted(maps.Keys(overrides))
	var errs []error
	for _, k := range keys {
		if err := t.Set(k, overrides[k]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return TopicConfig{}, err
	}
	if t.MinCompactionLagMs > t.MaxCompactionLagMs {
		return TopicConfig{}, fmt.Errorf("conflict topic config setting: min.compaction.lag.ms (%d) must not be greater than max.compaction.lag.ms (%d)",
			t.MinCompactionLagMs, t.MaxCompactionLagMs)
	}
	return t, nil
}
