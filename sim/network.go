package sim

import (
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"net"
	"slices"
)

// Errors a Conn's handler is closed with, or Send returns.
var (
	// ErrRefused: nothing listens at the dialled address.
	ErrRefused = errors.New("sim: connection refused")
	// ErrDialTimeout: the dialled host was unreachable (a cut or clogged link) until the
	// connect timeout.
	ErrDialTimeout = errors.New("sim: connect timed out")
	// ErrReset: the connection was reset (a fault, or the peer's process crashed); bytes in
	// flight were lost.
	ErrReset = errors.New("sim: connection reset")
	// ErrTimedOut: bytes were held by a cut or clogged link past the retransmission timeout,
	// and the connection was reset.
	ErrTimedOut = errors.New("sim: connection timed out")
	// ErrClosed: Send on a connection that is closed.
	ErrClosed = errors.New("sim: connection closed")
	// ErrNotConnected: Send before Connected.
	ErrNotConnected = errors.New("sim: connection not established")
	// ErrSendBufferFull: a direction already holds NetworkConfig.InFlightBytesMax; a real
	// writer would block until its write deadline, so the caller closes the connection.
	ErrSendBufferFull = errors.New("sim: send buffer full")
)

// ConnID names a simulated connection (both of its ends).
type ConnID uint64

// Handler receives one end's events. The network calls it only from its own events, never
// from inside Send, Dial, Close or a fault call, so a handler may call any of them.
type Handler interface {
	// Connected: a dial succeeded (dialer ends only); Send may be used from now on.
	Connected(c *Conn)
	// Received delivers the next bytes of the peer's stream, in order, never duplicated.
	// data belongs to the handler.
	Received(c *Conn, data []byte)
	// Closed ends the end's events: nil after the peer closed and every byte it sent was
	// delivered; otherwise ErrRefused, ErrDialTimeout, ErrReset or ErrTimedOut. It is not
	// called after the handler's own Close.
	Closed(c *Conn, err error)
}

// AcceptFunc is a listener: it gets the accepted end and returns its handler, or nil to
// refuse the connection. It may keep the end but not use it before returning.
type AcceptFunc func(c *Conn) Handler

// NetworkConfig is the network's fault-free behaviour; faults are calls (Reset, Cut, Clog).
type NetworkConfig struct {
	// LatencyNsMin and LatencyNsMax bound a link's one-way latency, drawn once per pair of
	// hosts when first used.
	LatencyNsMin, LatencyNsMax int64
	// JitterNsMax is added to each chunk's delivery time (drawn in [0, JitterNsMax]); order
	// holds regardless, since a direction never delivers a chunk before the one sent earlier.
	JitterNsMax int64
	// SplitPerMillion is the chance that a sent chunk is cut in two at a random byte (again
	// for the remainder), as TCP segments a stream: readers must reassemble frames.
	SplitPerMillion int
	// ConnectTimeoutNs is how long a dial to an unreachable host takes to fail.
	ConnectTimeoutNs int64
	// StallResetNsMin and StallResetNsMax bound how long bytes held by a cut or clogged link
	// wait before the connection resets (TCP's retransmissions giving up), drawn per stall.
	StallResetNsMin, StallResetNsMax int64
	// InFlightBytesMax bounds the bytes one direction holds (sent, not yet delivered).
	InFlightBytesMax int64
}

// DefaultNetworkConfig is a LAN: 50-500 µs links, 200 µs jitter, frequent splits, 3 s connect
// timeout, connections reset after 5-15 s of held bytes, 64 MiB per direction.
func DefaultNetworkConfig() NetworkConfig {
	return NetworkConfig{
		LatencyNsMin:     50_000,
		LatencyNsMax:     500_000,
		JitterNsMax:      200_000,
		SplitPerMillion:  100_000,
		ConnectTimeoutNs: 3e9,
		StallResetNsMin:  5e9,
		StallResetNsMax:  15e9,
		InFlightBytesMax: 64 << 20,
	}
}

