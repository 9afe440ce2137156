package sim

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/wire"
)

// ctlInConn is one connection accepted on a voter's controller listener: requests framed and
// decoded with the node's versions (an error closes), handed to the Node, and its responses
// checked against the requests and written in request order by a writer that runs a little
// later.
type ctlInConn struct {
	inc         *ctlIncarnation
	id          controller.ConnID
	conn        *Conn
	fr          *wire.FrameReader
	awaiting    []requestKey
	outbox      []ctlOutgoing
	writer      EventID
	stopReading bool
	closed      bool
	out         []byte
}

type ctlOutgoing struct {
	resp  controller.Response
	close bool
}

// accept is the controller listener.
func (inc *ctlIncarnation) accept(c *Conn) Handler {
	if inc.dead {
		return nil
	}
	inc.nextConn++
	ic := &ctlInConn{inc: inc, id: inc.nextConn, conn: c, fr: wire.NewRequestFrameReader(wire.DefaultRequestBytesMax)}
	inc.conns[ic.id] = ic
	inc.tracef("accept c%d (net c%d from %s)", ic.id, c.ID(), c.Remote())
	return ic
}

// Connected implements Handler; only dialer ends get it.
func (ic *ctlInConn) Connected(*Conn) {
	panic("sim: invariant: an accepted connection was told it connected")
}

// Received implements Handler.
func (ic *ctlInConn) Received(c *Conn, data []byte) {
	if ic.closed || ic.inc.dead || ic.stopReading {
		return
	}
	if ic.inc.held(func() { ic.Received(c, data) }) {
		return
	}
	inc := ic.inc
	for len(data) > 0 && !ic.closed && !ic.stopReading && !inc.dead {
		used, frame, err := ic.fr.Feed(data)
		data = data[used:]
		if err != nil {
			ic.fail(err)
			return
		}
		if frame == nil {
			continue
		}
		req, err := wire.DecodeRequest(frame, &inc.versions)
		if err != nil && !(errors.Is(err, wire.ErrUnsupportedVersion) && req.Header.APIKey == kmsg.ApiVersions.Int16()) {
			ic.fail(err)
			return
		}
		ic.awaiting = append(ic.awaiting, requestKey{req.Header.APIKey, req.Header.CorrelationID})
		inc.n.stats.Requests++
		inc.execute("request", inc.node.Request(inc.clocks(), ic.id, req))
	}
}

// Closed implements Handler.
func (ic *ctlInConn) Closed(c *Conn, err error) {
	if ic.closed || ic.inc.dead {
		return
	}
	if ic.inc.held(func() { ic.Closed(c, err) }) {
		return
	}
	ic.inc.tracef("c%d closed by peer: %v", ic.id, err)
	ic.teardown()
}

func (ic *ctlInConn) fail(err error) {
	ic.inc.tracef("c%d closing: %v", ic.id, err)
	ic.conn.Close()
	ic.teardown()
}

func (ic *ctlInConn) teardown() {
	inc := ic.inc
	ic.closed = true
	inc.cancel(ic.writer)
	ic.writer = 0
	ic.outbox, ic.awaiting = nil, nil
	delete(inc.conns, ic.id)
	inc.execute("conn closed", inc.node.ConnClosed(inc.clocks(), ic.id))
}

// respond hands one response to its connection's writer, checking it answers the oldest
// request awaiting one.
func (inc *ctlIncarnation) respond(resp controller.Response) {
	ic, ok := inc.conns[resp.Conn]
	if !ok || ic.closed {
		return
	}
	if len(ic.awaiting) == 0 {
		panic(fmt.Sprintf("sim: invariant: controller node %d answered conn %d (key %d, correlation id %d) with no request awaiting an answer",
			inc.n.cfg.ID, resp.Conn, resp.Header.APIKey, resp.Header.CorrelationID))
	}
	if want := ic.awaiting[0]; want.apiKey != resp.Header.APIKey || want.correlationID != resp.Header.CorrelationID {
		panic(fmt.Sprintf("sim: invariant: controller node %d answered conn %d with key %d correlation id %d; the oldest request had %d and %d",
			inc.n.cfg.ID, resp.Conn, resp.Header.APIKey, resp.Header.CorrelationID, want.apiKey, want.correlationID))
	}
	ic.awaiting = ic.awaiting[1:]
	ic.outbox = append(ic.outbox, ctlOutgoing{resp: resp})
	ic.wakeWriter()
}

