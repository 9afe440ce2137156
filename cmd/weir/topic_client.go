package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Output formats of the client commands (--format).
const (
	formatText = "text"
	formatJSON = "json"
)

// clientOptions are the flags shared by the commands that talk to brokers (topic, bench).
type clientOptions struct {
	brokers string
	format  string
	timeout time.Duration
}

// addClientFlags registers --brokers, --format and --timeout on a noun, for all its verbs.
func (o *clientOptions) addClientFlags(cmd *cobra.Command) {
	flags := cmd.PersistentFlags()
	flags.StringVar(&o.brokers, "brokers", "127.0.0.1:9092", "comma-separated seed brokers, host:port")
	flags.StringVar(&o.format, "format", formatText, "output format: text or json")
	flags.DurationVar(&o.timeout, "timeout", 30*time.Second, "deadline of each admin step (metadata, offsets, topic changes) and of each produced record's delivery; 0 waits forever")
}

// addServerFlags registers, for the verbs that mirror Kafka's admin tools (weir cluster
// reassign, weir cluster elect-leaders), --brokers and its Kafka spelling --bootstrap-server,
// and --timeout; their output is Kafka's text, so they have no --format.
func (o *clientOptions) addServerFlags(cmd *cobra.Command) {
	flags := cmd.PersistentFlags()
	flags.StringVar(&o.brokers, "brokers", "127.0.0.1:9092", "comma-separated seed brokers, host:port")
	flags.StringVar(&o.brokers, "bootstrap-server", "127.0.0.1:9092", "the same as --brokers, as Kafka's tools spell it")
	flags.DurationVar(&o.timeout, "timeout", 30*time.Second, "deadline of the whole command; 0 waits forever")
	o.format = formatText
}

// seeds returns the seed brokers, or a usage error if --brokers lists none.
func (o *clientOptions) seeds() ([]string, error) {
	var seeds []string
	for _, s := range strings.Split(o.brokers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 {
		return nil, usageError{fmt.Errorf("--brokers %q: want host:port[,host:port...]", o.brokers)}
	}
	return seeds, nil
}

// check validates the shared flags; run it first in every RunE so that a bad flag is a usage
// error before any connection is made.
func (o *clientOptions) check() error {
	return o.checkFormats(formatText, formatJSON)
}

// checkFormats is check for a verb whose --format takes the given values.
func (o *clientOptions) checkFormats(formats ...string) error {
	if !slices.Contains(formats, o.format) {
		return usageError{fmt.Errorf("--format %q: want %s", o.format, strings.Join(formats, " or "))}
	}
	if o.timeout < 0 {
		return usageError{fmt.Errorf("--timeout %v: must not be negative", o.timeout)}
	}
	_, err := o.seeds()
	return err
}

// newClient connects a franz-go client to the seed brokers, logging through the app's logger.
// The caller closes it.
func (a *app) newClient(o *clientOptions, opts ...kgo.Opt) (*kgo.Client, error) {
	seeds, err := o.seeds()
	if err != nil {
		return nil, err
	}
	all := append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("weir"),
		kgo.WithLogger(kgoLogger{a.logger}),
		// A topic the broker just auto-created answers LEADER_NOT_AVAILABLE until it is durable
		// in the metadata log; a short-lived CLI should ask again soon, not after kgo's 5 s.
		kgo.MetadataMinAge(250 * time.Millisecond),
	}, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	return cl, nil
}

// stepContext bounds one admin step by --timeout.
func (o *clientOptions) stepContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if o.timeout == 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, o.timeout)
}

// adminRequest sends one request on a new client, bounded by --timeout, and returns its
// response as the type the request answers with.
func adminRequest[Resp kmsg.Response](ctx context.Context, a *app, o *clientOptions, req kmsg.Request) (Resp, error) {
	var zero Resp
	cl, err := a.newClient(o)
	if err != nil {
		return zero, err
	}
	defer cl.Close()
	ctx, cancel := o.stepContext(ctx)
	defer cancel()
	resp, err := cl.Request(ctx, req)
	if err != nil {
		return zero, fmt.Errorf("%s request: %w", kmsg.NameForKey(req.Key()), err)
	}
	typed, ok := resp.(Resp)
	if !ok {
		return zero, fmt.Errorf("%s request: unexpected response %T", kmsg.NameForKey(req.Key()), resp)
	}
	return typed, nil
}

// kgoLogger sends franz-go's logs to slog. franz-go's info level narrates every connection and
// metadata refresh, so it goes to debug; its warnings and errors stay what they are.
type kgoLogger struct{ logger *slog.Logger }

