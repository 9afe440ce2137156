package sim

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/wire"
	"github.com/weirdata/weir/diskio/memfs"
)

// staleTap watches the quorum's messages as the network delivers them, for the scenarios'
// stale-messages command: every request a voter's listener receives, and every answer going
// back, is decoded and its epoch compared with the receiver's quorum epoch at delivery. A
// message of an older epoch than its receiver's is stale: sent in an epoch that has since
// ended, and arriving late. It observes only; the bytes go on to their handlers unchanged.
type staleTap struct {
	c *quorumCluster
	// stale is, per receiving node id, "KIND from HOST" for each stale message since the last
	// read, in arrival order, without repeats.
	stale map[int32][]string
	// tapped is the incarnation whose listener is wrapped, per node id.
	tapped map[int32]int
}

func newStaleTap(c *quorumCluster) *staleTap {
	return &staleTap{c: c, stale: map[int32][]string{}, tapped: map[int32]int{}}
}

// wrap taps every voter's listener of the incarnation running now. A restart listens anew, so
// the scenario calls wrap after every command: connections a restarted node accepts within the
// command that restarted it go untapped.
func (s *staleTap) wrap() {
	for _, n := range s.c.nodes {
		if !n.Up() || !n.Voter() || s.tapped[n.ID()] == n.Incarnation() {
			continue
		}
		s.tapped[n.ID()] = n.Incarnation()
		accept := s.c.network.listeners[n.Addr()]
		s.c.network.listeners[n.Addr()] = func(c *Conn) Handler {
			h := accept(c)
			if h == nil {
				return nil
			}
			fifo := &[]tapAsked{}
			dialer := c.c.ends[0]
			dialer.h = &tapAnswers{s: s, inner: dialer.h, fr: wire.NewResponseFrameReader(wire.DefaultRequestBytesMax), asked: fifo, from: n.Host()}
			return &tapRequests{s: s, inner: h, node: n, fr: wire.NewRequestFrameReader(wire.DefaultRequestBytesMax), asked: fifo, from: c.Remote()}
		}
	}
}

// note records a message of epoch to the node with host receiver, if it is stale there.
func (s *staleTap) note(receiver string, epoch int32, what string) {
	for _, n := range s.c.nodes {
		if n.Host() != receiver || !n.Up() {
			continue
		}
		if record.Epoch(epoch) < n.Node().QuorumState().Epoch && !slices.Contains(s.stale[n.ID()], what) {
			s.stale[n.ID()] = append(s.stale[n.ID()], what)
		}
	}
}

// tapAsked is a request's key and version, to decode its answer.
type tapAsked struct{ key, version int16 }

// tapRequests decodes a voter's incoming requests.
type tapRequests struct {
	s     *staleTap
	inner Handler
	node  *ControllerNode
	fr    *wire.FrameReader
	asked *[]tapAsked
	from  string
}

func (t *tapRequests) Connected(c *Conn) { t.inner.Connected(c) }
func (t *tapRequests) Closed(c *Conn, err error) {
	t.inner.Closed(c, err)
}

func (t *tapRequests) Received(c *Conn, data []byte) {
	rest := data
	for len(rest) > 0 && t.fr != nil {
		used, frame, err := t.fr.Feed(rest)
		rest = rest[used:]
		if err != nil {
			t.fr = nil // the node closes the connection; stop watching it
			break
		}
		if frame == nil {
			continue
		}
		inc := t.node.inc
		if inc == nil {
			break
		}
		req, err := wire.DecodeRequest(frame, &inc.versions)
		*t.asked = append(*t.asked, tapAsked{req.Header.APIKey, req.Header.APIVersion})
		if err != nil {
			continue
		}
		if epoch, ok := requestEpoch(req.Body); ok {
			t.s.note(t.node.Host(), epoch, fmt.Sprintf("%s request from %s", kmsg.NameForKey(req.Header.APIKey), t.from))
		}
	}
	t.inner.Received(c, data)
}

// tapAnswers decodes the answers a voter's listener sends back to the dialing node.
type tapAnswers struct {
	s     *staleTap
	inner Handler
	fr    *wire.FrameReader
	asked *[]tapAsked
	from  string
}

func (t *tapAnswers) Connected(c *Conn) { t.inner.Connected(c) }
func (t *tapAnswers) Closed(c *Conn, err error) {
	t.inner.Closed(c, err)
}

