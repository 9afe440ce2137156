package sim

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weirdata/weir/core/broker"
	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/core/client"
	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/errorfs"
	"github.com/weirdata/weir/diskio/memfs"
)

// RunOptions describe one simulated run; everything else is drawn from the seed.
type RunOptions struct {
	Seed uint64
	// DurationNs is the virtual time the workload (and faults) run; then faults heal, every
	// operation must complete within LivenessNs, and final reads check the result.
	DurationNs int64
	LivenessNs int64
	// OpsPerSecond is the workload's rate across all clients, in virtual time.
	OpsPerSecond int
	// Trace, when set, receives every trace line with its virtual time.
	Trace io.Writer
	// Planted are deliberate bugs (core/buggify), for the tests that show each is caught.
	Planted []buggify.Bug
	// LinearizabilityTimeout bounds porcupine per partition (0: 10 s).
	LinearizabilityTimeout time.Duration
	// Faults, when set, are exactly the fault classes to inject ("net,crash", "all", "none":
	// ParseFaults); empty draws them from the seed.
	Faults string
	// Nodes is the number of broker processes: 0 or 1 is the embedded single-node default, 3 to
	// 5 a cluster whose quorum has Voters voters (1, 3 or 5; 0 draws it from the seed).
	Nodes, Voters int
	// Roles lays a cluster out: RolesCombined (the first Voters brokers are also controllers,
	// the others broker-only), RolesSeparate (Voters controller-only processes, every broker
	// broker-only), or "" to draw one from the seed.
	Roles string
	// ReplicationFactor is the workload topic's in a cluster: 3 (with min.insync.replicas=2)
	// or 0/1 for one replica per partition.
	ReplicationFactor int
	// Operator, with ReplicationFactor 3, has an operator act during the workload: preferred
	// leader elections and replica reassignments at drawn times (operator.go).
	Operator bool
	// Wipes, with ReplicationFactor 3, lets the fault plan replace one broker-only node's disk
	// with an empty one at a crash (at most one per run: one lost replica), as an operator
	// replacing a failed drive does (FaultPlan.SetWipe).
	Wipes bool
}

// A cluster's layouts (RunOptions.Roles).
const (
	RolesCombined = "combined"
	RolesSeparate = "separate"
)

// separateControllerBase is the first controller-only process's node id (101, 102, ...).
const separateControllerBase = 101

// DefaultRunOptions is a run of seed: 20 virtual seconds at 200 operations per second.
func DefaultRunOptions(seed uint64) RunOptions {
	return RunOptions{Seed: seed, DurationNs: 20 * int64(time.Second), LivenessNs: 120 * int64(time.Second), OpsPerSecond: 200}
}

// RunResult is what a run did and found.
type RunResult struct {
	Seed  uint64
	Knobs Knobs
	// Shape is the cluster's layout: brokers, voters and roles.
	Shape     string
	TraceHash string
	Events    int64
	VirtualNs int64
	Ops       int
	Produced  int64
	// Buggify names the buggify sites that fired, with counts; Faults the faults injected.
	Buggify string
	Faults  string
	Report  check.Report
	// Failure is "" for a passing run, else one line saying why it failed (an invariant
	// panic, an operation unanswered after the faults healed, a checker's anomalies).
	Failure string
	// History is the run's history, for saving a failing run.
	History check.History
}

// Passed reports whether the run found nothing wrong.
func (r RunResult) Passed() bool { return r.Failure == "" }

// Summary is the run in a few lines: seed, knobs, counts, verdict.
func (r RunResult) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %s\n", r.Seed, verdict(r))
	fmt.Fprintf(&b, "  %s; knobs: %s\n", r.Shape, r.Knobs)
	fmt.Fprintf(&b, "  %d events, %.1f virtual s, %d operations (%d records produced), trace %s\n",
		r.Events, float64(r.VirtualNs)/1e9, r.Ops, r.Produced, r.TraceHash[:16])
	fmt.Fprintf(&b, "  %s\n", r.Buggify)
	fmt.Fprintf(&b, "  %s\n", r.Faults)
	fmt.Fprintf(&b, "  checker: %s", r.Report)
	return b.String()
}

func verdict(r RunResult) string {
	if r.Passed() {
		return "pass"
	}
	return "FAIL: " + r.Failure
}

