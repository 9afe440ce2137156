package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// benchLines runs a bench command with --format json and decodes its lines: progress lines,
// then the summary, returned raw for the caller to decode by type.
func benchLines(t *testing.T, args ...string) (progress []map[string]any, summary []byte) {
	t.Helper()
	code, stdout, stderr := runWeirIn(t, "", append(args, "--format", "json")...)
	if code != exitOK {
		t.Fatalf("%q: exit %d, stderr %s", args, code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		want := "progress"
		if i == len(lines)-1 {
			want = "summary"
		}
		if m["type"] != want {
			t.Fatalf("line %d of %d is %q, want type %s", i+1, len(lines), line, want)
		}
		if want == "progress" {
			progress = append(progress, m)
		}
	}
	return progress, []byte(lines[len(lines)-1])
}

func TestBenchProduceConsume(t *testing.T) {
	brokers := "--brokers=" + startKfake(t, 1)

	// Text: the summary counts every record.
	code, stdout, stderr := runWeirIn(t, "", "bench", "produce", "--topic", "b", "--records", "2000", "--record-size", "100",
		"--partitions", "3", "--replication-factor", "1", "--topic-config", "retention.ms=86400001", "--report-interval", "1h", brokers)
	if code != exitOK || !strings.HasPrefix(stdout, "2000 records sent, ") || strings.Count(stdout, "\n") != 1 ||
		!strings.Contains(stdout, " ms 99.9th.\n") || !strings.Contains(stderr, `msg="created topic" topic=b partitions=3 replication_factor=1`) {
		t.Errorf("bench produce: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// JSON, rate-limited so that progress lines appear; gzip and acks=1.
	progress, line := benchLines(t, "bench", "produce", "--topic", "b", "--records", "2000", "--record-size", "100", "--partitions", "3",
		"--target-rate", "20000", "--report-interval", "10ms", "-z", "gzip", "--acks", "1", brokers)
	var summary benchProduceSummaryJSON
	if err := json.Unmarshal(line, &summary); err != nil {
		t.Fatal(err)
	}
	if summary.Records != 2000 || summary.Failed != 0 || summary.Bytes != 200000 {
		t.Errorf("summary %+v", summary)
	}
	quantiles := []float64{summary.LatencyP50Ms, summary.LatencyP95Ms, summary.LatencyP99Ms, summary.LatencyP999Ms, summary.LatencyMaxMs}
	for i := 1; i < len(quantiles); i++ {
		if quantiles[i] < quantiles[i-1] {
			t.Errorf("quantiles decrease: %v", quantiles)
		}
	}
	if summary.LatencyAvgMs > summary.LatencyMaxMs || summary.LatencyAvgMs <= 0 {
		t.Errorf("average %v, max %v", summary.LatencyAvgMs, summary.LatencyMaxMs)
	}
	var progressRecords float64
	for _, p := range progress {
		progressRecords += p["records"].(float64)
	}
	if len(progress) == 0 || progressRecords > 2000 {
		t.Errorf("%d progress lines counting %v records", len(progress), progressRecords)
	}

	// The topic holds both runs: 4000 records over its 3 partitions.
	code, stdout, stderr = runWeirIn(t, "", "topic", "describe", "b", "-p", "-c", "--format", "json", brokers)
	var described []topicJSON
	if err := json.Unmarshal([]byte(stdout), &described); code != exitOK || err != nil || len(described) != 1 {
		t.Fatalf("describe: exit %d, %v, stderr %s", code, err, stderr)
	}
	var total int64
	for _, p := range described[0].PartitionList {
		total += *p.HighWatermark
	}
	if len(described[0].PartitionList) != 3 || total != 4000 {
		t.Errorf("%d partitions holding %d records, want 3 and 4000", len(described[0].PartitionList), total)
	}
	if !slices.ContainsFunc(described[0].Configs, func(c configJSON) bool { return c.Key == "retention.ms" && c.Value != nil && *c.Value == "86400001" }) {
		t.Errorf("--topic-config retention.ms=86400001 not among the topic's configs %+v", described[0].Configs)
	}

	code, stdout, stderr = runWeirIn(t, "", "bench", "consume", "--topic", "b", "--records", "4000", brokers)
	if code != exitOK || !strings.HasPrefix(stdout, "4000 records received in ") || !strings.Contains(stdout, " ms to first record.\n") {
		t.Errorf("bench consume: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	_, line = benchLines(t, "bench", "consume", "--topic", "b", "--records", "3000", "--report-interval", "1ms", brokers)
	var consumed benchConsumeSummaryJSON
	if err := json.Unmarshal(line, &consumed); err != nil || consumed.Records != 3000 || consumed.Bytes != 300000 || consumed.FirstRecordMs > consumed.ElapsedMs {
		t.Errorf("consume summary %+v, %v", consumed, err)
	}
	// Asking for more records than there are fails after the idle timeout.
	code, _, stderr = runWeirIn(t, "", "bench", "consume", "--topic", "b", "--records", "4001", "--idle-timeout", "300ms", brokers)
	if code != exitError || !strings.Contains(stderr, "no record for --idle-timeout 300ms after 4000 of 4001 records") {
		t.Errorf("bench consume 4001: exit %d, stderr %q", code, stderr)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bench"},
		{"bench", "produce", "--records", "1", "--record-size", "1"},
		{"bench", "produce", "--topic", "t", "--records", "0", "--record-size", "1"},
		{"bench", "produce", "--topic", "t", "--records", "1", "--record-size", "-1"},
		{"bench", "produce", "--topic", "t", "--records", "1", "--acks", "2"},
		{"bench", "produce", "--topic", "t", "--records", "1", "-z", "brotli"},
		{"bench", "produce", "--topic", "t", "--records", "1", "--report-interval", "0s"},
		{"bench", "produce", "--topic", "t", "--records", "1", "--replication-factor", "0"},
		{"bench", "produce", "--topic", "t", "--records", "1", "--topic-config", "novalue"},
		{"bench", "consume", "--records", "1"},
		{"bench", "consume", "--topic", "t"},
		{"bench", "consume", "--topic", "t", "--records", "1", "--idle-timeout", "0s"},
		{"topic"},
		{"topic", "create"},
		{"topic", "create", "t", "-p", "0"},
		{"topic", "create", "t", "-r", "40000"},
		{"topic", "create", "t", "-c", "novalue"},
		{"topic", "add-partitions", "t"},
		{"topic", "alter-config", "t"},
		{"topic", "alter-config", "t", "--set", "a=1", "--delete", "a"},
		{"topic", "produce"},
		{"topic", "produce", "t", "--acks", "-2"},
		{"topic", "produce", "t", "-H", "nokey"},
		{"topic", "consume", "t", "-n", "-1"},
		{"topic", "list", "--brokers", " , "},
		{"topic", "list", "--timeout", "-1s"},
	} {
		// A usage error is found before any connection: the brokers need not exist.
		code, _, stderr := runWeirIn(t, "", args...)
		if code != exitUsage || !strings.HasPrefix(stderr, "weir "+args[0]) {
			t.Errorf("%q: exit %d, stderr %q, want a usage error", args, code, stderr)
		}
	}
}
