package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/wire"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/errorfs"
	"github.com/weirdata/weir/diskio/memfs"
)

// ControllerNodeConfig describes one simulated process of the metadata quorum and its machine:
// a voter (process.roles=controller) or an observer (the metadata half of a broker-only
// process).
type ControllerNodeConfig struct {
	// ID is node.id; Host the machine's name; Port the controller listener's port.
	ID   int32
	Host string
	Port int
	// Voters is controller.quorum.voters' ids; PeerAddr gives each voter's controller listener
	// ("host:port"). A node whose ID is not a voter is an observer: it listens on nothing.
	Voters   []int32
	PeerAddr func(id int32) string
	// ClusterID is the cluster's id (meta.properties).
	ClusterID string
	// SessionTimeoutMs is broker.session.timeout.ms on the controllers.
	SessionTimeoutMs int32
	// SnapshotBytesBetween is metadata.log.max.record.bytes.between.snapshots,
	// SnapshotIntervalMs metadata.log.max.snapshot.interval.ms, SegmentBytes
	// metadata.log.segment.bytes.
	SnapshotBytesBetween, SnapshotIntervalMs, SegmentBytes int64
	// StartWallMs and DriftPpm set the machine's wall clock.
	StartWallMs, DriftPpm int64
	// SyncNsMin..SyncNsMax is one fdatasync's latency (syncs run one at a time);
	// BackgroundNsMin..BackgroundNsMax one file-op batch or snapshot on the one background
	// worker; WriteNsMax how late a connection's writer runs; TimerLateNsMax how late a timer
	// fires.
	SyncNsMin, SyncNsMax, BackgroundNsMin, BackgroundNsMax, WriteNsMax, TimerLateNsMax int64
	// ReconnectBackoffNsMin..ReconnectBackoffNsMax is the wait before dialing a peer again after
	// its connection failed (reconnect.backoff.ms); requests to it fail meanwhile.
	ReconnectBackoffNsMin, ReconnectBackoffNsMax int64
	// RequestTimeoutNs is controller.quorum.request.timeout.ms on the client side: a peer
	// connection whose oldest request waits longer is closed, as Kafka's NetworkClient closes
	// it, failing every request on it.
	RequestTimeoutNs int64
	// Injector, when set, fails the disk operations it picks (errorfs wraps the disk).
	Injector errorfs.Injector
	// AdjustQuorum, when set, changes the quorum member's config after Kafka's defaults
	// (timeouts, fetch and snapshot-chunk sizes).
	AdjustQuorum func(c *quorum.Config)
	// Buggify, when set, plants bugs in this node's controller.
	Buggify *buggify.B

	// lyingSyncs makes the metadata log's syncs report success without syncing: a disk that
	// lies about fsync, for the test that shows the checkers catch lost committed entries.
	lyingSyncs bool
}

// DefaultControllerNodeConfig is node id on host "ctl<id>" port 9093, Kafka's defaults
// otherwise, a wall clock in November 2023, 0.5-5 ms syncs, 0.1-2 ms background jobs.
func DefaultControllerNodeConfig(id int32, voters []int32) ControllerNodeConfig {
	return ControllerNodeConfig{
		ID: id, Host: "ctl" + strconv.Itoa(int(id)), Port: 9093, Voters: voters,
		PeerAddr:  func(v int32) string { return net.JoinHostPort("ctl"+strconv.Itoa(int(v)), "9093") },
		ClusterID: "weir-sim-quorum", SessionTimeoutMs: 9000,
		SnapshotBytesBetween: 20 << 20, SnapshotIntervalMs: 3600_000, SegmentBytes: 1 << 30,
		StartWallMs: 1_700_000_000_000,
		SyncNsMin:   500_000, SyncNsMax: 5_000_000, BackgroundNsMin: 100_000, BackgroundNsMax: 2_000_000,
		WriteNsMax: 100_000, TimerLateNsMax: 1_000_000,
		ReconnectBackoffNsMin: 50e6, ReconnectBackoffNsMax: 1e9, RequestTimeoutNs: 2e9,
	}
}