func (t *tapAnswers) Received(c *Conn, data []byte) {
	rest := data
	for len(rest) > 0 && t.fr != nil && len(*t.asked) > 0 {
		used, frame, err := t.fr.Feed(rest)
		rest = rest[used:]
		if err != nil {
			t.fr = nil
			break
		}
		if frame == nil {
			continue
		}
		head := (*t.asked)[0]
		*t.asked = (*t.asked)[1:]
		_, resp, err := wire.DecodeResponse(frame, head.key, head.version)
		if err != nil {
			continue
		}
		if epoch, ok := responseEpoch(resp); ok {
			t.s.note(c.Host(), epoch, fmt.Sprintf("%s answer from %s", kmsg.NameForKey(head.key), t.from))
		}
	}
	t.inner.Received(c, data)
}

// requestEpoch is the quorum epoch a quorum request was sent in.
func requestEpoch(r kmsg.Request) (int32, bool) {
	switch r := r.(type) {
	case *kmsg.VoteRequest:
		if len(r.Topics) > 0 && len(r.Topics[0].Partitions) > 0 {
			return r.Topics[0].Partitions[0].CandidateEpoch, true
		}
	case *kmsg.BeginQuorumEpochRequest:
		if len(r.Topics) > 0 && len(r.Topics[0].Partitions) > 0 {
			return r.Topics[0].Partitions[0].LeaderEpoch, true
		}
	case *kmsg.EndQuorumEpochRequest:
		if len(r.Topics) > 0 && len(r.Topics[0].Partitions) > 0 {
			return r.Topics[0].Partitions[0].LeaderEpoch, true
		}
	case *kmsg.FetchRequest:
		if len(r.Topics) > 0 && len(r.Topics[0].Partitions) > 0 {
			return r.Topics[0].Partitions[0].CurrentLeaderEpoch, true
		}
	case *kmsg.FetchSnapshotRequest:
		if len(r.Topics) > 0 && len(r.Topics[0].Partitions) > 0 {
			return r.Topics[0].Partitions[0].CurrentLeaderEpoch, true
		}
	}
	return 0, false
}

// responseEpoch is the quorum epoch a quorum answer was sent in.
func responseEpoch(r kmsg.Response) (int32, bool) {
	switch r := r.(type) {
	case *kmsg.VoteResponse:
		if len(r.Topics) > 0 && len(r.Topics[0].Partitions) > 0 {
			return r.Topics[0].Partitions[0].LeaderEpoch, true
		}
	case *kmsg.BeginQuorumEpochResponse:
		if len(r.Topics) > 0 && len(r.Topics[0].Partitions) > 0 {
			return r.Topics[0].Partitions[0].LeaderEpoch, true
		}
	case *kmsg.EndQuorumEpochResponse:
		if len(r.Topics) > 0 && len(r.Topics[0].Partitions) > 0 {
			return r.Topics[0].Partitions[0].LeaderEpoch, true
		}
	case *kmsg.FetchResponse:
		if len(r.Topics) > 0 && len(r.Topics[0].Partitions) > 0 {
			return r.Topics[0].Partitions[0].CurrentLeader.LeaderEpoch, true
		}
	}
	return 0, false
}

// otherHosts is every quorum node's host but n's.
func otherHosts(c *quorumCluster, n *ControllerNode) []string {
	var hosts []string
	for _, m := range c.nodes {
		if m != n {
			hosts = append(hosts, m.Host())
		}
	}
	return hosts
}

// setRequestTimeout sets controller.quorum.request.timeout.ms on every node, in the quorum
// member and on its peer connections: the nodes were started with the drawn one at time 0, so
// each is stopped and started again on its disk before anything happened.
func setRequestTimeout(c *quorumCluster, timeoutMs int64) {
	for _, n := range c.nodes {
		adjust := n.cfg.AdjustQuorum
		n.cfg.AdjustQuorum = func(q *quorum.Config) {
			if adjust != nil {
				adjust(q)
			}
			q.RequestTimeoutMs = timeoutMs
		}
		n.cfg.RequestTimeoutNs = timeoutMs * 1e6
		n.CrashWith(memfs.CrashKeepUnsynced)
		if err := n.Restart(); err != nil {
			panic(fmt.Sprintf("sim: restart ctl%d with request timeout %d ms: %v", n.ID(), timeoutMs, err))
		}
	}
}
