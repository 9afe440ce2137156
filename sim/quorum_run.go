package sim

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"time"

	"github.com/weirdata/weir/core/quorum"
)

// QuorumKnobs are a quorum run's settings drawn from its seed.
type QuorumKnobs struct {
	Voters, Observers int
	// Clients is how many admin clients play brokers' lifecycles, BrokersPerClient broker ids
	// each.
	Clients, BrokersPerClient int
	// SnapshotBytesBetween is metadata.log.max.record.bytes.between.snapshots; SegmentBytes
	// metadata.log.segment.bytes (small ones make snapshots, log cuts and FetchSnapshot common).
	SnapshotBytesBetween, SegmentBytes int64
	// HeartbeatMs is broker.heartbeat.interval.ms; SessionTimeoutMs broker.session.timeout.ms.
	HeartbeatMs      int64
	SessionTimeoutMs int32
	// ReregisterPct is the chance, per heartbeat, that a broker restarts (registers again).
	ReregisterPct int
	// SnapshotIntervalMs is metadata.log.max.snapshot.interval.ms.
	SnapshotIntervalMs int64
	// FaultGapMs is the mean time between two faults of one class.
	FaultGapMs int64
	// ElectionTimeoutMs is controller.quorum.election.timeout.ms; the fetch and request
	// timeouts are twice it, the fetch max wait half (Kafka's ratios).
	ElectionTimeoutMs int64
	// FetchEntriesMax bounds one fetch response's entries; SnapshotChunkBytes one
	// FetchSnapshot chunk (small ones make catching up take many rounds).
	FetchEntriesMax    int32
	SnapshotChunkBytes int32
}

func drawQuorumKnobs(r *rand.Rand) QuorumKnobs {
	pick := func(options ...int64) int64 { return options[r.IntN(len(options))] }
	k := QuorumKnobs{
		Voters:               int(pick(3, 3, 5)),
		Observers:            1 + r.IntN(2),
		Clients:              1 + r.IntN(4),
		SnapshotBytesBetween: pick(1<<10, 8<<10, 20<<20),
		SegmentBytes:         pick(2<<10, 64<<10, 1<<30),
		HeartbeatMs:          pick(250, 1000, 2000),
		SessionTimeoutMs:     int32(pick(3000, 9000)),
		ReregisterPct:        int(pick(1, 5, 20)),
		BrokersPerClient:     1 + r.IntN(4),
	}
	// Knobs added later are drawn last, so older draws stay put.
	k.SnapshotIntervalMs = pick(1000, 3600_000)
	if r.IntN(3) == 0 {
		k.HeartbeatMs = 100 // a busy cluster: many records, snapshots and log cuts
	}
	k.FaultGapMs = pick(500, 2000, 2000, 5000)
	k.ElectionTimeoutMs = pick(1000, 1000, 250)
	k.FetchEntriesMax = int32(pick(1024, 1024, 16, 2))
	k.SnapshotChunkBytes = int32(pick(1<<20, 1<<20, 256))
	return k
}

func (k QuorumKnobs) String() string {
	return fmt.Sprintf("voters=%d observers=%d clients=%dx%d snapshot-every=%dB/%dms segment=%dB heartbeat=%dms session=%dms reregister=%d%% fault-gap=%dms election=%dms fetch-entries=%d snapshot-chunk=%dB",
		k.Voters, k.Observers, k.Clients, k.BrokersPerClient, k.SnapshotBytesBetween, k.SnapshotIntervalMs, k.SegmentBytes, k.HeartbeatMs, k.SessionTimeoutMs, k.ReregisterPct, k.FaultGapMs,
		k.ElectionTimeoutMs, k.FetchEntriesMax, k.SnapshotChunkBytes)
}

// QuorumOptions describe one simulated run of a metadata quorum.
type QuorumOptions struct {
	Seed uint64
	// DurationNs is the virtual time the workload and faults run; then faults heal, and a
	// leader must be elected and every node caught up within LivenessNs.
	DurationNs, LivenessNs int64
	// Voters, when 3 or 5, overrides the drawn voter count.
	Voters int
	// Faults, when set, are exactly the fault classes to inject (ParseFaults; corrupt and
	// full do not apply to quorum runs); empty draws them from the seed.
	Faults string
	// Trace, when set, receives every trace line.
	Trace io.Writer
}

// DefaultQuorumOptions is a quorum run of seed: 20 virtual seconds of workload and faults, a
// minute to recover.
func DefaultQuorumOptions(seed uint64) QuorumOptions {
	return QuorumOptions{Seed: seed, DurationNs: 20 * int64(time.Second), LivenessNs: 60 * int64(time.Second)}
}

// QuorumResult is what a quorum run did and found.
type QuorumResult struct {
	Seed      uint64
	Knobs     QuorumKnobs
	TraceHash string
	Events    int64
	VirtualNs int64
	// History is what the admin clients saw; MaxEpoch the highest quorum epoch; EndOffset the
	// final leader's log end.
	History   QuorumHistory
	MaxEpoch  int64
	EndOffset int64
	Faults    string
	// Failure is "" for a passing run, else why it failed, naming the invariant.
	Failure string
}

