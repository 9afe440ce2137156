package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio/memfs"
)

// sendQuiet sends a request through the harness and returns the Node's Ready unprinted.
func sendQuiet(t *testing.T, h *harness, c ConnID, version int16, req kmsg.Request) Ready {
	t.Helper()
	var got Ready
	h.corr++
	frame := appendRequestFrame(h.corr, version, req)
	decoded := decodeFrame(t, h, frame)
	got = h.node.Request(h.now, c, decoded)
	if err := h.node.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	h.syncs = append(h.syncs, got.Syncs...)
	h.routeSends(got.Sends)
	return got
}

// newTopicHarness is a node with topic "a" (one partition) created and synced.
func newTopicHarness(t *testing.T, adjust func(*config.BrokerConfig)) *harness {
	t.Helper()
	h := newHarness(t, adjust)
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "a", 1, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 1000
	h.request(1, 7, req)
	h.syncAll()
	h.take()
	if _, ok := h.logs.GetLog(tpA); !ok {
		t.Fatal("topic a has no log after its creation committed")
	}
	return h
}

func produceRequest(t *testing.T, acks int16, records int) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = acks, 30000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "a"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = makeBatch(t, records, 10, testStartWallMs, record.CodecNone)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func TestResponsesStayInRequestOrder(t *testing.T) {
	h := newTopicHarness(t, nil)
	rd := sendQuiet(t, h, 1, 11, produceRequest(t, -1, 2))
	if len(rd.Responses) != 0 || len(rd.Syncs) != 1 {
		t.Fatalf("acks=-1 produce: want a sync and no response before it, got %d syncs, %d responses", len(rd.Syncs), len(rd.Responses))
	}
	// A later request on the same connection is answered at once internally but must not
	// overtake the produce.
	rd = sendQuiet(t, h, 1, 4, kmsg.NewPtrApiVersionsRequest())
	if len(rd.Responses) != 0 {
		t.Fatalf("ApiVersions overtook a waiting produce on the same connection: %+v", rd.Responses)
	}
	// Another connection is not held up.
	rd = sendQuiet(t, h, 2, 4, kmsg.NewPtrApiVersionsRequest())
	if len(rd.Responses) != 1 || rd.Responses[0].Conn != 2 {
		t.Fatalf("conn 2 was held up by conn 1's produce: %+v", rd.Responses)
	}
	s := h.syncs[len(h.syncs)-1]
	h.syncs = h.syncs[:0]
	rd = h.node.Synced(h.now, s.ID, s.Req.Run(h.fs))
	if len(rd.Responses) != 2 {
		t.Fatalf("after the sync: want the produce and ApiVersions answers, got %d", len(rd.Responses))
	}
	if rd.Responses[0].Header.APIKey != kmsg.Produce.Int16() || rd.Responses[1].Header.APIKey != kmsg.ApiVersions.Int16() {
		t.Fatalf("responses out of request order: %d then %d", rd.Responses[0].Header.APIKey, rd.Responses[1].Header.APIKey)
	}
	if rd.Responses[0].Header.CorrelationID >= rd.Responses[1].Header.CorrelationID {
		t.Fatal("correlation ids out of order")
	}
	pr := rd.Responses[0].Body.(*kmsg.ProduceResponse)
	if p := pr.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("produce answer: error %d base %d", p.ErrorCode, p.BaseOffset)
	}
}

// noRetention turns off the retention timer, so deadlines are the parked requests' alone
// (checkpoints are turned off by the tests that need it, on the Node's config).
func noRetention(b *config.BrokerConfig) { b.LogRetentionCheckIntervalMs = 0 }

func TestFetchLongPollExpiry(t *testing.T) {
	h := newTopicHarness(t, noRetention)
	h.node.cfg.CheckpointIntervalMs = 0
	h.node.checkpointNextMs = 0
	h.node.cfg.ProducerExpirationCheckIntervalMs = 0
	h.node.expireNextMs = 0
	fetch := func() *kmsg.FetchRequest {
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.SessionEpoch = 300, 1, 1<<20, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "a"
		tp, _ := h.image().TopicByName("a")
		rt.TopicID = tp.ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return req
	}
	start := h.now.MonotonicMs
	rd := sendQuiet(t, h, 1, 16, fetch())
	if len(rd.Responses) != 0 || h.node.LocalDeadlineMs() != start+300 {
		t.Fatalf("empty log: want a parked fetch with deadline %d, got %d responses, deadline %d", start+300, len(rd.Responses), h.node.LocalDeadlineMs())
	}
	h.now.MonotonicMs = start + 299
	if rd = h.node.Timer(h.now); len(rd.Responses) != 0 {
		t.Fatal("fetch answered before its max wait")
	}
	h.now.MonotonicMs = start + 300
	rd = h.node.Timer(h.now)
	if len(rd.Responses) != 1 || h.node.LocalDeadlineMs() != 0 {
		t.Fatalf("at its deadline: want the fetch answered and no timer, got %d responses, deadline %d", len(rd.Responses), h.node.LocalDeadlineMs())
	}
	if len(rd.Responses[0].Reads) != 0 {
		t.Fatal("an empty log answered with read plans")
	}

	// A closed connection's parked fetch is dropped: no answer, no timer.
	rd = sendQuiet(t, h, 3, 16, fetch())
	if h.node.LocalDeadlineMs() == 0 {
		t.Fatal("second fetch did not park")
	}
	if h.node.ConnClosed(h.now, 3); h.node.LocalDeadlineMs() != 0 {
		t.Fatalf("closed connection's fetch still holds a deadline %d", h.node.LocalDeadlineMs())
	}
	h.now.MonotonicMs += 1000
	if rd = h.node.Timer(h.now); len(rd.Responses) != 0 {
		t.Fatal("a closed connection's fetch was answered")
	}
}

