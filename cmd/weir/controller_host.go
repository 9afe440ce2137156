package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weirdata/weir/core/broker"
	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/netio"
)

// controllerHost runs a process's controller.Node for its driver: the Node, its controller
// listener (a voter's; none on a broker-only process), its transport to the other voters, its
// timer and its snapshot in flight. The controller-only driver (controller_driver.go) and the
// broker driver (driver_controller.go, the co-located Node) each run one. The owner's loop
// goroutine is the only one that touches it: it hands it the listener's events, the voters'
// answers, timer expiries and the completions of the Node's jobs, and the host executes every
// Ready in field order (controller.Ready's contract).
type controllerHost struct {
	fsys   diskio.FS
	logger *slog.Logger
	start  time.Time // the monotonic clock's origin, the driver's
	node   *controller.Node
	// isVoter is whether this node is one of controller.quorum.voters (it then has the
	// controller role and a listener); a broker-only process's Node is an observer.
	isVoter bool
	srv     *netio.Server     // the controller listener; nil on a broker-only process
	peers   *netio.PeerClient // the quorum's requests to the other voters

	// The owner's worker pools and inbox, and its count of jobs handed out and not yet
	// reported back (the host's and, in the broker driver, the broker's).
	flushers    *workerPool
	background  *workerPool
	done        *inbox
	outstanding *int

	// failed reports whether the owner stopped acting (a Fatal of either Node); fail stops it.
	failed func() bool
	fail   func(error)
	// completions reports every finished job of the owner's to its Node (the host's own
	// through completion).
	completions func()
	// deliver hands the broker of the same process what a Ready has for it, after the rest of
	// the Ready: the committed image, then the answers on localConn. Nil in a controller-only
	// process.
	deliver func(committed *controller.Committed, answers []controller.Response)

	snapshot   *metadata.SnapshotWrite // in flight
	timer      *time.Timer
	deadlineMs int64
}

// localConn is the connection on which the broker's requests reach its own process's
// controller.Node.
const localConn controller.ConnID = 1 << 62

// resignGrace is how long a stopping active controller keeps serving after it resigned, so
// its EndQuorumEpoch reaches the other voters and they elect a successor at once.
const resignGrace = 500 * time.Millisecond

// newControllerHost starts the process's controller.Node over qlog, the recovered metadata
// log (a voter with the controller role, or an observer on a broker-only process), and, for a
// voter, listens on its controller listener. h's fields other than the Node, the listener, the
// transport and the timer are the owner's and set by it. The Node's first Ready is returned
// for the owner to execute once it can (the broker driver: once its broker exists).
func newControllerHost(cfg config.BrokerConfig, h *controllerHost, qlog *metadata.QuorumLog, clusterID string) (controller.Ready, error) {
	voters, addrs, err := quorumVoters(cfg)
	if err != nil {
		return controller.Ready{}, err
	}
	h.isVoter = slices.Contains(voters, quorum.NodeID(cfg.NodeID))
	controllerRole := slices.Contains(cfg.ProcessRoles, config.RoleController)
	if controllerRole != h.isVoter {
		return controller.Ready{}, fmt.Errorf("node.id %d: process.roles %v but controller.quorum.voters %v: a controller must be a voter and a voter a controller", cfg.NodeID, cfg.ProcessRoles, cfg.ControllerQuorumVoters)
	}
	sf, err := quorum.ReadStateFile(h.fsys, qlog.Dir())
	if err != nil {
		return controller.Ready{}, err
	}
	ncfg := controller.DefaultNodeConfig(quorum.DefaultConfig(quorum.NodeID(cfg.NodeID), voters), h.fsys, qlog.Dir())
	ncfg.Wire = quorum.Wire{ClusterID: clusterID}
	if controllerRole {
		listener, err := controllerListener(cfg)
		if err != nil {
			return controller.Ready{}, err
		}
		ncfg.Wire.Self = advertisedControllerEndpoint(cfg, listener)
		ncfg.Controller = &controller.Config{NodeID: cfg.NodeID, Broker: cfg, ClusterID: clusterID}
		ncfg.VoterEndpoints = make(map[quorum.NodeID]quorum.Endpoint)
		for _, v := range cfg.ControllerQuorumVoters {
			ncfg.VoterEndpoints[quorum.NodeID(v.ID)] = quorum.Endpoint{Listener: listener.Name, Host: v.Host, Port: uint16(v.Port)}
		}
		netCfg := netio.DefaultConfig(h.fsys)
		netCfg.Versions = ncfg.Versions
		netCfg.InFlightPerConnMax = min(netCfg.InFlightPerConnMax, ncfg.ConnRequestsMax)
		addr := net.JoinHostPort(listener.Host, strconv.Itoa(listener.Port))
		if h.srv, err = netio.Listen(addr, netCfg, h.logger); err != nil {
			return controller.Ready{}, fmt.Errorf("listen on %s (controller): %w", addr, err)
		}
	}
	peerCfg := netio.DefaultPeerConfig(fmt.Sprintf("weir-quorum-%d", cfg.NodeID))
	peerCfg.RequestTimeout = time.Duration(ncfg.Quorum.RequestTimeoutMs) * time.Millisecond
	peerCfg.DialTimeout = min(peerCfg.DialTimeout, peerCfg.RequestTimeout)
	if h.peers, err = netio.NewPeerClient(peerCfg, h.logger); err != nil {
		return controller.Ready{}, errors.Join(err, h.close())
	}
	for id, a := range addrs {
		if id == cfg.NodeID {
			continue
		}
		if err := h.peers.SetAddress(id, a); err != nil {
			return controller.Ready{}, errors.Join(fmt.Errorf("controller.quorum.voters: %w", err), h.close())
		}
	}
	h.timer = time.NewTimer(time.Hour)
	h.timer.Stop()
	node, ready, err := controller.NewNode(ncfg, qlog, sf.State, newNodeRand(), h.clocks())
	if err != nil {
		return controller.Ready{}, errors.Join(err, h.close())
	}
	h.node = node
	return ready, nil
}