// Stats counts what the network did, faults included.
type Stats struct {
	Dials        int64 // Dial calls
	DialsRefused int64 // nothing listening
	DialTimeouts int64 // unreachable host
	Accepted     int64 // connections established
	Resets       int64 // connections reset by Reset, ResetHost or ResetID
	Aborts       int64 // connections reset by an end's owner (Conn.Abort)
	StallResets  int64 // connections reset after bytes were held past the retransmission timeout
	// UnackedResets are connections reset because bytes they delivered were never
	// acknowledged (a one-way cut of the reverse link) past the retransmission timeout.
	UnackedResets  int64
	Stalls         int64 // times a direction stopped delivering at a cut or clogged link
	Cuts           int64 // Cut and Partition calls (a Partition counts two)
	Heals          int64 // Heal and HealAll calls
	Clogs          int64
	Unclogs        int64
	ChunksSplit    int64 // extra chunks made by splitting
	BytesSent      int64
	BytesDelivered int64
	// BytesDropped were sent and never delivered: lost in a reset, or sent to an end that
	// had closed.
	BytesDropped int64
}

// Network is the simulated network: listeners by "host:port", connections whose two
// directions are in-order byte streams, and the faults. Its random draws come from the
// World's "network" PRNG only.
type Network struct {
	w   *World
	rng *rand.Rand
	cfg NetworkConfig

	listeners map[string]AcceptFunc // lookup only
	conns     []*connection         // open, by ascending id: iterated for heals and host resets
	nextID    ConnID

	cut     map[link]bool   // lookup only; directed
	clogged map[string]bool // lookup only
	latency map[link]int64  // lookup only; keyed by the sorted pair

	stats Stats
}

// link is a directed pair of hosts.
type link struct{ from, to string }

// NewNetwork returns a network without listeners, drawing from w.Rand("network").
func NewNetwork(w *World, cfg NetworkConfig) *Network {
	if cfg.LatencyNsMin < 0 || cfg.LatencyNsMax < cfg.LatencyNsMin || cfg.JitterNsMax < 0 ||
		cfg.StallResetNsMin <= 0 || cfg.StallResetNsMax < cfg.StallResetNsMin || cfg.InFlightBytesMax <= 0 ||
		cfg.SplitPerMillion < 0 || cfg.SplitPerMillion > 1_000_000 || cfg.ConnectTimeoutNs <= 0 {
		panic(fmt.Sprintf("sim: invalid network config %+v", cfg))
	}
	return &Network{
		w:         w,
		rng:       w.Rand("network"),
		cfg:       cfg,
		listeners: map[string]AcceptFunc{},
		cut:       map[link]bool{},
		clogged:   map[string]bool{},
		latency:   map[link]int64{},
	}
}

// Stats returns the counters so far.
func (n *Network) Stats() Stats { return n.stats }

// Listen serves addr ("host:port") with accept.
func (n *Network) Listen(addr string, accept AcceptFunc) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("sim: listen on %q: %w", addr, err)
	}
	if _, ok := n.listeners[addr]; ok {
		return fmt.Errorf("sim: listen on %q: address in use", addr)
	}
	n.listeners[addr] = accept
	return nil
}

// Unlisten stops accepting at addr; open connections stay open.
func (n *Network) Unlisten(addr string) { delete(n.listeners, addr) }

// Conn is one end of a connection, owned by the handler it calls.
type Conn struct {
	n      *Network
	c      *connection
	side   int // 0 dialer, 1 acceptor
	host   string
	remote string // the peer's "host:port" as dialled, or the dialer's host
	h      Handler
	// closed: no more sends, no more deliveries. finished: the handler has had its last
	// callback (Closed, or none after its own Close or Abort); the network never calls it
	// again.
	closed   bool
	finished bool
}

// ID is the connection's id (shared by both ends).
func (c *Conn) ID() ConnID { return c.c.id }

// Host is the local host.
func (c *Conn) Host() string { return c.host }

// Remote is the peer: the dialled "host:port" on a dialer end, the dialer's host on an
// accepted end.
func (c *Conn) Remote() string { return c.remote }

// Send queues data (copied) for delivery to the peer, in order after everything sent before.
// Bytes sent to a peer that has closed its end are dropped, as TCP drops them.
func (c *Conn) Send(data []byte) error { return c.n.send(c, data, false) }

// SendOwned is Send without the copy, for a caller that hands data over: from the call on,
// neither it nor anyone else reads or writes data's bytes (core/client's Send.Data is owned
// by its driver and never reused). The network splits data into chunks in place and hands
// each chunk to the receiving handler, which owns it (Handler.Received): chunks share data's
// array but never overlap, and each one's capacity ends at its end.
func (c *Conn) SendOwned(data []byte) error { return c.n.send(c, data, true) }

