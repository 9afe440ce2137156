package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// consumeJSON runs topic consume with --format json and decodes its lines.
func consumeJSON(t *testing.T, args ...string) []consumedJSON {
	t.Helper()
	code, stdout, stderr := runWeirIn(t, "", append([]string{"topic", "consume", "--format", "json"}, args...)...)
	if code != exitOK {
		t.Fatalf("consume %q: exit %d, stderr %s", args, code, stderr)
	}
	var records []consumedJSON
	for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		if line == "" {
			continue
		}
		var r consumedJSON
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("consume output line %q: %v", line, err)
		}
		records = append(records, r)
	}
	return records
}

// offsetsOf lists the records' partition:offset pairs and values.
func offsetsOf(records []consumedJSON) string {
	var s []string
	for _, r := range records {
		value := "null"
		if r.Value != nil {
			value = *r.Value
		}
		s = append(s, fmt.Sprintf("%d:%d=%s", r.Partition, r.Offset, value))
	}
	return strings.Join(s, " ")
}

func TestProduceConsumeEachCodec(t *testing.T) {
	codecs := []string{"none", "gzip", "snappy", "lz4", "zstd"}
	topics := make([]string, len(codecs))
	for i, c := range codecs {
		topics[i] = "codec-" + c
	}
	brokers := "--brokers=" + startKfake(t, 1, topics...)
	// Keys and values with the delimiter inside, empty parts, a tab and a non-UTF-8 byte.
	stdin := "k1|v1\nk2|\n|v3\nk4|a|b\r\nk5|tab\there\nk6|\xff\n"
	for i, codec := range codecs {
		t.Run(codec, func(t *testing.T) {
			before := time.Now().UnixMilli()
			var wantProduced strings.Builder
			for offset := range 6 {
				fmt.Fprintf(&wantProduced, "Produced to partition 0 at offset %d\n", offset)
			}
			wantRun(t, stdin, exitOK, wantProduced.String(), "topic", "produce", topics[i], "--key-delim", "|",
				"-H", "h1=x", "-H", "h2=", "-H", "h3=a=b", "-z", codec, brokers)
			after := time.Now().UnixMilli()

			code, stdout, stderr := runWeirIn(t, "", "topic", "consume", topics[i], "-n", "6", brokers)
			text := regexp.MustCompile(`CreateTime:\d+`).ReplaceAllString(stdout, "CreateTime:TS")
			headers := "Headers:h1:x,h2:,h3:a=b"
			want := strings.ReplaceAll(`CreateTime:TS	Topic:T	Partition:0	Offset:0	H	k1	v1
CreateTime:TS	Topic:T	Partition:0	Offset:1	H	k2	
CreateTime:TS	Topic:T	Partition:0	Offset:2	H		v3
CreateTime:TS	Topic:T	Partition:0	Offset:3	H	k4	a|b
CreateTime:TS	Topic:T	Partition:0	Offset:4	H	k5	"tab\there"
CreateTime:TS	Topic:T	Partition:0	Offset:5	H	k6	"\xff"
`, "\tH\t", "\t"+headers+"\t")
			want = strings.ReplaceAll(want, "Topic:T", "Topic:"+topics[i])
			if code != exitOK || text != want {
				t.Errorf("consume text: exit %d, stderr %s\n%s\nwant\n%s", code, stderr, text, want)
			}

			records := consumeJSON(t, topics[i], "-n", "6", brokers)
			wantKV := [][2]string{{"k1", "v1"}, {"k2", ""}, {"", "v3"}, {"k4", "a|b"}, {"k5", "tab\there"}}
			if len(records) != 6 {
				t.Fatalf("%d records, want 6", len(records))
			}
			for offset, r := range records {
				if r.Topic != topics[i] || r.Partition != 0 || r.Offset != int64(offset) || r.TimestampType != "CreateTime" ||
					r.TimestampMs < before || r.TimestampMs > after {
					t.Errorf("record %d: %+v (timestamps from %d to %d)", offset, r, before, after)
				}
				if len(r.Headers) != 3 || r.Headers[0].Key != "h1" || *r.Headers[0].Value != "x" || r.Headers[1].Key != "h2" ||
					*r.Headers[1].Value != "" || r.Headers[2].Key != "h3" || *r.Headers[2].Value != "a=b" {
					t.Errorf("record %d: headers %+v", offset, r.Headers)
				}
				if offset < len(wantKV) {
					if r.Key == nil || r.Value == nil || *r.Key != wantKV[offset][0] || *r.Value != wantKV[offset][1] {
						t.Errorf("record %d: key %v value %v, want %q", offset, r.Key, r.Value, wantKV[offset])
					}
				}
			}
			checkStoredCodec(t, brokers, topics[i], codec, 6)
			// Bytes that are not UTF-8 come as base64.
			if last := records[5]; *last.Key != "k6" || last.Value != nil || string(last.ValueBase64) != "\xff" {
				t.Errorf("record 5: %+v", last)
			}
		})
	}
}

