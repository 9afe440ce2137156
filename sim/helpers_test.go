package sim

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/wire"
)

// Virtual-time limits for the tests' waits.
const (
	msNs     = int64(1e6)
	secondNs = int64(1e9)
	waitNs   = 10 * secondNs
)

// rawClient is a minimal Kafka client for tests: requests hand-encoded with wire.AppendRequest,
// responses framed and decoded with wire.DecodeResponse, over the simulated network.
type rawClient struct {
	t         testing.TB
	w         *World
	conn      *Conn
	connected bool
	closed    bool
	closeErr  error
	fr        *wire.FrameReader
	corr      int32
	sent      map[int32]sentRequest   // lookup only
	responses map[int32]kmsg.Response // lookup only
}

type sentRequest struct{ key, version int16 }

// apiVersionsRequest is ApiVersions as a v3+ client sends it (the software name and version
// must be set from v3 on).
func apiVersionsRequest() *kmsg.ApiVersionsRequest {
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "weir-sim-test", "1.0"
	return req
}

// dialClient connects from host to addr and waits until connected.
func dialClient(t testing.TB, w *World, network *Network, host, addr string) *rawClient {
	t.Helper()
	c := &rawClient{t: t, w: w, fr: wire.NewResponseFrameReader(wire.DefaultRequestBytesMax),
		sent: map[int32]sentRequest{}, responses: map[int32]kmsg.Response{}}
	// A node listens only once its broker serves (after a start or restart): redial on a
	// refusal, as a client does, until the wait runs out.
	deadline := w.NowNs() + waitNs
	for {
		c.connected, c.closed, c.closeErr = false, false, nil
		c.conn = network.Dial(host, addr, c)
		if !w.RunUntilTrue(func() bool { return c.connected || c.closed }, deadline) {
			break
		}
		if c.connected {
			return c
		}
		w.RunFor(msNs)
		if w.NowNs() >= deadline {
			break
		}
	}
	t.Fatalf("dial %s: connected %v, closed %v (%v)", addr, c.connected, c.closed, c.closeErr)
	return nil
}

func (c *rawClient) Connected(*Conn) { c.connected = true }

func (c *rawClient) Received(_ *Conn, data []byte) {
	for len(data) > 0 {
		n, frame, err := c.fr.Feed(data)
		if err != nil {
			c.t.Fatalf("client: framing a response: %v", err)
		}
		data = data[n:]
		if frame == nil {
			continue
		}
		if len(frame) < 4 {
			c.t.Fatalf("client: a %d-byte response frame", len(frame))
		}
		corr := int32(frame[0])<<24 | int32(frame[1])<<16 | int32(frame[2])<<8 | int32(frame[3])
		req, ok := c.sent[corr]
		if !ok {
			c.t.Fatalf("client: response to unknown correlation id %d", corr)
		}
		got, resp, err := wire.DecodeResponse(frame, req.key, req.version)
		if err != nil || got != corr {
			c.t.Fatalf("client: decoding response %d: %v", corr, err)
		}
		c.responses[corr] = resp
	}
}

func (c *rawClient) Closed(_ *Conn, err error) { c.closed, c.closeErr = true, err }

// send writes req at version and returns its correlation id.
func (c *rawClient) send(version int16, req kmsg.Request) int32 {
	c.t.Helper()
	c.corr++
	client := "sim-test"
	frame := wire.AppendRequest(nil, wire.RequestHeader{APIKey: req.Key(), APIVersion: version, CorrelationID: c.corr, ClientID: &client}, req)
	c.sent[c.corr] = sentRequest{req.Key(), version}
	if err := c.conn.Send(frame); err != nil {
		c.t.Fatalf("client: send: %v", err)
	}
	return c.corr
}

// wait runs the world until corr is answered, failing the test if it is not.
func (c *rawClient) wait(corr int32) kmsg.Response {
	c.t.Helper()
	resp, ok := c.tryWait(corr)
	if !ok {
		c.t.Fatalf("no response to %d (connection closed %v: %v)", corr, c.closed, c.closeErr)
	}
	return resp
}

