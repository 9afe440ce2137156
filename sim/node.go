package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/weirdata/weir/core/broker"
	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/core/wire"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/errorfs"
	"github.com/weirdata/weir/diskio/memfs"
	"github.com/weirdata/weir/netio"
)

// NodeConfig describes one simulated broker process and its machine.
type NodeConfig struct {
	// ID is node.id; Host the machine's name on the simulated network; Port and
	// ControllerPort the PLAINTEXT and CONTROLLER listeners' ports.
	ID                   int32
	Host                 string
	Port, ControllerPort int
	// Voters is controller.quorum.voters' ids when the node is one of a cluster; empty, the node
	// is its own quorum's sole voter (the embedded single-node default). A node in Voters is
	// broker and controller, any other broker only (an observer of the quorum).
	Voters []int32
	// VoterHost gives a voter's machine name (its controller listener is on ControllerPort);
	// ClusterID is the id `weir storage format` writes on the disk at the first start. Both are
	// needed with Voters.
	VoterHost func(id int32) string
	ClusterID string
	// ReconnectBackoffNsMin..ReconnectBackoffNsMax is the wait before dialing a controller again
	// after its connection failed; RequestTimeoutNs closes a connection to a controller whose
	// oldest request waits longer. Used with Voters.
	ReconnectBackoffNsMin, ReconnectBackoffNsMax, RequestTimeoutNs int64
	// Adjust, when set, changes the broker config after the single-node defaults (segment
	// sizes, flush settings, ...).
	Adjust func(b *config.BrokerConfig)
	// StartWallMs and DriftPpm set the machine's wall clock (see WallClock).
	StartWallMs, DriftPpm int64
	// Flushers is the flusher pool's size (cmd/weir's defaultFlushers).
	Flushers int
	// SyncNsMin and SyncNsMax bound one fdatasync's latency on the simulated disk.
	SyncNsMin, SyncNsMax int64
	// BackgroundNsMin and BackgroundNsMax bound one background job (a file-op batch, a
	// snapshot, a set of checkpoints) on the one background worker.
	BackgroundNsMin, BackgroundNsMax int64
	// WriteNsMax bounds how long after a response is handed over its connection's writer
	// runs (goroutine scheduling); read plans execute then.
	WriteNsMax int64
	// TimerLateNsMax bounds how late a timer fires after its deadline.
	TimerLateNsMax int64
	// UnreadBytesMax bounds the bytes a connection has received and not yet framed (held
	// while its requests in flight are at the bound); past it the connection is closed.
	UnreadBytesMax int
	// IdleTimeoutNs is connections.max.idle.ms: a connection that delivers no byte for this
	// long while no request of it awaits an answer is closed, as netio closes it.
	IdleTimeoutNs int64
	// DiskBytesMax is the disk's capacity (memfs.SetCapacityBytes); 0 means unbounded.
	DiskBytesMax int64
	// Buggify, when set, turns on core's rare paths and planted bugs in this node (its Node
	// and every log, recovery included); it lives across restarts, as a seed's choice.
	Buggify *buggify.B
	// Injector, when set, fails the disk operations it picks (diskio/errorfs wraps the disk).
	Injector errorfs.Injector
	// Corruptor, when set, damages writes and fails reads silently (bit flips, misdirected
	// writes, latent sector errors); it lives across restarts, as the disk's bad sectors do.
	Corruptor *errorfs.Corruptor
	// DamageExplains, when set, reports whether the bytes [lowBytes, highBytes) of the file
	// at path hold damage a disk fault did (the FaultPlan sets it with the Corruptor): an
	// invariant check that failed on such bytes found the fault, not a bug in core.
	DamageExplains func(path string, lowBytes, highBytes int64) bool
}

// DefaultNodeConfig is node id on host "node<id>", ports 9092 and 9093, a wall clock in
// November 2023, four flushers, 0.5-5 ms syncs, 0.1-2 ms background jobs.
func DefaultNodeConfig(id int32) NodeConfig {
	return NodeConfig{
		ID:              id,
		Host:            "node" + strconv.Itoa(int(id)),
		Port:            9092,
		ControllerPort:  9093,
		StartWallMs:     1_700_000_000_000,
		Flushers:        4,
		SyncNsMin:       500_000,
		SyncNsMax:       5_000_000,
		BackgroundNsMin: 100_000,
		BackgroundNsMax: 2_000_000,
		WriteNsMax:      100_000,
		TimerLateNsMax:  1_000_000,
		UnreadBytesMax:  2 * wire.DefaultRequestBytesMax,
		IdleTimeoutNs:   netio.DefaultIdleTimeout.Nanoseconds(),

		ReconnectBackoffNsMin: 50e6,
		ReconnectBackoffNsMax: 1e9,
		RequestTimeoutNs:      2e9,
	}
}

