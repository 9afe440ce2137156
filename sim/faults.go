package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/errorfs"
)

// FaultClass is a set of fault classes a run may inject.
type FaultClass uint16

// The fault classes (DESIGN §8).
const (
	// FaultNet: connection resets, partitions (one host isolated, random halves, one way).
	FaultNet FaultClass = 1 << iota
	// FaultDisk: EIO on reads, writes or syncs for a while (a failed sync crashes the node).
	FaultDisk
	// FaultCrash: power loss, now or at a seeded point between two effects, then a restart.
	FaultCrash
	// FaultPause: the process stops (GC pause, SIGSTOP), then resumes with timers late.
	FaultPause
	// FaultClock: the wall clock jumps forward or backward, or its drift changes.
	FaultClock
	// FaultCorrupt: silent bit flips, misdirected writes and latent sector errors in
	// partition segment files and producer snapshots.
	FaultCorrupt
	// FaultFull: the disk fills (its capacity drops to what is used) for a while.
	FaultFull
	// FaultSlowSync: syncs take 100 times longer for a while.
	FaultSlowSync
	// FaultClog: swizzle-clogging — a node's links stop one by one in a shuffled order, then
	// come back in another.
	FaultClog

	// FaultsNone and FaultsAll are the empty and the full set.
	FaultsNone FaultClass = 0
	FaultsAll             = FaultNet | FaultDisk | FaultCrash | FaultPause | FaultClock | FaultCorrupt | FaultFull | FaultSlowSync | FaultClog
)

// faultClasses names each class, in the order String lists them, with the per-seed chance
// (percent) that a run without an override enables it.
var faultClasses = []struct {
	class     FaultClass
	name      string
	chancePct int
}{
	{FaultNet, "net", 50},
	{FaultDisk, "disk", 30},
	{FaultCrash, "crash", 50},
	{FaultPause, "pause", 40},
	{FaultClock, "clock", 40},
	{FaultCorrupt, "corrupt", 20},
	{FaultFull, "full", 20},
	{FaultSlowSync, "slowsync", 30},
	{FaultClog, "clog", 30},
}

