package netio

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weirdata/weir/core/wire"
)

// TestPeerResponsesDecoded: each response comes back as its request's kmsg type at its
// version, with the right header version (ApiVersions always v0, Metadata v1 when flexible),
// matched by the caller's correlation id; the server sees the configured client id.
func TestPeerResponsesDecoded(t *testing.T) {
	srv, _ := startServer(t, testConfig())
	clientIDs := make(chan string, 8)
	answerRequests(t, srv, func(ev Event) kmsg.Response {
		if id := ev.Request.Header.ClientID; id != nil {
			clientIDs <- *id
		}
		if ev.Request.Header.APIKey == apiVersionsKey {
			return apiVersionsResponse(&srv.cfg.Versions)
		}
		return metadataAnswer("srv")(ev)
	})
	c, _ := startPeerClient(t, testPeerConfig())
	setAddress(t, c, 7, srv.Addr().String())

	sends := []struct {
		req     kmsg.Request
		version int16
	}{
		{kmsg.NewPtrApiVersionsRequest(), 0},
		{kmsg.NewPtrApiVersionsRequest(), 3}, // flexible body, header v0
		{kmsg.NewPtrMetadataRequest(), 4},    // header v0
		{kmsg.NewPtrMetadataRequest(), 12},   // flexible: header v1
	}
	for i, s := range sends {
		if !c.Send(7, s.req, s.version, int32(40+i)) {
			t.Fatalf("send %d refused", i)
		}
	}
	for i, s := range sends {
		ev := nextPeerEvent(t, c)
		if ev.Err != nil {
			t.Fatalf("event %d: %v", i, ev.Err)
		}
		if ev.From != 7 || ev.CorrelationID != int32(40+i) || ev.APIKey != s.req.Key() || ev.Version != s.version || ev.Request != s.req {
			t.Fatalf("event %d: from %d correlation id %d key %d version %d, want 7, %d, %d, %d (and the request sent)",
				i, ev.From, ev.CorrelationID, ev.APIKey, ev.Version, 40+i, s.req.Key(), s.version)
		}
		if ev.Response.Key() != s.req.Key() || ev.Response.GetVersion() != s.version {
			t.Fatalf("event %d: response %T v%d, want key %d v%d", i, ev.Response, ev.Response.GetVersion(), s.req.Key(), s.version)
		}
		switch resp := ev.Response.(type) {
		case *kmsg.ApiVersionsResponse:
			if want := len(srv.cfg.Versions.Ranges()); len(resp.ApiKeys) != want {
				t.Fatalf("event %d: %d api keys, want %d", i, len(resp.ApiKeys), want)
			}
		case *kmsg.MetadataResponse:
			if got, want := metadataClusterID(t, ev), clusterIDFor("srv", int32(40+i)); got != want {
				t.Fatalf("event %d: cluster id %q, want %q", i, got, want)
			}
		default:
			t.Fatalf("event %d: response %T", i, ev.Response)
		}
	}
	for range sends {
		if id := <-clientIDs; id != "weir-node-1" {
			t.Fatalf("client id %q, want weir-node-1", id)
		}
	}
}

// TestPeerVoteRoundTrip: a quorum Vote (an inter-node key a netio.Server never advertises)
// at every version kmsg speaks, against a hand-written peer.
func TestPeerVoteRoundTrip(t *testing.T) {
	raw := startRawPeerServer(t)
	c, _ := startPeerClient(t, testPeerConfig())
	setAddress(t, c, 2, raw.addr())
	var conn *rawPeerConn
	for version := int16(0); version <= kmsg.NewPtrVoteRequest().MaxVersion(); version++ {
		epoch := int32(10 + version)
		if !c.Send(2, voteRequest(epoch), version, int32(version)+100) {
			t.Fatalf("send refused")
		}
		if conn == nil {
			conn = raw.accept(t)
		}
		h, body := conn.readRequest()
		req, ok := body.(*kmsg.VoteRequest)
		if !ok || h.APIVersion != version || h.CorrelationID != int32(version)+100 {
			t.Fatalf("server read %T v%d correlation id %d", body, h.APIVersion, h.CorrelationID)
		}
		if got := req.Topics[0].Partitions[0].CandidateEpoch; got != epoch {
			t.Fatalf("candidate epoch %d, want %d", got, epoch)
		}
		conn.write(wire.AppendResponse(nil, h, voteResponse(req)))
		ev := nextPeerEvent(t, c)
		if ev.Err != nil {
			t.Fatalf("v%d: %v", version, ev.Err)
		}
		resp, ok := ev.Response.(*kmsg.VoteResponse)
		if !ok || resp.Version != version || ev.CorrelationID != int32(version)+100 {
			t.Fatalf("v%d: event %T v%d correlation id %d", version, ev.Response, ev.Response.GetVersion(), ev.CorrelationID)
		}
		p := resp.Topics[0].Partitions[0]
		if !p.VoteGranted || p.LeaderEpoch != epoch || p.LeaderID != -1 {
			t.Fatalf("v%d: decoded partition %+v", version, p)
		}
	}
}