// Close closes this end: the peer receives every byte already sent, then Closed(nil); bytes
// the peer sends from now on are dropped. The owner gets no more callbacks.
func (c *Conn) Close() { c.n.closeEnd(c) }

// Abort resets the connection from this end (the owner's process died, or it closed with
// SO_LINGER 0): bytes in flight both ways are lost, the peer gets Closed(ErrReset), and the
// owner gets no callback.
func (c *Conn) Abort() {
	if c.finished {
		return
	}
	if !c.c.established {
		c.n.closeEnd(c) // still dialling: the dial is cancelled
		return
	}
	c.finished = true
	if c.closed {
		return // already reset or ended by the peer: its Closed callback is now skipped
	}
	c.n.stats.Aborts++
	c.n.reset(c.c, ErrReset)
}

// connection is both ends and both directions.
type connection struct {
	id          ConnID
	ends        [2]*Conn
	dirs        [2]*direction // dirs[i] carries bytes from ends[i] to ends[1-i]
	established bool
	dialEvent   EventID
}

// direction is one in-order byte stream.
type direction struct {
	from, to string // hosts
	// chunks[first:] are in flight, oldest first; delivered ones before first are cleared,
	// and the array is reused from its start once it empties, instead of reallocated.
	chunks        []chunk
	first         int
	bytes         int64 // data bytes in chunks
	head          EventID
	lastDeliverNs int64 // chunks are never due before the one sent earlier: order holds
	stalled       bool
	stallReset    EventID
	// unackedReset is armed while bytes delivered this way go unacknowledged: the reverse
	// link is cut, so the sender keeps retransmitting and resets at its timeout, although
	// the receiver read them.
	unackedReset EventID
	deliverWhat  string // the delivery event's name, built once: deliveries are most events
	deliverFn    func() // the delivery event's function, built once
}

// chunk is a piece of the stream in flight; fin marks the sender's close.
type chunk struct {
	data []byte
	atNs int64
	fin  bool
}

// Dial connects from host to addr after a round trip: handler h gets Connected, or Closed with
// ErrRefused (nothing listens) or ErrDialTimeout (a link between the hosts is cut or clogged).
func (n *Network) Dial(from, addr string, h Handler) *Conn {
	if h == nil {
		panic("sim: invariant: Dial needs a handler")
	}
	n.stats.Dials++
	n.nextID++
	conn := &connection{id: n.nextID}
	dialer := &Conn{n: n, c: conn, side: 0, host: from, remote: addr, h: h}
	conn.ends[0] = dialer
	to, _, err := net.SplitHostPort(addr)
	if err != nil {
		to = addr // never listened on: refused below
	}
	start := n.w.NowNs()
	conn.dialEvent = n.w.After(2*n.linkLatency(from, to), fmt.Sprintf("net dial c%d %s->%s", conn.id, from, addr), func() {
		conn.dialEvent = 0
		if !n.linkOpen(from, to) || !n.linkOpen(to, from) {
			conn.dialEvent = n.w.At(start+n.cfg.ConnectTimeoutNs, fmt.Sprintf("net dial timeout c%d", conn.id), func() {
				conn.dialEvent = 0
				n.stats.DialTimeouts++
				n.failDial(dialer, ErrDialTimeout)
			})
			return
		}
		accept, ok := n.listeners[addr]
		if !ok {
			n.stats.DialsRefused++
			n.failDial(dialer, ErrRefused)
			return
		}
		acceptor := &Conn{n: n, c: conn, side: 1, host: to, remote: from}
		conn.ends[1] = acceptor
		conn.dirs[0] = &direction{from: from, to: to, deliverWhat: fmt.Sprintf("net deliver c%d %s->%s", conn.id, from, to)}
		conn.dirs[1] = &direction{from: to, to: from, deliverWhat: fmt.Sprintf("net deliver c%d %s->%s", conn.id, to, from)}
		acceptor.h = accept(acceptor)
		if acceptor.h == nil {
			n.stats.DialsRefused++
			n.failDial(dialer, ErrRefused)
			return
		}
		conn.established = true
		n.conns = append(n.conns, conn)
		n.stats.Accepted++
		dialer.h.Connected(dialer)
	})
	return dialer
}