// ParseFaults parses a --faults list: class names separated by commas ("net,crash"), "all" or
// "none".
func ParseFaults(list string) (FaultClass, error) {
	var set FaultClass
	for _, word := range strings.Split(list, ",") {
		word = strings.TrimSpace(strings.ToLower(word))
		switch word {
		case "all":
			set |= FaultsAll
			continue
		case "none", "":
			continue
		}
		found := false
		for _, c := range faultClasses {
			if c.name == word {
				set |= c.class
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("sim: unknown fault class %q (want a list of %s, or all, or none)", word, FaultsAll)
		}
	}
	return set, nil
}

// Has reports whether every class of x is in c.
func (c FaultClass) Has(x FaultClass) bool { return c&x == x }

// String lists the classes, comma-separated, or "none".
func (c FaultClass) String() string {
	var names []string
	for _, fc := range faultClasses {
		if c.Has(fc.class) {
			names = append(names, fc.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// FaultConfig is how a run's faults are drawn.
type FaultConfig struct {
	// Classes, when Override is set, are exactly the classes enabled (--faults); otherwise each
	// class is enabled with its own per-seed chance.
	Classes  FaultClass
	Override bool
	// StartNs and HealAtNs bound the faults: events happen in [StartNs, HealAtNs); at HealAtNs
	// every fault stops (Heal).
	StartNs, HealAtNs int64
	// GapNsMean is the mean virtual time between two faults of one class.
	GapNsMean int64
	// CorruptionsMax bounds the damages corruption faults do on one node.
	CorruptionsMax int
	// RestartGiveUpNs is how long after HealAtNs the plan keeps restarting a node whose
	// restarts fail; then it gives up and Settled reports it.
	RestartGiveUpNs int64
}

// DefaultFaultConfig is faults over [startNs, healAtNs): one of each enabled class every two
// virtual seconds on average, at most four corruptions per node, a minute to restart after
// healing.
func DefaultFaultConfig(startNs, healAtNs int64) FaultConfig {
	return FaultConfig{StartNs: startNs, HealAtNs: healAtNs, GapNsMean: 2e9, CorruptionsMax: 4, RestartGiveUpNs: 60e9}
}

// FaultStats counts the faults a plan injected.
type FaultStats struct {
	Shutdowns, Crashes, ArmedCrashes, Restarts, RestartFailures int64
	Pauses                                                      int64
	ClockJumps, DriftChanges                                    int64
	ClientClockFaults                                           int64
	Resets, Partitions, OneWayCuts                              int64
	Swizzles, LinkClogs                                         int64
	EIOWindows, EIOs                                            int64
	FullWindows, SlowSyncWindows, CorruptWindows                int64
	BitFlips, MisdirectedWrites, LatentErrors                   int64
	Wipes                                                       int64
}

// String is the counts in one line for the run summary.
func (s FaultStats) String() string {
	return fmt.Sprintf("faults: sigterms=%d exits=%d (armed crashes %d) restarts=%d (failed %d) pauses=%d clock-jumps=%d drift=%d client-clocks=%d resets=%d partitions=%d one-way=%d swizzles=%d (links %d) eio=%d windows/%d errors full=%d slow-sync=%d corrupt=%d windows: flips=%d misdirected=%d latent=%d",
		s.Shutdowns, s.Crashes, s.ArmedCrashes, s.Restarts, s.RestartFailures, s.Pauses, s.ClockJumps, s.DriftChanges, s.ClientClockFaults,
		s.Resets, s.Partitions, s.OneWayCuts, s.Swizzles, s.LinkClogs, s.EIOWindows, s.EIOs,
		s.FullWindows, s.SlowSyncWindows, s.CorruptWindows, s.BitFlips, s.MisdirectedWrites, s.LatentErrors) + s.wipes()
}

// wipes is the summary's wipe count, when the plan wiped a disk (SetWipe).
func (s FaultStats) wipes() string {
	if s.Wipes == 0 {
		return ""
	}
	return fmt.Sprintf(" wipes=%d", s.Wipes)
}

// FaultPlan injects a run's faults: which classes are enabled and every draw of when, where and
// how long come from the World's "faults/..." PRNGs, one per class, so enabling a class does not
// shift the others' draws. Use it as:
//
//	plan := NewFaultPlan(w, DefaultFaultConfig(startNs, healAtNs))
//	cfg := DefaultNodeConfig(1); plan.ConfigureNode(&cfg); node, _ := NewNode(w, network, cfg)
//	plan.Start(network, []*Node{node}, clientHosts)
//	... run to HealAtNs: the plan heals itself then; check liveness once Settled ...
//	plan.Excused() // offsets disk corruption may have destroyed, for the durability checker
type FaultPlan struct {
	w       *World
	cfg     FaultConfig
	classes FaultClass
	stats   FaultStats

	network *Network
	nodes   []*planNode // in ConfigureNode order
	hosts   []string    // every host on the network, sorted
	// clientClocks are the client hosts' wall clocks, in AddClientClock order: clock faults
	// move them too (they stamp the records, and so drive time retention).
	clientClocks []hostClock
	healed       bool
	// wipe empties a node's disk (SetWipe); nil: the plan wipes none.
	wipe     func(n *Node) error
	wipeRand *rand.Rand
	started  bool
	// controllers are a cluster's controller-only processes: crashed (and restarted), paused,
	// their clocks moved and their hosts cut off like the brokers'.
	controllers []*ControllerNode
	// leaderHost, when set, names the active controller's host ("" when none is known): a
	// network fault isolates it more often than chance would (a zombie quorum leader).
	leaderHost func() string
}

// healedCrashesMax is how many crashes after the heal a node is restarted from; after more the
// plan gives up on it and the run fails as not settled. A healthy node does not crash once
// faults stop (an armed crash point or a Fatal left over from the fault window is one).
const healedCrashesMax = 10

// planNode is what the plan keeps per node.
type planNode struct {
	id   int32
	n    *Node
	eio  [3]*errorfs.Toggle // reads, writes, syncs
	corr *errorfs.Corruptor
	// corrOn switches the corruptor's three injectors together.
	corrOn  *errorfs.Toggle
	damage  DamageLog
	restart EventID // a scheduled restart, 0 if none
	gaveUp  bool
	// healedCrashes counts the node's crashes after the heal (see healedCrashesMax).
	healedCrashes int
	// restartErr is why the last restart failed (nil after one that worked).
	restartErr error
	// wallMaxMs is the latest wall-clock reading before a backward jump.
	wallMaxMs int64
}

// NewFaultPlan draws which classes the run enables (cfg.Classes when cfg.Override is set).
func NewFaultPlan(w *World, cfg FaultConfig) *FaultPlan {
	if cfg.HealAtNs < cfg.StartNs || cfg.GapNsMean <= 0 || cfg.CorruptionsMax < 0 || cfg.RestartGiveUpNs <= 0 {
		panic(fmt.Sprintf("sim: invalid fault config %+v", cfg))
	}
	p := &FaultPlan{w: w, cfg: cfg, classes: cfg.Classes}
	if !cfg.Override {
		r := w.Rand("faults/classes")
		p.classes = 0
		for _, c := range faultClasses {
			if r.IntN(100) < c.chancePct {
				p.classes |= c.class
			}
		}
	}
	w.Tracef("fault plan: %s over [%dms, %dms)", p.classes, cfg.StartNs/1e6, cfg.HealAtNs/1e6)
	return p
}

// Classes are the enabled fault classes.
func (p *FaultPlan) Classes() FaultClass { return p.classes }

// SetWipe lets the plan replace one broker-only node's disk with an empty one, at most once
// in the run (one lost replica): a crash it injects on such a node is, one time in
// wipeOneInCrashes, wipe instead (which crashes the node and empties its disk; the restart
// formats it). Draws come from their own PRNG, so the other faults' draws do not move.
func (p *FaultPlan) SetWipe(wipe func(n *Node) error) {
	p.wipe = wipe
	p.wipeRand = p.w.Rand("faults/wipe")
}

// wipeOneInCrashes is the chance a crash of a broker-only node becomes the run's wipe.
const wipeOneInCrashes = 4

// maybeWipe wipes pn's disk in place of a crash when SetWipe allows it and the draw says so;
// it reports whether it did.
func (p *FaultPlan) maybeWipe(pn *planNode) bool {
	if p.wipe == nil || p.stats.Wipes > 0 || !pn.n.BrokerOnly() || p.wipeRand.IntN(wipeOneInCrashes) != 0 {
		return false
	}
	p.w.Tracef("fault wipe node%d", pn.id)
	if err := p.wipe(pn.n); err != nil {
		panic(fmt.Sprintf("sim: invariant: wiping broker-only node %d: %v", pn.id, err))
	}
	p.stats.Wipes++
	return true
}

// Stats returns the counts so far.
func (p *FaultPlan) Stats() FaultStats { return p.stats }

// Healed reports whether Heal has run.
func (p *FaultPlan) Healed() bool { return p.healed }

// ConfigureNode prepares a node's config before NewNode: with disk faults enabled, errorfs
// toggles for EIO (chained after any injector the config has); with corruption enabled, a
// Corruptor on the partitions' segment files and producer snapshots whose every damage the
// plan records.
func (p *FaultPlan) ConfigureNode(cfg *NodeConfig) {
	pn := &planNode{id: cfg.ID}
	p.nodes = append(p.nodes, pn)
	prefix := fmt.Sprintf("faults/node/%d/", cfg.ID)
	if p.classes.Has(FaultDisk) {
		kinds := [3][]errorfs.OpKind{{errorfs.OpRead}, {errorfs.OpWrite}, {errorfs.OpSync, errorfs.OpSyncData}}
		names := [3]string{"read", "write", "sync"}
		injs := []errorfs.Injector{}
		if cfg.Injector != nil {
			injs = append(injs, cfg.Injector)
		}
		for i := range kinds {
			r := p.w.Rand(prefix + "eio-" + names[i])
			random := errorfs.RandomFrom(r, []int{1_000, 10_000, 100_000}[r.IntN(3)])
			counted := errorfs.InjectorFunc(func(op errorfs.Op) error {
				err := random.MaybeError(op)
				if err != nil {
					p.stats.EIOs++
				}
				return err
			})
			pn.eio[i] = errorfs.NewToggle(errorfs.When(errorfs.Kinds(kinds[i]...), counted))
			injs = append(injs, pn.eio[i])
		}
		cfg.Injector = errorfs.Or(injs...)
	}
	if p.classes.Has(FaultCorrupt) {
		r := p.w.Rand(prefix + "corrupt")
		pn.corr = errorfs.NewCorruptor(p.w.Rand(prefix+"corrupt/where"), func(d errorfs.Damage) { p.damaged(pn, d) })
		segment := errorfs.PathMatch(func(p string) bool { return IsPartitionSegment(p) || IsProducerSnapshot(p) })
		pick := func(kind string, rate int) errorfs.Injector {
			return errorfs.When(errorfs.And(errorfs.Kinds(errorfs.OpWrite), segment), errorfs.RandomFrom(p.w.Rand(prefix+"corrupt/"+kind), rate))
		}
		pn.corrOn = errorfs.NewToggle(errorfs.Always())
		gate := func(inj errorfs.Injector) errorfs.Injector {
			return errorfs.InjectorFunc(func(op errorfs.Op) error {
				if pn.corrOn.MaybeError(op) == nil {
					return nil
				}
				return inj.MaybeError(op)
			})
		}
		rate := []int{20_000, 100_000}[r.IntN(2)]
		pn.corr.BitFlip = gate(pick("bit-flip", rate))
		pn.corr.Misdirect = gate(pick("misdirect", rate/4))
		pn.corr.Latent = gate(pick("latent", rate/4))
		cfg.Corruptor = pn.corr
		cfg.DamageExplains = pn.damage.Explains
		raw := func() diskio.FS {
			if pn.n == nil {
				return nil
			}
			return pn.n.Disk()
		}
		cfg.Injector = pn.damage.RemapBefore(raw, p.w.NowNs, cfg.Injector)
	}
}

// damaged records a damage the node's Corruptor reports.
func (p *FaultPlan) damaged(pn *planNode, d errorfs.Damage) {
	pn.damage.Add(p.w.NowNs(), d)
	switch d.Kind {
	case errorfs.DamageBitFlip:
		p.stats.BitFlips++
	case errorfs.DamageMisdirected:
		p.stats.MisdirectedWrites++
	case errorfs.DamageLatent:
		p.stats.LatentErrors++
	}
	p.w.Tracef("fault node%d disk damage: %v", pn.id, d)
	if pn.damage.Len() >= p.cfg.CorruptionsMax {
		pn.corrOn.Off()
	}
}

// Start attaches the plan to the network and the nodes (each configured by ConfigureNode)
// and schedules the enabled classes' faults from StartNs, and the heal at HealAtNs. hosts are
// the other hosts on the network (clients), for partitions and clogs.
func (p *FaultPlan) Start(network *Network, nodes []*Node, hosts []string) {
	if p.started {
		panic("sim: invariant: a fault plan starts once")
	}
	p.started = true
	p.network = network
	all := slices.Clone(hosts)
	for _, n := range p.controllers {
		all = append(all, n.Host())
		p.hookController(n)
	}
	for _, n := range nodes {
		pn := p.planNode(n.ID())
		if pn == nil {
			pn = &planNode{id: n.ID()}
			p.nodes = append(p.nodes, pn)
		}
		pn.n = n
		all = append(all, n.Host())
		p.hook(pn)
	}
	// A node configured but not started takes no faults.
	p.nodes = slices.DeleteFunc(p.nodes, func(pn *planNode) bool { return pn.n == nil })
	if len(p.nodes) == 0 {
		panic("sim: invariant: a fault plan needs a node")
	}
	slices.Sort(all)
	p.hosts = slices.Compact(all)
	for _, c := range faultClasses {
		if p.classes.Has(c.class) {
			p.next(c.class, c.name)
		}
	}
	p.w.At(p.cfg.HealAtNs, "fault heal", p.Heal)
}

func (p *FaultPlan) planNode(id int32) *planNode {
	for _, pn := range p.nodes {
		if pn.id == id {
			return pn
		}
	}
	return nil
}

// hook follows the node's life: every crash (the plan's, an armed one, a Fatal after a failed
// sync or write) is followed by a restart after a seeded downtime; damages are mapped on the
// disk recovery reads and checked after it for truncation.
func (p *FaultPlan) hook(pn *planNode) {
	prev := pn.n.Hooks()
	r := p.w.Rand(fmt.Sprintf("faults/node/%d/restart", pn.id))
	hooks := prev // the hooks the plan does not wrap stay as they are
	hooks.Crashed = func(n *Node) {
		p.stats.Crashes++
		if prev.Crashed != nil {
			prev.Crashed(n)
		}
		downNs := []int64{1e6, 100e6, 1e9, 3e9}[r.IntN(4)]
		if p.healed {
			downNs = 1e6
			// Nothing is injected after the heal: a node that keeps crashing is a bug (a
			// broker that cannot survive what a fault left on its disk), and restarting it
			// forever only makes the run slower, each restart replaying a longer metadata log.
			if pn.healedCrashes++; pn.healedCrashes > healedCrashesMax {
				pn.gaveUp = true
				pn.restartErr = fmt.Errorf("crash-looping: %d crashes since the heal", pn.healedCrashes)
				p.w.Tracef("fault node%d: gave up restarting: %v", pn.id, pn.restartErr)
				return
			}
		}
		p.scheduleRestart(pn, downNs)
	}
	hooks.BeforeRestart = func(n *Node) {
		if prev.BeforeRestart != nil {
			prev.BeforeRestart(n)
		}
		if err := pn.damage.Remap(n.Disk(), p.w.NowNs()); err != nil {
			p.w.Tracef("fault node%d damage map: %v", pn.id, err)
		}
	}
	hooks.AfterRestart = func(n *Node, err error) {
		if prev.AfterRestart != nil {
			prev.AfterRestart(n, err)
		}
		// Also after a failed restart: recovery may have truncated before it failed.
		if err := pn.damage.NoteRecovery(n.Disk(), p.w.NowNs()); err != nil {
			p.w.Tracef("fault node%d damage map: %v", pn.id, err)
		}
	}
	pn.n.SetHooks(hooks)
}

// scheduleRestart restarts the node after downNs, retrying failed restarts (a full disk, a bad
// sector recovery must read) until RestartGiveUpNs after the heal.
func (p *FaultPlan) scheduleRestart(pn *planNode, downNs int64) {
	if pn.restart != 0 {
		return
	}
	pn.restart = p.w.After(downNs, fmt.Sprintf("fault restart node%d", pn.id), func() {
		pn.restart = 0
		if pn.n.Up() {
			return
		}
		pn.restartErr = pn.n.Restart()
		if err := pn.restartErr; err != nil {
			p.stats.RestartFailures++
			if p.healed && p.w.NowNs() > p.cfg.HealAtNs+p.cfg.RestartGiveUpNs {
				pn.gaveUp = true
				p.w.Tracef("fault node%d: gave up restarting: %v", pn.id, err)
				return
			}
			p.scheduleRestart(pn, 500e6)
			return
		}
		p.stats.Restarts++
	})
}

// next schedules class's next fault a seeded gap from now, if it falls before the heal.
func (p *FaultPlan) next(class FaultClass, name string) {
	r := p.w.Rand("faults/" + name)
	gap := p.cfg.GapNsMean/2 + r.Int64N(p.cfg.GapNsMean+1)
	at := max(p.w.NowNs(), p.cfg.StartNs) + gap
	if at >= p.cfg.HealAtNs {
		return
	}
	p.w.At(at, "fault "+name, func() {
		if p.healed {
			return
		}
		if again := p.inject(class, r); again {
			p.next(class, name)
		}
	})
}

// window runs on now and off after a duration drawn from durationsNs (but at the heal at the
// latest, when Heal switches everything off anyway).
func (p *FaultPlan) window(r *rand.Rand, what string, durationsNs []int64, on, off func()) {
	d := durationsNs[r.IntN(len(durationsNs))]
	d = d/2 + r.Int64N(d+1)
	on()
	p.w.Tracef("fault %s for %dms", what, d/1e6)
	p.w.After(d, "fault end "+what, off)
}

// hostClock is one client host's wall clock.
type hostClock struct {
	host  string
	clock *WallClock
}

// AddClientClock makes host's wall clock a target of clock faults; call it before Start.
func (p *FaultPlan) AddClientClock(host string, clock *WallClock) {
	p.clientClocks = append(p.clientClocks, hostClock{host, clock})
}

// clientClockFault jumps or re-drifts a client host's wall clock, as the broker's: the
// records it stamps then carry timestamps from the past or the future.
func (p *FaultPlan) clientClockFault(r *rand.Rand) {
	hc := p.clientClocks[r.IntN(len(p.clientClocks))]
	p.stats.ClientClockFaults++
	if r.IntN(3) > 0 {
		deltaMs := []int64{1, 1_000, 60_000, 600_000, 3_600_000}[r.IntN(5)]
		deltaMs = 1 + r.Int64N(deltaMs)
		if r.IntN(2) == 0 {
			deltaMs = -deltaMs
		}
		p.w.Tracef("fault clock %s jumps %dms", hc.host, deltaMs)
		hc.clock.Jump(deltaMs)
		return
	}
	ppm := r.Int64N(1001) - 500
	p.w.Tracef("fault clock %s drift %dppm", hc.host, ppm)
	hc.clock.SetDriftPpm(ppm)
}

// AddControllers makes controller-only processes part of the plan, before Start.
func (p *FaultPlan) AddControllers(controllers []*ControllerNode) {
	p.controllers = append(p.controllers, controllers...)
}

// SetLeaderHost gives the plan the active controller's host, for leader-isolating faults.
func (p *FaultPlan) SetLeaderHost(f func() string) { p.leaderHost = f }

// hookController restarts a crashed controller-only process after a seeded downtime (at once
// after the heal), retrying a failed restart.
func (p *FaultPlan) hookController(n *ControllerNode) {
	r := p.w.Rand(fmt.Sprintf("faults/ctl/%d/restart", n.ID()))
	h := n.hooks
	prev := h.Crashed
	healedCrashes := 0
	h.Crashed = func(n *ControllerNode) {
		p.stats.Crashes++
		if prev != nil {
			prev(n)
		}
		downNs := []int64{1e6, 100e6, 1e9, 3e9}[r.IntN(4)]
		if p.healed {
			downNs = 1e6
			// As for broker nodes: left down, the run fails as not settled.
			if healedCrashes++; healedCrashes > healedCrashesMax {
				p.w.Tracef("fault ctl%d: gave up restarting: crash-looping: %d crashes since the heal", n.ID(), healedCrashes)
				return
			}
		}
		p.restartController(n, downNs)
	}
	n.SetHooks(h)
}

func (p *FaultPlan) restartController(n *ControllerNode, afterNs int64) {
	p.w.After(afterNs, fmt.Sprintf("fault restart ctl%d", n.ID()), func() {
		if n.Up() {
			return
		}
		if err := n.Restart(); err != nil {
			p.stats.RestartFailures++
			p.restartController(n, 500e6)
			return
		}
		p.stats.Restarts++
	})
}

// injectController does a crash, pause or clock fault on a controller-only process.
func (p *FaultPlan) injectController(class FaultClass, r *rand.Rand, n *ControllerNode) {
	if !n.Up() {
		return
	}
	switch class {
	case FaultCrash:
		if r.IntN(2) == 0 {
			p.w.Tracef("fault crash ctl%d", n.ID())
			n.Crash()
		} else {
			p.stats.ArmedCrashes++
			effects := r.IntN(20)
			p.w.Tracef("fault crash ctl%d armed after %d effects", n.ID(), effects)
			n.ArmCrash(effects)
		}
	case FaultPause:
		p.stats.Pauses++
		d := []int64{1e6, 50e6, 500e6, 3e9, 6e9}[r.IntN(5)]
		n.Pause(d/2 + r.Int64N(d+1))
	case FaultClock:
		p.stats.ClockJumps++
		deltaMs := 1 + r.Int64N([]int64{1, 1_000, 60_000, 600_000}[r.IntN(4)])
		if r.IntN(2) == 0 {
			deltaMs = -deltaMs
		}
		p.w.Tracef("fault clock ctl%d jumps %dms", n.ID(), deltaMs)
		n.Clock().Jump(deltaMs)
	}
}

// pickNode draws one of the plan's nodes.
func (p *FaultPlan) pickNode(r *rand.Rand) *planNode { return p.nodes[r.IntN(len(p.nodes))] }

// inject does one fault of class; it reports whether the class schedules another (swizzles
// schedule their own next one when done).
func (p *FaultPlan) inject(class FaultClass, r *rand.Rand) bool {
	if len(p.controllers) > 0 && (class == FaultCrash || class == FaultPause || class == FaultClock) {
		if i := r.IntN(len(p.nodes) + len(p.controllers)); i >= len(p.nodes) {
			p.injectController(class, r, p.controllers[i-len(p.nodes)])
			return true
		}
	}
	pn := p.pickNode(r)
	n := pn.n
	switch class {
	case FaultCrash:
		if !n.Up() {
			return true
		}
		if p.leaderHost != nil && r.IntN(3) == 0 {
			// In a cluster, a third of the stops are SIGTERMs: controlled shutdowns.
			p.stats.Shutdowns++
			p.w.Tracef("fault SIGTERM node%d", pn.id)
			n.Shutdown()
			return true
		}
		if r.IntN(2) == 0 {
			if p.maybeWipe(pn) {
				return true
			}
			p.w.Tracef("fault crash node%d", pn.id)
			n.Crash()
		} else {
			p.stats.ArmedCrashes++
			effects := r.IntN(20)
			p.w.Tracef("fault crash node%d armed after %d effects", pn.id, effects)
			n.ArmCrash(effects)
		}
	case FaultPause:
		if !n.Up() {
			return true
		}
		p.stats.Pauses++
		d := []int64{1e6, 50e6, 500e6, 3e9, 6e9}[r.IntN(5)]
		n.Pause(d/2 + r.Int64N(d+1))
	case FaultClock:
		if len(p.clientClocks) > 0 && r.IntN(3) == 0 {
			p.clientClockFault(r)
			return true
		}
		if r.IntN(3) > 0 {
			p.stats.ClockJumps++
			deltaMs := []int64{1, 1_000, 60_000, 600_000, 3_600_000}[r.IntN(5)]
			deltaMs = 1 + r.Int64N(deltaMs)
			if r.IntN(2) == 0 {
				deltaMs = -deltaMs
			}
			p.w.Tracef("fault clock node%d jumps %dms", pn.id, deltaMs)
			pn.wallMaxMs = max(pn.wallMaxMs, n.Clock().NowMs())
			n.Clock().Jump(deltaMs)
		} else {
			p.stats.DriftChanges++
			ppm := r.Int64N(1001) - 500
			p.w.Tracef("fault clock node%d drift %dppm", pn.id, ppm)
			n.Clock().SetDriftPpm(ppm)
		}
	case FaultNet:
		p.injectNet(r, pn)
	case FaultClog:
		p.swizzle(r, pn)
		return false
	case FaultDisk:
		if pn.eio[0] == nil {
			return true
		}
		p.stats.EIOWindows++
		which := r.IntN(3)
		t := pn.eio[which]
		p.window(r, fmt.Sprintf("eio %s node%d", []string{"reads", "writes", "syncs"}[which], pn.id), []int64{10e6, 300e6, 2e9}, t.On, t.Off)
	case FaultFull:
		p.stats.FullWindows++
		slack := r.Int64N(64 << 10)
		p.window(r, fmt.Sprintf("disk full node%d (%d bytes free)", pn.id, slack), []int64{100e6, 1e9, 5e9},
			func() { n.SetDiskCapacityBytes(n.Disk().UsedBytes() + slack) }, n.RestoreDiskCapacity)
	case FaultSlowSync:
		p.stats.SlowSyncWindows++
		p.window(r, fmt.Sprintf("slow syncs node%d", pn.id), []int64{100e6, 1e9, 5e9},
			func() { n.SetSyncSlowdown(100) }, func() { n.SetSyncSlowdown(1) })
	case FaultCorrupt:
		if pn.corr == nil || pn.damage.Len() >= p.cfg.CorruptionsMax {
			return true
		}
		p.stats.CorruptWindows++
		p.window(r, fmt.Sprintf("corruption node%d", pn.id), []int64{10e6, 200e6, 1e9}, pn.corrOn.On, pn.corrOn.Off)
	}
	return true
}

// injectNet resets connections or cuts links for a while.
func (p *FaultPlan) injectNet(r *rand.Rand, pn *planNode) {
	durationsNs := []int64{10e6, 500e6, 3e9, 12e9}
	others := slices.DeleteFunc(slices.Clone(p.hosts), func(h string) bool { return h == pn.n.Host() })
	switch kind := r.IntN(5); {
	case kind == 0:
		p.stats.Resets++
		p.w.Tracef("fault reset every connection of %s", pn.n.Host())
		p.network.ResetHost(pn.n.Host())
	case kind == 1:
		conns := p.network.OpenConns()
		if len(conns) == 0 {
			return
		}
		id := conns[r.IntN(len(conns))]
		p.stats.Resets++
		p.w.Tracef("fault reset c%d", id)
		p.network.ResetID(id)
	case kind == 2 || len(others) == 0:
		// One host isolated: in a cluster, half the time the quorum leader's.
		host := p.hosts[r.IntN(len(p.hosts))]
		if p.leaderHost != nil && r.IntN(2) == 0 {
			if h := p.leaderHost(); h != "" {
				host = h
			}
		}
		rest := slices.DeleteFunc(slices.Clone(p.hosts), func(h string) bool { return h == host })
		if len(rest) == 0 {
			return
		}
		p.stats.Partitions++
		a, b := []string{host}, rest
		p.window(r, fmt.Sprintf("isolate %s", host), durationsNs,
			func() { p.network.Partition(a, b) }, func() { p.network.Heal(a, b); p.network.Heal(b, a) })
	case kind == 3:
		// Random halves, each non-empty.
		shuffled := slices.Clone(p.hosts)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		cut := 1 + r.IntN(len(shuffled)-1)
		a, b := shuffled[:cut], shuffled[cut:]
		p.stats.Partitions++
		p.window(r, fmt.Sprintf("partition %v | %v", a, b), durationsNs,
			func() { p.network.Partition(a, b) }, func() { p.network.Heal(a, b); p.network.Heal(b, a) })
	default:
		// One way: the node stops hearing a host, or a host stops hearing the node.
		other := others[r.IntN(len(others))]
		from, to := []string{other}, []string{pn.n.Host()}
		if r.IntN(2) == 0 {
			from, to = to, from
		}
		p.stats.OneWayCuts++
		p.window(r, fmt.Sprintf("cut %v -> %v", from, to), durationsNs,
			func() { p.network.Cut(from, to) }, func() { p.network.Heal(from, to) })
	}
}

// swizzle clogs the links between the node and every other host one at a time in a shuffled
// order, holds, then unclogs them one at a time in another shuffled order (FoundationDB's
// swizzle-clogging); the class's next fault is drawn when it is done.
func (p *FaultPlan) swizzle(r *rand.Rand, pn *planNode) {
	node := pn.n.Host()
	others := slices.DeleteFunc(slices.Clone(p.hosts), func(h string) bool { return h == node })
	if len(others) == 0 {
		p.next(FaultClog, "clog")
		return
	}
	p.stats.Swizzles++
	clogOrder := slices.Clone(others)
	r.Shuffle(len(clogOrder), func(i, j int) { clogOrder[i], clogOrder[j] = clogOrder[j], clogOrder[i] })
	unclogOrder := slices.Clone(others)
	r.Shuffle(len(unclogOrder), func(i, j int) { unclogOrder[i], unclogOrder[j] = unclogOrder[j], unclogOrder[i] })
	p.w.Tracef("fault swizzle node%d: clog %v, unclog %v", pn.id, clogOrder, unclogOrder)
	at := p.w.NowNs()
	for _, h := range clogOrder {
		at += r.Int64N(500e6)
		p.w.At(at, "fault clog link "+node+"<->"+h, func() {
			if p.healed {
				return
			}
			p.stats.LinkClogs++
			p.network.Partition([]string{node}, []string{h})
		})
	}
	at += r.Int64N(3e9)
	for _, h := range unclogOrder {
		at += r.Int64N(500e6)
		p.w.At(at, "fault unclog link "+node+"<->"+h, func() {
			p.network.Heal([]string{node}, []string{h})
			p.network.Heal([]string{h}, []string{node})
		})
	}
	p.w.At(at, "fault swizzle done", func() {
		if !p.healed {
			p.next(FaultClog, "clog")
		}
	})
}

// Heal stops every fault (it runs at HealAtNs by itself): cuts and clogs healed, armed crashes
// disarmed, paused nodes resumed, disk faults off (bad sectors readable again, the disk's
// capacity and sync speed restored, drift back to the configured one), down nodes restarted
// now. Nothing new is injected afterwards; clock jumps are not undone (time does not go back)
// and damage done stays done.
func (p *FaultPlan) Heal() {
	if p.healed {
		return
	}
	p.healed = true
	p.w.Trace("fault heal: every fault stops")
	if p.network != nil {
		p.network.HealAll()
	}
	for _, n := range p.controllers {
		n.Disarm()
		n.Resume()
		n.Clock().SetDriftPpm(n.cfg.DriftPpm)
		if !n.Up() {
			p.restartController(n, 0)
		}
	}
	for _, pn := range p.nodes {
		for _, t := range pn.eio {
			if t != nil {
				t.Off()
			}
		}
		if pn.corr != nil {
			pn.corrOn.Off()
			pn.corr.ClearBad()
		}
		n := pn.n
		if n == nil {
			continue
		}
		n.Disarm()
		n.Resume()
		n.RestoreDiskCapacity()
		n.SetSyncSlowdown(1)
		n.Clock().SetDriftPpm(n.cfg.DriftPpm)
		if !n.Up() {
			if pn.restart != 0 {
				p.w.Cancel(pn.restart)
				pn.restart = 0
			}
			p.scheduleRestart(pn, 0)
		}
	}
}

// Settled reports whether, after the heal, every node runs and none is paused; when not, why.
func (p *FaultPlan) Settled() (bool, string) {
	if !p.healed {
		return false, "faults not healed yet"
	}
	for _, n := range p.controllers {
		switch {
		case !n.Up():
			return false, fmt.Sprintf("ctl%d is down", n.ID())
		case n.Paused():
			return false, fmt.Sprintf("ctl%d is paused", n.ID())
		}
	}
	for _, pn := range p.nodes {
		switch {
		case pn.n == nil:
		case pn.gaveUp:
			return false, fmt.Sprintf("node%d did not restart: %v (last storage failure while up: %v)", pn.id, pn.restartErr, pn.n.LastFatal())
		case !pn.n.Up():
			return false, fmt.Sprintf("node%d is down", pn.id)
		case pn.n.Paused():
			return false, fmt.Sprintf("node%d is paused", pn.id)
		}
	}
	return true, ""
}

// WallClockMaxMs is the latest node id's wall clock has read so far, backward jumps
// notwithstanding (for check.Retention: retention may have deleted what was old by then).
func (p *FaultPlan) WallClockMaxMs(id int32) int64 {
	pn := p.planNode(id)
	if pn == nil || pn.n == nil {
		return 0
	}
	return max(pn.wallMaxMs, pn.n.Clock().NowMs())
}

// Damage is node id's damage log (nil if the plan does not know the node).
func (p *FaultPlan) Damage(id int32) *DamageLog {
	if pn := p.planNode(id); pn != nil {
		return &pn.damage
	}
	return nil
}

// Excused lists, for every node, the partition offsets whose acknowledged records disk
// corruption may have destroyed (see DamagedOffsets), mapped on the disks as they are now:
// the durability checker excuses exactly these. Empty when corruption is off.
func (p *FaultPlan) Excused() ([]ExcusedRange, error) {
	var out []ExcusedRange
	var errs []error
	for _, pn := range p.nodes {
		if pn.n == nil || pn.damage.Len() == 0 {
			continue
		}
		if err := pn.damage.Remap(pn.n.Disk(), p.w.NowNs()); err != nil {
			errs = append(errs, err)
		}
		out = append(out, pn.damage.Excused()...)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("sim: mapping disk damage: %v", errs)
	}
	return sortExcused(out), nil
}