// TestPeerPipelining: up to InFlightPerConnMax requests are written before the first answer,
// never more, and the answers (given by the server's loop in reverse) come back in order.
func TestPeerPipelining(t *testing.T) {
	srvCfg := testConfig()
	srvCfg.InFlightPerConnMax = 10 // the client's window is what is tested
	srv, _ := startServer(t, srvCfg)
	const window, total = 5, 20
	overflow := make(chan int, total)
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		var held []Event
		for done := 0; done < total; {
			ev, ok := <-srv.Events()
			if !ok || ev.Kind != EventRequest {
				return
			}
			held = append(held, ev)
			if len(held) < window {
				continue
			}
			// A full window: nothing more may arrive until an answer goes out.
			select {
			case extra := <-srv.Events():
				overflow <- len(held) + 1
				if extra.Kind == EventRequest {
					held = append(held, extra)
				}
			case <-time.After(30 * time.Millisecond):
			}
			for i := len(held) - 1; i >= 0; i-- {
				srv.Respond(Response{Conn: held[i].Conn, Seq: held[i].Seq, Header: held[i].Request.Header, Body: metadataAnswer("p")(held[i])})
			}
			done += len(held)
			held = held[:0]
		}
	}()
	cfg := testPeerConfig()
	cfg.InFlightPerConnMax = window
	c, _ := startPeerClient(t, cfg)
	setAddress(t, c, 3, srv.Addr().String())
	for i := range total {
		if !c.Send(3, kmsg.NewPtrMetadataRequest(), 12, int32(1000+i)) {
			t.Fatalf("send %d refused", i)
		}
	}
	for i := range total {
		var ev PeerEvent
		select {
		case n := <-overflow:
			t.Fatalf("the server received %d unanswered requests, above the window of %d", n, window)
		case ev = <-c.Events():
		case <-time.After(testTimeout):
			t.Fatalf("no peer event within %v", testTimeout)
		}
		if ev.CorrelationID != int32(1000+i) {
			t.Fatalf("event %d has correlation id %d, want %d", i, ev.CorrelationID, 1000+i)
		}
		if got, want := metadataClusterID(t, ev), clusterIDFor("p", int32(1000+i)); got != want {
			t.Fatalf("event %d: cluster id %q, want %q", i, got, want)
		}
	}
	select {
	case <-answered:
	case <-time.After(testTimeout):
		t.Fatalf("the server's loop did not finish")
	}
	select {
	case n := <-overflow:
		t.Fatalf("the server received %d unanswered requests, above the window of %d", n, window)
	default:
	}
}

// TestPeerServerClosesConnection: requests in flight when the server closes the connection
// fail with ErrPeerDisconnected, in order; the next send redials and is answered.
func TestPeerServerClosesConnection(t *testing.T) {
	srv, _ := startServer(t, testConfig())
	c, logs := startPeerClient(t, testPeerConfig())
	setAddress(t, c, 4, srv.Addr().String())
	for i := range 3 {
		if !c.Send(4, kmsg.NewPtrMetadataRequest(), 12, int32(i)) {
			t.Fatalf("send %d refused", i)
		}
	}
	var conn ConnID
	for range 3 {
		ev := nextEvent(t, srv)
		conn = ev.Conn
	}
	srv.Close(conn) // unanswered
	for i := range 3 {
		ev := nextPeerEvent(t, c)
		if ev.CorrelationID != int32(i) || !errors.Is(ev.Err, ErrPeerDisconnected) || ev.Response != nil {
			t.Fatalf("event %d: correlation id %d err %v response %v, want %d and ErrPeerDisconnected", i, ev.CorrelationID, ev.Err, ev.Response, i)
		}
	}
	if ev := nextEvent(t, srv); ev.Kind != EventClosed || ev.Conn != conn {
		t.Fatalf("server event %+v, want the connection's EventClosed", ev)
	}
	answerRequests(t, srv, metadataAnswer("again"))
	if !c.Send(4, kmsg.NewPtrMetadataRequest(), 12, 9) {
		t.Fatalf("send after the disconnection refused")
	}
	if got := metadataClusterID(t, nextPeerEvent(t, c)); got != clusterIDFor("again", 9) {
		t.Fatalf("cluster id %q after reconnecting", got)
	}
	if !strings.Contains(logs.String(), "closing connection to peer") {
		t.Fatalf("no log of the lost connection:\n%s", logs)
	}
}

