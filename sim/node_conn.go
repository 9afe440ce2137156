package sim

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/broker"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/wire"
	"github.com/weirdata/weir/netio"
)

// nodeConn is one client connection of a node host, doing what netio's conn does: frame and
// decode requests (at most inFlightMax read and unanswered), check each response against
// its request, and write responses strictly in request order from a writer that runs a
// little later, executing read plans then.
type nodeConn struct {
	inc  *incarnation
	id   broker.ConnID
	conn *Conn
	fr   *wire.FrameReader

	// unread is received and not yet framed. Its bytes are nc's alone and never rewritten:
	// FeedOwned's frames (and so the decoded requests the Node keeps) alias them, so an
	// emptied buffer is dropped, not reused.
	unread   []byte
	inFlight int // requests read and not yet written (or freed by a nil body)
	// awaiting are the requests handed to the Node and not yet answered, oldest first.
	awaiting []requestKey
	// outbox holds answered requests (and a close) for the writer, in order.
	outbox []outgoing
	writer EventID
	// idleWhat and writeWhat name the connection's timer events, built once: they are
	// re-armed for every request.
	idleWhat, writeWhat string
	idle                EventID // connections.max.idle.ms
	// idleFn, writeFn and heldWriteFn are the timer events' functions, built once.
	idleFn, writeFn, heldWriteFn func()
	stopReading                  bool // Close requested: no more requests are read
	closed                       bool

	out     []byte
	records []byte
	spans   [][2]int
}

// requestKey is what a response must match: netio checks the same.
type requestKey struct {
	apiKey        int16
	correlationID int32
}

// outgoing is one answer for the writer, or the close after them.
type outgoing struct {
	resp  broker.Response
	close bool
}

// accept is the broker listener.
func (inc *incarnation) accept(c *Conn) Handler {
	if inc.dead {
		return nil
	}
	inc.nextConn++
	nc := &nodeConn{inc: inc, id: inc.nextConn, conn: c, fr: wire.NewRequestFrameReader(inc.requestBytesMax)}
	nc.idleWhat = fmt.Sprintf("node%d idle c%d", inc.n.cfg.ID, nc.id)
	nc.writeWhat = fmt.Sprintf("node%d write c%d", inc.n.cfg.ID, nc.id)
	inc.conns[nc.id] = nc
	inc.tracef("accept c%d (net c%d from %s)", nc.id, c.ID(), c.Remote())
	nc.armIdle()
	return nc
}

// Connected implements Handler; only dialer ends get it.
func (nc *nodeConn) Connected(*Conn) {
	panic("sim: invariant: an accepted connection was told it connected")
}

// Received implements Handler.
func (nc *nodeConn) Received(c *Conn, data []byte) {
	if nc.closed || nc.inc.dead || nc.stopReading {
		return
	}
	if nc.inc.holding() && nc.inc.held(func() { nc.Received(c, data) }) {
		return
	}
	if len(nc.unread)+len(data) > nc.inc.n.cfg.UnreadBytesMax {
		nc.fail(fmt.Errorf("%d bytes received and not read, over the bound of %d", len(nc.unread)+len(data), nc.inc.n.cfg.UnreadBytesMax))
		return
	}
	nc.armIdle()
	if len(nc.unread) == 0 {
		nc.unread = data // the handler owns data (Handler.Received): frame it in place
	} else {
		nc.unread = append(nc.unread, data...) // past len: no frame aliases those bytes
	}
	nc.read()
}

// Closed implements Handler: the client closed, or the connection was reset.
func (nc *nodeConn) Closed(c *Conn, err error) {
	if nc.closed || nc.inc.dead {
		return
	}
	if nc.inc.held(func() { nc.Closed(c, err) }) {
		return
	}
	nc.inc.tracef("c%d closed by peer: %v", nc.id, err)
	nc.teardown()
}

