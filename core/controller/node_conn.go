package controller

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/wire"
)

// slot is one request's place in its connection's response order: responses leave only from
// the head, so a request waiting (a parked fetch, a command waiting for its commit) is never
// overtaken by a later one on the same connection.
type slot struct {
	header wire.RequestHeader
	body   kmsg.Response
	done   bool
}

// conn is one inbound connection's queue of slots, oldest first.
type conn struct {
	id     ConnID
	slots  []*slot
	closed bool
}

func (n *Node) connFor(c ConnID) *conn {
	cs, ok := n.conns[c]
	if !ok {
		cs = &conn{id: c}
		n.conns[c] = cs
	}
	return cs
}

// finish completes s and releases whatever is ready at the head of its connection.
func (n *Node) finish(cs *conn, s *slot, body kmsg.Response) {
	if s.done {
		panic("controller: invariant: a request slot finished twice")
	}
	s.done, s.body = true, body
	if cs.closed {
		return
	}
	i := 0
	for ; i < len(cs.slots) && cs.slots[i].done; i++ {
		n.out.Responses = append(n.out.Responses, Response{Conn: cs.id, Header: cs.slots[i].header, Body: cs.slots[i].body})
	}
	clear(cs.slots[:i])
	cs.slots = cs.slots[i:]
}

// closeConn tells the driver to close cs; its waiting requests are forgotten.
func (n *Node) closeConn(cs *conn) {
	if cs.closed {
		return
	}
	cs.closed = true
	n.out.Closes = append(n.out.Closes, cs.id)
	n.forgetConn(cs)
}

// ConnClosed forgets a connection the driver saw close.
func (n *Node) ConnClosed(now Clocks, c ConnID) Ready {
	if n.begin(now) {
		if cs, ok := n.conns[c]; ok {
			cs.closed = true
			n.forgetConn(cs)
		}
	}
	return n.ready()
}

// forgetConn drops cs and every request of it still waiting (their answers, when they come,
// find no slot and are dropped).
func (n *Node) forgetConn(cs *conn) {
	delete(n.conns, cs.id)
	for id, in := range n.inbound { //purity:allow-map-range deleting the matching entries is the same in any order
		if in.conn == cs {
			delete(n.inbound, id)
		}
	}
	if n.active != nil {
		n.active.forgetConn(cs)
	}
}

// Request handles one request of the controller listener: the quorum's RPCs, ApiVersions,
// DescribeQuorum and, on the active controller, the controller commands.
func (n *Node) Request(now Clocks, c ConnID, req wire.Request) Ready {
	if !n.begin(now) {
		return n.ready()
	}
	cs := n.connFor(c)
	if cs.closed {
		return n.ready()
	}
	if len(cs.slots) >= n.cfg.ConnRequestsMax {
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("controller: close connection %d: more than %d requests awaiting their response", c, n.cfg.ConnRequestsMax))
		n.closeConn(cs)
		return n.ready()
	}
	s := &slot{header: req.Header}
	cs.slots = append(cs.slots, s)
	key := req.Header.APIKey
	switch {
	case req.Body == nil:
		// An ApiVersions request at a version the table does not hold (KIP-511).
		n.finish(cs, s, wire.UnsupportedApiVersionsResponse(&n.cfg.Versions))
	case key == kmsg.ApiVersions.Int16():
		n.finish(cs, s, n.apiVersions())
	case isQuorumRequest(key):
		n.quorumRequest(cs, s, req)
	case key == kmsg.DescribeQuorum.Int16():
		n.finish(cs, s, n.describeQuorum(req.Body.(*kmsg.DescribeQuorumRequest)))
	default:
		n.command(cs, s, req.Body)
	}
	return n.ready()
}

// apiVersions answers with the controller listener's table.
func (n *Node) apiVersions() kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.ApiKeys = n.cfg.Versions.APIKeys()
	return resp
}
