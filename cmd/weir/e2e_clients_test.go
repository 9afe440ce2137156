package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The client tests run third-party Kafka clients (kcat/librdkafka, confluent-kafka-python,
// kafka-python) against one `weir broker` process and check exact records and offsets. Debian
// packages them (scripts/test.sh installs them); without them a test skips, except under
// CI=true, where it fails.

// clientPython is Debian's interpreter, which has the packaged client modules; another python3
// may come first on PATH.
const clientPython = "/usr/bin/python3"

// clientRecordCount is how many records each Python client produces and reads back.
const clientRecordCount = 50

// requireTool skips (or, under CI=true, fails) the test when the tool is not there; what
// explains why.
func requireTool(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %s (scripts/test.sh installs it)", what)
	}
	t.Skipf("%s (apt-get install kcat python3-confluent-kafka python3-kafka)", what)
}

// runClient runs a client command bounded by e2eTimeout and returns its stdout and stderr;
// a non-zero exit fails the test.
func runClient(t *testing.T, stdin string, name string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v (context: %v)\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, ctx.Err(), &out, &errOut)
	}
	return out.String(), errOut.String()
}

// startClientBroker starts one broker process on a free port and returns its address.
func startClientBroker(t *testing.T) string {
	t.Helper()
	bin := buildWeir(t, t.TempDir())
	dir := t.TempDir()
	port := freeLoopbackPort(t)
	startBrokerProcess(t, bin, writeBrokerConfig(t, dir, filepath.Join(dir, "data"), port))
	return "127.0.0.1:" + strconv.Itoa(port)
}

func TestE2EClientsKcat(t *testing.T) {
	_, err := exec.LookPath("kcat")
	requireTool(t, err == nil, "kcat is not on PATH")
	addr := startClientBroker(t)

	for _, codec := range []string{"gzip", "snappy", "lz4"} {
		topic := "kcat-" + codec
		var lines, want []string
		for i := range 20 {
			// Values repeat so that every codec actually compresses.
			value := fmt.Sprintf("value-%d-%s", i, strings.Repeat("z", i*7))
			lines = append(lines, fmt.Sprintf("key-%d:%s", i, value))
			want = append(want, fmt.Sprintf("key-%d:%s:%d", i, value, i))
		}
		// The topic is auto-created by the produce's metadata request.
		_, stderr := runClient(t, strings.Join(lines, "\n")+"\n", "kcat", "-b", addr, "-P", "-t", topic, "-p", "0", "-z", codec, "-K:")
		if strings.Contains(strings.ToLower(stderr), "compression") || strings.Contains(stderr, "%3|") {
			t.Errorf("kcat -P -z %s: librdkafka complained:\n%s", codec, stderr)
		}
		// -e exits at end of partition, which librdkafka reaches only if a fetch at the log end
		// carries empty records, not null ones (regression: "invalid MessageSetSize -1").
		stdout, stderr := runClient(t, "", "kcat", "-b", addr, "-C", "-t", topic, "-p", "0", "-o", "beginning",
			"-e", "-f", "%k:%s:%o\n")
		if got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n"); !slices.Equal(got, want) {
			t.Errorf("kcat -C %s: got\n%s\nwant\n%s\nstderr:\n%s", topic, strings.Join(got, "\n"), strings.Join(want, "\n"), stderr)
		}
		if strings.Contains(stderr, "%3|") {
			t.Errorf("kcat -C %s: librdkafka errors:\n%s", topic, stderr)
		}
	}

	stdout, _ := runClient(t, "", "kcat", "-b", addr, "-L")
	for _, want := range []string{
		"1 brokers:",
		"broker 1 at " + addr,
		`topic "kcat-gzip" with 1 partitions:`,
		`topic "kcat-snappy" with 1 partitions:`,
		`topic "kcat-lz4" with 1 partitions:`,
		"partition 0, leader 1, replicas: 1, isrs: 1",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("kcat -L lacks %q:\n%s", want, stdout)
		}
	}
}