// tryWait runs the world until corr is answered or the connection closes.
func (c *rawClient) tryWait(corr int32) (kmsg.Response, bool) {
	c.w.RunUntilTrue(func() bool { _, ok := c.responses[corr]; return ok || c.closed }, c.w.NowNs()+waitNs)
	resp, ok := c.responses[corr]
	return resp, ok
}

// call sends req and waits for its response.
func (c *rawClient) call(version int16, req kmsg.Request) kmsg.Response {
	c.t.Helper()
	return c.wait(c.send(version, req))
}

func (c *rawClient) createTopic(name string, partitions int32) {
	c.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	topic := kmsg.NewCreateTopicsRequestTopic()
	topic.Topic, topic.NumPartitions, topic.ReplicationFactor = name, partitions, 1
	req.Topics = append(req.Topics, topic)
	req.TimeoutMillis = 10_000
	resp := c.call(7, req).(*kmsg.CreateTopicsResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		c.t.Fatalf("create topic %s: %+v", name, resp.Topics)
	}
}

// produceRequest is a produce of one batch to topic partition 0 with acks=-1.
func produceRequest(topic string, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10_000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = 0, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// produce sends one batch with acks=-1 and returns the base offset it was given.
func (c *rawClient) produce(topic string, batch []byte) int64 {
	c.t.Helper()
	resp := c.call(9, produceRequest(topic, batch)).(*kmsg.ProduceResponse)
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		c.t.Fatalf("produce: error code %d", p.ErrorCode)
	}
	return p.BaseOffset
}

// fetch reads partition 0 of topic from offset, returning the record batches and the high
// watermark.
func (c *rawClient) fetch(topic string, offset int64) ([]byte, int64) {
	c.t.Helper()
	resp := c.call(12, fetchRequest(topic, offset, 0, 1, 1<<20)).(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		c.t.Fatalf("fetch: %+v", resp)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		c.t.Fatalf("fetch %s from %d: error code %d", topic, offset, p.ErrorCode)
	}
	return p.RecordBatches, p.HighWatermark
}

// testBatch is a batch of count records whose values name tag, as a producer sends it.
func testBatch(t testing.TB, tag string, count int) []byte {
	t.Helper()
	records := make([]record.Record, count)
	for i := range records {
		records[i] = record.Record{OffsetDelta: int32(i), Value: fmt.Appendf(nil, "%s-%d", tag, i)}
	}
	b, err := record.AppendBatch(nil, record.BatchOptions{
		PartitionLeaderEpoch: -1, FirstTimestamp: 1_700_000_000_000, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
	}, records)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameBatch checks that stored is sent as the broker stores it: the same bytes after the
// fields the broker assigns (base offset, partition leader epoch), at base offset base.
func sameBatch(t testing.TB, stored, sent []byte, base int64) {
	t.Helper()
	const assigned = 8 + 4 + 4 // base offset, batch length, partition leader epoch
	h, err := record.ParseHeader(stored)
	if err != nil {
		t.Fatalf("stored batch: %v", err)
	}
	if int64(h.BaseOffset) != base || len(stored) != len(sent) || !bytes.Equal(stored[assigned:], sent[assigned:]) ||
		!bytes.Equal(stored[8:12], sent[8:12]) {
		t.Fatalf("stored batch at %d (%d bytes) is not the batch sent at %d (%d bytes)", h.BaseOffset, len(stored), base, len(sent))
	}
}

// fetchRequest is a consumer's fetch of partition 0 of topic from offset, waiting up to
// maxWaitMs for minBytes, answering at most maxBytes.
func fetchRequest(topic string, offset int64, maxWaitMs, minBytes, maxBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.SessionEpoch = -1, maxWaitMs, minBytes, maxBytes, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = 0, offset, maxBytes
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}
