package client

import (
	"fmt"
	"math"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/wire"
)

// connState is where a connection is in its life.
type connState uint8

const (
	connDialing     connState = iota + 1 // Dial emitted, waiting for Connected or Closed
	connNegotiating                      // ApiVersions in flight
	connReady                            // versions known; requests may be sent
)

// noNode is the node id of a connection to a bootstrap address.
const noNode int32 = -1

// conn is one connection: to a broker by node id, or to a bootstrap address.
type conn struct {
	id             ConnID
	addr           string
	node           int32
	state          connState
	dialDeadlineNs int64
	frames         *wire.FrameReader
	versions       versionSet
	nextCorr       int32
	inflight       []*request // awaiting a response, in send order (Kafka answers in order)
	// throttledUntilNs: a broker that throttles a client after answering (KIP-219) expects
	// nothing more on the connection before this.
	throttledUntilNs int64
}

// requestKind says what a request in flight is for.
type requestKind uint8

const (
	reqAPIVersions requestKind = iota + 1
	reqMetadata
	reqInitProducerID
	reqProduce
	reqFetch
	reqValidate
	reqAdmin
)

// request is a request in flight on a connection.
type request struct {
	kind        requestKind
	key         int16
	version     int16
	correlation int32
	deadlineNs  int64
	batch       *batch   // reqProduce
	fetch       *fetchOp // reqFetch, reqValidate
	admin       *adminOp // reqAdmin
}

// conn returns the connection with id, nil if the client does not know it (any more).
func (c *Client) conn(id ConnID) *conn {
	for _, cn := range c.conns {
		if cn.id == id {
			return cn
		}
	}
	return nil
}

// canSend reports whether a request can go out on cn now.
func (c *Client) canSend(cn *conn) bool {
	return cn != nil && cn.state == connReady && len(cn.inflight) < c.cfg.InFlightPerConnectionMax &&
		cn.throttledUntilNs <= c.nowNs
}

// nodeConn returns the connection to broker node, dialing it if there is none; nil when there
// is none yet.
func (c *Client) nodeConn(node int32) *conn {
	for _, cn := range c.conns {
		if cn.node == node {
			return cn
		}
	}
	addr, ok := c.meta.brokerAddr(node)
	if !ok {
		c.meta.want()
		return nil
	}
	return c.dial(addr, node)
}

// anyConn returns the ready connection with the fewest requests in flight (Kafka's least loaded
// node), for requests any broker answers. With none ready and none on the way, it dials an
// address chosen at random among the known brokers and the bootstrap addresses.
func (c *Client) anyConn() *conn {
	var best *conn
	busy := false // a connection is ready but full, or on its way: wait for it
	for _, cn := range c.conns {
		if !c.canSend(cn) {
			busy = true
			continue
		}
		if best == nil || len(cn.inflight) < len(best.inflight) {
			best = cn
		}
	}
	if best != nil || busy {
		return best
	}
	candidates := make([]string, 0, len(c.meta.brokers)+len(c.cfg.BootstrapAddrs))
	for _, b := range c.meta.brokers {
		candidates = append(candidates, b.addr)
	}
	for _, a := range c.cfg.BootstrapAddrs {
		if !slices.Contains(candidates, a) {
			candidates = append(candidates, a)
		}
	}
	candidates = slices.DeleteFunc(candidates, c.inDialBackoff)
	if len(candidates) == 0 {
		return nil
	}
	addr := candidates[c.rng.IntN(len(candidates))]
	node := noNode
	for _, b := range c.meta.brokers {
		if b.addr == addr {
			node = b.node
			break
		}
	}
	if node != noNode {
		for _, cn := range c.conns {
			if cn.node == node {
				return nil // dialing already, or busy
			}
		}
	}
	return c.dial(addr, node)
}

// inDialBackoff reports whether addr may not be dialed yet.
func (c *Client) inDialBackoff(addr string) bool {
	for _, b := range c.dialBackoff {
		if b.addr == addr && b.untilNs > c.nowNs {
			return true
		}
	}
	return false
}

