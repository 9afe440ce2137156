package netio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weirdata/weir/core/wire"
)

// testPeerConfig is DefaultPeerConfig with short timers, so failure paths finish quickly.
func testPeerConfig() PeerConfig {
	cfg := DefaultPeerConfig("weir-node-1")
	cfg.DialTimeout = 2 * time.Second
	cfg.RequestTimeout = 5 * time.Second
	return cfg
}

// startPeerClient returns a client logging to the returned buffer; cleanup closes it.
func startPeerClient(t testing.TB, cfg PeerConfig) (*PeerClient, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	c, err := NewPeerClient(cfg, newTestLogger(logs))
	if err != nil {
		t.Fatalf("NewPeerClient: %v", err)
	}
	t.Cleanup(c.Close)
	return c, logs
}

func setAddress(t testing.TB, c *PeerClient, node int32, addr string) {
	t.Helper()
	if err := c.SetAddress(node, addr); err != nil {
		t.Fatalf("SetAddress(%d, %s): %v", node, addr, err)
	}
}

// nextPeerEvent waits for the client's next event.
func nextPeerEvent(t testing.TB, c *PeerClient) PeerEvent {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatalf("peer events closed")
		}
		return ev
	case <-time.After(testTimeout):
		t.Fatalf("no peer event within %v", testTimeout)
	}
	return PeerEvent{}
}

// noPeerEvent checks that no event arrives for a while.
func noPeerEvent(t testing.TB, c *PeerClient, wait time.Duration) {
	t.Helper()
	select {
	case ev := <-c.Events():
		t.Fatalf("unexpected peer event %+v", ev)
	case <-time.After(wait):
	}
}

// answerRequests answers every request srv receives with answer(ev) (nil: no response is
// ever written, so the client's request stays in flight) until the test ends.
func answerRequests(t testing.TB, srv *Server, answer func(ev Event) kmsg.Response) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case ev, ok := <-srv.Events():
				if !ok {
					return
				}
				if ev.Kind == EventRequest {
					srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: answer(ev)})
				}
			case <-stop:
				return
			}
		}
	}()
	// Registered after startServer's cleanup, so it runs first; the shutdown drains the rest.
	t.Cleanup(func() {
		close(stop)
		<-done
	})
}

// metadataAnswer answers a Metadata request with a cluster id naming the request's
// correlation id and the server (tag), so a test can tell which request an answer is for.
func metadataAnswer(tag string) func(ev Event) kmsg.Response {
	return func(ev Event) kmsg.Response {
		resp := kmsg.NewPtrMetadataResponse()
		id := clusterIDFor(tag, ev.Request.Header.CorrelationID)
		resp.ClusterID = &id
		return resp
	}
}

func clusterIDFor(tag string, correlationID int32) string {
	return fmt.Sprintf("%s-%d", tag, correlationID)
}

// metadataClusterID is the cluster id of a Metadata response event, failing otherwise.
func metadataClusterID(t testing.TB, ev PeerEvent) string {
	t.Helper()
	if ev.Err != nil {
		t.Fatalf("event for correlation id %d: %v", ev.CorrelationID, ev.Err)
	}
	resp, ok := ev.Response.(*kmsg.MetadataResponse)
	if !ok {
		t.Fatalf("event for correlation id %d: response %T, want *kmsg.MetadataResponse", ev.CorrelationID, ev.Response)
	}
	if resp.ClusterID == nil {
		t.Fatalf("event for correlation id %d: no cluster id", ev.CorrelationID)
	}
	return *resp.ClusterID
}

// rawPeerServer accepts connections for a test that speaks the protocol by hand: inter-node
// keys (which a netio.Server refuses: they are never advertised) and broken responses.
type rawPeerServer struct {
	ln    net.Listener
	conns chan net.Conn
	wg    sync.WaitGroup
}

func startRawPeerServer(t testing.TB) *rawPeerServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &rawPeerServer{ln: ln, conns: make(chan net.Conn, 16)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(s.conns)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case s.conns <- nc:
			default:
				nc.Close() // more connections than any test expects
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
		for nc := range s.conns {
			nc.Close()
		}
	})
	return s
}

func (s *rawPeerServer) addr() string { return s.ln.Addr().String() }