// runNode is the single-node run's broker id.
const runNode = 1

// workloadStartNs is when a single-node run's workload and faults start: setting up (the
// broker's start, the topic) must be done by then. clusterWorkloadStartNs is a cluster's: the
// quorum elects its leader, every broker registers and is unfenced, then the topic is created.
const (
	workloadStartNs        = int64(time.Second)
	clusterWorkloadStartNs = 10 * int64(time.Second)
)

// clusterID is the id a cluster run's nodes are formatted with.
const clusterID = "c2ltdWxhdGVkLWNsdXN0QQ"

// Validate checks the options' shape (nodes, voters).
func (o RunOptions) Validate() error { return clusterShape(&o, nil) }

// clusterShape checks a cluster run's node and voter counts, drawing the voters when 0 (with
// r; a nil r only checks).
func clusterShape(opts *RunOptions, r *rand.Rand) error {
	if opts.Nodes <= 1 {
		if opts.Voters > 1 || opts.Roles != "" && opts.Roles != RolesCombined {
			return fmt.Errorf("voters %d, roles %q: a single node is its own quorum's sole voter", opts.Voters, opts.Roles)
		}
		opts.Nodes, opts.Voters = 1, 1
		return nil
	}
	if opts.Roles != "" && opts.Roles != RolesCombined && opts.Roles != RolesSeparate {
		return fmt.Errorf("roles %q: want %s or %s", opts.Roles, RolesCombined, RolesSeparate)
	}
	if opts.Nodes < 3 || opts.Nodes > 5 {
		return fmt.Errorf("nodes %d: want 1, or 3 to 5", opts.Nodes)
	}
	if opts.ReplicationFactor != 0 && opts.ReplicationFactor != 1 && opts.ReplicationFactor != 3 {
		return fmt.Errorf("replication factor %d: want 1 or 3", opts.ReplicationFactor)
	}
	if r != nil && opts.Roles == "" {
		opts.Roles = []string{RolesCombined, RolesSeparate}[r.IntN(2)]
	}
	if opts.Voters == 0 && r != nil {
		choices := []int{1, 3}
		if opts.Nodes == 5 || opts.Roles == RolesSeparate {
			choices = append(choices, 5)
		}
		opts.Voters = choices[r.IntN(len(choices))]
	}
	if opts.Voters != 0 && opts.Voters != 1 && opts.Voters != 3 && opts.Voters != 5 {
		return fmt.Errorf("voters %d: want 1, 3 or 5", opts.Voters)
	}
	if opts.Voters > opts.Nodes && opts.Roles == RolesCombined {
		return fmt.Errorf("voters %d: a combined layout has at most its %d nodes as voters", opts.Voters, opts.Nodes)
	}
	return nil
}

// Run runs one seed to completion. It never panics: a panic in core (a broken invariant) or
// in the simulator ends the run as a failure naming it.
func Run(opts RunOptions) (res RunResult) {
	res.Seed = opts.Seed
	c := newCluster(opts)
	defer func() {
		if p := recover(); p != nil {
			res.Failure = fmt.Sprintf("panic: %v", p)
			c.w.Tracef("panic: %v\n%s", p, debug.Stack())
		}
		c.result(&res)
	}()
	if res.Failure = c.setUp(); res.Failure != "" {
		return res
	}
	c.startFaults()
	c.startWorkload(c.w.NowNs() + opts.DurationNs)
	c.w.RunUntil(c.stopNs)
	res.Failure = c.finish()
	return res
}

