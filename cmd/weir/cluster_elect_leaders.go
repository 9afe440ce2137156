package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Election types of ElectLeaders (v1+), as Kafka's ElectionType enum numbers them.
const (
	electionPreferred int8 = 0
	electionUnclean   int8 = 1
)

// clusterElectLeadersCommand is kafka-leader-election.sh.
func (a *app) clusterElectLeadersCommand() *cobra.Command {
	var o clientOptions
	var electionType, topic, jsonFile string
	var partition int32
	var allPartitions bool
	cmd := &cobra.Command{
		Use:   "elect-leaders",
		Short: "Elect partition leaders, as kafka-leader-election.sh does",
		Long: `Ask the controller to elect leaders (ElectLeaders) for --topic and --partition, the
partitions of --path-to-json-file ({"partitions":[{"topic":"t","partition":0}]}), or with
--all-topic-partitions every partition that needs one. --election-type PREFERRED moves
leadership back to the first replica where it is in sync; UNCLEAN elects a replica outside the
ISR for a partition without a leader (data loss is possible). Prints Kafka's lines:
"Successfully completed leader election (PREFERRED) for partitions t-0, t-1",
"Valid replica already elected for partitions ...", and per failed partition
"Error completing leader election (PREFERRED) for partition: t-0: ..."; exits 1 if any failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var typ int8
			switch strings.ToUpper(electionType) {
			case "":
				return usageError{errors.New("Missing required option(s): election-type")}
			case "PREFERRED":
				typ = electionPreferred
			case "UNCLEAN":
				typ = electionUnclean
			default:
				return usageError{fmt.Errorf("--election-type %q: want PREFERRED or UNCLEAN", electionType)}
			}
			flags := cmd.Flags()
			chosen := 0
			for _, name := range []string{"topic", "all-topic-partitions", "path-to-json-file"} {
				if flags.Changed(name) {
					chosen++
				}
			}
			switch {
			case chosen != 1:
				return usageError{errors.New("One and only one of the following options is required: topic, all-topic-partitions, path-to-json-file")}
			case flags.Changed("topic") && !flags.Changed("partition"):
				return usageError{errors.New("Missing required option(s): partition")}
			case !flags.Changed("topic") && flags.Changed("partition"):
				return usageError{errors.New("Option partition is only allowed if topic is used")}
			}
			var parts []topicPartition // nil: all partitions
			switch {
			case flags.Changed("topic"):
				parts = []topicPartition{{topic, partition}}
			case flags.Changed("path-to-json-file"):
				data, err := readFileFlag("path-to-json-file", jsonFile)
				if err != nil {
					return err
				}
				if parts, err = parseElectionJSON(data); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			return a.withClient(cmd.Context(), &o, func(ctx context.Context, cl *kgo.Client) error {
				return electLeaders(ctx, cl, out, timeoutMillis(&o), typ, parts)
			})
		},
	}
	o.addServerFlags(cmd)
	flags := cmd.Flags()
	flags.StringVar(&electionType, "election-type", "", "PREFERRED or UNCLEAN (required)")
	flags.StringVar(&topic, "topic", "", "the topic of the partition to elect a leader for (with --partition)")
	flags.Int32Var(&partition, "partition", 0, "the partition to elect a leader for (with --topic)")
	flags.StringVar(&jsonFile, "path-to-json-file", "", `file of the partitions: {"partitions":[{"topic":"t","partition":0}]}`)
	flags.BoolVar(&allPartitions, "all-topic-partitions", false, "every partition eligible for the election type")
	return cmd
}

func electionTypeName(typ int8) string {
	if typ == electionUnclean {
		return "UNCLEAN"
	}
	return "PREFERRED"
}

// electLeaders sends ElectLeaders for the partitions (all if nil) and prints the outcome as
// kafka-leader-election.sh does, partitions sorted.
func electLeaders(ctx context.Context, cl *kgo.Client, out io.Writer, timeoutMs int32, typ int8, parts []topicPartition) error {
	req := kmsg.NewPtrElectLeadersRequest()
	req.ElectionType = typ
	req.TimeoutMillis = timeoutMs
	if parts != nil {
		req.Topics = []kmsg.ElectLeadersRequestTopic{}
		for _, topic := range partitionTopics(parts) {
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic, rt.Partitions = topic, topicPartitionIDs(parts, topic)
			req.Topics = append(req.Topics, rt)
		}
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			fmt.Fprintln(out, "Timeout waiting for election results")
		}
		return fmt.Errorf("ElectLeaders: %w", err)
	}
	switch {
	case resp.ErrorCode == kerr.ClusterAuthorizationFailed.Code:
		fmt.Fprintln(out, "Not authorized to perform leader election")
		return errors.New("Not authorized to perform leader election")
	case resp.ErrorCode != 0:
		return fmt.Errorf("ElectLeaders: %s", statusText(resp.ErrorCode, nil))
	}
	var succeeded, noop []topicPartition
	failed := map[topicPartition]string{}
	answered := map[topicPartition]bool{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			tp := topicPartition{t.Topic, p.Partition}
			answered[tp] = true
			switch p.ErrorCode {
			case 0:
				succeeded = append(succeeded, tp)
			case kerr.ElectionNotNeeded.Code:
				noop = append(noop, tp)
			default:
				failed[tp] = statusText(p.ErrorCode, p.ErrorMessage)
			}
		}
	}
	for _, tp := range parts {
		if !answered[tp] {
			failed[tp] = "no answer from the controller"
		}
	}
	name := electionTypeName(typ)
	if len(succeeded) > 0 {
		fmt.Fprintf(out, "Successfully completed leader election (%s) for partitions %s\n", name, joinTopicPartitions(succeeded, ", "))
	}
	if len(noop) > 0 {
		fmt.Fprintf(out, "Valid replica already elected for partitions %s\n", joinTopicPartitions(noop, ", "))
	}
	if len(failed) == 0 {
		return nil
	}
	keys := make([]topicPartition, 0, len(failed))
	for tp := range failed {
		keys = append(keys, tp)
	}
	slices.SortFunc(keys, compareTopicPartitions)
	for _, tp := range keys {
		fmt.Fprintf(out, "Error completing leader election (%s) for partition: %s: %s\n", name, tp, failed[tp])
	}
	return fmt.Errorf("%d replica(s) could not be elected", len(failed))
}
