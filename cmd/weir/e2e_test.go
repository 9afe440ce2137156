package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/errorfs"
	"github.com/weirdata/weir/diskio/osfs"
)

// End-to-end tests: the real driver (runBroker) in-process on 127.0.0.1:0 over osfs, spoken to
// by franz-go's kgo and by the weir CLI, each asserting exact records and offsets.

// TestE2EProduceConsumeCodecs: 1000 records per codec, acks=all and idempotent (kgo's
// defaults), into auto-created topics, read back byte for byte with their offsets.
func TestE2EProduceConsumeCodecs(t *testing.T) {
	b := startTestBroker(t, t.TempDir())
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	for _, name := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(name, func(t *testing.T) {
			topic := "codec-" + name
			producer := newTestClient(t, b.addr, kgo.ProducerBatchCompression(codecs[name]))
			acked := produceAll(t, producer, makeRecords(topic, 1000))
			for i, r := range acked {
				if r.Partition != 0 || r.Offset != int64(i) {
					t.Fatalf("record %d acknowledged at p%d@%d, want p0@%d (one partition by default)", i, r.Partition, r.Offset, i)
				}
			}
			sameRecords(t, consumeN(t, b.addr, topic, 1000), acked)
		})
	}
}

// TestE2ECreateTopicsAndMetadata: CreateTopics with 3 partitions, then Metadata lists them, led
// by this node at the address it listens on.
func TestE2ECreateTopicsAndMetadata(t *testing.T) {
	b := startTestBroker(t, t.TempDir())
	client := newTestClient(t, b.addr)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()

	create := kmsg.NewPtrCreateTopicsRequest()
	topic := kmsg.NewCreateTopicsRequestTopic()
	topic.Topic, topic.NumPartitions, topic.ReplicationFactor = "orders", 3, 1
	create.Topics = append(create.Topics, topic)
	create.TimeoutMillis = 10_000
	resp, err := create.RequestWith(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || resp.Topics[0].NumPartitions != 3 {
		t.Fatalf("create: %+v", resp.Topics)
	}
	// Creating it again is TOPIC_ALREADY_EXISTS (36).
	again, err := create.RequestWith(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if again.Topics[0].ErrorCode != 36 {
		t.Fatalf("second create: error %d, want 36", again.Topics[0].ErrorCode)
	}

	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("orders")
	meta.Topics = append(meta.Topics, mt)
	mresp, err := meta.RequestWith(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if len(mresp.Brokers) != 1 || fmt.Sprintf("%s:%d", mresp.Brokers[0].Host, mresp.Brokers[0].Port) != b.addr || mresp.Brokers[0].NodeID != 1 {
		t.Fatalf("brokers %+v, want node 1 at %s", mresp.Brokers, b.addr)
	}
	if len(mresp.Topics) != 1 || mresp.Topics[0].ErrorCode != 0 || len(mresp.Topics[0].Partitions) != 3 {
		t.Fatalf("metadata topics %+v", mresp.Topics)
	}
	if mresp.Topics[0].TopicID == ([16]byte{}) || mresp.Topics[0].TopicID != resp.Topics[0].TopicID {
		t.Fatalf("topic id %v, created as %v", mresp.Topics[0].TopicID, resp.Topics[0].TopicID)
	}
	for i, p := range mresp.Topics[0].Partitions {
		if p.Partition != int32(i) || p.Leader != 1 || p.ErrorCode != 0 {
			t.Fatalf("partition %d: %+v", i, p)
		}
	}
}

// TestE2EListOffsets: earliest and latest offsets after producing to a three-partition topic.
func TestE2EListOffsets(t *testing.T) {
	b := startTestBroker(t, t.TempDir(), "num.partitions=3")
	client := newTestClient(t, b.addr)
	records := makeRecords("offsets", 60)
	for i, r := range records {
		r.Partition = int32(i % 3) // 20 each
	}
	manual := newTestClient(t, b.addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceAll(t, manual, records)

	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	for _, tc := range []struct {
		timestamp int64
		want      int64
	}{{-2, 0}, {-1, 20}} {
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "offsets"
		for p := range int32(3) {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = p, tc.timestamp
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, client)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 3 {
			t.Fatalf("list offsets %d: %+v", tc.timestamp, resp.Topics)
		}
		for _, p := range resp.Topics[0].Partitions {
			if p.ErrorCode != 0 || p.Offset != tc.want {
				t.Fatalf("list offsets %d, partition %d: error %d offset %d, want offset %d", tc.timestamp, p.Partition, p.ErrorCode, p.Offset, tc.want)
			}
		}
	}
}

// TestE2ERestart: a clean stop and a start on the same directory serve the same records at the
// same offsets, and producing continues after them.
func TestE2ERestart(t *testing.T) {
	dir := t.TempDir()
	b := startTestBroker(t, dir, "num.partitions=3")
	acked := produceAll(t, newTestClient(t, b.addr), makeRecords("durable", 500))
	sameRecords(t, consumeN(t, b.addr, "durable", 500), acked)
	if err := b.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, b.logs)
	}
	for _, name := range []string{"recovery-point-offset-checkpoint", "log-start-offset-checkpoint"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("clean shutdown left no %s: %v", name, err)
		}
	}

	if snapshots, _ := filepath.Glob(filepath.Join(dir, "durable-*", "*.snapshot")); len(snapshots) != 3 {
		t.Errorf("clean shutdown left producer snapshots %q, want one per partition", snapshots)
	}

	b = startTestBroker(t, dir, "num.partitions=3")
	sameRecords(t, consumeN(t, b.addr, "durable", 500), acked)
	more := produceAll(t, newTestClient(t, b.addr), makeRecords("durable", 100))
	sameRecords(t, consumeN(t, b.addr, "durable", 600), append(acked, more...))
}

// TestE2ECommandLine: weir's own topic commands against the real broker.
func TestE2ECommandLine(t *testing.T) {
	b := startTestBroker(t, t.TempDir())
	brokers := "--brokers=" + b.addr
	wantRun(t, "", exitOK, "TOPIC  STATUS\ncli    OK\n", "topic", "create", "cli", "-p", "2", brokers)
	stdin := "k1:one\nk2:two\nk3:three\n"
	code, stdout, stderr := runWeirIn(t, stdin, "topic", "produce", "cli", "-p", "1", "--key-delim", ":", "-H", "h=v", "-z", "zstd", brokers)
	if code != exitOK {
		t.Fatalf("produce: exit %d, stderr %s", code, stderr)
	}
	wantProduced := "Produced to partition 1 at offset 0\nProduced to partition 1 at offset 1\nProduced to partition 1 at offset 2\n"
	if stdout != wantProduced {
		t.Fatalf("produce stdout %q, want %q", stdout, wantProduced)
	}
	code, stdout, stderr = runWeirIn(t, "", "topic", "consume", "cli", "-n", "3", "--format", "json", brokers)
	if code != exitOK {
		t.Fatalf("consume: exit %d, stderr %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("consume printed %d lines, want 3:\n%s", len(lines), stdout)
	}
	for i, want := range []string{`"key":"k1"`, `"key":"k2"`, `"key":"k3"`} {
		for _, part := range []string{want, `"partition":1`, fmt.Sprintf(`"offset":%d`, i), `"h"`} {
			if !strings.Contains(lines[i], part) {
				t.Errorf("consumed line %d %s lacks %s", i, lines[i], part)
			}
		}
	}
	code, stdout, stderr = runWeirIn(t, "", "topic", "describe", "cli", brokers)
	if code != exitOK || !strings.Contains(stdout, "cli") {
		t.Fatalf("describe: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestE2ESyncFailureStops: a failed fdatasync poisons the log; the driver stops serving and
// returns the error without writing checkpoints, the produce it covered is not acknowledged,
// and a restart serves what was acknowledged before.
func TestE2ESyncFailureStops(t *testing.T) {
	dir := t.TempDir()
	faults := errorfs.NewToggle(errorfs.When(errorfs.And(errorfs.Kinds(errorfs.OpSyncData),
		errorfs.PathPrefix(filepath.ToSlash(filepath.Join(dir, "doomed-0")))), errorfs.Always()))
	b := startTestBrokerOn(t, errorfs.Wrap(osfs.New(), faults), dir)
	producer := newTestClient(t, b.addr)
	acked := produceAll(t, producer, makeRecords("doomed", 10))

	faults.On()
	// Asynchronously: kgo keeps a record whose broker is gone buffered (Close fails it).
	acks := make(chan error, 1)
	producer.Produce(context.Background(), &kgo.Record{Topic: "doomed", Value: []byte("never acknowledged")},
		func(r *kgo.Record, err error) { acks <- err })
	err := b.wait()
	if err == nil || !errors.Is(err, diskio.ErrInjected) {
		t.Fatalf("runBroker returned %v, want the injected sync failure", err)
	}
	if !strings.Contains(b.logs.String(), "storage failure") {
		t.Fatalf("no storage failure logged:\n%s", b.logs)
	}
	producer.Close()
	select {
	case err := <-acks:
		if err == nil {
			t.Fatalf("a produce whose sync failed was acknowledged")
		}
	case <-time.After(e2eTimeout):
		t.Fatalf("the record was neither acknowledged nor failed by Close")
	}

	b = startTestBroker(t, dir)
	got := consumeN(t, b.addr, "doomed", len(acked))
	for i, r := range got {
		if i >= len(acked) && r.Value != "never acknowledged" {
			t.Fatalf("unexpected record after the acknowledged ones: %s", r)
		}
	}
	sameRecords(t, got[:min(len(got), len(acked))], acked)
}

// TestE2EShutdownAnswersLongPoll: a clean shutdown answers a parked long-poll fetch at once
// (Node.Drain) instead of cutting its connection when the drain times out.
func TestE2EShutdownAnswersLongPoll(t *testing.T) {
	b := startTestBroker(t, t.TempDir())
	client := newTestClient(t, b.addr)
	acked := produceAll(t, client, makeRecords("poll", 1))
	if len(acked) != 1 || acked[0].Offset != 0 {
		t.Fatalf("produce: acknowledged %+v", acked)
	}

	// kgo sends the highest version both sides support (v13+ names topics by id).
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("poll")
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(context.Background(), client)
	if err != nil || len(mresp.Topics) != 1 || mresp.Topics[0].ErrorCode != 0 {
		t.Fatalf("metadata: %+v, %v", mresp, err)
	}

	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 60_000 // far past the test broker's 10 s drain timeout
	req.MinBytes = 1
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "poll"
	rt.TopicID = mresp.Topics[0].TopicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = acked[0].Partition
	rp.FetchOffset = 1 // the log end: nothing to answer with until the wait ends
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	type answer struct {
		resp kmsg.Response
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
		defer cancel()
		resp, err := client.Request(ctx, req)
		answered <- answer{resp, err}
	}()
	// Let the fetch reach the broker and park: a request not yet read when the drain starts is
	// never read (the connection closes), which is not what this test is about.
	time.Sleep(time.Second)

	stopped := make(chan error, 1)
	go func() { stopped <- b.stop() }()
	select {
	case a := <-answered:
		if a.err != nil {
			t.Fatalf("long-poll fetch during shutdown: %v", a.err)
		}
		resp := a.resp.(*kmsg.FetchResponse)
		if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("long-poll fetch during shutdown: %+v", resp)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.HighWatermark != 1 || len(p.RecordBatches) != 0 {
			t.Fatalf("long-poll fetch during shutdown: partition error %d, hw %d, %d bytes", p.ErrorCode, p.HighWatermark, len(p.RecordBatches))
		}
	case err := <-stopped:
		t.Fatalf("broker stopped (%v) before answering the parked fetch\n%s", err, b.logs)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v\n%s", err, b.logs)
	}
	if strings.Contains(b.logs.String(), "connections closed before their requests were answered") {
		t.Errorf("shutdown cut connections:\n%s", b.logs)
	}
}