// cluster is one run's world: the broker, its clients and their history. Run drives it from
// the seed alone; scenarios (scenario_test.go) drive it step by step.
type cluster struct {
	opts    RunOptions
	w       *World
	network *Network
	// nodes are the brokers, by id (1, 2, ...); node is the first, a single-node run's broker.
	nodes []*Node
	node  *Node
	// controllers are a separate layout's controller-only processes.
	controllers []*ControllerNode
	checker     *quorumChecker
	startNs     int64
	knobs       Knobs
	bug         *buggify.B
	plan        *FaultPlan
	clients     []*ClientHost
	wl          *workload
	// admin is the admin client that created the workload topic; the operator uses it too.
	admin    *ClientHost
	operator *operator // RunOptions.Operator
	history  check.History
	report   check.Report
	stopNs   int64
	// damage records the disk damage a scenario names (its `damage` command), excused like
	// the fault plan's; nil in runs.
	damage *DamageLog
	// corruptor is the broker disk's Corruptor in scenarios with damage=on, idle until their
	// `misdirect` command arms it; nil in runs (the fault plan brings its own).
	corruptor *errorfs.Corruptor
	// Replication scenarios (replication_scenario_test.go) set these; runs leave them zero.
	// brokerAdjust changes every broker's config after the knobs (and a separate controller's
	// session timeout, sessionTimeoutMs, when not 0); topicConfigs override the workload
	// topic's configs by name; wiped are the nodes whose disk was replaced by an empty one.
	brokerAdjust     func(b *config.BrokerConfig)
	sessionTimeoutMs int32
	topicConfigs     []client.TopicConfig
	wiped            map[int32]bool
}

// newCluster draws the run's knobs and buggify from the seed; adjust, when set, changes the
// knobs before anything is built (a scenario pins what it needs).
func newCluster(opts RunOptions, adjust ...func(*Knobs)) *cluster {
	c := &cluster{opts: opts, w: NewWorld(opts.Seed)}
	if opts.Trace != nil {
		c.w.SetTraceWriter(opts.Trace)
	}
	if err := clusterShape(&c.opts, c.w.Rand("cluster/shape")); err != nil {
		panic(fmt.Sprintf("sim: RunOptions: %v", err)) // callers check it first (ValidateRunOptions)
	}
	c.startNs = workloadStartNs
	if c.clustered() {
		c.startNs = clusterWorkloadStartNs
	}
	c.knobs = drawKnobs(c.w.Rand("knobs"))
	if c.clustered() {
		// Enough partitions that every broker leads some (placement spreads them).
		c.knobs.Partitions = int32(c.opts.Nodes + c.w.Rand("cluster/partitions").IntN(c.opts.Nodes+1))
	}
	for _, f := range adjust {
		f(&c.knobs)
	}
	bugOpts := buggify.DefaultOptions()
	bugOpts.Planted = opts.Planted
	c.bug = buggify.New(c.w.Rand("buggify"), bugOpts)
	faults := DefaultFaultConfig(c.startNs, c.startNs+opts.DurationNs)
	if opts.Faults != "" {
		classes, err := ParseFaults(opts.Faults)
		if err != nil {
			panic(fmt.Sprintf("sim: RunOptions.Faults: %v", err)) // callers parse it first
		}
		faults.Classes, faults.Override = classes, true
	}
	c.plan = NewFaultPlan(c.w, faults)
	return c
}

// clustered reports whether the run is a cluster of several nodes.
func (c *cluster) clustered() bool { return c.opts.Nodes > 1 }

// result fills in what the run did.
func (c *cluster) result(res *RunResult) {
	res.Knobs, res.Buggify, res.Report = c.knobs, c.bug.String(), c.report
	res.Shape = "single node"
	if c.clustered() {
		res.Shape = fmt.Sprintf("%d brokers, %d voters (%s)", c.opts.Nodes, c.opts.Voters, c.opts.Roles)
	}
	ns := c.network.Stats()
	res.Faults = c.plan.Classes().String() + "; " + c.plan.Stats().String() +
		fmt.Sprintf("; network: %d stalls, %d reset held, %d reset unacknowledged", ns.Stalls, ns.StallResets, ns.UnackedResets)
	res.TraceHash, res.Events, res.VirtualNs = c.w.TraceHash(), c.w.Executed(), c.w.NowNs()
	res.Ops, res.History = len(c.history.Ops), c.history
	if c.wl != nil {
		res.Produced = c.wl.produced
	}
}