func (ic *ctlInConn) requestClose() {
	if ic.stopReading {
		return
	}
	ic.stopReading = true
	ic.outbox = append(ic.outbox, ctlOutgoing{close: true})
	ic.wakeWriter()
}

func (ic *ctlInConn) wakeWriter() {
	if ic.writer != 0 {
		return
	}
	n := ic.inc.n
	ic.writer = ic.inc.schedule(n.w.NowNs()+n.draw(0, n.cfg.WriteNsMax), fmt.Sprintf("write c%d", ic.id), func() {
		ic.writer = 0
		ic.write()
	})
}

// write encodes the outbox's answers in order and sends them in one piece.
func (ic *ctlInConn) write() {
	inc := ic.inc
	if ic.closed || inc.dead {
		return
	}
	items := ic.outbox
	ic.outbox = nil
	closing := false
	for _, item := range items {
		if item.close {
			closing = true
			break
		}
		ic.out = wire.AppendResponse(ic.out, item.resp.Header, item.resp.Body)
		inc.n.stats.Responses++
	}
	if len(ic.out) > 0 {
		err := ic.conn.Send(ic.out)
		ic.out = ic.out[:0]
		if err != nil {
			ic.fail(fmt.Errorf("writing responses: %w", err))
			return
		}
	}
	if closing {
		inc.tracef("c%d closed by the node", ic.id)
		ic.conn.Close()
		ic.teardown()
	}
}

// ctlPeer is the connection to one voter's controller listener: dialed on the first send,
// requests framed in Kafka's framing, answers matched to them in order (a Kafka connection
// answers in request order) and by correlation id, handed back with PeerResponse. A broken
// connection fails its requests (PeerResponse with the error) and is dialed again only after
// a backoff; sends meanwhile fail at once, and the quorum retries on its own timeouts.
type ctlPeer struct {
	inc       *ctlIncarnation
	id        int32
	addr      string
	conn      *Conn
	connected bool
	fr        *wire.FrameReader
	// queued are frames sent before the dial completed; inflight every request sent or queued
	// and not answered, oldest first.
	queued    []byte
	inflight  []peerRequest
	retryAtNs int64
	timeout   EventID
}

type peerRequest struct {
	correlationID int32
	key, version  int16
	sentNs        int64
}

// errPeerBackoff fails a send to a peer whose last connection failed within the backoff.
var errPeerBackoff = errors.New("sim: peer in reconnect backoff")

// peerInFlightMax bounds the requests one peer connection holds unanswered (the quorum's
// OutboundMax); a send past it fails at once.
const peerInFlightMax = 4096

// errPeerBusy fails a send to a peer connection holding peerInFlightMax requests.
var errPeerBusy = errors.New("sim: too many requests in flight to the peer")

// errPeerTimeout closes a peer connection whose oldest request went unanswered too long.
var errPeerTimeout = errors.New("sim: peer request timed out")

func (inc *ctlIncarnation) peer(id int32) *ctlPeer {
	p, ok := inc.peers[id]
	if !ok {
		p = &ctlPeer{inc: inc, id: id, addr: inc.n.cfg.PeerAddr(id)}
		inc.peers[id] = p
	}
	return p
}

// send frames one PeerSend onto its peer's connection, dialing it if needed. A send that
// cannot go (backoff, too many in flight) is failed by an event of its own: PeerResponse is
// never called while a Ready is being executed.
func (inc *ctlIncarnation) send(s controller.PeerSend) {
	n := inc.n
	n.stats.PeerSends++
	p := inc.peer(s.To)
	key, version := s.Request.Key(), s.Request.GetVersion()
	if key == kmsg.FetchSnapshot.Int16() {
		n.stats.FetchSnapshotSends++
	}
	failNow := func(err error) {
		corr := s.CorrelationID
		inc.schedule(n.w.NowNs(), fmt.Sprintf("peer %d fail %d", p.id, corr), func() {
			n.stats.PeerErrs++
			inc.execute("peer failed", inc.node.PeerResponse(inc.clocks(), p.id, corr, nil, err))
		})
	}
	if len(p.inflight) >= peerInFlightMax {
		failNow(errPeerBusy)
		return
	}
	if p.conn == nil {
		if n.w.NowNs() < p.retryAtNs {
			failNow(errPeerBackoff)
			return
		}
		p.conn = n.net.Dial(n.cfg.Host, p.addr, p)
		p.connected = false
		p.fr = wire.NewResponseFrameReader(wire.DefaultRequestBytesMax)
	}
	h := wire.RequestHeader{APIKey: key, APIVersion: version, CorrelationID: s.CorrelationID}
	p.inflight = append(p.inflight, peerRequest{correlationID: s.CorrelationID, key: key, version: version, sentNs: n.w.NowNs()})
	frame := wire.AppendRequest(nil, h, s.Request)
	if !p.connected {
		p.queued = append(p.queued, frame...)
	} else if err := p.conn.Send(frame); err != nil {
		p.conn.Abort()
		p.broken(err)
		return
	}
	p.armTimeout()
}

