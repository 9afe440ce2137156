package netio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weirdata/weir/core/wire"
)

// peerRequest is one request Send accepted: queued, then in flight, then answered or failed.
type peerRequest struct {
	correlationID int32
	apiKey        int16
	version       int16
	req           kmsg.Request
	frame         []byte    // the encoded request, size prefix included; nil once handed to the socket
	deadline      time.Time // Send's time plus RequestTimeout
}

func (r *peerRequest) event(from int32, resp kmsg.Response, err error) PeerEvent {
	return PeerEvent{From: from, CorrelationID: r.correlationID, APIKey: r.apiKey, Version: r.version, Request: r.req, Response: resp, Err: err}
}

// peer is one destination: its queue, its connection, and the goroutine (run) that dials,
// writes and redials. While connected, a second goroutine (readLoop) reads the responses.
type peer struct {
	c    *PeerClient
	node int32
	wake chan struct{} // capacity 1: a request queued, an in-flight slot freed, the address changed

	mu          sync.Mutex
	addr        string
	queue       []*peerRequest // accepted, not yet written, in Send order
	queuedBytes int64          // the queue's frames
	inFlight    []*peerRequest // written, not yet answered, in write order (= answer order)
	nc          net.Conn       // the open connection, nil while there is none
	// failedAttempts counts failed dials and lost connections since the last dial that
	// succeeded; the next dial waits until retryAt.
	failedAttempts int
	retryAt        time.Time
}

func newPeer(c *PeerClient, node int32, addr string) *peer {
	return &peer{c: c, node: node, addr: addr, wake: make(chan struct{}, 1)}
}

func (p *peer) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *peer) enqueue(r *peerRequest) bool {
	p.mu.Lock()
	cfg := &p.c.cfg
	if len(p.queue) >= cfg.QueuedRequestsMax || p.queuedBytes+int64(len(r.frame)) > cfg.QueuedBytesMax {
		p.mu.Unlock()
		return false
	}
	p.queue = append(p.queue, r)
	p.queuedBytes += int64(len(r.frame))
	p.mu.Unlock()
	p.signal()
	return true
}

func (p *peer) setAddress(addr string) {
	p.mu.Lock()
	changed := addr != p.addr
	if changed {
		p.addr = addr
		p.failedAttempts = 0
		p.retryAt = time.Time{}
	}
	p.mu.Unlock()
	if changed {
		p.signal() // a connection to the old address closes
	}
}

// closeConn closes the open connection, for Close: a write blocked on it returns.
func (p *peer) closeConn() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nc != nil {
		p.nc.Close()
	}
}

// run owns the destination's connection until Close: it waits for a request, dials after
// any backoff, serves the connection until it fails, fails what was left, and starts over.
func (p *peer) run() {
	defer p.c.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		addr, ok := p.awaitDial(timer)
		if !ok {
			return
		}
		nc, err := p.dial(addr)
		if err != nil {
			if p.c.ctx.Err() != nil {
				return
			}
			// Kafka: "Connection to node N could not be established. Node may not be available."
			p.c.logger.Warn("connection to peer could not be established", "node", p.node, "addr", addr, "err", err)
			if !p.failAll(fmt.Errorf("connecting to %s: %w", addr, err)) {
				return
			}
			p.noteFailure(addr)
			continue
		}
		p.c.logger.Debug("connected to peer", "node", p.node, "addr", addr)
		reason := p.serve(nc, addr, timer)
		if p.c.ctx.Err() != nil {
			return
		}
		level := slog.LevelWarn
		if errors.Is(reason, io.EOF) || errors.Is(reason, syscall.ECONNRESET) || errors.Is(reason, errAddressChanged) {
			level = slog.LevelInfo // a peer restarting or moving, not a fault of either side
		}
		p.c.logger.Log(context.Background(), level, "closing connection to peer", "node", p.node, "addr", addr, "reason", reason)
		if !p.failAll(reason) {
			return
		}
		p.noteFailure(addr)
	}
}

// errAddressChanged ends a connection to an address SetAddress replaced.
var errAddressChanged = errors.New("netio: peer address changed")