// dial asks the driver for a connection to addr; nil (and no dial) while addr is in backoff or
// the connection limit is reached. The returned connection is not ready yet.
func (c *Client) dial(addr string, node int32) *conn {
	if c.inDialBackoff(addr) || len(c.conns) >= c.cfg.ConnectionsMax {
		return nil
	}
	cn := &conn{
		id:             c.nextConn,
		addr:           addr,
		node:           node,
		state:          connDialing,
		dialDeadlineNs: c.nowNs + c.cfg.DialTimeoutNs,
		frames:         wire.NewResponseFrameReader(c.cfg.ResponseBytesMax),
	}
	c.nextConn++
	c.conns = append(c.conns, cn)
	c.out.Dials = append(c.out.Dials, Dial{Conn: cn.id, Addr: addr})
	return cn
}

// dropConn forgets cn, asking the driver to close it if emitClose, and handles every request in
// flight on it as lost: it may or may not have reached the broker.
func (c *Client) dropConn(cn *conn, reason string, emitClose bool) {
	i := slices.Index(c.conns, cn)
	if i < 0 {
		panic(fmt.Sprintf("client: dropping connection %d, which is not open", cn.id))
	}
	c.conns = slices.Delete(c.conns, i, i+1)
	if emitClose {
		c.out.Closes = append(c.out.Closes, cn.id)
	}
	c.setDialBackoff(cn.addr)
	if cn.node != noNode || cn.state == connDialing {
		// The broker may be gone or moved: Kafka's clients refresh metadata on disconnect.
		c.meta.want()
	}
	inflight := cn.inflight
	cn.inflight = nil
	for _, r := range inflight {
		c.requestLost(r, reason)
	}
}

// setDialBackoff keeps addr from being dialed for the reconnect backoff. The list holds only
// unexpired entries, one per address: at most the known and bootstrap addresses.
func (c *Client) setDialBackoff(addr string) {
	c.dialBackoff = slices.DeleteFunc(c.dialBackoff, func(b addrBackoff) bool {
		return b.addr == addr || b.untilNs <= c.nowNs
	})
	if len(c.dialBackoff) >= c.cfg.BrokersMax+len(c.cfg.BootstrapAddrs) {
		c.dialBackoff = c.dialBackoff[1:] // the oldest goes first
	}
	c.dialBackoff = append(c.dialBackoff, addrBackoff{addr: addr, untilNs: c.nowNs + c.cfg.ReconnectBackoffNs})
}

// expireConns closes connections whose dial or oldest request timed out, as Kafka's
// NetworkClient does: a connection that does not answer in time is presumed dead.
func (c *Client) expireConns() {
	for i := 0; i < len(c.conns); {
		cn := c.conns[i]
		reason := ""
		if cn.state == connDialing && cn.dialDeadlineNs <= c.nowNs {
			reason = "dial timed out"
		}
		for _, r := range cn.inflight {
			if r.deadlineNs <= c.nowNs {
				reason = fmt.Sprintf("%s request timed out", kmsg.NameForKey(r.key))
				break
			}
		}
		if reason == "" {
			i++
			continue
		}
		c.dropConn(cn, reason, true)
	}
}

// send encodes body at version and queues it on cn; r, when an answer is expected, joins the
// connection's in-flight list.
func (c *Client) send(cn *conn, body kmsg.Request, version int16, r *request, answered bool) {
	if cn.state == connDialing {
		panic(fmt.Sprintf("client: sending on connection %d before it is connected", cn.id))
	}
	clientID := c.cfg.ClientID
	header := wire.RequestHeader{APIKey: body.Key(), APIVersion: version, CorrelationID: cn.nextCorr, ClientID: &clientID}
	if cn.nextCorr == math.MaxInt32 {
		cn.nextCorr = 0
	} else {
		cn.nextCorr++
	}
	c.encoded = wire.AppendRequest(c.encoded[:0], header, body)
	data := slices.Clone(c.encoded) // Send.Data is the driver's
	if cap(c.encoded) > encodedBytesMax {
		c.encoded = nil // a large produce does not pin its size to an idle client
	}
	c.out.Sends = append(c.out.Sends, Send{Conn: cn.id, Data: data})
	if answered {
		r.key, r.version, r.correlation = header.APIKey, version, header.CorrelationID
		cn.inflight = append(cn.inflight, r)
	}
}

