package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/diskio/errorfs"
)

// quorumFaultClasses are the classes a quorum run injects: corruption and a full disk are left
// out (the metadata log's corruption is future work, see doc.go).
const quorumFaultClasses = FaultNet | FaultDisk | FaultCrash | FaultPause | FaultClock | FaultSlowSync | FaultClog

// QuorumFaultStats counts the faults a quorum plan injected.
type QuorumFaultStats struct {
	Crashes, ArmedCrashes, Shutdowns     int64
	Restarts, RestartFailures            int64
	Pauses, ClockJumps, DriftChanges     int64
	Resets, Isolations, LeaderIsolations int64
	Halves, OneWayCuts, Clogs            int64
	EIOWindows, EIOs, SlowSyncWindows    int64
}

func (s QuorumFaultStats) String() string {
	return fmt.Sprintf("crashes=%d (armed %d, clean shutdowns %d) restarts=%d (failed %d) pauses=%d clock-jumps=%d drifts=%d resets=%d isolations=%d leader-isolations=%d halves=%d one-way=%d clogs=%d eio-windows=%d eios=%d slow-syncs=%d",
		s.Crashes, s.ArmedCrashes, s.Shutdowns, s.Restarts, s.RestartFailures, s.Pauses, s.ClockJumps, s.DriftChanges, s.Resets, s.Isolations,
		s.LeaderIsolations, s.Halves, s.OneWayCuts, s.Clogs, s.EIOWindows, s.EIOs, s.SlowSyncWindows)
}

// quorumFaults is a quorum run's fault plan: each enabled class a chain of events over
// [StartNs, HealAtNs) a seeded gap apart, every draw from w.Rand("faults/quorum/<class>");
// crashed nodes (a Fatal included) restart after a seeded downtime, retried while recovery
// fails. At HealAtNs, heal stops everything and restarts the nodes that are down.
type quorumFaults struct {
	w       *World
	net     *Network
	cfg     FaultConfig
	classes FaultClass
	nodes   []*ControllerNode
	eio     map[int32]*errorfs.Toggle // lookup only
	restart *rand.Rand
	healed  bool
	stats   QuorumFaultStats
}

func newQuorumFaults(w *World, network *Network, cfg FaultConfig) *quorumFaults {
	p := &quorumFaults{w: w, net: network, cfg: cfg, eio: map[int32]*errorfs.Toggle{}, restart: w.Rand("faults/quorum/restart")}
	if cfg.Override {
		p.classes = cfg.Classes & quorumFaultClasses
	} else {
		r := w.Rand("faults/quorum/classes")
		for _, fc := range faultClasses {
			if quorumFaultClasses.Has(fc.class) && r.IntN(100) < fc.chancePct {
				p.classes |= fc.class
			}
		}
	}
	return p
}

// configure wraps a node's disk with its EIO toggle when disk faults are on.
func (p *quorumFaults) configure(cfg *ControllerNodeConfig) {
	if !p.classes.Has(FaultDisk) {
		return
	}
	r := p.w.Rand(fmt.Sprintf("faults/quorum/node/%d/eio", cfg.ID))
	random := errorfs.RandomFrom(r, []int{1_000, 10_000, 100_000}[r.IntN(3)])
	counted := errorfs.InjectorFunc(func(op errorfs.Op) error {
		err := random.MaybeError(op)
		if err != nil {
			p.stats.EIOs++
		}
		return err
	})
	t := errorfs.NewToggle(errorfs.When(errorfs.Kinds(errorfs.OpRead, errorfs.OpWrite, errorfs.OpSync, errorfs.OpSyncData), counted))
	p.eio[cfg.ID] = t
	cfg.Injector = t
}

// crashed schedules a crashed node's restart: after a seeded downtime while faults run, at
// once after they healed.
func (p *quorumFaults) crashed(n *ControllerNode) {
	p.stats.Crashes++
	downNs := int64(10e6)
	if !p.healed {
		downNs = 50e6 + p.restart.Int64N(3e9)
	}
	p.scheduleRestart(n, downNs)
}

func (p *quorumFaults) scheduleRestart(n *ControllerNode, afterNs int64) {
	p.w.After(afterNs, fmt.Sprintf("faults restart ctl%d", n.ID()), func() {
		if n.Up() {
			return
		}
		if err := n.Restart(); err != nil {
			p.stats.RestartFailures++
			if p.w.NowNs() < p.cfg.HealAtNs+p.cfg.RestartGiveUpNs {
				p.scheduleRestart(n, 500e6)
			}
			return
		}
		p.stats.Restarts++
	})
}

// start schedules the first fault of each enabled class.
func (p *quorumFaults) start(nodes []*ControllerNode) {
	p.nodes = nodes
	for _, fc := range faultClasses {
		if p.classes.Has(fc.class) {
			p.next(fc.class, fc.name)
		}
	}
	p.w.At(p.cfg.HealAtNs, "faults heal", p.heal)
}

func (p *quorumFaults) next(class FaultClass, name string) {
	r := p.w.Rand("faults/quorum/" + name)
	at := max(p.w.NowNs(), p.cfg.StartNs) + r.Int64N(2*p.cfg.GapNsMean+1)
	if at >= p.cfg.HealAtNs {
		return
	}
	p.w.At(at, "faults "+name, func() {
		if p.healed {
			return
		}
		p.inject(class, r)
		p.next(class, name)
	})
}

// window runs on now and off after a duration drawn in [loNs, hiNs), unless healed first.
func (p *quorumFaults) window(r *rand.Rand, what string, loNs, hiNs int64, on, off func()) {
	on()
	p.w.After(loNs+r.Int64N(hiNs-loNs), "faults end "+what, func() {
		if !p.healed {
			off()
		}
	})
}

