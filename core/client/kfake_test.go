package client_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/core/client"
)

// TestKfakeProduceFetch drives the Client over loopback TCP against franz-go's kfake: create a
// topic, produce 100 records idempotently in ten pipelined batches, read them back, and check
// every offset and value.
func TestKfakeProduceFetch(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)

	start := time.Now()
	cfg := client.DefaultConfig(cluster.ListenAddrs()...)
	cfg.ClientID = "weir-client-test"
	cfg.WallClockBaseMs = start.UnixMilli()
	cfg.FetchMaxWaitMs = 50
	cfg.FetchPartitionMaxBytes = 600 // a few batches per fetch: several fetches, cut batches
	c := client.New(cfg, rand.New(rand.NewPCG(1, 2)))
	d := newTCPDriver(t, c, start)
	const topic = "weir-client-it"

	_, r := c.CreateTopic(client.TopicSpec{Name: topic, Partitions: 1, ReplicationFactor: 1}, d.nowNs())
	d.apply(r)
	d.runUntil(20*time.Second, func() bool { return len(d.admin) == 1 })
	if a := d.admin[0]; a.ErrorCode != 0 || a.Kind != client.AdminCreateTopic {
		t.Fatalf("create topic: %+v", a)
	}

	const batches, perBatch = 10, 10
	for b := range batches {
		records := make([]check.Record, perBatch)
		for i := range records {
			n := b*perBatch + i
			records[i] = check.Record{Key: fmt.Sprintf("k%d", n%3), Value: fmt.Sprintf("v-%03d", n)}
		}
		_, r := c.Produce(topic, 0, records, d.nowNs())
		d.apply(r)
	}
	d.runUntil(20*time.Second, func() bool { return len(d.completed) == batches })
	for _, op := range d.completed {
		if op.Outcome != check.OutcomeOK || !op.Idempotent || op.Kind != check.OpProduce {
			t.Fatalf("produce %d: %v %q", op.Seq, op.Outcome, op.Err)
		}
		b := int(op.Seq) - 2 // op 1 was the CreateTopic
		for i, rec := range op.Records {
			want := int64(b*perBatch + i)
			if rec.Offset != want || rec.Value != fmt.Sprintf("v-%03d", want) {
				t.Fatalf("produce %d record %d: offset %d value %q, want offset %d", op.Seq, i, rec.Offset, rec.Value, want)
			}
		}
	}

	// Read back from offset 0 until all 100 records are seen.
	var read []check.Record
	for fetches := 0; len(read) < batches*perBatch; fetches++ {
		if fetches > 50 {
			t.Fatalf("after %d fetches only %d records", fetches, len(read))
		}
		d.completed = nil
		_, r := c.Fetch(topic, 0, int64(len(read)), d.nowNs())
		d.apply(r)
		d.runUntil(20*time.Second, func() bool { return len(d.completed) == 1 })
		op := d.completed[0]
		if op.Outcome != check.OutcomeOK || op.Kind != check.OpFetch {
			t.Fatalf("fetch from %d: %v %q", op.FetchOffset, op.Outcome, op.Err)
		}
		if op.HighWatermark != batches*perBatch || op.LogStartOffset != 0 {
			t.Fatalf("fetch: high watermark %d, log start %d", op.HighWatermark, op.LogStartOffset)
		}
		if len(op.Records) == 0 {
			t.Fatalf("fetch from %d returned nothing", op.FetchOffset)
		}
		read = append(read, op.Records...)
	}
	t.Logf("read %d records", len(read))
	for i, rec := range read {
		if rec.Offset != int64(i) || rec.Value != fmt.Sprintf("v-%03d", i) || rec.Key != fmt.Sprintf("k%d", i%3) {
			t.Fatalf("record %d: %+v", i, rec)
		}
	}

	// Past the end: nothing (after the max wait); below the start is out of range for kfake
	// only when deleted, so ask past the end + 1 for OFFSET_OUT_OF_RANGE.
	d.completed = nil
	_, r = c.Fetch(topic, 0, batches*perBatch+5, d.nowNs())
	d.apply(r)
	d.runUntil(20*time.Second, func() bool { return len(d.completed) == 1 })
	if op := d.completed[0]; op.Outcome != check.OutcomeFailed || op.Err != "OFFSET_OUT_OF_RANGE" {
		t.Fatalf("fetch past the end: %v %q", op.Outcome, op.Err)
	}

	_, r = c.ListOffsets(topic, 0, client.ListOffsetsLatest, d.nowNs())
	d.apply(r)
	d.runUntil(20*time.Second, func() bool { return len(d.admin) == 2 })
	if a := d.admin[1]; a.ErrorCode != 0 || a.Offset != batches*perBatch {
		t.Fatalf("list offsets: %+v", a)
	}
	if c.Pending() != 0 {
		t.Fatalf("%d operations still pending", c.Pending())
	}
}