// encodedBytesMax bounds the encoding buffer a client keeps between requests.
const encodedBytesMax = 1 << 20

// requestDeadline is when a request sent now times out.
func (c *Client) requestDeadline() int64 { return c.nowNs + c.cfg.RequestTimeoutNs }

// receive feeds bytes read from cn through its frame reader and handles each whole response;
// owned: data is the client's (ReceivedOwned), so frames may alias it.
func (c *Client) receive(cn *conn, data []byte, owned bool) {
	for len(data) > 0 {
		n, frame, err := 0, []byte(nil), error(nil)
		if owned {
			n, frame, err = cn.frames.FeedOwned(data)
		} else {
			n, frame, err = cn.frames.Feed(data)
		}
		if err != nil {
			c.dropConn(cn, fmt.Sprintf("reading a response: %v", err), true)
			return
		}
		data = data[n:]
		if frame != nil && !c.handleFrame(cn, frame) {
			return
		}
	}
}

// handleFrame decodes one response frame and dispatches it; false if cn was closed.
func (c *Client) handleFrame(cn *conn, frame []byte) bool {
	if len(cn.inflight) == 0 {
		c.dropConn(cn, "a response arrived with no request in flight", true)
		return false
	}
	r := cn.inflight[0]
	corr, resp, err := wire.DecodeResponse(frame, r.key, r.version)
	if err != nil {
		c.dropConn(cn, fmt.Sprintf("decoding a %s v%d response: %v", kmsg.NameForKey(r.key), r.version, err), true)
		return false
	}
	if corr != r.correlation {
		c.dropConn(cn, fmt.Sprintf("response correlation id %d, expected %d (%s)", corr, r.correlation, kmsg.NameForKey(r.key)), true)
		return false
	}
	cn.inflight = cn.inflight[1:]
	if tr, ok := resp.(kmsg.ThrottleResponse); ok {
		if throttleMs, after := tr.Throttle(); after && throttleMs > 0 {
			cn.throttledUntilNs = max(cn.throttledUntilNs, c.nowNs+int64(throttleMs)*1_000_000)
		}
	}
	switch r.kind {
	case reqAPIVersions:
		return c.handleAPIVersions(cn, r, resp.(*kmsg.ApiVersionsResponse))
	case reqMetadata:
		c.handleMetadata(resp.(*kmsg.MetadataResponse))
	case reqInitProducerID:
		c.handleInitProducerID(resp.(*kmsg.InitProducerIDResponse))
	case reqProduce:
		c.handleProduce(r.batch, resp.(*kmsg.ProduceResponse))
	case reqFetch:
		c.handleFetch(r.fetch, resp.(*kmsg.FetchResponse))
	case reqValidate:
		c.handleValidation(r.fetch, resp.(*kmsg.OffsetForLeaderEpochResponse))
	case reqAdmin:
		c.handleAdmin(r.admin, resp)
	default:
		panic(fmt.Sprintf("client: request kind %d in flight", r.kind))
	}
	// Handling may have closed cn (metadata saying its broker moved).
	return slices.Contains(c.conns, cn)
}

// requestLost handles a request whose connection closed before its answer arrived.
func (c *Client) requestLost(r *request, reason string) {
	switch r.kind {
	case reqAPIVersions:
	case reqMetadata:
		c.meta.inflight = false
		c.meta.want()
	case reqInitProducerID:
		c.producer.inflight = false
		c.producer.retryNs = c.nowNs + c.backoff()
	case reqProduce:
		c.produceLost(r.batch, reason)
	case reqFetch, reqValidate:
		c.retryFetch(r.fetch, "NETWORK_EXCEPTION: "+reason)
	case reqAdmin:
		c.retryAdmin(r.admin, errNetworkException, reason)
	default:
		panic(fmt.Sprintf("client: request kind %d in flight", r.kind))
	}
}