func TestConnRequestsMaxClosesConnection(t *testing.T) {
	h := newTopicHarness(t, func(b *config.BrokerConfig) {})
	h.node.cfg.ConnRequestsMax = 2
	sendQuiet(t, h, 1, 11, produceRequest(t, -1, 1))
	sendQuiet(t, h, 1, 11, produceRequest(t, -1, 1))
	rd := sendQuiet(t, h, 1, 11, produceRequest(t, -1, 1))
	if len(rd.Closes) != 1 || rd.Closes[0] != 1 {
		t.Fatalf("a connection past ConnRequestsMax was not closed: %+v", rd.Closes)
	}
	if h.node.waitingCount != 0 || len(h.node.produceWaits) != 0 {
		t.Fatalf("closed connection left %d waiting requests", h.node.waitingCount)
	}
}

// TestRestartServesAcknowledgedRecords crashes the disk after an acknowledged produce and a
// produce still waiting for its sync: the restarted node serves the first, never the second.
func TestRestartServesAcknowledgedRecords(t *testing.T) {
	h := newTopicHarness(t, nil)
	h.request(1, 11, produceRequest(t, -1, 3))
	h.syncAll()
	if got := h.take(); !containsAll(got, "Produce v11", "err=NONE base=0") {
		t.Fatalf("first produce not acknowledged:\n%s", got)
	}
	h.request(1, 11, produceRequest(t, -1, 2)) // never synced
	crashed := h.fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})

	h2 := openHarness(t, crashed, nil)
	h2.syncAll()
	l, ok := h2.logs.GetLog(tpA)
	if !ok {
		t.Fatal("topic a's log is gone after the crash")
	}
	if l.EndOffset() != 3 || l.DurableOffset() != 3 {
		t.Fatalf("after the crash: end %d durable %d, want 3 and 3", l.EndOffset(), l.DurableOffset())
	}
	if _, ok := h2.image().TopicByName("a"); !ok {
		t.Fatal("topic a is not in the recovered metadata")
	}
}

// TestMetadataSnapshots creates topics until the metadata store wants a snapshot, runs it as
// the driver would, and restarts from the snapshot after a crash.
func TestMetadataSnapshots(t *testing.T) {
	h := newHarness(t, noRetention)
	h.syncAll()
	written := false
	for i := 0; i < 100 && !written; i++ {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 1000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "topic-"+string(rune('a'+i%26))+string(rune('a'+i/26)), 1, 1
		req.Topics = append(req.Topics, rt)
		h.request(1, 7, req)
		h.syncAll()
		written = containsAll(h.take(), "metadata snapshot", "err=<nil>")
	}
	if !written {
		t.Fatal("no metadata snapshot was taken")
	}
	if len(h.qlog.Snapshots()) == 0 {
		t.Fatal("the metadata log records no snapshot after SnapshotWritten")
	}
	topics := h.image().TopicCount()
	h2 := openHarness(t, h.fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}), noRetention)
	h2.syncAll() // what recovery found past the recovery point commits with the first sync
	if got := h2.image().TopicCount(); got != topics {
		t.Fatalf("after restart: %d topics, want %d", got, topics)
	}
}

// TestDeletedTopicStaysDeleted deletes a topic and crashes right after the deletion
// committed: whether or not the log directory's rename survived, the restarted node has
// no log for it, and the name can be created again.
func TestDeletedTopicStaysDeleted(t *testing.T) {
	h := newTopicHarness(t, noRetention)
	h.request(1, 11, produceRequest(t, -1, 3))
	h.syncAll()
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 1000
	rt := kmsg.NewDeleteTopicsRequestTopic()
	rt.Topic = strp("a")
	req.Topics = append(req.Topics, rt)
	h.request(1, 6, req)
	h.runSyncs(nil, nil) // the metadata sync only; file ops were run by record
	if got := h.take(); !containsAll(got, "DeleteTopics v6", "topic a err=NONE") {
		t.Fatalf("deletion not answered:\n%s", got)
	}
	for _, mode := range []memfs.CrashMode{memfs.CrashLoseUnsynced, memfs.CrashKeepUnsynced} {
		h2 := openHarness(t, h.fs.CrashClone(memfs.CrashConfig{Mode: mode}), noRetention)
		h2.syncAll()
		if _, ok := h2.logs.GetLog(tpA); ok {
			t.Fatalf("crash mode %v: the deleted topic's log is back", mode)
		}
		create := kmsg.NewPtrCreateTopicsRequest()
		create.TimeoutMillis = 1000
		ct := kmsg.NewCreateTopicsRequestTopic()
		ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "a", 1, 1
		create.Topics = append(create.Topics, ct)
		h2.request(1, 7, create)
		h2.syncAll()
		if got := h2.take(); !containsAll(got, "topic a err=NONE") || containsAll(got, "fatal") {
			t.Fatalf("crash mode %v: re-creating the topic:\n%s", mode, got)
		}
		l, ok := h2.logs.GetLog(tpA)
		if !ok || l.EndOffset() != 0 {
			t.Fatalf("crash mode %v: re-created topic should have an empty log", mode)
		}
	}
}