// TestPeerReconnectAfterRestart: while the server is down sends fail with
// ErrPeerDisconnected; once it listens again on the same address a send succeeds.
func TestPeerReconnectAfterRestart(t *testing.T) {
	cfg := testConfig()
	srv, err := Listen("127.0.0.1:0", cfg, newTestLogger(&logBuffer{}))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := srv.Addr().String()
	answerRequests(t, srv, metadataAnswer("first"))
	c, logs := startPeerClient(t, testPeerConfig())
	setAddress(t, c, 5, addr)
	if !c.Send(5, kmsg.NewPtrMetadataRequest(), 12, 1) {
		t.Fatalf("send refused")
	}
	if got := metadataClusterID(t, nextPeerEvent(t, c)); got != clusterIDFor("first", 1) {
		t.Fatalf("cluster id %q", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// Down: every send is accepted and fails, after a backoff, when its dial is refused.
	for i := range 3 {
		if !c.Send(5, kmsg.NewPtrMetadataRequest(), 12, int32(10+i)) {
			t.Fatalf("send while down refused")
		}
		if ev := nextPeerEvent(t, c); !errors.Is(ev.Err, ErrPeerDisconnected) || ev.CorrelationID != int32(10+i) {
			t.Fatalf("while down: correlation id %d err %v, want %d and ErrPeerDisconnected", ev.CorrelationID, ev.Err, 10+i)
		}
	}
	if !strings.Contains(logs.String(), "could not be established") {
		t.Fatalf("no log of the refused dials:\n%s", logs)
	}

	srv2, err := Listen(addr, cfg, newTestLogger(&logBuffer{}))
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	t.Cleanup(func() { shutdownDraining(t, srv2) })
	answerRequests(t, srv2, metadataAnswer("second"))
	if !c.Send(5, kmsg.NewPtrMetadataRequest(), 12, 20) {
		t.Fatalf("send after the restart refused")
	}
	if got := metadataClusterID(t, nextPeerEvent(t, c)); got != clusterIDFor("second", 20) {
		t.Fatalf("cluster id %q after the restart", got)
	}
}

// TestPeerReconnectBackoff: consecutive dials to an address that refuses them are spaced by
// reconnect.backoff.ms doubling up to reconnect.backoff.max.ms, less at most 20% jitter.
func TestPeerReconnectBackoff(t *testing.T) {
	cfg := testPeerConfig()
	cfg.ReconnectBackoff = 100 * time.Millisecond
	cfg.ReconnectBackoffMax = 400 * time.Millisecond
	c, _ := startPeerClient(t, cfg)
	setAddress(t, c, 6, closedAddr(t))
	var failedAt []time.Time
	for i := range 6 {
		if !c.Send(6, kmsg.NewPtrMetadataRequest(), 12, int32(i)) {
			t.Fatalf("send %d refused", i)
		}
		if ev := nextPeerEvent(t, c); !errors.Is(ev.Err, ErrPeerDisconnected) {
			t.Fatalf("send %d: err %v, want ErrPeerDisconnected", i, ev.Err)
		}
		failedAt = append(failedAt, time.Now())
	}
	// Gaps are measured where this goroutine sees the failures, which may lag the client's
	// clock by a scheduling delay: hence the slack. A backoff that did not double would fail
	// the third gap (100 ms against at least 140 ms).
	const slack = 20 * time.Millisecond
	for i := 1; i < len(failedAt); i++ {
		term := cfg.ReconnectBackoff << (i - 1)
		want := min(term, cfg.ReconnectBackoffMax)*8/10 - slack
		if gap := failedAt[i].Sub(failedAt[i-1]); gap < want {
			t.Fatalf("dial %d came %v after the previous failure, want at least %v (gaps from %v)", i, gap, want, failedAt)
		}
	}
	if total, ceiling := failedAt[5].Sub(failedAt[0]), 5*cfg.ReconnectBackoffMax*12/10+2*time.Second; total > ceiling {
		t.Fatalf("5 backoffs took %v, more than %v", total, ceiling)
	}
}

// TestPeerRequestTimeout: a request the server never answers fails with
// ErrPeerRequestTimeout after RequestTimeout, and its connection is closed with a reason.
func TestPeerRequestTimeout(t *testing.T) {
	srv, _ := startServer(t, testConfig())
	cfg := testPeerConfig()
	cfg.RequestTimeout = 300 * time.Millisecond
	cfg.DialTimeout = 300 * time.Millisecond
	c, logs := startPeerClient(t, cfg)
	setAddress(t, c, 8, srv.Addr().String())
	start := time.Now()
	if !c.Send(8, kmsg.NewPtrMetadataRequest(), 12, 77) {
		t.Fatalf("send refused")
	}
	req := nextEvent(t, srv) // held, never answered
	ev := nextPeerEvent(t, c)
	if elapsed := time.Since(start); elapsed < cfg.RequestTimeout {
		t.Fatalf("failed after %v, before the request timeout %v", elapsed, cfg.RequestTimeout)
	}
	if ev.CorrelationID != 77 || !errors.Is(ev.Err, ErrPeerRequestTimeout) {
		t.Fatalf("correlation id %d err %v, want 77 and ErrPeerRequestTimeout", ev.CorrelationID, ev.Err)
	}
	if closed := nextEvent(t, srv); closed.Kind != EventClosed || closed.Conn != req.Conn {
		t.Fatalf("server event %+v, want the connection's EventClosed", closed)
	}
	if !strings.Contains(logs.String(), "timed out") {
		t.Fatalf("no log of the timeout:\n%s", logs)
	}
}

// TestPeerQueuedRequestTimeout: a request waiting for a dial during a long backoff fails with
// ErrPeerRequestTimeout when its time is up, without a dial.
func TestPeerQueuedRequestTimeout(t *testing.T) {
	cfg := testPeerConfig()
	cfg.RequestTimeout = 300 * time.Millisecond
	cfg.DialTimeout = 300 * time.Millisecond
	cfg.ReconnectBackoff = time.Minute
	cfg.ReconnectBackoffMax = time.Minute
	c, _ := startPeerClient(t, cfg)
	setAddress(t, c, 9, closedAddr(t))
	c.Send(9, kmsg.NewPtrMetadataRequest(), 12, 1)
	if ev := nextPeerEvent(t, c); !errors.Is(ev.Err, ErrPeerDisconnected) {
		t.Fatalf("first send: %v, want ErrPeerDisconnected", ev.Err)
	}
	start := time.Now()
	if !c.Send(9, kmsg.NewPtrMetadataRequest(), 12, 2) {
		t.Fatalf("send during the backoff refused")
	}
	ev := nextPeerEvent(t, c)
	if elapsed := time.Since(start); elapsed < cfg.RequestTimeout || elapsed > cfg.RequestTimeout+5*time.Second {
		t.Fatalf("failed after %v, want about %v", elapsed, cfg.RequestTimeout)
	}
	if ev.CorrelationID != 2 || !errors.Is(ev.Err, ErrPeerRequestTimeout) {
		t.Fatalf("correlation id %d err %v, want 2 and ErrPeerRequestTimeout", ev.CorrelationID, ev.Err)
	}
}

// TestPeerSendRefused: Send refuses an unknown node, a full queue (by count and by bytes) and
// a closed client, and promises no event for a refused request.
func TestPeerSendRefused(t *testing.T) {
	clientID := testPeerConfig().ClientID
	frameBytes := int64(len(wire.AppendRequest(nil, wire.RequestHeader{APIKey: 3, APIVersion: 12, ClientID: &clientID}, kmsg.NewPtrMetadataRequest())))
	for _, tc := range []struct {
		name         string
		requestsMax  int
		bytesMax     int64
		wantAccepted int
	}{
		{"requests", 3, DefaultPeerQueuedBytesMax, 3},
		{"bytes", 100, 2*frameBytes + frameBytes/2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testPeerConfig()
			cfg.QueuedRequestsMax = tc.requestsMax
			cfg.QueuedBytesMax = tc.bytesMax
			cfg.ReconnectBackoff = time.Minute // the queue stays put, waiting to dial
			cfg.ReconnectBackoffMax = time.Minute
			c, _ := startPeerClient(t, cfg)
			if c.Send(1, kmsg.NewPtrMetadataRequest(), 12, 0) {
				t.Fatalf("send to a node without an address accepted")
			}
			setAddress(t, c, 1, closedAddr(t))
			c.Send(1, kmsg.NewPtrMetadataRequest(), 12, 0)
			if ev := nextPeerEvent(t, c); !errors.Is(ev.Err, ErrPeerDisconnected) {
				t.Fatalf("first send: %v, want ErrPeerDisconnected", ev.Err)
			}
			for i := range tc.wantAccepted {
				if !c.Send(1, kmsg.NewPtrMetadataRequest(), 12, int32(i+1)) {
					t.Fatalf("send %d refused below the bound", i)
				}
			}
			if c.Send(1, kmsg.NewPtrMetadataRequest(), 12, 99) {
				t.Fatalf("send above the bound accepted")
			}
			noPeerEvent(t, c, 50*time.Millisecond)
			c.Close()
			if c.Send(1, kmsg.NewPtrMetadataRequest(), 12, 100) {
				t.Fatalf("send after Close accepted")
			}
			if err := c.SetAddress(2, "127.0.0.1:1"); !errors.Is(err, ErrPeerClientClosed) {
				t.Fatalf("SetAddress after Close: %v", err)
			}
			for ev := range c.Events() {
				t.Fatalf("event after Close for a queued request: %+v", ev)
			}
		})
	}
}

// TestPeerBadResponses: a response that does not decode, one whose size prefix is over
// ResponseBytesMax, and one with a correlation id not in flight each close the connection
// with a logged reason and fail every request in flight.
func TestPeerBadResponses(t *testing.T) {
	for _, tc := range []struct {
		name string
		// response writes what the server sends for the first request.
		response    func(h wire.RequestHeader) []byte
		firstErr    error // what the first request fails with
		logContains string
	}{
		{
			name: "malformed",
			response: func(h wire.RequestHeader) []byte {
				return []byte{0, 0, 0, 7, byte(h.CorrelationID >> 24), byte(h.CorrelationID >> 16), byte(h.CorrelationID >> 8), byte(h.CorrelationID), 0, 0xff, 0xff}
			},
			firstErr:    wire.ErrMalformed,
			logContains: "malformed",
		},
		{
			name:        "oversized",
			response:    func(wire.RequestHeader) []byte { return []byte{0, 0, 0x10, 0x01} },
			firstErr:    ErrPeerDisconnected,
			logContains: "invalid frame size",
		},
		{
			name:        "negative size",
			response:    func(wire.RequestHeader) []byte { return []byte{0xff, 0xff, 0xff, 0xfe} },
			firstErr:    ErrPeerDisconnected,
			logContains: "invalid frame size",
		},
		{
			name: "unknown correlation id",
			response: func(h wire.RequestHeader) []byte {
				h.CorrelationID = 999
				return wire.AppendResponse(nil, h, kmsg.NewPtrVoteResponse())
			},
			firstErr:    ErrPeerDisconnected,
			logContains: "correlation id 999",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := startRawPeerServer(t)
			cfg := testPeerConfig()
			cfg.ResponseBytesMax = 4096
			c, logs := startPeerClient(t, cfg)
			setAddress(t, c, 2, raw.addr())
			for i := range 3 {
				if !c.Send(2, voteRequest(5), 1, int32(i)) {
					t.Fatalf("send %d refused", i)
				}
			}
			conn := raw.accept(t)
			var first wire.RequestHeader
			for i := range 3 {
				h, _ := conn.readRequest()
				if i == 0 {
					first = h
				}
			}
			conn.write(tc.response(first))
			for i := range 3 {
				ev := nextPeerEvent(t, c)
				want := ErrPeerDisconnected
				if i == 0 {
					want = tc.firstErr
				}
				if ev.CorrelationID != int32(i) || !errors.Is(ev.Err, want) || ev.Response != nil {
					t.Fatalf("event %d: correlation id %d err %v, want %d and %v", i, ev.CorrelationID, ev.Err, i, want)
				}
			}
			conn.expectClosed()
			if log := logs.String(); !strings.Contains(log, "closing connection to peer") || !strings.Contains(log, tc.logContains) {
				t.Fatalf("log lacks the reason %q:\n%s", tc.logContains, log)
			}
		})
	}
}

