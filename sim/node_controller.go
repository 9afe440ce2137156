package sim

import (
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weirdata/weir/core/broker"
	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/wire"
)

// The simulated process's controller.Node, as cmd/weir's driver_controller.go drives it: the
// sole voter of the node's own quorum (the embedded default), or a voter (broker and
// controller) or observer (broker only) of a cluster's quorum. The broker's requests to its
// own active controller reach it directly on localConn, to another node's over the network;
// the committed image goes to the broker before the controller's answers to it.

// localConn is the connection on which the broker's requests reach its own controller.
const localConn controller.ConnID = 1 << 62

// colocatedController is an incarnation's controller part.
type colocatedController struct {
	ctl      *controller.Node
	ctlTimer deadlineTimer

	// In a cluster (NodeConfig.Voters): whether this node votes, its controller listener (a
	// voter's), its connections to the other voters' listeners for the quorum's requests, and
	// those for the broker's requests to the active controller (cmd/weir's quorumPeers and
	// brokerPeers).
	clustered, voter bool
	ctlAddr          string
	ctlVersions      wire.VersionTable
	ctlListener      ctlListener
	quorumPeers      peerSet
	brokerPeers      peerSet
	// replicaPeers are the connections to other brokers' listeners for follower fetches, at
	// the addresses the broker's sends name (replicaAddrs, from the brokers' registrations).
	replicaPeers peerSet
	replicaAddrs map[int32]string
}

// startController opens the controller.Node over the recovered metadata log.
func (inc *incarnation) startController(prefix string, ns *nodeStorage) (controller.Ready, error) {
	n := inc.n
	sf, err := quorum.ReadStateFile(inc.fsys, ns.metadata.Dir())
	if err != nil {
		return controller.Ready{}, err
	}
	if h := n.hooks.QuorumRecovered; h != nil {
		h(n, sf.State)
	}
	id := quorum.NodeID(n.brokerCfg.NodeID)
	var voters []quorum.NodeID
	for _, v := range n.brokerCfg.ControllerQuorumVoters {
		voters = append(voters, quorum.NodeID(v.ID))
	}
	inc.clustered = len(n.cfg.Voters) > 0
	inc.voter = slices.Contains(voters, id)
	ncfg := controller.DefaultNodeConfig(quorum.DefaultConfig(id, voters), inc.fsys, ns.metadata.Dir())
	ncfg.Wire = quorum.Wire{ClusterID: ns.clusterID}
	if inc.voter {
		ncfg.Controller = &controller.Config{NodeID: n.brokerCfg.NodeID, Broker: n.brokerCfg, ClusterID: ns.clusterID, Buggify: n.cfg.Buggify}
	}
	if inc.clustered {
		inc.startControllerNet(&ncfg)
	}
	ctl, ready, err := controller.NewNode(ncfg, ns.metadata, sf.State, n.w.Rand(prefix+"controller"), controller.Clocks(inc.clocks()))
	if err != nil {
		return controller.Ready{}, err
	}
	inc.ctl = ctl
	return ready, nil
}

// sendToController delivers the broker's requests to its own controller.
func (inc *incarnation) sendToController(sends []broker.PeerSend) {
	for _, s := range sends {
		if inc.dead {
			return
		}
		if s.Broker {
			if !inc.clustered {
				panic(fmt.Sprintf("sim: node %d: a single-node broker fetched from broker %d", inc.n.cfg.ID, s.To))
			}
			inc.replicaAddrs[s.To] = s.Addr
			inc.replicaPeers.send(s.To, s.CorrelationID, s.Request)
			continue
		}
		if s.To != inc.n.brokerCfg.NodeID || !inc.voter {
			if !inc.clustered {
				panic(fmt.Sprintf("sim: node %d: the broker sent to node %d, but it is its own quorum's sole voter", inc.n.cfg.ID, s.To))
			}
			inc.brokerPeers.send(s.To, s.CorrelationID, s.Request)
			continue
		}
		req := wire.Request{
			Header: wire.RequestHeader{APIKey: s.Request.Key(), APIVersion: s.Request.GetVersion(), CorrelationID: s.CorrelationID},
			Body:   s.Request,
		}
		inc.executeController("request", inc.ctl.Request(controller.Clocks(inc.clocks()), localConn, req))
	}
}

