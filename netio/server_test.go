package netio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weirdata/weir/core/wire"
)

// TestResponsesInRequestOrder: answers given in reverse go out in request order.
func TestResponsesInRequestOrder(t *testing.T) {
	srv, _ := startServer(t, testConfig())
	c := dialRaw(t, srv)
	const n = DefaultInFlightPerConnMax
	for i := range n {
		c.send(int32(100+i), 3, kmsg.NewPtrApiVersionsRequest())
	}
	events := make([]Event, n)
	for i := range n {
		events[i] = nextEvent(t, srv)
		if events[i].Seq != uint64(i) || events[i].Request.Header.CorrelationID != int32(100+i) {
			t.Fatalf("event %d: seq %d correlation %d", i, events[i].Seq, events[i].Request.Header.CorrelationID)
		}
	}
	for i := n - 1; i >= 0; i-- {
		ev := events[i]
		srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: apiVersionsResponse(&srv.cfg.Versions)})
		if i > 0 {
			// Nothing may be written while seq 0 is unanswered.
			c.nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if _, err := c.readFrame(); err == nil {
				t.Fatalf("a response was written before seq 0 was answered")
			}
			c.nc.SetReadDeadline(time.Now().Add(testTimeout))
		}
	}
	for i := range n {
		corr, _ := c.recv(18, 3)
		if corr != int32(100+i) {
			t.Fatalf("response %d has correlation id %d, want %d", i, corr, 100+i)
		}
	}
}

// TestNilResponseFreesSlot: with one request in flight at a time, requests answered with no
// response (acks=0) keep the connection reading; only the others are written.
func TestNilResponseFreesSlot(t *testing.T) {
	cfg := testConfig()
	cfg.InFlightPerConnMax = 1
	srv, _ := startServer(t, cfg)
	c := dialRaw(t, srv)
	const n = 6
	for i := range n {
		c.send(int32(i), 3, kmsg.NewPtrApiVersionsRequest())
	}
	for i := range n {
		ev := nextEvent(t, srv)
		if ev.Seq != uint64(i) {
			t.Fatalf("event seq %d, want %d", ev.Seq, i)
		}
		var body kmsg.Response
		if i%2 == 1 {
			body = apiVersionsResponse(&srv.cfg.Versions)
		}
		srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: body})
	}
	for i := 1; i < n; i += 2 {
		if corr, _ := c.recv(18, 3); corr != int32(i) {
			t.Fatalf("correlation id %d, want %d", corr, i)
		}
	}
	if got := srv.QueuedBytes(); got != 0 {
		t.Fatalf("%d bytes still charged after every request was answered", got)
	}
}

// TestInFlightPerConnection: a connection with InFlightPerConnMax unanswered requests stops
// reading until one is answered.
func TestInFlightPerConnection(t *testing.T) {
	cfg := testConfig()
	cfg.InFlightPerConnMax = 3
	srv, _ := startServer(t, cfg)
	c := dialRaw(t, srv)
	for i := range 5 {
		c.send(int32(i), 3, kmsg.NewPtrApiVersionsRequest())
	}
	var events []Event
	for range 3 {
		events = append(events, nextEvent(t, srv))
	}
	noEvent(t, srv, 100*time.Millisecond)
	ev := events[0]
	srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: apiVersionsResponse(&srv.cfg.Versions)})
	fourth := nextEvent(t, srv)
	if fourth.Seq != 3 {
		t.Fatalf("event seq %d after one answer, want 3", fourth.Seq)
	}
	noEvent(t, srv, 50*time.Millisecond)
	for _, ev := range append(events[1:], fourth) {
		srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: apiVersionsResponse(&srv.cfg.Versions)})
	}
	for i := range 4 {
		if corr, _ := c.recv(18, 3); corr != int32(i) {
			t.Fatalf("correlation id %d, want %d", corr, i)
		}
	}
}

// bigRequest is an ApiVersions request whose frame is about sizeBytes.
func bigRequest(sizeBytes int) *kmsg.ApiVersionsRequest {
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName = strings.Repeat("x", sizeBytes)
	req.ClientSoftwareVersion = "1"
	return req
}

