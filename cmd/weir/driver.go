package main

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weirdata/weir/core/broker"
	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/netio"
)

// The production driver (DESIGN §3): one loop goroutine owns the broker.Node and the process's
// controller.Node (driver_controller.go) and is the only caller of their methods. It feeds the
// Nodes netio's events, the answers of the other nodes, the completions of the syncs it runs on
// a pool of flusher goroutines, of file ops and snapshots run on a background goroutine, and
// timer expiries; and it executes every Ready in field order.

// Driver defaults.
const (
	// defaultFlushers is the flusher pool's size. The Node already coalesces (one sync in
	// flight per log, later appends ride the next), so a few flushers keep several logs' and
	// the metadata log's fdatasyncs overlapping without a thread per partition.
	defaultFlushers = 4
	// defaultShutdownTimeout bounds how long a SIGTERM waits for requests already read to be
	// answered (a parked long-poll fetch answers within its max wait, at most
	// Config.FetchWaitMsMax); the connections still open then are closed.
	defaultShutdownTimeout = 30 * time.Second
	// controlledShutdownTimeout bounds how long a SIGTERM waits for the controller to move
	// the broker's leaderships away (a controlled shutdown) before stopping anyway.
	controlledShutdownTimeout = 10 * time.Second
)

// driverOptions configure runBroker.
type driverOptions struct {
	fsys   diskio.FS
	cfg    config.BrokerConfig
	logger *slog.Logger
	// flushers is the flusher pool's size; 0 means defaultFlushers.
	flushers int
	// shutdownTimeout bounds the drain on shutdown; 0 means defaultShutdownTimeout.
	shutdownTimeout time.Duration
	// listening, when set, is called with the bound address once the broker serves.
	listening func(net.Addr)
	// afterEvent, when set, is called on the loop goroutine after each event the loop
	// handled: a test's look at the driver's state between events.
	afterEvent func(*driver)
}

// runBroker opens the node's storage, listens, and serves until ctx ends (a clean shutdown:
// stop accepting, answer what was read, run pending syncs, write producer snapshots and
// checkpoints, close; nil error) or storage fails (the Node's Fatal: the error, with no checkpoint written).
func runBroker(ctx context.Context, opts driverOptions) error {
	if opts.flushers <= 0 {
		opts.flushers = defaultFlushers
	}
	if opts.shutdownTimeout <= 0 {
		opts.shutdownTimeout = defaultShutdownTimeout
	}
	cfg := withCleanPaths(opts.cfg)
	addr, err := brokerListenAddress(cfg, opts.logger)
	if err != nil {
		return err
	}
	nodeCfg, err := broker.ConfigFromBroker(cfg)
	if err != nil {
		return err
	}
	nodeCfg.FS = opts.fsys
	ns, err := openNodeStorage(opts.fsys, cfg, crand.Reader, time.Now().UnixMilli(), opts.logger)
	if err != nil {
		return err
	}
	netCfg := netio.DefaultConfig(opts.fsys)
	netCfg.Versions = nodeCfg.Versions
	if cfg.SocketRequestMaxBytes > 0 {
		netCfg.RequestBytesMax = cfg.SocketRequestMaxBytes
	}
	netCfg.InFlightPerConnMax = min(netCfg.InFlightPerConnMax, nodeCfg.ConnRequestsMax)
	srv, err := netio.Listen(addr, netCfg, opts.logger)
	if err != nil {
		return errors.Join(fmt.Errorf("listen on %s: %w", addr, err), ns.close())
	}
	if nodeCfg.AdvertisedPort == 0 {
		// A listener on port 0 (tests) advertises the port the kernel picked.
		if tcp, ok := srv.Addr().(*net.TCPAddr); ok {
			nodeCfg.AdvertisedPort = int32(tcp.Port)
		}
	}
	d := &driver{
		fsys:            opts.fsys,
		logger:          opts.logger,
		srv:             srv,
		ns:              ns,
		start:           time.Now(),
		flushers:        newWorkerPool(opts.flushers),
		background:      newWorkerPool(1),
		done:            newInbox(),
		shutdownTimeout: opts.shutdownTimeout,
		nodeID:          cfg.NodeID,
		afterEvent:      opts.afterEvent,
	}
	d.timer = time.NewTimer(time.Hour)
	d.timer.Stop()
	if err := d.startController(cfg, ns); err != nil {
		d.abort()
		return errors.Join(err, ns.closeWithoutCheckpoints())
	}
	node, ready, err := broker.NewNode(nodeCfg, ns.manager, newNodeRand(), d.clocks())
	if err != nil {
		d.abort()
		return errors.Join(err, ns.closeWithoutCheckpoints())
	}
	d.node = node
	d.execute(ready)
	d.ctl.execute(d.ctlReady)
	d.announce = func() {
		opts.logger.Info("listening", "addr", srv.Addr().String(), "node_id", cfg.NodeID, "cluster_id", ns.clusterID,
			"advertised", net.JoinHostPort(nodeCfg.AdvertisedHost, strconv.Itoa(int(nodeCfg.AdvertisedPort))),
			"log_dirs", cfg.LogDirs, "partitions", len(ns.manager.Partitions()), "broker_epoch", d.node.BrokerEpoch())
		if opts.listening != nil {
			opts.listening(srv.Addr())
		}
	}
	d.maybeAnnounce()
	return d.run(ctx)
}