// executeController carries out a controller Ready as cmd/weir's executeController does, and
// traces it.
func (inc *incarnation) executeController(cause string, r controller.Ready) {
	n := inc.n
	if inc.dead {
		return
	}
	inc.traceControllerReady(cause, r)
	if r.Fatal != nil {
		n.lastFatal = r.Fatal
		n.Crash()
		return
	}
	for _, s := range r.Syncs {
		inc.submitControllerSync(s)
	}
	for _, op := range r.FileOps {
		inc.submitBackground(fmt.Sprintf("controller fileop %d", op.ID), func() {
			err := log.RunFileOps(inc.fsys, op.Ops)
			n.stats.FileOps++
			inc.executeController("done", inc.ctl.Done(controller.Clocks(inc.clocks()), op.ID, err))
		})
	}
	if w := r.Snapshot; w != nil {
		inc.submitBackground("metadata snapshot", func() {
			err := w.Run(inc.fsys)
			n.stats.Snapshots++
			inc.tracef("metadata snapshot %s written: %v", w.ID, err)
			inc.executeController("snapshot", inc.ctl.SnapshotWritten(controller.Clocks(inc.clocks()), w, err))
		})
	}
	if len(r.Sends) > 0 && !inc.clustered {
		panic(fmt.Sprintf("sim: node %d: a sole voter sent %d quorum requests", n.cfg.ID, len(r.Sends)))
	}
	for _, s := range r.Sends {
		inc.quorumPeers.send(s.To, s.CorrelationID, s.Request)
	}
	// Answers on the listener's connections first, as cmd/weir writes them: a nested Ready
	// must not overtake them.
	var local []controller.Response
	for _, resp := range r.Responses {
		if resp.Conn == localConn {
			local = append(local, resp)
			continue
		}
		if !inc.clustered {
			panic(fmt.Sprintf("sim: node %d: the controller answered connection %d", n.cfg.ID, resp.Conn))
		}
		inc.ctlListener.respond(resp)
	}
	for _, c := range r.Closes {
		if c != localConn {
			inc.ctlListener.requestClose(c)
		}
	}
	inc.setControllerDeadline(r.NextDeadlineMs)
	if r.Committed != nil {
		inc.execute("metadata", inc.node.Metadata(inc.clocks(), *r.Committed))
	}
	for _, resp := range local {
		if inc.dead {
			return
		}
		inc.execute("controller answer", inc.node.PeerResponse(inc.clocks(), resp.Header.CorrelationID, resp.Body, nil))
	}
	if h := n.hooks.ControllerObserved; h != nil && !inc.dead {
		h(n)
	}
}

// submitControllerSync runs a metadata log sync on a flusher, as submitSync does.
func (inc *incarnation) submitControllerSync(s controller.Sync) {
	n := inc.n
	worker := 0
	for i, free := range inc.flusherFreeNs {
		if free < inc.flusherFreeNs[worker] {
			worker = i
		}
	}
	start := max(n.w.NowNs(), inc.flusherFreeNs[worker])
	doneNs := start + n.draw(n.cfg.SyncNsMin, n.cfg.SyncNsMax)*n.syncSlowdown
	inc.flusherFreeNs[worker] = doneNs
	inc.outstanding++
	inc.schedule(doneNs, fmt.Sprintf("metadata sync %d", s.ID), func() {
		inc.outstanding--
		err := s.Req.Run(inc.fsys)
		n.stats.SyncsRun++
		if err != nil {
			n.stats.SyncErrors++
		}
		inc.traceLine(inc.lineBuf().str("metadata synced ").num(int64(s.ID)).str(": ").err(err))
		inc.executeController("synced", inc.ctl.Synced(controller.Clocks(inc.clocks()), s.ID, err))
	})
}

// setControllerDeadline arms the controller's timer, as setDeadline arms the broker's.
func (inc *incarnation) setControllerDeadline(deadlineMs int64) {
	inc.armTimer(&inc.ctlTimer, deadlineMs, "controller timer ", func() {
		inc.executeController("timer", inc.ctl.Timer(controller.Clocks(inc.clocks())))
	})
}

// traceControllerReady adds one line naming a controller Ready's effects.
func (inc *incarnation) traceControllerReady(cause string, r controller.Ready) {
	b := append(inc.traceBuf[:0], "node"...)
	b = strconv.AppendInt(b, int64(inc.n.cfg.ID), 10)
	b = append(append(append(b, " controller ready ("...), cause...), ')')
	for _, s := range r.Syncs {
		b = strconv.AppendInt(append(b, " sync:"...), int64(s.ID), 10)
		b = strconv.AppendInt(append(b, "/upto="...), int64(s.Req.UpTo), 10)
	}
	for _, op := range r.FileOps {
		b = strconv.AppendInt(append(b, " fileop:"...), int64(op.ID), 10)
	}
	if r.Snapshot != nil {
		b = append(append(b, " snapshot:"...), r.Snapshot.ID.String()...)
	}
	if c := r.Committed; c != nil {
		b = strconv.AppendInt(append(b, " committed:"...), int64(c.Offset), 10)
		b = strconv.AppendInt(append(b, "/leader="...), int64(c.LeaderID), 10)
	}
	for _, resp := range r.Responses {
		b = strconv.AppendInt(append(b, " resp:key="...), int64(resp.Header.APIKey), 10)
		b = strconv.AppendInt(append(b, "/corr="...), int64(resp.Header.CorrelationID), 10)
	}
	for _, w := range r.Warnings {
		b = strconv.AppendQuote(append(b, " warning:"...), w.Error())
	}
	if r.Fatal != nil {
		b = strconv.AppendQuote(append(b, " fatal:"...), r.Fatal.Error())
	}
	b = strconv.AppendInt(append(b, " deadline="...), r.NextDeadlineMs, 10)
	inc.traceBuf = b
	inc.n.w.TraceBytes(b)
}