// TestPeerSetAddressReplaces: a new address for a node closes the connection to the old one
// and the next request goes to the new one.
func TestPeerSetAddressReplaces(t *testing.T) {
	srvA, _ := startServer(t, testConfig())
	srvB, _ := startServer(t, testConfig())
	answerRequests(t, srvB, metadataAnswer("B"))
	c, _ := startPeerClient(t, testPeerConfig())
	setAddress(t, c, 1, srvA.Addr().String())
	if !c.Send(1, kmsg.NewPtrMetadataRequest(), 12, 1) {
		t.Fatalf("send refused")
	}
	held := nextEvent(t, srvA)
	setAddress(t, c, 1, srvB.Addr().String())
	if ev := nextPeerEvent(t, c); ev.CorrelationID != 1 || !errors.Is(ev.Err, ErrPeerDisconnected) {
		t.Fatalf("request in flight to the old address: correlation id %d err %v", ev.CorrelationID, ev.Err)
	}
	if ev := nextEvent(t, srvA); ev.Kind != EventClosed || ev.Conn != held.Conn {
		t.Fatalf("old server event %+v, want EventClosed", ev)
	}
	if !c.Send(1, kmsg.NewPtrMetadataRequest(), 12, 2) {
		t.Fatalf("send refused")
	}
	if got := metadataClusterID(t, nextPeerEvent(t, c)); got != clusterIDFor("B", 2) {
		t.Fatalf("cluster id %q, want the new server's", got)
	}
}