// maybeAnnounce logs "listening" (and tells a test) once the broker serves: registered with the
// controller and unfenced, as Kafka's broker starts serving only then. The socket is bound
// before; clients that connect earlier are answered from the metadata the broker has.
func (d *driver) maybeAnnounce() {
	if d.announce != nil && d.node.Serving() {
		d.announce()
		d.announce = nil
	}
}

// brokerListenAddress is the host:port of the broker listener in listeners: the first that is
// not a controller listener. Weir speaks PLAINTEXT only, so its protocol must be PLAINTEXT.
func brokerListenAddress(cfg config.BrokerConfig, logger *slog.Logger) (string, error) {
	controller := map[string]bool{}
	for _, name := range cfg.ControllerListenerNames {
		controller[strings.ToUpper(name)] = true
	}
	var found *config.Listener
	for i, l := range cfg.Listeners {
		if controller[l.Name] {
			continue
		}
		if found != nil {
			logger.Warn("config: only the first broker listener is served", "key", "listeners", "ignored", l.String())
			continue
		}
		found = &cfg.Listeners[i]
	}
	if found == nil {
		return "", errors.New("listeners: no broker listener (only controller listeners are configured)")
	}
	protocol := found.Name
	if p, ok := cfg.ListenerSecurityProtocolMap[found.Name]; ok {
		protocol = p
	}
	if protocol != "PLAINTEXT" {
		return "", fmt.Errorf("listeners: %s uses security protocol %s; Weir serves PLAINTEXT only", found, protocol)
	}
	return net.JoinHostPort(found.Host, strconv.Itoa(found.Port)), nil
}

// newNodeRand seeds the Node's PRNG from the operating system: ids (producer ids, incarnation
// ids) must differ between runs. The simulator seeds it instead.
func newNodeRand() *rand.Rand {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		panic(fmt.Sprintf("driver: reading a random seed: %v", err)) // crypto/rand never fails on Linux
	}
	return rand.New(rand.NewChaCha8(seed))
}