// ControllerNodeStats counts what a quorum process did.
type ControllerNodeStats struct {
	Starts, Crashes, RestartFailures int64
	Listener                         ListenerStats
	Peers                            PeerStats
	SyncsRun, SyncErrors             int64
	FileOps, Snapshots               int64
	Pauses                           int64
}

// ControllerHooks let a fault schedule and the checkers follow a node's life; each is
// optional and must not crash or restart the node itself.
type ControllerHooks struct {
	// Crashed runs after every crash (Crash, an armed crash point, a Fatal).
	Crashed func(n *ControllerNode)
	// Restarted runs after a successful restart with the quorum state read from disk.
	Restarted func(n *ControllerNode, recovered quorum.State)
	// Observe runs after every Ready the node executed to its end (no crash, no Fatal).
	Observe func(n *ControllerNode)
}

// controllerMetaDir is metadata.log.dir on every simulated quorum process.
const controllerMetaDir = "/weir-meta"

// ControllerNode hosts one process of the metadata quorum: a crashable memfs disk (optionally
// behind errorfs), its QuorumLog and quorum-state file, a core/controller.Node whose every
// Ready it executes as a driver does — syncs and file ops off the loop with virtual latency,
// snapshots on the background worker, sends to peers' controller listeners over lazily dialed
// connections, responses written per connection in request order, one timer — and, on a
// voter, the controller listener. Crash and Restart model a power loss.
type ControllerNode struct {
	w   *World
	net *Network
	cfg ControllerNodeConfig

	delays *rand.Rand
	disk   *rand.Rand
	faults *rand.Rand

	clock       *WallClock
	mem         *memfs.FS
	addr        string
	voter       bool
	incarnation int
	inc         *ctlIncarnation
	lastFatal   error
	stats       ControllerNodeStats
	hooks       ControllerHooks

	crashCountdown int
	pausedUntilNs  int64
	syncSlowdown   int64
}

// ctlIncarnation is one process lifetime.
type ctlIncarnation struct {
	n        *ControllerNode
	dead     bool
	fsys     diskio.FS
	qlog     *metadata.QuorumLog
	node     *controller.Node
	versions wire.VersionTable
	originNs int64

	listener ctlListener
	peers    peerSet

	jobs         map[EventID]bool
	syncFreeNs   int64
	backgroundNs int64

	timer      EventID
	timerGen   uint64
	deadlineMs int64

	heldFns     []func()
	resumeEvent EventID
	draining    bool
	lineBuf     []byte
}

// NewControllerNode creates a quorum process with an empty disk and starts it.
func NewControllerNode(w *World, network *Network, cfg ControllerNodeConfig) (*ControllerNode, error) {
	if cfg.SyncNsMin < 0 || cfg.SyncNsMax < cfg.SyncNsMin || cfg.BackgroundNsMin < 0 || cfg.BackgroundNsMax < cfg.BackgroundNsMin ||
		cfg.WriteNsMax < 0 || cfg.TimerLateNsMax < 0 || cfg.ReconnectBackoffNsMin < 0 || cfg.ReconnectBackoffNsMax < cfg.ReconnectBackoffNsMin ||
		cfg.RequestTimeoutNs <= 0 || cfg.PeerAddr == nil || len(cfg.Voters) == 0 {
		return nil, fmt.Errorf("sim: invalid controller node config %+v", cfg)
	}
	prefix := fmt.Sprintf("ctl/%d/", cfg.ID)
	n := &ControllerNode{
		w: w, net: network, cfg: cfg,
		delays: w.Rand(prefix + "driver"), disk: w.Rand(prefix + "disk"), faults: w.Rand(prefix + "faults"),
		clock:          w.NewWallClock(cfg.StartWallMs, cfg.DriftPpm),
		mem:            memfs.New(),
		addr:           net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		voter:          slices.Contains(cfg.Voters, cfg.ID),
		crashCountdown: -1,
		syncSlowdown:   1,
	}
	if err := n.Restart(); err != nil {
		return nil, err
	}
	return n, nil
}

// ID is node.id.
func (n *ControllerNode) ID() int32 { return n.cfg.ID }

// Host is the machine's name on the simulated network.
func (n *ControllerNode) Host() string { return n.cfg.Host }

// Addr is the controller listener's "host:port" (voters only listen).
func (n *ControllerNode) Addr() string { return n.addr }