// controllerListener is the first listener named in controller.listener.names.
func controllerListener(cfg config.BrokerConfig) (config.Listener, error) {
	for _, name := range cfg.ControllerListenerNames {
		for _, l := range cfg.Listeners {
			if l.Name == strings.ToUpper(name) {
				return l, nil
			}
		}
	}
	return config.Listener{}, fmt.Errorf("listeners: no controller listener (controller.listener.names %v)", cfg.ControllerListenerNames)
}

// quorumVoters returns controller.quorum.voters as quorum ids and their addresses.
func quorumVoters(cfg config.BrokerConfig) ([]quorum.NodeID, map[int32]string, error) {
	if len(cfg.ControllerQuorumVoters) == 0 {
		return nil, nil, errors.New("controller.quorum.voters is empty: a controller needs the static voter set")
	}
	var ids []quorum.NodeID
	addrs := make(map[int32]string)
	for _, v := range cfg.ControllerQuorumVoters {
		ids = append(ids, quorum.NodeID(v.ID))
		addrs[v.ID] = net.JoinHostPort(v.Host, strconv.Itoa(v.Port))
	}
	return ids, addrs, nil
}

// advertisedControllerEndpoint is the controller listener as advertised (BeginQuorumEpoch and
// EndQuorumEpoch carry it): advertised.listeners' entry of that name, else the listener.
func advertisedControllerEndpoint(cfg config.BrokerConfig, l config.Listener) quorum.Endpoint {
	for _, a := range cfg.AdvertisedControllerListeners {
		if a.Name == l.Name {
			l = a
			break
		}
	}
	host := l.Host
	if host == "" {
		host = "localhost"
	}
	return quorum.Endpoint{Listener: l.Name, Host: host, Port: uint16(l.Port)}
}

// close releases the listener and the transport of a host whose loop never ran.
func (h *controllerHost) close() error {
	if h.peers != nil {
		h.peers.Close()
	}
	if h.srv != nil {
		return shutdownNow(h.srv)
	}
	return nil
}

// shutdownNow closes a server that never served.
func shutdownNow(srv *netio.Server) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	go func() {
		for range srv.Events() {
		}
	}()
	srv.Shutdown(ctx)
	return nil
}

// clocks reads the driver's clocks (the same two the broker's are).
func (h *controllerHost) clocks() controller.Clocks {
	return controller.Clocks{MonotonicMs: time.Since(h.start).Milliseconds(), WallMs: time.Now().UnixMilli()}
}

// events is the controller listener's events; nil (never ready) on a broker-only process.
func (h *controllerHost) events() <-chan netio.Event {
	if h.srv == nil {
		return nil
	}
	return h.srv.Events()
}

// event hands one controller-listener event to the Node.
func (h *controllerHost) event(ev netio.Event) {
	if h.failed() {
		return
	}
	switch ev.Kind {
	case netio.EventRequest:
		h.execute(h.node.Request(h.clocks(), controller.ConnID(ev.Conn), ev.Request))
	case netio.EventClosed:
		h.execute(h.node.ConnClosed(h.clocks(), controller.ConnID(ev.Conn)))
	}
}

// peerResponse hands the Node another voter's answer, or the failure to get one.
func (h *controllerHost) peerResponse(pe netio.PeerEvent) {
	if !h.failed() {
		h.execute(h.node.PeerResponse(h.clocks(), pe.From, pe.CorrelationID, pe.Response, pe.Err))
	}
}

// timerFired runs the Node's timer work; the loop calls it when h.timer.C fires.
func (h *controllerHost) timerFired() {
	h.deadlineMs = 0
	if !h.failed() {
		h.execute(h.node.Timer(h.clocks()))
	}
}