// setUp starts the broker, creates the topic and starts the clients; it returns a failure
// line or "".
func (c *cluster) setUp() string {
	c.w.Tracef("run seed %d knobs %s", c.opts.Seed, c.knobs)
	c.network = NewNetwork(c.w, DefaultNetworkConfig())
	c.checker = newQuorumChecker(c.w)
	c.checker.repl.damaged = c.nodeDamaged
	voters, voterHost := c.layOut()
	if c.opts.Roles == RolesSeparate {
		for _, id := range voters {
			cfg := DefaultControllerNodeConfig(id, voters)
			cfg.ClusterID = clusterID
			if c.sessionTimeoutMs > 0 {
				cfg.SessionTimeoutMs = c.sessionTimeoutMs
			}
			cfg.Buggify = c.bug
			n, err := NewControllerNode(c.w, c.network, cfg)
			if err != nil {
				return fmt.Sprintf("setup: %v", err)
			}
			n.SetHooks(ControllerHooks{
				Restarted: func(n *ControllerNode, recovered quorum.State) { c.checker.restarted(n, recovered) },
				Observe:   func(n *ControllerNode) { c.checker.observe(n) },
			})
			c.controllers = append(c.controllers, n)
		}
		c.plan.AddControllers(c.controllers)
	}
	for i := range c.opts.Nodes {
		nodeCfg := DefaultNodeConfig(int32(i + 1))
		if c.clustered() {
			nodeCfg.Voters, nodeCfg.VoterHost, nodeCfg.ClusterID = voters, voterHost, clusterID
		}
		nodeCfg.Adjust = c.knobs.adjust
		if c.brokerAdjust != nil {
			nodeCfg.Adjust = func(b *config.BrokerConfig) { c.knobs.adjust(b); c.brokerAdjust(b) }
		}
		nodeCfg.Buggify = c.bug
		c.plan.ConfigureNode(&nodeCfg)
		var node *Node
		if c.damage != nil {
			nodeCfg.DamageExplains = c.damage.Explains
			raw := func() diskio.FS {
				if node == nil {
					return nil
				}
				return node.Disk()
			}
			nodeCfg.Injector = c.damage.RemapBefore(raw, c.w.NowNs, nodeCfg.Injector)
		}
		if c.corruptor != nil {
			nodeCfg.Corruptor = c.corruptor
		}
		node, err := NewNode(c.w, c.network, nodeCfg)
		if err != nil {
			return fmt.Sprintf("setup: %v", err)
		}
		node.SetHooks(NodeHooks{
			QuorumRecovered:    func(n *Node, recovered quorum.State) { c.checker.restarted(n, recovered) },
			ControllerObserved: func(n *Node) { c.checker.observe(n) },
			BrokerObserved:     func(n *Node) { c.checker.observeBroker(n) },
		})
		c.nodes = append(c.nodes, node)
	}
	if c.clustered() {
		c.plan.SetLeaderHost(c.leaderHost)
	}
	c.node = c.nodes[0]
	if c.clustered() {
		// Kafka's brokers open their listeners once registered and unfenced: wait for all.
		if !c.w.RunUntilTrue(c.allServing, c.startNs) {
			return fmt.Sprintf("setup: the brokers did not all serve within %.3f virtual s: %s", float64(c.startNs)/1e9, c.describeNodes())
		}
	}

	// The topic, created by an admin client before the workload starts.
	var adminHistory check.History
	admin, err := NewClientHost(c.w, c.network, "admin", runClientConfig(c.bootstrapAddrs(), 0, false, c.knobs), &adminHistory)
	if err != nil {
		return fmt.Sprintf("setup: %v", err)
	}
	admin.CreateTopic(c.workloadTopicSpec())
	if !c.w.RunUntilTrue(func() bool { return admin.Pending() == 0 }, c.w.NowNs()+c.opts.LivenessNs) {
		return "setup: topic creation did not complete"
	}
	if r := admin.AdminResults(); len(r) != 1 || r[0].ErrorCode != 0 {
		return fmt.Sprintf("setup: topic creation: %+v", r)
	}
	c.admin = admin

	r := c.w.Rand("run")
	for i := 1; i <= c.knobs.Clients; i++ {
		idempotent := r.IntN(100) < c.knobs.IdempotentPct
		cfg := runClientConfig(c.bootstrapAddrs(), i, idempotent, c.knobs)
		cfg.Planted = c.bug
		host, err := NewClientHost(c.w, c.network, fmt.Sprintf("client%d", i), cfg, &c.history)
		if err != nil {
			return fmt.Sprintf("setup: %v", err)
		}
		c.clients = append(c.clients, host)
	}
	if c.w.NowNs() > c.startNs {
		return fmt.Sprintf("setup: took %.3f virtual s, more than the %.3f s allowed", float64(c.w.NowNs())/1e9, float64(c.startNs)/1e9)
	}
	c.w.RunUntil(c.startNs)
	return ""
}

