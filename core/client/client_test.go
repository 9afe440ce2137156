package client_test

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/core/client"
	"github.com/weirdata/weir/core/wire"
)

var topicID = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

// limitedVersions is an older broker: the client must pick the highest version both speak.
func limitedVersions() []kmsg.ApiVersionsResponseApiKey {
	keys := []struct{ key, lo, hi int16 }{
		{0, 3, 7},  // Produce
		{1, 4, 11}, // Fetch
		{2, 1, 5},  // ListOffsets
		{3, 1, 9},  // Metadata
		{18, 0, 3}, // ApiVersions
		{22, 0, 2}, // InitProducerId
	}
	var out []kmsg.ApiVersionsResponseApiKey
	for _, k := range keys {
		v := kmsg.NewApiVersionsResponseApiKey()
		v.ApiKey, v.MinVersion, v.MaxVersion = k.key, k.lo, k.hi
		out = append(out, v)
	}
	return out
}

// TestVersionNegotiation: ApiVersions at the client's newest version, the KIP-511 fallback when
// the broker does not speak it, then every request at the highest version both sides speak;
// every answer arrives one byte at a time.
func TestVersionNegotiation(t *testing.T) {
	s := newScript(t, testConfig("b0:9092"))
	s.chunk = 1
	op := s.produce("t", 0, "a")
	conn := s.connect("b0:9092")

	req := s.next(conn, 18)
	if want := kmsg.NewPtrApiVersionsRequest().MaxVersion(); req.Header.APIVersion != want {
		t.Fatalf("first ApiVersions v%d, want the newest, v%d", req.Header.APIVersion, want)
	}
	unsupported := kmsg.NewPtrApiVersionsResponse()
	unsupported.ErrorCode = 35 // UNSUPPORTED_VERSION, answered in v0 with the broker's range
	key := kmsg.NewApiVersionsResponseApiKey()
	key.ApiKey, key.MinVersion, key.MaxVersion = 18, 0, 3
	unsupported.ApiKeys = append(unsupported.ApiKeys, key)
	s.answer(conn, req, unsupported)

	req = s.next(conn, 18)
	if req.Header.APIVersion != 3 {
		t.Fatalf("ApiVersions retry v%d, want 3", req.Header.APIVersion)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.ApiKeys = limitedVersions()
	s.answer(conn, req, resp)

	initReq := s.next(conn, 22)
	mdReq := s.next(conn, 3)
	if initReq.Header.APIVersion != 2 || mdReq.Header.APIVersion != 9 {
		t.Fatalf("InitProducerId v%d, Metadata v%d; want 2 and 9", initReq.Header.APIVersion, mdReq.Header.APIVersion)
	}
	if got := mdReq.Body.(*kmsg.MetadataRequest); len(got.Topics) != 1 || *got.Topics[0].Topic != "t" || got.AllowAutoTopicCreation {
		t.Fatalf("metadata request %+v", got)
	}
	pid := kmsg.NewPtrInitProducerIDResponse()
	pid.ProducerID, pid.ProducerEpoch = 42, 0
	s.answer(conn, initReq, pid)
	s.answer(conn, mdReq, metadataResponse(map[int32]string{0: "b0:9092"}, "t", [16]byte{}, partitionLeader{0, 0, 3}))

	// The leader gets a connection of its own, negotiated the same way.
	leader := s.connect("b0:9092")
	s.handshake(leader, limitedVersions())
	produce := s.next(leader, 0)
	if produce.Header.APIVersion != 7 {
		t.Fatalf("Produce v%d, want 7", produce.Header.APIVersion)
	}
	if id := produce.Header.ClientID; id == nil || *id != "weir-client" {
		t.Fatalf("client id %v", id)
	}
	s.answer(leader, produce, produceResponse(produce, 0, 100))
	if got := s.op(op); got.Outcome != check.OutcomeOK || got.Records[0].Offset != 100 {
		t.Fatalf("produce: %+v", got)
	}
}

// TestLeaderRouting: each partition's batches go to its leader; NOT_LEADER_OR_FOLLOWER
// refreshes metadata and the retry goes to the new leader.
func TestLeaderRouting(t *testing.T) {
	cfg := testConfig("seed:9092")
	cfg.Idempotent = false
	cfg.Acks = client.AcksLeader
	s := newScript(t, cfg)
	op0 := s.produce("t", 0, "p0")
	op1 := s.produce("t", 1, "p1")
	brokers := map[int32]string{1: "b1:9092", 2: "b2:9092"}
	seed := s.bootstrapped("seed:9092", metadataResponse(brokers, "t", topicID, partitionLeader{0, 1, 5}, partitionLeader{1, 2, 5}))

	b1 := s.connect("b1:9092")
	b2 := s.connect("b2:9092")
	s.handshake(b1, brokerVersions())
	s.handshake(b2, brokerVersions())
	p0 := s.next(b1, 0)
	p1 := s.next(b2, 0)
	if topic, part, h := producedBatch(t, p0); topic != "t" || part != 0 || h.ProducerID != -1 || h.BaseSequence != -1 {
		t.Fatalf("partition 0 batch: topic %q partition %d producer %d seq %d", topic, part, h.ProducerID, h.BaseSequence)
	}
	if got := p0.Body.(*kmsg.ProduceRequest); got.Version != 11 || got.Acks != 1 {
		t.Fatalf("produce request %+v", got)
	}
	if _, part, _ := producedBatch(t, p1); part != 1 {
		t.Fatalf("broker 2 got partition %d", part)
	}
	s.answer(b2, p1, produceResponse(p1, 0, 0))
	s.answer(b1, p0, produceResponse(p0, 6, -1)) // NOT_LEADER_OR_FOLLOWER
	s.notDone(op0)

	s.advance(cfg.RetryBackoffNs * 2)
	var md client.ConnID
	for _, conn := range []client.ConnID{seed, b1, b2} {
		if reqs := s.sent[conn]; len(reqs) > 0 && reqs[0].Header.APIKey == 3 {
			md = conn
		}
	}
	if md == 0 {
		t.Fatal("no metadata refresh after NOT_LEADER_OR_FOLLOWER")
	}
	s.answer(md, s.next(md, 3), metadataResponse(brokers, "t", topicID, partitionLeader{0, 2, 6}, partitionLeader{1, 2, 5}))
	s.advance(cfg.RetryBackoffNs * 2)
	s.none(b1)
	retry := s.next(b2, 0)
	if _, part, _ := producedBatch(t, retry); part != 0 {
		t.Fatalf("retry for partition %d", part)
	}
	s.answer(b2, retry, produceResponse(retry, 0, 1))
	if got := s.op(op0); got.Outcome != check.OutcomeOK || got.Records[0].Offset != 1 {
		t.Fatalf("partition 0: %+v", got)
	}
	if got := s.op(op1); got.Outcome != check.OutcomeOK || got.Records[0].Offset != 0 {
		t.Fatalf("partition 1: %+v", got)
	}
}

// idempotentSetup bootstraps an idempotent client whose producer id is 5 (epoch 0), with topic
// "t" partition 0 led by node 0 at b0:9092, and returns the bootstrap connection.
func idempotentSetup(s *script) client.ConnID {
	s.t.Helper()
	conn := s.connect("b0:9092")
	s.handshake(conn, brokerVersions())
	initReq := s.next(conn, 22)
	pid := kmsg.NewPtrInitProducerIDResponse()
	pid.ProducerID, pid.ProducerEpoch = 5, 0
	s.answer(conn, initReq, pid)
	s.answer(conn, s.next(conn, 3), metadataResponse(map[int32]string{0: "b0:9092"}, "t", topicID, partitionLeader{0, 0, 1}))
	return conn
}

// TestIdempotentSequencesAfterReset: pipelined batches get consecutive sequences; after a
// connection reset they are resent with the same producer id, epoch and sequences;
// DUPLICATE_SEQUENCE_NUMBER counts as success.
func TestIdempotentSequencesAfterReset(t *testing.T) {
	cfg := testConfig("b0:9092")
	s := newScript(t, cfg)
	a := s.produce("t", 0, "a0", "a1")
	b := s.produce("t", 0, "b0", "b1", "b2")
	c := s.produce("t", 0, "c0")
	bootstrap := idempotentSetup(s)
	leader := s.connect("b0:9092")
	s.handshake(leader, brokerVersions())
	wantSeqs := []int32{0, 2, 5}
	for i := range 3 {
		_, _, h := producedBatch(t, s.next(leader, 0))
		if h.ProducerID != 5 || h.ProducerEpoch != 0 || h.BaseSequence != wantSeqs[i] {
			t.Fatalf("batch %d: producer %d epoch %d seq %d, want seq %d", i, h.ProducerID, h.ProducerEpoch, h.BaseSequence, wantSeqs[i])
		}
	}

	s.reset(leader)
	for _, id := range []client.OpID{a, b, c} {
		s.notDone(id)
	}
	s.advance(cfg.ReconnectBackoffNs * 2)
	if reqs := s.sent[bootstrap]; len(reqs) == 1 && reqs[0].Header.APIKey == 3 {
		s.answer(bootstrap, s.next(bootstrap, 3), metadataResponse(map[int32]string{0: "b0:9092"}, "t", topicID, partitionLeader{0, 0, 1}))
	}
	leader = s.connect("b0:9092")
	s.handshake(leader, brokerVersions())
	s.advance(cfg.RetryBackoffNs * 2)
	// Until the first batch is acknowledged it goes alone: its first attempt may have been
	// appended, and the broker must still remember it when the retry arrives.
	if n := len(s.sent[leader]); n != 1 {
		t.Fatalf("%d requests after reconnecting, want only the first batch", n)
	}
	var resent [3]wire.Request
	for i := range 3 {
		resent[i] = s.next(leader, 0)
		_, _, h := producedBatch(t, resent[i])
		if h.ProducerID != 5 || h.ProducerEpoch != 0 || h.BaseSequence != wantSeqs[i] {
			t.Fatalf("resent batch %d: producer %d epoch %d seq %d, want seq %d", i, h.ProducerID, h.ProducerEpoch, h.BaseSequence, wantSeqs[i])
		}
		if i == 0 {
			s.answer(leader, resent[0], produceResponse(resent[0], 0, 10))
			// Acknowledged: the other two go out together.
		}
	}
	s.answer(leader, resent[1], produceResponse(resent[1], 46, -1)) // DUPLICATE_SEQUENCE_NUMBER
	s.answer(leader, resent[2], produceResponse(resent[2], 0, 15))
	if got := s.op(a); got.Outcome != check.OutcomeOK || got.Records[0].Offset != 10 || got.Records[1].Offset != 11 || !got.Idempotent {
		t.Fatalf("a: %+v", got)
	}
	if got := s.op(b); got.Outcome != check.OutcomeOK || got.Records[0].Offset != -1 {
		t.Fatalf("b (duplicate): %+v", got)
	}
	if got := s.op(c); got.Outcome != check.OutcomeOK || got.Records[0].Offset != 15 {
		t.Fatalf("c: %+v", got)
	}
}

// TestUnknownVersusFailed: a batch lost with its connection and never answered again ends
// unknown at the delivery timeout; a batch that never went out ends failed.
func TestUnknownVersusFailed(t *testing.T) {
	cfg := testConfig("b0:9092")
	s := newScript(t, cfg)
	sentOnce := s.produce("t", 0, "x")
	bootstrap := idempotentSetup(s)
	leader := s.connect("b0:9092")
	s.handshake(leader, brokerVersions())
	s.next(leader, 0)
	s.reset(leader)
	s.reset(bootstrap)
	neverSent := s.produce("t", 0, "y")
	// Every dial fails from now on.
	for range 1000 {
		for len(s.dials) > 0 {
			s.failDial(s.dials[0].Addr)
		}
		if len(s.completed) == 2 {
			break
		}
		s.advance(50_000_000)
	}
	got := s.op(sentOnce)
	if got.Outcome != check.OutcomeUnknown || !strings.HasPrefix(got.Err, "delivery timeout") || got.CompleteNs-got.InvokeNs < cfg.DeliveryTimeoutNs {
		t.Fatalf("in-flight batch: %v %q after %d ns", got.Outcome, got.Err, got.CompleteNs-got.InvokeNs)
	}
	got = s.op(neverSent)
	if got.Outcome != check.OutcomeFailed || !strings.HasPrefix(got.Err, "delivery timeout") {
		t.Fatalf("unsent batch: %v %q", got.Outcome, got.Err)
	}
	if s.c.Pending() != 0 {
		t.Fatalf("%d pending", s.c.Pending())
	}
}

// TestEpochBump: OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID on the first batch of a
// chain bumps the epoch locally (KIP-360) and resends the chain renumbered from 0; the batch
// behind it, rejected as out of order, follows.
func TestEpochBump(t *testing.T) {
	for _, code := range []int16{45, 59} {
		t.Run(client.ErrorName(code), func(t *testing.T) {
			cfg := testConfig("b0:9092")
			s := newScript(t, cfg)
			a := s.produce("t", 0, "a0", "a1")
			b := s.produce("t", 0, "b0")
			idempotentSetup(s)
			leader := s.connect("b0:9092")
			s.handshake(leader, brokerVersions())
			reqA, reqB := s.next(leader, 0), s.next(leader, 0)
			s.answer(leader, reqA, produceResponse(reqA, code, -1))
			s.answer(leader, reqB, produceResponse(reqB, 45, -1))
			s.notDone(a)
			s.notDone(b)
			s.advance(cfg.RetryBackoffNs * 2)
			wantSeqs := []int32{0, 2}
			for i, id := range []client.OpID{a, b} {
				req := s.next(leader, 0)
				_, _, h := producedBatch(t, req)
				if h.ProducerID != 5 || h.ProducerEpoch != 1 || h.BaseSequence != wantSeqs[i] {
					t.Fatalf("batch %d after the bump: producer %d epoch %d seq %d", i, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
				}
				s.answer(leader, req, produceResponse(req, 0, int64(20+wantSeqs[i])))
				if got := s.op(id); got.Outcome != check.OutcomeOK || got.Records[0].Offset != int64(20+wantSeqs[i]) {
					t.Fatalf("op %d: %+v", id, got)
				}
			}
		})
	}
}

// TestPlainRetryAfterReset: without idempotence a lost batch is resent as is (the broker cannot
// tell it from a new write: a duplicate is possible, and the checker expects that).
func TestPlainRetryAfterReset(t *testing.T) {
	cfg := testConfig("b0:9092")
	cfg.Idempotent = false
	cfg.Acks = client.AcksLeader
	s := newScript(t, cfg)
	op := s.produce("t", 0, "v")
	conn := s.bootstrapped("b0:9092", metadataResponse(map[int32]string{0: "b0:9092"}, "t", topicID, partitionLeader{0, 0, 1}))
	leader := s.connect("b0:9092")
	s.handshake(leader, brokerVersions())
	first := s.next(leader, 0)
	s.reset(leader)
	s.notDone(op)
	s.advance(cfg.ReconnectBackoffNs * 2)
	if reqs := s.sent[conn]; len(reqs) == 1 {
		s.answer(conn, s.next(conn, 3), metadataResponse(map[int32]string{0: "b0:9092"}, "t", topicID, partitionLeader{0, 0, 1}))
	}
	leader = s.connect("b0:9092")
	s.handshake(leader, brokerVersions())
	s.advance(cfg.RetryBackoffNs * 2)
	second := s.next(leader, 0)
	_, _, h1 := producedBatch(t, first)
	_, _, h2 := producedBatch(t, second)
	if h1.CRC != h2.CRC || h2.ProducerID != -1 {
		t.Fatalf("retry differs: crc %x vs %x, producer %d", h1.CRC, h2.CRC, h2.ProducerID)
	}
	s.answer(leader, second, produceResponse(second, 0, 7))
	if got := s.op(op); got.Outcome != check.OutcomeOK || got.Idempotent || got.Records[0].Offset != 7 {
		t.Fatalf("op: %+v", got)
	}
}

// TestAcksZero: with acks=0 no answer comes, so a produce ends unknown once written.
func TestAcksZero(t *testing.T) {
	cfg := testConfig("b0:9092")
	cfg.Idempotent = false
	cfg.Acks = client.AcksNone
	s := newScript(t, cfg)
	op := s.produce("t", 0, "v")
	s.bootstrapped("b0:9092", metadataResponse(map[int32]string{0: "b0:9092"}, "t", topicID, partitionLeader{0, 0, 1}))
	leader := s.connect("b0:9092")
	s.handshake(leader, brokerVersions())
	if req := s.next(leader, 0); req.Body.(*kmsg.ProduceRequest).Acks != 0 {
		t.Fatal("acks not 0")
	}
	if got := s.op(op); got.Outcome != check.OutcomeUnknown {
		t.Fatalf("acks=0 produce: %v", got.Outcome)
	}
}

// TestErrorTable pins the client's error table to franz-go's kerr.
func TestErrorTable(t *testing.T) {
	for code := int16(-1); code <= 136; code++ {
		if code == 0 {
			continue
		}
		want := kerr.ErrorForCode(code).(*kerr.Error)
		name := want.Message
		if name == "NOT_LEADER_FOR_PARTITION" {
			name = "NOT_LEADER_OR_FOLLOWER" // Kafka's current name
		}
		if got := client.ErrorName(code); got != name {
			t.Errorf("code %d: %s, kerr says %s", code, got, name)
		}
		if got := client.ErrorRetriable(code); got != want.Retriable {
			t.Errorf("code %d (%s): retriable %v, kerr says %v", code, name, got, want.Retriable)
		}
	}
	if got := client.ErrorName(9999); got != "UNKNOWN_ERROR_CODE_9999" {
		t.Errorf("undefined code: %s", got)
	}
}

// TestIdempotentFailureRenumbers: a batch refused for good (MESSAGE_TOO_LARGE) leaves a gap in
// its chain; the epoch is bumped and the batch behind it, refused as out of order, is resent
// as sequence 0 of the new epoch.
func TestIdempotentFailureRenumbers(t *testing.T) {
	cfg := testConfig("b0:9092")
	s := newScript(t, cfg)
	a := s.produce("t", 0, "a0", "a1")
	b := s.produce("t", 0, "b0")
	idempotentSetup(s)
	leader := s.connect("b0:9092")
	s.handshake(leader, brokerVersions())
	reqA, reqB := s.next(leader, 0), s.next(leader, 0)
	s.answer(leader, reqA, produceResponse(reqA, 10, -1)) // MESSAGE_TOO_LARGE
	if got := s.op(a); got.Outcome != check.OutcomeFailed || got.Err != "MESSAGE_TOO_LARGE" {
		t.Fatalf("a: %v %q", got.Outcome, got.Err)
	}
	s.answer(leader, reqB, produceResponse(reqB, 45, -1))
	s.advance(cfg.RetryBackoffNs * 2)
	req := s.next(leader, 0)
	if _, _, h := producedBatch(t, req); h.ProducerEpoch != 1 || h.BaseSequence != 0 {
		t.Fatalf("b resent with epoch %d seq %d, want 1 and 0", h.ProducerEpoch, h.BaseSequence)
	}
	s.answer(leader, req, produceResponse(req, 0, 3))
	if got := s.op(b); got.Outcome != check.OutcomeOK || got.Records[0].Offset != 3 {
		t.Fatalf("b: %+v", got)
	}
}

// TestEpochExhaustion: at the last epoch a bump asks for a new producer id instead.
func TestEpochExhaustion(t *testing.T) {
	cfg := testConfig("b0:9092")
	s := newScript(t, cfg)
	a := s.produce("t", 0, "a")
	conn := s.connect("b0:9092")
	s.handshake(conn, brokerVersions())
	initReq := s.next(conn, 22)
	pid := kmsg.NewPtrInitProducerIDResponse()
	pid.ProducerID, pid.ProducerEpoch = 5, 32766
	s.answer(conn, initReq, pid)
	s.answer(conn, s.next(conn, 3), metadataResponse(map[int32]string{0: "b0:9092"}, "t", topicID, partitionLeader{0, 0, 1}))
	leader := s.connect("b0:9092")
	s.handshake(leader, brokerVersions())
	req := s.next(leader, 0)
	s.answer(leader, req, produceResponse(req, 59, -1)) // UNKNOWN_PRODUCER_ID
	s.advance(cfg.RetryBackoffNs * 2)
	s.serveMetadata(metadataResponse(map[int32]string{0: "b0:9092"}, "t", topicID, partitionLeader{0, 0, 1}))
	initReq = s.next(conn, 22)
	pid.ProducerID, pid.ProducerEpoch = 6, 0
	s.answer(conn, initReq, pid)
	s.advance(cfg.RetryBackoffNs * 2)
	req = s.next(leader, 0)
	if _, _, h := producedBatch(t, req); h.ProducerID != 6 || h.ProducerEpoch != 0 || h.BaseSequence != 0 {
		t.Fatalf("after a new id: producer %d epoch %d seq %d", h.ProducerID, h.ProducerEpoch, h.BaseSequence)
	}
	s.answer(leader, req, produceResponse(req, 0, 0))
	if got := s.op(a); got.Outcome != check.OutcomeOK {
		t.Fatalf("a: %+v", got)
	}
}

// TestThrottle: a throttled answer (KIP-219) holds the connection's next request until the
// throttle time has passed.
func TestThrottle(t *testing.T) {
	cfg := testConfig("b0:9092")
	cfg.Idempotent = false
	cfg.Acks = client.AcksLeader
	s := newScript(t, cfg)
	s.produce("t", 0, "a")
	s.bootstrapped("b0:9092", metadataResponse(map[int32]string{0: "b0:9092"}, "t", topicID, partitionLeader{0, 0, 1}))
	leader := s.connect("b0:9092")
	s.handshake(leader, brokerVersions())
	req := s.next(leader, 0)
	resp := produceResponse(req, 0, 0)
	resp.ThrottleMillis = 500
	s.answer(leader, req, resp)
	s.produce("t", 0, "b")
	s.none(leader)
	s.advance(499_000_000)
	s.none(leader)
	s.advance(1_000_000)
	s.next(leader, 0)
}

// TestOutOfOrderAfterMaybeAppended: a batch whose first attempt may have been appended (its
// connection reset) and whose retry is answered OUT_OF_ORDER_SEQUENCE_NUMBER (a broker that
// restarted keeps only its producers' last batch, so it cannot tell an older retry from a
// gap) ends unknown and is not resent: under a new epoch the broker would append it again, a
// duplicate. As Java's producer does, the epoch is bumped for the batches behind it. Found by
// the simulator (seed 62: a crash between the append and its answer).
func TestOutOfOrderAfterMaybeAppended(t *testing.T) {
	cfg := testConfig("b0:9092")
	s := newScript(t, cfg)
	a := s.produce("t", 0, "a0")
	bootstrap := idempotentSetup(s)
	leader := s.connect("b0:9092")
	s.handshake(leader, brokerVersions())
	s.next(leader, 0) // the first attempt, appended, but the answer is lost with the connection
	s.reset(leader)
	s.advance(cfg.ReconnectBackoffNs * 2)
	if reqs := s.sent[bootstrap]; len(reqs) == 1 && reqs[0].Header.APIKey == 3 {
		s.answer(bootstrap, s.next(bootstrap, 3), metadataResponse(map[int32]string{0: "b0:9092"}, "t", topicID, partitionLeader{0, 0, 1}))
	}
	leader = s.connect("b0:9092")
	s.handshake(leader, brokerVersions())
	s.advance(cfg.RetryBackoffNs * 2)
	retry := s.next(leader, 0)
	s.answer(leader, retry, produceResponse(retry, 45, -1)) // OUT_OF_ORDER_SEQUENCE_NUMBER
	if got := s.op(a); got.Outcome != check.OutcomeUnknown {
		t.Fatalf("a: %+v, want an unknown outcome", got)
	}
	b := s.produce("t", 0, "b0")
	s.advance(cfg.RetryBackoffNs * 2)
	req := s.next(leader, 0)
	_, _, h := producedBatch(t, req)
	if h.ProducerEpoch != 1 || h.BaseSequence != 0 || h.RecordCount != 1 {
		t.Fatalf("the next batch: epoch %d seq %d, %d records; want b0 alone at epoch 1 seq 0", h.ProducerEpoch, h.BaseSequence, h.RecordCount)
	}
	s.answer(leader, req, produceResponse(req, 0, 30))
	if got := s.op(b); got.Outcome != check.OutcomeOK || got.Records[0].Offset != 30 {
		t.Fatalf("b: %+v", got)
	}
}