// serverProperties is the node's server.properties, as an operator writes them: the embedded
// default's, or a cluster member's with the static voter set.
func (cfg NodeConfig) serverProperties() (string, error) {
	if len(cfg.Voters) == 0 {
		return fmt.Sprintf(`node.id=%[1]d
process.roles=broker,controller
listeners=PLAINTEXT://%[2]s:%[3]d,CONTROLLER://%[2]s:%[4]d
controller.listener.names=CONTROLLER
controller.quorum.voters=%[1]d@%[2]s:%[4]d
log.dirs=/weir-data
`, cfg.ID, cfg.Host, cfg.Port, cfg.ControllerPort), nil
	}
	if cfg.VoterHost == nil || cfg.ClusterID == "" || cfg.ReconnectBackoffNsMin < 0 ||
		cfg.ReconnectBackoffNsMax < cfg.ReconnectBackoffNsMin || cfg.RequestTimeoutNs <= 0 {
		return "", fmt.Errorf("sim: node %d: a cluster member needs VoterHost, ClusterID and peer timeouts", cfg.ID)
	}
	var voters []string
	for _, v := range cfg.Voters {
		voters = append(voters, fmt.Sprintf("%d@%s:%d", v, cfg.VoterHost(v), cfg.ControllerPort))
	}
	roles, listeners := "broker", fmt.Sprintf("PLAINTEXT://%s:%d", cfg.Host, cfg.Port)
	if slices.Contains(cfg.Voters, cfg.ID) {
		roles = "broker,controller"
		listeners += fmt.Sprintf(",CONTROLLER://%s:%d", cfg.Host, cfg.ControllerPort)
	}
	return fmt.Sprintf(`node.id=%d
process.roles=%s
listeners=%s
controller.listener.names=CONTROLLER
controller.quorum.voters=%s
log.dirs=/weir-data
`, cfg.ID, roles, listeners, strings.Join(voters, ",")), nil
}

// NodeStats counts what a node host did.
type NodeStats struct {
	Starts, Crashes   int64
	Requests          int64
	Responses         int64
	SyncsRun          int64
	SyncErrors        int64
	FileOps           int64
	Snapshots         int64
	CheckpointWrites  int64
	CheckpointErrors  int64
	PlanCuts          int64 // read plans served short (log.ErrPlanCut)
	ConnectionsClosed int64 // by the node: decode errors, Closes, send failures
	Pauses            int64 // Pause calls
	// Shutdowns counts SIGTERMs, ControlledShutdowns those the controller let go in time.
	Shutdowns, ControlledShutdowns int64
	Deferred                       int64 // events held by a pause and run when it ended
	// Controller and Peers count a cluster member's controller listener and its requests to
	// the voters' listeners (the quorum's and the broker's).
	Controller ListenerStats
	Peers      PeerStats
	// Replicas counts the follower fetches sent to leaders' broker listeners.
	Replicas PeerStats
}

// NodeHooks let a fault schedule follow a node's life. Each is optional; a hook may schedule
// World events but must not crash or restart the node itself.
type NodeHooks struct {
	// Crashed runs after every crash: Crash, an armed crash point, or a Fatal.
	Crashed func(n *Node)
	// BeforeRestart runs before recovery reads the disk (the disk a crash left).
	BeforeRestart func(n *Node)
	// AfterRestart runs after a restart, with its error (nil: the node is up).
	AfterRestart func(n *Node, err error)
	// QuorumRecovered runs when a start read the quorum state from disk, before the new process
	// acts on it; ControllerObserved after every controller Ready the node executed to its end.
	QuorumRecovered    func(n *Node, recovered quorum.State)
	ControllerObserved func(n *Node)
	// BrokerObserved runs after every broker Ready the node executed to its end.
	BrokerObserved func(n *Node)
}

// Node hosts one simulated broker: a crashable disk (memfs, optionally behind errorfs), the
// storage opened on it as cmd/weir opens it, and a core/broker.Node whose every Ready it
// executes as cmd/weir's driver does — syncs on a flusher pool with virtual latency, file ops,
// snapshots and checkpoints on one background worker in order, responses written per
// connection in request order with read plans executed at write time, closes after them, one
// timer for NextDeadlineMs. A Fatal crashes the node. Crash and Restart model a power loss.
type Node struct {
	w   *World
	net *Network
	cfg NodeConfig

	delays *rand.Rand // driver latencies
	disk   *rand.Rand // crash-clone seeds
	faults *rand.Rand // crash points

	clock       *WallClock
	nameBuf     []byte    // eventName's buffer
	mem         *memfs.FS // the machine's disk: survives crashes as a crash clone
	brokerCfg   config.BrokerConfig
	addr        string
	incarnation int
	inc         *incarnation // nil while down
	lastFatal   error
	stats       NodeStats

	// crashCountdown is how many more effects run before an armed crash; -1 is unarmed.
	crashCountdown int

	hooks NodeHooks
	// pausedUntilNs: until then the process runs nothing (a GC pause, SIGSTOP); its events
	// are held and run, in order, when it resumes.
	pausedUntilNs int64
	// syncSlowdown multiplies every sync's latency (slow-sync faults); 1 is normal.
	syncSlowdown int64
	// inspector is the disk's Corruptor when faults wrap it: invariant checks read through
	// its Inspect, seeing what the broker wrote rather than what the disk did to it.
	inspector *errorfs.Corruptor
	// formatted is set once the disk of a cluster member was formatted with its cluster id.
	formatted bool
}

