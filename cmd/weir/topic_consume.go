package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consumeOptions are topic consume's flags.
type consumeOptions struct {
	offset     string
	partitions []int32
	count      int64
	untilEnd   bool
}

func (a *app) topicConsumeCommand(o *clientOptions) *cobra.Command {
	var c consumeOptions
	cmd := &cobra.Command{
		Use:   "consume TOPIC...",
		Short: "Consume records and print them",
		Long: `Consume records from the topics' partitions (all, or those of -p) without a group,
starting at -o:
  start       the log start offset (the default)
  end         the high watermark: only records produced from now on
  N           offset N, clamped to [log start, high watermark]
  -N          N records before the high watermark, at most back to the log start
  @MS         the first record with a timestamp at or after MS (Unix milliseconds), or the
              high watermark if there is none
Offsets are resolved once, at start, for the partitions the topics have then. It stops after
-n records, or with --until-end at the high watermarks seen at start (a partition whose last
offset is a transaction marker keeps it waiting), or else at an interrupt (exit 0).

Output, one line per record. Text, tab-separated, as kafka-console-consumer prints with every
print.* property on, plus the topic:
  CreateTime:MS<TAB>Topic:T<TAB>Partition:P<TAB>Offset:O<TAB>Headers:K:V,K:V<TAB>KEY<TAB>VALUE
with LogAppendTime:MS for broker timestamps, Headers:NO_HEADERS without headers, null for a
null key or value, and bytes that are not printable UTF-8 (or contain a tab) quoted with Go
escapes. JSON: {"topic","partition","offset","timestamp","timestamp_type","key","value",
"headers":[{"key","value"}]}; key and value are strings or null, and bytes that are not
valid UTF-8 are given instead as key_base64, value_base64 (standard base64).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			spec, err := parseOffsetSpec(c.offset)
			if err != nil {
				return err
			}
			if c.count < 0 {
				return usageError{fmt.Errorf("--num %d: must not be negative", c.count)}
			}
			for _, p := range c.partitions {
				if p < 0 {
					return usageError{fmt.Errorf("--partitions: %d is not a partition number", p)}
				}
			}
			return a.consume(cmd.Context(), o, uniqueArgs(args), spec, &c)
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&c.offset, "offset", "o", "start", "where to start: start, end, N, -N or @UNIX_MS")
	flags.Int32SliceVarP(&c.partitions, "partitions", "p", nil, "comma-separated partitions to consume; default all")
	flags.Int64VarP(&c.count, "num", "n", 0, "stop after this many records; 0 means no limit")
	flags.BoolVar(&c.untilEnd, "until-end", false, "stop at the high watermarks seen at start")
	return cmd
}

// offsetSpec is a parsed -o.
type offsetSpec struct {
	kind  offsetKind
	value int64 // the offset, the count back from the end, or the timestamp in ms
}

type offsetKind int

const (
	offsetStart offsetKind = iota
	offsetEnd
	offsetExact
	offsetFromEnd
	offsetTimestamp
)

func parseOffsetSpec(s string) (offsetSpec, error) {
	bad := usageError{fmt.Errorf("--offset %q: want start, end, N, -N or @UNIX_MS", s)}
	switch {
	case s == "start" || s == "oldest":
		return offsetSpec{kind: offsetStart}, nil
	case s == "end" || s == "newest":
		return offsetSpec{kind: offsetEnd}, nil
	case strings.HasPrefix(s, "@"):
		ms, err := strconv.ParseInt(s[1:], 10, 64)
		if err != nil || ms < 0 {
			return offsetSpec{}, bad
		}
		return offsetSpec{kind: offsetTimestamp, value: ms}, nil
	case strings.HasPrefix(s, "-"):
		n, err := strconv.ParseInt(s[1:], 10, 64)
		if err != nil || n < 0 {
			return offsetSpec{}, bad
		}
		return offsetSpec{kind: offsetFromEnd, value: n}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return offsetSpec{}, bad
	}
	return offsetSpec{kind: offsetExact, value: n}, nil
}

// consumeRange is where one partition's consumption starts, and its high watermark at start.
type consumeRange struct {
	start, end int64
}

// resolveConsumeRanges finds the partitions to consume and resolves the offset spec for each.
func resolveConsumeRanges(ctx context.Context, cl *kgo.Client, topics []string, only []int32, spec offsetSpec) (map[string]map[int32]consumeRange, error) {
	meta, err := requestMetadata(ctx, cl, topics)
	if err != nil {
		return nil, err
	}
	byName := metadataByTopic(meta)
	partitions := topicPartitions{}
	for _, t := range topics {
		mt, ok := byName[t]
		switch {
		case !ok:
			return nil, fmt.Errorf("topic %s: no answer from the broker", t)
		case mt.ErrorCode != 0:
			return nil, fmt.Errorf("topic %s: %s", t, statusText(mt.ErrorCode, nil))
		}
		for _, p := range mt.Partitions {
			if len(only) == 0 || slices.Contains(only, p.Partition) {
				partitions[t] = append(partitions[t], p.Partition)
			}
		}
		for _, p := range only {
			if !slices.Contains(partitions[t], p) {
				return nil, fmt.Errorf("topic %s has no partition %d", t, p)
			}
		}
	}
	starts, err := listOffsets(ctx, cl, partitions, listOffsetsEarliest, readUncommitted)
	if err != nil {
		return nil, err
	}
	ends, err := listOffsets(ctx, cl, partitions, listOffsetsLatest, readUncommitted)
	if err != nil {
		return nil, err
	}
	var atTimestamp map[string]map[int32]partitionOffset
	if spec.kind == offsetTimestamp {
		if atTimestamp, err = listOffsets(ctx, cl, partitions, spec.value, readUncommitted); err != nil {
			return nil, err
		}
	}
	lookup := func(m map[string]map[int32]partitionOffset, t string, p int32, what string) (int64, error) {
		po, ok := m[t][p]
		switch {
		case !ok:
			return 0, fmt.Errorf("%s of %s/%d: no answer from the broker", what, t, p)
		case po.errorCode != 0:
			return 0, fmt.Errorf("%s of %s/%d: %s", what, t, p, statusText(po.errorCode, nil))
		}
		return po.offset, nil
	}
	ranges := make(map[string]map[int32]consumeRange, len(partitions))
	for t, ps := range partitions {
		ranges[t] = make(map[int32]consumeRange, len(ps))
		for _, p := range ps {
			logStart, err := lookup(starts, t, p, "log start offset")
			if err != nil {
				return nil, err
			}
			end, err := lookup(ends, t, p, "high watermark")
			if err != nil {
				return nil, err
			}
			var start int64
			switch spec.kind {
			case offsetStart:
				start = logStart
			case offsetEnd:
				start = end
			case offsetExact:
				start = min(max(spec.value, logStart), end)
			case offsetFromEnd:
				start = max(end-spec.value, logStart)
			case offsetTimestamp:
				if start, err = lookup(atTimestamp, t, p, "offset for timestamp"); err != nil {
					return nil, err
				}
				if start < 0 { // no record at or after the timestamp
					start = end
				}
			}
			ranges[t][p] = consumeRange{start: start, end: end}
		}
	}
	return ranges, nil
}

func (a *app) consume(ctx context.Context, o *clientOptions, topics []string, spec offsetSpec, c *consumeOptions) error {
	admin, err := a.newClient(o)
	if err != nil {
		return err
	}
	stepCtx, cancel := o.stepContext(ctx)
	ranges, err := resolveConsumeRanges(stepCtx, admin, topics, c.partitions, spec)
	cancel()
	admin.Close()
	if err != nil {
		return err
	}

	assignments := make(map[string]map[int32]kgo.Offset, len(ranges))
	remaining := 0 // partitions still below their end, for --until-end
	for t, ps := range ranges {
		assignments[t] = make(map[int32]kgo.Offset, len(ps))
		for p, r := range ps {
			assignments[t][p] = kgo.NewOffset().At(r.start)
			if r.start < r.end {
				remaining++
			}
		}
	}
	if c.untilEnd && remaining == 0 {
		return nil
	}
	// If retention removes the start before the first fetch, start at the new log start.
	cl, err := a.newClient(o, kgo.ConsumePartitions(assignments), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()

	interrupted, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	out := bufio.NewWriter(a.stdout)
	var printed int64
	finished := func() bool {
		return (c.count > 0 && printed >= c.count) || (c.untilEnd && remaining == 0)
	}
	for !finished() {
		fetches := cl.PollFetches(interrupted)
		if interrupted.Err() != nil {
			break
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, kgo.ErrClientClosed) {
				continue // the loop condition sees it
			}
			a.logger.Warn("fetch", "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
		}
		var printErr error
		fetches.EachRecord(func(r *kgo.Record) {
			if finished() || printErr != nil {
				return
			}
			if c.untilEnd {
				end := ranges[r.Topic][r.Partition].end
				if r.Offset >= end {
					return // produced after we started; its partition is already done
				}
				if r.Offset == end-1 {
					remaining--
				}
			}
			printErr = printRecord(out, r, o.format)
			printed++
		})
		if printErr == nil {
			printErr = out.Flush()
		}
		if printErr != nil {
			return printErr
		}
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("stopped after %d records: %w", printed, ctx.Err())
	}
	return nil // finished, or interrupted by a signal
}

// consumedJSON is one consumed record in JSON output.
type consumedJSON struct {
	Topic         string               `json:"topic"`
	Partition     int32                `json:"partition"`
	Offset        int64                `json:"offset"`
	TimestampMs   int64                `json:"timestamp"`
	TimestampType string               `json:"timestamp_type"`
	Key           *string              `json:"key"`
	KeyBase64     []byte               `json:"key_base64,omitempty"`
	Value         *string              `json:"value"`
	ValueBase64   []byte               `json:"value_base64,omitempty"`
	Headers       []consumedJSONHeader `json:"headers"`
}

type consumedJSONHeader struct {
	Key         string  `json:"key"`
	Value       *string `json:"value"`
	ValueBase64 []byte  `json:"value_base64,omitempty"`
}

// jsonBytes splits bytes into JSON's string form, or base64 form if they are not UTF-8; null
// stays null.
func jsonBytes(b []byte) (*string, []byte) {
	switch {
	case b == nil:
		return nil, nil
	case utf8.Valid(b):
		s := string(b)
		return &s, nil
	}
	return nil, b
}

func timestampType(r *kgo.Record) string {
	if r.Attrs.TimestampType() == 1 {
		return "LogAppendTime"
	}
	return "CreateTime"
}

func printRecord(w io.Writer, r *kgo.Record, format string) error {
	if format == formatJSON {
		rj := consumedJSON{
			Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
			TimestampMs: r.Timestamp.UnixMilli(), TimestampType: timestampType(r),
			Headers: make([]consumedJSONHeader, 0, len(r.Headers)),
		}
		rj.Key, rj.KeyBase64 = jsonBytes(r.Key)
		rj.Value, rj.ValueBase64 = jsonBytes(r.Value)
		for _, h := range r.Headers {
			hj := consumedJSONHeader{Key: h.Key}
			hj.Value, hj.ValueBase64 = jsonBytes(h.Value)
			rj.Headers = append(rj.Headers, hj)
		}
		return writeJSON(w, rj)
	}
	headers := "NO_HEADERS"
	if len(r.Headers) > 0 {
		pairs := make([]string, len(r.Headers))
		for i, h := range r.Headers {
			pairs[i] = printable([]byte(h.Key)) + ":" + printable(h.Value)
		}
		headers = strings.Join(pairs, ",")
	}
	_, err := fmt.Fprintf(w, "%s:%d\tTopic:%s\tPartition:%d\tOffset:%d\tHeaders:%s\t%s\t%s\n",
		timestampType(r), r.Timestamp.UnixMilli(), r.Topic, r.Partition, r.Offset, headers, printable(r.Key), printable(r.Value))
	return err
}
