package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/weirdata/weir/core/broker"
	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/wire"
	"github.com/weirdata/weir/netio"
)

// The process's controller.Node in the broker driver: a voter with the controller role
// (process.roles=broker,controller, the embedded default) or an observer (a broker-only
// process). The broker's requests to the controller go to this Node when it is the active
// controller's, else over TCP to the active controller's listener; the committed image goes
// to the broker before anything else of a controller Ready.

// localConn is the connection on which the broker's requests reach its own process's
// controller.Node.
const localConn controller.ConnID = 1 << 62

// errPeerDropped is the broker's answer for a request the transport refused (queue full).
var errPeerDropped = errors.New("request to the controller dropped: its queue is full")

// ctlState is the driver's part for the controller.Node; only the loop goroutine touches it.
type ctlState struct {
	ctl         *controller.Node
	ctlReady    controller.Ready // NewNode's, executed once the broker exists
	ctlSrv      *netio.Server    // the controller listener; nil on a broker-only process
	quorumPeers *netio.PeerClient
	brokerPeers *netio.PeerClient
	isVoter     bool
	// ctlSnapshot is the controller's snapshot in flight.
	ctlSnapshot   *metadata.SnapshotWrite
	ctlTimer      *time.Timer
	ctlDeadlineMs int64
}

// ctlClocks is the broker's clocks as the controller's (the same two clocks).
func ctlClocks(c broker.Clocks) controller.Clocks { return controller.Clocks(c) }

// startController opens the process's controller.Node over the recovered metadata log.
func (d *driver) startController(cfg config.BrokerConfig, ns *nodeStorage) error {
	voters, addrs, err := quorumVoters(cfg)
	if err != nil {
		return err
	}
	d.isVoter = slices.Contains(voters, quorum.NodeID(cfg.NodeID))
	controllerRole := slices.Contains(cfg.ProcessRoles, config.RoleController)
	if controllerRole != d.isVoter {
		return fmt.Errorf("node.id %d: process.roles %v but controller.quorum.voters %v: a controller must be a voter and a voter a controller", cfg.NodeID, cfg.ProcessRoles, cfg.ControllerQuorumVoters)
	}
	sf, err := quorum.ReadStateFile(d.fsys, ns.metadata.Dir())
	if err != nil {
		return err
	}
	ncfg := controller.DefaultNodeConfig(quorum.DefaultConfig(quorum.NodeID(cfg.NodeID), voters), d.fsys, ns.metadata.Dir())
	ncfg.Wire = quorum.Wire{ClusterID: ns.clusterID}
	d.ctlTimer = time.NewTimer(time.Hour)
	d.ctlTimer.Stop()
	if controllerRole {
		listener, err := controllerListener(cfg)
		if err != nil {
			return err
		}
		ncfg.Wire.Self = advertisedControllerEndpoint(cfg, listener)
		ncfg.Controller = &controller.Config{NodeID: cfg.NodeID, Broker: cfg, ClusterID: ns.clusterID}
		ncfg.VoterEndpoints = make(map[quorum.NodeID]quorum.Endpoint)
		for _, v := range cfg.ControllerQuorumVoters {
			ncfg.VoterEndpoints[quorum.NodeID(v.ID)] = quorum.Endpoint{Listener: listener.Name, Host: v.Host, Port: uint16(v.Port)}
		}
		netCfg := netio.DefaultConfig(d.fsys)
		netCfg.Versions = ncfg.Versions
		netCfg.InFlightPerConnMax = min(netCfg.InFlightPerConnMax, ncfg.ConnRequestsMax)
		addr := net.JoinHostPort(listener.Host, strconv.Itoa(listener.Port))
		if d.ctlSrv, err = netio.Listen(addr, netCfg, d.logger); err != nil {
			return fmt.Errorf("listen on %s (controller): %w", addr, err)
		}
	}
	quorumCfg := netio.DefaultPeerConfig(fmt.Sprintf("weir-quorum-%d", cfg.NodeID))
	quorumCfg.RequestTimeout = time.Duration(ncfg.Quorum.RequestTimeoutMs) * time.Millisecond
	quorumCfg.DialTimeout = min(quorumCfg.DialTimeout, quorumCfg.RequestTimeout)
	if d.quorumPeers, err = netio.NewPeerClient(quorumCfg, d.logger); err != nil {
		return err
	}
	if d.brokerPeers, err = netio.NewPeerClient(netio.DefaultPeerConfig(fmt.Sprintf("weir-broker-%d", cfg.NodeID)), d.logger); err != nil {
		return err
	}
	for id, a := range addrs {
		if id == cfg.NodeID {
			continue
		}
		if err := errors.Join(d.quorumPeers.SetAddress(id, a), d.brokerPeers.SetAddress(id, a)); err != nil {
			return fmt.Errorf("controller.quorum.voters: %w", err)
		}
	}
	d.ctl, d.ctlReady, err = controller.NewNode(ncfg, ns.metadata, sf.State, newNodeRand(), ctlClocks(d.clocks()))
	return err
}