// awaitDial waits until a request is queued and any backoff has passed, expiring queued
// requests meanwhile, and returns the address to dial; false when the client closes.
func (p *peer) awaitDial(timer *time.Timer) (string, bool) {
	for {
		now := time.Now()
		if !p.expireQueued(now) {
			return "", false
		}
		p.mu.Lock()
		addr := p.addr
		var wakeAt time.Time
		if len(p.queue) > 0 {
			if !now.Before(p.retryAt) {
				p.mu.Unlock()
				return addr, true
			}
			wakeAt = p.retryAt
			if d := p.queue[0].deadline; d.Before(wakeAt) {
				wakeAt = d
			}
		}
		p.mu.Unlock()
		var fire <-chan time.Time
		if !wakeAt.IsZero() {
			timer.Reset(wakeAt.Sub(now))
			fire = timer.C
		}
		select {
		case <-p.wake:
		case <-fire:
		case <-p.c.ctx.Done():
			timer.Stop()
			return "", false
		}
		timer.Stop()
	}
}

func (p *peer) dial(addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: p.c.cfg.DialTimeout}
	nc, err := d.DialContext(p.c.ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Close cancels ctx before closing p.nc under p.mu: either it sees this connection or
	// this sees its cancel.
	if err := p.c.ctx.Err(); err != nil {
		nc.Close()
		return nil, err
	}
	p.nc = nc
	p.failedAttempts = 0
	return nc, nil
}

// noteFailure starts the backoff before the next dial to addr (unless the address changed
// meanwhile, which starts afresh).
func (p *peer) noteFailure(addr string) {
	p.mu.Lock()
	attempts := p.failedAttempts
	p.mu.Unlock()
	wait := p.c.backoff(attempts) // takes the client's lock: never under p.mu
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.addr == addr {
		p.failedAttempts++
		p.retryAt = time.Now().Add(wait)
	}
}

// serve writes queued requests and matches responses until the connection fails, then
// closes it and waits for its reader. It returns why the connection ended.
func (p *peer) serve(nc net.Conn, addr string, timer *time.Timer) error {
	readerDone := make(chan error, 1)
	go func() { readerDone <- p.readLoop(nc) }()
	reason, readerFinished := p.serveLoop(nc, addr, timer, readerDone)
	p.mu.Lock()
	p.nc = nil
	p.mu.Unlock()
	nc.Close()
	if !readerFinished {
		<-readerDone
	}
	return reason
}

func (p *peer) serveLoop(nc net.Conn, addr string, timer *time.Timer, readerDone <-chan error) (reason error, readerFinished bool) {
	for {
		// The address may have changed while dialing: write nothing more to the old one.
		p.mu.Lock()
		newAddr := p.addr
		p.mu.Unlock()
		if newAddr != addr {
			return fmt.Errorf("%w to %s", errAddressChanged, newAddr), false
		}
		if err := p.writeReady(nc); err != nil {
			return err, false
		}
		now := time.Now()
		p.mu.Lock()
		// Requests still queued wait behind a full window; the oldest in flight expires first.
		var wakeAt time.Time
		if len(p.inFlight) > 0 {
			oldest := p.inFlight[0]
			if !now.Before(oldest.deadline) {
				p.mu.Unlock()
				return fmt.Errorf("%w: %s v%d correlation id %d unanswered after %v", ErrPeerRequestTimeout,
					kmsg.NameForKey(oldest.apiKey), oldest.version, oldest.correlationID, p.c.cfg.RequestTimeout), false
			}
			wakeAt = oldest.deadline
		}
		p.mu.Unlock()
		var fire <-chan time.Time
		if !wakeAt.IsZero() {
			timer.Reset(wakeAt.Sub(now))
			fire = timer.C
		}
		select {
		case <-p.wake:
		case <-fire:
		case err := <-readerDone:
			timer.Stop()
			return err, true
		case <-p.c.ctx.Done():
			timer.Stop()
			return p.c.ctx.Err(), false
		}
		timer.Stop()
	}
}

// writeReady writes as many queued requests as the in-flight window allows, in one write. They
// join inFlight first: the answer may arrive before the write returns.
func (p *peer) writeReady(nc net.Conn) error {
	p.mu.Lock()
	n := min(len(p.queue), p.c.cfg.InFlightPerConnMax-len(p.inFlight))
	if n <= 0 {
		p.mu.Unlock()
		return nil
	}
	bufs := make(net.Buffers, 0, n)
	for _, r := range p.queue[:n] {
		bufs = append(bufs, r.frame)
		p.queuedBytes -= int64(len(r.frame))
		r.frame = nil
	}
	p.inFlight = append(p.inFlight, p.queue[:n]...)
	p.queue = slices.Delete(p.queue, 0, n)
	// A write stuck past the oldest request's deadline has timed that request out.
	deadline := p.inFlight[0].deadline
	p.mu.Unlock()
	nc.SetWriteDeadline(deadline)
	if _, err := bufs.WriteTo(nc); err != nil {
		return fmt.Errorf("writing %d requests: %w", n, err)
	}
	return nil
}

