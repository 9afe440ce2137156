package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/wire"
)

// slot is one request's place in its connection's response order. A request answered at
// once and one parked for a sync both hold a slot; responses leave only from the head, so a
// parked request is never overtaken by a later one on the same connection (Kafka's
// per-connection ordering, which clients rely on to match responses to requests).
type slot struct {
	header wire.RequestHeader
	body   kmsg.Response // nil with done set: no response (acks=0 produce)
	reads  []PartitionRead
	done   bool
	closes bool // close the connection once this slot's turn comes (a failed acks=0 produce)
}

// conn is one connection's queue of slots, oldest first.
type conn struct {
	id     ConnID
	slots  []*slot
	closed bool
}

// connFor returns c's state, creating it on its first request.
func (n *Node) connFor(c ConnID) *conn {
	cs, ok := n.conns[c]
	if !ok {
		cs = &conn{id: c}
		n.conns[c] = cs
	}
	return cs
}

// finish completes s and releases whatever is ready at the head of its connection.
func (n *Node) finish(cs *conn, s *slot, body kmsg.Response, reads []PartitionRead) {
	if s.done {
		panic("broker: invariant: a request slot finished twice")
	}
	s.done, s.body, s.reads = true, body, reads
	if !cs.closed {
		n.release(cs)
	}
}

// release moves the finished slots at the head of cs to the Ready, in order.
func (n *Node) release(cs *conn) {
	i := 0
	for ; i < len(cs.slots) && cs.slots[i].done; i++ {
		s := cs.slots[i]
		n.out.Responses = append(n.out.Responses, Response{Conn: cs.id, Header: s.header, Body: s.body, Reads: s.reads})
		if s.closes {
			n.closeConn(cs)
			return
		}
	}
	clear(cs.slots[:i])
	cs.slots = cs.slots[i:]
}

// closeConn closes cs: the driver is told to close it, and its parked requests are dropped
// when the event ends (not here: a caller may be walking a wait list).
func (n *Node) closeConn(cs *conn) {
	if cs.closed {
		return
	}
	cs.closed = true
	n.out.Closes = append(n.out.Closes, cs.id)
	n.closing = append(n.closing, cs.id)
}

// dropConn forgets a connection and every request of it still waiting.
func (n *Node) dropConn(c ConnID) {
	delete(n.conns, c)
	n.produceWaits = dropWaits(n.produceWaits, c, &n.waitingCount)
	n.fetchWaits = dropWaits(n.fetchWaits, c, &n.waitingCount)
	n.deleteRecordsWaits = dropWaits(n.deleteRecordsWaits, c, &n.waitingCount)
	n.forwards = dropWaits(n.forwards, c, &n.waitingCount)
}

// waiter is a parked request.
type waiter interface{ connID() ConnID }

func dropWaits[W waiter](ws []W, c ConnID, count *int) []W {
	kept := ws[:0]
	for _, w := range ws {
		if w.connID() == c {
			*count--
			continue
		}
		kept = append(kept, w)
	}
	clear(ws[len(kept):])
	return kept
}