// layOut is the cluster's voter ids and their hosts: the first brokers (combined), or
// controller-only processes (separate).
func (c *cluster) layOut() ([]int32, func(id int32) string) {
	var voters []int32
	for i := range c.opts.Voters {
		if c.opts.Roles == RolesSeparate {
			voters = append(voters, int32(separateControllerBase+i))
		} else {
			voters = append(voters, int32(i+1))
		}
	}
	host := func(id int32) string { return "node" + strconv.Itoa(int(id)) }
	if c.opts.Roles == RolesSeparate {
		host = func(id int32) string { return "ctl" + strconv.Itoa(int(id)) }
	}
	return voters, host
}

// members are every process of the metadata quorum, for the checker.
func (c *cluster) members() []quorumMember {
	var members []quorumMember
	for _, n := range c.controllers {
		members = append(members, n)
	}
	for _, n := range c.nodes {
		members = append(members, n)
	}
	return members
}

// leaderHost is the host of the active controller of the highest epoch among the processes
// that are up, or "".
func (c *cluster) leaderHost() string {
	host, best := "", int64(-1)
	for _, m := range c.members() {
		if !m.Up() {
			continue
		}
		ctl := m.controllerNode()
		if ctl == nil || ctl.Role() != quorum.RoleLeader {
			continue
		}
		if e := int64(ctl.QuorumState().Epoch); e > best {
			best = e
			switch n := m.(type) {
			case *Node:
				host = n.Host()
			case *ControllerNode:
				host = n.Host()
			}
		}
	}
	return host
}

// converged reports whether the quorum has a leader whose high watermark is its log end,
// every process applied that end, and every broker serves.
func (c *cluster) converged() bool {
	host := c.leaderHost()
	if host == "" {
		return false
	}
	var leader quorumMember
	for _, m := range c.members() {
		if h, ok := m.(interface{ Host() string }); ok && h.Host() == host {
			leader = m
		}
	}
	end := leader.quorumLog().EndOffset()
	if leader.controllerNode().HighWatermark() != end {
		return false
	}
	for _, m := range c.members() {
		if !m.Up() {
			return false
		}
		if _, applied := m.controllerNode().Image(); applied != end {
			return false
		}
	}
	return c.allServing() && c.replicasConverged()
}

// imagePartition is the workload topic's partition p in img; nil when img or it is missing.
func imagePartition(img *metadata.Image, p int32) *metadata.Partition {
	if img == nil {
		return nil
	}
	topic, ok := img.TopicByName(workloadTopic)
	if !ok {
		return nil
	}
	for _, part := range topic.Partitions() {
		if part.ID == p {
			return part
		}
	}
	return nil
}

// leaderImage is the committed image of the quorum leader's process; nil when none is known.
func (c *cluster) leaderImage() *metadata.Image {
	host := c.leaderHost()
	for _, m := range c.members() {
		if h, ok := m.(interface{ Host() string }); ok && h.Host() == host && m.Up() {
			img, _ := m.controllerNode().Image()
			return img
		}
	}
	return nil
}

// replicasConverged reports whether replication caught up: every partition led, every
// replica in its ISR, and every replica's log end at its leader's established high watermark.
func (c *cluster) replicasConverged() bool { return c.replicasLagging() == "" }

// wipe crashes broker n (losing what it had not synced) and gives it an empty disk, formatted
// at its next start: it counts as a damaged replica from now on, and the quorum checker takes
// its new quorum state for a new member's.
func (c *cluster) wipe(n *Node) error {
	n.CrashWith(memfs.CrashLoseUnsynced)
	if err := n.Wipe(); err != nil {
		return err
	}
	if c.wiped == nil {
		c.wiped = map[int32]bool{}
	}
	c.wiped[n.ID()] = true
	c.checker.wiped(n.ID())
	return nil
}

// nodeDamaged reports whether node id's disk lost or changed stored bytes so far.
func (c *cluster) nodeDamaged(id int32) bool {
	if d := c.plan.Damage(id); d != nil && d.Len() > 0 {
		return true
	}
	// A scenario's damage command damages the single broker's disk; its wipe empties one.
	return c.damage != nil && c.damage.Len() > 0 && id == c.node.ID() || c.wiped[id]
}