func (d *driver) ctlEvents() <-chan netio.Event {
	if d.ctlSrv == nil {
		return nil
	}
	return d.ctlSrv.Events()
}

func (d *driver) quorumPeerEvents() <-chan netio.PeerEvent {
	if d.quorumPeers == nil {
		return nil
	}
	return d.quorumPeers.Events()
}

func (d *driver) brokerPeerEvents() <-chan netio.PeerEvent {
	if d.brokerPeers == nil {
		return nil
	}
	return d.brokerPeers.Events()
}

func (d *driver) ctlTimerC() <-chan time.Time {
	if d.ctlTimer == nil {
		return nil
	}
	return d.ctlTimer.C
}

// controllerEvent hands one controller-listener event to the controller.Node.
func (d *driver) controllerEvent(ev netio.Event) {
	if d.fatal != nil {
		return
	}
	switch ev.Kind {
	case netio.EventRequest:
		d.executeController(d.ctl.Request(ctlClocks(d.clocks()), controller.ConnID(ev.Conn), ev.Request))
	case netio.EventClosed:
		d.executeController(d.ctl.ConnClosed(ctlClocks(d.clocks()), controller.ConnID(ev.Conn)))
	}
}

// sendToController sends a broker request to the active controller: this process's own
// controller.Node directly, another's over TCP.
func (d *driver) sendToController(send broker.PeerSend) {
	if send.To == d.nodeID && d.isVoter {
		req := wire.Request{
			Header: wire.RequestHeader{APIKey: send.Request.Key(), APIVersion: send.Request.GetVersion(), CorrelationID: send.CorrelationID},
			Body:   send.Request,
		}
		d.executeController(d.ctl.Request(ctlClocks(d.clocks()), localConn, req))
		return
	}
	if !d.brokerPeers.Send(send.To, send.Request, send.Request.GetVersion(), send.CorrelationID) {
		d.execute(d.node.PeerResponse(d.clocks(), send.CorrelationID, nil, errPeerDropped))
	}
}