// TestByteBudget: with a slow loop, connections stop reading once their queued requests fill
// QueuedBytesMax; answering frees the budget and reading resumes.
func TestByteBudget(t *testing.T) {
	const frameBytes = 16 << 10
	cfg := testConfig()
	cfg.QueuedBytesMax = 4*frameBytes + frameBytes/2 // four frames fit, the fifth does not
	cfg.InFlightPerConnMax = 100
	srv, _ := startServer(t, cfg)
	const conns, perConn = 3, 10
	clients := make([]*rawClient, conns)
	for i := range clients {
		clients[i] = dialRaw(t, srv)
	}
	for i, c := range clients {
		for j := range perConn {
			c.send(int32(i*perConn+j), 3, bigRequest(frameBytes))
		}
	}
	var held []Event
	for range 4 {
		held = append(held, nextEvent(t, srv))
	}
	noEvent(t, srv, 200*time.Millisecond)
	if got := srv.QueuedBytes(); got > cfg.QueuedBytesMax || got < 4*frameBytes {
		t.Fatalf("%d bytes charged, want four frames within %d", got, cfg.QueuedBytesMax)
	}
	// Answer as the slow loop goes; at no point may more than the budget be charged.
	answered := 0
	for answered < conns*perConn {
		ev := held[0]
		held = held[1:]
		srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: apiVersionsResponse(&srv.cfg.Versions)})
		answered++
		if got := srv.QueuedBytes(); got > cfg.QueuedBytesMax {
			t.Fatalf("%d bytes charged, over the budget of %d", got, cfg.QueuedBytesMax)
		}
		if answered+len(held) < conns*perConn && len(held) < 4 {
			held = append(held, nextEvent(t, srv))
		}
		for len(held) == 0 && answered < conns*perConn {
			held = append(held, nextEvent(t, srv))
		}
	}
	for _, c := range clients {
		for range perConn {
			c.recv(18, 3)
		}
	}
	if got := srv.QueuedBytes(); got != 0 {
		t.Fatalf("%d bytes still charged", got)
	}
}

// TestOversizedFrameAlone: a frame larger than the whole budget passes when nothing else is
// charged.
func TestOversizedFrameAlone(t *testing.T) {
	cfg := testConfig()
	cfg.QueuedBytesMax = 1 << 10
	srv, _ := startServer(t, cfg)
	c := dialRaw(t, srv)
	c.send(1, 3, bigRequest(8<<10))
	ev := nextEvent(t, srv)
	srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: apiVersionsResponse(&srv.cfg.Versions)})
	c.recv(18, 3)
}

// frame prefixes body with its size.
func frame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// header builds a request header v1 by hand.
func header(key, version int16, correlationID int32) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(correlationID))
	return binary.BigEndian.AppendUint16(b, 0xffff) // null client id
}

// TestBadFramesClose: each kind of bad frame closes its connection with a logged reason that
// names the client, and the loop hears of the close; other connections go on.
func TestBadFramesClose(t *testing.T) {
	cfg := testConfig()
	cfg.RequestBytesMax = 1 << 20
	cases := []struct {
		name  string
		bytes []byte
		log   string
	}{
		{"unknown api key", frame(header(0x7fff, 0, 1)), "unknown or unadvertised api key"},
		{"unadvertised key", frame(header(4, 0, 1)), "unknown or unadvertised api key"}, // LeaderAndIsr
		{"unsupported version", frame(append(header(3, 99, 1), 0)), "unsupported api version"},
		{"truncated body", frame(append(header(3, 1, 1), 0, 0, 0, 5)), "malformed request"},
		{"incomplete frame", frame([]byte{0, 18, 0, 3, 0, 0, 0, 1, 0, 0})[:4+9], ""},
		{"too large", binary.BigEndian.AppendUint32(nil, 1<<20+1), "invalid frame size"},
		{"negative size", binary.BigEndian.AppendUint32(nil, 0xffffffff), "invalid frame size"},
		{"below header minimum", frame([]byte{0, 1, 2}), "invalid frame size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, logs := startServer(t, cfg)
			good := dialRaw(t, srv)
			c := dialRaw(t, srv)
			c.write(tc.bytes)
			if tc.name == "incomplete frame" {
				// A frame that never completes: the server waits for its bytes.
				noEvent(t, srv, 50*time.Millisecond)
				return
			}
			c.expectClosed()
			ev := nextEvent(t, srv)
			if ev.Kind != EventClosed {
				t.Fatalf("event %+v, want the close", ev)
			}
			text := logs.String()
			if !strings.Contains(text, tc.log) || !strings.Contains(text, c.nc.LocalAddr().String()) {
				t.Fatalf("log does not name the error %q and client %s:\n%s", tc.log, c.nc.LocalAddr(), text)
			}
			good.send(1, 3, kmsg.NewPtrApiVersionsRequest())
			ev = nextEvent(t, srv)
			srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: apiVersionsResponse(&srv.cfg.Versions)})
			good.recv(18, 3)
		})
	}
}