// Voter reports whether the node is a voter (a controller) rather than an observer.
func (n *ControllerNode) Voter() bool { return n.voter }

// Up reports whether the process runs.
func (n *ControllerNode) Up() bool { return n.inc != nil }

// Incarnation counts the node's starts (1 for the first).
func (n *ControllerNode) Incarnation() int { return n.incarnation }

// Clock is the machine's wall clock.
func (n *ControllerNode) Clock() *WallClock { return n.clock }

// Stats returns the counters so far.
func (n *ControllerNode) Stats() ControllerNodeStats { return n.stats }

// LastFatal is the last Fatal that crashed the node, if any.
func (n *ControllerNode) LastFatal() error { return n.lastFatal }

// SetHooks installs hooks, replacing any before.
func (n *ControllerNode) SetHooks(h ControllerHooks) { n.hooks = h }

// Node is the running process's controller.Node; nil while down.
func (n *ControllerNode) Node() *controller.Node {
	if n.inc == nil {
		return nil
	}
	return n.inc.node
}

// Log is the running process's quorum log; nil while down. Read it between events only.
func (n *ControllerNode) Log() *metadata.QuorumLog {
	if n.inc == nil {
		return nil
	}
	return n.inc.qlog
}

// FS is the running process's file system (errorfs over the disk when faults wrap it).
func (n *ControllerNode) FS() diskio.FS {
	if n.inc == nil {
		return nil
	}
	return n.inc.fsys
}

// ArmCrash makes the node crash right before an effect, once afterEffects more have run.
func (n *ControllerNode) ArmCrash(afterEffects int) {
	if afterEffects < 0 {
		panic("sim: invariant: ArmCrash needs a count of effects >= 0")
	}
	n.crashCountdown = afterEffects
}

// ArmCrashRandom is ArmCrash after a number of effects drawn from [0, effectsMax).
func (n *ControllerNode) ArmCrashRandom(effectsMax int) { n.ArmCrash(n.faults.IntN(effectsMax)) }

// Disarm cancels an armed crash.
func (n *ControllerNode) Disarm() { n.crashCountdown = -1 }

// SetSyncSlowdown multiplies every sync's latency from now on (1: normal).
func (n *ControllerNode) SetSyncSlowdown(factor int64) { n.syncSlowdown = max(factor, 1) }

// Crash is a power loss: connections reset, everything in flight is gone, the disk keeps what
// a seeded crash keeps (unsynced data whole, torn or not at all).
func (n *ControllerNode) Crash() { n.CrashWith(memfs.CrashRandom) }

// CrashWith is Crash with the given treatment of unsynced data (memfs.CrashKeepUnsynced: the
// process exited and the machine kept its page cache).
func (n *ControllerNode) CrashWith(mode memfs.CrashMode) {
	inc := n.inc
	if inc == nil {
		return
	}
	n.stats.Crashes++
	inc.dead = true
	n.inc = nil
	n.crashCountdown = -1
	if n.voter {
		n.net.Unlisten(n.addr)
	}
	inc.listener.abortAll()
	inc.peers.abortAll()
	for _, id := range sortedKeys(inc.jobs) {
		n.w.Cancel(id)
	}
	n.mem = n.mem.CrashClone(memfs.CrashConfig{Seed: n.disk.Uint64(), Mode: mode})
	n.pausedUntilNs = 0
	n.w.Tracef("ctl%d crash (incarnation %d): disk after %x", n.cfg.ID, n.incarnation, n.mem.Digest())
	if n.hooks.Crashed != nil {
		n.hooks.Crashed(n)
	}
}

// Shutdown stops the process cleanly, as Kafka's controlled shutdown of a controller does: the
// node resigns its leadership (EndQuorumEpoch to the other voters), its messages get a moment
// to leave, then the process exits; the machine keeps its page cache.
func (n *ControllerNode) Shutdown() {
	inc := n.inc
	if inc == nil {
		return
	}
	if inc.held(n.Shutdown) {
		return // a paused process handles its SIGTERM when it resumes
	}
	inc.tracef("shutdown")
	inc.execute("resign", inc.node.Resign(inc.clocks()))
	if inc.dead {
		return
	}
	inc.schedule(n.w.NowNs()+n.draw(20e6, 200e6), "exit", func() { n.CrashWith(memfs.CrashKeepUnsynced) })
}

