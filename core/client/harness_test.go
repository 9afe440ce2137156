package client_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/core/client"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/wire"
)

// script plays the brokers by hand: it decodes every request the client sends (as a broker
// would, with core/wire) and answers with kmsg responses the test builds, on virtual time.
type script struct {
	t         *testing.T
	c         *client.Client
	nowNs     int64
	dials     []client.Dial
	open      map[client.ConnID]bool
	sent      map[client.ConnID][]wire.Request
	closes    []client.ConnID
	completed []check.Op
	admin     []client.AdminResult
	deadline  int64
	chunk     int // answer in chunks of this many bytes (0: whole)
}

// every version of every key kmsg knows, for decoding whatever the client sends.
var anyVersion = func() wire.VersionTable {
	var ranges []wire.VersionRange
	for _, key := range []int16{0, 1, 2, 3, 18, 19, 22, 23, 43, 45} {
		ranges = append(ranges, wire.VersionRange{APIKey: key, MinVersion: 0, MaxVersion: kmsg.RequestForKey(key).MaxVersion()})
	}
	t, err := wire.NewVersionTable(ranges...)
	if err != nil {
		panic(err)
	}
	return t
}()

func newScript(t *testing.T, cfg client.Config) *script {
	s := &script{t: t, open: map[client.ConnID]bool{}, sent: map[client.ConnID][]wire.Request{}, nowNs: 1_000_000}
	s.c = client.New(cfg, rand.New(rand.NewPCG(7, 7)))
	return s
}

// testConfig is a config with short timeouts for scripted tests.
func testConfig(bootstrap ...string) client.Config {
	cfg := client.DefaultConfig(bootstrap...)
	cfg.RequestTimeoutNs = 1_000_000_000
	cfg.DeliveryTimeoutNs = 5_000_000_000
	cfg.APITimeoutNs = 5_000_000_000
	cfg.RetryBackoffNs = 10_000_000
	cfg.ReconnectBackoffNs = 10_000_000
	return cfg
}

// take records a Ready's effects, decoding every request sent.
func (s *script) take(r client.Ready) {
	s.t.Helper()
	for _, id := range r.Closes {
		delete(s.open, id)
		s.closes = append(s.closes, id)
	}
	s.dials = append(s.dials, r.Dials...)
	for _, send := range r.Sends {
		if !s.open[send.Conn] {
			s.t.Fatalf("send on connection %d, which is not open", send.Conn)
		}
		if len(send.Data) < 4 {
			s.t.Fatalf("send of %d bytes", len(send.Data))
		}
		req, err := wire.DecodeRequest(send.Data[4:], &anyVersion)
		if err != nil {
			s.t.Fatalf("the client sent a request that does not decode: %v", err)
		}
		s.sent[send.Conn] = append(s.sent[send.Conn], req)
	}
	s.completed = append(s.completed, r.Completed...)
	s.admin = append(s.admin, r.AdminCompleted...)
	s.deadline = r.NextDeadlineNs
}

// connect opens the oldest dial to addr that is not open yet and returns its id.
func (s *script) connect(addr string) client.ConnID {
	s.t.Helper()
	for i, d := range s.dials {
		if d.Addr == addr {
			s.dials = slices.Delete(s.dials, i, i+1)
			s.open[d.Conn] = true
			s.take(s.c.Connected(d.Conn, s.nowNs))
			return d.Conn
		}
	}
	s.t.Fatalf("no dial to %s (dials %v)", addr, s.dials)
	return 0
}

// failDial reports the oldest dial to addr as failed.
func (s *script) failDial(addr string) {
	s.t.Helper()
	for i, d := range s.dials {
		if d.Addr == addr {
			s.dials = slices.Delete(s.dials, i, i+1)
			s.take(s.c.Closed(d.Conn, s.nowNs))
			return
		}
	}
	s.t.Fatalf("no dial to %s", addr)
}

// reset closes an open connection from the broker's side.
func (s *script) reset(conn client.ConnID) {
	delete(s.open, conn)
	delete(s.sent, conn)
	s.take(s.c.Closed(conn, s.nowNs))
}

// next pops the oldest request sent on conn, which must be of key.
func (s *script) next(conn client.ConnID, key int16) wire.Request {
	s.t.Helper()
	reqs := s.sent[conn]
	if len(reqs) == 0 {
		s.t.Fatalf("no request on connection %d, want %s", conn, kmsg.NameForKey(key))
	}
	s.sent[conn] = reqs[1:]
	if reqs[0].Header.APIKey != key {
		s.t.Fatalf("request on connection %d is %s, want %s", conn, kmsg.NameForKey(reqs[0].Header.APIKey), kmsg.NameForKey(key))
	}
	return reqs[0]
}

// none checks that nothing more was sent on conn.
func (s *script) none(conn client.ConnID) {
	s.t.Helper()
	if reqs := s.sent[conn]; len(reqs) > 0 {
		s.t.Fatalf("unexpected %s on connection %d", kmsg.NameForKey(reqs[0].Header.APIKey), conn)
	}
}

// answer sends resp as the answer to req on conn, in chunks if s.chunk is set. The bytes are
// never touched again, so they are handed over (ReceivedOwned, as the simulator does); the
// faults test and the TCP driver cover Received.
func (s *script) answer(conn client.ConnID, req wire.Request, resp kmsg.Response) {
	s.t.Helper()
	data := wire.AppendResponse(nil, req.Header, resp)
	if s.chunk <= 0 {
		s.take(s.c.ReceivedOwned(conn, data, s.nowNs))
		return
	}
	for len(data) > 0 {
		n := min(s.chunk, len(data))
		s.take(s.c.ReceivedOwned(conn, data[:n], s.nowNs))
		data = data[n:]
	}
}

