package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type benchProduceOptions struct {
	topic           string
	records         int64
	recordSizeBytes int
	acks            int
	compression     string
	partitions      int32
	// replicationFactor and topicConfigs apply to a topic --partitions creates.
	replicationFactor int16
	topicConfigs      []string
	targetRate        float64
	batchBytesMax     int32
	lingerMs          int
	reportInterval    time.Duration
}

func (a *app) benchProduceCommand(o *clientOptions) *cobra.Command {
	var b benchProduceOptions
	cmd := &cobra.Command{
		Use:   "produce --topic T --records N --record-size B",
		Short: "Produce N records of B bytes as fast as allowed and report throughput and latency",
		Long: `Produce --records records of --record-size bytes to --topic, like
kafka-producer-perf-test: every value is the same payload of random upper-case letters (seed
0), there are no keys, and the client's default partitioner spreads records. With
--partitions P a missing topic is created with P partitions, --replication-factor replicas
(default: the cluster's default.replication.factor) and each --topic-config k=v (an existing
topic is used as it is). --target-rate caps records per second. A record's latency is from the produce call to
its acknowledgement; latencies go to a fixed-size histogram (quantiles within 1.6%).

Output, text: every --report-interval a line
  "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency."
for that interval, then the summary
  "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency,
   P ms 50th, P ms 95th, P ms 99th, P ms 99.9th." (one line)
with MB = 1024×1024 bytes of values, as Kafka's tool counts. JSON: the same as objects, one
per line: {"type":"progress","records","records_per_sec","mb_per_sec","latency_avg_ms",
"latency_max_ms"} and {"type":"summary","records","failed","bytes","elapsed_ms",
"records_per_sec","mb_per_sec","latency_avg_ms","latency_p50_ms","latency_p95_ms",
"latency_p99_ms","latency_p999_ms","latency_max_ms"}. Failed records are counted apart from
sent ones; any failure makes the exit code 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			opts, err := b.clientOpts(o)
			if err != nil {
				return err
			}
			cl, err := a.newClient(o, opts...)
			if err != nil {
				return err
			}
			defer cl.Close()
			if b.partitions > 0 {
				if err := a.ensureTopic(cmd.Context(), o, cl, b.topic, b.partitions, b.replicationFactor, b.topicConfigs); err != nil {
					return err
				}
			}
			return a.benchProduce(cmd.Context(), cl, &b, o.format)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&b.topic, "topic", "", "topic to produce to (required)")
	flags.Int64Var(&b.records, "records", 0, "number of records to produce (required)")
	flags.IntVar(&b.recordSizeBytes, "record-size", 0, "value size in bytes (required)")
	flags.IntVar(&b.acks, "acks", -1, "acks: -1 (all in-sync replicas, idempotent), 1 or 0")
	flags.StringVarP(&b.compression, "compression", "z", "none", "compression: none, gzip, snappy, lz4 or zstd")
	flags.Int32Var(&b.partitions, "partitions", 0, "create the topic with this many partitions if it is missing; 0 does not create")
	flags.Int16Var(&b.replicationFactor, "replication-factor", -1, "with --partitions: the new topic's replication factor; -1 takes the cluster's default.replication.factor")
	flags.StringArrayVar(&b.topicConfigs, "topic-config", nil, "with --partitions: a config of the new topic, key=value (repeatable), e.g. min.insync.replicas=2")
	flags.Float64Var(&b.targetRate, "target-rate", 0, "records per second at most; 0 is unlimited")
	flags.Int32Var(&b.batchBytesMax, "batch-max-bytes", 1000012, "largest record batch the client builds, in bytes")
	flags.IntVar(&b.lingerMs, "linger-ms", 5, "how long a partition's batch waits for more records, in ms (Kafka's linger.ms)")
	flags.DurationVar(&b.reportInterval, "report-interval", time.Second, "how often to print a progress line")
	return cmd
}

func (b *benchProduceOptions) clientOpts(o *clientOptions) ([]kgo.Opt, error) {
	switch {
	case b.topic == "":
		return nil, usageError{errors.New("--topic is required")}
	case b.records < 1:
		return nil, usageError{fmt.Errorf("--records %d: want at least 1", b.records)}
	case b.recordSizeBytes < 0:
		return nil, usageError{fmt.Errorf("--record-size %d: must not be negative", b.recordSizeBytes)}
	case b.partitions < 0:
		return nil, usageError{fmt.Errorf("--partitions %d: must not be negative", b.partitions)}
	case b.replicationFactor == 0 || b.replicationFactor < -1:
		return nil, usageError{fmt.Errorf("--replication-factor %d: want -1 (the default) or at least 1", b.replicationFactor)}
	case b.targetRate < 0:
		return nil, usageError{fmt.Errorf("--target-rate %v: must not be negative", b.targetRate)}
	case b.batchBytesMax < 1:
		return nil, usageError{fmt.Errorf("--batch-max-bytes %d: must be positive", b.batchBytesMax)}
	case b.lingerMs < 0:
		return nil, usageError{fmt.Errorf("--linger-ms %d: must not be negative", b.lingerMs)}
	}
	if err := checkReportInterval(b.reportInterval); err != nil {
		return nil, err
	}
	for _, kv := range b.topicConfigs {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, usageError{fmt.Errorf("--topic-config %q: want key=value", kv)}
		}
	}
	acks, err := parseAcks(b.acks)
	if err != nil {
		return nil, err
	}
	codec, err := parseCompression(b.compression)
	if err != nil {
		return nil, err
	}
	opts := append(acks,
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerBatchMaxBytes(b.batchBytesMax),
		kgo.ProducerLinger(time.Duration(b.lingerMs)*time.Millisecond),
		kgo.DefaultProduceTopic(b.topic),
	)
	if o.timeout > 0 {
		opts = append(opts, kgo.RecordDeliveryTimeout(o.timeout))
	}
	return opts, nil
}

// ensureTopic creates the topic with the given partitions, replication factor (-1: the
// cluster's default) and configs (key=value) unless it exists.
func (a *app) ensureTopic(ctx context.Context, o *clientOptions, cl *kgo.Client, topic string, partitions int32, replicationFactor int16, configs []string) error {
	ctx, cancel := o.stepContext(ctx)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = timeoutMillis(o)
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, replicationFactor
	for _, kv := range configs {
		k, v, _ := strings.Cut(kv, "=")
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	if len(resp.Topics) != 1 {
		return fmt.Errorf("create topic %s: %d topics in the answer, want 1", topic, len(resp.Topics))
	}
	switch code := resp.Topics[0].ErrorCode; code {
	case 0:
		a.logger.Info("created topic", "topic", topic, "partitions", partitions, "replication_factor", replicationFactor)
	case kerr.TopicAlreadyExists.Code:
		a.logger.Info("topic exists; --partitions applies only to a new topic", "topic", topic)
	default:
		return fmt.Errorf("create topic %s: %s", topic, statusText(code, resp.Topics[0].ErrorMessage))
	}
	return nil
}

// produceStats accumulates acknowledgements: the whole run's histogram and the current
// reporting window's. Promises run serially but the reporter runs beside them, hence the lock.
type produceStats struct {
	mu          sync.Mutex
	total       latencyHistogram
	window      latencyHistogram
	windowStart time.Time
	failed      int64
	firstErr    error
}

func (s *produceStats) promise(r *kgo.Record, err error) {
	latencyUs := time.Since(r.Timestamp).Microseconds() // r.Timestamp is the send time
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failed++
		if s.firstErr == nil {
			s.firstErr = err
		}
		return
	}
	s.total.record(latencyUs)
	s.window.record(latencyUs)
}

// takeWindow returns the window ending now and starts the next.
func (s *produceStats) takeWindow(now time.Time) (latencyHistogram, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, elapsed := s.window, now.Sub(s.windowStart)
	s.window = latencyHistogram{}
	s.windowStart = now
	return w, elapsed
}

type benchProgressJSON struct {
	Type          string  `json:"type"`
	Records       int64   `json:"records"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	LatencyAvgMs  float64 `json:"latency_avg_ms"`
	LatencyMaxMs  float64 `json:"latency_max_ms"`
}

type benchProduceSummaryJSON struct {
	Type          string  `json:"type"`
	Records       int64   `json:"records"`
	Failed        int64   `json:"failed"`
	Bytes         int64   `json:"bytes"`
	ElapsedMs     float64 `json:"elapsed_ms"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	LatencyAvgMs  float64 `json:"latency_avg_ms"`
	LatencyP50Ms  float64 `json:"latency_p50_ms"`
	LatencyP95Ms  float64 `json:"latency_p95_ms"`
	LatencyP99Ms  float64 `json:"latency_p99_ms"`
	LatencyP999Ms float64 `json:"latency_p999_ms"`
	LatencyMaxMs  float64 `json:"latency_max_ms"`
}

func (a *app) benchProduce(ctx context.Context, cl *kgo.Client, b *benchProduceOptions, format string) error {
	// Kafka's tool: one payload of random upper-case letters from a generator seeded with 0.
	payload := make([]byte, b.recordSizeBytes)
	rng := rand.New(rand.NewPCG(0, 0))
	for i := range payload {
		payload[i] = byte('A' + rng.IntN(26))
	}
	stats := &produceStats{}
	var printMu sync.Mutex // the reporter and the summary share stdout
	var printErr error
	start := time.Now()
	stats.windowStart = start
	stopTicker := startTicker(b.reportInterval, func(now time.Time) {
		w, elapsed := stats.takeWindow(now)
		mbPerSec := perSecond(float64(w.count*int64(b.recordSizeBytes))/bytesPerMB, elapsed)
		line := benchProgressJSON{
			Type: "progress", Records: w.count, RecordsPerSec: perSecond(float64(w.count), elapsed), MBPerSec: mbPerSec,
			LatencyAvgMs: w.mean() / 1000, LatencyMaxMs: microsToMillis(w.maxValue),
		}
		printMu.Lock()
		defer printMu.Unlock()
		if printErr == nil {
			printErr = printLine(a.stdout, format, fmt.Sprintf("%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.",
				line.Records, line.RecordsPerSec, line.MBPerSec, line.LatencyAvgMs, line.LatencyMaxMs), line)
		}
	})
	var sent int64
	for ; sent < b.records && ctx.Err() == nil; sent++ {
		if b.targetRate > 0 {
			// Like Kafka's ThroughputThrottler: record i is not sent before i/rate seconds.
			due := start.Add(time.Duration(float64(sent) / b.targetRate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
				}
			}
		}
		cl.Produce(ctx, &kgo.Record{Value: payload, Timestamp: time.Now()}, stats.promise)
	}
	flushErr := cl.Flush(ctx)
	elapsed := time.Since(start)
	stopTicker()

	stats.mu.Lock()
	h, failed, firstErr := &stats.total, stats.failed, stats.firstErr
	stats.mu.Unlock()
	bytes := h.count * int64(b.recordSizeBytes)
	summary := benchProduceSummaryJSON{
		Type: "summary", Records: h.count, Failed: failed, Bytes: bytes, ElapsedMs: float64(elapsed.Microseconds()) / 1000,
		RecordsPerSec: perSecond(float64(h.count), elapsed), MBPerSec: perSecond(float64(bytes)/bytesPerMB, elapsed),
		LatencyAvgMs: h.mean() / 1000, LatencyP50Ms: microsToMillis(h.quantile(0.5)), LatencyP95Ms: microsToMillis(h.quantile(0.95)),
		LatencyP99Ms: microsToMillis(h.quantile(0.99)), LatencyP999Ms: microsToMillis(h.quantile(0.999)), LatencyMaxMs: microsToMillis(h.maxValue),
	}
	if printErr != nil {
		return printErr
	}
	if err := printLine(a.stdout, format, fmt.Sprintf("%d records sent, %.1f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %.2f ms 50th, %.2f ms 95th, %.2f ms 99th, %.2f ms 99.9th.",
		summary.Records, summary.RecordsPerSec, summary.MBPerSec, summary.LatencyAvgMs, summary.LatencyMaxMs,
		summary.LatencyP50Ms, summary.LatencyP95Ms, summary.LatencyP99Ms, summary.LatencyP999Ms), summary); err != nil {
		return err
	}
	switch {
	case failed > 0:
		return fmt.Errorf("%d of %d records failed, the first: %w", failed, sent, firstErr)
	case flushErr != nil:
		return fmt.Errorf("flush: %w", flushErr)
	case h.count < b.records:
		return fmt.Errorf("stopped after %d of %d records: %w", h.count, b.records, ctx.Err())
	}
	return nil
}