func TestE2EClientsConfluentKafkaPython(t *testing.T) {
	testPythonClient(t, "confluent_kafka", "confluent_client.py")
}

func TestE2EClientsKafkaPython(t *testing.T) {
	testPythonClient(t, "kafka", "kafka_python_client.py")
}

// clientEvent is one JSON line a Python client script prints.
type clientEvent struct {
	Event      string      `json:"event"`
	Topic      string      `json:"topic"`
	Partitions int         `json:"partitions"`
	Error      string      `json:"error"`
	Key        string      `json:"key"`
	Value      string      `json:"value"`
	Headers    [][2]string `json:"headers"`
	Partition  int32       `json:"partition"`
	Offset     int64       `json:"offset"`
	Left       int         `json:"left"`
	Consumed   int         `json:"consumed"`
}

// clientRecord is the i-th record the Python scripts produce (their record()).
func clientRecord(i int) (key, value string, headers [][2]string) {
	if i%3 != 0 {
		headers = [][2]string{{"seq", strconv.Itoa(i)}, {"empty", ""}}
	}
	return fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", i%50)), headers
}

// testPythonClient runs script against a broker: it creates topic (1 partition) and topic-wide
// (3), produces clientRecordCount records to partition 0 and reads them back from offset 0.
func testPythonClient(t *testing.T, module, script string) {
	_, err := os.Stat(clientPython)
	requireTool(t, err == nil, clientPython+" is missing")
	requireTool(t, exec.Command(clientPython, "-c", "import "+module).Run() == nil, "python module "+module+" is missing")
	addr := startClientBroker(t)
	const topic = "py"
	start := time.Now()
	stdout, stderr := runClient(t, "", clientPython, filepath.Join("testdata", "clients", script), addr, topic, strconv.Itoa(clientRecordCount))
	t.Logf("%s ran in %v", script, time.Since(start).Round(time.Millisecond))
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\nstdout:\n%s\nstderr:\n%s", append(args, stdout, stderr)...)
	}

	var created, delivered, consumed []clientEvent
	listed := map[string]clientEvent{}
	var done *clientEvent
	for line := range strings.SplitSeq(strings.TrimSpace(stdout), "\n") {
		var ev clientEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			fail("line %q: %v", line, err)
		}
		switch ev.Event {
		case "created":
			created = append(created, ev)
		case "listed":
			listed[ev.Topic] = ev
		case "delivered":
			delivered = append(delivered, ev)
		case "consumed":
			consumed = append(consumed, ev)
		case "flushed":
			if ev.Left != 0 {
				fail("flush left %d records undelivered", ev.Left)
			}
		case "done":
			done = &ev
		default:
			fail("unexpected event %q", line)
		}
	}
	if len(created) != 2 {
		fail("created %d topics, want 2", len(created))
	}
	for name, partitions := range map[string]int{topic: 1, topic + "-wide": 3} {
		if ev := listed[name]; ev.Partitions != partitions || ev.Error != "" {
			fail("topic %s listed with %d partitions (error %q), want %d", name, ev.Partitions, ev.Error, partitions)
		}
	}
	if len(delivered) != clientRecordCount {
		fail("%d records delivered, want %d", len(delivered), clientRecordCount)
	}
	for i, ev := range delivered {
		key, _, _ := clientRecord(i)
		if ev.Key != key || ev.Partition != 0 || ev.Offset != int64(i) || ev.Error != "" {
			fail("delivery %d: %+v, want %s at p0@%d", i, ev, key, i)
		}
	}
	if done == nil || done.Consumed != clientRecordCount || len(consumed) != clientRecordCount {
		fail("consumed %d records, want %d", len(consumed), clientRecordCount)
	}
	for i, ev := range consumed {
		key, value, headers := clientRecord(i)
		if ev.Key != key || ev.Value != value || !slices.Equal(ev.Headers, headers) || ev.Partition != 0 || ev.Offset != int64(i) {
			fail("record %d: %+v, want %s=%s %v at p0@%d", i, ev, key, value, headers, i)
		}
	}
}