// driver is the loop's state. Everything but the worker pools, the inbox and the checkpoint
// hand-off is touched only by the loop goroutine.
type driver struct {
	fsys   diskio.FS
	logger *slog.Logger
	srv    *netio.Server
	ns     *nodeStorage
	node   *broker.Node
	start  time.Time // the monotonic clock's origin

	flushers   *workerPool // SyncRequest.Run
	background *workerPool // file ops, snapshots, checkpoints: one goroutine, in order
	done       *inbox
	spare      []completion
	// outstanding counts the syncs, file ops and snapshot handed to the workers whose
	// completion the Node has not yet been told.
	outstanding int

	timer      *time.Timer
	deadlineMs int64 // the timer's monotonic deadline; 0 when stopped

	// checkpoints is the latest set of checkpoint files not yet picked up by the background
	// writer: each set is complete, so a newer one replaces one still waiting.
	checkpointMu     sync.Mutex
	checkpoints      []storage.CheckpointFile
	checkpointQueued bool
	shutdownTimeout  time.Duration
	shutdownStarted  bool
	shutdownDone     chan struct{}
	fatal            error

	nodeID int32
	// announce logs that the broker serves, once it does (maybeAnnounce); nil after.
	announce func()
	// afterEvent is driverOptions.afterEvent.
	afterEvent func(*driver)
	// draining is set once a SIGTERM asked the controller for a controlled shutdown;
	// drainDeadline bounds the wait for it.
	draining      bool
	drainDeadline time.Time
	ctlState      // the process's controller.Node and its transports (driver_controller.go)
}

// clocks reads the driver's clocks for an event: monotonic since start, wall for timestamps.
func (d *driver) clocks() broker.Clocks {
	return broker.Clocks{MonotonicMs: time.Since(d.start).Milliseconds(), WallMs: time.Now().UnixMilli()}
}

// run is the loop. It returns once the broker's Events queue is closed (after a shutdown),
// every job the Nodes handed out has completed, and the controller has stepped down.
func (d *driver) run(ctx context.Context) error {
	events := d.srv.Events()
	stop := ctx.Done()
	drainTick := time.NewTicker(100 * time.Millisecond)
	defer drainTick.Stop()
	for events != nil || d.outstanding > 0 {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			d.event(ev)
		case ev, ok := <-d.ctl.events():
			if ok {
				d.ctl.event(ev)
			}
		case pe, ok := <-d.ctl.peers.Events():
			if ok {
				d.ctl.peerResponse(pe)
			}
		case pe, ok := <-d.brokerPeerEvents():
			if ok && d.fatal == nil {
				d.execute(d.node.PeerResponse(d.clocks(), pe.CorrelationID, pe.Response, pe.Err))
			}
		case pe, ok := <-d.replicaPeerEvents():
			if ok && d.fatal == nil {
				d.execute(d.node.PeerResponse(d.clocks(), pe.CorrelationID, pe.Response, pe.Err))
			}
		case <-d.done.notify:
			d.completions()
		case <-d.timer.C:
			d.deadlineMs = 0
			if d.fatal == nil {
				d.execute(d.node.Timer(d.clocks()))
			}
		case <-d.ctl.timer.C:
			d.ctl.timerFired()
		case <-drainTick.C:
		case <-stop:
			stop = nil
			if d.fatal == nil {
				d.logger.Info("shutting down: asking the controller for a controlled shutdown")
				d.draining, d.drainDeadline = true, time.Now().Add(controlledShutdownTimeout)
				// Parked long polls are answered now rather than held to their max wait.
				d.execute(d.node.Drain(d.clocks()))
			}
		}
		if d.draining && !d.shutdownStarted && (d.node.ShouldShutDown() || d.node.BrokerEpoch() < 0 || time.Now().After(d.drainDeadline)) {
			if !d.node.ShouldShutDown() {
				d.logger.Warn("shutting down without a completed controlled shutdown: the controller did not let the broker go in time",
					"broker_epoch", d.node.BrokerEpoch(), "lifecycle", d.node.LifecycleState())
			}
			d.logger.Info("shutting down: answering requests already read, then syncing and writing checkpoints")
			d.beginShutdown(d.shutdownTimeout)
		}
		d.maybeAnnounce()
		if d.afterEvent != nil {
			d.afterEvent(d)
		}
	}
	d.timer.Stop()
	if d.shutdownDone != nil {
		<-d.shutdownDone
	}
	d.stopController()
	d.flushers.close()
	d.background.close()
	if d.fatal != nil {
		return errors.Join(d.fatal, d.ns.closeWithoutCheckpoints())
	}
	if err := d.ns.syncAll(); err != nil {
		// The page cache is not trusted after a failed sync: keep the old checkpoints.
		return errors.Join(fmt.Errorf("final sync: %w", err), d.ns.closeWithoutCheckpoints())
	}
	if err := d.node.WriteProducerSnapshots(); err != nil {
		// Not fatal: the next start rebuilds the producer state from the log.
		d.logger.Warn("writing producer snapshots", "err", err)
	}
	if err := d.ns.close(); err != nil {
		return fmt.Errorf("close storage: %w", err)
	}
	d.logger.Info("stopped")
	return nil
}

