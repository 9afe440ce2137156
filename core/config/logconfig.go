package config

import (
	"fmt"

	"github.com/weirdata/weir/core/log"
)

// LogConfig maps a topic's effective config to the config its partition logs run with.
// base supplies what is not a Kafka topic key (OpenSegmentsMax, ReadPlanBytesMax); pass
// log.DefaultConfig() or the broker's own bounds. Kafka treats any negative retention as
// unbounded; the log's -1 says the same. flush.messages, flush.ms and the compaction keys
// are not log settings: the broker and the cleaner read them from the TopicConfig.
func (t *TopicConfig) LogConfig(base log.Config) (log.Config, error) {
	cfg := base
	cfg.SegmentBytes = int64(t.SegmentBytes)
	cfg.SegmentMs = t.SegmentMs
	cfg.IndexIntervalBytes = int64(t.IndexIntervalBytes)
	cfg.SegmentIndexBytes = int64(t.SegmentIndexBytes)
	cfg.RetentionBytes = max(t.RetentionBytes, -1)
	cfg.RetentionMs = max(t.RetentionMs, -1)
	if err := cfg.Validate(); err != nil {
		return log.Config{}, fmt.Errorf("topic config does not make a valid log config: %w", err)
	}
	return cfg, nil
}
