package netio

import (
	"fmt"
	"time"

	"github.com/weirdata/weir/core/wire"
	"github.com/weirdata/weir/diskio"
)

// Config bounds everything a Server holds. DefaultConfig gives Kafka's defaults where Kafka
// has the setting.
type Config struct {
	// Versions are the API keys and versions decoded; anything else closes the connection,
	// except an ApiVersions request at an unsupported version (see Event.UnsupportedVersion).
	Versions wire.VersionTable
	// RequestBytesMax is socket.request.max.bytes: a larger size prefix closes the connection.
	RequestBytesMax int32
	// QueuedBytesMax is the byte budget, across all connections, for requests read and not yet
	// answered (Kafka's queued.max.request.bytes, which Kafka leaves unbounded by default). A
	// frame is admitted when it fits or when nothing else is charged, so one frame larger than
	// the budget still gets through, alone.
	QueuedBytesMax int64
	// FetchReadBytesMax is the byte budget, across connections, for record bytes that read
	// plans have read and the writers not yet written (the encoded response holds a second
	// copy while it is written). A fetch waits on its connection's writer for room; one
	// larger than the budget passes when nothing else holds any.
	FetchReadBytesMax int64
	// EventQueueMax is the capacity of the queue to the loop (queued.max.requests).
	EventQueueMax int
	// InFlightPerConnMax is how many requests a connection may have read and not yet answered
	// (written, or freed by a nil response). At least 1; 5 lets clients pipeline as franz-go
	// and the Java client do by default.
	InFlightPerConnMax int
	// ConnectionsMax bounds open connections (max.connections); further accepts are closed
	// at once.
	ConnectionsMax int
	// ReadBufferBytes is each connection's socket read buffer in user space.
	ReadBufferBytes int
	// IdleBufferBytesMax: a connection's reusable write and read-plan buffers that grew past
	// this are dropped after use, so a large fetch does not pin its memory to an idle
	// connection; it is also how much encoded output the writer gathers before a write.
	IdleBufferBytesMax int
	// FS is where fetch read plans are read from (the log dirs' file system).
	FS diskio.FS
	// IdleTimeout is connections.max.idle.ms: a connection whose socket neither delivers a
	// byte to a waiting read nor accepts a waiting write for this long is closed.
	IdleTimeout time.Duration
	// AcceptRetryDelay is how long the accept loop waits after a temporary accept error
	// (e.g. EMFILE) before accepting again.
	AcceptRetryDelay time.Duration
}

// Defaults; the Kafka keys they mirror are named on Config's fields.
const (
	DefaultQueuedBytesMax     = 256 << 20
	DefaultFetchReadBytesMax  = 128 << 20
	DefaultEventQueueMax      = 500 // queued.max.requests
	DefaultInFlightPerConnMax = 5   // max.in.flight.requests.per.connection of the clients
	DefaultConnectionsMax     = 10000
	DefaultReadBufferBytes    = 64 << 10
	DefaultIdleBufferBytesMax = 1 << 20
	DefaultAcceptRetryDelay   = 50 * time.Millisecond
	DefaultIdleTimeout        = 10 * time.Minute // connections.max.idle.ms
)

// DefaultConfig is Kafka's defaults with the broker's advertised versions, reading read plans
// from fsys.
func DefaultConfig(fsys diskio.FS) Config {
	return Config{
		Versions:           wire.DefaultVersions(),
		RequestBytesMax:    wire.DefaultRequestBytesMax,
		QueuedBytesMax:     DefaultQueuedBytesMax,
		FetchReadBytesMax:  DefaultFetchReadBytesMax,
		EventQueueMax:      DefaultEventQueueMax,
		InFlightPerConnMax: DefaultInFlightPerConnMax,
		ConnectionsMax:     DefaultConnectionsMax,
		ReadBufferBytes:    DefaultReadBufferBytes,
		IdleBufferBytesMax: DefaultIdleBufferBytesMax,
		FS:                 fsys,
		AcceptRetryDelay:   DefaultAcceptRetryDelay,
		IdleTimeout:        DefaultIdleTimeout,
	}
}

func (c *Config) validate() error {
	switch {
	case c.RequestBytesMax < wire.RequestHeaderMinBytes:
		return fmt.Errorf("netio: RequestBytesMax %d bytes is below a request header (%d)", c.RequestBytesMax, wire.RequestHeaderMinBytes)
	case c.QueuedBytesMax < 1:
		return fmt.Errorf("netio: QueuedBytesMax %d bytes must be positive", c.QueuedBytesMax)
	case c.FetchReadBytesMax < 1:
		return fmt.Errorf("netio: FetchReadBytesMax %d bytes must be positive", c.FetchReadBytesMax)
	case c.EventQueueMax < 1:
		return fmt.Errorf("netio: EventQueueMax %d must be positive", c.EventQueueMax)
	case c.InFlightPerConnMax < 1:
		return fmt.Errorf("netio: InFlightPerConnMax %d must be positive", c.InFlightPerConnMax)
	case c.ConnectionsMax < 1:
		return fmt.Errorf("netio: ConnectionsMax %d must be positive", c.ConnectionsMax)
	case c.ReadBufferBytes < wire.SizePrefixBytes:
		return fmt.Errorf("netio: ReadBufferBytes %d is below a size prefix", c.ReadBufferBytes)
	case c.IdleBufferBytesMax < 0:
		return fmt.Errorf("netio: IdleBufferBytesMax %d must not be negative", c.IdleBufferBytesMax)
	case c.FS == nil:
		return fmt.Errorf("netio: FS is nil")
	case c.IdleTimeout <= 0:
		return fmt.Errorf("netio: IdleTimeout %v must be positive", c.IdleTimeout)
	case c.AcceptRetryDelay <= 0:
		return fmt.Errorf("netio: AcceptRetryDelay %v must be positive", c.AcceptRetryDelay)
	}
	return nil
}