// Pause stops the process for durationNs: its events are held and run in order when it
// resumes, late. Connections stay open.
func (n *ControllerNode) Pause(durationNs int64) {
	if n.inc == nil || durationNs <= 0 {
		return
	}
	n.stats.Pauses++
	n.pausedUntilNs = max(n.pausedUntilNs, n.w.NowNs()+durationNs)
	n.w.Tracef("ctl%d paused until %d.%06dms", n.cfg.ID, n.pausedUntilNs/1e6, n.pausedUntilNs%1e6)
}

// Resume ends a pause now.
func (n *ControllerNode) Resume() {
	if n.pausedUntilNs <= n.w.NowNs() {
		return
	}
	n.pausedUntilNs = n.w.NowNs()
	n.w.Tracef("ctl%d resumed", n.cfg.ID)
	if inc := n.inc; inc != nil && inc.resumeEvent != 0 {
		n.w.Cancel(inc.resumeEvent)
		delete(inc.jobs, inc.resumeEvent)
		inc.resumeEvent = 0
		inc.armResume()
	}
}

// Paused reports whether the process is paused.
func (n *ControllerNode) Paused() bool { return n.inc != nil && n.w.NowNs() < n.pausedUntilNs }

// Restart starts a new process on the disk the last crash left: the quorum log recovered
// (OpenQuorumLog), the quorum state read (quorum.ReadStateFile), a new controller.Node. An
// error leaves the node down.
func (n *ControllerNode) Restart() error {
	if n.inc != nil {
		return fmt.Errorf("sim: controller node %d is running", n.cfg.ID)
	}
	recovered, ready, err := n.restart()
	if err != nil {
		n.stats.RestartFailures++
		n.w.Tracef("ctl%d restart failed: %v", n.cfg.ID, err)
		return err
	}
	// The hook sees the state as read from disk, before the new process acts on it.
	if n.hooks.Restarted != nil {
		n.hooks.Restarted(n, recovered)
	}
	n.inc.execute("start", ready)
	return nil
}

