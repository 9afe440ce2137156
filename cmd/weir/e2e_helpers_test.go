package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/osfs"
)

// e2eTimeout bounds each client step of the end-to-end tests.
const e2eTimeout = 30 * time.Second

// syncBuffer is a log sink shared by the broker's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testBroker is the real driver serving in-process on 127.0.0.1:0 over osfs.
type testBroker struct {
	addr   string
	logs   *syncBuffer
	cancel context.CancelFunc
	result chan error
	done   bool
}

// brokerProperties is the single-node default listening on 127.0.0.1:0 (the port the kernel
// picks is advertised), with its data in dir and extra lines appended.
func brokerProperties(dir string, extra ...string) string {
	props := strings.Replace(singleNodeProperties, "./weir-data", filepath.ToSlash(dir), 1)
	props = strings.Replace(props, "127.0.0.1:9092", "127.0.0.1:0", 1)
	props = strings.Replace(props, "CONTROLLER://127.0.0.1:9093", "CONTROLLER://127.0.0.1:0", 1) // a sole voter never dials itself
	return props + strings.Join(extra, "\n") + "\n"
}

// startTestBroker starts a broker on dataDir; cleanup stops it (if the test did not) and checks
// that it stopped cleanly.
func startTestBroker(t *testing.T, dataDir string, extra ...string) *testBroker {
	t.Helper()
	return startTestBrokerOn(t, osfs.New(), dataDir, extra...)
}

// startTestBrokerOn is startTestBroker over fsys.
func startTestBrokerOn(t *testing.T, fsys diskio.FS, dataDir string, extra ...string) *testBroker {
	t.Helper()
	cfg := parseConfig(t, brokerProperties(dataDir, extra...))
	b := &testBroker{logs: &syncBuffer{}, result: make(chan error, 1)}
	logger := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	listening := make(chan string, 1)
	go func() {
		b.result <- runBroker(ctx, driverOptions{
			fsys: fsys, cfg: cfg, logger: logger,
			shutdownTimeout: 10 * time.Second,
			listening:       func(a net.Addr) { listening <- a.String() },
		})
	}()
	select {
	case b.addr = <-listening:
	case err := <-b.result:
		cancel()
		t.Fatalf("broker did not start: %v\n%s", err, b.logs)
	case <-time.After(e2eTimeout):
		cancel()
		t.Fatalf("broker not listening within %v\n%s", e2eTimeout, b.logs)
	}
	t.Cleanup(func() {
		if !b.done {
			if err := b.stop(); err != nil {
				t.Errorf("broker stop: %v\n%s", err, b.logs)
			}
		}
		if t.Failed() {
			t.Logf("broker log:\n%s", b.logs)
		}
	})
	return b
}

// stop shuts the broker down as SIGTERM does and returns runBroker's error.
func (b *testBroker) stop() error {
	b.cancel()
	return b.wait()
}

// wait waits for runBroker to return and returns its error.
func (b *testBroker) wait() error {
	b.done = true
	select {
	case err := <-b.result:
		return err
	case <-time.After(e2eTimeout):
		return fmt.Errorf("broker did not stop within %v", e2eTimeout)
	}
}

// newTestClient is a kgo client of addr; closed at cleanup.
func newTestClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	// A short metadata min age: kgo otherwise waits 5 s to look again at a topic being
	// auto-created (LEADER_NOT_AVAILABLE until its metadata records are durable).
	opts = append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(), kgo.RetryTimeout(e2eTimeout), kgo.MetadataMinAge(50 * time.Millisecond)}, opts...)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return client
}

// testRecord is what a test compares: the record as produced and where it landed.
type testRecord struct {
	Partition int32
	Offset    int64
	Key       string
	Value     string
	Headers   string
}

func (r testRecord) String() string {
	return fmt.Sprintf("p%d@%d %q=%q [%s]", r.Partition, r.Offset, r.Key, r.Value, r.Headers)
}

func fromKgo(r *kgo.Record) testRecord {
	var headers []string
	for _, h := range r.Headers {
		headers = append(headers, h.Key+"="+string(h.Value))
	}
	return testRecord{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value), Headers: strings.Join(headers, ",")}
}

// makeRecords builds n records of topic with distinct keys, values of varying sizes (some
// compressible, some not) and headers.
func makeRecords(topic string, n int) []*kgo.Record {
	records := make([]*kgo.Record, n)
	for i := range records {
		value := fmt.Sprintf("value-%d-%s", i, strings.Repeat(string(rune('a'+i%26)), i%200))
		r := &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%d", i), Value: []byte(value)}
		if i%3 != 0 {
			r.Headers = []kgo.RecordHeader{{Key: "seq", Value: fmt.Appendf(nil, "%d", i)}, {Key: "empty"}}
		}
		records[i] = r
	}
	return records
}

// produceAll produces records (acks=all, idempotent: kgo's defaults) and returns them as acknowledged.
func produceAll(t *testing.T, client *kgo.Client, records []*kgo.Record) []testRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	results := client.ProduceSync(ctx, records...)
	acked := make([]testRecord, 0, len(results))
	for _, res := range results {
		if res.Err != nil {
			t.Fatalf("produce %s: %v", res.Record.Key, res.Err)
		}
		acked = append(acked, fromKgo(res.Record))
	}
	return acked
}

// consumeN reads n records of topic from the start of every partition, in (partition, offset)
// order; more than n within a short grace period is an error.
func consumeN(t *testing.T, addr, topic string, n int) []testRecord {
	t.Helper()
	client := newTestClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond))
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	var got []testRecord
	for len(got) < n {
		fetches := client.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records of %s: %v", len(got), n, topic, err)
		}
		fetches.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", topic, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) { got = append(got, fromKgo(r)) })
	}
	// Nothing more may arrive.
	extraCtx, extraCancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer extraCancel()
	client.PollFetches(extraCtx).EachRecord(func(r *kgo.Record) { got = append(got, fromKgo(r)) })
	sortRecords(got)
	return got
}

func sortRecords(rs []testRecord) {
	slices.SortFunc(rs, func(a, b testRecord) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
}

// sameRecords fails the test at the first difference.
func sameRecords(t *testing.T, got, want []testRecord) {
	t.Helper()
	want = slices.Clone(want)
	sortRecords(want)
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("record %d: got %s, want %s", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
}

// listEndOffset is partition 0's log end offset (ListOffsets latest).
func listEndOffset(t *testing.T, addr, topic string) int64 {
	t.Helper()
	client := newTestClient(t, addr)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = 0, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("list offsets of %s: %+v", topic, resp.Topics)
	}
	return resp.Topics[0].Partitions[0].Offset
}