// checkStoredCodec reads the topic's partition 0 with franz-go directly and checks that each of
// the first n records came in a batch compressed with codec.
func checkStoredCodec(t *testing.T, brokers, topic, codec string, n int) {
	t.Helper()
	wantCodec := map[string]uint8{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}[codec]
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.TrimPrefix(brokers, "--brokers=")),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	seen := 0
	for seen < n && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			seen++
			if got := r.Attrs.CompressionType(); got != wantCodec {
				t.Errorf("offset %d: codec %d, want %d (%s)", r.Offset, got, wantCodec, codec)
			}
		})
	}
	if seen < n {
		t.Errorf("read %d records, want %d", seen, n)
	}
}

func TestProduceOptions(t *testing.T) {
	brokers := "--brokers=" + startKfake(t, 2, "p")

	// Without --key-delim a line is a null-key value; -p picks the partition.
	wantRun(t, "a\n\nb", exitOK, "Produced to partition 1 at offset 0\nProduced to partition 1 at offset 1\nProduced to partition 1 at offset 2\n",
		"topic", "produce", "p", "-p", "1", brokers)
	records := consumeJSON(t, "p", "-p", "1", "--until-end", brokers)
	if got := offsetsOf(records); got != "1:0=a 1:1= 1:2=b" || records[0].Key != nil || len(records[0].Headers) != 0 {
		t.Errorf("consumed %s, first %+v", got, records[0])
	}
	// acks=1 reports offsets; acks=0 cannot.
	wantRun(t, "c\n", exitOK, "Produced to partition 0 at offset 0\n", "topic", "produce", "p", "-p", "0", "--acks", "1", brokers)
	wantRun(t, "d\n", exitOK, "Produced to partition 0 (acks=0: no offset)\n", "topic", "produce", "p", "-p", "0", "--acks", "0", brokers)
	// Nothing answers an acks=0 produce, so the command exits before the broker may have
	// appended it; the next command's connection could overtake it. Wait until it is there.
	for i := 0; ; i++ {
		got := offsetsOf(consumeJSON(t, "p", "-p", "0", "--until-end", brokers))
		if got == "0:0=c 0:1=d" {
			break
		}
		if i == 100 {
			t.Fatalf("the acks=0 record never arrived: partition 0 holds %s", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// --max-records bounds the input read.
	wantRun(t, "e\nf\ng\n", exitOK, "Produced to partition 0 at offset 2\nProduced to partition 0 at offset 3\n",
		"topic", "produce", "p", "-p", "0", "--max-records", "2", brokers)
	// A line without the delimiter stops the input; what came before is produced.
	stderr := wantRun(t, "k|v\nnokey\nk|w\n", exitError, "Produced to partition 0 at offset 4\n",
		"topic", "produce", "p", "-p", "0", "--key-delim", "|", brokers)
	if !strings.Contains(stderr, "weir topic produce: reading stdin: line 2 has no key delimiter \"|\"") {
		t.Errorf("stderr %q", stderr)
	}
	stderr = wantRun(t, "abc\nabcd\n", exitError, "Produced to partition 0 at offset 5\n",
		"topic", "produce", "p", "-p", "0", "--max-line-bytes", "3", brokers)
	if !strings.Contains(stderr, "a line is longer than --max-line-bytes 3") {
		t.Errorf("stderr %q", stderr)
	}
	if got := offsetsOf(consumeJSON(t, "p", "-p", "0", "--until-end", brokers)); got != "0:0=c 0:1=d 0:2=e 0:3=f 0:4=v 0:5=abc" {
		t.Errorf("partition 0 holds %s", got)
	}
	// JSON output parses and says where each record went.
	code, stdout, stderr := runWeirIn(t, "x\ny\n", "topic", "produce", "p", "-p", "1", "--format", "json", brokers)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if code != exitOK || len(lines) != 2 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for i, line := range lines {
		var p producedJSON
		if err := json.Unmarshal([]byte(line), &p); err != nil || p.Topic != "p" || p.Partition != 1 || p.Offset != int64(3+i) || p.TimestampMs == 0 {
			t.Errorf("line %q: %+v, %v", line, p, err)
		}
	}

	// Producing to a partition that does not exist fails.
	code, _, stderr = runWeirIn(t, "x\n", "topic", "produce", "p", "-p", "7", "--timeout", "2s", brokers)
	if code != exitError || !strings.Contains(stderr, "1 of 1 records failed") {
		t.Errorf("partition 7: exit %d, stderr %q", code, stderr)
	}
}

func TestConsumeOffsets(t *testing.T) {
	brokers := "--brokers=" + startKfake(t, 2, "o")
	wantRun(t, "v0\nv1\nv2\nv3\nv4\n", exitOK, "Produced to partition 0 at offset 0\nProduced to partition 0 at offset 1\nProduced to partition 0 at offset 2\nProduced to partition 0 at offset 3\nProduced to partition 0 at offset 4\n",
		"topic", "produce", "o", "-p", "0", brokers)
	time.Sleep(5 * time.Millisecond)
	middleMs := time.Now().UnixMilli()
	time.Sleep(5 * time.Millisecond)
	code, _, stderr := runWeirIn(t, "v5\nv6\nv7\nv8\nv9\n", "topic", "produce", "o", "-p", "0", brokers)
	if code != exitOK {
		t.Fatalf("produce: %s", stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", "3"}, "0:0=v0 0:1=v1 0:2=v2"},
		{[]string{"-o", "start", "-p", "0", "--until-end"}, "0:0=v0 0:1=v1 0:2=v2 0:3=v3 0:4=v4 0:5=v5 0:6=v6 0:7=v7 0:8=v8 0:9=v9"},
		{[]string{"-o", "7", "--until-end"}, "0:7=v7 0:8=v8 0:9=v9"},
		{[]string{"-o", "7", "-n", "2"}, "0:7=v7 0:8=v8"},
		{[]string{"-o", "-2", "--until-end"}, "0:8=v8 0:9=v9"},
		{[]string{"-o", "-100", "-p", "0", "-n", "1"}, "0:0=v0"},
		{[]string{"-o", "@" + fmt.Sprint(middleMs), "--until-end"}, "0:5=v5 0:6=v6 0:7=v7 0:8=v8 0:9=v9"},
		{[]string{"-o", "@" + fmt.Sprint(time.Now().Add(time.Hour).UnixMilli()), "--until-end"}, ""},
		{[]string{"-o", "100", "--until-end"}, ""},
		{[]string{"-o", "end", "--until-end"}, ""},
		{[]string{"-p", "1", "--until-end"}, ""},
	} {
		if got := offsetsOf(consumeJSON(t, append([]string{"o", brokers}, tc.args...)...)); got != tc.want {
			t.Errorf("consume %q: %s, want %s", tc.args, got, tc.want)
		}
	}

	// -o end sees only records produced after it started.
	done := make(chan []consumedJSON, 1)
	go func() { done <- consumeJSON(t, "o", "-p", "0", "-o", "end", "-n", "1", brokers) }()
	var late []consumedJSON
	for late == nil {
		runWeirIn(t, "late\n", "topic", "produce", "o", "-p", "0", brokers)
		select {
		case late = <-done:
		case <-time.After(100 * time.Millisecond):
		}
	}
	if len(late) != 1 || late[0].Offset < 10 || *late[0].Value != "late" {
		t.Errorf("-o end: %+v", late)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"o", "-o", "bogus"}, exitUsage, `--offset "bogus": want start, end, N, -N or @UNIX_MS`},
		{[]string{"o", "-o", "@x"}, exitUsage, `--offset "@x"`},
		{[]string{"o", "-p", "5"}, exitError, "topic o has no partition 5"},
		{[]string{"nope"}, exitError, "topic nope: UNKNOWN_TOPIC_OR_PARTITION"},
		{[]string{"o", "--format", "yaml"}, exitUsage, `--format "yaml": want text or json`},
	} {
		code, _, stderr := runWeirIn(t, "", append([]string{"topic", "consume", brokers}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("consume %q: exit %d, stderr %q, want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}

// TestClientCommandsLeaveNoGoroutines runs every client command and checks that the goroutine
// count comes back down: clients are closed, readers and reporters stopped.
func TestClientCommandsLeaveNoGoroutines(t *testing.T) {
	brokers := "--brokers=" + startKfake(t, 1, "g")
	// One command first, so that kfake's per-connection goroutines and os/signal's one
	// goroutine per process (started by the first signal.Notify) are in the baseline.
	runWeirIn(t, "", "topic", "produce", "g", brokers)
	baseline := steadyGoroutines()
	for _, args := range [][]string{
		{"topic", "create", "g2"},
		{"topic", "list", "-d"},
		{"topic", "describe", "g"},
		{"topic", "describe", "g", "--format", "kafka"},
		{"cluster", "reassign", "list"},
		{"cluster", "elect-leaders", "--election-type", "PREFERRED", "--all-topic-partitions"},
		{"topic", "produce", "g"},
		{"topic", "consume", "g", "-n", "2"},
		{"topic", "add-partitions", "g2", "--num", "1"},
		{"topic", "alter-config", "g2", "--set", "retention.ms=1"},
		{"topic", "delete", "g2"},
		{"bench", "produce", "--topic", "g", "--records", "10", "--record-size", "1", "--report-interval", "1ms"},
		{"bench", "consume", "--topic", "g", "--records", "12", "--report-interval", "1ms"},
	} {
		if code, _, stderr := runWeirIn(t, "a\nb\n", append(args, brokers)...); code != exitOK {
			t.Fatalf("%q: exit %d, stderr %s", args, code, stderr)
		}
	}
	if n := waitGoroutines(t, baseline); n > baseline {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines, %d before the commands:\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
	}
}

// steadyGoroutines waits until the goroutine count holds still for 100 ms, and returns it.
func steadyGoroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			break
		}
		n = m
	}
	return n
}

// waitGoroutines waits up to 5 s for the goroutine count to fall to target, and returns it.
func waitGoroutines(t *testing.T, target int) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	n := runtime.NumGoroutine()
	for n > target && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}