// incarnation is one process lifetime: everything a crash throws away.
type incarnation struct {
	n        *Node
	dead     bool
	fsys     diskio.FS
	storage  *nodeStorage
	node     *broker.Node
	versions wire.VersionTable
	// requestBytesMax and inFlightMax are netio's socket.request.max.bytes and max in-flight
	// per connection, as cmd/weir configures them.
	requestBytesMax int32
	inFlightMax     int
	originNs        int64  // the monotonic clock's origin: process start
	traceBuf        []byte // traceReady's line, reused

	conns    map[broker.ConnID]*nodeConn // lookup; iterated only in id order
	nextConn broker.ConnID

	jobs          map[EventID]bool // scheduled job and timer events, cancelled by a crash
	flusherFreeNs []int64          // when each flusher is free
	backgroundNs  int64            // when the background worker is free
	outstanding   int

	checkpoints      []storage.CheckpointFile
	checkpointQueued bool

	timer deadlineTimer

	// heldFns are the events a pause held, in arrival order; resumeEvent runs them.
	heldFns     []func()
	resumeEvent EventID
	draining    bool

	colocatedController
	shutdown nodeShutdown
	// listening is set once the broker serves (registered and unfenced): the node accepts
	// connections only from then on, as Kafka's broker enables its listeners only then.
	listening bool
}

// NewNode creates a node host with an empty disk and starts it (formatting the disk, as the
// embedded single-node default does on first start).
func NewNode(w *World, network *Network, cfg NodeConfig) (*Node, error) {
	if cfg.Flushers < 1 || cfg.SyncNsMin < 0 || cfg.SyncNsMax < cfg.SyncNsMin || cfg.BackgroundNsMin < 0 ||
		cfg.BackgroundNsMax < cfg.BackgroundNsMin || cfg.WriteNsMax < 0 || cfg.TimerLateNsMax < 0 || cfg.UnreadBytesMax < 1 || cfg.IdleTimeoutNs <= 0 {
		return nil, fmt.Errorf("sim: invalid node config %+v", cfg)
	}
	props, err := cfg.serverProperties()
	if err != nil {
		return nil, err
	}
	b, _, err := config.ParseServerProperties([]byte(props))
	if err != nil {
		return nil, fmt.Errorf("sim: node %d config: %w", cfg.ID, err)
	}
	if cfg.Adjust != nil {
		cfg.Adjust(&b)
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("sim: node %d config: %w", cfg.ID, err)
	}
	listener, err := brokerListenAddress(b)
	if err != nil {
		return nil, err
	}
	prefix := fmt.Sprintf("node/%d/", cfg.ID)
	n := &Node{
		w:              w,
		net:            network,
		cfg:            cfg,
		delays:         w.Rand(prefix + "driver"),
		disk:           w.Rand(prefix + "disk"),
		faults:         w.Rand(prefix + "faults"),
		clock:          w.NewWallClock(cfg.StartWallMs, cfg.DriftPpm),
		mem:            memfs.New(),
		brokerCfg:      withCleanPaths(b),
		addr:           net.JoinHostPort(listener.Host, strconv.Itoa(listener.Port)),
		crashCountdown: -1,
		syncSlowdown:   1,
	}
	if cfg.DiskBytesMax > 0 {
		n.mem.SetCapacityBytes(cfg.DiskBytesMax)
	}
	if err := n.Restart(); err != nil {
		return nil, err
	}
	return n, nil
}

// ID is node.id.
func (n *Node) ID() int32 { return n.cfg.ID }

// Host is the machine's name on the simulated network.
func (n *Node) Host() string { return n.cfg.Host }

// Addr is the broker listener's "host:port" on the simulated network.
func (n *Node) Addr() string { return n.addr }

// Up reports whether the process runs.
func (n *Node) Up() bool { return n.inc != nil }

// Incarnation counts the node's starts.
func (n *Node) Incarnation() int { return n.incarnation }

// Controller is the running process's controller.Node (nil while down).
func (n *Node) Controller() *controller.Node {
	if n.inc == nil {
		return nil
	}
	return n.inc.ctl
}

func (n *Node) controllerNode() *controller.Node { return n.Controller() }

func (n *Node) quorumLog() *metadata.QuorumLog {
	if n.inc == nil {
		return nil
	}
	return n.inc.storage.metadata
}

// Broker is the running process's broker (nil while down), for checkers: read only.
func (n *Node) Broker() *broker.Node {
	if n.inc == nil {
		return nil
	}
	return n.inc.node
}

// Clock is the machine's wall clock (jump or drift it for clock faults).
func (n *Node) Clock() *WallClock { return n.clock }

// Disk is the machine's disk as it is now (page cache included).
func (n *Node) Disk() *memfs.FS { return n.mem }

// Stats returns the counters so far.
func (n *Node) Stats() NodeStats { return n.stats }

