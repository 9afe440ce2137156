package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// startKfakeBrokers starts a kfake cluster of n brokers (ids 0..n-1) seeded with topic, of the
// given partitions and replication factor min(3, n), partition p led by broker p%n: its
// replicas are then p%n and the brokers after it. It returns the cluster and the --brokers flag.
func startKfakeBrokers(t *testing.T, n int, topic string, partitions int32) (*kfake.Cluster, string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(n), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for p := range partitions {
		if err := c.MoveTopicPartition(topic, p, p%int32(n)); err != nil {
			t.Fatal(err)
		}
	}
	return c, "--brokers=" + strings.Join(c.ListenAddrs(), ",")
}

// writeTemp writes content to a new file in the test's temporary directory.
func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantFail runs a command that must exit with code and print want in its stderr.
func wantFail(t *testing.T, code int, want string, args ...string) {
	t.Helper()
	got, stdout, stderr := runWeirIn(t, "", args...)
	if got != code || !strings.Contains(stderr, want) {
		t.Errorf("weir %s: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant in stderr: %q", strings.Join(args, " "), got, code, stdout, stderr, want)
	}
}

// parseGenerate splits generate's output into its current and proposed files.
func parseGenerate(t *testing.T, stdout string) (current, proposed string) {
	t.Helper()
	lines := strings.Split(stdout, "\n")
	if len(lines) != 6 || lines[0] != "Current partition replica assignment" || lines[2] != "" ||
		lines[3] != "Proposed partition reassignment configuration" || lines[5] != "" {
		t.Fatalf("generate output:\n%s", stdout)
	}
	return lines[1], lines[4]
}

// recordedConfigs records the IncrementalAlterConfigs a kfake cluster receives, as
// "TYPE name op key=value" lines, and lets kfake apply them.
type recordedConfigs struct {
	mu    sync.Mutex
	lines []string
}

func (r *recordedConfigs) watch(c *kfake.Cluster) {
	c.ControlKey(kmsg.IncrementalAlterConfigs.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, res := range req.(*kmsg.IncrementalAlterConfigsRequest).Resources {
			for _, cfg := range res.Configs {
				line := fmt.Sprintf("%s %s %s %s", res.ResourceType, res.ResourceName, cfg.Op, cfg.Name)
				if cfg.Value != nil {
					line += "=" + *cfg.Value
				}
				r.lines = append(r.lines, line)
			}
		}
		return nil, nil, false
	})
}

func (r *recordedConfigs) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	lines := r.lines
	r.lines = nil
	slices.Sort(lines)
	return lines
}

// ongoingReassignment makes kfake answer every ListPartitionReassignments with one reassignment
// in progress, of t-0 from replicas 0,1,2 to 1,2,3.
func ongoingReassignment(c *kfake.Cluster, topic string) {
	c.ControlKey(kmsg.ListPartitionReassignments.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
		rt := kmsg.NewListPartitionReassignmentsResponseTopic()
		rt.Topic = topic
		rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		rp.Partition = 0
		rp.Replicas = []int32{0, 1, 2, 3}
		rp.AddingReplicas = []int32{3}
		rp.RemovingReplicas = []int32{0}
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true
	})
}

