package netio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weirdata/weir/core/wire"
)

// ConnID names a connection for the loop; netio assigns them from 1, never reusing one.
type ConnID uint64

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventRequest: a decoded request; the loop answers it with exactly one Respond.
	EventRequest EventKind = iota + 1
	// EventClosed: the connection is gone, after its last EventRequest; the loop drops its
	// state for it (Node.ConnClosed). Responds for it afterwards are ignored.
	EventClosed
	// EventReadCut: a fetch's read plan was served short (ErrPlanCut); Cut says where. The
	// loop has the Node look for damage there (Node.ReadCut). Best effort: when the event
	// queue is full it is dropped (a writer must not wait on the loop), and the next fetch
	// that meets the damage reports it again.
	EventReadCut
)

// ReadCut is where a read plan was served short: the partition and log.CutOffset.
type ReadCut struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Event is one item of the queue to the loop.
type Event struct {
	Kind EventKind
	Conn ConnID
	// Seq numbers a connection's requests 0, 1, 2, ... in arrival order; Respond names the
	// request it answers by it. A loop that answers each connection's requests in order may
	// count instead of storing it.
	Seq uint64
	// Request is the decoded request; it aliases its frame, which is the loop's until it
	// responds. Request.FrameSizeBytes is what the request holds of QueuedBytesMax.
	Request wire.Request
	// UnsupportedVersion marks an ApiVersions request at a version the table does not
	// accept: Request.Body is nil and the answer is wire.UnsupportedApiVersionsResponse
	// (KIP-511). Any other undecodable request closes the connection inside netio.
	UnsupportedVersion bool
	// Cut is an EventReadCut's.
	Cut ReadCut
}

// Response answers one request.
type Response struct {
	Conn   ConnID
	Seq    uint64
	Header wire.RequestHeader
	// Body nil means the request gets no response (an acks=0 produce): its slot is freed
	// once the responses before it are written. Body belongs to netio once handed over: the
	// writer sets its version and, for Reads, its RecordBatches.
	Body kmsg.Response
	// Reads are executed on the connection's writer, off the loop, and fill Body (a
	// *kmsg.FetchResponse) before it is encoded.
	Reads []PartitionRead
}

// Server is the Kafka listener. The loop reads Events, answers with Respond, closes with
// Close; every other method is safe from any goroutine.
type Server struct {
	cfg    Config
	logger *slog.Logger
	ln     net.Listener
	events chan Event
	budget *byteBudget
	// readBudget bounds fetch record bytes read and not yet written, across connections.
	readBudget *byteBudget
	plans      *PlanReader
	// bufs recycles the large fetch-answer buffers of every connection.
	bufs bufPool

	mu       sync.Mutex
	conns    map[ConnID]*conn
	lastID   ConnID
	draining bool

	closing  chan struct{} // closed when Shutdown starts: stop accepting and reading
	killed   chan struct{} // closed when Shutdown's context ends: abandon in-flight work
	killOnce sync.Once
	wg       sync.WaitGroup // the accept loop and every connection
	finished chan struct{}  // closed when all of wg is done and events is closed
	stopOnce sync.Once
}