// LastFatal is the last storage failure that crashed the node, if any.
func (n *Node) LastFatal() error { return n.lastFatal }

// Outstanding is how many syncs, file ops and snapshots the running process has handed out
// and not yet reported to its Node.
func (n *Node) Outstanding() int {
	if n.inc == nil {
		return 0
	}
	return n.inc.outstanding
}

// ArmCrash makes the node crash right before an effect, once afterEffects more effects have
// run (0: before the next one): between two effects of one Ready, or between two Readies.
// Effects count in execution order: each sync, each file-op batch, each response, each close,
// a Ready's checkpoint set, its snapshot.
func (n *Node) ArmCrash(afterEffects int) {
	if afterEffects < 0 {
		panic("sim: invariant: ArmCrash needs a count of effects >= 0")
	}
	n.crashCountdown = afterEffects
}

// Disarm cancels an armed crash.
func (n *Node) Disarm() { n.crashCountdown = -1 }

// ArmCrashRandom is ArmCrash after a number of effects drawn from [0, effectsMax) with the
// node's fault PRNG: a seeded crash point.
func (n *Node) ArmCrashRandom(effectsMax int) { n.ArmCrash(n.faults.IntN(effectsMax)) }

// Crash is a power loss: every connection resets, everything in flight in the process is
// gone, and the disk keeps what a seeded crash keeps (memfs.CrashRandom: synced data, and
// unsynced data whole, torn or not at all).
func (n *Node) Crash() { n.CrashWith(memfs.CrashRandom) }

// CrashWith is Crash with the given treatment of unsynced data.
func (n *Node) CrashWith(mode memfs.CrashMode) {
	inc := n.inc
	if inc == nil {
		return
	}
	n.stats.Crashes++
	inc.dead = true
	n.inc = nil
	n.crashCountdown = -1
	n.net.Unlisten(n.addr)
	inc.stopControllerNet()
	for _, id := range sortedKeys(inc.conns) {
		c := inc.conns[id]
		c.cancelTimers()
		if !c.closed {
			c.closed = true
			c.conn.Abort()
		}
	}
	for _, id := range sortedKeys(inc.jobs) {
		n.w.Cancel(id)
	}
	n.mem = n.mem.CrashClone(memfs.CrashConfig{Seed: n.disk.Uint64(), Mode: mode}) // keeps the capacity
	// A new process is not paused.
	n.pausedUntilNs = 0
	n.w.Tracef("node%d crash (incarnation %d): disk after %x", n.cfg.ID, n.incarnation, n.mem.Digest())
	if n.hooks.Crashed != nil {
		n.hooks.Crashed(n)
	}
}

// SetHooks installs hooks following the node's crashes and restarts, replacing any before;
// Hooks returns them, so that a caller can chain its own.
func (n *Node) SetHooks(h NodeHooks) { n.hooks = h }

// Hooks returns the installed hooks.
func (n *Node) Hooks() NodeHooks { return n.hooks }

// Pause stops the process for durationNs (a GC pause, SIGSTOP): nothing of it runs — requests
// are not read, syncs and jobs do not report, timers and writers do not fire — until it
// resumes; then everything held runs in the order it was due, late. Connections stay open and
// the network keeps delivering to the kernel's buffers. A later end replaces an earlier one.
func (n *Node) Pause(durationNs int64) {
	if n.inc == nil || durationNs <= 0 {
		return
	}
	n.stats.Pauses++
	n.pausedUntilNs = max(n.pausedUntilNs, n.w.NowNs()+durationNs)
	n.w.Tracef("node%d paused until %d.%06dms", n.cfg.ID, n.pausedUntilNs/1e6, n.pausedUntilNs%1e6)
}

// Resume ends a pause now; the held events run at once, in order.
func (n *Node) Resume() {
	if n.pausedUntilNs <= n.w.NowNs() {
		return
	}
	n.pausedUntilNs = n.w.NowNs()
	n.w.Tracef("node%d resumed", n.cfg.ID)
	if inc := n.inc; inc != nil && inc.resumeEvent != 0 {
		n.w.Cancel(inc.resumeEvent)
		delete(inc.jobs, inc.resumeEvent)
		inc.resumeEvent = 0
		inc.armResume()
	}
}

// Paused reports whether the process is paused.
func (n *Node) Paused() bool { return n.inc != nil && n.w.NowNs() < n.pausedUntilNs }

// SetSyncSlowdown multiplies every sync's latency from now on by factor (1: normal), as a
// disk busy with other work or a failing drive's retries slow fdatasync.
func (n *Node) SetSyncSlowdown(factor int64) { n.syncSlowdown = max(factor, 1) }

// SetDiskCapacityBytes changes the disk's capacity (0: unbounded), e.g. to fill the disk;
// RestoreDiskCapacity returns to NodeConfig.DiskBytesMax.
func (n *Node) SetDiskCapacityBytes(capacityBytes int64) { n.mem.SetCapacityBytes(capacityBytes) }

