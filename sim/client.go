package sim

import (
	"fmt"

	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/core/client"
)

// ClientHost runs one core/client.Client on a simulated host: it executes every client Ready
// over the Network (closes, dials, sends, in that order), keeps one World timer for the
// client's next deadline, and records each completed produce and fetch into the run's
// history and each admin result into AdminResults. The same client runs over real TCP in
// chaos/; nothing here is simulator-only but the transport.
type ClientHost struct {
	w    *World
	net  *Network
	host string
	c    *client.Client

	conns   map[client.ConnID]*Conn
	history *check.History
	admin   []client.AdminResult

	timer   EventID
	timerAt int64 // 0: none armed
	// timerWhat and timerFn are the timer event's name and function, built once.
	timerWhat string
	timerFn   func()

	// clock is the host's wall clock: it stamps the records the client produces, and the
	// fault plan's clock faults move it.
	clock *WallClock
}

// NewClientHost starts a client on host. cfg.ClientIndex names its operations in history;
// its PRNG is the World's "client/<host>" stream.
func NewClientHost(w *World, network *Network, host string, cfg client.Config, history *check.History) (*ClientHost, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sim: client on %s: %w", host, err)
	}
	clock := w.NewWallClock(cfg.WallClockBaseMs, 0)
	cfg.WallClockMs = func(int64) int64 { return clock.NowMs() }
	return &ClientHost{
		w: w, net: network, host: host,
		c:       client.New(cfg, w.Rand("client/"+host)),
		conns:   make(map[client.ConnID]*Conn),
		history: history,
		clock:   clock,
	}, nil
}

// Clock is the host's wall clock, which stamps the records it produces.
func (h *ClientHost) Clock() *WallClock { return h.clock }

// Host is the client's host name.
func (h *ClientHost) Host() string { return h.host }

// Pending is how many of the client's operations have not completed.
func (h *ClientHost) Pending() int { return h.c.Pending() }

// AdminResults are the admin operations completed so far, in completion order.
func (h *ClientHost) AdminResults() []client.AdminResult { return h.admin }

// Produce sends records to topic/partition (one batch; one operation in the history).
func (h *ClientHost) Produce(topic string, partition int32, records []check.Record) client.OpID {
	id, rd := h.c.Produce(topic, partition, records, h.w.NowNs())
	h.execute(rd)
	return id
}

// Fetch reads topic/partition from offset (one fetch request; one operation in the history).
func (h *ClientHost) Fetch(topic string, partition int32, offset int64) client.OpID {
	id, rd := h.c.Fetch(topic, partition, offset, h.w.NowNs())
	h.execute(rd)
	return id
}

// FetchFrom reads topic/partition from a consumer's position, validating it after a leader
// change (KIP-320; one operation in the history, whose Position is where the consumer stands
// after it).
func (h *ClientHost) FetchFrom(topic string, partition int32, pos check.Position) client.OpID {
	id, rd := h.c.FetchFrom(topic, partition, pos, h.w.NowNs())
	h.execute(rd)
	return id
}

// CreateTopic creates a topic; the outcome arrives in AdminResults.
func (h *ClientHost) CreateTopic(spec client.TopicSpec) client.OpID {
	id, rd := h.c.CreateTopic(spec, h.w.NowNs())
	h.execute(rd)
	return id
}

// ElectLeaders asks for leader elections; the outcome arrives in AdminResults.
func (h *ClientHost) ElectLeaders(topic string, partitions []int32, electionType int8) client.OpID {
	id, rd := h.c.ElectLeaders(topic, partitions, electionType, h.w.NowNs())
	h.execute(rd)
	return id
}

// Reassign asks for partition reassignments; the outcome arrives in AdminResults.
func (h *ClientHost) Reassign(topic string, partitions []int32, replicas [][]int32) client.OpID {
	id, rd := h.c.Reassign(topic, partitions, replicas, h.w.NowNs())
	h.execute(rd)
	return id
}

// execute carries out one client Ready.
func (h *ClientHost) execute(rd client.Ready) {
	for _, id := range rd.Closes {
		if c, ok := h.conns[id]; ok {
			delete(h.conns, id)
			c.Abort() // the client forgot the connection: a reset, as closing a socket with unread data
		}
	}
	for _, d := range rd.Dials {
		h.conns[d.Conn] = h.net.Dial(h.host, d.Addr, &clientConn{h: h, id: d.Conn})
	}
	for _, s := range rd.Sends {
		c, ok := h.conns[s.Conn]
		if !ok {
			panic(fmt.Sprintf("sim: invariant: client %s sends on unknown connection %d", h.host, s.Conn))
		}
		if err := c.SendOwned(s.Data); err != nil { // the client hands Send.Data to its driver
			// The connection is gone or its buffer is full: reset it; the client hears Closed.
			h.w.Tracef("client %s conn %d: send failed: %v", h.host, s.Conn, err)
			h.net.Reset(c)
		}
	}
	for _, op := range rd.Completed {
		h.history.Add(op)
	}
	h.admin = append(h.admin, rd.AdminCompleted...)
	h.arm(rd.NextDeadlineNs)
}

// arm keeps one World timer at the client's next deadline.
func (h *ClientHost) arm(atNs int64) {
	if atNs == h.timerAt {
		return
	}
	if h.timerAt != 0 {
		h.w.Cancel(h.timer)
		h.timerAt = 0
	}
	if atNs == 0 {
		return
	}
	h.timerAt = atNs
	if h.timerFn == nil {
		h.timerWhat = "client " + h.host + " timer"
		h.timerFn = func() {
			h.timerAt = 0
			h.execute(h.c.Timer(h.w.NowNs()))
		}
	}
	h.timer = h.w.At(max(atNs, h.w.NowNs()), h.timerWhat, h.timerFn)
}

// clientConn delivers one connection's events to the client.
type clientConn struct {
	h  *ClientHost
	id client.ConnID
}

func (cc *clientConn) Connected(*Conn) {
	cc.h.execute(cc.h.c.Connected(cc.id, cc.h.w.NowNs()))
}

func (cc *clientConn) Received(_ *Conn, data []byte) {
	cc.h.execute(cc.h.c.ReceivedOwned(cc.id, data, cc.h.w.NowNs())) // data is ours (Handler.Received)
}

func (cc *clientConn) Closed(*Conn, error) {
	if _, ok := cc.h.conns[cc.id]; !ok {
		return // the client closed it first and has forgotten it
	}
	delete(cc.h.conns, cc.id)
	cc.h.execute(cc.h.c.Closed(cc.id, cc.h.w.NowNs()))
}
