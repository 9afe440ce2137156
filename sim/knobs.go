package sim

import (
	"fmt"
	"math/rand/v2"

	"github.com/weirdata/weir/core/config"
)

// Knobs are the settings a run draws from its seed, each within its valid range, so that
// seeds cover small segments and dense indexes as well as Kafka's defaults.
type Knobs struct {
	// Broker settings.
	SegmentBytes             int32 // log.segment.bytes
	SegmentMs                int64 // log.roll.ms
	IndexIntervalBytes       int32 // log.index.interval.bytes
	IndexSizeMaxBytes        int32 // log.index.size.max.bytes
	RetentionCheckIntervalMs int64 // log.retention.check.interval.ms
	RetentionMs              int64 // log.retention.ms; -1 keeps everything

	// Workload.
	Partitions       int32 // of the one topic
	Clients          int   // producing and fetching clients
	IdempotentPct    int   // share of clients with idempotence on, in percent
	ProducePct       int   // share of operations that are produces, in percent
	RecordsPerOpMax  int   // records in one produce, 1..max
	ValueBytesMax    int   // value size, 1..max
	FetchMaxWaitMs   int32 // fetch.max.wait.ms
	FetchMaxBytes    int32 // fetch.max.bytes and max.partition.fetch.bytes
	InFlightMax      int   // max.in.flight.requests.per.connection
	PendingPerClient int   // a client issues nothing while this many of its ops are pending
}

// drawKnobs draws a run's knobs.
func drawKnobs(r *rand.Rand) Knobs {
	pick := func(options ...int64) int64 { return options[r.IntN(len(options))] }
	k := Knobs{
		SegmentBytes:             int32(pick(1024, 4096, 64<<10, 1<<20)),
		SegmentMs:                pick(500, 5_000, 7*24*3600*1000),
		IndexIntervalBytes:       int32(pick(0, 100, 4096)),
		IndexSizeMaxBytes:        int32(pick(64, 4096, 64<<10)),
		RetentionCheckIntervalMs: pick(100, 1_000, 300_000),

		Partitions:       int32(1 + r.IntN(3)),
		Clients:          1 + r.IntN(4),
		IdempotentPct:    int(pick(0, 50, 100, 100)),
		ProducePct:       int(pick(30, 50, 70)),
		RecordsPerOpMax:  int(pick(1, 5, 20)),
		ValueBytesMax:    int(pick(8, 100, 1000)),
		FetchMaxWaitMs:   int32(pick(0, 10, 500)),
		FetchMaxBytes:    int32(pick(256, 16<<10, 1<<20)),
		InFlightMax:      int(pick(1, 5)),
		PendingPerClient: int(pick(1, 3, 8)),
	}
	// Knobs added later are drawn last, so that a new knob leaves the others' draws (and the
	// scenarios that rely on them) as they were.
	k.RetentionMs = pick(-1, -1, 3_000, 10_000)
	return k
}

// adjust applies the broker knobs.
func (k Knobs) adjust(b *config.BrokerConfig) {
	b.LogSegmentBytes = k.SegmentBytes
	b.LogRollMs = k.SegmentMs
	b.LogIndexIntervalBytes = k.IndexIntervalBytes
	b.LogIndexSizeMaxBytes = k.IndexSizeMaxBytes
	b.LogRetentionCheckIntervalMs = k.RetentionCheckIntervalMs
	b.LogRetentionMs = k.RetentionMs
}

// String is the knobs in one line, for the run summary.
func (k Knobs) String() string {
	return fmt.Sprintf("segment=%dB/%dms index=%dB/%dB retention=%dms/check %dms partitions=%d clients=%d idempotent=%d%% produce=%d%% records<=%d value<=%dB fetch-wait=%dms fetch-max=%dB in-flight=%d pending=%d",
		k.SegmentBytes, k.SegmentMs, k.IndexIntervalBytes, k.IndexSizeMaxBytes, k.RetentionMs, k.RetentionCheckIntervalMs,
		k.Partitions, k.Clients, k.IdempotentPct, k.ProducePct, k.RecordsPerOpMax, k.ValueBytesMax,
		k.FetchMaxWaitMs, k.FetchMaxBytes, k.InFlightMax, k.PendingPerClient)
}