// completion reports one of the host's finished jobs (completedCtl*) to the Node.
func (h *controllerHost) completion(c completion) {
	*h.outstanding--
	now := h.clocks()
	switch c.kind {
	case completedCtlSync:
		if c.err != nil {
			h.logger.Error("metadata log sync failed", "err", c.err)
		}
		h.execute(h.node.Synced(now, controller.SyncID(c.sync), c.err))
	case completedCtlFileOp:
		h.execute(h.node.Done(now, controller.OpID(c.op), c.err))
	case completedCtlSnapshot:
		w := h.snapshot
		h.snapshot = nil
		h.execute(h.node.SnapshotWritten(now, w, c.err))
	default:
		panic(fmt.Sprintf("controller host: invariant: completion kind %d is not the controller's", c.kind))
	}
}

// execute carries out a Ready: nothing but its warnings after a Fatal; else answers on the listener's
// connections first (their order per connection is the Ready's, and a nested Ready must not
// overtake them), then, to the broker of the same process, the committed image and the
// answers to its own requests.
func (h *controllerHost) execute(r controller.Ready) {
	if h.failed() {
		return
	}
	for _, w := range r.Warnings {
		h.logger.Warn("controller", "err", w)
	}
	if r.Fatal != nil {
		h.timer.Stop()
		h.deadlineMs = 0
		h.fail(r.Fatal)
		return
	}
	for _, s := range r.Syncs {
		*h.outstanding++
		h.flushers.submit(func() {
			h.done.put(completion{kind: completedCtlSync, sync: broker.SyncID(s.ID), err: s.Req.Run(h.fsys)})
		})
	}
	for _, op := range r.FileOps {
		*h.outstanding++
		h.background.submit(func() {
			h.done.put(completion{kind: completedCtlFileOp, op: broker.OpID(op.ID), err: log.RunFileOps(h.fsys, op.Ops)})
		})
	}
	if w := r.Snapshot; w != nil {
		*h.outstanding++
		h.snapshot = w
		h.background.submit(func() {
			h.done.put(completion{kind: completedCtlSnapshot, err: w.Run(h.fsys)})
		})
	}
	for _, s := range r.Sends {
		if !h.peers.Send(s.To, s.Request, s.Request.GetVersion(), s.CorrelationID) {
			h.logger.Debug("request to a voter dropped (queue full or unknown node); the quorum retries", "to", s.To)
		}
	}
	var local []controller.Response
	for _, resp := range r.Responses {
		if resp.Conn == localConn && h.deliver != nil {
			local = append(local, resp)
			continue
		}
		h.srv.RespondNext(netio.ConnID(resp.Conn), resp.Header, resp.Body, nil)
	}
	for _, c := range r.Closes {
		if c != localConn || h.deliver == nil {
			h.srv.Close(netio.ConnID(c))
		}
	}
	armTimer(h.timer, &h.deadlineMs, r.NextDeadlineMs, h.clocks().MonotonicMs)
	if h.deliver != nil && (r.Committed != nil || len(local) > 0) {
		h.deliver(r.Committed, local)
	}
}

// serve runs the Node alone (the listener's events, the voters' answers, the jobs'
// completions and the timer) until stop is closed or the owner failed; with stop nil, until
// the listener's events are closed.
func (h *controllerHost) serve(stop <-chan struct{}) {
	events, peerEvents := h.events(), h.peers.Events()
	for !h.failed() || stop == nil {
		select {
		case <-stop:
			return
		case ev, ok := <-events:
			if !ok {
				if stop == nil {
					return
				}
				events = nil
				continue
			}
			h.event(ev)
		case pe, ok := <-peerEvents:
			if !ok {
				peerEvents = nil
				continue
			}
			h.peerResponse(pe)
		case <-h.done.notify:
			h.completions()
		case <-h.timer.C:
			h.timerFired()
		}
	}
}

// stop steps down: an active quorum leader resigns and keeps serving for resignGrace so the
// other voters elect a successor at once; then the listener stops accepting and answers what
// it read (bounded by shutdownTimeout) while the Node keeps serving, the transport closes and
// the Node's jobs finish.
func (h *controllerHost) stop(shutdownTimeout time.Duration) {
	if !h.failed() && h.node.Role() == quorum.RoleLeader {
		h.logger.Info("shutting down: resigning the quorum leadership")
		h.execute(h.node.Resign(h.clocks()))
		grace, cancel := context.WithTimeout(context.Background(), resignGrace)
		h.serve(grace.Done())
		cancel()
	}
	if h.srv != nil {
		shutdownDone := make(chan struct{})
		go func() {
			defer close(shutdownDone)
			ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if err := h.srv.Shutdown(ctx); err != nil {
				h.logger.Warn("shutdown: controller connections closed before their requests were answered", "err", err)
			}
		}()
		h.serve(nil)
		<-shutdownDone
	}
	h.timer.Stop()
	h.peers.Close()
	for *h.outstanding > 0 {
		<-h.done.notify
		h.completions()
	}
}