func (n *ControllerNode) restart() (quorum.State, controller.Ready, error) {
	n.incarnation++
	n.stats.Starts++
	inc := &ctlIncarnation{
		n: n, fsys: n.mem, originNs: n.w.NowNs(),
		jobs: map[EventID]bool{},
	}
	inc.listener = ctlListener{
		proc: inc, w: n.w, writeNsMax: n.cfg.WriteNsMax, stats: &n.stats.Listener,
		conns: map[controller.ConnID]*ctlInConn{},
		request: func(id controller.ConnID, req wire.Request) {
			inc.execute("request", inc.node.Request(inc.clocks(), id, req))
		},
		closed: func(id controller.ConnID) { inc.execute("conn closed", inc.node.ConnClosed(inc.clocks(), id)) },
	}
	inc.peers = peerSet{
		proc: inc, w: n.w, net: n.net, host: n.cfg.Host, addrOf: n.cfg.PeerAddr,
		backoffNsMin: n.cfg.ReconnectBackoffNsMin, backoffNsMax: n.cfg.ReconnectBackoffNsMax, requestTimeoutNs: n.cfg.RequestTimeoutNs,
		answer: func(peer int32, corr int32, resp kmsg.Response, err error) {
			inc.execute(peerCause(err), inc.node.PeerResponse(inc.clocks(), peer, corr, resp, err))
		},
		stats: &n.stats.Peers, label: "peer",
	}
	if n.cfg.Injector != nil {
		inc.fsys = errorfs.Wrap(n.mem, n.cfg.Injector)
	}
	n.w.Tracef("ctl%d start (incarnation %d)", n.cfg.ID, n.incarnation)
	logCfg := metadata.DefaultQuorumLogConfig()
	logCfg.Log.SegmentBytes = n.cfg.SegmentBytes
	clocks := inc.clocks()
	qlog, err := metadata.OpenQuorumLog(inc.fsys, controllerMetaDir, logCfg, clocks.WallMs)
	if err != nil {
		return quorum.State{}, controller.Ready{}, fmt.Errorf("sim: controller node %d: %w", n.cfg.ID, err)
	}
	sf, err := quorum.ReadStateFile(inc.fsys, qlog.Dir())
	if err != nil {
		return quorum.State{}, controller.Ready{}, errors.Join(fmt.Errorf("sim: controller node %d: %w", n.cfg.ID, err), qlog.Close())
	}
	voters := make([]quorum.NodeID, len(n.cfg.Voters))
	for i, v := range n.cfg.Voters {
		voters[i] = quorum.NodeID(v)
	}
	qcfg := quorum.DefaultConfig(quorum.NodeID(n.cfg.ID), voters)
	if n.cfg.AdjustQuorum != nil {
		n.cfg.AdjustQuorum(&qcfg)
	}
	cfg := controller.DefaultNodeConfig(qcfg, inc.fsys, qlog.Dir())
	cfg.Wire = quorum.Wire{ClusterID: n.cfg.ClusterID}
	if n.voter {
		cfg.Wire.Self = quorum.Endpoint{Listener: "CONTROLLER", Host: n.cfg.Host, Port: uint16(n.cfg.Port)}
		b := config.DefaultBrokerConfig()
		b.BrokerSessionTimeoutMs = n.cfg.SessionTimeoutMs
		cfg.Controller = &controller.Config{NodeID: n.cfg.ID, Broker: b, ClusterID: n.cfg.ClusterID, Buggify: n.cfg.Buggify}
	}
	cfg.SnapshotBytesBetween = n.cfg.SnapshotBytesBetween
	cfg.SnapshotIntervalMs = n.cfg.SnapshotIntervalMs
	inc.versions = cfg.Versions
	inc.listener.versions = &inc.versions
	rng := n.w.Rand(fmt.Sprintf("ctl/%d/incarnation/%d/node", n.cfg.ID, n.incarnation))
	node, ready, err := controller.NewNode(cfg, qlog, sf.State, rng, clocks)
	if err != nil {
		return quorum.State{}, controller.Ready{}, errors.Join(fmt.Errorf("sim: controller node %d: %w", n.cfg.ID, err), qlog.Close())
	}
	inc.qlog, inc.node = qlog, node
	if n.voter {
		if err := n.net.Listen(n.addr, inc.listener.accept); err != nil {
			return quorum.State{}, controller.Ready{}, errors.Join(err, qlog.Close())
		}
	}
	n.inc = inc
	return sf.State, ready, nil
}

// clocks are the process's clocks: monotonic since it started, and the machine's wall clock.
func (inc *ctlIncarnation) clocks() controller.Clocks {
	n := inc.n
	return controller.Clocks{MonotonicMs: (n.w.NowNs() - inc.originNs) / 1e6, WallMs: n.clock.NowMs()}
}

func (inc *ctlIncarnation) tracef(format string, args ...any) {
	inc.n.w.Tracef("ctl%d "+format, append([]any{inc.n.cfg.ID}, args...)...)
}

func (n *ControllerNode) draw(lo, hi int64) int64 { return lo + n.delays.Int64N(hi-lo+1) }

// The process interface, for the listener's and the peers' connections.
func (inc *ctlIncarnation) alive() bool             { return !inc.dead }
func (inc *ctlIncarnation) draw(lo, hi int64) int64 { return inc.n.draw(lo, hi) }

// peerCause names the event a peer answer or failure is in the trace.
func peerCause(err error) string {
	if err != nil {
		return "peer failed"
	}
	return "peer answer"
}

// schedule runs fn at atNs as an event of this process: held while it is paused, cancelled
// by a crash.
func (inc *ctlIncarnation) schedule(atNs int64, what string, fn func()) EventID {
	var id EventID
	id = inc.n.w.At(atNs, fmt.Sprintf("ctl%d %s", inc.n.cfg.ID, what), func() {
		delete(inc.jobs, id)
		if inc.dead || inc.held(fn) {
			return
		}
		fn()
	})
	inc.jobs[id] = true
	return id
}

// cancel cancels an event schedule returned.
func (inc *ctlIncarnation) cancel(id EventID) {
	if id != 0 {
		inc.n.w.Cancel(id)
		delete(inc.jobs, id)
	}
}

