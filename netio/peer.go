package netio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weirdata/weir/core/wire"
)

// Errors a PeerEvent carries, matched with errors.Is.
var (
	// ErrPeerDisconnected: the request was accepted but its connection failed (or could not
	// be opened) before the answer arrived. The request may or may not have been handled.
	ErrPeerDisconnected = errors.New("netio: peer connection lost before the response")
	// ErrPeerRequestTimeout: no answer within RequestTimeout of Send.
	ErrPeerRequestTimeout = errors.New("netio: peer request timed out")
	// ErrPeerClientClosed: SetAddress after Close.
	ErrPeerClientClosed = errors.New("netio: peer client closed")
)

// errPeerProtocol is a response the peer should not have sent: it closes the connection.
var errPeerProtocol = errors.New("netio: peer protocol error")

// PeerEvent is the outcome of one request given to Send: its response, or why there is none.
// Every accepted request gets exactly one PeerEvent, unless Close comes first.
type PeerEvent struct {
	From          int32 // the destination node the request was sent to
	CorrelationID int32 // the caller's, as given to Send
	APIKey        int16
	Version       int16
	// Request is the request as given to Send, for a caller that translates the response in
	// the light of its request (core/quorum's FromKmsg).
	Request kmsg.Request
	// Response is kmsg's response kind of APIKey decoded at Version (except an ApiVersions
	// answer to a version the peer does not speak, which decodes as v0, as Kafka's client
	// reads it: see Response.GetVersion); nil when Err is set. It aliases its frame, which
	// nothing else holds.
	Response kmsg.Response
	// Err wraps ErrPeerDisconnected, ErrPeerRequestTimeout, or wire.ErrMalformed for a
	// response that did not decode (its connection is closed, as for any protocol error).
	Err error
}

// PeerClient is the outbound half of inter-node RPCs (quorum Vote, BeginQuorumEpoch,
// EndQuorumEpoch, Fetch, FetchSnapshot; brokers' registration, heartbeats, forwarded admin
// requests): one TCP connection per destination node, dialed on the first Send after being
// idle, pipelining up to InFlightPerConnMax requests, redialed with exponential backoff after
// a failure. Send never blocks; outcomes arrive on Events. Every method is safe from any
// goroutine; the state machine's loop calls Send and reads Events.
//
// Messages a node sends to itself are not the PeerClient's: the driver loops them back.
type PeerClient struct {
	cfg      PeerConfig
	clientID string
	logger   *slog.Logger
	events   chan PeerEvent
	// ctx ends at Close: it cancels dials and every wait, and makes deliveries give up.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // every peer's goroutines

	mu     sync.Mutex
	peers  map[int32]*peer
	closed bool
	rng    *rand.Rand

	closeOnce sync.Once
}

// NewPeerClient returns a PeerClient with no destinations; SetAddress names them.
func NewPeerClient(cfg PeerConfig, logger *slog.Logger) (*PeerClient, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		return nil, errors.New("netio: nil logger")
	}
	rng := cfg.Rand
	if rng == nil {
		rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &PeerClient{
		cfg:      cfg,
		clientID: cfg.ClientID,
		logger:   logger,
		events:   make(chan PeerEvent, cfg.EventQueueMax),
		ctx:      ctx,
		cancel:   cancel,
		peers:    make(map[int32]*peer),
		rng:      rng,
	}, nil
}

// SetAddress names node's address (host:port), adding the destination or replacing its
// address. A replaced address takes effect at once: an open connection to the old one is
// closed (its requests in flight fail with ErrPeerDisconnected) and the next dial does not
// wait for a backoff.
func (c *PeerClient) SetAddress(node int32, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("netio: address %q of node %d: %w", addr, node, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrPeerClientClosed
	}
	if p := c.peers[node]; p != nil {
		p.setAddress(addr)
		return nil
	}
	if len(c.peers) >= c.cfg.PeersMax {
		return fmt.Errorf("netio: node %d would be destination %d, above PeersMax %d", node, len(c.peers)+1, c.cfg.PeersMax)
	}
	p := newPeer(c, node, addr)
	c.peers[node] = p
	c.wg.Add(1)
	go p.run()
	return nil
}

// Send queues req for node at version, with the caller's correlationID in its header, and
// returns at once. It returns false, sending nothing and promising no event, when node has no
// address, its queue is at QueuedRequestsMax or QueuedBytesMax, or the client is closed: the
// caller treats the request as lost (the protocols retry on their own timers). The request is
// encoded before Send returns and then only read again, for its PeerEvent.
//
// A version outside kmsg's range for req is a bug in the caller and panics.
func (c *PeerClient) Send(to int32, req kmsg.Request, version int16, correlationID int32) bool {
	if version < 0 || version > req.MaxVersion() {
		panic(fmt.Sprintf("netio: Send %s at version %d, outside 0 to %d", kmsg.NameForKey(req.Key()), version, req.MaxVersion()))
	}
	c.mu.Lock()
	p := c.peers[to]
	closed := c.closed
	c.mu.Unlock()
	if p == nil || closed {
		return false
	}
	header := wire.RequestHeader{APIKey: req.Key(), APIVersion: version, CorrelationID: correlationID, ClientID: &c.clientID}
	return p.enqueue(&peerRequest{
		correlationID: correlationID,
		apiKey:        req.Key(),
		version:       version,
		req:           req,
		frame:         wire.AppendRequest(nil, header, req),
		deadline:      time.Now().Add(c.cfg.RequestTimeout),
	})
}

// Events delivers every accepted request's PeerEvent. It is closed by Close.
func (c *PeerClient) Events() <-chan PeerEvent { return c.events }

// Close closes every connection and stops every goroutine, then closes Events. Requests
// still queued or in flight get no PeerEvent. Closing twice does nothing.
func (c *PeerClient) Close() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		peers := make([]*peer, 0, len(c.peers))
		for _, p := range c.peers {
			peers = append(peers, p)
		}
		c.mu.Unlock()
		c.cancel()
		for _, p := range peers {
			p.closeConn() // a write blocked on the socket returns now
		}
		c.wg.Wait()
		close(c.events)
	})
}

// deliver queues ev on Events, or gives up when the client closes.
func (c *PeerClient) deliver(ev PeerEvent) bool {
	select {
	case c.events <- ev:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// backoff draws the wait before the next dial after failedAttempts+1 failures in a row.
func (c *PeerClient) backoff(failedAttempts int) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return reconnectBackoff(c.cfg.ReconnectBackoff, c.cfg.ReconnectBackoffMax, failedAttempts, c.rng)
}