func (p *quorumFaults) hosts() []string {
	hosts := make([]string, len(p.nodes))
	for i, n := range p.nodes {
		hosts[i] = n.Host()
	}
	return hosts
}

// isolate cuts host off from every other node for a while.
func (p *quorumFaults) isolate(r *rand.Rand, host string) {
	others := slices.DeleteFunc(p.hosts(), func(h string) bool { return h == host })
	p.window(r, "isolate "+host, 200e6, 10e9, func() {
		p.w.Tracef("faults: isolate %s", host)
		p.net.Partition([]string{host}, others)
	}, func() {
		p.net.Heal([]string{host}, others)
		p.net.Heal(others, []string{host})
	})
}

// leader is the node that is up and leads its epoch (the highest), or nil.
func (p *quorumFaults) leader() *ControllerNode {
	var best *ControllerNode
	for _, n := range p.nodes {
		if n.Up() && n.Node().Role() == quorum.RoleLeader && (best == nil || n.Node().QuorumState().Epoch > best.Node().QuorumState().Epoch) {
			best = n
		}
	}
	return best
}

func (p *quorumFaults) inject(class FaultClass, r *rand.Rand) {
	n := p.nodes[r.IntN(len(p.nodes))]
	if class&(FaultCrash|FaultPause) != 0 && r.IntN(3) == 0 {
		// A third of crashes and pauses hit the leader: failovers, and paused leaders that
		// resume as zombies with their held events.
		if l := p.leader(); l != nil {
			n = l
		}
	}
	switch class {
	case FaultCrash:
		if !n.Up() {
			return
		}
		switch r.IntN(5) {
		case 0, 1:
			p.w.Tracef("faults: crash ctl%d", n.ID())
			n.Crash()
		case 2, 3:
			p.stats.ArmedCrashes++
			n.ArmCrashRandom(20)
		default:
			p.stats.Shutdowns++
			n.Shutdown()
		}
	case FaultPause:
		p.stats.Pauses++
		n.Pause(1e6 + r.Int64N(9e9))
	case FaultClock:
		if r.IntN(2) == 0 {
			p.stats.ClockJumps++
			delta := 1000 + r.Int64N(3600_000)
			if r.IntN(2) == 0 {
				delta = -delta
			}
			n.Clock().Jump(delta)
			p.w.Tracef("faults: ctl%d clock jumps %dms", n.ID(), delta)
		} else {
			p.stats.DriftChanges++
			n.Clock().SetDriftPpm(r.Int64N(1001) - 500)
		}
	case FaultDisk:
		t := p.eio[n.ID()]
		p.stats.EIOWindows++
		p.window(r, fmt.Sprintf("eio ctl%d", n.ID()), 100e6, 3e9, t.On, t.Off)
	case FaultSlowSync:
		p.stats.SlowSyncWindows++
		p.window(r, fmt.Sprintf("slow sync ctl%d", n.ID()), 100e6, 5e9, func() { n.SetSyncSlowdown(100) }, func() { n.SetSyncSlowdown(1) })
	case FaultClog:
		p.stats.Clogs++
		host := n.Host()
		p.window(r, "clog "+host, 100e6, 5e9, func() { p.net.Clog(host) }, func() { p.net.Unclog(host) })
	case FaultNet:
		p.injectNet(r, n)
	}
}

func (p *quorumFaults) injectNet(r *rand.Rand, n *ControllerNode) {
	switch r.IntN(5) {
	case 0:
		p.stats.Resets++
		p.net.ResetHost(n.Host())
	case 1:
		p.stats.Isolations++
		p.isolate(r, n.Host())
	case 2:
		// A zombie leader: the current quorum leader cut off from the other nodes (clients
		// still reach it), until its epoch is superseded and it learns so after healing.
		if l := p.leader(); l != nil {
			p.stats.LeaderIsolations++
			p.isolate(r, l.Host())
		}
	case 3:
		hosts := p.hosts()
		r.Shuffle(len(hosts), func(i, j int) { hosts[i], hosts[j] = hosts[j], hosts[i] })
		cut := 1 + r.IntN(len(hosts)-1)
		a, b := hosts[:cut], hosts[cut:]
		p.stats.Halves++
		p.window(r, "halves", 200e6, 10e9, func() {
			p.w.Tracef("faults: partition %v | %v", a, b)
			p.net.Partition(a, b)
		}, func() {
			p.net.Heal(a, b)
			p.net.Heal(b, a)
		})
	case 4:
		hosts := p.hosts()
		i := r.IntN(len(hosts))
		j := (i + 1 + r.IntN(len(hosts)-1)) % len(hosts)
		from, to := []string{hosts[i]}, []string{hosts[j]}
		p.stats.OneWayCuts++
		p.window(r, "one-way cut", 200e6, 10e9, func() {
			p.w.Tracef("faults: cut %s -> %s", from[0], to[0])
			p.net.Cut(from, to)
		}, func() { p.net.Heal(from, to) })
	}
}

// heal stops every fault and restarts the nodes that are down.
func (p *quorumFaults) heal() {
	p.healed = true
	p.w.Trace("faults: heal")
	p.net.HealAll()
	for _, n := range p.nodes {
		p.net.Unclog(n.Host())
		n.Resume()
		n.Disarm()
		n.SetSyncSlowdown(1)
		if t, ok := p.eio[n.ID()]; ok {
			t.Off()
		}
		if !n.Up() {
			p.scheduleRestart(n, 10e6)
		}
	}
}