// read frames and decodes requests while fewer than inFlightMax are unanswered, handing each
// to the Node. A framing or decoding error closes the connection, as netio does; an
// ApiVersions request at an unsupported version goes to the Node, which answers it (KIP-511).
func (nc *nodeConn) read() {
	inc := nc.inc
	for !nc.closed && !nc.stopReading && !inc.dead && nc.inFlight < inc.inFlightMax && len(nc.unread) > 0 {
		n, frame, err := nc.fr.FeedOwned(nc.unread)
		nc.unread = nc.unread[n:]
		if err != nil {
			nc.fail(err)
			return
		}
		if frame == nil {
			break
		}
		req, err := wire.DecodeRequest(frame, &inc.versions)
		if err != nil && !(errors.Is(err, wire.ErrUnsupportedVersion) && req.Header.APIKey == kmsg.ApiVersions.Int16()) {
			nc.fail(err)
			return
		}
		nc.inFlight++
		nc.awaiting = append(nc.awaiting, requestKey{req.Header.APIKey, req.Header.CorrelationID})
		inc.n.stats.Requests++
		inc.traceLine(inc.lineBuf().str("c").num(int64(nc.id)).str(" request key=").num(int64(req.Header.APIKey)).
			str(" v=").num(int64(req.Header.APIVersion)).str(" corr=").num(int64(req.Header.CorrelationID)))
		inc.execute("request", inc.node.Request(inc.clocks(), nc.id, req))
	}
	if len(nc.unread) == 0 {
		nc.unread = nil // frames may alias its array: never write it again
	}
}

// fail closes the connection at once, dropping unwritten answers (netio's teardown).
func (nc *nodeConn) fail(err error) {
	nc.inc.tracef("c%d closing: %v", nc.id, err)
	nc.inc.n.stats.ConnectionsClosed++
	nc.conn.Close()
	nc.teardown()
}

// teardown forgets the connection and tells the Node.
func (nc *nodeConn) teardown() {
	inc := nc.inc
	nc.closed = true
	nc.cancelTimers()
	nc.outbox, nc.unread, nc.awaiting = nil, nil, nil
	delete(inc.conns, nc.id)
	inc.execute("conn closed", inc.node.ConnClosed(inc.clocks(), nc.id))
}

// armIdle restarts the idle timer: netio's read deadline, renewed before every read. When it
// expires with no request awaiting an answer, the connection is closed; otherwise the client
// is waiting for the broker, not idle, and the timer starts again.
func (nc *nodeConn) armIdle() {
	n := nc.inc.n
	if nc.idle != 0 {
		n.w.Cancel(nc.idle)
	}
	if nc.idleFn == nil {
		nc.idleFn = nc.idleExpired
	}
	nc.idle = n.w.After(n.cfg.IdleTimeoutNs, nc.idleWhat, nc.idleFn)
}

// idleExpired is the idle timer's event.
func (nc *nodeConn) idleExpired() {
	nc.idle = 0
	if nc.closed || nc.inc.dead {
		return
	}
	if nc.inc.n.Paused() {
		nc.armIdle() // a paused process checks no deadline; netio's would fire late
		return
	}
	if nc.inFlight > 0 {
		nc.armIdle()
		return
	}
	nc.fail(fmt.Errorf("idle for %dms", nc.inc.n.cfg.IdleTimeoutNs/1e6))
}

// cancelTimers cancels the writer and the idle timer (teardown or crash).
func (nc *nodeConn) cancelTimers() {
	w := nc.inc.n.w
	if nc.writer != 0 {
		w.Cancel(nc.writer)
		nc.writer = 0
	}
	if nc.idle != 0 {
		w.Cancel(nc.idle)
		nc.idle = 0
	}
}

// respond hands one of the Node's responses to its connection's writer.
func (inc *incarnation) respond(resp broker.Response) {
	nc, ok := inc.conns[resp.Conn]
	if !ok || nc.closed {
		return // answers for a closed connection are dropped, as netio drops them
	}
	if len(nc.awaiting) == 0 {
		panic(fmt.Sprintf("sim: invariant: node %d answered conn %d (key %d, correlation id %d) with no request awaiting an answer",
			inc.n.cfg.ID, resp.Conn, resp.Header.APIKey, resp.Header.CorrelationID))
	}
	if want := nc.awaiting[0]; want.apiKey != resp.Header.APIKey || want.correlationID != resp.Header.CorrelationID {
		panic(fmt.Sprintf("sim: invariant: node %d answered conn %d with key %d correlation id %d; the oldest request had %d and %d",
			inc.n.cfg.ID, resp.Conn, resp.Header.APIKey, resp.Header.CorrelationID, want.apiKey, want.correlationID))
	}
	nc.awaiting = nc.awaiting[1:]
	nc.outbox = append(nc.outbox, outgoing{resp: resp})
	nc.wakeWriter()
}

