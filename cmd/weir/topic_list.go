package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/uuid"
)

func (a *app) topicListCommand(o *clientOptions) *cobra.Command {
	var detailed, internal bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List topics",
		Long: `List the cluster's topics (Metadata), sorted by name; internal topics only with
--internal.

Output, text: a table with columns NAME, PARTITIONS, REPLICAS (and ERROR if a topic has one).
With --detailed, per topic a line "NAME, N partitions, R replicas" ("NAME (internal), ..." for
an internal topic) and an indented table PARTITION, LEADER, EPOCH, REPLICAS, ISR (and
OFFLINE-REPLICAS and LOAD-ERROR when any partition has them), topics separated by a blank line.
JSON: one line, an array of {"name","id","internal","partitions","replicas"} (and "error"),
with --detailed also "partition_list": [{"partition","leader","leader_epoch","replicas","isr",
"offline_replicas"}].`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			cl, err := a.newClient(o)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := o.stepContext(cmd.Context())
			defer cancel()
			meta, err := requestMetadata(ctx, cl, nil)
			if err != nil {
				return err
			}
			var topics []*kmsg.MetadataResponseTopic
			for i := range meta.Topics {
				if t := &meta.Topics[i]; t.Topic != nil && (internal || !t.IsInternal) {
					topics = append(topics, t)
				}
			}
			slices.SortFunc(topics, func(x, y *kmsg.MetadataResponseTopic) int { return strings.Compare(*x.Topic, *y.Topic) })
			if o.format == formatJSON {
				list := make([]topicJSON, 0, len(topics))
				for _, t := range topics {
					tj := newTopicJSON(t)
					if detailed {
						tj.PartitionList = partitionsJSON(t, nil)
					}
					list = append(list, tj)
				}
				return writeJSON(a.stdout, list)
			}
			if detailed {
				return printTopicsDetailed(a.stdout, topics)
			}
			return printTopicsTable(a.stdout, topics)
		},
	}
	cmd.Flags().BoolVarP(&detailed, "detailed", "d", false, "print each topic's partitions")
	cmd.Flags().BoolVarP(&internal, "internal", "i", false, "include internal topics")
	return cmd
}

func printTopicsTable(w io.Writer, topics []*kmsg.MetadataResponseTopic) error {
	anyError := slices.ContainsFunc(topics, func(t *kmsg.MetadataResponseTopic) bool { return t.ErrorCode != 0 })
	headers := []string{"NAME", "PARTITIONS", "REPLICAS"}
	if anyError {
		headers = append(headers, "ERROR")
	}
	tw := newTable(w, headers...)
	for _, t := range topics {
		row := []string{*t.Topic, strconv.Itoa(len(t.Partitions)), strconv.Itoa(replicationFactor(t))}
		if anyError {
			row = append(row, statusText(t.ErrorCode, nil))
		}
		tw.row(row...)
	}
	return tw.flush()
}

func printTopicsDetailed(w io.Writer, topics []*kmsg.MetadataResponseTopic) error {
	for i, t := range topics {
		if i > 0 {
			fmt.Fprintln(w)
		}
		name := *t.Topic
		if t.IsInternal {
			name += " (internal)"
		}
		fmt.Fprintf(w, "%s, %d partitions, %d replicas\n", name, len(t.Partitions), replicationFactor(t))
		if t.ErrorCode != 0 {
			fmt.Fprintf(w, "      ERROR: %s\n", statusText(t.ErrorCode, nil))
			continue
		}
		if err := printPartitions(&indentWriter{w: w, indent: "      "}, t, nil); err != nil {
			return err
		}
	}
	return nil
}

// replicationFactor is the most replicas any partition of the topic has.
func replicationFactor(t *kmsg.MetadataResponseTopic) int {
	n := 0
	for _, p := range t.Partitions {
		n = max(n, len(p.Replicas))
	}
	return n
}

// topicJSON is a topic in list and describe's JSON output.
type topicJSON struct {
	Name          string          `json:"name"`
	ID            string          `json:"id"`
	Internal      bool            `json:"internal"`
	Partitions    int             `json:"partitions"`
	Replicas      int             `json:"replicas"`
	Error         string          `json:"error,omitempty"`
	Configs       []configJSON    `json:"configs,omitempty"`
	PartitionList []partitionJSON `json:"partition_list,omitempty"`
}

// partitionJSON is a partition in list and describe's JSON output; the offsets are present
// only in describe's.
type partitionJSON struct {
	Partition        int32   `json:"partition"`
	Leader           int32   `json:"leader"`
	LeaderEpoch      int32   `json:"leader_epoch"`
	Replicas         []int32 `json:"replicas"`
	ISR              []int32 `json:"isr"`
	OfflineReplicas  []int32 `json:"offline_replicas"`
	LogStartOffset   *int64  `json:"log_start_offset,omitempty"`
	HighWatermark    *int64  `json:"high_watermark,omitempty"`
	LastStableOffset *int64  `json:"last_stable_offset,omitempty"`
	Error            string  `json:"error,omitempty"`
}