// held reports whether fn must wait for a pause to end (or for events held before it), and
// then holds it.
func (inc *ctlIncarnation) held(fn func()) bool {
	n := inc.n
	if inc.dead || inc.draining || (n.w.NowNs() >= n.pausedUntilNs && len(inc.heldFns) == 0) {
		return false
	}
	inc.heldFns = append(inc.heldFns, fn)
	if inc.resumeEvent == 0 {
		inc.armResume()
	}
	return true
}

func (inc *ctlIncarnation) armResume() {
	n := inc.n
	var id EventID
	id = n.w.At(n.pausedUntilNs, fmt.Sprintf("ctl%d resume", n.cfg.ID), func() {
		delete(inc.jobs, id)
		inc.resumeEvent = 0
		if inc.dead {
			return
		}
		if n.w.NowNs() < n.pausedUntilNs {
			inc.armResume()
			return
		}
		fns := inc.heldFns
		inc.heldFns = nil
		inc.draining = true
		for _, fn := range fns {
			if inc.dead {
				break
			}
			fn()
		}
		inc.draining = false
	})
	inc.jobs[id] = true
	inc.resumeEvent = id
}

// ctlEffectCount is how many effects ArmCrash counts in r.
func ctlEffectCount(r controller.Ready) int {
	count := len(r.Syncs) + len(r.FileOps) + len(r.Sends) + len(r.Responses) + len(r.Closes)
	if r.Snapshot != nil {
		count++
	}
	return count
}

// execute carries out a Ready in field order: syncs, file ops and the snapshot start off the
// loop, sends go to their peers, responses to their connections in order, closes after them;
// a Fatal crashes the process; then the timer. It traces the Ready first.
func (inc *ctlIncarnation) execute(cause string, r controller.Ready) {
	n := inc.n
	if inc.dead {
		return
	}
	inc.traceReady(cause, r)
	done := 0
	effect := func() bool {
		switch {
		case inc.dead:
			return false
		case n.crashCountdown == 0:
			inc.tracef("armed crash before effect %d of %d", done, ctlEffectCount(r))
			n.Crash()
			return false
		case n.crashCountdown > 0:
			n.crashCountdown--
		}
		done++
		return true
	}
	for _, s := range r.Syncs {
		if !effect() {
			return
		}
		inc.submitSync(s)
	}
	for _, op := range r.FileOps {
		if !effect() {
			return
		}
		inc.submitBackground(fmt.Sprintf("fileop %d", op.ID), func() {
			err := log.RunFileOps(inc.fsys, op.Ops)
			n.stats.FileOps++
			inc.tracef("fileop %d done: %v", op.ID, err)
			inc.execute("done", inc.node.Done(inc.clocks(), op.ID, err))
		})
	}
	if w := r.Snapshot; w != nil {
		if !effect() {
			return
		}
		inc.submitBackground("snapshot", func() {
			err := w.Run(inc.fsys)
			n.stats.Snapshots++
			inc.tracef("snapshot %s written: %v", w.Path, err)
			inc.execute("snapshot", inc.node.SnapshotWritten(inc.clocks(), w, err))
		})
	}
	for _, s := range r.Sends {
		if !effect() {
			return
		}
		inc.peers.send(s.To, s.CorrelationID, s.Request)
	}
	for _, resp := range r.Responses {
		if !effect() {
			return
		}
		inc.listener.respond(resp)
	}
	for _, c := range r.Closes {
		if !effect() {
			return
		}
		inc.listener.requestClose(c)
	}
	if r.Fatal != nil {
		n.lastFatal = r.Fatal
		inc.tracef("fatal: %v", r.Fatal)
		n.Crash()
		return
	}
	inc.setDeadline(r.NextDeadlineMs)
	if n.hooks.Observe != nil {
		n.hooks.Observe(n)
	}
}