// Passed reports whether the run found nothing wrong.
func (r QuorumResult) Passed() bool { return r.Failure == "" }

// Summary is the run in a few lines.
func (r QuorumResult) Summary() string {
	var b strings.Builder
	v := "pass"
	if !r.Passed() {
		v = "FAIL: " + r.Failure
	}
	fmt.Fprintf(&b, "quorum seed %d: %s\n", r.Seed, v)
	fmt.Fprintf(&b, "  knobs: %s\n", r.Knobs)
	fmt.Fprintf(&b, "  %d events, %.1f virtual s, trace %s\n", r.Events, float64(r.VirtualNs)/1e9, r.TraceHash[:16])
	fmt.Fprintf(&b, "  registrations acknowledged %d, producer id blocks %d, heartbeats %d, not-controller %d, errors %d, unknown %d; max epoch %d, log end %d\n",
		len(r.History.Registrations), len(r.History.ProducerIDs), r.History.Heartbeats, r.History.NotController, r.History.Errors, r.History.Unknown, r.MaxEpoch, r.EndOffset)
	fmt.Fprintf(&b, "  %s", r.Faults)
	return b.String()
}

// quorumWorkloadStartNs is when the admin clients and faults start.
const quorumWorkloadStartNs = int64(time.Second)

// quorumCluster is one quorum run's world.
type quorumCluster struct {
	opts    QuorumOptions
	w       *World
	network *Network
	knobs   QuorumKnobs
	nodes   []*ControllerNode
	clients []*adminClient
	faults  *quorumFaults
	checker *quorumChecker
	history QuorumHistory
	healNs  int64
	// adjust, when set, changes the drawn knobs before anything is built (scenarios).
	adjust func(*QuorumKnobs)
	// lyingSyncs gives every node a disk that lies about fsync (tests only).
	lyingSyncs bool
}

// RunQuorum runs one seed of a metadata quorum (voters and observers) under faults, with admin
// clients registering brokers, then checks the quorum's invariants. It never panics: a panic
// ends the run as a failure naming it.
func RunQuorum(opts QuorumOptions) QuorumResult { return runQuorum(opts, nil) }

// runQuorum is RunQuorum with tweak, when set, changing the cluster before it is built.
func runQuorum(opts QuorumOptions, tweak func(c *quorumCluster)) (res QuorumResult) {
	res.Seed = opts.Seed
	c := &quorumCluster{opts: opts, w: NewWorld(opts.Seed)}
	if tweak != nil {
		tweak(c)
	}
	c.w.SetTraceWriter(opts.Trace)
	defer func() {
		if p := recover(); p != nil {
			res.Failure = fmt.Sprintf("panic: %v", p)
			c.w.Tracef("panic: %v\n%s", p, debug.Stack())
		}
		c.result(&res)
	}()
	if err := c.setUp(); err != nil {
		res.Failure = "set-up: " + err.Error()
		return res
	}
	c.w.RunUntil(c.healNs)
	for _, a := range c.clients {
		a.stop()
	}
	res.Failure = c.finish()
	return res
}

func (c *quorumCluster) setUp() error {
	opts := c.opts
	c.knobs = drawQuorumKnobs(c.w.Rand("quorum/knobs"))
	if opts.Voters == 3 || opts.Voters == 5 {
		c.knobs.Voters = opts.Voters
	} else if opts.Voters != 0 {
		return fmt.Errorf("voters %d: want 3 or 5", opts.Voters)
	}
	if c.adjust != nil {
		c.adjust(&c.knobs)
	}
	c.network = NewNetwork(c.w, DefaultNetworkConfig())
	c.checker = newQuorumChecker(c.w)
	c.healNs = quorumWorkloadStartNs + opts.DurationNs
	fcfg := DefaultFaultConfig(quorumWorkloadStartNs, c.healNs)
	fcfg.GapNsMean = c.knobs.FaultGapMs * 1e6
	if opts.Faults != "" {
		classes, err := ParseFaults(opts.Faults)
		if err != nil {
			return err
		}
		fcfg.Classes, fcfg.Override = classes, true
	}
	c.faults = newQuorumFaults(c.w, c.network, fcfg)
	var voters []int32
	for i := range c.knobs.Voters {
		voters = append(voters, int32(i+1))
	}
	ids := append([]int32(nil), voters...)
	for i := range c.knobs.Observers {
		ids = append(ids, int32(101+i))
	}
	r := c.w.Rand("quorum/nodes")
	var addrs []string
	for _, id := range ids {
		cfg := DefaultControllerNodeConfig(id, voters)
		if id > 100 {
			cfg.Host = fmt.Sprintf("obs%d", id)
		}
		cfg.SnapshotBytesBetween = c.knobs.SnapshotBytesBetween
		cfg.SnapshotIntervalMs = c.knobs.SnapshotIntervalMs
		cfg.SegmentBytes = c.knobs.SegmentBytes
		cfg.SessionTimeoutMs = c.knobs.SessionTimeoutMs
		cfg.DriftPpm = r.Int64N(201) - 100
		k := c.knobs
		cfg.AdjustQuorum = func(q *quorum.Config) {
			q.ElectionTimeoutMs, q.ElectionBackoffMaxMs = k.ElectionTimeoutMs, k.ElectionTimeoutMs
			q.FetchTimeoutMs, q.RequestTimeoutMs = 2*k.ElectionTimeoutMs, 2*k.ElectionTimeoutMs
			q.FetchMaxWaitMs = int32(k.ElectionTimeoutMs / 2)
			q.FetchEntriesMax, q.SnapshotChunkBytesMax = k.FetchEntriesMax, k.SnapshotChunkBytes
		}
		cfg.RequestTimeoutNs = 2 * k.ElectionTimeoutMs * 1e6
		cfg.lyingSyncs = c.lyingSyncs
		c.faults.configure(&cfg)
		n, err := NewControllerNode(c.w, c.network, cfg)
		if err != nil {
			return err
		}
		n.SetHooks(ControllerHooks{
			Crashed:   c.faults.crashed,
			Restarted: func(n *ControllerNode, recovered quorum.State) { c.checker.restarted(n, recovered) },
			Observe:   func(n *ControllerNode) { c.checker.observe(n) },
		})
		c.checker.observe(n)
		c.nodes = append(c.nodes, n)
		if n.Voter() {
			addrs = append(addrs, n.Addr())
		}
	}
	for i := range c.knobs.Clients {
		var ids []int32
		for j := range c.knobs.BrokersPerClient {
			ids = append(ids, int32(1000+10*i+j))
		}
		a := newAdminClient(c.w, c.network, fmt.Sprintf("admin%d", i+1), ids, addrs, c.knobs, "weir-sim-quorum", &c.history)
		a.start(quorumWorkloadStartNs + r.Int64N(int64(time.Second)))
		c.clients = append(c.clients, a)
	}
	c.faults.start(c.nodes)
	return nil
}