func (l kgoLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case l.logger.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelDebug
	case l.logger.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	case l.logger.Enabled(ctx, slog.LevelError):
		return kgo.LogLevelError
	}
	return kgo.LogLevelNone
}

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	slogLevel := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		slogLevel = slog.LevelError
	case kgo.LogLevelWarn:
		slogLevel = slog.LevelWarn
	}
	l.logger.Log(context.Background(), slogLevel, "kafka client: "+msg, keyvals...)
}

// topicStatus is one topic's outcome of an admin change, printed as rpk does: TOPIC, STATUS.
type topicStatus struct {
	Topic     string `json:"topic"`
	Status    string `json:"status"`     // "OK" or the error
	ErrorCode int16  `json:"error_code"` // Kafka's error code; 0 is success
}

// newTopicStatus builds a topic's status from a response's error code and optional message.
func newTopicStatus(topic string, errorCode int16, message *string) topicStatus {
	return topicStatus{Topic: topic, Status: statusText(errorCode, message), ErrorCode: errorCode}
}

// statusText is "OK", or the error's name with the broker's message, or else Kafka's description.
func statusText(errorCode int16, message *string) string {
	err := kerr.ErrorForCode(errorCode)
	if err == nil {
		return "OK"
	}
	if message != nil && *message != "" {
		if ke, ok := err.(*kerr.Error); ok {
			return ke.Message + ": " + *message
		}
	}
	return err.Error()
}

// printStatuses prints the statuses in --format and returns an error if any topic failed,
// so that the exit code says so.
func printStatuses(w io.Writer, format string, statuses []topicStatus) error {
	if format == formatJSON {
		if err := writeJSON(w, statuses); err != nil {
			return err
		}
	} else {
		tw := newTable(w, "TOPIC", "STATUS")
		for _, s := range statuses {
			tw.row(s.Topic, s.Status)
		}
		if err := tw.flush(); err != nil {
			return err
		}
	}
	return failedTopics(statuses)
}

// failedTopics is an error naming the failed topics, or nil.
func failedTopics(statuses []topicStatus) error {
	var failed []string
	for _, s := range statuses {
		if s.ErrorCode != 0 {
			failed = append(failed, s.Topic)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d topics failed: %s", len(failed), len(statuses), strings.Join(failed, ", "))
}

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// table prints aligned columns as rpk does: upper-case headers, two spaces between columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	if len(headers) > 0 {
		t.row(headers...)
	}
	return t
}

func (t *table) row(cells ...string) {
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// uniqueArgs returns the arguments without repeats, in their first order: Kafka refuses a
// request naming a topic twice.
func uniqueArgs(args []string) []string {
	seen := make(map[string]bool, len(args))
	var unique []string
	for _, a := range args {
		if !seen[a] {
			seen[a] = true
			unique = append(unique, a)
		}
	}
	return unique
}

// splitKeyValue splits "key=value" at the first '='; flag names the flag for the usage error.
func splitKeyValue(flag, kv string) (string, string, error) {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		return "", "", usageError{fmt.Errorf("%s %q: want key=value", flag, kv)}
	}
	return k, v, nil
}

// nameUsageErrors makes the usage errors that the verbs' RunE find themselves name the
// command, as cobra's flag errors already do ("weir topic create: --partitions 0: ...").
func nameUsageErrors(noun *cobra.Command) {
	for _, verb := range noun.Commands() {
		runE := verb.RunE
		if runE == nil {
			continue
		}
		verb.RunE = func(cmd *cobra.Command, args []string) error {
			err := runE(cmd, args)
			var usage usageError
			if errors.As(err, &usage) {
				return usageError{commandError{cmd.CommandPath(), usage.err}}
			}
			return err
		}
	}
}

// timeoutMillis is the broker-side timeout of an admin request: --timeout, or Kafka's default
// of 60 s when --timeout is 0.
func timeoutMillis(o *clientOptions) int32 {
	if o.timeout <= 0 {
		return 60_000
	}
	return int32(min(o.timeout.Milliseconds(), math.MaxInt32))
}

// statusesInOrder builds the statuses of topics in order from a lookup into a response; a
// topic the broker did not answer for is an error.
func statusesInOrder(topics []string, lookup func(topic string) (topicStatus, bool)) []topicStatus {
	statuses := make([]topicStatus, 0, len(topics))
	for _, t := range topics {
		s, ok := lookup(t)
		if !ok {
			s = topicStatus{Topic: t, Status: "no answer from the broker for this topic", ErrorCode: unknownServerErrorCode}
		}
		statuses = append(statuses, s)
	}
	return statuses
}

// unknownServerErrorCode is Kafka's UNKNOWN_SERVER_ERROR, used when a broker's answer is missing
// a topic it was asked about.
const unknownServerErrorCode = -1
