package controller

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/wire"
	"github.com/weirdata/weir/diskio"
)

// NodeConfig configures a Node.
type NodeConfig struct {
	// Quorum is this node's quorum membership: its id and the static voters. A node whose id
	// is not a voter is an observer (a broker-only process).
	Quorum quorum.Config
	// Wire translates quorum messages to Kafka's RPCs (cluster id, this node's endpoint).
	Wire quorum.Wire
	// VoterEndpoints are the voters' controller listeners (controller.quorum.voters), which
	// DescribeQuorum reports.
	VoterEndpoints map[quorum.NodeID]quorum.Endpoint
	// Controller configures the active controller's logic; nil on a node without the
	// controller role, which then never answers controller commands.
	Controller *Config
	// Versions is what the controller listener advertises and accepts (ControllerVersions).
	Versions wire.VersionTable
	// FS and StateDir locate the quorum-state file (Kafka keeps it in the metadata log's
	// partition directory).
	FS       diskio.FS
	StateDir string
	// SnapshotBytesBetween is metadata.log.max.record.bytes.between.snapshots: a snapshot of
	// the committed image is taken once this many record bytes were applied since the last.
	SnapshotBytesBetween int64
	// SnapshotIntervalMs is metadata.log.max.snapshot.interval.ms: a snapshot is also taken
	// when this long has passed since the last and records were applied since; 0 turns it off.
	SnapshotIntervalMs int64
	// ConnRequestsMax bounds one inbound connection's requests awaiting their response.
	ConnRequestsMax int
	// PendingCommandsMax bounds the commands awaiting the commit of their records; a command
	// past it is answered with REQUEST_TIMED_OUT rather than queued.
	PendingCommandsMax int
	// OutboundMax bounds the requests this node remembers as sent and unanswered (their
	// answers are matched by correlation id); the oldest is forgotten past it.
	OutboundMax int
}

// DefaultNodeConfig is Kafka's defaults for a node with the given quorum membership.
func DefaultNodeConfig(q quorum.Config, fsys diskio.FS, stateDir string) NodeConfig {
	return NodeConfig{
		Quorum: q, Versions: ControllerVersions(), FS: fsys, StateDir: stateDir,
		SnapshotBytesBetween: 20 << 20, SnapshotIntervalMs: 3600_000,
		ConnRequestsMax: 64, PendingCommandsMax: 1024, OutboundMax: 4096,
	}
}

func (c *NodeConfig) validate() error {
	if err := c.Quorum.Validate(); err != nil {
		return err
	}
	if c.FS == nil || c.StateDir == "" {
		return errors.New("controller: node config needs the file system and the quorum-state directory")
	}
	if c.SnapshotBytesBetween < 1 || c.SnapshotIntervalMs < 0 {
		return fmt.Errorf("controller: snapshot bounds %d bytes, %d ms", c.SnapshotBytesBetween, c.SnapshotIntervalMs)
	}
	if c.ConnRequestsMax < 1 || c.PendingCommandsMax < 1 || c.OutboundMax < 1 {
		return fmt.Errorf("controller: bounds must be positive (conn requests %d, pending commands %d, outbound %d)",
			c.ConnRequestsMax, c.PendingCommandsMax, c.OutboundMax)
	}
	if c.Controller != nil {
		if !slices.Contains(c.Quorum.Voters, c.Quorum.ID) {
			return fmt.Errorf("controller: node %d has the controller role but is not one of the voters %v", c.Quorum.ID, c.Quorum.Voters)
		}
		if c.Controller.NodeID != int32(c.Quorum.ID) {
			return fmt.Errorf("controller: controller config for node %d on node %d", c.Controller.NodeID, c.Quorum.ID)
		}
	}
	return nil
}