func TestReassignGenerate(t *testing.T) {
	_, brokers := startKfakeBrokers(t, 4, "t", 4)
	topics := writeTemp(t, "topics.json", `{"version":1,"topics":[{"topic":"t"}]}`)
	args := []string{"cluster", "reassign", "generate", "--topics-to-move-json-file", topics, "--broker-list", "0,1,2,3", "--seed", "7", brokers}
	code, stdout, stderr := runWeirIn(t, "", args...)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	current, proposed := parseGenerate(t, stdout)
	// Kafka's exact format: compact, sorted, "any" log dirs.
	wantCurrent := `{"version":1,"partitions":[` +
		`{"topic":"t","partition":0,"replicas":[0,1,2],"log_dirs":["any","any","any"]},` +
		`{"topic":"t","partition":1,"replicas":[1,2,3],"log_dirs":["any","any","any"]},` +
		`{"topic":"t","partition":2,"replicas":[2,3,0],"log_dirs":["any","any","any"]},` +
		`{"topic":"t","partition":3,"replicas":[3,0,1],"log_dirs":["any","any","any"]}]}`
	if current != wantCurrent {
		t.Errorf("current:\n%s\nwant:\n%s", current, wantCurrent)
	}
	// The proposal: each partition three distinct brokers of the list, leaders spread.
	var file reassignmentFileJSON
	if err := json.Unmarshal([]byte(proposed), &file); err != nil {
		t.Fatal(err)
	}
	leaders := map[int32]bool{}
	for i, p := range file.Partitions {
		if p.Topic != "t" || p.Partition != int32(i) || len(sortedSet(p.Replicas)) != 3 || len(p.LogDirs) != 3 {
			t.Errorf("proposed partition %+v", p)
		}
		leaders[p.Replicas[0]] = true
	}
	if len(file.Partitions) != 4 || len(leaders) != 4 {
		t.Errorf("proposed %s", proposed)
	}
	// The same seed proposes the same; --broker-list narrows the brokers.
	wantRun(t, "", exitOK, stdout, args...)
	code, stdout, stderr = runWeirIn(t, "", "cluster", "reassign", "generate", "--topics-to-move-json-file", topics, "--broker-list", "1,2,3", "--seed", "3", "--disable-rack-aware", brokers)
	if code != exitOK {
		t.Fatalf("--broker-list 1,2,3: exit %d, stderr %s", code, stderr)
	}
	_, proposed = parseGenerate(t, stdout)
	if err := json.Unmarshal([]byte(proposed), &file); err != nil {
		t.Fatal(err)
	}
	for _, p := range file.Partitions {
		if slices.Contains(p.Replicas, 0) || len(sortedSet(p.Replicas)) != 3 {
			t.Errorf("--broker-list 1,2,3 proposes %+v", p)
		}
	}

	// Errors, with Kafka's messages.
	gen := func(topicsJSON, brokerList string) []string {
		return []string{"cluster", "reassign", "generate", "--topics-to-move-json-file", writeTemp(t, "x.json", topicsJSON), "--broker-list", brokerList, brokers}
	}
	wantFail(t, exitError, "Replication factor: 3 larger than available brokers: 2.", gen(`{"topics":[{"topic":"t"}]}`, "0,1")...)
	// A broker that is not in the cluster is left out, as Kafka does.
	wantFail(t, exitError, "Replication factor: 3 larger than available brokers: 2.", gen(`{"topics":[{"topic":"t"}]}`, "0,1,9")...)
	wantFail(t, exitError, "Topic nope not found.", gen(`{"topics":[{"topic":"t"},{"topic":"nope"}]}`, "0,1,2")...)
	wantFail(t, exitError, "not valid JSON", gen(`{"topics":[`, "0,1,2")...)
	wantFail(t, exitError, "No such field exists: `topic`", gen(`{"topics":[{"name":"t"}]}`, "0,1,2")...)
	wantFail(t, exitError, "Not supported version field value 2", gen(`{"version":2,"topics":[{"topic":"t"}]}`, "0,1,2")...)
	wantFail(t, exitError, "Broker list contains duplicate entries: [1]", gen(`{"topics":[{"topic":"t"}]}`, "0,1,1,2")...)
	wantFail(t, exitError, "List of topics to reassign contains duplicate entries: [t]", gen(`{"topics":[{"topic":"t"},{"topic":"t"}]}`, "0,1,2")...)
	wantFail(t, exitUsage, "--broker-list", gen(`{"topics":[{"topic":"t"}]}`, "0,x")...)
	wantFail(t, exitUsage, "--topics-to-move-json-file is required", "cluster", "reassign", "generate", "--broker-list", "0", brokers)
}

// TestReassignGenerateRacks checks the rack handling against a DescribeCluster answer where
// only some brokers have racks (kfake puts every broker in one rack).
func TestReassignGenerateRacks(t *testing.T) {
	c, brokers := startKfakeBrokers(t, 3, "t", 2)
	c.ControlKey(kmsg.DescribeCluster.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
		rack := "r1"
		for id := range int32(3) {
			b := kmsg.NewDescribeClusterResponseBroker()
			b.NodeID = id
			if id != 2 {
				b.Rack = &rack
			}
			resp.Brokers = append(resp.Brokers, b)
		}
		return resp, nil, true
	})
	topics := writeTemp(t, "topics.json", `{"topics":[{"topic":"t"}]}`)
	wantFail(t, exitError, "Not all brokers have rack information. Add --disable-rack-aware in command line to make replica assignment without rack information.",
		"cluster", "reassign", "generate", "--topics-to-move-json-file", topics, "--broker-list", "0,1,2", brokers)
	code, stdout, stderr := runWeirIn(t, "", "cluster", "reassign", "generate", "--topics-to-move-json-file", topics, "--broker-list", "0,1,2", "--disable-rack-aware", "--seed", "1", brokers)
	if code != exitOK {
		t.Fatalf("--disable-rack-aware: exit %d, stderr %s", code, stderr)
	}
	parseGenerate(t, stdout)
}