// BrokerOnly reports whether the node is a cluster broker without a controller role: the only
// kind whose disk Wipe may replace.
func (n *Node) BrokerOnly() bool {
	return n.cfg.ClusterID != "" && !slices.Contains(n.cfg.Voters, n.cfg.ID)
}

// Wipe gives a node that is down an empty disk, as an operator replacing a failed drive does:
// the next Restart formats it with the cluster id (`weir storage format`) and the broker starts
// over with no log. Only a broker-only cluster member: a voter's disk holds its quorum state.
func (n *Node) Wipe() error {
	if n.inc != nil {
		return fmt.Errorf("sim: node %d: wipe while running", n.cfg.ID)
	}
	if !n.BrokerOnly() {
		return fmt.Errorf("sim: node %d: only a broker-only cluster member's disk is wiped", n.cfg.ID)
	}
	n.mem = memfs.New()
	if n.cfg.DiskBytesMax > 0 {
		n.mem.SetCapacityBytes(n.cfg.DiskBytesMax)
	}
	n.formatted = false
	n.w.Tracef("node%d disk wiped", n.cfg.ID)
	return nil
}

// RestoreDiskCapacity sets the capacity back to NodeConfig.DiskBytesMax.
func (n *Node) RestoreDiskCapacity() { n.mem.SetCapacityBytes(n.cfg.DiskBytesMax) }

// holding reports whether held would hold an event now: hot paths ask first, so that they
// build the closure to hold only when it is held.
func (inc *incarnation) holding() bool {
	return !inc.dead && !inc.draining && (inc.n.w.NowNs() < inc.n.pausedUntilNs || len(inc.heldFns) > 0)
}

// held reports whether fn must wait: the process is paused, or events it held are not yet
// run. Then fn joins the held events, which run in the order they arrived when the pause
// ends (a crash drops them with the process).
func (inc *incarnation) held(fn func()) bool {
	if !inc.holding() {
		return false
	}
	n := inc.n
	n.stats.Deferred++
	inc.heldFns = append(inc.heldFns, fn)
	if inc.resumeEvent == 0 {
		inc.armResume()
	}
	return true
}