// panicky is a response whose encoding panics, standing in for an encoder bug.
type panicky struct{ kmsg.ApiVersionsResponse }

func (p *panicky) AppendTo(b []byte) []byte { panic("encoder bug") }

// TestEncodePanicClosesOneConnection: a panic while encoding closes that connection only.
func TestEncodePanicClosesOneConnection(t *testing.T) {
	srv, logs := startServer(t, testConfig())
	bad, good := dialRaw(t, srv), dialRaw(t, srv)
	bad.send(1, 3, kmsg.NewPtrApiVersionsRequest())
	ev := nextEvent(t, srv)
	srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: &panicky{}})
	bad.expectClosed()
	if closed := nextEvent(t, srv); closed.Kind != EventClosed || closed.Conn != ev.Conn {
		t.Fatalf("event %+v, want conn %d closed", closed, ev.Conn)
	}
	if !strings.Contains(logs.String(), "encoder bug") {
		t.Fatalf("the panic is not logged:\n%s", logs.String())
	}
	good.send(2, 3, kmsg.NewPtrApiVersionsRequest())
	ev = nextEvent(t, srv)
	srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: apiVersionsResponse(&srv.cfg.Versions)})
	if corr, _ := good.recv(18, 3); corr != 2 {
		t.Fatalf("correlation id %d, want 2", corr)
	}
}

// TestCloseAfterAnswers: Close writes the answers already given, then closes; later
// Responds for the connection are ignored.
func TestCloseAfterAnswers(t *testing.T) {
	srv, _ := startServer(t, testConfig())
	c := dialRaw(t, srv)
	c.send(1, 3, kmsg.NewPtrApiVersionsRequest())
	c.send(2, 3, kmsg.NewPtrApiVersionsRequest())
	first, second := nextEvent(t, srv), nextEvent(t, srv)
	srv.Respond(Response{Conn: first.Conn, Seq: first.Seq, Header: first.Request.Header, Body: apiVersionsResponse(&srv.cfg.Versions)})
	srv.Close(first.Conn)
	if corr, _ := c.recv(18, 3); corr != 1 {
		t.Fatalf("correlation id %d, want 1", corr)
	}
	c.expectClosed()
	if ev := nextEvent(t, srv); ev.Kind != EventClosed {
		t.Fatalf("event %+v, want the close", ev)
	}
	srv.Respond(Response{Conn: second.Conn, Seq: second.Seq, Header: second.Request.Header, Body: apiVersionsResponse(&srv.cfg.Versions)})
	if got := srv.QueuedBytes(); got != 0 {
		t.Fatalf("%d bytes still charged after the close", got)
	}
}

// TestShutdownFinishesInFlight: requests read before Shutdown are answered and written, then
// the connection and the Events queue close.
func TestShutdownFinishesInFlight(t *testing.T) {
	logs := &logBuffer{}
	srv, err := Listen("127.0.0.1:0", testConfig(), newTestLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, srv)
	for i := range 3 {
		c.send(int32(i), 3, kmsg.NewPtrApiVersionsRequest())
	}
	var events []Event
	for range 3 {
		events = append(events, nextEvent(t, srv))
	}
	shutdownErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		shutdownErr <- srv.Shutdown(ctx)
	}()
	time.Sleep(50 * time.Millisecond) // let Shutdown stop the listener and the reader
	for _, ev := range events {
		srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: apiVersionsResponse(&srv.cfg.Versions)})
	}
	for i := range 3 {
		if corr, _ := c.recv(18, 3); corr != int32(i) {
			t.Fatalf("correlation id %d, want %d", corr, i)
		}
	}
	c.expectClosed()
	if ev := nextEvent(t, srv); ev.Kind != EventClosed {
		t.Fatalf("event %+v, want the close", ev)
	}
	if _, ok := <-srv.Events(); ok {
		t.Fatalf("events still open after shutdown")
	}
	if err := <-shutdownErr; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := dialNoRetry(srv); err == nil {
		t.Fatalf("the listener still accepts after shutdown")
	}
}

