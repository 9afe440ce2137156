package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clusterReassignCommand is kafka-reassign-partitions.sh as a noun with a verb per action.
func (a *app) clusterReassignCommand() *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "reassign",
		Short: "Move partitions' replicas between brokers, as kafka-reassign-partitions.sh does",
		Long: `Move partitions' replicas between brokers, as kafka-reassign-partitions.sh does: generate
proposes an assignment, execute starts it (AlterPartitionReassignments), verify reports its
progress and removes the replication throttles once it is done, cancel stops it, list shows the
reassignments in progress. The files are Kafka's: a reassignment file is
{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2,3],"log_dirs":["any","any","any"]}]},
a topics-to-move file is {"version":1,"topics":[{"topic":"t"}]}. Output is Kafka's text.`,
		Args: cobra.ArbitraryArgs,
		RunE: requireSubcommand,
	}
	o.addServerFlags(cmd)
	cmd.AddCommand(
		a.reassignGenerateCommand(&o),
		a.reassignExecuteCommand(&o),
		a.reassignVerifyCommand(&o),
		a.reassignCancelCommand(&o),
		a.reassignListCommand(&o),
	)
	nameUsageErrors(cmd)
	return cmd
}

// withClient runs fn with a client on the seed brokers and a context bounded by --timeout.
func (a *app) withClient(ctx context.Context, o *clientOptions, fn func(ctx context.Context, cl *kgo.Client) error) error {
	if err := o.check(); err != nil {
		return err
	}
	cl, err := a.newClient(o)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := o.stepContext(ctx)
	defer cancel()
	return fn(ctx, cl)
}

// readReassignmentFile reads and parses --reassignment-json-file.
func readReassignmentFile(path string) ([]partitionAssignment, error) {
	data, err := readFileFlag("reassignment-json-file", path)
	if err != nil {
		return nil, err
	}
	return parseReassignmentJSON(data)
}

