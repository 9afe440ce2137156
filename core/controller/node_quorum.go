package controller

import (
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/wire"
)

// inboundRequest is a quorum request received on a connection, stepped into the quorum under
// an id of this node's choosing: the quorum's answer, which echoes the id, goes to the slot.
// Peers' own correlation ids are not unique across their restarts and connections; this id is.
type inboundRequest struct {
	conn *conn
	slot *slot
}

// outboundRequests are the quorum requests this node sent and not yet heard back about, by
// correlation id: a response names neither its request nor its version, and a fetch answer
// is read against the fetch it answers. Bounded by NodeConfig.OutboundMax; entries older than
// the quorum's request timeout are forgotten (their answers are then dropped, as the quorum
// has given up on them and sent again).
type outboundRequests struct {
	byID  map[int32]outboundRequest
	order []int32 // correlation ids, oldest first
}

type outboundRequest struct {
	msg     quorum.Message
	version int16
	sentMs  int64
}

func (o *outboundRequests) init() { o.byID = make(map[int32]outboundRequest) }

func (o *outboundRequests) add(id int32, r outboundRequest, max int) {
	if _, dup := o.byID[id]; dup {
		panic(fmt.Sprintf("controller: invariant: correlation id %d sent twice while in flight", id))
	}
	o.byID[id] = r
	o.order = append(o.order, id)
	for len(o.byID) > max {
		o.forgetOldest()
	}
}

func (o *outboundRequests) forgetOldest() {
	id := o.order[0]
	o.order = o.order[1:]
	delete(o.byID, id)
}

// take removes and returns the request with correlation id id.
func (o *outboundRequests) take(id int32) (outboundRequest, bool) {
	r, ok := o.byID[id]
	if ok {
		delete(o.byID, id)
		if i := slices.Index(o.order, id); i >= 0 {
			o.order = slices.Delete(o.order, i, i+1)
		}
	}
	return r, ok
}

// expiryMs is how long an unanswered request is remembered.
const outboundExpiryMs = 4 * 2000

func (o *outboundRequests) expire(nowMs int64) {
	for len(o.order) > 0 && o.byID[o.order[0]].sentMs+outboundExpiryMs <= nowMs {
		o.forgetOldest()
	}
}

func (o *outboundRequests) nextExpiryMs() int64 {
	if len(o.order) == 0 {
		return 0
	}
	return o.byID[o.order[0]].sentMs + outboundExpiryMs
}

// isQuorumRequest reports whether key is one of the quorum's RPCs.
func isQuorumRequest(key int16) bool {
	switch key {
	case kmsg.Vote.Int16(), kmsg.BeginQuorumEpoch.Int16(), kmsg.EndQuorumEpoch.Int16(), kmsg.Fetch.Int16(), kmsg.FetchSnapshot.Int16():
		return true
	}
	return false
}

// senderOf is the node a quorum request comes from, as the request names it.
func senderOf(b quorum.Body) quorum.NodeID {
	switch r := b.(type) {
	case *quorum.VoteRequest:
		return r.CandidateID
	case *quorum.BeginQuorumEpochRequest:
		return r.LeaderID
	case *quorum.EndQuorumEpochRequest:
		return r.LeaderID
	case *quorum.FetchRequest:
		return r.ReplicaID
	case *quorum.FetchSnapshotRequest:
		return r.ReplicaID
	}
	panic(fmt.Sprintf("controller: invariant: senderOf(%T), not a quorum request", b))
}

// quorumRequest steps a quorum RPC received on cs into the quorum; its answer fills s.
func (n *Node) quorumRequest(cs *conn, s *slot, req wire.Request) {
	n.nextInbound++
	if n.nextInbound < 0 {
		n.nextInbound = 1
	}
	id := n.nextInbound
	km, ok := req.Body.(quorum.Kmsg)
	if !ok {
		panic(fmt.Sprintf("controller: invariant: %T is not a kmsg message", req.Body))
	}
	m, err := n.wire.FromKmsg(quorum.NoNode, n.cfg.Quorum.ID, id, km, nil)
	var rej *quorum.RejectError
	if errors.As(err, &rej) {
		st := n.q.State()
		n.finish(cs, s, quorum.RejectResponse(req.Body, rej, quorum.LeaderAndEpoch{LeaderID: st.LeaderID, LeaderEpoch: st.Epoch}))
		return
	}
	if err != nil {
		// Not a request this node can answer (another partition, an unsupported shape):
		// Kafka closes such a connection.
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("controller: close connection %d: %s: %w", cs.id, kmsg.NameForKey(req.Header.APIKey), err))
		n.closeConn(cs)
		return
	}
	m.From = senderOf(m.Body)
	n.inbound[id] = &inboundRequest{conn: cs, slot: s}
	qr, err := n.q.Step(n.now.MonotonicMs, m)
	n.handleQuorum(qr, err)
}

