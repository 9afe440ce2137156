package netio

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio/osfs"
)

// segment writes batches of three records each, from base offset base, to a file in dir, and
// returns the file's path and the end position of each batch.
func segment(t testing.TB, dir, name string, base record.Offset, batches int) (string, []int64) {
	t.Helper()
	var data []byte
	var ends []int64
	for i := range batches {
		records := make([]record.Record, 3)
		for j := range records {
			records[j] = record.Record{OffsetDelta: int32(j), Value: bytes.Repeat([]byte{byte('a' + i)}, 100+j)}
		}
		var err error
		data, err = record.AppendBatch(data, record.BatchOptions{
			BaseOffset: base + record.Offset(3*i), PartitionLeaderEpoch: 1, FirstTimestamp: 1700000000000,
			ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		}, records)
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, int64(len(data)))
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, ends
}

func wholePlan(path string, base record.Offset, ends []int64) log.ReadPlan {
	return log.ReadPlan{
		Ranges:      []log.FileRange{{Path: path, Position: 0, SizeBytes: ends[len(ends)-1]}},
		FirstOffset: base,
		NextOffset:  base + record.Offset(3*len(ends)),
		SizeBytes:   ends[len(ends)-1],
	}
}

// TestPlanReader: the wrapper serves log.AppendPlan over the OS file system (the checks
// themselves are tested in core/log): a whole file back, and a cut at a corrupt batch
// matching both ErrPlanCut and log.ErrPlanCut.
func TestPlanReader(t *testing.T) {
	dir := t.TempDir()
	r := NewPlanReader(osfs.New())
	path, ends := segment(t, dir, "seg.log", 0, 3)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.AppendPlan(nil, wholePlan(path, 0, ends))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, err %v; want the file's %d", len(got), err, len(data))
	}
	data[ends[1]+record.HeaderSizeBytes+5] ^= 0xff // a record byte of the third batch: CRC fails
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = r.AppendPlan(nil, wholePlan(path, 0, ends))
	if !errors.Is(err, ErrPlanCut) || !errors.Is(err, log.ErrPlanCut) || !bytes.Equal(got, data[:ends[1]]) {
		t.Fatalf("got %d bytes, err %v; want the first two batches (%d bytes) cut at a corrupt batch", len(got), err, ends[1])
	}
}

// TestFetchReads: a fetch answered with read plans goes out with the files' batches in each
// partition, cut at a corrupt batch, with the cut logged.
func TestFetchReads(t *testing.T) {
	dir := t.TempDir()
	good, goodEnds := segment(t, dir, "good.log", 0, 2)
	bad, badEnds := segment(t, dir, "bad.log", 10, 2)
	badData, _ := os.ReadFile(bad)
	badData[badEnds[1]-3] ^= 0x01
	os.WriteFile(bad, badData, 0o644)

	srv, logs := startServer(t, testConfig())
	c := dialRaw(t, srv)
	req := kmsg.NewPtrFetchRequest()
	c.send(9, 11, req)
	ev := nextEvent(t, srv)
	if _, ok := ev.Request.Body.(*kmsg.FetchRequest); !ok {
		t.Fatalf("request %T", ev.Request.Body)
	}
	resp := kmsg.NewPtrFetchResponse()
	topic := kmsg.NewFetchResponseTopic()
	topic.Topic = "orders"
	for p := range 3 {
		partition := kmsg.NewFetchResponseTopicPartition()
		partition.Partition = int32(p)
		partition.HighWatermark = 100
		topic.Partitions = append(topic.Partitions, partition)
	}
	resp.Topics = append(resp.Topics, topic)
	goodPlan := wholePlan(good, 0, goodEnds)
	srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: resp, Reads: []PartitionRead{
		{TopicIndex: 0, PartitionIndex: 2, Plan: goodPlan},
		{TopicIndex: 0, PartitionIndex: 0, Plan: wholePlan(bad, 10, badEnds), Topic: "orders", Partition: 0},
	}})
	corr, got := c.recv(1, 11)
	if corr != 9 {
		t.Fatalf("correlation id %d", corr)
	}
	parts := got.(*kmsg.FetchResponse).Topics[0].Partitions
	goodData, _ := os.ReadFile(good)
	if !bytes.Equal(parts[2].RecordBatches, goodData) {
		t.Fatalf("partition 2: %d bytes, want %d", len(parts[2].RecordBatches), len(goodData))
	}
	if !bytes.Equal(parts[0].RecordBatches, badData[:badEnds[0]]) {
		t.Fatalf("partition 0: %d bytes, want the first batch's %d", len(parts[0].RecordBatches), badEnds[0])
	}
	if len(parts[1].RecordBatches) != 0 || parts[1].HighWatermark != 100 {
		t.Fatalf("partition 1 changed: %+v", parts[1])
	}
	if text := logs.String(); !bytes.Contains([]byte(text), []byte("bad.log")) {
		t.Fatalf("the cut is not logged:\n%s", text)
	}
	// The loop hears where: after the first batch (offsets 10-12), at 13.
	if ev := nextEvent(t, srv); ev.Kind != EventReadCut || ev.Cut != (ReadCut{Topic: "orders", Partition: 0, Offset: 13}) {
		t.Fatalf("after a cut: event %+v, want EventReadCut at orders-0 offset 13", ev)
	}
}