// Connected implements Handler.
func (p *ctlPeer) Connected(c *Conn) {
	if p.inc.dead || c != p.conn {
		return
	}
	if p.inc.held(func() { p.Connected(c) }) {
		return
	}
	if c != p.conn {
		return
	}
	p.connected = true
	if len(p.queued) > 0 {
		data := p.queued
		p.queued = nil
		if err := c.Send(data); err != nil {
			c.Abort()
			p.broken(err)
		}
	}
}

// Received implements Handler: answers, in request order.
func (p *ctlPeer) Received(c *Conn, data []byte) {
	if p.inc.dead || c != p.conn {
		return
	}
	if p.inc.held(func() { p.Received(c, data) }) {
		return
	}
	inc := p.inc
	for len(data) > 0 && !inc.dead && c == p.conn {
		used, frame, err := p.fr.Feed(data)
		data = data[used:]
		if err != nil {
			c.Abort()
			p.broken(fmt.Errorf("sim: peer %d answer framing: %w", p.id, err))
			return
		}
		if frame == nil {
			continue
		}
		if len(p.inflight) == 0 {
			c.Abort()
			p.broken(fmt.Errorf("sim: peer %d answered a request never sent", p.id))
			return
		}
		head := p.inflight[0]
		corr, resp, err := wire.DecodeResponse(frame, head.key, head.version)
		if err == nil && corr != head.correlationID {
			err = fmt.Errorf("correlation id %d, expected %d", corr, head.correlationID)
		}
		if err != nil {
			c.Abort()
			p.broken(fmt.Errorf("sim: peer %d answer: %w", p.id, err))
			return
		}
		p.inflight = p.inflight[1:]
		inc.n.stats.PeerAnswers++
		inc.execute("peer answer", inc.node.PeerResponse(inc.clocks(), p.id, corr, resp, nil))
		if !inc.dead {
			p.armTimeout()
		}
	}
}

// Closed implements Handler: the dial failed, or the connection reset or closed.
func (p *ctlPeer) Closed(c *Conn, err error) {
	if p.inc.dead || c != p.conn {
		return
	}
	if p.inc.held(func() { p.Closed(c, err) }) {
		return
	}
	if c != p.conn {
		return
	}
	if err == nil {
		err = ErrClosed
	}
	p.broken(err)
}

// broken forgets the connection, starts the backoff and fails every request on it.
func (p *ctlPeer) broken(err error) {
	inc := p.inc
	n := inc.n
	p.conn, p.connected, p.queued = nil, false, nil
	p.retryAtNs = n.w.NowNs() + n.draw(n.cfg.ReconnectBackoffNsMin, n.cfg.ReconnectBackoffNsMax)
	inc.cancel(p.timeout)
	p.timeout = 0
	failed := p.inflight
	p.inflight = nil
	inc.tracef("peer %d connection broken (%d requests failed): %v", p.id, len(failed), err)
	if len(failed) == 0 {
		return
	}
	// Reported by an event of its own, as the failure of a send is (see send).
	inc.schedule(n.w.NowNs(), fmt.Sprintf("peer %d failed", p.id), func() {
		for _, r := range failed {
			if inc.dead {
				return
			}
			n.stats.PeerErrs++
			inc.execute("peer failed", inc.node.PeerResponse(inc.clocks(), p.id, r.correlationID, nil, err))
		}
	})
}

// armTimeout keeps one event at the oldest request's deadline.
func (p *ctlPeer) armTimeout() {
	inc := p.inc
	inc.cancel(p.timeout)
	p.timeout = 0
	if len(p.inflight) == 0 {
		return
	}
	at := p.inflight[0].sentNs + inc.n.cfg.RequestTimeoutNs
	p.timeout = inc.schedule(at, fmt.Sprintf("peer %d timeout", p.id), func() {
		p.timeout = 0
		if p.conn == nil || len(p.inflight) == 0 {
			return
		}
		if p.inflight[0].sentNs+inc.n.cfg.RequestTimeoutNs > inc.n.w.NowNs() {
			p.armTimeout()
			return
		}
		p.conn.Abort()
		p.broken(errPeerTimeout)
	})
}
