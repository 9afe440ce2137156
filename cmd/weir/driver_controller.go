package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/weirdata/weir/core/broker"
	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/wire"
	"github.com/weirdata/weir/netio"
)

// The process's controller.Node in the broker driver (a controllerHost): a voter with the
// controller role (process.roles=broker,controller, the embedded default) or an observer (a
// broker-only process). The broker's requests to the controller go to this Node when it is
// the active controller's, else over TCP to the active controller's listener; the committed
// image goes to the broker before anything else of a controller Ready.

// controllerStopTimeout bounds how long the controller listener of a stopping broker process
// waits for the requests it read to be answered.
const controllerStopTimeout = time.Second

// errPeerDropped is the broker's answer for a request the transport refused (queue full).
var errPeerDropped = errors.New("request to the controller dropped: its queue is full")

// ctlState is the driver's part for the controller.Node; only the loop goroutine touches it.
type ctlState struct {
	ctl      controllerHost
	ctlReady controller.Ready // NewNode's, executed once the broker exists
	// brokerPeers carries the broker's requests to the active controller of another process;
	// replicaPeers its follower fetches to the leaders' broker listeners, at the addresses
	// their registrations give (PeerSend.Addr).
	brokerPeers  *netio.PeerClient
	replicaPeers *netio.PeerClient
	replicaAddrs map[int32]string
}

// startController opens the process's controller.Node over the recovered metadata log.
func (d *driver) startController(cfg config.BrokerConfig, ns *nodeStorage) error {
	d.ctl = controllerHost{
		fsys: d.fsys, logger: d.logger, start: d.start,
		flushers: d.flushers, background: d.background, done: d.done, outstanding: &d.outstanding,
		failed:      func() bool { return d.fatal != nil },
		fail:        d.fail,
		completions: d.completions,
		deliver:     d.fromController,
	}
	ready, err := newControllerHost(cfg, &d.ctl, ns.metadata, ns.clusterID)
	if err != nil {
		return err
	}
	d.ctlReady = ready
	_, addrs, _ := quorumVoters(cfg) // checked by newControllerHost
	peers, err := netio.NewPeerClient(netio.DefaultPeerConfig(fmt.Sprintf("weir-broker-%d", cfg.NodeID)), d.logger)
	if err != nil {
		return errors.Join(err, d.ctl.close())
	}
	for id, a := range addrs {
		if id == cfg.NodeID {
			continue
		}
		if err := peers.SetAddress(id, a); err != nil {
			peers.Close()
			return errors.Join(fmt.Errorf("controller.quorum.voters: %w", err), d.ctl.close())
		}
	}
	d.brokerPeers = peers
	replicas, err := netio.NewPeerClient(netio.DefaultPeerConfig(fmt.Sprintf("weir-replica-fetcher-%d", cfg.NodeID)), d.logger)
	if err != nil {
		peers.Close()
		return errors.Join(err, d.ctl.close())
	}
	d.replicaPeers, d.replicaAddrs = replicas, map[int32]string{}
	return nil
}

func (d *driver) replicaPeerEvents() <-chan netio.PeerEvent {
	if d.replicaPeers == nil {
		return nil
	}
	return d.replicaPeers.Events()
}

// sendToBroker sends a follower fetch to the leader's broker listener.
func (d *driver) sendToBroker(send broker.PeerSend) {
	if d.replicaAddrs[send.To] != send.Addr {
		if err := d.replicaPeers.SetAddress(send.To, send.Addr); err != nil {
			d.logger.Warn("replica fetch: leader address", "broker", send.To, "addr", send.Addr, "err", err)
			d.execute(d.node.PeerResponse(d.clocks(), send.CorrelationID, nil, errPeerDropped))
			return
		}
		d.replicaAddrs[send.To] = send.Addr
	}
	if !d.replicaPeers.Send(send.To, send.Request, send.Request.GetVersion(), send.CorrelationID) {
		d.execute(d.node.PeerResponse(d.clocks(), send.CorrelationID, nil, errPeerDropped))
	}
}

func (d *driver) brokerPeerEvents() <-chan netio.PeerEvent {
	if d.brokerPeers == nil {
		return nil
	}
	return d.brokerPeers.Events()
}

// sendToController sends a broker request to the active controller (this process's own
// controller.Node directly, another's over TCP), or a follower fetch to its leader.
func (d *driver) sendToController(send broker.PeerSend) {
	if send.Broker {
		d.sendToBroker(send)
		return
	}
	if send.To == d.nodeID && d.ctl.isVoter {
		req := wire.Request{
			Header: wire.RequestHeader{APIKey: send.Request.Key(), APIVersion: send.Request.GetVersion(), CorrelationID: send.CorrelationID},
			Body:   send.Request,
		}
		d.ctl.execute(d.ctl.node.Request(d.ctl.clocks(), localConn, req))
		return
	}
	if !d.brokerPeers.Send(send.To, send.Request, send.Request.GetVersion(), send.CorrelationID) {
		d.execute(d.node.PeerResponse(d.clocks(), send.CorrelationID, nil, errPeerDropped))
	}
}

// fromController hands the broker what a controller Ready has for it (controllerHost.deliver):
// the committed image, then the answers to its own requests.
func (d *driver) fromController(committed *controller.Committed, answers []controller.Response) {
	if committed != nil {
		d.execute(d.node.Metadata(d.clocks(), *committed))
	}
	for _, resp := range answers {
		d.execute(d.node.PeerResponse(d.clocks(), resp.Header.CorrelationID, resp.Body, nil))
	}
}

// stopController steps down once the broker has shut down (controllerHost.stop: an active
// quorum leader resigns first); then the broker's transport to other controllers closes.
func (d *driver) stopController() {
	if d.ctl.node == nil {
		return
	}
	d.ctl.stop(controllerStopTimeout)
	d.brokerPeers.Close()
	d.replicaPeers.Close()
}
