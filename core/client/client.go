package client

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/core/record"
)

// ConnID names a connection the client asked the driver to dial. The client picks it and never
// reuses one.
type ConnID uint64

// OpID names an operation; it is the check.Op's Seq (or the AdminResult's ID).
type OpID int64

// Dial asks the driver to open a TCP-like connection to Addr ("host:port"), then to call
// Connected(Conn) once it is open or Closed(Conn) if it could not be opened.
type Dial struct {
	Conn ConnID
	Addr string
}

// Send is bytes to write on a connection: whole requests, size prefixes included.
type Send struct {
	Conn ConnID
	Data []byte // owned by the driver
}

// Ready lists the effects of one call. The driver executes them in field order; the order is the
// contract:
//   - Closes first: the client has already forgotten these connections (their requests count
//     as lost); the driver closes them and must not report them again;
//   - Dials next; a dial's connection gets no Send before Connected is called for it;
//   - Sends per connection in the order listed, which is request order;
//   - Completed and AdminCompleted are results to record; nothing waits on them.
//
// NextDeadlineNs is the monotonic time at which to call Timer; 0 means no timer is wanted.
type Ready struct {
	Closes         []ConnID
	Dials          []Dial
	Sends          []Send
	Completed      []check.Op
	AdminCompleted []AdminResult
	NextDeadlineNs int64
}

// Client is a sans-I/O Kafka client: a producer (idempotent or not), a fetcher and a few admin
// calls. It never blocks, reads no clock and does no I/O: the driver feeds it events and
// commands, and executes the Ready each call returns. Not safe for concurrent use.
type Client struct {
	cfg          Config
	rng          *rand.Rand
	decompressor *record.Decompressor
	compressor   *record.Compressor

	nowNs int64
	out   Ready
	// encoded is the buffer requests are encoded in before each is copied out at its exact
	// size: encoding into a growing new slice would reallocate it several times.
	encoded []byte
	// fetchText and fetchEnds are decodeFetched's buffers: the keys and values of a fetch's
	// records, back to back, and where each key and value ends.
	fetchText []byte
	fetchEnds []int

	nextConn ConnID
	nextOp   OpID
	pending  int // operations not yet completed, at most cfg.PendingOpsMax

	conns       []*conn // open, negotiating or dialing, in creation order
	dialBackoff []addrBackoff

	meta       metadata
	producer   producerState
	partitions []*partitionProducer // in first-use order, at most cfg.PartitionsMax
	ppIndex    map[topicPartition]*partitionProducer
	fetches    []*fetchOp // in invocation order
	admins     []*adminOp // in invocation order
}

// addrBackoff keeps an address from being dialed again before untilNs, after a failed dial or
// a lost connection (reconnect.backoff.ms).
type addrBackoff struct {
	addr    string
	untilNs int64
}

// topicPartition names a partition.
type topicPartition struct {
	topic     string
	partition int32
}

// New returns a client for cfg. It panics if cfg does not Validate: a configuration is the
// caller's to check. rng is the client's only source of randomness (dial choices, backoff
// jitter).
func New(cfg Config, rng *rand.Rand) *Client {
	if err := cfg.Validate(); err != nil {
		panic(fmt.Sprintf("client: invalid config (call Config.Validate first): %v", err))
	}
	if rng == nil {
		panic("client: nil rng")
	}
	c := &Client{
		cfg:          cfg,
		rng:          rng,
		decompressor: record.NewDecompressor(cfg.DecompressedBytesMax),
		compressor:   record.NewCompressor(),
		nextConn:     1,
		nextOp:       1,
		ppIndex:      make(map[topicPartition]*partitionProducer),
	}
	c.meta.init()
	c.producer.init()
	return c
}

// Connected reports that a dialed connection is open. The client starts by negotiating versions.
func (c *Client) Connected(id ConnID, nowNs int64) Ready {
	c.begin(nowNs)
	cn := c.conn(id)
	switch {
	case cn == nil:
		// A connection the client gave up on (dial timeout): the driver closes it.
		c.out.Closes = append(c.out.Closes, id)
	case cn.state != connDialing:
		panic(fmt.Sprintf("client: Connected called twice for connection %d", id))
	default:
		c.startNegotiation(cn)
	}
	return c.finish()
}

// Received hands the client bytes read from a connection, in stream order, chunked any way.
func (c *Client) Received(id ConnID, data []byte, nowNs int64) Ready {
	c.begin(nowNs)
	if cn := c.conn(id); cn != nil {
		c.receive(cn, data, false)
	}
	return c.finish()
}