// traceReady adds one line naming the Ready's effects and the node's quorum position.
func (inc *ctlIncarnation) traceReady(cause string, r controller.Ready) {
	b := inc.n.w.traceBuf().str("ctl").num(int64(inc.n.cfg.ID)).str(" ready (").str(cause).str(")")
	for _, s := range r.Syncs {
		b = b.str(" sync:").num(int64(s.ID)).str("/upto=").num(int64(s.Req.UpTo))
	}
	for _, op := range r.FileOps {
		b = b.str(" fileop:").num(int64(op.ID)).str("/").num(int64(len(op.Ops)))
	}
	if r.Snapshot != nil {
		b = b.str(" snapshot:").str(r.Snapshot.Path)
	}
	for _, s := range r.Sends {
		b = b.str(" send:").num(int64(s.To)).str("/key=").num(int64(s.Request.Key())).str("/corr=").num(int64(s.CorrelationID))
	}
	for _, resp := range r.Responses {
		b = b.str(" resp:c").num(int64(resp.Conn)).str("/key=").num(int64(resp.Header.APIKey)).str("/corr=").num(int64(resp.Header.CorrelationID))
	}
	for _, c := range r.Closes {
		b = b.str(" close:c").num(int64(c))
	}
	if c := r.Committed; c != nil {
		b = b.str(" committed=").num(int64(c.Offset)).str("/leader=").num(int64(c.LeaderID)).str("/epoch=").num(int64(c.LeaderEpoch))
	}
	for _, w := range r.Warnings {
		b = append(b.str(" warning:"), strconv.Quote(w.Error())...)
	}
	if r.Fatal != nil {
		b = append(b.str(" fatal:"), strconv.Quote(r.Fatal.Error())...)
	}
	b = b.str(" deadline=").num(r.NextDeadlineMs)
	if r.Fatal == nil {
		st := inc.node.QuorumState()
		b = b.str(" epoch=").num(int64(st.Epoch)).str(" role=").str(inc.node.Role().String()).
			str(" hw=").num(int64(inc.node.HighWatermark())).str(" end=").num(int64(inc.qlog.EndOffset()))
	}
	inc.n.w.traceLine(b)
}

// submitSync runs a sync after the disk's latency (one at a time), then reports it: the data
// is durable only once it ran, so a crash before then leaves it unsynced.
func (inc *ctlIncarnation) submitSync(s controller.Sync) {
	n := inc.n
	start := max(n.w.NowNs(), inc.syncFreeNs)
	doneNs := start + n.draw(n.cfg.SyncNsMin, n.cfg.SyncNsMax)*n.syncSlowdown
	inc.syncFreeNs = doneNs
	inc.schedule(doneNs, fmt.Sprintf("sync %d", s.ID), func() {
		var err error
		if !n.cfg.lyingSyncs {
			err = s.Req.Run(inc.fsys)
		}
		n.stats.SyncsRun++
		if err != nil {
			n.stats.SyncErrors++
		}
		inc.tracef("synced %d: %v", s.ID, err)
		inc.execute("synced", inc.node.Synced(inc.clocks(), s.ID, err))
	})
}

// submitBackground queues a job on the one background worker: jobs run in order.
func (inc *ctlIncarnation) submitBackground(what string, run func()) {
	n := inc.n
	start := max(n.w.NowNs(), inc.backgroundNs)
	doneNs := start + n.draw(n.cfg.BackgroundNsMin, n.cfg.BackgroundNsMax)
	inc.backgroundNs = doneNs
	inc.schedule(doneNs, what, run)
}

// setDeadline keeps one timer at the Node's next deadline (monotonic ms; 0 = none), at least a
// millisecond away, fired up to TimerLateNsMax late.
func (inc *ctlIncarnation) setDeadline(deadlineMs int64) {
	if deadlineMs == inc.deadlineMs {
		return
	}
	inc.deadlineMs = deadlineMs
	inc.timerGen++
	inc.cancel(inc.timer)
	inc.timer = 0
	if deadlineMs == 0 {
		return
	}
	n := inc.n
	waitMs := max(deadlineMs-inc.clocks().MonotonicMs, 1)
	at := n.w.NowNs() + waitMs*1e6 + n.draw(0, n.cfg.TimerLateNsMax)
	gen := inc.timerGen
	inc.timer = inc.schedule(at, "timer "+strconv.FormatInt(deadlineMs, 10), func() {
		if gen != inc.timerGen {
			return // re-armed while a pause held this one
		}
		inc.timer = 0
		inc.deadlineMs = 0
		inc.execute("timer", inc.node.Timer(inc.clocks()))
	})
}