// Node is one process's part in the metadata quorum: a voter (a controller) or an observer (a
// broker-only process) of __cluster_metadata, the committed image it replays, and, on the
// quorum leader of a controller, the active controller, which turns commands into records and
// answers them once they commit. It serves the controller listener: the quorum's RPCs, and on
// controllers DescribeQuorum and the controller commands.
//
// It is not safe for concurrent use: one driver calls it, one event at a time, and executes
// the Ready each call returns.
type Node struct {
	cfg  NodeConfig
	q    *quorum.Node
	log  *metadata.QuorumLog
	wire quorum.Wire
	ctl  *Controller
	now  Clocks

	// The committed image: every record below applied, replayed.
	image   *metadata.Image
	applied record.Offset
	// published is the offset of the last Committed handed out; leader changes publish too.
	published       record.Offset
	publishedLeader quorum.State

	snapshots snapshotState

	// active is the active controller's state; nil unless this node leads and has caught up.
	active *activeState

	conns       map[ConnID]*conn
	inbound     map[int32]*inboundRequest
	nextInbound int32
	outbound    outboundRequests

	// quorumDeadlineMs is the quorum member's last NextDeadlineMs.
	quorumDeadlineMs int64

	flushWanted bool
	syncs       map[SyncID]log.SyncRequest // metadata log syncs in flight
	nextSyncID  SyncID
	nextOpID    OpID

	out   Ready
	fatal error
}

// NewNode starts a Node over a recovered quorum log and the persisted quorum state
// (quorum.ReadStateFile). The committed image starts at the newest snapshot (snapshots hold
// committed records only); records above it are applied as the high watermark passes them.
// The driver executes the returned Ready.
func NewNode(cfg NodeConfig, qlog *metadata.QuorumLog, persisted quorum.State, rng *rand.Rand, now Clocks) (*Node, Ready, error) {
	if err := cfg.validate(); err != nil {
		return nil, Ready{}, err
	}
	if qlog == nil || rng == nil {
		return nil, Ready{}, errors.New("controller: NewNode needs a quorum log and a PRNG")
	}
	qlog.SetNowMs(now.WallMs)
	q, err := quorum.New(cfg.Quorum, qlog, persisted, rng, now.MonotonicMs)
	if err != nil {
		return nil, Ready{}, fmt.Errorf("controller: start node %d's quorum member: %w", cfg.Quorum.ID, err)
	}
	n := &Node{
		cfg: cfg, q: q, log: qlog, wire: cfg.Wire, now: now,
		image:   metadata.EmptyImage(),
		conns:   make(map[ConnID]*conn),
		inbound: make(map[int32]*inboundRequest),
		syncs:   make(map[SyncID]log.SyncRequest),
	}
	n.outbound.init()
	if cfg.Controller != nil {
		if n.ctl, err = New(*cfg.Controller, rng); err != nil {
			return nil, Ready{}, err
		}
	}
	if id, ok := qlog.LatestSnapshot(); ok {
		sid := metadata.SnapshotID{EndOffset: id.EndOffset, Epoch: id.Epoch}
		img, _, err := qlog.LoadSnapshot(sid)
		if err != nil {
			return nil, Ready{}, fmt.Errorf("controller: node %d: %w", cfg.Quorum.ID, err)
		}
		n.image, n.applied = img, id.EndOffset
		n.snapshots.lastEnd = id.EndOffset
	}
	n.snapshots.lastMs = now.MonotonicMs
	n.published = -1
	n.begin(now)
	qr, err := q.Tick(now.MonotonicMs)
	n.handleQuorum(qr, err)
	return n, n.ready(), nil
}

// Image is the committed image and the offset below which it holds every record.
func (n *Node) Image() (*metadata.Image, record.Offset) { return n.image, n.applied }

// QuorumState is the quorum member's current state (epoch, vote, leader).
func (n *Node) QuorumState() quorum.State { return n.q.State() }

// Role is the quorum member's current role.
func (n *Node) Role() quorum.Role { return n.q.Role() }

// HighWatermark is the quorum's high watermark as this node knows it.
func (n *Node) HighWatermark() record.Offset { return n.q.HighWatermark() }

// Active reports whether this node is the active controller (the quorum leader, caught up with
// every entry of earlier epochs).
func (n *Node) Active() bool { return n.active != nil }

// Timer is called at (or after) the NextDeadlineMs a Ready asked for.
func (n *Node) Timer(now Clocks) Ready {
	if n.begin(now) {
		qr, err := n.q.Tick(now.MonotonicMs)
		n.handleQuorum(qr, err)
		// The controller's own timer work runs in ready (updateActive), once a leadership the
		// quorum's Tick may have given up is deactivated: proposing first would fail.
		n.outbound.expire(now.MonotonicMs)
	}
	return n.ready()
}