// advance moves virtual time on and fires the client's timer if it is due.
func (s *script) advance(ns int64) {
	target := s.nowNs + ns
	for s.deadline > 0 && s.deadline <= target {
		s.nowNs = max(s.nowNs, s.deadline)
		s.take(s.c.Timer(s.nowNs))
	}
	s.nowNs = target
	s.take(s.c.Timer(s.nowNs))
}

// produce starts a produce of values to topic/partition.
func (s *script) produce(topic string, partition int32, values ...string) client.OpID {
	records := make([]check.Record, len(values))
	for i, v := range values {
		records[i] = check.Record{Value: v}
	}
	id, r := s.c.Produce(topic, partition, records, s.nowNs)
	s.take(r)
	return id
}

// op returns the completed operation id, failing if it has not completed.
func (s *script) op(id client.OpID) check.Op {
	s.t.Helper()
	for _, op := range s.completed {
		if op.Seq == int64(id) {
			return op
		}
	}
	s.t.Fatalf("operation %d has not completed (completed: %d)", id, len(s.completed))
	return check.Op{}
}

// notDone checks that operation id has not completed.
func (s *script) notDone(id client.OpID) {
	s.t.Helper()
	for _, op := range s.completed {
		if op.Seq == int64(id) {
			s.t.Fatalf("operation %d completed: %v %q", id, op.Outcome, op.Err)
		}
	}
}

// brokerVersions is what the scripted brokers advertise unless a test says otherwise.
func brokerVersions() []kmsg.ApiVersionsResponseApiKey {
	v := wire.DefaultVersions()
	return v.APIKeys()
}

// handshake answers the ApiVersions request on conn with keys.
func (s *script) handshake(conn client.ConnID, keys []kmsg.ApiVersionsResponseApiKey) {
	s.t.Helper()
	req := s.next(conn, 18)
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.ApiKeys = keys
	s.answer(conn, req, resp)
}

// partitionLeader is one partition of a metadata answer.
type partitionLeader struct {
	partition int32
	leader    int32
	epoch     int32
}

// metadataResponse builds a Metadata answer: brokers by node id → host:port, one topic.
func metadataResponse(brokers map[int32]string, topic string, topicID [16]byte, partitions ...partitionLeader) *kmsg.MetadataResponse {
	resp := kmsg.NewPtrMetadataResponse()
	ids := make([]int32, 0, len(brokers))
	for id := range brokers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID = id
		host, port := splitHostPort(brokers[id])
		b.Host, b.Port = host, port
		resp.Brokers = append(resp.Brokers, b)
	}
	resp.ControllerID = ids[0]
	if topic != "" {
		t := kmsg.NewMetadataResponseTopic()
		t.Topic = kmsg.StringPtr(topic)
		t.TopicID = topicID
		for _, p := range partitions {
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition, mp.Leader, mp.LeaderEpoch = p.partition, p.leader, p.epoch
			mp.Replicas, mp.ISR = []int32{p.leader}, []int32{p.leader}
			t.Partitions = append(t.Partitions, mp)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func splitHostPort(addr string) (string, int32) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			port := int32(0)
			for _, ch := range addr[i+1:] {
				port = port*10 + int32(ch-'0')
			}
			return addr[:i], port
		}
	}
	panic("no port in " + addr)
}

// produceResponse answers a produce request for one partition.
func produceResponse(req wire.Request, code int16, baseOffset int64) *kmsg.ProduceResponse {
	preq := req.Body.(*kmsg.ProduceRequest)
	resp := kmsg.NewPtrProduceResponse()
	for _, t := range preq.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = code
			rp.BaseOffset = baseOffset
			rp.LogStartOffset = 0
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// producedBatch returns the header of the one batch in a produce request.
func producedBatch(t *testing.T, req wire.Request) (topic string, partition int32, h record.Header) {
	t.Helper()
	preq := req.Body.(*kmsg.ProduceRequest)
	if len(preq.Topics) != 1 || len(preq.Topics[0].Partitions) != 1 {
		t.Fatalf("produce request with %d topics", len(preq.Topics))
	}
	p := preq.Topics[0].Partitions[0]
	h, err := record.Validate(p.Records)
	if err != nil {
		t.Fatalf("produced batch: %v", err)
	}
	return preq.Topics[0].Topic, p.Partition, h
}

// bootstrapped connects the bootstrap address, negotiates, and answers the first Metadata
// request with md; it returns the bootstrap connection.
func (s *script) bootstrapped(addr string, md *kmsg.MetadataResponse) client.ConnID {
	s.t.Helper()
	conn := s.connect(addr)
	s.handshake(conn, brokerVersions())
	req := s.next(conn, 3)
	s.answer(conn, req, md)
	return conn
}

// serveMetadata answers every Metadata request waiting on any connection with md.
func (s *script) serveMetadata(md *kmsg.MetadataResponse) {
	s.t.Helper()
	for conn, reqs := range s.sent {
		for len(reqs) > 0 && reqs[0].Header.APIKey == 3 {
			s.answer(conn, s.next(conn, 3), md)
			reqs = s.sent[conn]
		}
	}
}