// TestShutdownDeadline: when the loop never answers, Shutdown gives up at its deadline and
// closes everything.
func TestShutdownDeadline(t *testing.T) {
	srv, err := Listen("127.0.0.1:0", testConfig(), newTestLogger(&logBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, srv)
	c.send(1, 3, kmsg.NewPtrApiVersionsRequest())
	nextEvent(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown: %v, want the deadline", err)
	}
	c.expectClosed()
	for range srv.Events() { // closed, possibly after a dropped EventClosed
	}
}

// TestConnectionsMax: a connection past ConnectionsMax is closed at once; the others work.
func TestConnectionsMax(t *testing.T) {
	cfg := testConfig()
	cfg.ConnectionsMax = 1
	srv, logs := startServer(t, cfg)
	first := dialRaw(t, srv)
	first.send(1, 3, kmsg.NewPtrApiVersionsRequest())
	ev := nextEvent(t, srv) // the first connection is registered
	second := dialRaw(t, srv)
	second.expectClosed()
	if !strings.Contains(logs.String(), "too many connections") {
		t.Fatalf("the refusal is not logged:\n%s", logs.String())
	}
	srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: apiVersionsResponse(&srv.cfg.Versions)})
	if corr, _ := first.recv(18, 3); corr != 1 {
		t.Fatalf("correlation id %d, want 1", corr)
	}
}

// TestIdleTimeout: a connection with nothing to say is closed after IdleTimeout, but not one
// whose request is still being answered.
func TestIdleTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.IdleTimeout = 100 * time.Millisecond
	srv, _ := startServer(t, cfg)
	waiting := dialRaw(t, srv)
	waiting.send(1, 3, kmsg.NewPtrApiVersionsRequest())
	ev := nextEvent(t, srv)
	idle := dialRaw(t, srv)
	idle.expectClosed()
	if closed := nextEvent(t, srv); closed.Kind != EventClosed || closed.Conn == ev.Conn {
		t.Fatalf("event %+v, want the idle connection closed", closed)
	}
	time.Sleep(3 * cfg.IdleTimeout)
	srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: apiVersionsResponse(&srv.cfg.Versions)})
	if corr, _ := waiting.recv(18, 3); corr != 1 {
		t.Fatalf("correlation id %d, want 1", corr)
	}
}

// TestRespondNext: answers without sequence numbers go to the oldest unanswered request; a
// header that is not that request's is a loop bug and panics.
func TestRespondNext(t *testing.T) {
	srv, _ := startServer(t, testConfig())
	c := dialRaw(t, srv)
	for i := range 3 {
		c.send(int32(i), 3, kmsg.NewPtrApiVersionsRequest())
	}
	var events []Event
	for range 3 {
		events = append(events, nextEvent(t, srv))
	}
	// seq 1 answered by sequence first; RespondNext then takes 0 and 2.
	srv.Respond(Response{Conn: events[1].Conn, Seq: 1, Header: events[1].Request.Header, Body: apiVersionsResponse(&srv.cfg.Versions)})
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Fatalf("RespondNext with another request's header did not panic")
			}
		}()
		srv.RespondNext(events[0].Conn, events[2].Request.Header, apiVersionsResponse(&srv.cfg.Versions), nil)
	}()
	srv.RespondNext(events[0].Conn, events[0].Request.Header, apiVersionsResponse(&srv.cfg.Versions), nil)
	srv.RespondNext(events[2].Conn, events[2].Request.Header, apiVersionsResponse(&srv.cfg.Versions), nil)
	for i := range 3 {
		if corr, _ := c.recv(18, 3); corr != int32(i) {
			t.Fatalf("correlation id %d, want %d", corr, i)
		}
	}
}

// TestGarbage: seeded random bytes on many connections close them all, never the server.
func TestGarbage(t *testing.T) {
	cfg := testConfig()
	cfg.RequestBytesMax = 64 << 10
	srv, _ := startServer(t, cfg)
	rng := rand.New(rand.NewPCG(1, 2))
	const conns = 20
	for i := range conns {
		c := dialRaw(t, srv)
		// A plausible size prefix, so the body reaches the decoder, then random bytes.
		size := 10 + rng.IntN(200)
		junk := binary.BigEndian.AppendUint32(nil, uint32(size))
		for range size {
			junk = append(junk, byte(rng.Uint32()))
		}
		if i%2 == 1 {
			junk = junk[4:] // a random prefix too
		}
		c.write(junk)
		if i%2 == 0 {
			// A whole frame of junk: the server closes the connection.
			c.expectClosed()
		}
		// A random prefix may just be waiting for more bytes: close from our side.
		c.nc.Close()
	}
	closed := 0
	for closed < conns {
		ev := nextEvent(t, srv)
		switch ev.Kind {
		case EventClosed:
			closed++
		case EventRequest:
			srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header})
		}
	}
	c := dialRaw(t, srv)
	c.send(1, 3, kmsg.NewPtrApiVersionsRequest())
	ev := nextEvent(t, srv)
	srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: apiVersionsResponse(&srv.cfg.Versions)})
	c.recv(18, 3)
}