// executeController carries out a controller Ready (controller.Ready's contract): answers on
// the listener's connections first (their order per connection is the Ready's, and a nested
// Ready must not overtake them), then the committed image to the broker, then the answers to
// the broker's own requests, then the rest.
func (d *driver) executeController(r controller.Ready) {
	if d.fatal != nil {
		return
	}
	if r.Fatal != nil {
		d.fail(r.Fatal)
		return
	}
	for _, s := range r.Syncs {
		d.outstanding++
		d.flushers.submit(func() {
			d.done.put(completion{kind: completedCtlSync, sync: broker.SyncID(s.ID), err: s.Req.Run(d.fsys)})
		})
	}
	for _, op := range r.FileOps {
		d.outstanding++
		d.background.submit(func() {
			d.done.put(completion{kind: completedCtlFileOp, op: broker.OpID(op.ID), err: log.RunFileOps(d.fsys, op.Ops)})
		})
	}
	if w := r.Snapshot; w != nil {
		d.outstanding++
		d.ctlSnapshot = w
		d.background.submit(func() {
			d.done.put(completion{kind: completedCtlSnapshot, err: w.Run(d.fsys)})
		})
	}
	for _, s := range r.Sends {
		if !d.quorumPeers.Send(s.To, s.Request, s.Request.GetVersion(), s.CorrelationID) {
			d.logger.Debug("quorum request dropped (queue full); the quorum retries", "to", s.To)
		}
	}
	var local []controller.Response
	for _, resp := range r.Responses {
		if resp.Conn == localConn {
			local = append(local, resp)
			continue
		}
		d.ctlSrv.RespondNext(netio.ConnID(resp.Conn), resp.Header, resp.Body, nil)
	}
	for _, c := range r.Closes {
		if c != localConn {
			d.ctlSrv.Close(netio.ConnID(c))
		}
	}
	for _, w := range r.Warnings {
		d.logger.Warn("controller", "err", w)
	}
	d.setControllerDeadline(r.NextDeadlineMs)
	if r.Committed != nil {
		d.execute(d.node.Metadata(d.clocks(), *r.Committed))
	}
	for _, resp := range local {
		d.execute(d.node.PeerResponse(d.clocks(), resp.Header.CorrelationID, resp.Body, nil))
	}
}

// controllerCompletion reports a finished controller job.
func (d *driver) controllerCompletion(c completion) {
	d.outstanding--
	now := ctlClocks(d.clocks())
	switch c.kind {
	case completedCtlSync:
		if c.err != nil {
			d.logger.Error("metadata log sync failed", "err", c.err)
		}
		d.executeController(d.ctl.Synced(now, controller.SyncID(c.sync), c.err))
	case completedCtlFileOp:
		d.executeController(d.ctl.Done(now, controller.OpID(c.op), c.err))
	case completedCtlSnapshot:
		w := d.ctlSnapshot
		d.ctlSnapshot = nil
		d.executeController(d.ctl.SnapshotWritten(now, w, c.err))
	}
}

func (d *driver) setControllerDeadline(deadlineMs int64) {
	armTimer(d.ctlTimer, &d.ctlDeadlineMs, deadlineMs, d.clocks().MonotonicMs)
}

// stopController steps down: an active quorum leader resigns and keeps serving the quorum for
// resignGrace so the other voters elect a successor at once; then the listener and the
// transports close and the controller's jobs finish.
func (d *driver) stopController() {
	if d.ctl == nil {
		return
	}
	if d.fatal == nil && d.ctl.Role() == quorum.RoleLeader {
		d.logger.Info("shutting down: resigning the quorum leadership")
		d.executeController(d.ctl.Resign(ctlClocks(d.clocks())))
		grace := time.After(resignGrace)
	loop:
		for {
			select {
			case <-grace:
				break loop
			case ev, ok := <-d.ctlEvents():
				if ok {
					d.controllerEvent(ev)
				}
			case pe, ok := <-d.quorumPeerEvents():
				if ok && d.fatal == nil {
					d.executeController(d.ctl.PeerResponse(ctlClocks(d.clocks()), pe.From, pe.CorrelationID, pe.Response, pe.Err))
				}
			case <-d.done.notify:
				d.completions()
			case <-d.ctlTimerC():
				d.ctlDeadlineMs = 0
				if d.fatal == nil {
					d.executeController(d.ctl.Timer(ctlClocks(d.clocks())))
				}
			}
		}
	}
	d.ctlTimer.Stop()
	if d.ctlSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range d.ctlSrv.Events() {
			}
		}()
		d.ctlSrv.Shutdown(ctx)
		cancel()
		<-done
	}
	d.quorumPeers.Close()
	d.brokerPeers.Close()
	for d.outstanding > 0 {
		<-d.done.notify
		d.completions()
	}
}