// ReceivedOwned is Received for a driver that hands data over: nobody reads or writes its
// bytes after the call (a simulated network's delivered chunk). A response wholly inside data
// is then decoded in place instead of from a copy; the effects are Received's.
func (c *Client) ReceivedOwned(id ConnID, data []byte, nowNs int64) Ready {
	c.begin(nowNs)
	if cn := c.conn(id); cn != nil {
		c.receive(cn, data, true)
	}
	return c.finish()
}

// Closed reports that a connection closed, or that a dial failed. Every request in flight on it
// has an unknown outcome.
func (c *Client) Closed(id ConnID, nowNs int64) Ready {
	c.begin(nowNs)
	if cn := c.conn(id); cn != nil {
		reason := "connection closed"
		if cn.state == connDialing {
			reason = "dial failed"
		}
		c.dropConn(cn, reason, false)
	}
	return c.finish()
}

// Timer is called at (or after) the NextDeadlineNs of the last Ready.
func (c *Client) Timer(nowNs int64) Ready {
	c.begin(nowNs)
	return c.finish()
}

// Pending is the number of operations not yet completed.
func (c *Client) Pending() int { return c.pending }

// begin starts handling an event at nowNs. A clock that steps back is held at its latest value:
// the monotonic clock never runs backwards, and deadlines must not either.
func (c *Client) begin(nowNs int64) {
	if nowNs > c.nowNs {
		c.nowNs = nowNs
	}
}

// finish runs everything that can proceed now and returns the effects gathered.
func (c *Client) finish() Ready {
	c.expireConns()
	c.expireOps()
	c.sendProduces()
	c.sendFetches()
	c.sendAdmins()
	c.maybeInitProducerID()
	c.maybeRefreshMetadata()
	c.out.NextDeadlineNs = c.nextDeadline()
	out := c.out
	c.out = Ready{}
	return out
}

// expireOps gives up on operations past their deadline.
func (c *Client) expireOps() {
	c.expireBatches()
	c.expireFetches()
	c.expireAdmins()
}

// newOpID hands out the next operation id.
func (c *Client) newOpID() OpID {
	id := c.nextOp
	c.nextOp++
	return id
}

// complete records a finished produce or fetch.
func (c *Client) complete(op *check.Op, outcome check.Outcome, errText string) {
	if c.pending <= 0 {
		panic("client: completing an operation with none pending")
	}
	c.pending--
	op.Outcome = outcome
	op.Err = errText
	op.CompleteNs = c.nowNs
	c.out.Completed = append(c.out.Completed, *op)
}

// backoff is the retry backoff with ±20% jitter (KIP-580), drawn from the client's rng.
func (c *Client) backoff() int64 {
	b := c.cfg.RetryBackoffNs
	spread := b / 5
	if spread <= 0 {
		return b
	}
	return b - spread + c.rng.Int64N(2*spread+1)
}

// nextDeadline is the earliest time something waits for, 0 if nothing does.
func (c *Client) nextDeadline() int64 {
	next := int64(math.MaxInt64)
	// Only future times count: whatever was due now has been handled, and what still waits
	// (a retry waiting for a connection) waits for an event, not a timer.
	at := func(t int64) {
		if t > c.nowNs && t < next {
			next = t
		}
	}
	for _, cn := range c.conns {
		if cn.state == connDialing {
			at(cn.dialDeadlineNs)
		}
		at(cn.throttledUntilNs)
		for _, r := range cn.inflight {
			at(r.deadlineNs)
		}
	}
	for _, b := range c.dialBackoff {
		at(b.untilNs)
	}
	for _, pp := range c.partitions {
		at(pp.backoffUntilNs)
		for _, b := range pp.batches {
			if !b.inflight {
				at(b.deadlineNs)
				at(b.retryNs)
			}
		}
	}
	for _, f := range c.fetches {
		if !f.inflight {
			at(f.deadlineNs)
			at(f.retryNs)
		}
	}
	for _, a := range c.admins {
		if !a.inflight {
			at(a.deadlineNs)
			at(a.retryNs)
		}
	}
	if c.meta.wanted && !c.meta.inflight {
		at(c.meta.nextNs)
	}
	if c.pending > 0 && c.meta.generation > 0 {
		at(c.meta.appliedNs + c.cfg.MetadataMaxAgeNs)
	}
	if c.producer.wanted() {
		at(c.producer.retryNs)
	}
	if next == math.MaxInt64 {
		return 0
	}
	return next
}