// armResume schedules the end of the pause, when the held events run.
func (inc *incarnation) armResume() {
	n := inc.n
	var id EventID
	id = n.w.At(n.pausedUntilNs, fmt.Sprintf("node%d resume", n.cfg.ID), func() {
		delete(inc.jobs, id)
		inc.resumeEvent = 0
		if inc.dead {
			return
		}
		if n.w.NowNs() < n.pausedUntilNs {
			inc.armResume() // the pause was extended
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

// Restart starts a new process on the disk as the last crash left it: storage recovery, then a
// new broker.Node, listening again. An error (recovery failed) leaves the node down.
func (n *Node) Restart() error {
	if n.inc != nil {
		return fmt.Errorf("sim: node %d is running", n.cfg.ID)
	}
	if n.hooks.BeforeRestart != nil {
		n.hooks.BeforeRestart(n)
	}
	err := n.restart()
	if err != nil {
		n.w.Tracef("node%d restart failed: %v", n.cfg.ID, err)
	}
	if n.hooks.AfterRestart != nil {
		n.hooks.AfterRestart(n, err)
	}
	return err
}

func (n *Node) restart() error {
	n.incarnation++
	n.stats.Starts++
	inc := &incarnation{
		n:             n,
		fsys:          diskio.FS(n.mem),
		originNs:      n.w.NowNs(),
		conns:         map[broker.ConnID]*nodeConn{},
		jobs:          map[EventID]bool{},
		flusherFreeNs: make([]int64, n.cfg.Flushers),
	}
	if n.cfg.Injector != nil || n.cfg.Corruptor != nil {
		inj := n.cfg.Injector
		if inj == nil {
			inj = errorfs.Never()
		}
		// A Corruptor, idle if the config has none, also lets the invariant checks read the
		// data as written (Inspect), past injected read errors.
		n.inspector = n.cfg.Corruptor
		if n.inspector == nil {
			n.inspector = errorfs.NewCorruptor(nil, nil)
		}
		inc.fsys = errorfs.Wrap(n.mem, inj, errorfs.WithCorruption(n.inspector))
	}
	prefix := fmt.Sprintf("node/%d/incarnation/%d/", n.cfg.ID, n.incarnation)
	random := randReader{n.w.Rand(prefix + "storage")}
	n.w.Tracef("node%d start (incarnation %d)", n.cfg.ID, n.incarnation)
	if n.cfg.ClusterID != "" && !n.formatted {
		// `weir storage format --cluster-id`, run once by the operator before the first start.
		if _, err := storage.Format(inc.fsys, n.brokerCfg.AllLogDirs(), n.cfg.ClusterID, n.cfg.ID, random, storage.FormatOptions{IgnoreFormatted: true}); err != nil {
			return fmt.Errorf("sim: node %d: format: %w", n.cfg.ID, err)
		}
		n.formatted = true
	}
	ns, err := openNodeStorage(inc.fsys, n.brokerCfg, random, n.clock.NowMs(), n.cfg.Buggify)
	if err != nil {
		return fmt.Errorf("sim: node %d: open storage: %w", n.cfg.ID, err)
	}
	for _, w := range ns.warnings {
		n.w.Tracef("node%d storage warning: %v", n.cfg.ID, w)
	}
	nodeCfg, err := broker.ConfigFromBroker(n.brokerCfg)
	if err != nil {
		return errors.Join(err, ns.close())
	}
	nodeCfg.FS = inc.fsys
	nodeCfg.Buggify = n.cfg.Buggify
	inc.storage = ns
	inc.versions = nodeCfg.Versions
	inc.requestBytesMax = wire.DefaultRequestBytesMax
	if n.brokerCfg.SocketRequestMaxBytes > 0 {
		inc.requestBytesMax = n.brokerCfg.SocketRequestMaxBytes
	}
	inc.inFlightMax = min(netio.DefaultInFlightPerConnMax, nodeCfg.ConnRequestsMax)
	ctlReady, err := inc.startController(prefix, ns)
	if err != nil {
		return errors.Join(fmt.Errorf("sim: node %d: %w", n.cfg.ID, err), ns.close())
	}
	node, ready, err := broker.NewNode(nodeCfg, ns.manager, n.w.Rand(prefix+"broker"), inc.clocks())
	if err != nil {
		return errors.Join(fmt.Errorf("sim: node %d: %w", n.cfg.ID, err), ns.close())
	}
	inc.node = node
	if err := inc.listenController(); err != nil {
		return errors.Join(fmt.Errorf("sim: node %d: %w", n.cfg.ID, err), ns.close())
	}
	n.inc = inc
	inc.execute("start", ready)
	inc.executeController("start", ctlReady)
	return nil
}

// clocks are the driver's clocks for an event: monotonic since the process started, and the
// machine's wall clock.
func (inc *incarnation) clocks() broker.Clocks {
	n := inc.n
	return broker.Clocks{MonotonicMs: (n.w.NowNs() - inc.originNs) / 1e6, WallMs: n.clock.NowMs()}
}

// lineBuf starts a line of this node ("node<id> "), for traceLine.
func (inc *incarnation) lineBuf() traceBuf {
	return inc.n.w.traceBuf().str("node").num(int64(inc.n.cfg.ID)).str(" ")
}

func (inc *incarnation) traceLine(b traceBuf) { inc.n.w.traceLine(b) }

func (inc *incarnation) tracef(format string, args ...any) {
	inc.n.w.Tracef("node%d "+format, append([]any{inc.n.cfg.ID}, args...)...)
}

// eventName is the name of one of the node's events, "node<ID> <what>" (fmt's "node%d %s"),
// built in one allocation: a node names an event for every sync and timer.
func (n *Node) eventName(what string) string {
	return string(n.eventNamePrefix(what))
}

// eventNameUint is eventName followed by num in decimal ("node%d %s%d").
func (n *Node) eventNameUint(what string, num uint64) string {
	return string(strconv.AppendUint(n.eventNamePrefix(what), num, 10))
}

// eventNameInt is eventName followed by num in decimal ("node%d %s%d").
func (n *Node) eventNameInt(what string, num int64) string {
	return string(strconv.AppendInt(n.eventNamePrefix(what), num, 10))
}

// eventNamePrefix builds "node<ID> <what>" in n.nameBuf.
func (n *Node) eventNamePrefix(what string) []byte {
	n.nameBuf = strconv.AppendInt(append(n.nameBuf[:0], "node"...), int64(n.cfg.ID), 10)
	n.nameBuf = append(append(n.nameBuf, ' '), what...)
	return n.nameBuf
}

// draw is a latency in [lo, hi] from the driver's PRNG.
func (n *Node) draw(lo, hi int64) int64 { return lo + n.delays.Int64N(hi-lo+1) }

// schedule runs a job event that a crash cancels, named "node<ID> <what>".
func (inc *incarnation) schedule(atNs int64, what string, fn func()) EventID {
	return inc.scheduleNamed(atNs, inc.n.eventName(what), fn)
}

// scheduleNamed is schedule with the event's whole name (eventName).
func (inc *incarnation) scheduleNamed(atNs int64, name string, fn func()) EventID {
	var id EventID
	id = inc.n.w.At(atNs, name, func() {
		delete(inc.jobs, id)
		if inc.held(fn) {
			return
		}
		fn()
	})
	inc.jobs[id] = true
	return id
}

// cancel cancels an event schedule returned.
func (inc *incarnation) cancel(id EventID) {
	if id != 0 {
		inc.n.w.Cancel(id)
		delete(inc.jobs, id)
	}
}

// The process interface, for the controller listener's and the peers' connections.
func (inc *incarnation) alive() bool             { return !inc.dead }
func (inc *incarnation) draw(lo, hi int64) int64 { return inc.n.draw(lo, hi) }

// effectCount is how many effects ArmCrash counts in r.
func effectCount(r broker.Ready) int {
	count := len(r.Syncs) + len(r.FileOps) + len(r.Responses) + len(r.Closes)
	if len(r.Checkpoints) > 0 {
		count++
	}
	return count
}

// damageExplains reports whether err, a broken invariant, was found in stored bytes a recorded
// disk fault damaged (NodeConfig.DamageExplains): only a log.InvariantError names the bytes it
// read, so any other broken invariant is never explained.
func (n *Node) damageExplains(err error) bool {
	var ie *log.InvariantError
	if n.cfg.DamageExplains == nil || !errors.As(err, &ie) {
		return false
	}
	for _, r := range ie.Reads {
		if n.cfg.DamageExplains(r.Path, r.LowBytes, r.HighBytes) {
			return true
		}
	}
	return false
}

// execute carries out a Ready in field order, as cmd/weir's driver.execute does: syncs and
// file ops start before any response is written, responses go out in the order listed,
// closes after them; then checkpoints, the snapshot, warnings, a Fatal, the next deadline.
// It traces the Ready first, so the trace hashes every Ready.
func (inc *incarnation) execute(cause string, r broker.Ready) {
	n := inc.n
	if inc.dead {
		return
	}
	inc.traceReady(cause, r)
	var err error
	if n.inspector != nil {
		n.inspector.Inspect(func() { err = inc.node.CheckInvariants() })
	} else {
		err = inc.node.CheckInvariants()
	}
	if err != nil {
		if n.damageExplains(err) {
			n.w.Tracef("node%d after %s: invariant check read bytes a disk fault damaged: %v", n.cfg.ID, cause, err)
		} else {
			// A broken invariant is a bug in core: the seed fails with it (DESIGN §8).
			panic(fmt.Sprintf("sim: node %d after %s: %v", n.cfg.ID, cause, err))
		}
	}
	done := 0
	// effect reports whether the next effect may run; at an armed crash point it crashes the
	// node instead.
	effect := func() bool {
		switch {
		case n.crashCountdown == 0:
			inc.tracef("armed crash before effect %d of %d", done, effectCount(r))
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
	for _, resp := range r.Responses {
		if !effect() {
			return
		}
		inc.respond(resp)
	}
	for _, c := range r.Closes {
		if !effect() {
			return
		}
		if nc, ok := inc.conns[c]; ok {
			nc.requestClose()
		}
	}
	if len(r.Checkpoints) > 0 {
		if !effect() {
			return
		}
		inc.queueCheckpoints(r.Checkpoints)
	}
	if r.Fatal == nil {
		defer inc.maybeListen()
		defer inc.sendToController(r.Sends)
	}
	if r.Fatal != nil {
		// The page cache is not trusted after a storage failure: the process stops and
		// restarts with recovery. A power loss covers every outcome a process exit could
		// leave (unsynced data kept, lost or torn).
		n.lastFatal = r.Fatal
		n.Crash()
		return
	}
	inc.setDeadline(r.NextDeadlineMs)
	inc.shutdownCheck()
	if h := n.hooks.BrokerObserved; h != nil && !inc.dead {
		h(n)
	}
}

// traceReady adds one line naming the Ready's effects.
func (inc *incarnation) traceReady(cause string, r broker.Ready) {
	// Built with appends into a reused buffer: a run traces a Ready for nearly every event.
	b := append(inc.traceBuf[:0], "node"...)
	b = strconv.AppendInt(b, int64(inc.n.cfg.ID), 10)
	b = append(append(append(b, " ready ("...), cause...), ')')
	for _, s := range r.Syncs {
		b = strconv.AppendInt(append(b, " sync:"...), int64(s.ID), 10)
		b = strconv.AppendInt(append(b, "/upto="...), int64(s.Req.UpTo), 10)
	}
	for _, op := range r.FileOps {
		b = strconv.AppendInt(append(b, " fileop:"...), int64(op.ID), 10)
		b = strconv.AppendInt(append(b, '/'), int64(len(op.Ops)), 10)
	}
	for _, resp := range r.Responses {
		b = strconv.AppendInt(append(b, " resp:c"...), int64(resp.Conn), 10)
		b = strconv.AppendInt(append(b, "/key="...), int64(resp.Header.APIKey), 10)
		b = strconv.AppendInt(append(b, "/corr="...), int64(resp.Header.CorrelationID), 10)
		if resp.Body == nil {
			b = append(b, "/none"...)
		}
		for _, rd := range resp.Reads {
			b = strconv.AppendInt(append(b, "/read="...), int64(rd.Plan.FirstOffset), 10)
			b = strconv.AppendInt(append(b, '-'), int64(rd.Plan.NextOffset), 10)
			b = strconv.AppendInt(append(b, "/ranges="...), int64(len(rd.Plan.Ranges)), 10)
		}
	}
	for _, c := range r.Closes {
		b = strconv.AppendInt(append(b, " close:c"...), int64(c), 10)
	}
	for _, c := range r.Checkpoints {
		b = append(append(append(append(b, " checkpoint:"...), c.Dir...), '/'), c.Name...)
	}
	for _, s := range r.Sends {
		b = strconv.AppendInt(append(b, " send:key="...), int64(s.Request.Key()), 10)
		b = strconv.AppendInt(append(b, "/corr="...), int64(s.CorrelationID), 10)
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

// submitSync runs a sync on the flusher that frees up first (the pool's queue), after the
// disk's latency, then reports it: Req.Run happens at completion, so a crash before then
// leaves the data unsynced.
func (inc *incarnation) submitSync(s broker.Sync) {
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
	inc.scheduleNamed(doneNs, n.eventNameUint("sync ", uint64(s.ID)), func() {
		inc.outstanding--
		err := s.Req.Run(inc.fsys)
		n.stats.SyncsRun++
		if err != nil {
			n.stats.SyncErrors++
		}
		inc.traceLine(inc.lineBuf().str("synced ").num(int64(s.ID)).str(": ").err(err))
		inc.execute("synced", inc.node.Synced(inc.clocks(), s.ID, err))
	})
}

// reportCut hands the Node a read plan served short, as netio's EventReadCut does: a loop
// event after the write, not a call from inside it.
func (inc *incarnation) reportCut(tp storage.TopicPartition, offset record.Offset) {
	inc.schedule(inc.n.w.NowNs(), "read cut", func() {
		inc.execute("read cut", inc.node.ReadCut(inc.clocks(), tp, offset))
	})
}

// submitBackground queues a job on the one background worker: jobs run in order.
func (inc *incarnation) submitBackground(what string, run func()) {
	n := inc.n
	start := max(n.w.NowNs(), inc.backgroundNs)
	doneNs := start + n.draw(n.cfg.BackgroundNsMin, n.cfg.BackgroundNsMax)
	inc.backgroundNs = doneNs
	inc.outstanding++
	inc.schedule(doneNs, what, func() {
		inc.outstanding--
		run()
	})
}

// queueCheckpoints hands a set of checkpoint files to the background worker, replacing a set
// it has not picked up yet (each set is complete), as cmd/weir's queueCheckpoints does.
// Nothing waits on checkpoints, so the job is not outstanding.
func (inc *incarnation) queueCheckpoints(files []storage.CheckpointFile) {
	inc.checkpoints = files
	if inc.checkpointQueued {
		return
	}
	inc.checkpointQueued = true
	n := inc.n
	start := max(n.w.NowNs(), inc.backgroundNs)
	doneNs := start + n.draw(n.cfg.BackgroundNsMin, n.cfg.BackgroundNsMax)
	inc.backgroundNs = doneNs
	inc.schedule(doneNs, "checkpoints", func() {
		files := inc.checkpoints
		inc.checkpoints, inc.checkpointQueued = nil, false
		for _, f := range files {
			err := diskio.WriteFileAtomic(inc.fsys, f.Dir, f.Name, f.Data)
			n.stats.CheckpointWrites++
			if err != nil {
				// Nothing waits on a checkpoint: a stale one only makes recovery scan more.
				n.stats.CheckpointErrors++
				inc.tracef("checkpoint %s/%s: %v", f.Dir, f.Name, err)
			}
		}
	})
}

// deadlineTimer is one of a process's timers (the broker's, the controller's): the event armed
// for its Node's next deadline.
type deadlineTimer struct {
	id         EventID
	gen        uint64 // bumped whenever the timer is re-armed: a held timer event of an older one is void
	deadlineMs int64
}

// setDeadline arms the broker's timer for the Node's next deadline.
func (inc *incarnation) setDeadline(deadlineMs int64) {
	inc.armTimer(&inc.timer, deadlineMs, "timer ", func() { inc.execute("timer", inc.node.Timer(inc.clocks())) })
}

// armTimer arms t for deadlineMs (monotonic ms; 0 = none), at least a millisecond away as
// cmd/weir arms it, fired up to TimerLateNsMax late; onFire runs the Node's Timer.
func (inc *incarnation) armTimer(t *deadlineTimer, deadlineMs int64, label string, onFire func()) {
	if deadlineMs == t.deadlineMs {
		return
	}
	t.deadlineMs = deadlineMs
	t.gen++
	n := inc.n
	if t.id != 0 {
		n.w.Cancel(t.id)
		delete(inc.jobs, t.id)
		t.id = 0
	}
	if deadlineMs == 0 {
		return
	}
	waitMs := max(deadlineMs-inc.clocks().MonotonicMs, 1)
	at := n.w.NowNs() + waitMs*1e6 + n.draw(0, n.cfg.TimerLateNsMax)
	gen := t.gen
	var fire func()
	fire = func() {
		if gen != t.gen {
			return // re-armed while the timer was held by a pause
		}
		if inc.held(fire) {
			t.id = 0 // the held event stands for the timer; armTimer re-arms by generation
			return
		}
		t.id = 0
		t.deadlineMs = 0
		onFire()
	}
	var id EventID
	id = n.w.At(at, n.eventNameInt(label, deadlineMs), func() {
		delete(inc.jobs, id)
		fire()
	})
	inc.jobs[id] = true
	t.id = id
}

// sortedKeys returns a map's keys in ascending order, for deterministic iteration.
func sortedKeys[K ~uint64, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	//purity:allow-map-range the keys are sorted below
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