// readLoop reads response frames and hands each to handleResponse until the connection or a
// response fails. A panic (a decoder bug) fails this connection only.
func (p *peer) readLoop(nc net.Conn) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("netio: panic reading a response: %v", r)
		}
	}()
	buf := make([]byte, p.c.cfg.ReadBufferBytes)
	fr := wire.NewResponseFrameReader(p.c.cfg.ResponseBytesMax)
	for {
		n, readErr := nc.Read(buf)
		for b := buf[:n]; len(b) > 0; {
			k, frame, err := fr.Feed(b)
			b = b[k:]
			if err != nil {
				return fmt.Errorf("%w: %w", errPeerProtocol, err)
			}
			if frame != nil {
				if err := p.handleResponse(frame); err != nil {
					return err
				}
			}
		}
		if readErr != nil {
			return fmt.Errorf("reading: %w", readErr)
		}
	}
}

// handleResponse matches a frame with the oldest request in flight (a peer answers a
// connection's requests in order, as Kafka's NetworkClient.correlate requires), decodes it at
// that request's key and version, and delivers it. A response with any other correlation id,
// or one that does not decode, is a protocol error that closes the connection.
func (p *peer) handleResponse(frame []byte) error {
	correlationID := int32(binary.BigEndian.Uint32(frame)) // the frame reader ensured 4 bytes
	p.mu.Lock()
	if len(p.inFlight) == 0 {
		p.mu.Unlock()
		return fmt.Errorf("%w: response with correlation id %d while no request is in flight", errPeerProtocol, correlationID)
	}
	r := p.inFlight[0]
	if r.correlationID != correlationID {
		p.mu.Unlock()
		return fmt.Errorf("%w: response with correlation id %d, the oldest request in flight has %d", errPeerProtocol, correlationID, r.correlationID)
	}
	p.inFlight = slices.Delete(p.inFlight, 0, 1)
	p.mu.Unlock()
	p.signal() // a slot in the window is free
	_, resp, err := wire.DecodeResponse(frame, r.apiKey, r.version)
	if err != nil {
		err = fmt.Errorf("response from node %d: %w", p.node, err)
		if !p.c.deliver(r.event(p.node, nil, err)) {
			return p.c.ctx.Err()
		}
		return fmt.Errorf("%w: %w", errPeerProtocol, err)
	}
	if !p.c.deliver(r.event(p.node, resp, nil)) {
		return p.c.ctx.Err()
	}
	return nil
}

// failAll fails every request in flight and queued, after their connection ended (or could
// not be opened) for reason. False when the client closed meanwhile.
func (p *peer) failAll(reason error) bool {
	p.mu.Lock()
	failed := append(p.inFlight, p.queue...)
	p.inFlight, p.queue, p.queuedBytes = nil, nil, 0
	p.mu.Unlock()
	now := time.Now()
	for _, r := range failed {
		err := fmt.Errorf("%w: node %d: %v", ErrPeerDisconnected, p.node, reason)
		if !now.Before(r.deadline) {
			err = p.timeoutError(r)
		}
		if !p.c.deliver(r.event(p.node, nil, err)) {
			return false
		}
	}
	return true
}

// expireQueued fails the queued requests whose deadline passed while they waited for a dial
// or a backoff. False when the client closed meanwhile.
func (p *peer) expireQueued(now time.Time) bool {
	p.mu.Lock()
	n := 0
	for n < len(p.queue) && !now.Before(p.queue[n].deadline) {
		p.queuedBytes -= int64(len(p.queue[n].frame))
		n++
	}
	expired := slices.Clone(p.queue[:n])
	p.queue = slices.Delete(p.queue, 0, n)
	p.mu.Unlock()
	for _, r := range expired {
		if !p.c.deliver(r.event(p.node, nil, p.timeoutError(r))) {
			return false
		}
	}
	return true
}

func (p *peer) timeoutError(r *peerRequest) error {
	return fmt.Errorf("%w: node %d: %s v%d correlation id %d unanswered after %v", ErrPeerRequestTimeout, p.node,
		kmsg.NameForKey(r.apiKey), r.version, r.correlationID, p.c.cfg.RequestTimeout)
}
