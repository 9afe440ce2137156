package broker

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/producer"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/diskio"
)

// idempotentHarness is a node with topic "r" (configs applied) and producer id 0 handed out.
func idempotentHarness(t *testing.T, adjust func(*config.BrokerConfig), prepare func(*harness), configs map[string]string) *harness {
	t.Helper()
	h := newHarness(t, adjust)
	if prepare != nil {
		prepare(h)
	}
	createIdempotentTopic(t, h, configs)
	return h
}

// createIdempotentTopic creates topic r (one partition, configs) on h and has producer id 0
// handed out.
func createIdempotentTopic(t *testing.T, h *harness, configs map[string]string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "r", 1, 1
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, strp(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 1000
	h.request(1, 7, req)
	h.syncAll()
	for range 2 { // the first asks for a block; the second gets an id from it
		h.request(1, 5, kmsg.NewPtrInitProducerIDRequest())
		h.syncAll()
	}
	if out := h.take(); !containsAll(out, "InitProducerID v5: err=NONE producerID=0 epoch=0") {
		t.Fatalf("no producer id handed out:\n%s", out)
	}
}

var tpR = storage.TopicPartition{Topic: "r", Partition: 0}

// produceIdempotent sends one batch of pid/epoch at seq to r/0 with acks=-1, runs the syncs and
// returns the partition's answer.
func produceIdempotent(t *testing.T, h *harness, producerID int64, epoch int16, seq int32, records int) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 30000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "r"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = makeProducerBatch(t, records, 10, h.now.WallMs, record.CodecNone, producerID, epoch, seq)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	var responses []Response
	rd := sendQuiet(t, h, 1, 11, req)
	responses = append(responses, rd.Responses...)
	for len(h.syncs) > 0 {
		s := h.syncs[0]
		h.syncs = h.syncs[1:]
		rd := h.node.Synced(h.now, s.ID, s.Req.Run(h.fs))
		if err := h.node.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
		h.syncs = append(h.syncs, rd.Syncs...)
		h.routeSends(rd.Sends)
		responses = append(responses, rd.Responses...)
	}
	for _, r := range responses {
		if pr, ok := r.Body.(*kmsg.ProduceResponse); ok && r.Header.CorrelationID == h.corr {
			return pr.Topics[0].Partitions[0]
		}
	}
	t.Fatalf("produce seq %d not answered", seq)
	return kmsg.ProduceResponseTopicPartition{}
}

func logEnd(t *testing.T, h *harness, tp storage.TopicPartition) record.Offset {
	t.Helper()
	l, ok := h.logs.GetLog(tp)
	if !ok {
		t.Fatalf("no log for %s", tp)
	}
	return l.EndOffset()
}

// A segment roll snapshots the producer state at the new segment's base offset; after a crash
// the state comes back from it (and the log past it), so retries stay duplicates.
func TestProducerSnapshotAtRollSurvivesCrash(t *testing.T) {
	h := idempotentHarness(t, noRetention, nil, map[string]string{"segment.ms": "100"})
	if p := produceIdempotent(t, h, 0, 0, 0, 2); p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("seq 0: %+v", p)
	}
	h.advance(200)
	if p := produceIdempotent(t, h, 0, 0, 2, 1); p.ErrorCode != 0 || p.BaseOffset != 2 {
		t.Fatalf("seq 2: %+v", p)
	}
	snaps, err := producer.ListSnapshots(h.fs, "/data/r-0")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(snaps, []record.Offset{2}) {
		t.Fatalf("snapshots after the roll: %v, want [2]", snaps)
	}

	h2 := h.restart(false)
	h2.syncAll()
	st := h2.node.producers[tpR]
	if st == nil || st.EndOffset() != 3 {
		t.Fatalf("restarted state: %v", st)
	}
	e, ok := st.Producer(0)
	if !ok || len(e.Batches) != 2 || e.Batches[1].LastSequence != 2 {
		t.Fatalf("restarted producer 0: %+v (found %v)", e, ok)
	}
	for _, retry := range []struct {
		seq     int32
		records int
		base    int64
	}{{0, 2, 0}, {2, 1, 2}} {
		if p := produceIdempotent(t, h2, 0, 0, retry.seq, retry.records); p.ErrorCode != 0 || p.BaseOffset != retry.base {
			t.Fatalf("retry of seq %d after the crash: %+v, want base %d", retry.seq, p, retry.base)
		}
	}
	if end := logEnd(t, h2, tpR); end != 3 {
		t.Fatalf("log end after retried duplicates: %d, want 3", end)
	}
	if p := produceIdempotent(t, h2, 0, 0, 4, 1); p.ErrorCode != errOutOfOrderSequenceNumber {
		t.Fatalf("a gap after the crash: %+v", p)
	}
}