// TestPeerCloseStopsEverything: Close with a connection holding requests in flight, a
// destination in backoff and an idle one leaves no goroutine and closes Events.
func TestPeerCloseStopsEverything(t *testing.T) {
	srv, _ := startServer(t, testConfig())
	n := 0
	answerRequests(t, srv, func(ev Event) kmsg.Response {
		n++
		if n > 2 {
			return nil // no answer: stays in flight on the client
		}
		return metadataAnswer("s")(ev)
	})
	baseline := countGoroutinesSettled()
	c, err := NewPeerClient(testPeerConfig(), newTestLogger(&logBuffer{}))
	if err != nil {
		t.Fatalf("NewPeerClient: %v", err)
	}
	setAddress(t, c, 1, srv.Addr().String())
	setAddress(t, c, 2, closedAddr(t))
	setAddress(t, c, 3, "127.0.0.1:1") // never sent to: never dialed
	for i := range 4 {
		c.Send(1, kmsg.NewPtrMetadataRequest(), 12, int32(i))
	}
	c.Send(2, kmsg.NewPtrMetadataRequest(), 12, 10)
	answers, failures := 0, 0
	for answers < 2 || failures < 1 {
		ev := nextPeerEvent(t, c)
		if ev.Err != nil {
			failures++
		} else {
			answers++
		}
	}
	c.Send(2, kmsg.NewPtrMetadataRequest(), 12, 11) // queued, in backoff
	c.Close()
	c.Close()
	deadline := time.After(testTimeout)
	for open := true; open; {
		select {
		case _, open = <-c.Events():
		case <-deadline:
			t.Fatalf("Events not closed")
		}
	}
	// The server's goroutines for the closed connection end too.
	waitGoroutines(t, baseline)
}