func newTopicJSON(t *kmsg.MetadataResponseTopic) topicJSON {
	tj := topicJSON{
		Name:       *t.Topic,
		ID:         uuid.UUID(t.TopicID).String(),
		Internal:   t.IsInternal,
		Partitions: len(t.Partitions),
		Replicas:   replicationFactor(t),
	}
	if t.ErrorCode != 0 {
		tj.Error = statusText(t.ErrorCode, nil)
	}
	return tj
}

// partitionsJSON lists the topic's partitions, with their offsets if offsets is not nil.
func partitionsJSON(t *kmsg.MetadataResponseTopic, offsets *topicOffsets) []partitionJSON {
	list := make([]partitionJSON, 0, len(t.Partitions))
	for _, p := range t.Partitions {
		pj := partitionJSON{
			Partition:       p.Partition,
			Leader:          p.Leader,
			LeaderEpoch:     p.LeaderEpoch,
			Replicas:        nonNil(p.Replicas),
			ISR:             nonNil(p.ISR),
			OfflineReplicas: nonNil(p.OfflineReplicas),
		}
		var errs []string
		if p.ErrorCode != 0 {
			errs = append(errs, statusText(p.ErrorCode, nil))
		}
		if offsets != nil {
			var offsetErrs []string
			pj.LogStartOffset, offsetErrs = offsets.get(offsets.start, t, p.Partition, "log start offset")
			errs = append(errs, offsetErrs...)
			pj.HighWatermark, offsetErrs = offsets.get(offsets.end, t, p.Partition, "high watermark")
			errs = append(errs, offsetErrs...)
			pj.LastStableOffset, offsetErrs = offsets.get(offsets.stable, t, p.Partition, "last stable offset")
			errs = append(errs, offsetErrs...)
		}
		pj.Error = strings.Join(errs, "; ")
		list = append(list, pj)
	}
	return list
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// printPartitions prints the topic's partitions as a table, with their offsets if offsets is
// not nil. Columns that would be empty for every partition (offline replicas, errors, a last
// stable offset equal to the high watermark) are left out, as rpk does.
func printPartitions(w io.Writer, t *kmsg.MetadataResponseTopic, offsets *topicOffsets) error {
	parts := partitionsJSON(t, offsets)
	var anyOffline, anyError, anyUnstable bool
	for _, p := range parts {
		anyOffline = anyOffline || len(p.OfflineReplicas) > 0
		anyError = anyError || p.Error != ""
		anyUnstable = anyUnstable || (p.LastStableOffset != nil && p.HighWatermark != nil && *p.LastStableOffset != *p.HighWatermark)
	}
	headers := []string{"PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR"}
	if anyOffline {
		headers = append(headers, "OFFLINE-REPLICAS")
	}
	if offsets != nil {
		headers = append(headers, "LOG-START-OFFSET", "HIGH-WATERMARK")
		if anyUnstable {
			headers = append(headers, "LAST-STABLE-OFFSET")
		}
	}
	if anyError {
		headers = append(headers, "LOAD-ERROR")
	}
	tw := newTable(w, headers...)
	for _, p := range parts {
		row := []string{
			strconv.Itoa(int(p.Partition)), strconv.Itoa(int(p.Leader)), strconv.Itoa(int(p.LeaderEpoch)),
			brokerList(p.Replicas), brokerList(p.ISR),
		}
		if anyOffline {
			row = append(row, brokerList(p.OfflineReplicas))
		}
		if offsets != nil {
			row = append(row, offsetCell(p.LogStartOffset), offsetCell(p.HighWatermark))
			if anyUnstable {
				row = append(row, offsetCell(p.LastStableOffset))
			}
		}
		if anyError {
			row = append(row, p.Error)
		}
		tw.row(row...)
	}
	return tw.flush()
}

// brokerList prints node ids as rpk does: [1 2 3].
func brokerList(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func offsetCell(offset *int64) string {
	if offset == nil {
		return "-"
	}
	return strconv.FormatInt(*offset, 10)
}

// indentWriter prefixes every line written through it.
type indentWriter struct {
	w       io.Writer
	indent  string
	midLine bool
	buf     []byte
}

func (iw *indentWriter) Write(p []byte) (int, error) {
	buf := iw.buf[:0]
	for _, b := range p {
		if !iw.midLine {
			buf = append(buf, iw.indent...)
			iw.midLine = true
		}
		buf = append(buf, b)
		if b == '\n' {
			iw.midLine = false
		}
	}
	iw.buf = buf
	if _, err := iw.w.Write(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}