// PeerResponse delivers the answer to a request this node sent (PeerSend), or the failure of
// the transport to get one (err: the connection broke or the request timed out). A failed
// request is simply forgotten: the quorum sends again on its own timeout.
func (n *Node) PeerResponse(now Clocks, from int32, correlationID int32, resp kmsg.Response, err error) Ready {
	if !n.begin(now) {
		return n.ready()
	}
	out, ok := n.outbound.take(correlationID)
	if !ok || err != nil {
		return n.ready()
	}
	if int32(out.msg.To) != from {
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("controller: answer to request %d from node %d, sent to node %d", correlationID, from, out.msg.To))
		return n.ready()
	}
	km, isKmsg := resp.(quorum.Kmsg)
	if !isKmsg {
		panic(fmt.Sprintf("controller: invariant: %T is not a kmsg message", resp))
	}
	km.SetVersion(out.version)
	m, ferr := n.wire.FromKmsg(quorum.NodeID(from), n.cfg.Quorum.ID, correlationID, km, &out.msg)
	if ferr != nil {
		// An error answer or a malformed one: the quorum retries by timeout.
		if !errors.Is(ferr, quorum.ErrErrorResponse) {
			n.out.Warnings = append(n.out.Warnings, fmt.Errorf("controller: answer from node %d: %w", from, ferr))
		}
		return n.ready()
	}
	qr, qerr := n.q.Step(now.MonotonicMs, m)
	n.handleQuorum(qr, qerr)
	return n.ready()
}

// handleQuorum executes what one call into the quorum asked for: the state made durable, a
// flush wished, messages routed (answers to their connections, requests to their peers).
func (n *Node) handleQuorum(qr quorum.Ready, err error) {
	if err != nil {
		n.fail(fmt.Errorf("controller: node %d's quorum member: %w", n.cfg.Quorum.ID, err))
		return
	}
	n.quorumDeadlineMs = qr.NextDeadlineMs
	if qr.State != nil {
		f := quorum.StateFile{State: *qr.State, Voters: slices.Clone(n.cfg.Quorum.Voters)}
		slices.Sort(f.Voters)
		if werr := quorum.WriteStateFile(n.cfg.FS, n.cfg.StateDir, f); werr != nil {
			// The vote or epoch is not durable, so no message depending on it may leave.
			n.fail(fmt.Errorf("controller: node %d: %w", n.cfg.Quorum.ID, werr))
			return
		}
	}
	if qr.Flush {
		n.flushWanted = true
	}
	for _, m := range qr.Messages {
		n.route(m)
	}
}

// route sends one quorum message: an answer to the connection its request came on, a request
// to its peer.
func (n *Node) route(m quorum.Message) {
	if isResponse(m.Body) {
		in, ok := n.inbound[m.CorrelationID]
		if !ok {
			return // its connection closed meanwhile
		}
		delete(n.inbound, m.CorrelationID)
		if in.conn.closed {
			return
		}
		km, err := n.wire.ToKmsg(m, in.slot.header.APIVersion, n.now.WallMs)
		if err != nil {
			n.fail(fmt.Errorf("controller: answer %T at v%d: %w", m.Body, in.slot.header.APIVersion, err))
			return
		}
		n.finish(in.conn, in.slot, km.(kmsg.Response))
		return
	}
	version := quorum.SendVersion(m.Body)
	km, err := n.wire.ToKmsg(m, version, n.now.WallMs)
	if err != nil {
		n.fail(fmt.Errorf("controller: send %T at v%d: %w", m.Body, version, err))
		return
	}
	n.outbound.add(m.CorrelationID, outboundRequest{msg: m, version: version, sentMs: n.now.MonotonicMs}, n.cfg.OutboundMax)
	n.out.Sends = append(n.out.Sends, PeerSend{To: int32(m.To), CorrelationID: m.CorrelationID, Request: km.(kmsg.Request)})
}

func isResponse(b quorum.Body) bool {
	switch b.(type) {
	case *quorum.VoteResponse, *quorum.BeginQuorumEpochResponse, *quorum.EndQuorumEpochResponse,
		*quorum.FetchResponse, *quorum.FetchSnapshotResponse:
		return true
	}
	return false
}