func wholePlanForBench(path string, data []byte) log.ReadPlan {
	return log.ReadPlan{Ranges: []log.FileRange{{Path: path, SizeBytes: int64(len(data))}}, FirstOffset: 0, NextOffset: 16, SizeBytes: int64(len(data))}
}

// TestFetchReadBudget: a fetch's reads wait while FetchReadBytesMax is held elsewhere, then
// go out; a fetch larger than the budget passes alone; nothing stays held.
func TestFetchReadBudget(t *testing.T) {
	dir := t.TempDir()
	path, ends := segment(t, dir, "seg.log", 0, 2)
	cfg := testConfig()
	cfg.FetchReadBytesMax = ends[1] // exactly one plan's worth
	srv, _ := startServer(t, cfg)
	c := dialRaw(t, srv)
	fetch := func(corr int32) {
		c.send(corr, 11, kmsg.NewPtrFetchRequest())
		ev := nextEvent(t, srv)
		resp := kmsg.NewPtrFetchResponse()
		topic := kmsg.NewFetchResponseTopic()
		topic.Partitions = append(topic.Partitions, kmsg.NewFetchResponseTopicPartition())
		resp.Topics = append(resp.Topics, topic)
		srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: resp,
			Reads: []PartitionRead{{Plan: wholePlan(path, 0, ends)}}})
	}
	want, _ := os.ReadFile(path)
	check := func(corr int32) {
		got, resp := c.recv(1, 11)
		if got != corr || !bytes.Equal(resp.(*kmsg.FetchResponse).Topics[0].Partitions[0].RecordBatches, want) {
			t.Fatalf("response %d: wrong correlation id or records", got)
		}
	}

	never := make(chan struct{})
	srv.readBudget.acquire(1, never) // another writer holds a byte
	fetch(1)
	c.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c.readFrame(); err == nil {
		t.Fatalf("a fetch was written while its reads did not fit the budget")
	}
	c.nc.SetReadDeadline(time.Now().Add(testTimeout))
	srv.readBudget.release(1)
	check(1)

	srv.readBudget.mu.Lock()
	srv.readBudget.usedMax = 1 // now every plan is larger than the whole budget
	srv.readBudget.mu.Unlock()
	fetch(2)
	check(2)
	// The writer gives the bytes back once its write returns, which may be just after the
	// client has read the response.
	for deadline := time.Now().Add(testTimeout); srv.readBudget.usedBytes() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d read bytes still held", srv.readBudget.usedBytes())
		}
	}
}
