package netio

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/weirdata/weir/core/wire"
)

// PeerConfig bounds a PeerClient. DefaultPeerConfig gives the Kafka clients' defaults where
// Kafka has the setting.
type PeerConfig struct {
	// ClientID goes in every request header (client.id), e.g. "weir-node-3".
	ClientID string
	// PeersMax bounds the destinations SetAddress may name.
	PeersMax int
	// QueuedRequestsMax and QueuedBytesMax bound, per destination, the requests Send has
	// accepted and not yet written (their encoded size, prefix included). Send refuses a
	// request past either bound, so a request larger than QueuedBytesMax is never sent.
	QueuedRequestsMax int
	QueuedBytesMax    int64
	// InFlightPerConnMax is max.in.flight.requests.per.connection: requests written on one
	// connection and not yet answered. The peer answers them in order.
	InFlightPerConnMax int
	// ResponseBytesMax bounds a response frame, as socket.request.max.bytes bounds requests: a
	// larger size prefix closes the connection.
	ResponseBytesMax int32
	// EventQueueMax is the capacity of Events. While it is full the connections stop reading
	// (TCP pushes back on the peers) and their requests' timeouts keep running, so a loop
	// that falls behind sees timeouts, as a Kafka client that stops polling does.
	EventQueueMax int
	// ReadBufferBytes is each connection's socket read buffer in user space.
	ReadBufferBytes int
	// DialTimeout is socket.connection.setup.timeout.ms. At most RequestTimeout: a request
	// waiting for a dial is failed when the dial fails.
	DialTimeout time.Duration
	// RequestTimeout is request.timeout.ms, counted from Send: a request not answered by
	// then gets ErrPeerRequestTimeout, and if it was already written its connection is closed
	// (as Kafka's NetworkClient does: responses come in order, so nothing behind it can
	// arrive first). The quorum's driver sets controller.quorum.request.timeout.ms (2 s).
	RequestTimeout time.Duration
	// ReconnectBackoff and ReconnectBackoffMax are reconnect.backoff.ms and
	// reconnect.backoff.max.ms: after the n-th failed dial or lost connection in a row the
	// next dial waits ReconnectBackoff·2^(n-1), at most ReconnectBackoffMax, with ±20%
	// jitter (Kafka's ExponentialBackoff).
	ReconnectBackoff    time.Duration
	ReconnectBackoffMax time.Duration
	// Rand draws the backoff jitter; nil seeds a generator from math/rand/v2's global source.
	// The PeerClient serialises its use.
	Rand *rand.Rand
}

// Defaults; the Kafka keys they mirror are named on PeerConfig's fields.
const (
	DefaultPeersMax                = 1024
	DefaultPeerQueuedRequestsMax   = 1000
	DefaultPeerQueuedBytesMax      = 64 << 20
	DefaultPeerEventQueueMax       = 1000
	DefaultPeerDialTimeout         = 10 * time.Second        // socket.connection.setup.timeout.ms
	DefaultPeerRequestTimeout      = 30 * time.Second        // request.timeout.ms
	DefaultPeerReconnectBackoff    = 50 * time.Millisecond   // reconnect.backoff.ms
	DefaultPeerReconnectBackoffMax = 1000 * time.Millisecond // reconnect.backoff.max.ms
)

// DefaultPeerConfig is the Kafka clients' defaults, with clientID in every request header.
func DefaultPeerConfig(clientID string) PeerConfig {
	return PeerConfig{
		ClientID:            clientID,
		PeersMax:            DefaultPeersMax,
		QueuedRequestsMax:   DefaultPeerQueuedRequestsMax,
		QueuedBytesMax:      DefaultPeerQueuedBytesMax,
		InFlightPerConnMax:  DefaultInFlightPerConnMax,
		ResponseBytesMax:    wire.DefaultRequestBytesMax,
		EventQueueMax:       DefaultPeerEventQueueMax,
		ReadBufferBytes:     DefaultReadBufferBytes,
		DialTimeout:         DefaultPeerDialTimeout,
		RequestTimeout:      DefaultPeerRequestTimeout,
		ReconnectBackoff:    DefaultPeerReconnectBackoff,
		ReconnectBackoffMax: DefaultPeerReconnectBackoffMax,
	}
}

func (c *PeerConfig) validate() error {
	switch {
	case len(c.ClientID) > 1<<15-1:
		return fmt.Errorf("netio: peer ClientID of %d bytes exceeds the header's int16 length", len(c.ClientID))
	case c.PeersMax < 1:
		return fmt.Errorf("netio: PeersMax %d must be positive", c.PeersMax)
	case c.QueuedRequestsMax < 1:
		return fmt.Errorf("netio: peer QueuedRequestsMax %d must be positive", c.QueuedRequestsMax)
	case c.QueuedBytesMax < 1:
		return fmt.Errorf("netio: peer QueuedBytesMax %d bytes must be positive", c.QueuedBytesMax)
	case c.InFlightPerConnMax < 1:
		return fmt.Errorf("netio: peer InFlightPerConnMax %d must be positive", c.InFlightPerConnMax)
	case c.ResponseBytesMax < wire.ResponseHeaderMinBytes:
		return fmt.Errorf("netio: ResponseBytesMax %d bytes is below a response header (%d)", c.ResponseBytesMax, wire.ResponseHeaderMinBytes)
	case c.EventQueueMax < 1:
		return fmt.Errorf("netio: peer EventQueueMax %d must be positive", c.EventQueueMax)
	case c.ReadBufferBytes < wire.SizePrefixBytes:
		return fmt.Errorf("netio: peer ReadBufferBytes %d is below a size prefix", c.ReadBufferBytes)
	case c.RequestTimeout <= 0:
		return fmt.Errorf("netio: peer RequestTimeout %v must be positive", c.RequestTimeout)
	case c.DialTimeout <= 0 || c.DialTimeout > c.RequestTimeout:
		return fmt.Errorf("netio: peer DialTimeout %v must be positive and at most RequestTimeout %v", c.DialTimeout, c.RequestTimeout)
	case c.ReconnectBackoff <= 0 || c.ReconnectBackoffMax < c.ReconnectBackoff:
		return fmt.Errorf("netio: peer ReconnectBackoff %v must be positive and at most ReconnectBackoffMax %v", c.ReconnectBackoff, c.ReconnectBackoffMax)
	}
	return nil
}