// replicasLagging says why replication has not caught up; "" when it has. A partition whose
// leader's disk destroyed records is left out: the leader refuses to serve a damaged batch
// (KAFKA_STORAGE_ERROR), so followers behind it cannot pass it, as in Kafka, where the log
// directory goes offline.
func (c *cluster) replicasLagging() string {
	img := c.leaderImage()
	if img == nil {
		return "no quorum leader's image"
	}
	views := map[int32][]broker.ReplicaView{}
	for _, n := range c.nodes {
		b := n.Broker()
		if b == nil {
			return fmt.Sprintf("node%d down", n.ID())
		}
		views[n.ID()] = b.Replicas()
	}
	find := func(id int32, tp storage.TopicPartition) (broker.ReplicaView, bool) {
		for _, v := range views[id] {
			if v.TopicPartition == tp {
				return v, true
			}
		}
		return broker.ReplicaView{}, false
	}
	for _, t := range img.Topics() {
		for _, p := range t.Partitions() {
			tp := storage.TopicPartition{Topic: t.Name, Partition: p.ID}
			if p.Leader != metadata.NoLeader && c.nodeDamaged(p.Leader) {
				continue
			}
			if p.Leader == metadata.NoLeader || len(p.ISR) != len(p.Replicas) {
				var vs []string
				for _, id := range p.Replicas {
					v, _ := find(id, tp)
					vs = append(vs, fmt.Sprintf("node%d %+v", id, v))
				}
				return fmt.Sprintf("%s leader %d epoch %d ISR %v replicas %v: %s", tp, p.Leader, p.LeaderEpoch, p.ISR, p.Replicas, strings.Join(vs, ", "))
			}
			lv, ok := find(p.Leader, tp)
			if !ok || !lv.Leader || !lv.Established || lv.LeaderEpoch != p.LeaderEpoch || lv.HighWatermark != lv.LogEndOffset {
				return fmt.Sprintf("%s leader node%d at epoch %d: %+v", tp, p.Leader, p.LeaderEpoch, lv)
			}
			for _, id := range p.Replicas {
				v, ok := find(id, tp)
				if !ok || v.LogEndOffset != lv.LogEndOffset || v.DurableOffset != v.LogEndOffset {
					return fmt.Sprintf("%s node%d %+v behind leader node%d log end %d", tp, id, v, p.Leader, lv.LogEndOffset)
				}
			}
		}
	}
	return ""
}

// bootstrapAddrs are the brokers' addresses, clients' bootstrap.servers.
func (c *cluster) bootstrapAddrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// allServing reports whether every broker serves (registered and unfenced).
func (c *cluster) allServing() bool {
	for _, n := range c.nodes {
		if !n.Serving() {
			return false
		}
	}
	return true
}

// describeNodes is each node's state, for failures.
func (c *cluster) describeNodes() string {
	var parts []string
	for _, n := range c.members() {
		state := "down"
		if ctl := n.controllerNode(); ctl != nil && n.Up() {
			st := ctl.QuorumState()
			_, applied := ctl.Image()
			state = fmt.Sprintf("%s epoch %d leader %d hw %d applied %d", ctl.Role(), st.Epoch, st.LeaderID, ctl.HighWatermark(), applied)
			if b, ok := n.(*Node); ok {
				state += fmt.Sprintf(" serving %v", b.Serving())
			}
		}
		parts = append(parts, fmt.Sprintf("node%d: %s", n.ID(), state))
	}
	if why := c.replicasLagging(); why != "" {
		parts = append(parts, "replication: "+why)
	}
	return strings.Join(parts, "; ")
}

// startFaults starts the fault plan on the broker and every client host.
func (c *cluster) startFaults() {
	hosts := []string{"admin"}
	for _, h := range c.clients {
		hosts = append(hosts, h.Host())
		c.plan.AddClientClock(h.Host(), h.Clock())
	}
	if c.opts.Wipes && c.clustered() && c.opts.ReplicationFactor == 3 {
		c.plan.SetWipe(c.wipe)
	}
	c.plan.Start(c.network, c.nodes, hosts)
}