// requestClose closes the connection after the answers already given (netio's Close).
func (nc *nodeConn) requestClose() {
	if nc.stopReading {
		return
	}
	nc.stopReading = true
	nc.outbox = append(nc.outbox, outgoing{close: true})
	nc.wakeWriter()
}

// wakeWriter schedules the writer if it is not already due.
func (nc *nodeConn) wakeWriter() {
	if nc.writer != 0 {
		return
	}
	n := nc.inc.n
	if nc.writeFn == nil {
		nc.writeFn, nc.heldWriteFn = nc.runWriter, nc.writeUnlessClosed
	}
	nc.writer = n.w.After(n.draw(0, n.cfg.WriteNsMax), nc.writeWhat, nc.writeFn)
}

// runWriter is the writer's event.
func (nc *nodeConn) runWriter() {
	nc.writer = 0
	if nc.closed || nc.inc.dead {
		return
	}
	if nc.inc.held(nc.heldWriteFn) {
		return
	}
	nc.write()
}

// writeUnlessClosed is the writer's event held by a pause.
func (nc *nodeConn) writeUnlessClosed() {
	if !nc.closed && !nc.inc.dead {
		nc.write()
	}
}

// write encodes every answer in the outbox, in order, and sends them in one piece; then
// reading resumes for the freed in-flight slots.
func (nc *nodeConn) write() {
	inc := nc.inc
	if nc.closed || inc.dead {
		return
	}
	items := nc.outbox
	nc.outbox = nil
	closing := false
	for _, item := range items {
		if item.close {
			closing = true
			break
		}
		if item.resp.Body != nil {
			nc.encode(item.resp)
			inc.n.stats.Responses++
		}
		nc.inFlight--
	}
	if len(nc.out) > 0 {
		err := nc.conn.Send(nc.out) // Send copies
		nc.out = nc.out[:0]
		if cap(nc.out) > netio.DefaultIdleBufferBytesMax {
			nc.out = nil
		}
		if err != nil {
			nc.fail(fmt.Errorf("writing responses: %w", err))
			return
		}
	}
	if closing {
		inc.tracef("c%d closed by the broker", nc.id)
		inc.n.stats.ConnectionsClosed++
		nc.conn.Close()
		nc.teardown()
		return
	}
	nc.read()
}

// encode appends r to nc.out, first executing its read plans into the fetch response, as
// netio's conn.encode does (with log.AppendPlan on the simulated disk).
func (nc *nodeConn) encode(r broker.Response) {
	if len(r.Reads) > 0 {
		fetch, ok := r.Body.(*kmsg.FetchResponse)
		if !ok {
			panic(fmt.Sprintf("sim: invariant: read plans attached to a %T, not a fetch response", r.Body))
		}
		// Read everything first: nc.records may move as it grows.
		nc.records, nc.spans = nc.records[:0], nc.spans[:0]
		for _, rd := range r.Reads {
			start := len(nc.records)
			var err error
			nc.records, err = log.AppendPlan(nc.inc.fsys, nc.records, rd.Plan)
			if err != nil {
				nc.inc.n.stats.PlanCuts++
				nc.inc.tracef("c%d fetch served short (topic %d partition %d): %v", nc.id, rd.TopicIndex, rd.PartitionIndex, err)
				nc.inc.reportCut(rd.Partition, log.CutOffset(rd.Plan, nc.records[start:]))
			}
			nc.spans = append(nc.spans, [2]int{start, len(nc.records)})
		}
		for i, rd := range r.Reads {
			p := &fetch.Topics[rd.TopicIndex].Partitions[rd.PartitionIndex]
			p.RecordBatches = nc.records[nc.spans[i][0]:nc.spans[i][1]:nc.spans[i][1]]
		}
	}
	nc.out = wire.AppendResponse(nc.out, r.Header, r.Body)
	if cap(nc.records) > netio.DefaultIdleBufferBytesMax {
		nc.records = nil // netio does not pin a large fetch's memory to an idle connection
	}
}
