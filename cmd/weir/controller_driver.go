package main

import (
	"context"
	crand "crypto/rand"
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
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/netio"
)

// The controller driver: one loop goroutine owns a controller.Node (a process with
// process.roles=controller) and is the only caller of its methods. It feeds the Node the
// controller listener's requests (netio.Server), the answers to the requests it sent other
// voters (netio.PeerClient), the completions of its syncs, file ops and snapshots, and timer
// expiries; and executes every Ready in field order.

// resignGrace is how long a stopping active controller keeps serving after it resigned, so
// its EndQuorumEpoch reaches the other voters and they elect a successor at once.
const resignGrace = 500 * time.Millisecond

// isControllerOnly reports whether process.roles is exactly controller.
func isControllerOnly(cfg config.BrokerConfig) bool {
	return len(cfg.ProcessRoles) == 1 && cfg.ProcessRoles[0] == config.RoleController
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

// controllerDriver is the controller loop's state; only the loop goroutine touches it, except
// the worker pools and the inbox.
type controllerDriver struct {
	fsys   diskio.FS
	logger *slog.Logger
	srv    *netio.Server
	peers  *netio.PeerClient
	qlog   *metadata.QuorumLog
	node   *controller.Node
	start  time.Time

	flushers    *workerPool
	background  *workerPool
	done        *inbox
	spare       []completion
	outstanding int
	snapshot    *metadata.SnapshotWrite // in flight

	timer      *time.Timer
	deadlineMs int64
	fatal      error
}

func (d *controllerDriver) clocks() controller.Clocks {
	return controller.Clocks{MonotonicMs: time.Since(d.start).Milliseconds(), WallMs: time.Now().UnixMilli()}
}

// runController runs a controller-only process until ctx ends (it resigns leadership, answers
// what was read, and closes; nil error) or storage fails (the Node's Fatal).
func runController(ctx context.Context, opts driverOptions) error {
	if opts.flushers <= 0 {
		opts.flushers = defaultFlushers
	}
	cfg := withCleanPaths(opts.cfg)
	listener, err := controllerListener(cfg)
	if err != nil {
		return err
	}
	voters, addrs, err := quorumVoters(cfg)
	if err != nil {
		return err
	}
	if !slices.Contains(voters, quorum.NodeID(cfg.NodeID)) {
		return fmt.Errorf("node.id %d has the controller role but is not in controller.quorum.voters", cfg.NodeID)
	}
	// A controller of a multi-voter quorum must be formatted with the cluster's id (the voters
	// check each other's); the embedded single-voter default formats itself.
	var clusterID string
	if len(voters) == 1 {
		_, clusterID, err = storage.EnsureFormatted(opts.fsys, cfg.AllLogDirs(), cfg.NodeID, crand.Reader)
	} else {
		_, clusterID, err = storage.CheckMetaProperties(opts.fsys, cfg.AllLogDirs(), "", cfg.NodeID, crand.Reader)
	}
	if err != nil {
		return err
	}
	nowMs := time.Now().UnixMilli()
	qlog, err := metadata.OpenQuorumLog(opts.fsys, cfg.MetadataLogDir, metadata.DefaultQuorumLogConfig(), nowMs)
	if err != nil {
		return err
	}
	sf, err := quorum.ReadStateFile(opts.fsys, qlog.Dir())
	if err != nil {
		return errors.Join(err, qlog.Close())
	}
	ncfg := controller.DefaultNodeConfig(quorum.DefaultConfig(quorum.NodeID(cfg.NodeID), voters), opts.fsys, qlog.Dir())
	ncfg.Wire = quorum.Wire{ClusterID: clusterID, Self: advertisedControllerEndpoint(cfg, listener)}
	ncfg.Controller = &controller.Config{NodeID: cfg.NodeID, Broker: cfg, ClusterID: clusterID}
	ncfg.VoterEndpoints = make(map[quorum.NodeID]quorum.Endpoint)
	for _, v := range cfg.ControllerQuorumVoters {
		ncfg.VoterEndpoints[quorum.NodeID(v.ID)] = quorum.Endpoint{Listener: listener.Name, Host: v.Host, Port: uint16(v.Port)}
	}

	netCfg := netio.DefaultConfig(opts.fsys)
	netCfg.Versions = ncfg.Versions
	netCfg.InFlightPerConnMax = min(netCfg.InFlightPerConnMax, ncfg.ConnRequestsMax)
	addr := net.JoinHostPort(listener.Host, strconv.Itoa(listener.Port))
	srv, err := netio.Listen(addr, netCfg, opts.logger)
	if err != nil {
		return errors.Join(fmt.Errorf("listen on %s: %w", addr, err), qlog.Close())
	}
	peerCfg := netio.DefaultPeerConfig(fmt.Sprintf("weir-controller-%d", cfg.NodeID))
	peerCfg.RequestTimeout = time.Duration(ncfg.Quorum.RequestTimeoutMs) * time.Millisecond
	peerCfg.DialTimeout = min(peerCfg.DialTimeout, peerCfg.RequestTimeout)
	peers, err := netio.NewPeerClient(peerCfg, opts.logger)
	if err != nil {
		return errors.Join(err, shutdownNow(srv), qlog.Close())
	}
	for id, a := range addrs {
		if id == cfg.NodeID {
			continue
		}
		if err := peers.SetAddress(id, a); err != nil {
			peers.Close()
			return errors.Join(fmt.Errorf("controller.quorum.voters: %w", err), shutdownNow(srv), qlog.Close())
		}
	}
	d := &controllerDriver{
		fsys: opts.fsys, logger: opts.logger, srv: srv, peers: peers, qlog: qlog, start: time.Now(),
		flushers: newWorkerPool(opts.flushers), background: newWorkerPool(1), done: newInbox(),
	}
	d.timer = time.NewTimer(time.Hour)
	d.timer.Stop()
	node, ready, err := controller.NewNode(ncfg, qlog, sf.State, newNodeRand(), d.clocks())
	if err != nil {
		peers.Close()
		d.flushers.close()
		d.background.close()
		return errors.Join(err, shutdownNow(srv), qlog.Close())
	}
	d.node = node
	d.execute(ready)
	opts.logger.Info("controller listening", "addr", srv.Addr().String(), "node_id", cfg.NodeID, "cluster_id", clusterID,
		"voters", cfg.ControllerQuorumVoters, "metadata_log_dir", cfg.MetadataLogDir)
	if opts.listening != nil {
		opts.listening(srv.Addr())
	}
	return d.run(ctx)
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

// run is the loop; it returns once the server's events are closed after a shutdown and every
// job handed out has completed.
func (d *controllerDriver) run(ctx context.Context) error {
	events := d.srv.Events()
	peerEvents := d.peers.Events()
	stop := ctx.Done()
	var grace <-chan time.Time
	shutdownDone := make(chan struct{})
	shutdownStarted := false
	beginShutdown := func() {
		if shutdownStarted {
			return
		}
		shutdownStarted = true
		go func() {
			defer close(shutdownDone)
			sctx, cancel := context.WithTimeout(context.Background(), defaultShutdownTimeout)
			defer cancel()
			if err := d.srv.Shutdown(sctx); err != nil {
				d.logger.Warn("shutdown: connections closed before their requests were answered", "err", err)
			}
		}()
	}
	for events != nil || d.outstanding > 0 {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if d.fatal != nil {
				continue
			}
			switch ev.Kind {
			case netio.EventRequest:
				d.execute(d.node.Request(d.clocks(), controller.ConnID(ev.Conn), ev.Request))
			case netio.EventClosed:
				d.execute(d.node.ConnClosed(d.clocks(), controller.ConnID(ev.Conn)))
			}
		case pe, ok := <-peerEvents:
			if !ok {
				peerEvents = nil
				continue
			}
			if d.fatal == nil {
				d.execute(d.node.PeerResponse(d.clocks(), pe.From, pe.CorrelationID, pe.Response, pe.Err))
			}
		case <-d.done.notify:
			d.completions()
		case <-d.timer.C:
			d.deadlineMs = 0
			if d.fatal == nil {
				d.execute(d.node.Timer(d.clocks()))
			}
		case <-stop:
			stop = nil
			if d.fatal == nil && d.node.Role() == quorum.RoleLeader {
				d.logger.Info("shutting down: resigning the quorum leadership")
				d.execute(d.node.Resign(d.clocks()))
				grace = time.After(resignGrace)
			} else {
				beginShutdown()
			}
		case <-grace:
			grace = nil
			beginShutdown()
		}
		if d.fatal != nil {
			beginShutdown()
		}
	}
	d.timer.Stop()
	if shutdownStarted {
		<-shutdownDone
	}
	d.peers.Close()
	d.flushers.close()
	d.background.close()
	err := d.qlog.Close()
	if d.fatal != nil {
		return errors.Join(d.fatal, err)
	}
	if err != nil {
		return fmt.Errorf("close the metadata log: %w", err)
	}
	d.logger.Info("stopped")
	return nil
}

// completions reports finished jobs to the Node.
func (d *controllerDriver) completions() {
	items := d.done.take(d.spare)
	for i, c := range items {
		d.outstanding--
		var r controller.Ready
		switch c.kind {
		case completedSync:
			if c.err != nil {
				d.logger.Error("metadata log sync failed", "err", c.err)
			}
			r = d.node.Synced(d.clocks(), controller.SyncID(c.sync), c.err)
		case completedFileOp:
			r = d.node.Done(d.clocks(), controller.OpID(c.op), c.err)
		case completedSnapshot:
			w := d.snapshot
			d.snapshot = nil
			r = d.node.SnapshotWritten(d.clocks(), w, c.err)
		default:
			panic(fmt.Sprintf("controller driver: invariant: unknown completion kind %d", c.kind))
		}
		items[i] = completion{}
		d.execute(r)
	}
	d.spare = items
}

// execute carries out a Ready in field order (controller.Ready's contract).
func (d *controllerDriver) execute(r controller.Ready) {
	if d.fatal != nil {
		return
	}
	for _, s := range r.Syncs {
		d.outstanding++
		d.flushers.submit(func() {
			d.done.put(completion{kind: completedSync, sync: broker.SyncID(s.ID), err: s.Req.Run(d.fsys)})
		})
	}
	for _, op := range r.FileOps {
		d.outstanding++
		d.background.submit(func() {
			d.done.put(completion{kind: completedFileOp, op: broker.OpID(op.ID), err: log.RunFileOps(d.fsys, op.Ops)})
		})
	}
	if w := r.Snapshot; w != nil {
		d.outstanding++
		d.snapshot = w
		d.background.submit(func() {
			d.done.put(completion{kind: completedSnapshot, err: w.Run(d.fsys)})
		})
	}
	for _, s := range r.Sends {
		if !d.peers.Send(s.To, s.Request, s.Request.GetVersion(), s.CorrelationID) {
			d.logger.Debug("request to a voter dropped (queue full or unknown node); the quorum retries", "to", s.To)
		}
	}
	for _, resp := range r.Responses {
		d.srv.RespondNext(netio.ConnID(resp.Conn), resp.Header, resp.Body, nil)
	}
	for _, c := range r.Closes {
		d.srv.Close(netio.ConnID(c))
	}
	for _, w := range r.Warnings {
		d.logger.Warn("controller", "err", w)
	}
	if r.Fatal != nil {
		d.fatal = r.Fatal
		d.timer.Stop()
		d.deadlineMs = 0
		d.logger.Error("metadata log failure: stopping; restart recovers from what is durable", "err", r.Fatal)
		return
	}
	d.setDeadline(r.NextDeadlineMs)
}

func (d *controllerDriver) setDeadline(deadlineMs int64) {
	armTimer(d.timer, &d.deadlineMs, deadlineMs, d.clocks().MonotonicMs)
}