// startWorkload starts the clients' operations until stopNs.
func (c *cluster) startWorkload(stopNs int64) {
	c.stopNs = stopNs
	c.wl = newWorkload(c.w, &c.history, c.knobs, c.clients, c.opts.OpsPerSecond, stopNs)
	c.wl.start()
	if c.opts.Operator && c.clustered() && c.opts.ReplicationFactor == 3 {
		c.operator = newOperator(c, stopNs)
		c.operator.start()
	}
}

// pending is how many client operations have not completed.
func (c *cluster) pending() int {
	n := 0
	for _, h := range c.clients {
		n += h.Pending()
	}
	return n
}

// finish stops the workload, then checks liveness (every operation completes within
// LivenessNs, then the broker's syncs and background jobs), reads every partition to its high
// watermark and runs the checkers; it returns a failure line or "".
func (c *cluster) finish() string {
	if c.wl != nil {
		c.wl.stopNs = min(c.wl.stopNs, c.w.NowNs())
	}
	if c.plan.started && !c.plan.Healed() {
		c.plan.Heal()
	}
	if !c.w.RunUntilTrue(func() bool { ok, _ := c.plan.Settled(); return ok || !c.plan.started }, c.w.NowNs()+c.opts.LivenessNs) {
		_, why := c.plan.Settled()
		return "liveness: the faults did not settle: " + why
	}
	if !c.w.RunUntilTrue(func() bool { return c.pending() == 0 }, c.w.NowNs()+c.opts.LivenessNs) {
		return fmt.Sprintf("liveness: %d operations unanswered %.0f s after the faults stopped", c.pending(), float64(c.opts.LivenessNs)/1e9)
	}
	// Liveness of the cluster: with every process up and the links healed, a quorum leader
	// commits its log end, every node (voters and observers) applies it, and every broker
	// serves again.
	if c.clustered() && !c.w.RunUntilTrue(c.converged, c.w.NowNs()+c.opts.LivenessNs) {
		return fmt.Sprintf("liveness: %.0f s after the operations completed, the cluster has not converged (a leader committing its log end, every node applying it, every broker serving): %s",
			float64(c.opts.LivenessNs)/1e9, c.describeNodes())
	}
	// The final reads take each high watermark for what the broker keeps, so they wait until
	// it stops moving: a single node's high watermark is its durable offset, and a restarted
	// broker publishes the log it recovered above its recovery point only when its first sync
	// completes (that sync may have been issued slow just before the faults healed).
	outstanding := func() (*Node, int) {
		for _, n := range c.nodes {
			if o := n.Outstanding(); o > 0 {
				return n, o
			}
		}
		return nil, 0
	}
	if !c.w.RunUntilTrue(func() bool { _, o := outstanding(); return o == 0 }, c.w.NowNs()+c.opts.LivenessNs) {
		n, o := outstanding()
		return fmt.Sprintf("liveness: node%d still has %d syncs or background jobs outstanding %.0f s after the operations completed",
			n.ID(), o, float64(c.opts.LivenessNs)/1e9)
	}
	excused, err := c.plan.Excused()
	if err != nil {
		return fmt.Sprintf("mapping disk damage to offsets: %v", err)
	}
	if c.damage != nil {
		if err := c.damage.Remap(c.node.Disk(), c.w.NowNs()); err != nil {
			return fmt.Sprintf("mapping disk damage to offsets: %v", err)
		}
		excused = sortExcused(append(excused, c.damage.Excused()...))
	}
	if failure := finalReads(c.w, c.network, c.bootstrapAddrs(), c.knobs, len(c.clients)+1, &c.history, c.opts.LivenessNs, excused); failure != "" {
		return failure
	}
	timeout := c.opts.LinearizabilityTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	c.report = check.Check(c.history, check.Options{
		LinearizabilityTimeout: timeout, RequireFinalReads: true,
		// With replicas, a record may be read from one copy after another's disk destroyed it,
		// and each leader reports its own log start.
		Replicated: c.opts.ReplicationFactor > 1,
		Retention:  map[string]check.Retention{workloadTopic: {Ms: c.knobs.RetentionMs, WallClockMaxMs: c.wallClockMaxMs()}},
		Excused: func(topic string, partition int32, offset, invokeNs int64) bool {
			return slices.ContainsFunc(excused, func(r ExcusedRange) bool { return r.Covers(topic, partition, offset, invokeNs) })
		},
	})
	if !c.report.Valid() {
		return "checker: " + c.report.String()
	}
	if failure := c.checkQuorum(); failure != "" {
		return failure
	}
	cuts := int64(0)
	for _, n := range c.nodes {
		cuts += n.Stats().PlanCuts
	}
	if cuts > 0 && !c.diskFaulted() {
		// A plan is cut only where the disk lost or changed bytes under it; with an intact disk
		// a cut is a fetch whose segment retention or a truncation took away before it was
		// read, which consumers cannot tell from retention (so the checkers do not see it).
		return fmt.Sprintf("%d read plans served short on a disk without faults", cuts)
	}
	return ""
}