// Retention deletes the snapshots of the segments it removed.
func TestProducerSnapshotsFollowRetention(t *testing.T) {
	h := idempotentHarness(t, func(b *config.BrokerConfig) { b.LogRetentionCheckIntervalMs = 1000 }, nil,
		map[string]string{"segment.ms": "100", "retention.ms": "500"})
	for seq := range int32(3) {
		if p := produceIdempotent(t, h, 0, 0, seq, 1); p.ErrorCode != 0 {
			t.Fatalf("seq %d: %+v", seq, p)
		}
		h.advance(200)
	}
	if snaps, _ := producer.ListSnapshots(h.fs, "/data/r-0"); !slices.Equal(snaps, []record.Offset{1, 2}) {
		t.Fatalf("snapshots after two rolls: %v, want [1 2]", snaps)
	}
	h.advance(1000) // retention: every segment but the active one is past retention.ms
	h.syncAll()
	l, _ := h.logs.GetLog(tpR)
	if l.StartOffset() < 2 {
		t.Fatalf("log start after retention: %d, want at least 2", l.StartOffset())
	}
	snaps, _ := producer.ListSnapshots(h.fs, "/data/r-0")
	if len(snaps) > 0 && snaps[0] < l.StartOffset() {
		t.Fatalf("snapshots after retention: %v, want none below the log start %d", snaps, l.StartOffset())
	}
	// The producer is still known: a retry of its last batch is answered with the original
	// offset although retention removed it (as Kafka answers), and a gap is refused.
	if p := produceIdempotent(t, h, 0, 0, 2, 1); p.ErrorCode != 0 || p.BaseOffset != 2 {
		t.Fatalf("retry of seq 2 after retention: %+v", p)
	}
	if p := produceIdempotent(t, h, 0, 0, 5, 1); p.ErrorCode != errOutOfOrderSequenceNumber {
		t.Fatalf("a gap after retention: %+v", p)
	}
}

// Idle producers are forgotten every producer.id.expiration.check.interval.ms; a forgotten
// producer is accepted again at any sequence, as in Kafka.
func TestProducerExpiration(t *testing.T) {
	h := idempotentHarness(t, noRetention, func(h *harness) {
		h.node.cfg.Producer.ExpirationMs = 5000
		h.node.cfg.ProducerExpirationCheckIntervalMs = 10_000
		h.node.expireNextMs = 0
		h.node.cfg.CheckpointIntervalMs = 0
		h.node.checkpointNextMs = 0
	}, nil)
	if p := produceIdempotent(t, h, 0, 0, 0, 1); p.ErrorCode != 0 {
		t.Fatalf("seq 0: %+v", p)
	}
	st := h.node.producers[tpR]
	if st.Len() != 1 {
		t.Fatalf("producers before expiry: %d", st.Len())
	}
	h.advance(4000)
	if st.Len() != 1 {
		t.Fatal("producer expired before the check interval")
	}
	h.advance(6000) // the check at 10 s: idle 10 s > 5 s
	if st.Len() != 0 {
		t.Fatalf("producers after the expiry check: %d, want 0", st.Len())
	}
	if p := produceIdempotent(t, h, 0, 0, 7, 1); p.ErrorCode != 0 || p.BaseOffset != 1 {
		t.Fatalf("forgotten producer at seq 7: %+v", p)
	}
}

// A partition at its producer bound refuses a new producer id with a retriable error and
// keeps serving the producers it knows.
func TestProducerBound(t *testing.T) {
	h := idempotentHarness(t, noRetention, func(h *harness) { h.node.cfg.Producer.ProducersMax = 1 }, nil)
	if p := produceIdempotent(t, h, 0, 0, 0, 1); p.ErrorCode != 0 {
		t.Fatalf("producer 0: %+v", p)
	}
	if p := produceIdempotent(t, h, 1, 0, 0, 1); p.ErrorCode != errThrottlingQuotaExceeded {
		t.Fatalf("producer 1 past the bound: %+v", p)
	}
	if p := produceIdempotent(t, h, 0, 0, 1, 1); p.ErrorCode != 0 || p.BaseOffset != 1 {
		t.Fatalf("producer 0 at seq 1: %+v", p)
	}
}

// A retried duplicate of an acks=0 or acks=1 produce follows the same rules, and a topic with
// Kafka's flush behaviour answers it at once.
func TestDuplicateAcksAndRelaxedFlush(t *testing.T) {
	h := idempotentHarness(t, noRetention, nil, map[string]string{"flush.messages": "1000"})
	if p := produceIdempotent(t, h, 0, 0, 0, 2); p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("seq 0: %+v", p)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 30000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "r"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = makeProducerBatch(t, 2, 10, h.now.WallMs, record.CodecNone, 0, 0, 0)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	rd := sendQuiet(t, h, 1, 11, req)
	if len(rd.Responses) != 1 || len(rd.Syncs) != 0 {
		t.Fatalf("duplicate on a flush.messages topic: %d responses, %d syncs, want 1 and 0", len(rd.Responses), len(rd.Syncs))
	}
	p := rd.Responses[0].Body.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	if p.ErrorCode != 0 || p.BaseOffset != 0 || p.LogAppendTime != h.now.WallMs {
		t.Fatalf("duplicate answer: %+v", p)
	}
	if end := logEnd(t, h, tpR); end != 2 {
		t.Fatalf("log end: %d, want 2", end)
	}
}

