package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

type benchConsumeOptions struct {
	topic          string
	records        int64
	idleTimeout    time.Duration
	reportInterval time.Duration
}

func (a *app) benchConsumeCommand(o *clientOptions) *cobra.Command {
	var b benchConsumeOptions
	cmd := &cobra.Command{
		Use:   "consume --topic T --records N",
		Short: "Consume N records from the start of a topic and report throughput",
		Long: `Consume --records records from the start of every partition of --topic, without a
group, like kafka-consumer-perf-test. Bytes are keys plus values. It fails if no record arrives
for --idle-timeout (Kafka's tool's --timeout), e.g. when the topic holds fewer records.

Output, text: every --report-interval a line
  "N records received, R records/sec (M MB/sec)."
for that interval, then the summary
  "N records received in S s, R records/sec (M MB/sec), F ms to first record."
with MB = 1024×1024 bytes. JSON: {"type":"progress","records","records_per_sec","mb_per_sec"}
per interval and {"type":"summary","records","bytes","elapsed_ms","records_per_sec",
"mb_per_sec","first_record_ms"}, one object per line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			switch {
			case b.topic == "":
				return usageError{errors.New("--topic is required")}
			case b.records < 1:
				return usageError{fmt.Errorf("--records %d: want at least 1", b.records)}
			case b.idleTimeout <= 0:
				return usageError{fmt.Errorf("--idle-timeout %v: must be positive", b.idleTimeout)}
			}
			if err := checkReportInterval(b.reportInterval); err != nil {
				return err
			}
			return a.benchConsume(cmd.Context(), o, &b)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&b.topic, "topic", "", "topic to consume (required)")
	flags.Int64Var(&b.records, "records", 0, "number of records to consume (required)")
	flags.DurationVar(&b.idleTimeout, "idle-timeout", 10*time.Second, "fail if no record arrives for this long")
	flags.DurationVar(&b.reportInterval, "report-interval", time.Second, "how often to print a progress line")
	return cmd
}

type benchConsumeProgressJSON struct {
	Type          string  `json:"type"`
	Records       int64   `json:"records"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
}

type benchConsumeSummaryJSON struct {
	Type          string  `json:"type"`
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	ElapsedMs     float64 `json:"elapsed_ms"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	FirstRecordMs float64 `json:"first_record_ms"`
}

// consumeCounts is what the reporter reads while the poll loop counts.
type consumeCounts struct {
	mu                         sync.Mutex
	records, bytes             int64
	windowRecords, windowBytes int64
	windowStart                time.Time
}

func (a *app) benchConsume(ctx context.Context, o *clientOptions, b *benchConsumeOptions) error {
	cl, err := a.newClient(o, kgo.ConsumeTopics(b.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()

	counts := &consumeCounts{}
	var printMu sync.Mutex
	var printErr error
	start := time.Now()
	counts.windowStart = start
	stopTicker := startTicker(b.reportInterval, func(now time.Time) {
		counts.mu.Lock()
		records, bytes, elapsed := counts.windowRecords, counts.windowBytes, now.Sub(counts.windowStart)
		counts.windowRecords, counts.windowBytes, counts.windowStart = 0, 0, now
		counts.mu.Unlock()
		line := benchConsumeProgressJSON{Type: "progress", Records: records,
			RecordsPerSec: perSecond(float64(records), elapsed), MBPerSec: perSecond(float64(bytes)/bytesPerMB, elapsed)}
		printMu.Lock()
		defer printMu.Unlock()
		if printErr == nil {
			printErr = printLine(a.stdout, o.format, fmt.Sprintf("%d records received, %.1f records/sec (%.2f MB/sec).",
				line.Records, line.RecordsPerSec, line.MBPerSec), line)
		}
	})
	defer stopTicker()

	var firstRecord time.Duration
	var records, bytes int64
	for records < b.records {
		pollCtx, cancel := context.WithTimeout(ctx, b.idleTimeout)
		fetches := cl.PollRecords(pollCtx, int(min(b.records-records, 10000)))
		cancel()
		if ctx.Err() != nil {
			return fmt.Errorf("stopped after %d of %d records: %w", records, b.records, ctx.Err())
		}
		var polledRecords, polledBytes int64
		fetches.EachRecord(func(r *kgo.Record) {
			if records+polledRecords < b.records {
				polledRecords++
				polledBytes += int64(len(r.Key) + len(r.Value))
			}
		})
		if polledRecords == 0 {
			if pollCtx.Err() != nil {
				return fmt.Errorf("no record for --idle-timeout %v after %d of %d records", b.idleTimeout, records, b.records)
			}
			for _, fe := range fetches.Errors() {
				a.logger.Warn("fetch", "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
			}
			continue
		}
		if records == 0 {
			firstRecord = time.Since(start)
		}
		records += polledRecords
		bytes += polledBytes
		counts.mu.Lock()
		counts.windowRecords += polledRecords
		counts.windowBytes += polledBytes
		counts.mu.Unlock()
	}
	elapsed := time.Since(start)
	stopTicker() // before the summary, so that no progress line follows it

	summary := benchConsumeSummaryJSON{
		Type: "summary", Records: records, Bytes: bytes, ElapsedMs: float64(elapsed.Microseconds()) / 1000,
		RecordsPerSec: perSecond(float64(records), elapsed), MBPerSec: perSecond(float64(bytes)/bytesPerMB, elapsed),
		FirstRecordMs: float64(firstRecord.Microseconds()) / 1000,
	}
	if printErr != nil {
		return printErr
	}
	return printLine(a.stdout, o.format, fmt.Sprintf("%d records received in %.3f s, %.1f records/sec (%.2f MB/sec), %.1f ms to first record.",
		summary.Records, elapsed.Seconds(), summary.RecordsPerSec, summary.MBPerSec, summary.FirstRecordMs), summary)
}
