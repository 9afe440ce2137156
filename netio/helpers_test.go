package netio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weirdata/weir/core/wire"
	"github.com/weirdata/weir/diskio/osfs"
)

const testTimeout = 10 * time.Second

// logBuffer collects a server's log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testConfig() Config {
	return DefaultConfig(osfs.New())
}

// startServer listens on 127.0.0.1:0. Cleanup shuts it down, answering every request still
// arriving with no response so that shutdown can drain.
func startServer(t testing.TB, cfg Config) (*Server, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := Listen("127.0.0.1:0", cfg, logger)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { shutdownDraining(t, srv) })
	return srv, logs
}

// shutdownDraining shuts srv down while answering whatever the Events queue still holds.
func shutdownDraining(t testing.TB, srv *Server) {
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for ev := range srv.Events() {
			if ev.Kind == EventRequest {
				srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header})
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	srv.Shutdown(ctx) // a test that left requests unanswered ends with the deadline
	<-drained
}

// nextEvent waits for the loop's next event.
func nextEvent(t testing.TB, srv *Server) Event {
	t.Helper()
	select {
	case ev, ok := <-srv.Events():
		if !ok {
			t.Fatalf("events closed")
		}
		return ev
	case <-time.After(testTimeout):
		t.Fatalf("no event within %v", testTimeout)
	}
	return Event{}
}

// noEvent checks that no event arrives for a while.
func noEvent(t testing.TB, srv *Server, wait time.Duration) {
	t.Helper()
	select {
	case ev := <-srv.Events():
		t.Fatalf("unexpected event %+v", ev)
	case <-time.After(wait):
	}
}

// apiVersionsResponse answers with the server's table.
func apiVersionsResponse(versions *wire.VersionTable) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.ApiKeys = versions.APIKeys()
	return resp
}

// rawClient speaks the protocol by hand, to send what a real client never would.
type rawClient struct {
	t  testing.TB
	nc net.Conn
	fr *wire.FrameReader
	p  []byte
}

func dialRaw(t testing.TB, srv *Server) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", srv.Addr().String(), testTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	nc.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc, fr: wire.NewResponseFrameReader(wire.DefaultRequestBytesMax)}
}

func (c *rawClient) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *rawClient) send(correlationID int32, version int16, req kmsg.Request) {
	c.t.Helper()
	clientID := "raw"
	c.write(wire.AppendRequest(nil, wire.RequestHeader{APIKey: req.Key(), APIVersion: version, CorrelationID: correlationID, ClientID: &clientID}, req))
}

// readFrame returns the next response frame, or an error when the connection ends.
func (c *rawClient) readFrame() ([]byte, error) {
	buf := make([]byte, 64<<10)
	for {
		for len(c.p) > 0 {
			n, frame, err := c.fr.Feed(c.p)
			c.p = c.p[n:]
			if err != nil {
				return nil, err
			}
			if frame != nil {
				return frame, nil
			}
		}
		n, err := c.nc.Read(buf)
		if n == 0 && err != nil {
			return nil, err
		}
		c.p = append([]byte(nil), buf[:n]...)
	}
}

func (c *rawClient) recv(key, version int16) (int32, kmsg.Response) {
	c.t.Helper()
	frame, err := c.readFrame()
	if err != nil {
		c.t.Fatalf("reading a response: %v", err)
	}
	corr, resp, err := wire.DecodeResponse(frame, key, version)
	if err != nil {
		c.t.Fatalf("decoding a response: %v", err)
	}
	return corr, resp
}

// expectClosed reads until the server closes the connection.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	for {
		_, err := c.readFrame()
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) || strings.Contains(err.Error(), "connection reset") {
			return
		}
		c.t.Fatalf("want the server to close the connection, got %v", err)
	}
}

func wireUnsupported(versions *wire.VersionTable) kmsg.Response {
	return wire.UnsupportedApiVersionsResponse(versions)
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func dialNoRetry(srv *Server) (net.Conn, error) {
	return net.DialTimeout("tcp", srv.Addr().String(), time.Second)
}