// maybeListen starts accepting connections once the broker serves.
func (inc *incarnation) maybeListen() {
	if inc.listening || inc.dead || inc.shutdown.exiting || !inc.node.Serving() {
		return
	}
	if err := inc.n.net.Listen(inc.n.addr, inc.accept); err != nil {
		panic(fmt.Sprintf("sim: node %d: listen on %s: %v", inc.n.cfg.ID, inc.n.addr, err))
	}
	inc.listening = true
	inc.tracef("listening (broker epoch %d)", inc.node.BrokerEpoch())
}

// Serving reports whether the node's broker serves clients (registered and unfenced).
func (n *Node) Serving() bool { return n.inc != nil && n.inc.listening }

// startControllerNet sets up a cluster member's controller networking before its
// controller.Node starts: a voter's listener (controllers listen from the start, unlike the
// broker), and the connections to the voters.
func (inc *incarnation) startControllerNet(ncfg *controller.NodeConfig) {
	n := inc.n
	voterAddr := func(id int32) string {
		return net.JoinHostPort(n.cfg.VoterHost(id), strconv.Itoa(n.cfg.ControllerPort))
	}
	if inc.voter {
		ncfg.Wire.Self = quorum.Endpoint{Listener: "CONTROLLER", Host: n.cfg.Host, Port: uint16(n.cfg.ControllerPort)}
		ncfg.VoterEndpoints = make(map[quorum.NodeID]quorum.Endpoint)
		for _, v := range n.cfg.Voters {
			ncfg.VoterEndpoints[quorum.NodeID(v)] = quorum.Endpoint{Listener: "CONTROLLER", Host: n.cfg.VoterHost(v), Port: uint16(n.cfg.ControllerPort)}
		}
		inc.ctlAddr = voterAddr(n.cfg.ID)
		inc.ctlVersions = ncfg.Versions
		inc.ctlListener = ctlListener{
			proc: inc, w: n.w, versions: &inc.ctlVersions, writeNsMax: n.cfg.WriteNsMax, stats: &n.stats.Controller,
			conns: map[controller.ConnID]*ctlInConn{},
			request: func(id controller.ConnID, req wire.Request) {
				inc.executeController("request", inc.ctl.Request(controller.Clocks(inc.clocks()), id, req))
			},
			closed: func(id controller.ConnID) {
				inc.executeController("conn closed", inc.ctl.ConnClosed(controller.Clocks(inc.clocks()), id))
			},
		}
	}
	peers := func(label string, answer func(peer int32, corr int32, resp kmsg.Response, err error)) peerSet {
		return peerSet{
			proc: inc, w: n.w, net: n.net, host: n.cfg.Host, addrOf: voterAddr,
			backoffNsMin: n.cfg.ReconnectBackoffNsMin, backoffNsMax: n.cfg.ReconnectBackoffNsMax, requestTimeoutNs: n.cfg.RequestTimeoutNs,
			answer: answer, stats: &n.stats.Peers, label: label,
		}
	}
	inc.quorumPeers = peers("quorum peer", func(peer int32, corr int32, resp kmsg.Response, err error) {
		inc.executeController(peerCause(err), inc.ctl.PeerResponse(controller.Clocks(inc.clocks()), peer, corr, resp, err))
	})
	inc.brokerPeers = peers("controller", func(_ int32, corr int32, resp kmsg.Response, err error) {
		inc.execute("controller answer", inc.node.PeerResponse(inc.clocks(), corr, resp, err))
	})
	inc.replicaAddrs = map[int32]string{}
	inc.replicaPeers = peers("leader", func(_ int32, corr int32, resp kmsg.Response, err error) {
		inc.execute("fetch answer", inc.node.PeerResponse(inc.clocks(), corr, resp, err))
	})
	inc.replicaPeers.addrOf = func(id int32) string { return inc.replicaAddrs[id] }
	inc.replicaPeers.stats = &n.stats.Replicas
}

// listenController opens a voter's controller listener once its controller.Node exists.
func (inc *incarnation) listenController() error {
	if !inc.voter || !inc.clustered {
		return nil
	}
	return inc.n.net.Listen(inc.ctlAddr, inc.ctlListener.accept)
}

// stopControllerNet resets the controller's connections (the process crashed).
func (inc *incarnation) stopControllerNet() {
	if !inc.clustered {
		return
	}
	if inc.voter {
		inc.n.net.Unlisten(inc.ctlAddr)
		inc.ctlListener.abortAll()
	}
	inc.quorumPeers.abortAll()
	inc.brokerPeers.abortAll()
	inc.replicaPeers.abortAll()
}