// The state of a deleted topic goes with its log; a recreated topic starts empty.
func TestProducerStateDroppedWithTopic(t *testing.T) {
	h := idempotentHarness(t, noRetention, nil, nil)
	if p := produceIdempotent(t, h, 0, 0, 0, 1); p.ErrorCode != 0 {
		t.Fatalf("seq 0: %+v", p)
	}
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 1000
	dt := kmsg.NewDeleteTopicsRequestTopic()
	dt.Topic = strp("r")
	req.Topics = append(req.Topics, dt)
	h.request(1, 6, req)
	h.syncAll()
	if _, ok := h.node.producers[tpR]; ok {
		t.Fatal("the deleted topic's producer state is still held")
	}
}

// A clean shutdown snapshots every partition's state at its log end.
func TestWriteProducerSnapshots(t *testing.T) {
	h := idempotentHarness(t, noRetention, nil, nil)
	if p := produceIdempotent(t, h, 0, 0, 0, 3); p.ErrorCode != 0 {
		t.Fatalf("seq 0: %+v", p)
	}
	if err := h.node.WriteProducerSnapshots(); err != nil {
		t.Fatal(err)
	}
	snaps, err := producer.ListSnapshots(h.fs, "/data/r-0")
	if err != nil || !slices.Equal(snaps, []record.Offset{3}) {
		t.Fatalf("snapshots after shutdown: %v (%v), want [3]", snaps, err)
	}
	h2 := h.restart(false)
	h2.syncAll()
	if e, ok := h2.node.producers[tpR].Producer(0); !ok || e.Batches[len(e.Batches)-1].LastSequence != 2 {
		t.Fatalf("producer 0 after the restart: %+v (found %v)", e, ok)
	}
}

// A node whose log was damaged below the recovery point, where recovery does not look, and
// whose producer snapshots are gone (their writes failed) starts: rebuilding the producer
// state steps over the batches it cannot read, with a warning, and knows the producer again
// from its later batches, so their retries stay duplicates. (Seed 1249 with every fault: a
// misdirected write left a segment's first batch zeros and every restart failed there.)
func TestProducerStateRebuildStepsOverDamage(t *testing.T) {
	h := idempotentHarness(t, noRetention, nil, map[string]string{"segment.ms": "100"})
	for _, p := range []struct {
		seq     int32
		records int
	}{{0, 2}, {2, 1}, {3, 1}} {
		if got := produceIdempotent(t, h, 0, 0, p.seq, p.records); got.ErrorCode != 0 {
			t.Fatalf("seq %d: %+v", p.seq, got)
		}
		h.advance(200) // each batch in a segment of its own
	}
	h.syncAll()
	if err := h.logs.WriteCheckpoints(); err != nil {
		t.Fatal(err)
	}
	snapshots, err := producer.ListSnapshots(h.fs, "/data/r-0")
	if err != nil || len(snapshots) == 0 {
		t.Fatalf("snapshots %v: %v", snapshots, err)
	}
	for _, o := range snapshots {
		if err := h.fs.Remove(diskio.Join("/data/r-0", producer.SnapshotFileName(o))); err != nil {
			t.Fatal(err)
		}
	}
	if err := diskio.SyncDir(h.fs, "/data/r-0"); err != nil {
		t.Fatal(err)
	}
	f, err := h.fs.OpenReadWrite("/data/r-0/00000000000000000000.log")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, record.HeaderSizeBytes), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	h2 := h.restart(false)
	if out := h2.take(); !containsAll(out, "the producer state skipped damaged log offsets [0, 2)") {
		t.Fatalf("no warning of the damage stepped over:\n%s", out)
	}
	h2.syncAll()
	if end := logEnd(t, h2, tpR); end != 4 {
		t.Fatalf("log end after the restart: %d, want 4", end)
	}
	if p := produceIdempotent(t, h2, 0, 0, 3, 1); p.ErrorCode != 0 || p.BaseOffset != 3 {
		t.Fatalf("retry of seq 3 after the restart: %+v, want the duplicate at 3", p)
	}
	if p := produceIdempotent(t, h2, 0, 0, 4, 1); p.ErrorCode != 0 || p.BaseOffset != 4 {
		t.Fatalf("seq 4 after the restart: %+v, want offset 4", p)
	}
}