// wallClockMaxMs is the latest wall-clock reading of any broker (the retention checker's bound).
func (c *cluster) wallClockMaxMs() int64 {
	var ms int64
	for _, n := range c.nodes {
		ms = max(ms, n.Clock().MaxMs(), c.plan.WallClockMaxMs(n.ID()))
	}
	return ms
}

// checkQuorum runs the metadata quorum's end checks (log matching over the nodes that are up)
// and reports the first violation the checker found during the run or now.
func (c *cluster) checkQuorum() string {
	c.checker.checkLogMatching(c.members())
	c.checker.checkBrokerEpochs(c.members())
	if c.clustered() && !c.diskFaulted() {
		// A disk fault may have changed a replica's bytes at rest (the durability checker
		// excuses what it destroyed); with intact disks every ISR member's committed log is
		// the leader's.
		if img := c.leaderImage(); img != nil {
			c.checker.checkReplicaLogs(c.nodes, img)
		}
	}
	if f := c.checker.failure(); f != "" {
		return "quorum: " + f
	}
	return ""
}

// diskFaulted reports whether the broker's disk failed a read or lost or changed bytes in this
// run: the only reasons a read plan may be served short.
func (c *cluster) diskFaulted() bool {
	s := c.plan.Stats()
	return s.EIOs+s.BitFlips+s.MisdirectedWrites+s.LatentErrors > 0 || (c.damage != nil && c.damage.Len() > 0)
}

// runClientConfig is a workload client's configuration: Kafka's defaults with the run's knobs
// and timeouts short enough for a run of seconds.
func runClientConfig(addrs []string, index int, idempotent bool, k Knobs) client.Config {
	cfg := client.DefaultConfig(addrs...)
	cfg.ClientID = fmt.Sprintf("sim-%d", index)
	cfg.ClientIndex = index
	cfg.WallClockBaseMs = 1_700_000_000_000
	cfg.Idempotent = idempotent
	cfg.Acks = client.AcksAll
	cfg.InFlightPerConnectionMax = k.InFlightMax
	cfg.RequestTimeoutNs = 5 * int64(time.Second)
	cfg.DeliveryTimeoutNs = 20 * int64(time.Second)
	cfg.APITimeoutNs = 20 * int64(time.Second)
	cfg.ProduceTimeoutMs = 5_000
	cfg.FetchMaxWaitMs = k.FetchMaxWaitMs
	cfg.FetchMaxBytes, cfg.FetchPartitionMaxBytes = k.FetchMaxBytes, k.FetchMaxBytes
	return cfg
}

// workloadTopicSpec is the workload's topic: with RunOptions.ReplicationFactor 3, replicated
// three ways with min.insync.replicas=2 (what users run, and what the no-loss guarantee is
// stated for), else one replica per partition.
func (c *cluster) workloadTopicSpec() client.TopicSpec {
	spec := client.TopicSpec{Name: workloadTopic, Partitions: c.knobs.Partitions, ReplicationFactor: 1}
	if c.clustered() && c.opts.ReplicationFactor == 3 {
		spec.ReplicationFactor = 3
		spec.Configs = []client.TopicConfig{{Name: "min.insync.replicas", Value: "2"}}
	}
	for _, tc := range c.topicConfigs {
		spec.Configs = slices.DeleteFunc(spec.Configs, func(o client.TopicConfig) bool { return o.Name == tc.Name })
		spec.Configs = append(spec.Configs, tc)
	}
	return spec
}