// accept returns the next connection the client opened.
func (s *rawPeerServer) accept(t testing.TB) *rawPeerConn {
	t.Helper()
	select {
	case nc, ok := <-s.conns:
		if !ok {
			t.Fatalf("raw peer server stopped")
		}
		nc.SetDeadline(time.Now().Add(testTimeout))
		t.Cleanup(func() { nc.Close() })
		return &rawPeerConn{t: t, nc: nc, fr: wire.NewRequestFrameReader(wire.DefaultRequestBytesMax)}
	case <-time.After(testTimeout):
		t.Fatalf("no connection within %v", testTimeout)
	}
	return nil
}

type rawPeerConn struct {
	t  testing.TB
	nc net.Conn
	fr *wire.FrameReader
	p  []byte
}

// readRequest reads and decodes the next request, of any key kmsg knows.
func (c *rawPeerConn) readRequest() (wire.RequestHeader, kmsg.Request) {
	c.t.Helper()
	buf := make([]byte, 64<<10)
	var frame []byte
	for frame == nil {
		if len(c.p) == 0 {
			n, err := c.nc.Read(buf)
			if n == 0 {
				c.t.Fatalf("reading a request: %v", err)
			}
			c.p = append([]byte(nil), buf[:n]...)
		}
		n, f, err := c.fr.Feed(c.p)
		c.p = c.p[n:]
		if err != nil {
			c.t.Fatalf("framing a request: %v", err)
		}
		frame = f
	}
	var h wire.RequestHeader
	h.APIKey = int16(binary.BigEndian.Uint16(frame[0:]))
	h.APIVersion = int16(binary.BigEndian.Uint16(frame[2:]))
	h.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
	idBytes := int(int16(binary.BigEndian.Uint16(frame[8:])))
	rest := frame[10:]
	if idBytes >= 0 {
		id := string(rest[:idBytes])
		h.ClientID = &id
		rest = rest[idBytes:]
	}
	body := kmsg.RequestForKey(h.APIKey)
	if body == nil {
		c.t.Fatalf("request with unknown api key %d", h.APIKey)
	}
	body.SetVersion(h.APIVersion)
	if body.IsFlexible() {
		if len(rest) == 0 || rest[0] != 0 {
			c.t.Fatalf("flexible request header without an empty tagged-field section")
		}
		rest = rest[1:]
	}
	if err := body.ReadFrom(rest); err != nil {
		c.t.Fatalf("decoding %s v%d: %v", kmsg.NameForKey(h.APIKey), h.APIVersion, err)
	}
	return h, body
}

func (c *rawPeerConn) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// expectClosed reads until the client closes the connection.
func (c *rawPeerConn) expectClosed() {
	c.t.Helper()
	buf := make([]byte, 4096)
	for {
		_, err := c.nc.Read(buf)
		if err == nil {
			continue
		}
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			c.t.Fatalf("the client did not close the connection: %v", err)
		}
		return
	}
}

// voteRequest is a quorum Vote request for __cluster_metadata-0 in candidateEpoch.
func voteRequest(candidateEpoch int32) *kmsg.VoteRequest {
	req := kmsg.NewPtrVoteRequest()
	clusterID := "cluster"
	req.ClusterID = &clusterID
	req.VoterID = 2
	topic := kmsg.NewVoteRequestTopic()
	topic.Topic = "__cluster_metadata"
	part := kmsg.NewVoteRequestTopicPartition()
	part.CandidateEpoch = candidateEpoch
	part.CandidateID = 1
	topic.Partitions = append(topic.Partitions, part)
	req.Topics = append(req.Topics, topic)
	return req
}

// voteResponse grants req's vote, echoing its epoch as the leader epoch.
func voteResponse(req *kmsg.VoteRequest) *kmsg.VoteResponse {
	resp := kmsg.NewPtrVoteResponse()
	topic := kmsg.NewVoteResponseTopic()
	topic.Topic = req.Topics[0].Topic
	part := kmsg.NewVoteResponseTopicPartition()
	part.LeaderEpoch = req.Topics[0].Partitions[0].CandidateEpoch
	part.LeaderID = -1
	part.VoteGranted = true
	topic.Partitions = append(topic.Partitions, part)
	resp.Topics = append(resp.Topics, topic)
	return resp
}

// waitGoroutines waits until at most want goroutines run, failing after a bounded wait.
func waitGoroutines(t testing.TB, want int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		got := runtime.NumGoroutine()
		if got <= want {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines still run, want at most %d:\n%s", got, want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closedAddr is a 127.0.0.1 address nothing listens on: dials to it are refused.
func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