func (n *Network) failDial(dialer *Conn, err error) {
	dialer.closed = true
	if !dialer.finished {
		dialer.finished = true
		dialer.h.Closed(dialer, err)
	}
}

func (n *Network) send(c *Conn, data []byte, owned bool) error {
	switch {
	case c.closed:
		return ErrClosed
	case !c.c.established:
		return ErrNotConnected
	case len(data) == 0:
		return nil
	}
	d := c.c.dirs[c.side]
	if c.c.ends[1-c.side].closed {
		n.stats.BytesSent += int64(len(data))
		n.stats.BytesDropped += int64(len(data))
		return nil
	}
	if d.bytes+int64(len(data)) > n.cfg.InFlightBytesMax {
		return fmt.Errorf("%w: %d bytes held, %d more", ErrSendBufferFull, d.bytes, len(data))
	}
	n.stats.BytesSent += int64(len(data))
	rest := data
	if !owned {
		rest = slices.Clone(data)
	}
	latency := n.linkLatency(d.from, d.to)
	for len(rest) > 0 {
		piece := rest
		if len(rest) > 1 && n.rng.IntN(1_000_000) < n.cfg.SplitPerMillion {
			piece = rest[:1+n.rng.IntN(len(rest)-1)]
			n.stats.ChunksSplit++
		}
		rest = rest[len(piece):]
		n.push(d, chunk{data: piece[:len(piece):len(piece)], atNs: n.w.NowNs() + latency + n.rng.Int64N(n.cfg.JitterNsMax+1)})
	}
	n.schedule(c.c, c.side)
	return nil
}

// push appends ch to d, never due before the chunk ahead of it.
func (n *Network) push(d *direction, ch chunk) {
	ch.atNs = max(ch.atNs, d.lastDeliverNs)
	d.lastDeliverNs = ch.atNs
	if d.first > 0 && len(d.chunks) == cap(d.chunks) {
		// Full, with delivered chunks ahead: move the in-flight ones to the front.
		n := copy(d.chunks, d.chunks[d.first:])
		clear(d.chunks[n:])
		d.chunks, d.first = d.chunks[:n], 0
	}
	d.chunks = append(d.chunks, ch)
	d.bytes += int64(len(ch.data))
}