// readFileFlag reads the file a flag names, or says which flag is missing.
func readFileFlag(flag, path string) ([]byte, error) {
	if path == "" {
		return nil, usageError{fmt.Errorf("--%s is required", flag)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	return data, nil
}

func (a *app) reassignGenerateCommand(o *clientOptions) *cobra.Command {
	var topicsFile, brokerList string
	var disableRackAware bool
	var seed uint64
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Propose a reassignment of topics onto a list of brokers",
		Long: `Propose a reassignment of every partition of the topics in --topics-to-move-json-file onto
the brokers of --broker-list, with each topic's replication factor, placed as Kafka places
replicas: round-robin from a random start, rack-aware when the brokers have racks (all or none
must; --disable-rack-aware ignores them). Prints the current assignment (keep it for a
rollback) and the proposal, each a reassignment file on one line. Changes nothing.
--seed makes the placement reproducible.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readFileFlag("topics-to-move-json-file", topicsFile)
			if err != nil {
				return err
			}
			if brokerList == "" {
				return usageError{errors.New("--broker-list is required")}
			}
			var brokerIDs []int32
			for _, s := range strings.Split(brokerList, ",") {
				id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
				if err != nil {
					return usageError{fmt.Errorf("--broker-list %q: want broker ids separated by commas", brokerList)}
				}
				brokerIDs = append(brokerIDs, int32(id))
			}
			if dups := duplicates(brokerIDs); len(dups) > 0 {
				return fmt.Errorf("Broker list contains duplicate entries: %s", javaList(dups))
			}
			topics, err := parseTopicsToMoveJSON(data)
			if err != nil {
				return err
			}
			if dups := duplicates(topics); len(dups) > 0 {
				return fmt.Errorf("List of topics to reassign contains duplicate entries: %s", javaList(dups))
			}
			if !cmd.Flags().Changed("seed") {
				var b [8]byte
				rand.Read(b[:])
				seed = binary.LittleEndian.Uint64(b[:])
			}
			rng := mathrand.New(mathrand.NewPCG(seed, seed))
			return a.withClient(cmd.Context(), o, func(ctx context.Context, cl *kgo.Client) error {
				current, err := topicAssignments(ctx, cl, topics)
				if err != nil {
					return err
				}
				brokers, err := placementBrokers(ctx, cl, brokerIDs, !disableRackAware)
				if err != nil {
					return err
				}
				proposed, err := proposeAssignment(current, brokers, rng)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Current partition replica assignment\n%s\n\nProposed partition reassignment configuration\n%s\n",
					formatReassignmentJSON(current), formatReassignmentJSON(proposed))
				return nil
			})
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&topicsFile, "topics-to-move-json-file", "", `file of the topics to move: {"version":1,"topics":[{"topic":"t"}]} (required)`)
	flags.StringVar(&brokerList, "broker-list", "", "comma-separated ids of the brokers to place replicas on, 1,2,3 (required)")
	flags.BoolVar(&disableRackAware, "disable-rack-aware", false, "place replicas without regard to the brokers' racks")
	flags.Uint64Var(&seed, "seed", 0, "seed of the random placement start; unset, a random one")
	return cmd
}

// proposeAssignment places each topic's partitions on the brokers with the topic's replication
// factor (its partition 0's replica count). Topics draw from rng in name order.
func proposeAssignment(current map[topicPartition][]int32, brokers []placementBroker, rng *mathrand.Rand) (map[topicPartition][]int32, error) {
	partitions := map[string]int{}
	replicationFactor := map[string]int{}
	for tp, replicas := range current {
		partitions[tp.topic]++
		if tp.partition == 0 {
			replicationFactor[tp.topic] = len(replicas)
		}
	}
	topics := make([]string, 0, len(partitions))
	for topic := range partitions {
		topics = append(topics, topic)
	}
	slices.Sort(topics)
	proposed := make(map[topicPartition][]int32, len(current))
	for _, topic := range topics {
		assignment, err := assignReplicasToBrokers(brokers, partitions[topic], replicationFactor[topic], rng)
		if err != nil {
			return nil, err
		}
		for p, replicas := range assignment {
			proposed[topicPartition{topic, int32(p)}] = replicas
		}
	}
	return proposed, nil
}

// placementBrokers returns the live brokers among ids, sorted by id, with their racks if
// rackAware; Kafka refuses a rack-aware placement over brokers of which only some have racks.
// Ids that are not live brokers are left out, as Kafka does.
func placementBrokers(ctx context.Context, cl *kgo.Client, ids []int32, rackAware bool) ([]placementBroker, error) {
	live, err := describeBrokers(ctx, cl)
	if err != nil {
		return nil, err
	}
	var brokers []placementBroker
	rackless := 0
	for _, b := range live {
		if !slices.Contains(ids, b.NodeID) {
			continue
		}
		pb := placementBroker{id: b.NodeID}
		if rackAware && b.Rack != nil {
			pb.rack = b.Rack
		} else {
			rackless++
		}
		brokers = append(brokers, pb)
	}
	if rackAware && rackless != 0 && rackless != len(brokers) {
		return nil, errors.New("Not all brokers have rack information. Add --disable-rack-aware in command line to make replica assignment without rack information.")
	}
	return brokers, nil
}

// describeBrokers returns the cluster's live brokers (DescribeCluster), sorted by id.
func describeBrokers(ctx context.Context, cl *kgo.Client) ([]kmsg.DescribeClusterResponseBroker, error) {
	resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("DescribeCluster: %w", err)
	}
	if resp.ErrorCode != 0 {
		return nil, fmt.Errorf("DescribeCluster: %s", statusText(resp.ErrorCode, resp.ErrorMessage))
	}
	slices.SortFunc(resp.Brokers, func(x, y kmsg.DescribeClusterResponseBroker) int { return cmp.Compare(x.NodeID, y.NodeID) })
	return resp.Brokers, nil
}

// topicMetadata returns the topics' metadata; a topic that does not exist is Kafka's
// "Topic t not found." unless missingOK, when it is left out.
func topicMetadata(ctx context.Context, cl *kgo.Client, topics []string, missingOK bool) (map[string]*kmsg.MetadataResponseTopic, error) {
	found := map[string]*kmsg.MetadataResponseTopic{}
	if len(topics) == 0 {
		return found, nil
	}
	meta, err := requestMetadata(ctx, cl, topics)
	if err != nil {
		return nil, err
	}
	byName := metadataByTopic(meta)
	for _, topic := range topics {
		t, ok := byName[topic]
		switch {
		case !ok || t.ErrorCode == kerr.UnknownTopicOrPartition.Code:
			if !missingOK {
				return nil, fmt.Errorf("Topic %s not found.", topic)
			}
		case t.ErrorCode != 0:
			return nil, fmt.Errorf("describe topic %s: %s", topic, statusText(t.ErrorCode, nil))
		default:
			found[topic] = t
		}
	}
	return found, nil
}

// topicAssignments returns every partition's replicas of the topics.
func topicAssignments(ctx context.Context, cl *kgo.Client, topics []string) (map[topicPartition][]int32, error) {
	meta, err := topicMetadata(ctx, cl, uniqueArgs(topics), false)
	if err != nil {
		return nil, err
	}
	assignments := map[topicPartition][]int32{}
	for name, t := range meta {
		for _, p := range t.Partitions {
			assignments[topicPartition{name, p.Partition}] = p.Replicas
		}
	}
	return assignments, nil
}

// partitionTopics are the distinct topics of the partitions, sorted.
func partitionTopics(parts []topicPartition) []string {
	var topics []string
	for _, tp := range parts {
		topics = append(topics, tp.topic)
	}
	slices.Sort(topics)
	return slices.Compact(topics)
}

// topicPartitionIDs is the partition numbers of topic among parts, in their order.
func topicPartitionIDs(parts []topicPartition, topic string) []int32 {
	var ids []int32
	for _, tp := range parts {
		if tp.topic == topic {
			ids = append(ids, tp.partition)
		}
	}
	return ids
}

// listReassignments returns the reassignments in progress (ListPartitionReassignments) of the
// partitions, or of all partitions if parts is nil.
func listReassignments(ctx context.Context, cl *kgo.Client, timeoutMs int32, parts []topicPartition) (map[topicPartition]kmsg.ListPartitionReassignmentsResponseTopicPartition, error) {
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.TimeoutMillis = timeoutMs
	if parts != nil {
		req.Topics = []kmsg.ListPartitionReassignmentsRequestTopic{}
		for _, topic := range partitionTopics(parts) {
			rt := kmsg.NewListPartitionReassignmentsRequestTopic()
			rt.Topic, rt.Partitions = topic, topicPartitionIDs(parts, topic)
			req.Topics = append(req.Topics, rt)
		}
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("ListPartitionReassignments: %w", err)
	}
	if resp.ErrorCode != 0 {
		return nil, fmt.Errorf("ListPartitionReassignments: %s", statusText(resp.ErrorCode, resp.ErrorMessage))
	}
	ongoing := map[topicPartition]kmsg.ListPartitionReassignmentsResponseTopicPartition{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			ongoing[topicPartition{t.Topic, p.Partition}] = p
		}
	}
	return ongoing, nil
}

// alterReassignments sends AlterPartitionReassignments: each partition to its replicas, or
// cancelled when its replicas are nil. It returns per partition the error the controller
// answered, an answer missing being an error too.
func alterReassignments(ctx context.Context, cl *kgo.Client, timeoutMs int32, targets map[topicPartition][]int32) (map[topicPartition]string, error) {
	parts := make([]topicPartition, 0, len(targets))
	for tp := range targets {
		parts = append(parts, tp)
	}
	slices.SortFunc(parts, compareTopicPartitions)
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.TimeoutMillis = timeoutMs
	for _, topic := range partitionTopics(parts) {
		rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
		rt.Topic = topic
		for _, tp := range parts {
			if tp.topic == topic {
				rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
				rp.Partition = tp.partition
				rp.Replicas = targets[tp]
				rt.Partitions = append(rt.Partitions, rp)
			}
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("AlterPartitionReassignments: %w", err)
	}
	failed := map[topicPartition]string{}
	if resp.ErrorCode != 0 {
		for _, tp := range parts {
			failed[tp] = statusText(resp.ErrorCode, resp.ErrorMessage)
		}
		return failed, nil
	}
	answered := map[topicPartition]bool{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			tp := topicPartition{t.Topic, p.Partition}
			answered[tp] = true
			if p.ErrorCode != 0 {
				failed[tp] = statusText(p.ErrorCode, p.ErrorMessage)
			}
		}
	}
	for _, tp := range parts {
		if !answered[tp] {
			failed[tp] = "no answer from the controller"
		}
	}
	return failed, nil
}

// partitionErrorLines are "t-0: error" lines sorted by partition.
func partitionErrorLines(failed map[topicPartition]string) string {
	parts := make([]topicPartition, 0, len(failed))
	for tp := range failed {
		parts = append(parts, tp)
	}
	slices.SortFunc(parts, compareTopicPartitions)
	lines := make([]string, len(parts))
	for i, tp := range parts {
		lines[i] = tp.String() + ": " + failed[tp]
	}
	return strings.Join(lines, "\n")
}

// cannotExecuteMessage is Kafka's refusal to start a reassignment while another is running.
const cannotExecuteMessage = "Cannot execute because there is an existing partition assignment.  Use --additional to override this and " +
	"create a new partition assignment in addition to the existing one. The --additional flag can also be used to change " +
	"the throttle by resubmitting the current reassignment."

func (a *app) reassignExecuteCommand(o *clientOptions) *cobra.Command {
	var file string
	var additional bool
	var throttle, logDirThrottle int64
	cmd := &cobra.Command{
		Use:   "execute",
		Short: "Start the reassignment of a reassignment file",
		Long: `Start the reassignment in --reassignment-json-file (AlterPartitionReassignments). Prints the
current assignment of those partitions first: save it to roll back. Refuses while another
reassignment is in progress unless --additional. With --throttle, first limits the replication
the move causes, as Kafka does: leader.replication.throttled.rate and
follower.replication.throttled.rate on every broker involved, and
leader.replication.throttled.replicas (the partitions' current replicas) and
follower.replication.throttled.replicas (the replicas being added) on the topics; run verify
until it reports completion, which removes them. Replicas must be in log dir "any": moving
replicas between a broker's log directories is not supported.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := readReassignmentFile(file)
			if err != nil {
				return err
			}
			proposed, err := executeAssignment(targets)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			return a.withClient(cmd.Context(), o, func(ctx context.Context, cl *kgo.Client) error {
				return executeReassignment(ctx, cl, out, timeoutMillis(o), proposed, additional, throttle, logDirThrottle)
			})
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&file, "reassignment-json-file", "", "the reassignment file (required)")
	flags.BoolVar(&additional, "additional", false, "start even if other reassignments are in progress (also changes the throttle of a resubmitted one)")
	flags.Int64Var(&throttle, "throttle", -1, "limit the replication between brokers to this many bytes/s while the reassignment runs; -1 sets no limit")
	flags.Int64Var(&logDirThrottle, "replica-alter-log-dirs-throttle", -1, "limit moves between log directories of a broker to this many bytes/s; -1 sets no limit")
	return cmd
}

// executeAssignment checks a parsed reassignment file as Kafka's execute does and maps each
// partition to its new replicas.
func executeAssignment(list []partitionAssignment) (map[topicPartition][]int32, error) {
	if len(list) == 0 {
		return nil, errors.New("Partition reassignment list cannot be empty")
	}
	var parts []topicPartition
	var replicaDups []string
	for _, pa := range list {
		if len(pa.replicas) == 0 {
			return nil, errors.New("Partition replica list cannot be empty")
		}
		parts = append(parts, pa.tp)
		if dups := duplicates(pa.replicas); len(dups) > 0 {
			replicaDups = append(replicaDups, fmt.Sprintf("%s contains multiple entries for %s", pa.tp, joinIDs(dups)))
		}
	}
	if dups := duplicates(parts); len(dups) > 0 {
		return nil, fmt.Errorf("Partition reassignment contains duplicate topic partitions: %s", joinTopicPartitions(dups, ","))
	}
	if len(replicaDups) > 0 {
		return nil, fmt.Errorf("Partition replica lists may not contain duplicate entries: %s", strings.Join(replicaDups, ". "))
	}
	proposed := make(map[topicPartition][]int32, len(list))
	for _, pa := range list {
		for i, dir := range pa.logDirs {
			if dir != anyLogDir {
				return nil, fmt.Errorf("partition %s: log dir %q for replica %d: moving replicas between log directories is not supported; use %q",
					pa.tp, dir, pa.replicas[i], anyLogDir)
			}
		}
		proposed[pa.tp] = pa.replicas
	}
	return proposed, nil
}

// executeReassignment is kafka-reassign-partitions.sh --execute after parsing.
func executeReassignment(ctx context.Context, cl *kgo.Client, out io.Writer, timeoutMs int32, proposed map[topicPartition][]int32,
	additional bool, throttle, logDirThrottle int64) error {
	ongoing, err := listReassignments(ctx, cl, timeoutMs, nil)
	if err != nil {
		return err
	}
	if !additional && len(ongoing) > 0 {
		return errors.New(cannotExecuteMessage)
	}
	live, err := describeBrokers(ctx, cl)
	if err != nil {
		return err
	}
	var wanted []int32
	for _, replicas := range proposed {
		wanted = append(wanted, replicas...)
	}
	for _, id := range sortedSet(wanted) {
		if !slices.ContainsFunc(live, func(b kmsg.DescribeClusterResponseBroker) bool { return b.NodeID == id }) {
			return fmt.Errorf("Unknown broker id %d", id)
		}
	}
	parts := make([]topicPartition, 0, len(proposed))
	for tp := range proposed {
		parts = append(parts, tp)
	}
	all, err := topicAssignments(ctx, cl, partitionTopics(parts))
	if err != nil {
		return err
	}
	current := make(map[topicPartition][]int32, len(proposed))
	var missing []topicPartition
	for _, tp := range parts {
		if replicas, ok := all[tp]; ok {
			current[tp] = replicas
		} else {
			missing = append(missing, tp)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("Unable to find partition: %s", joinTopicPartitions(missing, ", "))
	}
	fmt.Fprintf(out, "Current partition replica assignment\n\n%s\n\nSave this to use as the --reassignment-json-file option during rollback\n",
		formatReassignmentJSON(current))
	if throttle >= 0 || logDirThrottle >= 0 {
		fmt.Fprintln(out, "Warning: You must run 'weir cluster reassign verify' periodically, until the reassignment completes, to ensure the throttle is removed.")
		if throttle >= 0 {
			moves, err := proposedMoves(ongoing, proposed, current)
			if err != nil {
				return err
			}
			if err := setReassignmentThrottle(ctx, cl, moves, throttle); err != nil {
				return err
			}
			fmt.Fprintf(out, "The inter-broker throttle limit was set to %d B/s\n", throttle)
		}
		if logDirThrottle >= 0 {
			// Only replicas with an explicit log dir move between directories, and execute
			// refuses those, so no broker needs the limit; Kafka says the same in this case.
			if err := setLogDirThrottle(ctx, cl, nil, logDirThrottle); err != nil {
				return err
			}
			fmt.Fprintf(out, "The replica-alter-dir throttle limit was set to %d B/s\n", logDirThrottle)
		}
	}
	failed, err := alterReassignments(ctx, cl, timeoutMs, proposed)
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("Error reassigning partition(s):\n%s", partitionErrorLines(failed))
	}
	plural := "s"
	if len(parts) == 1 {
		plural = ""
	}
	fmt.Fprintf(out, "Successfully started partition reassignment%s for %s\n", plural, joinTopicPartitions(parts, ","))
	return nil
}

func (a *app) reassignVerifyCommand(o *clientOptions) *cobra.Command {
	var file string
	var preserveThrottles bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Report the progress of a reassignment; clear its throttles when done",
		Long: `Report, per partition of --reassignment-json-file, "Reassignment of partition t-0 is
completed." or "... is still in progress." (or that no reassignment is active but the replicas
differ from the file's). When no reassignment is in progress in the cluster, removes the
replication throttles execute --throttle set, from every broker and from the file's topics,
unless --preserve-throttles. Exits 0 while in progress; 1 on errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := readReassignmentFile(file)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			return a.withClient(cmd.Context(), o, func(ctx context.Context, cl *kgo.Client) error {
				ongoing, err := verifyReassignment(ctx, cl, out, timeoutMillis(o), targets)
				if err != nil || ongoing || preserveThrottles {
					return err
				}
				return clearAllThrottles(ctx, cl, out, targets)
			})
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&file, "reassignment-json-file", "", "the reassignment file given to execute (required)")
	flags.BoolVar(&preserveThrottles, "preserve-throttles", false, "leave the replication throttles in place")
	return cmd
}

// verifyReassignment prints each target partition's state and reports whether any
// reassignment, of these partitions or others, is in progress.
func verifyReassignment(ctx context.Context, cl *kgo.Client, out io.Writer, timeoutMs int32, targets []partitionAssignment) (bool, error) {
	ongoing, err := listReassignments(ctx, cl, timeoutMs, nil)
	if err != nil {
		return false, err
	}
	var lookUp []topicPartition
	for _, pa := range targets {
		if _, ok := ongoing[pa.tp]; !ok {
			lookUp = append(lookUp, pa.tp)
		}
	}
	meta, err := topicMetadata(ctx, cl, partitionTopics(lookUp), true)
	if err != nil {
		return false, err
	}
	// The file's last entry for a partition wins, as in Kafka's map of states.
	states := map[topicPartition]string{}
	for _, pa := range targets {
		if _, ok := ongoing[pa.tp]; ok {
			states[pa.tp] = fmt.Sprintf("Reassignment of partition %s is still in progress.", pa.tp)
			continue
		}
		var current []int32
		if t, ok := meta[pa.tp.topic]; ok {
			for _, p := range t.Partitions {
				if p.Partition == pa.tp.partition {
					current = p.Replicas
				}
			}
		}
		if slices.Equal(current, pa.replicas) {
			states[pa.tp] = fmt.Sprintf("Reassignment of partition %s is completed.", pa.tp)
		} else {
			states[pa.tp] = fmt.Sprintf("There is no active reassignment of partition %s, but replica set is %s rather than %s.",
				pa.tp, joinIDs(current), joinIDs(pa.replicas))
		}
	}
	parts := make([]topicPartition, 0, len(states))
	for tp := range states {
		parts = append(parts, tp)
	}
	slices.SortFunc(parts, compareTopicPartitions)
	fmt.Fprintln(out, "Status of partition reassignment:")
	for _, tp := range parts {
		fmt.Fprintln(out, states[tp])
	}
	return len(ongoing) > 0, nil
}

// clearAllThrottles removes the throttles from every live broker, every broker the file names,
// and the file's topics: Kafka cannot tell which brokers were sources, so it clears them all.
func clearAllThrottles(ctx context.Context, cl *kgo.Client, out io.Writer, targets []partitionAssignment) error {
	live, err := describeBrokers(ctx, cl)
	if err != nil {
		return err
	}
	var brokers []int32
	for _, b := range live {
		brokers = append(brokers, b.NodeID)
	}
	var parts []topicPartition
	for _, pa := range targets {
		brokers = append(brokers, pa.replicas...)
		parts = append(parts, pa.tp)
	}
	print := func(format string, args ...any) { fmt.Fprintf(out, format, args...) }
	return clearThrottles(ctx, cl, print, sortedSet(brokers), partitionTopics(parts))
}

func (a *app) reassignCancelCommand(o *clientOptions) *cobra.Command {
	var file string
	var preserveThrottles bool
	cmd := &cobra.Command{
		Use:   "cancel",
		Short: "Cancel the reassignments of a reassignment file",
		Long: `Cancel the reassignments in progress of --reassignment-json-file's partitions
(AlterPartitionReassignments with null replicas): each returns to its replicas before the
reassignment. Then removes the replication throttles unless --preserve-throttles.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := readReassignmentFile(file)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			return a.withClient(cmd.Context(), o, func(ctx context.Context, cl *kgo.Client) error {
				if err := cancelReassignment(ctx, cl, out, timeoutMillis(o), targets); err != nil {
					return err
				}
				if preserveThrottles {
					return nil
				}
				return clearAllThrottles(ctx, cl, out, targets)
			})
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&file, "reassignment-json-file", "", "the reassignment file given to execute (required)")
	flags.BoolVar(&preserveThrottles, "preserve-throttles", false, "leave the replication throttles in place")
	return cmd
}

func cancelReassignment(ctx context.Context, cl *kgo.Client, out io.Writer, timeoutMs int32, targets []partitionAssignment) error {
	var parts []topicPartition
	for _, pa := range targets {
		if !slices.Contains(parts, pa.tp) {
			parts = append(parts, pa.tp)
		}
	}
	if len(parts) == 0 {
		fmt.Fprintln(out, "None of the specified partition reassignments are active.")
		fmt.Fprintln(out, "None of the specified partition moves are active.")
		return nil
	}
	ongoing, err := listReassignments(ctx, cl, timeoutMs, parts)
	if err != nil {
		return err
	}
	cancel := map[topicPartition][]int32{}
	var cancelled []topicPartition
	for _, tp := range parts {
		if r, ok := ongoing[tp]; ok && (len(r.AddingReplicas) > 0 || len(r.RemovingReplicas) > 0) {
			cancel[tp] = nil
			cancelled = append(cancelled, tp)
		}
	}
	if len(cancel) == 0 {
		fmt.Fprintln(out, "None of the specified partition reassignments are active.")
	} else {
		failed, err := alterReassignments(ctx, cl, timeoutMs, cancel)
		if err != nil {
			return err
		}
		if len(failed) > 0 {
			plural := "s"
			if len(failed) == 1 {
				plural = ""
			}
			return fmt.Errorf("Error cancelling partition reassignment%s for:\n%s", plural, partitionErrorLines(failed))
		}
		plural := "s"
		if len(cancelled) == 1 {
			plural = ""
		}
		fmt.Fprintf(out, "Successfully cancelled partition reassignment%s for: %s\n", plural, joinTopicPartitions(cancelled, ","))
	}
	fmt.Fprintln(out, "None of the specified partition moves are active.")
	return nil
}

func (a *app) reassignListCommand(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the reassignments in progress",
		Long: `List the partition reassignments in progress (ListPartitionReassignments), one per line:
"t-0: replicas: 1,2,3. adding: 3. removing: 1.", or "No partition reassignments found."`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), o, func(ctx context.Context, cl *kgo.Client) error {
				ongoing, err := listReassignments(ctx, cl, timeoutMillis(o), nil)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if len(ongoing) == 0 {
					fmt.Fprintln(out, "No partition reassignments found.")
					return nil
				}
				parts := make([]topicPartition, 0, len(ongoing))
				for tp := range ongoing {
					parts = append(parts, tp)
				}
				slices.SortFunc(parts, compareTopicPartitions)
				fmt.Fprintln(out, "Current partition reassignments:")
				for _, tp := range parts {
					r := ongoing[tp]
					line := fmt.Sprintf("%s: replicas: %s.", tp, joinIDs(r.Replicas))
					if len(r.AddingReplicas) > 0 {
						line += fmt.Sprintf(" adding: %s.", joinIDs(r.AddingReplicas))
					}
					if len(r.RemovingReplicas) > 0 {
						line += fmt.Sprintf(" removing: %s.", joinIDs(r.RemovingReplicas))
					}
					fmt.Fprintln(out, line)
				}
				return nil
			})
		},
	}
}
