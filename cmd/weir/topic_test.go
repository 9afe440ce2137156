package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// commandTimeout bounds every command a test runs against kfake.
const commandTimeout = 30 * time.Second

// startKfake starts a one-broker kfake cluster on 127.0.0.1, seeded with the topics, each of
// the given partitions, and returns its address.
func startKfake(t *testing.T, partitions int32, topics ...string) string {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// runWeirIn runs the command line like run does, with stdin and a deadline, and returns the
// exit code, stdout and stderr.
func runWeirIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// wantRun runs a command and checks its exit code and exact stdout.
func wantRun(t *testing.T, stdin string, wantCode int, wantStdout string, args ...string) string {
	t.Helper()
	code, stdout, stderr := runWeirIn(t, stdin, args...)
	if code != wantCode || stdout != wantStdout {
		t.Errorf("weir %s: exit %d (want %d)\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, stdout, wantStdout, stderr)
	}
	return stderr
}

// topicID returns a topic's id as list --format json prints it.
func topicID(t *testing.T, brokers, topic string) string {
	t.Helper()
	code, stdout, stderr := runWeirIn(t, "", "topic", "list", brokers, "--format", "json")
	var list []topicJSON
	if err := json.Unmarshal([]byte(stdout), &list); code != exitOK || err != nil {
		t.Fatalf("list: exit %d, %v, stdout %q, stderr %q", code, err, stdout, stderr)
	}
	for _, tj := range list {
		if tj.Name == topic {
			return tj.ID
		}
	}
	t.Fatalf("topic %s is not listed: %s", topic, stdout)
	return ""
}

// kfakeDefaultConfigs is kfake's answer to DescribeConfigs for a topic without configs of its own.
const kfakeDefaultConfigs = `KEY                     VALUE       SOURCE
cleanup.policy          delete      DEFAULT_CONFIG
compression.type        producer    DEFAULT_CONFIG
delete.retention.ms     86400000    DEFAULT_CONFIG
max.message.bytes       1048588     DEFAULT_CONFIG
message.timestamp.type  CreateTime  DEFAULT_CONFIG
min.insync.replicas     1           DEFAULT_CONFIG
retention.bytes         -1          DEFAULT_CONFIG
retention.ms            604800000   DEFAULT_CONFIG
segment.bytes           104857600   DEFAULT_CONFIG
segment.ms              604800000   DEFAULT_CONFIG
`

func TestTopicAdmin(t *testing.T) {
	addr := startKfake(t, 2, "seeded")
	brokers := "--brokers=" + addr

	stderr := wantRun(t, "", exitError, `TOPIC   STATUS
a       OK
b       OK
seeded  TOPIC_ALREADY_EXISTS: Topic with this name already exists.
`, "topic", "create", "a", "b", "seeded", "b", "-p", "3", "-c", "retention.ms=1000", brokers)
	if stderr != "weir topic create: 1 of 3 topics failed: seeded\n" {
		t.Errorf("create: stderr %q", stderr)
	}
	wantRun(t, "", exitOK, "TOPIC  STATUS\ndry    OK\n", "topic", "create", "dry", "--dry-run", brokers)
	// JSON statuses parse, with Kafka's error codes.
	code, stdout, _ := runWeirIn(t, "", "topic", "create", "c", "seeded", "--format", "json", brokers)
	var statuses []topicStatus
	if err := json.Unmarshal([]byte(stdout), &statuses); err != nil || code != exitError || len(statuses) != 2 ||
		statuses[0] != (topicStatus{Topic: "c", Status: "OK"}) || statuses[1].Topic != "seeded" || statuses[1].ErrorCode != 36 {
		t.Errorf("create --format json: exit %d, %v, %+v", code, err, statuses)
	}
	wantRun(t, "", exitOK, `[{"topic":"c","status":"OK","error_code":0}]`+"\n", "topic", "delete", "c", "--format", "json", brokers)
	wantRun(t, "", exitOK, `NAME    PARTITIONS  REPLICAS
a       3           1
b       3           1
seeded  2           1
`, "topic", "list", brokers)

	// Three records in partition 1 move its high watermark.
	wantRun(t, "x\ny\nz\n", exitOK, "Produced to partition 1 at offset 0\nProduced to partition 1 at offset 1\nProduced to partition 1 at offset 2\n",
		"topic", "produce", "seeded", "-p", "1", brokers)
	wantRun(t, "", exitOK, `SUMMARY
=======
NAME        seeded
ID          `+topicID(t, brokers, "seeded")+`
PARTITIONS  2
REPLICAS    1

CONFIGS
=======
`+kfakeDefaultConfigs+`
PARTITIONS
==========
PARTITION  LEADER  EPOCH  REPLICAS  ISR  LOG-START-OFFSET  HIGH-WATERMARK
0          0       0      [0]       [0]  0                 0
1          0       0      [0]       [0]  0                 3
`, "topic", "describe", "seeded", brokers)
	wantRun(t, "", exitOK, `PARTITION  LEADER  EPOCH  REPLICAS  ISR  LOG-START-OFFSET  HIGH-WATERMARK
0          0       0      [0]       [0]  0                 0
1          0       0      [0]       [0]  0                 3
`, "topic", "describe", "seeded", "--print-partitions", brokers)
	// With two topics the summary names each.
	wantRun(t, "", exitError, `SUMMARY
=======
NAME        seeded
ID          `+topicID(t, brokers, "seeded")+`
PARTITIONS  2
REPLICAS    1

PARTITIONS
==========
PARTITION  LEADER  EPOCH  REPLICAS  ISR  LOG-START-OFFSET  HIGH-WATERMARK
0          0       0      [0]       [0]  0                 0
1          0       0      [0]       [0]  0                 3

SUMMARY
=======
NAME   nope
ERROR  UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition.
`, "topic", "describe", "seeded", "nope", "-p", brokers)

	// add-partitions adds --num to the current count.
	wantRun(t, "", exitError, "TOPIC  STATUS\na      OK\nnope   UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition.\n",
		"topic", "add-partitions", "a", "nope", "--num", "2", brokers)
	wantRun(t, "", exitOK, "TOPIC  STATUS\nb      OK\n", "topic", "add-partitions", "b", "-n", "1", "--dry-run", brokers)
	wantRun(t, "", exitOK, "NAME    PARTITIONS  REPLICAS\na       5           1\nb       3           1\nseeded  2           1\n", "topic", "list", brokers)

	// alter-config sets and deletes incrementally.
	wantRun(t, "", exitOK, "TOPIC  STATUS\na      OK\nb      OK\n", "topic", "alter-config", "a", "b", "--set", "retention.ms=5", "--set", "segment.ms=7", "--delete", "cleanup.policy", brokers)
	wantRun(t, "", exitOK, "TOPIC  STATUS\nb      OK\n", "topic", "alter-config", "b", "--delete", "retention.ms", brokers)
	wantConfigs := strings.NewReplacer(
		"retention.ms            604800000   DEFAULT_CONFIG", "retention.ms            5           DYNAMIC_TOPIC_CONFIG",
		"segment.ms              604800000   DEFAULT_CONFIG", "segment.ms              7           DYNAMIC_TOPIC_CONFIG",
	).Replace(kfakeDefaultConfigs)
	wantRun(t, "", exitOK, wantConfigs, "topic", "describe", "a", "-c", brokers)
	wantConfigs = strings.Replace(kfakeDefaultConfigs, "segment.ms              604800000   DEFAULT_CONFIG", "segment.ms              7           DYNAMIC_TOPIC_CONFIG", 1)
	wantRun(t, "", exitOK, wantConfigs, "topic", "describe", "b", "-c", brokers)

	wantRun(t, "", exitError, "TOPIC  STATUS\na      OK\nnope   UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition.\n",
		"topic", "delete", "a", "nope", brokers)
	wantRun(t, "", exitOK, "TOPIC  STATUS\nb      OK\n", "topic", "delete", "b", brokers)
	wantRun(t, "", exitOK, `seeded, 2 partitions, 1 replicas
      PARTITION  LEADER  EPOCH  REPLICAS  ISR
      0          0       0      [0]       [0]
      1          0       0      [0]       [0]
`, "topic", "list", "--detailed", brokers, "--format", "text", "--timeout", "5s")
}
