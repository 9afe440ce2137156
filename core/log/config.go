package log

import (
	"fmt"
	"math"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/record"
)

// Config holds one log's settings, named after Kafka's topic configs.
type Config struct {
	SegmentBytes       int64 // log.segment.bytes / segment.bytes: roll when the next batch would not fit
	SegmentMs          int64 // log.roll.ms / segment.ms: roll when the active segment is this old
	IndexIntervalBytes int64 // log.index.interval.bytes: log bytes between sparse index entries
	SegmentIndexBytes  int64 // log.index.size.max.bytes: size of .index and .timeindex; full → roll
	RetentionBytes     int64 // retention.bytes, -1 = unbounded
	RetentionMs        int64 // retention.ms, -1 = unbounded
	OpenSegmentsMax    int   // open inactive segments per log (LRU); bounds file handles
	ReadPlanBytesMax   int64 // the largest read plan one Read returns (one oversized batch excepted)
	// Buggify turns on rare legal paths in the simulator (log/... sites); nil in production.
	Buggify *buggify.B
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       1 << 30,
		SegmentMs:          7 * 24 * 60 * 60 * 1000,
		IndexIntervalBytes: 4096,
		SegmentIndexBytes:  10 << 20,
		RetentionBytes:     -1,
		RetentionMs:        7 * 24 * 60 * 60 * 1000,
		OpenSegmentsMax:    16,
		ReadPlanBytesMax:   64 << 20,
	}
}

// Validate reports the first setting out of its valid range.
func (c Config) Validate() error {
	switch {
	case c.SegmentBytes < record.HeaderSizeBytes || c.SegmentBytes > math.MaxInt32:
		// Index positions are int32, as in Kafka.
		return fmt.Errorf("log: segment.bytes %d outside [%d, %d]", c.SegmentBytes, record.HeaderSizeBytes, math.MaxInt32)
	case c.SegmentMs < 1:
		return fmt.Errorf("log: segment.ms %d must be positive", c.SegmentMs)
	case c.IndexIntervalBytes < 0:
		return fmt.Errorf("log: index.interval.bytes %d must not be negative", c.IndexIntervalBytes)
	case c.SegmentIndexBytes < 2*timeIndexEntryBytes || c.SegmentIndexBytes > math.MaxInt32:
		// Two time index entries: one for appends, one reserved for the entry written at roll.
		return fmt.Errorf("log: segment.index.bytes %d outside [%d, %d]", c.SegmentIndexBytes, 2*timeIndexEntryBytes, math.MaxInt32)
	case c.RetentionBytes < -1:
		return fmt.Errorf("log: retention.bytes %d must be -1 or more", c.RetentionBytes)
	case c.RetentionMs < -1:
		return fmt.Errorf("log: retention.ms %d must be -1 or more", c.RetentionMs)
	case c.OpenSegmentsMax < 1:
		return fmt.Errorf("log: open segments max %d must be positive", c.OpenSegmentsMax)
	case c.ReadPlanBytesMax < 1:
		return fmt.Errorf("log: read plan bytes max %d must be positive", c.ReadPlanBytesMax)
	}
	return nil
}

// offsetIndexEntriesMax is how many entries fit in a .index file.
func (c Config) offsetIndexEntriesMax() int64 { return c.SegmentIndexBytes / offsetIndexEntryBytes }

// timeIndexEntriesMax is how many entries fit in a .timeindex file.
func (c Config) timeIndexEntriesMax() int64 { return c.SegmentIndexBytes / timeIndexEntryBytes }