// Synced reports a Sync's outcome. A failed sync of the metadata log is fatal: the page cache
// is not trusted any more.
func (n *Node) Synced(now Clocks, id SyncID, err error) Ready {
	req, ok := n.syncs[id]
	if !ok {
		panic(fmt.Sprintf("controller: invariant: Synced(%d) for a sync not handed out", id))
	}
	delete(n.syncs, id)
	if n.begin(now) {
		n.log.Synced(req, err)
		if err != nil {
			n.fail(fmt.Errorf("controller: sync the metadata log: %w", err))
		} else {
			qr, qerr := n.q.Flushed(now.MonotonicMs)
			n.handleQuorum(qr, qerr)
		}
	}
	return n.ready()
}

// Done reports that a FileOp ran. A failed removal leaves a file the next start removes or
// ignores; it is only logged.
func (n *Node) Done(now Clocks, id OpID, err error) Ready {
	if n.begin(now) && err != nil {
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("controller: file operations %d: %w", id, err))
	}
	return n.ready()
}

// Resign gives up quorum leadership before a shutdown, so the other voters elect a successor
// without waiting out their fetch timeouts.
func (n *Node) Resign(now Clocks) Ready {
	if n.begin(now) {
		n.handleQuorum(n.q.Resign(now.MonotonicMs), nil)
	}
	return n.ready()
}

// begin starts an event; false when the node has failed and must not act.
func (n *Node) begin(now Clocks) bool {
	if now.MonotonicMs < n.now.MonotonicMs {
		panic(fmt.Sprintf("controller: invariant: the monotonic clock went back from %d to %d", n.now.MonotonicMs, now.MonotonicMs))
	}
	n.now = now
	n.out = Ready{}
	n.log.SetNowMs(now.WallMs)
	return n.fatal == nil
}

// fail records a fatal error: the driver stops the process.
func (n *Node) fail(err error) {
	if n.fatal == nil {
		n.fatal = err
	}
}

// ready completes the event: flushes asked for, commits applied, commands answered,
// snapshots started, and the Ready handed out.
func (n *Node) ready() Ready {
	if n.fatal == nil {
		n.settle()
	}
	r := n.out
	n.out = Ready{}
	if n.fatal != nil {
		r.Fatal = n.fatal
		r.NextDeadlineMs = 0
		return r
	}
	r.NextDeadlineMs = n.nextDeadlineMs()
	return r
}

// settle runs the follow-ups of an event until nothing changes: a flush with nothing to sync
// completes at once, which may move the high watermark, which commits records, which answers
// commands and may activate the controller, which appends records of its own.
func (n *Node) settle() {
	for range 16 {
		if n.fatal != nil {
			return
		}
		progressed := false
		if n.flushWanted && len(n.syncs) == 0 {
			n.flushWanted = false
			if req, ok := n.log.PendingSync(); ok {
				n.nextSyncID++
				n.syncs[n.nextSyncID] = req
				n.out.Syncs = append(n.out.Syncs, Sync{ID: n.nextSyncID, Req: req})
			} else {
				qr, err := n.q.Flushed(n.now.MonotonicMs)
				n.handleQuorum(qr, err)
				progressed = true
			}
		}
		if n.applyCommitted() {
			progressed = true
		}
		if n.updateActive() {
			progressed = true
		}
		if !progressed {
			break
		}
	}
	n.maybeSnapshot()
	n.publish()
}

// nextDeadlineMs is the earliest of the quorum's timer, the active controller's and the
// snapshot interval's.
func (n *Node) nextDeadlineMs() int64 {
	d := n.quorumDeadlineMs
	if n.active != nil {
		if t := n.active.nextTickMs; t > 0 {
			d = min(d, t)
		}
	}
	if t := n.outbound.nextExpiryMs(); t > 0 {
		d = min(d, t)
	}
	if n.cfg.SnapshotIntervalMs > 0 && n.applied > n.snapshots.lastEnd {
		d = min(d, n.snapshots.lastMs+n.cfg.SnapshotIntervalMs)
	}
	if d == math.MaxInt64 {
		return 0
	}
	return d
}

// publish hands the committed image to a co-located broker when it or the leader changed.
func (n *Node) publish() {
	s := n.q.State()
	if n.applied == n.published && s.LeaderID == n.publishedLeader.LeaderID && s.Epoch == n.publishedLeader.Epoch {
		return
	}
	n.published, n.publishedLeader = n.applied, s
	leader, epoch := leaderOf(s)
	n.out.Committed = &Committed{Image: n.image, Offset: n.applied, LeaderID: leader, LeaderEpoch: epoch}
}