// event hands one netio event to the Node.
func (d *driver) event(ev netio.Event) {
	if d.fatal != nil {
		return // the connections are being closed; nothing more is served
	}
	switch ev.Kind {
	case netio.EventRequest:
		d.execute(d.node.Request(d.clocks(), broker.ConnID(ev.Conn), ev.Request))
	case netio.EventClosed:
		d.execute(d.node.ConnClosed(d.clocks(), broker.ConnID(ev.Conn)))
	case netio.EventReadCut:
		tp := storage.TopicPartition{Topic: ev.Cut.Topic, Partition: ev.Cut.Partition}
		d.execute(d.node.ReadCut(d.clocks(), tp, record.Offset(ev.Cut.Offset)))
	default:
		panic(fmt.Sprintf("driver: invariant: unknown netio event kind %d", ev.Kind))
	}
}

// completions reports every finished job to the Node. After a Fatal the Node is still told
// (it releases the files a sync held) but its effects are not executed.
func (d *driver) completions() {
	items := d.done.take(d.spare)
	for i, c := range items {
		d.outstanding--
		var r broker.Ready
		switch c.kind {
		case completedSync:
			if c.err != nil {
				d.logger.Error("sync failed", "sync", c.sync, "err", c.err)
			}
			r = d.node.Synced(d.clocks(), c.sync, c.err)
		case completedFileOp:
			if c.err != nil {
				d.logger.Warn("file operation failed; the next start removes what is left", "err", c.err)
			}
			r = d.node.Done(d.clocks(), c.op, c.err)
		case completedCtlSync, completedCtlFileOp, completedCtlSnapshot:
			items[i] = completion{}
			d.ctl.completion(c)
			continue
		default:
			panic(fmt.Sprintf("driver: invariant: unknown completion kind %d", c.kind))
		}
		items[i] = completion{}
		d.execute(r)
	}
	d.spare = items
}

// execute carries out a Ready in field order, the Node's contract: syncs and file ops start
// before any response is written, responses go out in the order listed, closes after them.
func (d *driver) execute(r broker.Ready) {
	if d.fatal != nil {
		return
	}
	for _, s := range r.Syncs {
		d.outstanding++
		d.flushers.submit(func() {
			d.done.put(completion{kind: completedSync, sync: s.ID, err: s.Req.Run(d.fsys)})
		})
	}
	for _, op := range r.FileOps {
		d.outstanding++
		d.background.submit(func() {
			d.done.put(completion{kind: completedFileOp, op: op.ID, err: log.RunFileOps(d.fsys, op.Ops)})
		})
	}
	for _, resp := range r.Responses {
		d.srv.RespondNext(netio.ConnID(resp.Conn), resp.Header, resp.Body, netReads(resp.Reads))
	}
	for _, c := range r.Closes {
		d.srv.Close(netio.ConnID(c))
	}
	if len(r.Checkpoints) > 0 {
		d.queueCheckpoints(r.Checkpoints)
	}
	for _, w := range r.Warnings {
		d.logger.Warn("broker", "err", w)
	}
	if r.Fatal != nil {
		d.fail(r.Fatal)
		return
	}
	// The timer is armed before the sends: a request to this process's own controller is
	// answered within sendToController, and the broker's Ready for that answer (executed
	// nested, e.g. a heartbeat's next due time) is newer than r. Arming r's deadline after
	// it would put the timer back to r's (a heartbeat in flight: 30 s away), and the broker
	// of the active controller's process would stop heartbeating until some other event.
	d.setDeadline(r.NextDeadlineMs)
	for _, send := range r.Sends {
		d.sendToController(send)
	}
}