// spreadPartitions is TestKfakeThreeBrokers' partition count: kfake places leaders at random,
// so enough partitions that all landing on one of the three brokers (3·3^-16) never happens.
const spreadPartitions = 16

// TestKfakeThreeBrokers routes produces and fetches of spreadPartitions partitions to their
// leaders among three kfake brokers.
func TestKfakeThreeBrokers(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(spreadPartitions, "spread"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	start := time.Now()
	cfg := client.DefaultConfig(cluster.ListenAddrs()[0])
	cfg.WallClockBaseMs = start.UnixMilli()
	cfg.FetchMaxWaitMs = 50
	c := client.New(cfg, rand.New(rand.NewPCG(3, 4)))
	d := newTCPDriver(t, c, start)
	const perPartition = 30
	for i := range perPartition {
		for p := range int32(spreadPartitions) {
			_, r := c.Produce("spread", p, []check.Record{{Value: fmt.Sprintf("p%d-%d", p, i)}}, d.nowNs())
			d.apply(r)
		}
	}
	d.runUntil(20*time.Second, func() bool { return len(d.completed) == spreadPartitions*perPartition })
	next := [spreadPartitions]int64{}
	for _, op := range d.completed {
		if op.Outcome != check.OutcomeOK {
			t.Fatalf("produce %d: %v %q", op.Seq, op.Outcome, op.Err)
		}
		// Each partition's produces are acknowledged in order, at consecutive offsets.
		if op.Records[0].Offset != next[op.Partition] {
			t.Fatalf("partition %d: offset %d, want %d", op.Partition, op.Records[0].Offset, next[op.Partition])
		}
		next[op.Partition]++
	}
	leaders := map[string]bool{}
	for p := range int32(spreadPartitions) {
		d.completed = nil
		_, r := c.Fetch("spread", p, 0, d.nowNs())
		d.apply(r)
		d.runUntil(20*time.Second, func() bool { return len(d.completed) == 1 })
		op := d.completed[0]
		if op.Outcome != check.OutcomeOK || len(op.Records) != perPartition || op.HighWatermark != perPartition {
			t.Fatalf("fetch partition %d: %v %q, %d records, high watermark %d", p, op.Outcome, op.Err, len(op.Records), op.HighWatermark)
		}
		for i, rec := range op.Records {
			if rec.Offset != int64(i) || rec.Value != fmt.Sprintf("p%d-%d", p, i) {
				t.Fatalf("partition %d record %d: %+v", p, i, rec)
			}
		}
	}
	_, r := c.Metadata([]string{"spread"}, d.nowNs())
	d.apply(r)
	d.runUntil(20*time.Second, func() bool { return len(d.admin) == 1 })
	md := d.admin[0].Metadata
	for _, p := range md.Topics[0].Partitions {
		for _, b := range md.Brokers {
			if b.NodeID == p.Leader {
				leaders[fmt.Sprintf("%s:%d", b.Host, b.Port)] = true
			}
		}
	}
	if len(leaders) < 2 {
		t.Fatalf("kfake put every leader on one broker: %v", leaders)
	}
	// One connection per leader, plus the bootstrap connection.
	if len(d.conns) != len(leaders)+1 {
		t.Fatalf("%d connections for %d leaders", len(d.conns), len(leaders))
	}
}