// Listen starts a Server on addr (host:port; port 0 picks one, see Addr).
func Listen(addr string, cfg Config, logger *slog.Logger) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		return nil, errors.New("netio: nil logger")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("netio: listen on %s: %w", addr, err)
	}
	s := &Server{
		cfg:        cfg,
		logger:     logger,
		ln:         ln,
		events:     make(chan Event, cfg.EventQueueMax),
		budget:     newByteBudget(cfg.QueuedBytesMax),
		readBudget: newByteBudget(cfg.FetchReadBytesMax),
		plans:      NewPlanReader(cfg.FS),
		conns:      make(map[ConnID]*conn),
		closing:    make(chan struct{}),
		killed:     make(chan struct{}),
		finished:   make(chan struct{}),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Events is the queue to the loop. It is closed after Shutdown, once every connection's
// EventClosed has been queued.
func (s *Server) Events() <-chan Event { return s.events }

// QueuedBytes is how much of QueuedBytesMax requests hold now.
func (s *Server) QueuedBytes() int64 { return s.budget.usedBytes() }

// Respond hands the answer to one request to its connection's writer, which encodes it and
// writes it after every earlier request's answer. It never blocks on the network. Answering
// a closed connection does nothing; answering a request twice, one never delivered, or with
// another request's header (api key and correlation id are checked) is a bug in the loop
// and panics.
func (s *Server) Respond(r Response) {
	s.mu.Lock()
	c := s.conns[r.Conn]
	s.mu.Unlock()
	if c == nil {
		return
	}
	c.respond(r, false)
}

// RespondNext answers the connection's oldest unanswered request, for a loop that answers
// each connection's requests in order (as core/broker's Node does) and so need not keep
// sequence numbers. header must be that request's header: a mismatch is a bug in the loop
// and panics, as in Respond.
func (s *Server) RespondNext(id ConnID, header wire.RequestHeader, body kmsg.Response, reads []PartitionRead) {
	s.mu.Lock()
	c := s.conns[id]
	s.mu.Unlock()
	if c == nil {
		return
	}
	c.respond(Response{Conn: id, Header: header, Body: body, Reads: reads}, true)
}

// Close closes a connection once the answers the loop has already given for it, in order
// without a gap, are written (Kafka closes after a failed acks=0 produce). Closing a closed
// connection does nothing.
func (s *Server) Close(id ConnID) {
	s.mu.Lock()
	c := s.conns[id]
	s.mu.Unlock()
	if c != nil {
		c.requestClose()
	}
}

// Shutdown stops accepting and reading, lets every request already read be answered and
// written, then closes the connections and the Events queue; the loop must keep serving
// Events until it is closed. When ctx ends first, the remaining connections are closed at
// once and ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.draining = true
		conns := make([]*conn, 0, len(s.conns))
		for _, c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		close(s.closing)
		if err := s.ln.Close(); err != nil {
			s.logger.Warn("closing listener", "addr", s.ln.Addr().String(), "err", err)
		}
		for _, c := range conns {
			c.stopReading()
		}
		go func() {
			s.wg.Wait()
			close(s.events)
			close(s.finished)
		}()
	})
	select {
	case <-s.finished:
		return nil
	case <-ctx.Done():
	}
	s.killOnce.Do(func() {
		close(s.killed)
		s.mu.Lock()
		conns := make([]*conn, 0, len(s.conns))
		for _, c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			c.teardown(errors.New("shutdown deadline passed"))
		}
	})
	<-s.finished
	return fmt.Errorf("netio: shutdown: %w", ctx.Err())
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.closing:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like pass; retry after a pause rather than spin.
			s.logger.Warn("accept failed", "addr", s.ln.Addr().String(), "err", err)
			t := time.NewTimer(s.cfg.AcceptRetryDelay)
			select {
			case <-t.C:
			case <-s.closing:
				t.Stop()
				return
			}
			continue
		}
		s.mu.Lock()
		if s.draining {
			s.mu.Unlock()
			nc.Close()
			return
		}
		if len(s.conns) >= s.cfg.ConnectionsMax {
			s.mu.Unlock()
			s.logger.Warn("closing connection: too many connections", "client", nc.RemoteAddr().String(), "connections_max", s.cfg.ConnectionsMax)
			nc.Close()
			continue
		}
		s.lastID++
		c := newConn(s, s.lastID, nc)
		s.conns[c.id] = c
		s.wg.Add(1)
		s.mu.Unlock()
		go c.run()
	}
}

// reportCut hands the loop an EventReadCut without waiting: a writer blocked on a busy loop
// that is itself waiting to hand this writer a response would never finish.
func (s *Server) reportCut(cut ReadCut) {
	select {
	case s.events <- Event{Kind: EventReadCut, Cut: cut}:
	default:
		s.logger.Warn("event queue full: not reporting a read plan served short", "topic", cut.Topic, "partition", cut.Partition, "offset", cut.Offset)
	}
}

// forget removes a finished connection.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c.id)
	s.mu.Unlock()
}
