package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (a *app) topicDescribeCommand(o *clientOptions) *cobra.Command {
	var printConfigs, printPartitions, printAll bool
	var kafka kafkaDescribeOptions
	cmd := &cobra.Command{
		Use:   "describe [TOPIC...]",
		Short: "Describe topics: summary, configs, partitions with offsets",
		Long: `Describe topics (Metadata, DescribeConfigs, ListOffsets). Without section flags it
prints every section; --print-configs (-c) and --print-partitions (-p) select sections (the
summary is printed too when there are several topics, to name them).

Output, text, per topic in argument order, separated by a blank line:
  SUMMARY: NAME, ID (base64 topic id), PARTITIONS, REPLICAS, and INTERNAL or ERROR when set;
  CONFIGS: a table KEY, VALUE, SOURCE sorted by key (a null value prints empty);
  PARTITIONS: a table PARTITION, LEADER, EPOCH, REPLICAS, ISR, LOG-START-OFFSET, HIGH-WATERMARK,
  with OFFLINE-REPLICAS, LAST-STABLE-OFFSET (when it differs from the high watermark) and
  LOAD-ERROR columns added only when some partition needs them.
Each section has a title underlined with "=", except when only one section is printed.
JSON: one line, an array of {"name","id","internal","partitions","replicas","error"?,
"configs":[{"key","value","source","read_only","sensitive"}], "partition_list":[{"partition",
"leader","leader_epoch","replicas","isr","offline_replicas","log_start_offset",
"high_watermark","last_stable_offset","error"?}]}, sections present as selected.
Exits 1 if any topic, config or partition could not be described.

--format kafka prints kafka-topics.sh --describe's lines instead, for the named topics or,
with none named, every topic (sorted; --exclude-internal leaves internal ones out): per topic
"Topic: t<TAB>TopicId: id<TAB>PartitionCount: n<TAB>ReplicationFactor: r<TAB>Configs: k=v,..."
(the configs not at their default), then per partition "<TAB>Topic: t<TAB>Partition: p<TAB>
Leader: id|none<TAB>Replicas: 1,2,3<TAB>Isr: 1,2<TAB>Offline: 3" (Offline: the replicas whose
broker is not live or is reported offline), with "<TAB>Adding Replicas: ...<TAB>Removing
Replicas: ..." while the partition is being reassigned. The filters --under-replicated-partitions
(ISR smaller than the replication factor), --under-min-isr-partitions (ISR smaller than
min.insync.replicas, or no leader), --at-min-isr-partitions (ISR equal to it) and
--unavailable-partitions (no leader, or a leader that is not live) print only the matching
partitions' lines and no topic lines; --topics-with-overrides prints only the topic lines of
topics with configs not at their default; they imply --format kafka. A named topic that does
not exist is "Topic 't' does not exist as expected", exit 1.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.checkFormats(formatText, formatJSON, formatKafka); err != nil {
				return err
			}
			if kafka.kafkaOnly() {
				if !cmd.Flags().Changed("format") {
					o.format = formatKafka
				} else if o.format != formatKafka {
					return usageError{fmt.Errorf("the partition filters and --topics-with-overrides print kafka-topics.sh's lines: they need --format kafka, not %q", o.format)}
				}
			}
			if o.format == formatKafka {
				cl, err := a.newClient(o)
				if err != nil {
					return err
				}
				defer cl.Close()
				ctx, cancel := o.stepContext(cmd.Context())
				defer cancel()
				return describeTopicsKafka(ctx, cl, a.logger, cmd.OutOrStdout(), timeoutMillis(o), uniqueArgs(args), kafka)
			}
			if len(args) == 0 {
				return usageError{fmt.Errorf("name at least one topic (or use --format kafka to describe all)")}
			}
			if !printConfigs && !printPartitions {
				printAll = true
			}
			topics := uniqueArgs(args)
			sel := describeSections{
				// With several topics the summary names each one's sections.
				summary:    printAll || len(topics) > 1,
				configs:    printAll || printConfigs,
				partitions: printAll || printPartitions,
			}
			cl, err := a.newClient(o)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := o.stepContext(cmd.Context())
			defer cancel()
			described, err := describeTopics(ctx, cl, topics, sel)
			if err != nil {
				return err
			}
			if o.format == formatJSON {
				err = writeJSON(a.stdout, described.json(sel))
			} else {
				err = described.print(a.stdout, sel)
			}
			if err != nil {
				return err
			}
			return described.failure()
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&printConfigs, "print-configs", "c", false, "print the configs section")
	flags.BoolVarP(&printPartitions, "print-partitions", "p", false, "print the partitions section")
	flags.BoolVarP(&printAll, "print-all", "a", false, "print every section (the default)")
	flags.BoolVar(&kafka.excludeInternal, "exclude-internal", false, "--format kafka without topics: leave internal topics out")
	flags.BoolVar(&kafka.topicsWithOverrides, "topics-with-overrides", false, "only the topic lines of topics with configs not at their default (implies --format kafka)")
	flags.BoolVar(&kafka.filters.underReplicated, "under-replicated-partitions", false, "only partitions whose ISR is smaller than their replication factor (implies --format kafka)")
	flags.BoolVar(&kafka.filters.underMinISR, "under-min-isr-partitions", false, "only partitions whose ISR is smaller than min.insync.replicas, or without a leader (implies --format kafka)")
	flags.BoolVar(&kafka.filters.atMinISR, "at-min-isr-partitions", false, "only partitions whose ISR is as large as min.insync.replicas (implies --format kafka)")
	flags.BoolVar(&kafka.filters.unavailable, "unavailable-partitions", false, "only partitions without a leader or whose leader is not live (implies --format kafka)")
	return cmd
}

type describeSections struct{ summary, configs, partitions bool }

func (s describeSections) count() int {
	n := 0
	for _, on := range []bool{s.summary, s.configs, s.partitions} {
		if on {
			n++
		}
	}
	return n
}

// describedTopics is what describe learnt, per topic in argument order.
type describedTopics struct {
	names    []string
	metadata map[string]*kmsg.MetadataResponseTopic
	configs  map[string]*kmsg.DescribeConfigsResponseResource
	offsets  *topicOffsets
}

// topicOffsets are the partitions' log start offsets, high watermarks and last stable offsets.
type topicOffsets struct {
	start, end, stable map[string]map[int32]partitionOffset
}

// get returns one partition's offset from m, or nil and why not.
func (o *topicOffsets) get(m map[string]map[int32]partitionOffset, t *kmsg.MetadataResponseTopic, partition int32, what string) (*int64, []string) {
	po, ok := m[*t.Topic][partition]
	switch {
	case !ok:
		return nil, []string{what + ": no answer from the broker"}
	case po.errorCode != 0:
		return nil, []string{what + ": " + statusText(po.errorCode, nil)}
	}
	offset := po.offset
	return &offset, nil
}

func describeTopics(ctx context.Context, cl *kgo.Client, names []string, sel describeSections) (*describedTopics, error) {
	meta, err := requestMetadata(ctx, cl, names)
	if err != nil {
		return nil, err
	}
	d := &describedTopics{names: names, metadata: metadataByTopic(meta)}
	var found []string
	partitions := topicPartitions{}
	for _, name := range names {
		if t, ok := d.metadata[name]; ok && t.ErrorCode == 0 {
			found = append(found, name)
			for _, p := range t.Partitions {
				partitions[name] = append(partitions[name], p.Partition)
			}
		}
	}
	if sel.configs && len(found) > 0 {
		resp, err := describeTopicConfigs(ctx, cl, found)
		if err != nil {
			return nil, err
		}
		d.configs = make(map[string]*kmsg.DescribeConfigsResponseResource, len(resp.Resources))
		for i := range resp.Resources {
			r := &resp.Resources[i]
			d.configs[r.ResourceName] = r
		}
	}
	if sel.partitions {
		d.offsets = &topicOffsets{}
		if d.offsets.start, err = listOffsets(ctx, cl, partitions, listOffsetsEarliest, readUncommitted); err != nil {
			return nil, err
		}
		if d.offsets.end, err = listOffsets(ctx, cl, partitions, listOffsetsLatest, readUncommitted); err != nil {
			return nil, err
		}
		if d.offsets.stable, err = listOffsets(ctx, cl, partitions, listOffsetsLatest, readCommitted); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// configJSON is a config in describe's JSON output.
type configJSON struct {
	Key       string  `json:"key"`
	Value     *string `json:"value"`
	Source    string  `json:"source"`
	ReadOnly  bool    `json:"read_only"`
	Sensitive bool    `json:"sensitive"`
}

// topic returns the metadata of a named topic; a topic the broker did not answer for gets a
// stand-in carrying UNKNOWN_SERVER_ERROR.
func (d *describedTopics) topic(name string) *kmsg.MetadataResponseTopic {
	if t, ok := d.metadata[name]; ok {
		return t
	}
	t := kmsg.NewMetadataResponseTopic()
	t.Topic = kmsg.StringPtr(name)
	t.ErrorCode = unknownServerErrorCode
	return &t
}

// configError is why a topic's configs could not be described, or "".
func (d *describedTopics) configError(name string) string {
	r, ok := d.configs[name]
	switch {
	case !ok:
		return "no answer from the broker"
	case r.ErrorCode != 0:
		return statusText(r.ErrorCode, r.ErrorMessage)
	}
	return ""
}

func (d *describedTopics) json(sel describeSections) []topicJSON {
	list := make([]topicJSON, 0, len(d.names))
	for _, name := range d.names {
		t := d.topic(name)
		tj := newTopicJSON(t)
		if t.ErrorCode == 0 && sel.configs {
			if e := d.configError(name); e != "" {
				tj.Error = "configs: " + e
			} else {
				tj.Configs = []configJSON{}
				for _, c := range d.configs[name].Configs {
					tj.Configs = append(tj.Configs, configJSON{Key: c.Name, Value: c.Value, Source: c.Source.String(), ReadOnly: c.ReadOnly, Sensitive: c.IsSensitive})
				}
			}
		}
		if t.ErrorCode == 0 && sel.partitions {
			tj.PartitionList = partitionsJSON(t, d.offsets)
		}
		list = append(list, tj)
	}
	return list
}

func (d *describedTopics) print(w io.Writer, sel describeSections) error {
	titled := sel.count() > 1
	section := func(title string) {
		if titled {
			fmt.Fprintf(w, "%s\n%s\n", title, strings.Repeat("=", len(title)))
		}
	}
	for i, name := range d.names {
		if i > 0 {
			fmt.Fprintln(w)
		}
		t := d.topic(name)
		// A topic that could not be described always gets its summary, to say why.
		if sel.summary || t.ErrorCode != 0 {
			section("SUMMARY")
			tw := newTable(w)
			tw.row("NAME", name)
			if t.ErrorCode != 0 {
				tw.row("ERROR", statusText(t.ErrorCode, nil))
			} else {
				tw.row("ID", newTopicJSON(t).ID)
				tw.row("PARTITIONS", strconv.Itoa(len(t.Partitions)))
				tw.row("REPLICAS", strconv.Itoa(replicationFactor(t)))
				if t.IsInternal {
					tw.row("INTERNAL", "true")
				}
			}
			if err := tw.flush(); err != nil {
				return err
			}
			if t.ErrorCode != 0 {
				continue
			}
			if sel.configs || sel.partitions {
				fmt.Fprintln(w)
			}
		}
		if sel.configs {
			section("CONFIGS")
			if e := d.configError(name); e != "" {
				fmt.Fprintf(w, "ERROR: %s\n", e)
			} else {
				tw := newTable(w, "KEY", "VALUE", "SOURCE")
				for _, c := range d.configs[name].Configs {
					value := ""
					if c.Value != nil {
						value = *c.Value
					}
					tw.row(c.Name, value, c.Source.String())
				}
				if err := tw.flush(); err != nil {
					return err
				}
			}
			if sel.partitions {
				fmt.Fprintln(w)
			}
		}
		if sel.partitions {
			section("PARTITIONS")
			if err := printPartitions(w, t, d.offsets); err != nil {
				return err
			}
		}
	}
	return nil
}

// failure is an error naming the topics that could not be fully described, or nil.
func (d *describedTopics) failure() error {
	var failed []string
	for _, name := range d.names {
		t := d.topic(name)
		bad := t.ErrorCode != 0
		if !bad && d.configs != nil && d.configError(name) != "" {
			bad = true
		}
		if !bad && d.offsets != nil {
			for _, p := range partitionsJSON(t, d.offsets) {
				bad = bad || p.Error != ""
			}
		}
		if bad {
			failed = append(failed, name)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d topics could not be fully described: %s", len(failed), len(d.names), strings.Join(failed, ", "))
}

// describeTopicConfigs asks for the configs of topics (DescribeConfigs) and sorts each
// resource's configs by name.
func describeTopicConfigs(ctx context.Context, cl *kgo.Client, topics []string) (*kmsg.DescribeConfigsResponse, error) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	for _, name := range topics {
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType = kmsg.ConfigResourceTypeTopic
		r.ResourceName = name
		req.Resources = append(req.Resources, r)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("describe configs request: %w", err)
	}
	for i := range resp.Resources {
		r := &resp.Resources[i]
		slices.SortFunc(r.Configs, func(x, y kmsg.DescribeConfigsResponseResourceConfig) int { return strings.Compare(x.Name, y.Name) })
	}
	return resp, nil
}