// netReads converts the Node's read plans into netio's (the same fields).
func netReads(reads []broker.PartitionRead) []netio.PartitionRead {
	if len(reads) == 0 {
		return nil
	}
	out := make([]netio.PartitionRead, len(reads))
	for i, r := range reads {
		out[i] = netio.PartitionRead{TopicIndex: r.TopicIndex, PartitionIndex: r.PartitionIndex, Plan: r.Plan, Topic: r.Partition.Topic, Partition: r.Partition.Partition}
	}
	return out
}

// setDeadline arms the timer for the Node's next deadline (monotonic ms; 0 = none).
func (d *driver) setDeadline(deadlineMs int64) {
	armTimer(d.timer, &d.deadlineMs, deadlineMs, d.clocks().MonotonicMs)
}

// armTimer re-arms timer for a state machine's next deadline (monotonic ms; 0 = none) when it
// differs from *current, the one it is armed for. At least a millisecond: a deadline the state
// machine reports as already due must not spin the loop (the Timer event it gets runs with a
// clock past it).
func armTimer(timer *time.Timer, current *int64, deadlineMs, nowMs int64) {
	if deadlineMs == *current {
		return
	}
	*current = deadlineMs
	if deadlineMs == 0 {
		timer.Stop()
		return
	}
	timer.Reset(max(time.Duration(deadlineMs-nowMs)*time.Millisecond, time.Millisecond))
}

// queueCheckpoints hands a set of checkpoint files to the background writer, replacing a set
// it has not picked up yet (each set is complete, so the newer one is all that matters).
func (d *driver) queueCheckpoints(files []storage.CheckpointFile) {
	d.checkpointMu.Lock()
	defer d.checkpointMu.Unlock()
	d.checkpoints = files
	if d.checkpointQueued {
		return
	}
	d.checkpointQueued = true
	d.background.submit(d.writeCheckpoints)
}

// writeCheckpoints runs on the background goroutine.
func (d *driver) writeCheckpoints() {
	d.checkpointMu.Lock()
	files := d.checkpoints
	d.checkpoints, d.checkpointQueued = nil, false
	d.checkpointMu.Unlock()
	for _, f := range files {
		if err := diskio.WriteFileAtomic(d.fsys, f.Dir, f.Name, f.Data); err != nil {
			// Nothing waits on a checkpoint: a stale one only makes recovery scan more.
			d.logger.Warn("writing checkpoint", "dir", f.Dir, "file", f.Name, "err", err)
		}
	}
}

// beginShutdown stops accepting and reading; netio answers what was read (the loop keeps
// serving) and closes the Events queue when done, or closes the rest after timeout.
func (d *driver) beginShutdown(timeout time.Duration) {
	if d.shutdownStarted {
		return
	}
	d.shutdownStarted = true
	d.shutdownDone = make(chan struct{})
	go func() {
		defer close(d.shutdownDone)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := d.srv.Shutdown(ctx); err != nil {
			d.logger.Warn("shutdown: connections closed before their requests were answered", "err", err)
		}
	}()
}

// fail stops serving after a storage failure: the Node no longer trusts the page cache, so the
// process ends (recovery on restart is the designed path) without writing checkpoints.
func (d *driver) fail(err error) {
	d.fatal = err
	d.timer.Stop()
	d.deadlineMs = 0
	d.logger.Error("storage failure: stopping; restart recovers from what is durable", "err", err)
	d.beginShutdown(0)
}

// abort undoes a start that failed before the loop ran.
func (d *driver) abort() {
	if d.brokerPeers != nil { // the controller started
		d.brokerPeers.Close()
		d.replicaPeers.Close()
		d.ctl.close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	go func() {
		for range d.srv.Events() {
		}
	}()
	d.srv.Shutdown(ctx)
	d.flushers.close()
	d.background.close()
}