// TestConcurrentShuffled: many pipelining connections, a loop that answers in a seeded
// random order (some with no response): every connection gets its answers in request order.
func TestConcurrentShuffled(t *testing.T) {
	cfg := testConfig()
	cfg.InFlightPerConnMax = 4
	srv, _ := startServer(t, cfg)
	const conns, perConn = 8, 200
	// Request i of a connection gets no response when i%7 == 3.
	silent := func(i int) bool { return i%7 == 3 }
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		rng := rand.New(rand.NewPCG(3, 4))
		var held []Event
		answer := func(k int) {
			ev := held[k]
			held = append(held[:k], held[k+1:]...)
			var body kmsg.Response
			if !silent(int(ev.Request.Header.CorrelationID)) {
				body = apiVersionsResponse(&srv.cfg.Versions)
			}
			srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: body})
		}
		for requests := 0; requests < conns*perConn; {
			select {
			case ev := <-srv.Events():
				if ev.Kind == EventRequest {
					held = append(held, ev)
					requests++
				}
				if len(held) >= 6 {
					answer(rng.IntN(len(held)))
				}
			case <-time.After(20 * time.Millisecond):
				// Every connection may be stalled on its in-flight limit: answer one.
				if len(held) > 0 {
					answer(rng.IntN(len(held)))
				}
			}
		}
		for len(held) > 0 {
			answer(rng.IntN(len(held)))
		}
	}()
	errs := make(chan error, conns)
	for range conns {
		c := dialRaw(t, srv)
		go func() {
			go func() {
				for i := range perConn {
					clientID := "raw"
					c.nc.Write(wire.AppendRequest(nil, wire.RequestHeader{APIKey: 18, APIVersion: 3, CorrelationID: int32(i), ClientID: &clientID}, kmsg.NewPtrApiVersionsRequest()))
				}
			}()
			for i := range perConn {
				if silent(i) {
					continue
				}
				frame, err := c.readFrame()
				if err != nil {
					errs <- err
					return
				}
				corr, _, err := wire.DecodeResponse(frame, 18, 3)
				if err != nil || corr != int32(i) {
					errs <- fmt.Errorf("response correlation id %d (%v), want %d", corr, err, i)
					return
				}
			}
			errs <- nil
		}()
	}
	for range conns {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	<-loopDone
	if got := srv.QueuedBytes(); got != 0 {
		t.Fatalf("%d bytes still charged", got)
	}
}

// TestLargeFramesReadDirectly: frames larger than the read buffer (read straight into a
// buffer of their size) and small ones, pipelined and written in odd-sized pieces that split
// frames and prefixes anywhere, all arrive whole and in order.
func TestLargeFramesReadDirectly(t *testing.T) {
	cfg := testConfig()
	cfg.ReadBufferBytes = 1 << 10
	srv, _ := startServer(t, cfg)
	c := dialRaw(t, srv)
	var stream []byte
	var wantCorr []int32
	for i := range 4 {
		var req kmsg.Request = kmsg.NewPtrApiVersionsRequest()
		if i%2 == 0 {
			// A CreateTopics request padded to several read buffers by a long topic config.
			ct := kmsg.NewPtrCreateTopicsRequest()
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "t", 1, 1
			cfgEntry := kmsg.NewCreateTopicsRequestTopicConfig()
			cfgEntry.Name, cfgEntry.Value = "x", kmsg.StringPtr(strings.Repeat("v", 5000+i))
			rt.Configs = append(rt.Configs, cfgEntry)
			ct.Topics = append(ct.Topics, rt)
			req = ct
		}
		version := int16(3)
		if _, ok := req.(*kmsg.CreateTopicsRequest); ok {
			version = 7
		}
		stream = wire.AppendRequest(stream, wire.RequestHeader{APIKey: req.Key(), APIVersion: version, CorrelationID: int32(200 + i), ClientID: kmsg.StringPtr("t")}, req)
		wantCorr = append(wantCorr, int32(200+i))
	}
	for off, step := 0, 1; off < len(stream); off, step = off+step, step*3%997+1 {
		c.write(stream[off:min(off+step, len(stream))])
	}
	for i, corr := range wantCorr {
		ev := nextEvent(t, srv)
		if ev.Request.Header.CorrelationID != corr {
			t.Fatalf("request %d: correlation %d, want %d", i, ev.Request.Header.CorrelationID, corr)
		}
		if ct, ok := ev.Request.Body.(*kmsg.CreateTopicsRequest); ok {
			if v := ct.Topics[0].Configs[0].Value; v == nil || len(*v) != 5000+i {
				t.Fatalf("request %d: config value of %d bytes arrived", i, len(*v))
			}
		}
		srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: nil})
	}
}
