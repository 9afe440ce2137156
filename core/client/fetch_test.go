package client_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/core/client"
	"github.com/weirdata/weir/core/record"
)

// appendTestBatch appends a batch of values at base offset with codec.
func appendTestBatch(t *testing.T, dst []byte, base int64, codec record.Codec, control bool, values ...string) []byte {
	t.Helper()
	records := make([]record.Record, len(values))
	for i, v := range values {
		records[i] = record.Record{OffsetDelta: int32(i), Key: []byte("k" + v), Value: []byte(v)}
	}
	opts := record.BatchOptions{BaseOffset: record.Offset(base), PartitionLeaderEpoch: 1, Codec: codec, FirstTimestamp: 1000,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Control: control}
	out, err := record.AppendBatch(dst, opts, records)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fetchSetup returns a script whose client knows topic "t" partition 0 (leader 0, epoch 4) and
// has a negotiated connection to the leader.
func fetchSetup(t *testing.T) (*script, client.ConnID) {
	return fetchSetupWith(t, nil)
}

// fetchSetupWith is fetchSetup with the bugs planted.
func fetchSetupWith(t *testing.T, planted *buggify.B) (*script, client.ConnID) {
	cfg := testConfig("b0:9092")
	cfg.Idempotent = false
	cfg.Acks = client.AcksLeader
	cfg.Planted = planted
	s := newScript(t, cfg)
	id, r := s.c.Fetch("t", 0, 3, s.nowNs)
	s.take(r)
	s.bootstrapped("b0:9092", metadataResponse(map[int32]string{0: "b0:9092"}, "t", topicID, partitionLeader{0, 0, 4}))
	leader := s.connect("b0:9092")
	s.handshake(leader, brokerVersions())
	_ = id
	return s, leader
}

// fetchResponse answers a fetch request with one partition.
func fetchResponse(req *kmsg.FetchRequest, code int16, hw, logStart int64, batches []byte) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	t := kmsg.NewFetchResponseTopic()
	t.Topic, t.TopicID = req.Topics[0].Topic, req.Topics[0].TopicID
	p := kmsg.NewFetchResponseTopicPartition()
	p.Partition = req.Topics[0].Partitions[0].Partition
	p.ErrorCode, p.HighWatermark, p.LastStableOffset, p.LogStartOffset = code, hw, hw, logStart
	p.RecordBatches = batches
	t.Partitions = append(t.Partitions, p)
	resp.Topics = append(resp.Topics, t)
	return resp
}

// TestFetchDecoding: records from the fetch offset on, across an uncompressed and a compressed
// batch (the first starting before the offset), a control batch skipped, a truncated trailing
// batch dropped; the request carries the leader epoch and the topic id.
func TestFetchDecoding(t *testing.T) {
	s, leader := fetchSetup(t)
	req := s.next(leader, 1)
	freq := req.Body.(*kmsg.FetchRequest)
	if req.Header.APIVersion != 16 || freq.Topics[0].TopicID != topicID {
		t.Fatalf("Fetch v%d, topic id %x", req.Header.APIVersion, freq.Topics[0].TopicID)
	}
	p := freq.Topics[0].Partitions[0]
	if p.FetchOffset != 3 || p.CurrentLeaderEpoch != 4 || freq.ReplicaState.ID != -1 || freq.IsolationLevel != 0 {
		t.Fatalf("fetch request %+v partition %+v", freq, p)
	}
	var batches []byte
	batches = appendTestBatch(t, batches, 0, record.CodecNone, false, "r0", "r1", "r2", "r3", "r4")
	batches = appendTestBatch(t, batches, 5, record.CodecZstd, false, "r5", "r6", "r7")
	batches = appendTestBatch(t, batches, 8, record.CodecNone, true, "marker")
	batches = appendTestBatch(t, batches, 9, record.CodecGzip, false, "r9", "r10")
	batches = appendTestBatch(t, batches, 11, record.CodecNone, false, "r11")
	batches = batches[:len(batches)-3] // the broker cut the last batch at its size limit
	s.answer(leader, req, fetchResponse(freq, 0, 12, 0, batches))

	got := s.completed[0]
	if got.Outcome != check.OutcomeOK || got.Kind != check.OpFetch || got.FetchOffset != 3 || got.HighWatermark != 12 || got.LogStartOffset != 0 {
		t.Fatalf("fetch: %+v", got)
	}
	want := []int64{3, 4, 5, 6, 7, 9, 10}
	if len(got.Records) != len(want) {
		t.Fatalf("records %+v", got.Records)
	}
	for i, rec := range got.Records {
		if rec.Offset != want[i] || rec.Value != fmt.Sprintf("r%d", want[i]) || rec.Key != "k"+rec.Value {
			t.Fatalf("record %d: %+v", i, rec)
		}
	}
}

// TestFetchErrors: OFFSET_OUT_OF_RANGE fails the fetch with its name; a corrupt batch fails it
// as CORRUPT_MESSAGE; NOT_LEADER_OR_FOLLOWER is retried after a metadata refresh.
func TestFetchErrors(t *testing.T) {
	s, leader := fetchSetup(t)
	req := s.next(leader, 1)
	s.answer(leader, req, fetchResponse(req.Body.(*kmsg.FetchRequest), 1, 12, 2, nil))
	if got := s.completed[0]; got.Outcome != check.OutcomeFailed || got.Err != "OFFSET_OUT_OF_RANGE" || got.LogStartOffset != 2 {
		t.Fatalf("out of range: %+v", got)
	}

	id, r := s.c.Fetch("t", 0, 0, s.nowNs)
	s.take(r)
	req = s.next(leader, 1)
	batch := appendTestBatch(t, nil, 0, record.CodecNone, false, "a", "b")
	batch[len(batch)-1] ^= 0xff
	s.answer(leader, req, fetchResponse(req.Body.(*kmsg.FetchRequest), 0, 2, 0, batch))
	if got := s.op(id); got.Outcome != check.OutcomeFailed || !strings.HasPrefix(got.Err, "CORRUPT_MESSAGE") || len(got.Records) != 0 {
		t.Fatalf("corrupt: %+v", got)
	}

	id, r = s.c.Fetch("t", 0, 0, s.nowNs)
	s.take(r)
	req = s.next(leader, 1)
	s.answer(leader, req, fetchResponse(req.Body.(*kmsg.FetchRequest), 6, -1, -1, nil))
	s.notDone(id)
	s.advance(50_000_000)
	md := s.next(1, 3) // the bootstrap connection is the least loaded
	s.answer(1, md, metadataResponse(map[int32]string{0: "b0:9092"}, "t", topicID, partitionLeader{0, 0, 5}))
	s.advance(50_000_000)
	req = s.next(leader, 1)
	if epoch := req.Body.(*kmsg.FetchRequest).Topics[0].Partitions[0].CurrentLeaderEpoch; epoch != 5 {
		t.Fatalf("retry with leader epoch %d", epoch)
	}
	s.answer(leader, req, fetchResponse(req.Body.(*kmsg.FetchRequest), 0, 2, 0, appendTestBatch(t, nil, 0, record.CodecNone, false, "a", "b")))
	if got := s.op(id); got.Outcome != check.OutcomeOK || len(got.Records) != 2 {
		t.Fatalf("after retry: %+v", got)
	}
}
