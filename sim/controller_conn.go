package sim

import (
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/wire"
)

// The controller listener and the connections to peers' controller listeners, shared by the
// controller-only process (ControllerNode) and the broker process (Node) whose controller.Node
// is a voter or an observer of a multi-node quorum.

// process is the simulated process that connection handlers belong to: its events are held
// while it is paused and cancelled when it crashes.
type process interface {
	alive() bool
	held(fn func()) bool
	schedule(atNs int64, what string, fn func()) EventID
	cancel(id EventID)
	tracef(format string, args ...any)
	draw(lo, hi int64) int64
}

// ctlListener is a process's controller listener: its accepted connections, requests decoded
// with the controller's versions and handed to the process's controller.Node.
type ctlListener struct {
	proc       process
	w          *World
	versions   *wire.VersionTable
	writeNsMax int64
	// request and closed run the controller.Node's Request and ConnClosed and execute the Ready.
	request func(id controller.ConnID, req wire.Request)
	closed  func(id controller.ConnID)
	stats   *ListenerStats

	conns    map[controller.ConnID]*ctlInConn // lookup; iterated in id order only
	nextConn controller.ConnID
}

// ListenerStats counts a controller listener's traffic.
type ListenerStats struct{ Requests, Responses int64 }

// ctlInConn is one connection accepted on a controller listener: requests framed and decoded
// with the node's versions (an error closes), handed to the Node, and its responses checked
// against the requests and written in request order by a writer that runs a little later.
type ctlInConn struct {
	l           *ctlListener
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

// accept is the listener's accept function.
func (l *ctlListener) accept(c *Conn) Handler {
	if !l.proc.alive() {
		return nil
	}
	l.nextConn++
	ic := &ctlInConn{l: l, id: l.nextConn, conn: c, fr: wire.NewRequestFrameReader(wire.DefaultRequestBytesMax)}
	l.conns[ic.id] = ic
	l.proc.tracef("accept c%d (net c%d from %s)", ic.id, c.ID(), c.Remote())
	return ic
}

// abortAll resets every connection (the process crashed).
func (l *ctlListener) abortAll() {
	for _, id := range sortedKeys(l.conns) {
		if c := l.conns[id]; !c.closed {
			c.closed = true
			c.conn.Abort()
		}
	}
}

// Connected implements Handler; only dialer ends get it.
func (ic *ctlInConn) Connected(*Conn) {
	panic("sim: invariant: an accepted connection was told it connected")
}

// Received implements Handler.
func (ic *ctlInConn) Received(c *Conn, data []byte) {
	l := ic.l
	if ic.closed || !l.proc.alive() || ic.stopReading {
		return
	}
	if l.proc.held(func() { ic.Received(c, data) }) {
		return
	}
	for len(data) > 0 && !ic.closed && !ic.stopReading && l.proc.alive() {
		used, frame, err := ic.fr.FeedOwned(data) // data is the handler's (Handler.Received)
		data = data[used:]
		if err != nil {
			ic.fail(err)
			return
		}
		if frame == nil {
			continue
		}
		req, err := wire.DecodeRequest(frame, l.versions)
		if err != nil && !(errors.Is(err, wire.ErrUnsupportedVersion) && req.Header.APIKey == kmsg.ApiVersions.Int16()) {
			ic.fail(err)
			return
		}
		ic.awaiting = append(ic.awaiting, requestKey{req.Header.APIKey, req.Header.CorrelationID})
		l.stats.Requests++
		l.request(ic.id, req)
	}
}

// Closed implements Handler.
func (ic *ctlInConn) Closed(c *Conn, err error) {
	if ic.closed || !ic.l.proc.alive() {
		return
	}
	if ic.l.proc.held(func() { ic.Closed(c, err) }) {
		return
	}
	ic.l.proc.tracef("c%d closed by peer: %v", ic.id, err)
	ic.teardown()
}

func (ic *ctlInConn) fail(err error) {
	ic.l.proc.tracef("c%d closing: %v", ic.id, err)
	ic.conn.Close()
	ic.teardown()
}

func (ic *ctlInConn) teardown() {
	l := ic.l
	ic.closed = true
	l.proc.cancel(ic.writer)
	ic.writer = 0
	ic.outbox, ic.awaiting = nil, nil
	delete(l.conns, ic.id)
	l.closed(ic.id)
}

// respond hands one response to its connection's writer, checking it answers the oldest
// request awaiting one.
func (l *ctlListener) respond(resp controller.Response) {
	ic, ok := l.conns[resp.Conn]
	if !ok || ic.closed {
		return
	}
	if len(ic.awaiting) == 0 {
		panic(fmt.Sprintf("sim: invariant: a controller answered conn %d (key %d, correlation id %d) with no request awaiting an answer",
			resp.Conn, resp.Header.APIKey, resp.Header.CorrelationID))
	}
	if want := ic.awaiting[0]; want.apiKey != resp.Header.APIKey || want.correlationID != resp.Header.CorrelationID {
		panic(fmt.Sprintf("sim: invariant: a controller answered conn %d with key %d correlation id %d; the oldest request had %d and %d",
			resp.Conn, resp.Header.APIKey, resp.Header.CorrelationID, want.apiKey, want.correlationID))
	}
	ic.awaiting = ic.awaiting[1:]
	ic.outbox = append(ic.outbox, ctlOutgoing{resp: resp})
	ic.wakeWriter()
}

// requestClose closes the connection after the answers queued before it.
func (l *ctlListener) requestClose(id controller.ConnID) {
	ic, ok := l.conns[id]
	if !ok || ic.stopReading {
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
	l := ic.l
	ic.writer = l.proc.schedule(l.w.NowNs()+l.proc.draw(0, l.writeNsMax), fmt.Sprintf("write c%d", ic.id), func() {
		ic.writer = 0
		ic.write()
	})
}

// write encodes the outbox's answers in order and sends them in one piece.
func (ic *ctlInConn) write() {
	l := ic.l
	if ic.closed || !l.proc.alive() {
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
		l.stats.Responses++
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
		l.proc.tracef("c%d closed by the node", ic.id)
		ic.conn.Close()
		ic.teardown()
	}
}

// PeerStats counts a process's requests to peers' controller listeners.
type PeerStats struct {
	Sends, Answers, Errs int64
	FetchSnapshotSends   int64
}

// peerSet is a process's connections to other nodes' controller listeners: each dialed on the
// first send to it, requests framed in Kafka's framing, answers matched to them in order (a
// Kafka connection answers in request order) and by correlation id, handed back with answer.
// A broken connection fails its requests (answer with the error) and is dialed again only
// after a backoff; sends meanwhile fail at once, and the sender retries on its own timeouts.
type peerSet struct {
	proc process
	w    *World
	net  *Network
	// host is this machine's name; addrOf gives a peer's controller listener ("host:port").
	host   string
	addrOf func(id int32) string
	// reconnect backoff after a failed connection, and the request timeout after which a
	// connection whose oldest request is unanswered is closed (Kafka's NetworkClient does so).
	backoffNsMin, backoffNsMax, requestTimeoutNs int64
	// answer runs the Node's PeerResponse for an answer or a failure and executes its Ready;
	// it is never called while a Ready is being executed.
	answer func(peer int32, correlationID int32, resp kmsg.Response, err error)
	stats  *PeerStats
	// label names the set in trace lines ("peer", "controller").
	label string

	peers map[int32]*ctlPeer // lookup; iterated in id order only
}

// ctlPeer is the connection to one peer.
type ctlPeer struct {
	s         *peerSet
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

func (s *peerSet) peer(id int32) *ctlPeer {
	if s.peers == nil {
		s.peers = map[int32]*ctlPeer{}
	}
	p, ok := s.peers[id]
	if !ok {
		p = &ctlPeer{s: s, id: id, addr: s.addrOf(id)}
		s.peers[id] = p
	}
	return p
}

// abortAll resets every connection (the process crashed).
func (s *peerSet) abortAll() {
	ids := make([]int32, 0, len(s.peers))
	//purity:allow-map-range the keys are sorted below
	for id := range s.peers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if p := s.peers[id]; p.conn != nil {
			p.conn.Abort()
			p.conn = nil
		}
	}
}

// send frames one request onto its peer's connection, dialing it if needed. A send that cannot
// go (backoff, too many in flight) is failed by an event of its own.
func (s *peerSet) send(to int32, correlationID int32, req kmsg.Request) {
	s.stats.Sends++
	p := s.peer(to)
	key, version := req.Key(), req.GetVersion()
	if key == kmsg.FetchSnapshot.Int16() {
		s.stats.FetchSnapshotSends++
	}
	failNow := func(err error) {
		s.proc.schedule(s.w.NowNs(), fmt.Sprintf("%s %d fail %d", s.label, p.id, correlationID), func() {
			s.stats.Errs++
			s.answer(p.id, correlationID, nil, err)
		})
	}
	if len(p.inflight) >= peerInFlightMax {
		failNow(errPeerBusy)
		return
	}
	if p.conn == nil {
		if s.w.NowNs() < p.retryAtNs {
			failNow(errPeerBackoff)
			return
		}
		p.addr = s.addrOf(to) // a broker registering again may have moved
		p.conn = s.net.Dial(s.host, p.addr, p)
		p.connected = false
		p.fr = wire.NewResponseFrameReader(wire.DefaultRequestBytesMax)
	}
	h := wire.RequestHeader{APIKey: key, APIVersion: version, CorrelationID: correlationID}
	p.inflight = append(p.inflight, peerRequest{correlationID: correlationID, key: key, version: version, sentNs: s.w.NowNs()})
	frame := wire.AppendRequest(nil, h, req)
	if !p.connected {
		p.queued = append(p.queued, frame...)
	} else if err := p.conn.SendOwned(frame); err != nil { // a fresh buffer, never reused
		p.conn.Abort()
		p.broken(err)
		return
	}
	p.armTimeout()
}

// Connected implements Handler.
func (p *ctlPeer) Connected(c *Conn) {
	proc := p.s.proc
	if !proc.alive() || c != p.conn {
		return
	}
	if proc.held(func() { p.Connected(c) }) {
		return
	}
	if c != p.conn {
		return
	}
	p.connected = true
	if len(p.queued) > 0 {
		data := p.queued
		p.queued = nil
		if err := c.SendOwned(data); err != nil { // a fresh buffer, never reused
			c.Abort()
			p.broken(err)
		}
	}
}

// Received implements Handler: answers, in request order.
func (p *ctlPeer) Received(c *Conn, data []byte) {
	s := p.s
	if !s.proc.alive() || c != p.conn {
		return
	}
	if s.proc.held(func() { p.Received(c, data) }) {
		return
	}
	for len(data) > 0 && s.proc.alive() && c == p.conn {
		used, frame, err := p.fr.FeedOwned(data) // data is the handler's (Handler.Received)
		data = data[used:]
		if err != nil {
			c.Abort()
			p.broken(fmt.Errorf("sim: %s %d answer framing: %w", s.label, p.id, err))
			return
		}
		if frame == nil {
			continue
		}
		if len(p.inflight) == 0 {
			c.Abort()
			p.broken(fmt.Errorf("sim: %s %d answered a request never sent", s.label, p.id))
			return
		}
		head := p.inflight[0]
		corr, resp, err := wire.DecodeResponse(frame, head.key, head.version)
		if err == nil && corr != head.correlationID {
			err = fmt.Errorf("correlation id %d, expected %d", corr, head.correlationID)
		}
		if err != nil {
			c.Abort()
			p.broken(fmt.Errorf("sim: %s %d answer: %w", s.label, p.id, err))
			return
		}
		p.inflight = p.inflight[1:]
		s.stats.Answers++
		s.answer(p.id, corr, resp, nil)
		if s.proc.alive() {
			p.armTimeout()
		}
	}
}

// Closed implements Handler: the dial failed, or the connection reset or closed.
func (p *ctlPeer) Closed(c *Conn, err error) {
	proc := p.s.proc
	if !proc.alive() || c != p.conn {
		return
	}
	if proc.held(func() { p.Closed(c, err) }) {
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
	s := p.s
	p.conn, p.connected, p.queued = nil, false, nil
	p.retryAtNs = s.w.NowNs() + s.proc.draw(s.backoffNsMin, s.backoffNsMax)
	s.proc.cancel(p.timeout)
	p.timeout = 0
	failed := p.inflight
	p.inflight = nil
	s.proc.tracef("%s %d connection broken (%d requests failed): %v", s.label, p.id, len(failed), err)
	if len(failed) == 0 {
		return
	}
	// Reported by an event of its own, as the failure of a send is (see send).
	s.proc.schedule(s.w.NowNs(), fmt.Sprintf("%s %d failed", s.label, p.id), func() {
		for _, r := range failed {
			if !s.proc.alive() {
				return
			}
			s.stats.Errs++
			s.answer(p.id, r.correlationID, nil, err)
		}
	})
}

// armTimeout keeps one event at the oldest request's deadline.
func (p *ctlPeer) armTimeout() {
	s := p.s
	s.proc.cancel(p.timeout)
	p.timeout = 0
	if len(p.inflight) == 0 {
		return
	}
	at := p.inflight[0].sentNs + s.requestTimeoutNs
	p.timeout = s.proc.schedule(at, fmt.Sprintf("%s %d timeout", s.label, p.id), func() {
		p.timeout = 0
		if p.conn == nil || len(p.inflight) == 0 {
			return
		}
		if p.inflight[0].sentNs+s.requestTimeoutNs > s.w.NowNs() {
			p.armTimeout()
			return
		}
		p.conn.Abort()
		p.broken(errPeerTimeout)
	})
}