// members are the nodes, for the checker.
func (c *quorumCluster) members() []quorumMember {
	members := make([]quorumMember, len(c.nodes))
	for i, n := range c.nodes {
		members[i] = n
	}
	return members
}

// leader is the active controller of the highest epoch among the nodes that are up, or nil.
func (c *quorumCluster) leader() *ControllerNode {
	var best *ControllerNode
	for _, n := range c.nodes {
		if !n.Up() || n.Node().Role() != quorum.RoleLeader || !n.Node().Active() {
			continue
		}
		if best == nil || n.Node().QuorumState().Epoch > best.Node().QuorumState().Epoch {
			best = n
		}
	}
	return best
}

// converged reports whether an active leader's log is committed and every node (observers
// too) has applied it to its end.
func (c *quorumCluster) converged() bool {
	l := c.leader()
	if l == nil {
		return false
	}
	end := l.Log().EndOffset()
	if l.Node().HighWatermark() != end {
		return false
	}
	for _, n := range c.nodes {
		if !n.Up() || n.Paused() {
			return false
		}
		if _, applied := n.Node().Image(); applied != end {
			return false
		}
	}
	return true
}

// finish waits for liveness after healing, then runs the end checks.
func (c *quorumCluster) finish() string {
	if f := c.checker.failure(); f != "" {
		return f
	}
	limit := c.healNs + c.opts.LivenessNs
	if !c.w.RunUntilTrue(c.converged, limit) {
		return fmt.Sprintf("liveness: within %ds of healing, no leader was elected with every node applying its log end: %s",
			c.opts.LivenessNs/1e9, c.describe())
	}
	c.w.Tracef("converged: %s", c.describe())
	c.checker.checkLogMatching(c.members())
	c.checker.checkBrokerEpochs(c.members())
	c.checker.checkRegistrations(c.members(), &c.history)
	c.checker.checkProducerIDs(c.members(), &c.history)
	return c.checker.failure()
}

// describe is every node's position, for a liveness failure.
func (c *quorumCluster) describe() string {
	var parts []string
	for _, n := range c.nodes {
		if !n.Up() {
			parts = append(parts, fmt.Sprintf("ctl%d down (last fatal: %v)", n.ID(), n.LastFatal()))
			continue
		}
		node := n.Node()
		_, applied := node.Image()
		parts = append(parts, fmt.Sprintf("ctl%d %s %s active=%v hw=%d applied=%d end=%d", n.ID(), node.Role(), node.QuorumState(),
			node.Active(), node.HighWatermark(), applied, n.Log().EndOffset()))
	}
	return strings.Join(parts, "; ")
}

func (c *quorumCluster) result(res *QuorumResult) {
	res.Knobs = c.knobs
	res.TraceHash = c.w.TraceHash()
	res.Events = c.w.Executed()
	res.VirtualNs = c.w.NowNs()
	res.History = c.history
	//purity:allow-map-range the maximum does not depend on the order
	for e := range c.checker.leaders {
		res.MaxEpoch = max(res.MaxEpoch, int64(e))
	}
	if l := c.leader(); l != nil {
		res.EndOffset = int64(l.Log().EndOffset())
	}
	fs := "none"
	if c.faults != nil {
		fs = c.faults.classes.String() + ": " + c.faults.stats.String()
	}
	res.Faults = "faults " + fs
}