// schedule arms the delivery of direction side's head chunk, unless one is armed or the
// direction is stalled.
func (n *Network) schedule(conn *connection, side int) {
	d := conn.dirs[side]
	if d.head != 0 || d.stalled || d.first == len(d.chunks) {
		return
	}
	if d.deliverFn == nil {
		d.deliverFn = func() {
			d.head = 0
			n.deliver(conn, side)
		}
	}
	d.head = n.w.At(d.chunks[d.first].atNs, d.deliverWhat, d.deliverFn)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// deliver hands the head chunk of direction side to the receiving end, or stalls the direction
// at a cut or clogged link.
func (n *Network) deliver(conn *connection, side int) {
	d := conn.dirs[side]
	if !n.linkOpen(d.from, d.to) {
		d.stalled = true
		n.stats.Stalls++
		wait := n.cfg.StallResetNsMin + n.rng.Int64N(n.cfg.StallResetNsMax-n.cfg.StallResetNsMin+1)
		n.w.Tracef("net stall c%d %s->%s %d bytes held, reset in %dms", conn.id, d.from, d.to, d.bytes, wait/1e6)
		d.stallReset = n.w.After(wait, fmt.Sprintf("net stall reset c%d", conn.id), func() {
			d.stallReset = 0
			n.stats.StallResets++
			n.reset(conn, ErrTimedOut)
		})
		return
	}
	ch := d.chunks[d.first]
	d.chunks[d.first] = chunk{}
	d.first++
	if d.first == len(d.chunks) {
		d.chunks, d.first = d.chunks[:0], 0
	}
	d.bytes -= int64(len(ch.data))
	receiver := conn.ends[1-side]
	if ch.fin {
		n.w.Tracef("net fin c%d %s->%s", conn.id, d.from, d.to)
		notify := !receiver.closed && !receiver.finished
		receiver.closed, receiver.finished = true, true
		n.dropDirection(conn.dirs[1-side]) // the closer reads no more
		n.finish(conn)
		if notify {
			receiver.h.Closed(receiver, nil)
		}
		return
	}
	n.stats.BytesDelivered += int64(len(ch.data))
	if d.unackedReset == 0 && !n.linkOpen(d.to, d.from) {
		wait := n.cfg.StallResetNsMin + n.rng.Int64N(n.cfg.StallResetNsMax-n.cfg.StallResetNsMin+1)
		n.w.Tracef("net unacked c%d %s->%s: acknowledgements cut, reset in %dms", conn.id, d.from, d.to, wait/1e6)
		d.unackedReset = n.w.After(wait, fmt.Sprintf("net unacked reset c%d", conn.id), func() {
			d.unackedReset = 0
			n.stats.UnackedResets++
			n.reset(conn, ErrTimedOut)
		})
	}
	// The checksum puts the bytes themselves in the trace (and its hash); CRC32C runs in hardware.
	n.w.traceLine(n.w.traceBuf().str("net c").unum(uint64(conn.id)).str(" ").str(d.from).str("->").str(d.to).str(" ").
		num(int64(len(ch.data))).str(" bytes crc ").hex8(crc32.Checksum(ch.data, castagnoli)))
	n.schedule(conn, side)
	receiver.h.Received(receiver, ch.data)
}

// closeEnd is Conn.Close.
func (n *Network) closeEnd(c *Conn) {
	if c.finished {
		return
	}
	c.finished = true
	wasClosed := c.closed
	c.closed = true
	conn := c.c
	if !conn.established {
		if conn.dialEvent != 0 {
			n.w.Cancel(conn.dialEvent)
			conn.dialEvent = 0
		}
		return
	}
	if wasClosed {
		n.finish(conn)
		return
	}
	out := conn.dirs[c.side]
	n.push(out, chunk{fin: true, atNs: n.w.NowNs() + n.linkLatency(out.from, out.to)})
	n.schedule(conn, c.side)
	n.dropDirection(conn.dirs[1-c.side])
}

// dropDirection discards what d holds (its receiver closed).
func (n *Network) dropDirection(d *direction) {
	if d.head != 0 {
		n.w.Cancel(d.head)
		d.head = 0
	}
	if d.stallReset != 0 {
		n.w.Cancel(d.stallReset)
		d.stallReset = 0
	}
	if d.unackedReset != 0 {
		n.w.Cancel(d.unackedReset)
		d.unackedReset = 0
	}
	d.stalled = false
	n.stats.BytesDropped += d.bytes
	clear(d.chunks)
	d.chunks, d.first = d.chunks[:0], 0
	d.bytes = 0
}

// finish forgets conn once both ends are closed and nothing is left in flight.
func (n *Network) finish(conn *connection) {
	for i := range conn.ends {
		if d := conn.dirs[i]; !conn.ends[i].closed || d.first < len(d.chunks) {
			return
		}
	}
	n.conns = slices.DeleteFunc(n.conns, func(c *connection) bool { return c == conn })
}

// reset closes both ends of conn, dropping everything in flight; each end not closed by its
// owner gets Closed(err) from an event of its own.
func (n *Network) reset(conn *connection, err error) {
	if !conn.established {
		return
	}
	n.w.Tracef("net reset c%d: %v", conn.id, err)
	for side := range conn.dirs {
		n.dropDirection(conn.dirs[side])
	}
	for _, end := range conn.ends {
		if end.closed {
			continue
		}
		end.closed = true
		if end.finished {
			continue
		}
		// From an event of its own, so that no handler runs inside the caller; a Close by the
		// owner before then means it wants no callback.
		n.w.After(0, fmt.Sprintf("net closed c%d on %s", conn.id, end.host), func() {
			if !end.finished {
				end.finished = true
				end.h.Closed(end, err)
			}
		})
	}
	n.finish(conn)
}

// Reset resets c's connection (a fault): both ends get Closed(ErrReset) and bytes in flight
// are lost.
func (n *Network) Reset(c *Conn) {
	if c.c.established && !(c.c.ends[0].closed && c.c.ends[1].closed) {
		n.stats.Resets++
	}
	n.reset(c.c, ErrReset)
}

// ResetID resets the open connection id; it reports whether there was one.
func (n *Network) ResetID(id ConnID) bool {
	for _, conn := range n.conns {
		if conn.id == id {
			n.stats.Resets++
			n.reset(conn, ErrReset)
			return true
		}
	}
	return false
}

// ResetHost resets every open connection with an end on host (its process crashed).
func (n *Network) ResetHost(host string) {
	for _, conn := range slices.Clone(n.conns) {
		if conn.ends[0].host == host || conn.ends[1].host == host {
			n.stats.Resets++
			n.reset(conn, ErrReset)
		}
	}
}

// OpenConns lists the open connections' ids in ascending order (for faults that pick one).
func (n *Network) OpenConns() []ConnID {
	ids := make([]ConnID, len(n.conns))
	for i, conn := range n.conns {
		ids[i] = conn.id
	}
	return ids
}

// Cut stops delivery from every host in from to every host in to (one way). Bytes on a cut
// link are held — TCP retransmits — and the connection resets if the cut outlasts the
// retransmission timeout; dials across a cut time out.
//
// A one-way cut also loses the acknowledgements of the other direction: its bytes are still
// delivered, but their sender resets the connection at its retransmission timeout unless the
// cut heals first.
func (n *Network) Cut(from, to []string) {
	n.stats.Cuts++
	for _, f := range from {
		for _, t := range to {
			n.cut[link{f, t}] = true
		}
	}
	n.w.Tracef("net cut %v -> %v", from, to)
}

// Partition cuts a from b both ways.
func (n *Network) Partition(a, b []string) {
	n.Cut(a, b)
	n.Cut(b, a)
}

// Heal undoes Cut(from, to); held bytes flow again after a link latency.
func (n *Network) Heal(from, to []string) {
	n.stats.Heals++
	for _, f := range from {
		for _, t := range to {
			delete(n.cut, link{f, t})
		}
	}
	n.w.Tracef("net heal %v -> %v", from, to)
	n.resume()
}

// HealAll removes every cut (clogs stay).
func (n *Network) HealAll() {
	n.stats.Heals++
	clear(n.cut)
	n.w.Trace("net heal all")
	n.resume()
}

// Clog stops every link into and out of host, as a cut does, until Unclog. Clogging hosts one
// by one and unclogging them in a shuffled order is FoundationDB's swizzle-clogging.
func (n *Network) Clog(host string) {
	n.stats.Clogs++
	n.clogged[host] = true
	n.w.Tracef("net clog %s", host)
}

// Unclog undoes Clog.
func (n *Network) Unclog(host string) {
	n.stats.Unclogs++
	delete(n.clogged, host)
	n.w.Tracef("net unclog %s", host)
	n.resume()
}

// Clogged reports whether host is clogged.
func (n *Network) Clogged(host string) bool { return n.clogged[host] }

// resume restarts the stalled directions whose link is open again, in connection order: the
// held bytes are retransmitted, due one link latency from now.
func (n *Network) resume() {
	for _, conn := range n.conns {
		for side, d := range conn.dirs {
			if d.unackedReset != 0 && n.linkOpen(d.to, d.from) {
				// Acknowledgements flow again: the sender stops retransmitting.
				n.w.Cancel(d.unackedReset)
				d.unackedReset = 0
			}
			if !d.stalled || !n.linkOpen(d.from, d.to) {
				continue
			}
			d.stalled = false
			if d.stallReset != 0 {
				n.w.Cancel(d.stallReset)
				d.stallReset = 0
			}
			d.chunks[d.first].atNs = max(d.chunks[d.first].atNs, n.w.NowNs()+n.linkLatency(d.from, d.to))
			n.schedule(conn, side)
		}
	}
}

func (n *Network) linkOpen(from, to string) bool {
	return !n.cut[link{from, to}] && !n.clogged[from] && !n.clogged[to]
}

// linkLatency is the pair's one-way latency, drawn when first used.
func (n *Network) linkLatency(a, b string) int64 {
	key := link{min(a, b), max(a, b)}
	if l, ok := n.latency[key]; ok {
		return l
	}
	l := n.cfg.LatencyNsMin + n.rng.Int64N(n.cfg.LatencyNsMax-n.cfg.LatencyNsMin+1)
	n.latency[key] = l
	return l
}