// countGoroutinesSettled is the goroutine count once it stops changing (for a bounded time).
func countGoroutinesSettled() int {
	n := -1
	for range 20 {
		time.Sleep(5 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// TestPeerConfigRejected: NewPeerClient refuses configs that cannot work, and Send panics on
// a version kmsg cannot encode (a caller's bug).
func TestPeerConfigRejected(t *testing.T) {
	for _, mutate := range []func(*PeerConfig){
		func(c *PeerConfig) { c.QueuedRequestsMax = 0 },
		func(c *PeerConfig) { c.QueuedBytesMax = 0 },
		func(c *PeerConfig) { c.InFlightPerConnMax = 0 },
		func(c *PeerConfig) { c.ResponseBytesMax = 3 },
		func(c *PeerConfig) { c.EventQueueMax = 0 },
		func(c *PeerConfig) { c.DialTimeout = c.RequestTimeout + 1 },
		func(c *PeerConfig) { c.ReconnectBackoffMax = c.ReconnectBackoff - 1 },
		func(c *PeerConfig) { c.PeersMax = 0 },
	} {
		cfg := testPeerConfig()
		mutate(&cfg)
		if c, err := NewPeerClient(cfg, newTestLogger(&logBuffer{})); err == nil {
			c.Close()
			t.Fatalf("config %+v accepted", cfg)
		}
	}
	cfg := testPeerConfig()
	cfg.PeersMax = 1
	c, _ := startPeerClient(t, cfg)
	setAddress(t, c, 1, "127.0.0.1:1")
	if err := c.SetAddress(2, "127.0.0.1:2"); err == nil {
		t.Fatalf("a destination above PeersMax accepted")
	}
	if err := c.SetAddress(1, "no port"); err == nil {
		t.Fatalf("an address without a port accepted")
	}
	defer func() {
		if recover() == nil {
			t.Fatalf("Send at a version above kmsg's maximum did not panic")
		}
	}()
	c.Send(1, kmsg.NewPtrVoteRequest(), 99, 0)
}

// TestPeerEveryRequestResolvedOnce: with sends from two goroutines and a server that now and
// then closes a connection instead of answering, every accepted request gets exactly one
// event (its answer or an error), and a refused one none.
func TestPeerEveryRequestResolvedOnce(t *testing.T) {
	srv, _ := startServer(t, testConfig())
	rng := rand.New(rand.NewPCG(7, 7))
	answerRequests(t, srv, func(ev Event) kmsg.Response {
		if rng.IntN(20) == 0 {
			srv.Close(ev.Conn) // this request and those behind it go unanswered
			return nil
		}
		return metadataAnswer("r")(ev)
	})
	cfg := testPeerConfig()
	cfg.ReconnectBackoff = 5 * time.Millisecond
	cfg.ReconnectBackoffMax = 20 * time.Millisecond
	cfg.QueuedRequestsMax = 20
	c, _ := startPeerClient(t, cfg)
	setAddress(t, c, 1, srv.Addr().String())

	const perSender = 150
	accepted := make([][]bool, 2)
	var wg sync.WaitGroup
	for s := range 2 {
		accepted[s] = make([]bool, perSender)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perSender {
				accepted[s][i] = c.Send(1, kmsg.NewPtrMetadataRequest(), 12, int32(s*perSender+i))
				if i%3 == 2 {
					time.Sleep(time.Millisecond) // let the queue drain now and then
				}
			}
		}()
	}
	resolved := make(map[int32]int)
	answers := 0
	var events []PeerEvent
	sendersDone := make(chan struct{})
	go func() { wg.Wait(); close(sendersDone) }()
	deadline := time.After(testTimeout)
	for finished := false; ; {
		if finished {
			want := 0
			for s := range 2 {
				for _, ok := range accepted[s] {
					if ok {
						want++
					}
				}
			}
			if len(events) == want {
				break
			}
		}
		select {
		case ev := <-c.Events():
			events = append(events, ev)
		case <-sendersDone:
			finished = true
			sendersDone = nil
		case <-deadline:
			t.Fatalf("%d events after %v", len(events), testTimeout)
		}
	}
	noPeerEvent(t, c, 50*time.Millisecond)
	for _, ev := range events {
		resolved[ev.CorrelationID]++
		s, i := int(ev.CorrelationID)/perSender, int(ev.CorrelationID)%perSender
		if !accepted[s][i] {
			t.Fatalf("event for refused request %d", ev.CorrelationID)
		}
		if resolved[ev.CorrelationID] > 1 {
			t.Fatalf("request %d resolved twice", ev.CorrelationID)
		}
		switch {
		case ev.Err == nil:
			if got := metadataClusterID(t, ev); got != clusterIDFor("r", ev.CorrelationID) {
				t.Fatalf("request %d answered with %q", ev.CorrelationID, got)
			}
			answers++
		case !errors.Is(ev.Err, ErrPeerDisconnected):
			t.Fatalf("request %d: %v", ev.CorrelationID, ev.Err)
		}
	}
	t.Logf("%d requests accepted of %d, %d answered", len(events), 2*perSender, answers)
	if answers == 0 || answers == len(events) {
		t.Fatalf("%d answers among %d events: the run exercised only one path", answers, len(events))
	}
}