func TestReassignExecuteVerify(t *testing.T) {
	c, brokers := startKfakeBrokers(t, 4, "t", 4)
	var configs recordedConfigs
	configs.watch(c)
	topics := writeTemp(t, "topics.json", `{"version":1,"topics":[{"topic":"t"}]}`)
	code, stdout, stderr := runWeirIn(t, "", "cluster", "reassign", "generate", "--topics-to-move-json-file", topics, "--broker-list", "0,1,2,3", "--seed", "7", brokers)
	if code != exitOK {
		t.Fatalf("generate: exit %d, stderr %s", code, stderr)
	}
	current, proposed := parseGenerate(t, stdout)
	proposedFile := writeTemp(t, "proposed.json", proposed)

	// execute prints the rollback file and starts every partition's reassignment.
	wantRun(t, "", exitOK, "Current partition replica assignment\n\n"+current+
		"\n\nSave this to use as the --reassignment-json-file option during rollback\n"+
		"Successfully started partition reassignments for t-0,t-1,t-2,t-3\n",
		"cluster", "reassign", "execute", "--reassignment-json-file", proposedFile, brokers)

	// kfake accepts a reassignment but never moves replicas nor lists it as in progress, so
	// verify finds no active reassignment; where the proposal differs from the replicas it
	// says so, as Kafka does, and clears the throttles since nothing is in progress.
	var file reassignmentFileJSON
	if err := json.Unmarshal([]byte(proposed), &file); err != nil {
		t.Fatal(err)
	}
	var cur reassignmentFileJSON
	if err := json.Unmarshal([]byte(current), &cur); err != nil {
		t.Fatal(err)
	}
	want := "Status of partition reassignment:\n"
	for i, p := range file.Partitions {
		if slices.Equal(p.Replicas, cur.Partitions[i].Replicas) {
			want += fmt.Sprintf("Reassignment of partition t-%d is completed.\n", i)
		} else {
			want += fmt.Sprintf("There is no active reassignment of partition t-%d, but replica set is %s rather than %s.\n",
				i, joinIDs(cur.Partitions[i].Replicas), joinIDs(p.Replicas))
		}
	}
	want += "Clearing broker-level throttles on brokers 0,1,2,3\nClearing topic-level throttles on topic t\n"
	configs.take()
	wantRun(t, "", exitOK, want, "cluster", "reassign", "verify", "--reassignment-json-file", proposedFile, brokers)
	var wantCleared []string
	for id := range 4 {
		for _, k := range brokerThrottleConfigs {
			wantCleared = append(wantCleared, fmt.Sprintf("BROKER %d DELETE %s", id, k))
		}
	}
	wantCleared = append(wantCleared, "TOPIC t DELETE follower.replication.throttled.replicas", "TOPIC t DELETE leader.replication.throttled.replicas")
	slices.Sort(wantCleared)
	if got := configs.take(); !slices.Equal(got, wantCleared) {
		t.Errorf("verify's config changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantCleared, "\n"))
	}

	// The rollback file is the current assignment: verify says completed; with
	// --preserve-throttles it changes no config.
	rollback := writeTemp(t, "rollback.json", current)
	wantRun(t, "", exitOK, "Status of partition reassignment:\n"+
		"Reassignment of partition t-0 is completed.\nReassignment of partition t-1 is completed.\n"+
		"Reassignment of partition t-2 is completed.\nReassignment of partition t-3 is completed.\n",
		"cluster", "reassign", "verify", "--reassignment-json-file", rollback, "--preserve-throttles", "--bootstrap-server", strings.TrimPrefix(brokers, "--brokers="))
	if got := configs.take(); len(got) != 0 {
		t.Errorf("verify --preserve-throttles changed configs: %v", got)
	}

	// With --throttle, execute sets Kafka's throttles first: leader throttles on the current
	// replicas, follower throttles on the added ones, rates on every broker involved.
	move := writeTemp(t, "move.json", `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2,3]},{"topic":"t","partition":1,"replicas":[1,2,3]}]}`)
	wantRun(t, "", exitOK, "Current partition replica assignment\n\n"+
		`{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[0,1,2],"log_dirs":["any","any","any"]},{"topic":"t","partition":1,"replicas":[1,2,3],"log_dirs":["any","any","any"]}]}`+
		"\n\nSave this to use as the --reassignment-json-file option during rollback\n"+
		"Warning: You must run 'weir cluster reassign verify' periodically, until the reassignment completes, to ensure the throttle is removed.\n"+
		"The inter-broker throttle limit was set to 1000 B/s\n"+
		"Successfully started partition reassignments for t-0,t-1\n",
		"cluster", "reassign", "execute", "--reassignment-json-file", move, "--throttle", "1000", brokers)
	wantSet := []string{
		"TOPIC t SET follower.replication.throttled.replicas=0:3",
		"TOPIC t SET leader.replication.throttled.replicas=0:0,0:1,0:2,1:1,1:2,1:3",
	}
	for id := range 4 {
		wantSet = append(wantSet, fmt.Sprintf("BROKER %d SET follower.replication.throttled.rate=1000", id), fmt.Sprintf("BROKER %d SET leader.replication.throttled.rate=1000", id))
	}
	slices.Sort(wantSet)
	if got := configs.take(); !slices.Equal(got, wantSet) {
		t.Errorf("execute --throttle's config changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantSet, "\n"))
	}
	// The log-dir throttle has no broker to go to, as no replica moves between log dirs.
	wantRun(t, "", exitOK, "Current partition replica assignment\n\n"+
		`{"version":1,"partitions":[{"topic":"t","partition":1,"replicas":[1,2,3],"log_dirs":["any","any","any"]}]}`+
		"\n\nSave this to use as the --reassignment-json-file option during rollback\n"+
		"Warning: You must run 'weir cluster reassign verify' periodically, until the reassignment completes, to ensure the throttle is removed.\n"+
		"The replica-alter-dir throttle limit was set to 500 B/s\n"+
		"Successfully started partition reassignment for t-1\n",
		"cluster", "reassign", "execute", "--reassignment-json-file", writeTemp(t, "one.json", `{"partitions":[{"topic":"t","partition":1,"replicas":[1,2,3]}]}`),
		"--replica-alter-log-dirs-throttle", "500", brokers)
	if got := configs.take(); len(got) != 0 {
		t.Errorf("--replica-alter-log-dirs-throttle changed configs: %v", got)
	}
}

func TestReassignExecuteErrors(t *testing.T) {
	c, brokers := startKfakeBrokers(t, 3, "t", 2)
	exec := func(content string, more ...string) []string {
		return append([]string{"cluster", "reassign", "execute", "--reassignment-json-file", writeTemp(t, "r.json", content), brokers}, more...)
	}
	wantFail(t, exitError, "Partition reassignment list cannot be empty", exec(`{"version":1,"partitions":[]}`)...)
	wantFail(t, exitError, "Partition replica list cannot be empty", exec(`{"partitions":[{"topic":"t","partition":0,"replicas":[]}]}`)...)
	wantFail(t, exitError, "Partition reassignment contains duplicate topic partitions: t-0",
		exec(`{"partitions":[{"topic":"t","partition":0,"replicas":[1]},{"topic":"t","partition":0,"replicas":[2]}]}`)...)
	wantFail(t, exitError, "Partition replica lists may not contain duplicate entries: t-0 contains multiple entries for 1",
		exec(`{"partitions":[{"topic":"t","partition":0,"replicas":[1,2,1]}]}`)...)
	wantFail(t, exitError, "Size of replicas list [1, 2] is different from size of log dirs list [any] for partition t-0",
		exec(`{"partitions":[{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any"]}]}`)...)
	wantFail(t, exitError, "moving replicas between log directories is not supported",
		exec(`{"partitions":[{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any","/data/2"]}]}`)...)
	wantFail(t, exitError, "No such field exists: `replicas`", exec(`{"partitions":[{"topic":"t","partition":0}]}`)...)
	wantFail(t, exitError, "not valid JSON", exec(`{"partitions":`)...)
	wantFail(t, exitError, "Unknown broker id 7", exec(`{"partitions":[{"topic":"t","partition":0,"replicas":[1,7]}]}`)...)
	wantFail(t, exitError, "Topic nope not found.", exec(`{"partitions":[{"topic":"nope","partition":0,"replicas":[1,2]}]}`)...)
	wantFail(t, exitError, "Unable to find partition: t-5, t-9",
		exec(`{"partitions":[{"topic":"t","partition":9,"replicas":[1,2]},{"topic":"t","partition":5,"replicas":[1,2]},{"topic":"t","partition":1,"replicas":[1,2]}]}`)...)
	wantFail(t, exitUsage, "--reassignment-json-file is required", "cluster", "reassign", "execute", brokers)

	// A partition the controller refuses fails the command with Kafka's list of errors.
	c.ControlKey(kmsg.AlterPartitionAssignments.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
		for _, rt := range req.(*kmsg.AlterPartitionAssignmentsRequest).Topics {
			st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
				sp.Partition = rp.Partition
				if rp.Partition == 1 {
					sp.ErrorCode = 39 // INVALID_REPLICA_ASSIGNMENT
					sp.ErrorMessage = kmsg.StringPtr("replica 2 is offline")
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	wantFail(t, exitError, "Error reassigning partition(s):\nt-1: INVALID_REPLICA_ASSIGNMENT: replica 2 is offline\n",
		exec(`{"partitions":[{"topic":"t","partition":0,"replicas":[1,2]},{"topic":"t","partition":1,"replicas":[2,0]}]}`)...)

	// Another reassignment in progress: refused without --additional.
	ongoingReassignment(c, "t")
	wantFail(t, exitError, cannotExecuteMessage, exec(`{"partitions":[{"topic":"t","partition":1,"replicas":[2,0]}]}`)...)
	code, stdout, stderr := runWeirIn(t, "", exec(`{"partitions":[{"topic":"t","partition":1,"replicas":[2,0]}]}`, "--additional")...)
	if code != exitOK || !strings.HasSuffix(stdout, "Successfully started partition reassignment for t-1\n") {
		t.Errorf("--additional: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestReassignInProgress(t *testing.T) {
	c, brokers := startKfakeBrokers(t, 4, "t", 2)
	var configs recordedConfigs
	configs.watch(c)
	wantRun(t, "", exitOK, "No partition reassignments found.\n", "cluster", "reassign", "list", brokers)
	file := writeTemp(t, "r.json", `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2,3]},{"topic":"t","partition":1,"replicas":[1,2,3]}]}`)
	// Nothing to cancel.
	wantRun(t, "", exitOK, "None of the specified partition reassignments are active.\nNone of the specified partition moves are active.\n"+
		"Clearing broker-level throttles on brokers 0,1,2,3\nClearing topic-level throttles on topic t\n",
		"cluster", "reassign", "cancel", "--reassignment-json-file", file, brokers)
	configs.take()

	ongoingReassignment(c, "t")
	wantRun(t, "", exitOK, "Current partition reassignments:\nt-0: replicas: 0,1,2,3. adding: 3. removing: 0.\n", "cluster", "reassign", "list", brokers)
	// In progress: verify says so and leaves the throttles.
	wantRun(t, "", exitOK, "Status of partition reassignment:\nReassignment of partition t-0 is still in progress.\nReassignment of partition t-1 is completed.\n",
		"cluster", "reassign", "verify", "--reassignment-json-file", file, brokers)
	if got := configs.take(); len(got) != 0 {
		t.Errorf("verify during a reassignment changed configs: %v", got)
	}
	// kfake answers a cancel with NO_REASSIGNMENT_IN_PROGRESS (it never has one): the error is
	// reported per partition, exit 1.
	wantFail(t, exitError, "Error cancelling partition reassignment for:\nt-0: NO_REASSIGNMENT_IN_PROGRESS",
		"cluster", "reassign", "cancel", "--reassignment-json-file", file, "--preserve-throttles", brokers)
	// A controller that cancels it.
	var cancelled []string
	c.ControlKey(kmsg.AlterPartitionAssignments.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
		for _, rt := range req.(*kmsg.AlterPartitionAssignmentsRequest).Topics {
			st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				cancelled = append(cancelled, fmt.Sprintf("%s-%d %v", rt.Topic, rp.Partition, rp.Replicas == nil))
				sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
				sp.Partition = rp.Partition
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	wantRun(t, "", exitOK, "Successfully cancelled partition reassignment for: t-0\nNone of the specified partition moves are active.\n",
		"cluster", "reassign", "cancel", "--reassignment-json-file", file, "--preserve-throttles", brokers)
	if !slices.Equal(cancelled, []string{"t-0 true"}) {
		t.Errorf("cancel sent %v, want t-0 with null replicas", cancelled)
	}
	if got := configs.take(); len(got) != 0 {
		t.Errorf("cancel --preserve-throttles changed configs: %v", got)
	}
}

func TestReassignUsage(t *testing.T) {
	for args, want := range map[string]string{
		"cluster reassign":                          "weir cluster reassign: missing subcommand (one of: cancel, execute, generate, list, verify)\n",
		"cluster reassign generate --broker-list x": "weir cluster reassign generate: --topics-to-move-json-file is required\n",
		"cluster reassign verify":                   "weir cluster reassign verify: --reassignment-json-file is required\n",
		"cluster elect-leaders":                     "weir cluster elect-leaders: Missing required option(s): election-type\n",
	} {
		code, _, stderr := runWeirIn(t, "", strings.Fields(args)...)
		if code != exitUsage || stderr != want+"Run 'weir --help' for usage.\n" {
			t.Errorf("weir %s: exit %d, stderr %q, want %q", args, code, stderr, want)
		}
	}
}
