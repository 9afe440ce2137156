package sim

import (
	"fmt"
	"strconv"

	"github.com/weirdata/weir/core/broker"
	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/wire"
)

// The simulated process's controller.Node, as cmd/weir's driver_controller.go drives it: the
// node is broker and controller (the embedded default), the sole voter of its metadata quorum.
// The broker's requests to the controller reach it directly on localConn; the committed image
// goes to the broker before the controller's answers.

// localConn is the connection on which the broker's requests reach its own controller.
const localConn controller.ConnID = 1 << 62

// colocatedController is an incarnation's controller part.
type colocatedController struct {
	ctl           *controller.Node
	ctlTimer      EventID
	ctlTimerGen   uint64
	ctlDeadlineMs int64
}

// startController opens the controller.Node over the recovered metadata log.
func (inc *incarnation) startController(prefix string, ns *nodeStorage) (controller.Ready, error) {
	n := inc.n
	sf, err := quorum.ReadStateFile(inc.fsys, ns.metadata.Dir())
	if err != nil {
		return controller.Ready{}, err
	}
	id := quorum.NodeID(n.brokerCfg.NodeID)
	ncfg := controller.DefaultNodeConfig(quorum.DefaultConfig(id, []quorum.NodeID{id}), inc.fsys, ns.metadata.Dir())
	ncfg.Wire = quorum.Wire{ClusterID: ns.clusterID}
	ncfg.Controller = &controller.Config{NodeID: n.brokerCfg.NodeID, Broker: n.brokerCfg, ClusterID: ns.clusterID}
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
		if s.To != inc.n.brokerCfg.NodeID {
			panic(fmt.Sprintf("sim: node %d: the broker sent to node %d, but it is its own quorum's sole voter", inc.n.cfg.ID, s.To))
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
	if len(r.Sends) > 0 {
		panic(fmt.Sprintf("sim: node %d: a sole voter sent %d quorum requests", n.cfg.ID, len(r.Sends)))
	}
	inc.setControllerDeadline(r.NextDeadlineMs)
	if r.Committed != nil {
		inc.execute("metadata", inc.node.Metadata(inc.clocks(), *r.Committed))
	}
	for _, resp := range r.Responses {
		if inc.dead {
			return
		}
		if resp.Conn != localConn {
			panic(fmt.Sprintf("sim: node %d: the controller answered connection %d", n.cfg.ID, resp.Conn))
		}
		inc.execute("controller answer", inc.node.PeerResponse(inc.clocks(), resp.Header.CorrelationID, resp.Body, nil))
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
	if deadlineMs == inc.ctlDeadlineMs {
		return
	}
	inc.ctlDeadlineMs = deadlineMs
	inc.ctlTimerGen++
	n := inc.n
	if inc.ctlTimer != 0 {
		n.w.Cancel(inc.ctlTimer)
		delete(inc.jobs, inc.ctlTimer)
		inc.ctlTimer = 0
	}
	if deadlineMs == 0 {
		return
	}
	waitMs := max(deadlineMs-inc.clocks().MonotonicMs, 1)
	at := n.w.NowNs() + waitMs*1e6 + n.draw(0, n.cfg.TimerLateNsMax)
	gen := inc.ctlTimerGen
	var fire func()
	fire = func() {
		if gen != inc.ctlTimerGen {
			return
		}
		if inc.held(fire) {
			inc.ctlTimer = 0
			return
		}
		inc.ctlTimer = 0
		inc.ctlDeadlineMs = 0
		inc.executeController("timer", inc.ctl.Timer(controller.Clocks(inc.clocks())))
	}
	var id EventID
	id = n.w.At(at, fmt.Sprintf("node%d controller timer %d", n.cfg.ID, deadlineMs), func() {
		delete(inc.jobs, id)
		fire()
	})
	inc.jobs[id] = true
	inc.ctlTimer = id
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
	if inc.listening || inc.dead || !inc.node.Serving() {
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
