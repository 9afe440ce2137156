package config

import (
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/weirdata/weir/core/log"
)

func TestTopicKeysSortedAndComplete(t *testing.T) {
	if !sort.SliceIsSorted(topicKeys, func(i, j int) bool { return topicKeys[i].Name < topicKeys[j].Name }) {
		t.Fatal("topicKeys must be sorted by name (findTopicKey binary-searches it)")
	}
	b := DefaultBrokerConfig()
	defaults := TopicDefaults(&b)
	for _, k := range TopicKeys() {
		// A key without a broker synonym (the throttled replica lists) defaults to its zero value.
		if _, ok := brokerKeys[k.BrokerSynonym]; !ok && !resolvedKeys[k.BrokerSynonym] && k.BrokerSynonym != "" {
			t.Errorf("%s: broker synonym %s is not a broker key", k.Name, k.BrokerSynonym)
		}
		// Every default must be printable and accepted back by its own validator.
		v, ok := defaults.Get(k.Name)
		if !ok {
			t.Fatalf("Get(%s) missing", k.Name)
		}
		if err := ValidateTopicConfig(k.Name, v); err != nil {
			t.Errorf("default of %s (%q) fails validation: %v", k.Name, v, err)
		}
	}
}

func TestTopicDefaultsFollowBroker(t *testing.T) {
	b, _, err := ParseServerProperties([]byte(minimal + "log.retention.minutes=3\nlog.segment.bytes=2048\n" +
		"message.max.bytes=500\nlog.message.timestamp.type=LogAppendTime\nlog.cleaner.min.cleanable.ratio=0.25\n"))
	if err != nil {
		t.Fatal(err)
	}
	tc := TopicDefaults(&b)
	want := map[string]string{
		"retention.ms": "180000", "segment.bytes": "2048", "max.message.bytes": "500",
		"message.timestamp.type": "LogAppendTime", "min.cleanable.dirty.ratio": "0.25",
		"segment.ms": "604800000", "retention.bytes": "-1", "cleanup.policy": "delete",
		"flush.messages": "9223372036854775807", "segment.index.bytes": "10485760", "index.interval.bytes": "4096",
	}
	for k, v := range want {
		if got, _ := tc.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestEffectiveTopicConfig(t *testing.T) {
	b := DefaultBrokerConfig()
	tc, err := EffectiveTopicConfig(&b, map[string]string{
		"retention.ms": "1000", "cleanup.policy": "compact,delete", "segment.bytes": "1048576",
		"min.insync.replicas": "2", "message.timestamp.type": "LogAppendTime", "flush.messages": "1",
		"min.cleanable.dirty.ratio": "1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if tc.RetentionMs != 1000 || tc.SegmentBytes != 1<<20 || tc.MinInsyncReplicas != 2 || tc.FlushMessages != 1 ||
		len(tc.CleanupPolicy) != 2 || tc.MessageTimestampType != "LogAppendTime" || tc.MinCleanableDirtyRatioPpm != 1000000 {
		t.Fatalf("overrides not applied: %+v", tc)
	}
	if tc.RetentionBytes != -1 || tc.IndexIntervalBytes != 4096 {
		t.Fatalf("defaults lost: %+v", tc)
	}
	if v, _ := tc.Get("min.cleanable.dirty.ratio"); v != "1.0" {
		t.Errorf("ratio prints as %q, want 1.0", v)
	}
}

func TestTopicConfigValidation(t *testing.T) {
	tests := []struct {
		key, value string
		ok         bool
	}{
		{"retention.ms", "-1", true},
		{"retention.ms", "-2", false},
		{"retention.ms", "abc", false},
		{"retention.bytes", "-1", true},
		{"segment.bytes", "14", true},
		{"segment.bytes", "13", false},
		{"segment.bytes", "2147483648", false},
		{"segment.ms", "0", false},
		{"segment.ms", "1", true},
		{"segment.index.bytes", "3", false},
		{"index.interval.bytes", "0", true},
		{"max.message.bytes", "-1", false},
		{"message.timestamp.type", "CreateTime", true},
		{"message.timestamp.type", "createtime", false},
		{"cleanup.policy", "", true},
		{"cleanup.policy", "compact", true},
		{"cleanup.policy", "compact,compact", false},
		{"cleanup.policy", "delete,archive", false},
		{"flush.messages", "0", false},
		{"flush.ms", "0", true},
		{"min.insync.replicas", "0", false},
		{"min.cleanable.dirty.ratio", "0.5", true},
		{"min.cleanable.dirty.ratio", "1.5", false},
		{"min.cleanable.dirty.ratio", "NaN", false},
		{"compression.type", "zstd", true},
		{"compression.type", "brotli", false},
		{"preallocate", "TRUE", true},
		{"preallocate", "1", false},
		{"max.compaction.lag.ms", "0", false},
	}
	for _, tt := range tests {
		err := ValidateTopicConfig(tt.key, tt.value)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateTopicConfig(%s=%q) = %v, want ok=%v", tt.key, tt.value, err, tt.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), tt.key) || !strings.Contains(err.Error(), tt.value)) {
			t.Errorf("error %q does not name key %s and value %q", err, tt.key, tt.value)
		}
	}
}

func TestEffectiveTopicConfigErrors(t *testing.T) {
	b := DefaultBrokerConfig()
	_, err := EffectiveTopicConfig(&b, map[string]string{"retention.mss": "1", "segment.bytes": "1"})
	if !errors.Is(err, ErrUnknownTopicConfig) || !strings.Contains(err.Error(), "segment.bytes") {
		t.Fatalf("error %v: want unknown key and bad segment.bytes both reported", err)
	}
	_, err = EffectiveTopicConfig(&b, map[string]string{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"})
	if err == nil || !strings.Contains(err.Error(), "max.compaction.lag.ms") {
		t.Fatalf("min > max compaction lag: %v", err)
	}
}

func TestLogConfigMapping(t *testing.T) {
	b, _, err := ParseServerProperties([]byte(minimal + "log.retention.bytes=-7\n"))
	if err != nil {
		t.Fatal(err)
	}
	tc, err := EffectiveTopicConfig(&b, map[string]string{
		"segment.bytes": "1048576", "segment.ms": "60000", "index.interval.bytes": "100",
		"segment.index.bytes": "4096", "retention.ms": "-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	base := log.DefaultConfig()
	base.OpenSegmentsMax = 3
	got, err := tc.LogConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	want := log.Config{SegmentBytes: 1 << 20, SegmentMs: 60000, IndexIntervalBytes: 100, SegmentIndexBytes: 4096,
		RetentionBytes: -1, RetentionMs: -1, OpenSegmentsMax: 3, ReadPlanBytesMax: base.ReadPlanBytesMax}
	if got != want {
		t.Fatalf("LogConfig = %+v, want %+v", got, want)
	}
	// Broker defaults map to log's own defaults.
	defaults := TopicDefaults(&b)
	defaults.RetentionBytes = -1
	got, err = defaults.LogConfig(log.DefaultConfig())
	if err != nil || got != log.DefaultConfig() {
		t.Fatalf("defaults map to %+v (%v), want log.DefaultConfig %+v", got, err, log.DefaultConfig())
	}
	// A value Kafka accepts but the log cannot run with is an error, not a panic.
	small := TopicDefaults(&b)
	small.SegmentIndexBytes = 4
	if _, err := small.LogConfig(log.DefaultConfig()); err == nil {
		t.Fatal("segment.index.bytes=4 mapped without error")
	}
}
