package sim

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/quorum"
)

// ciQuorumSeeds is how many quorum seeds `go test ./sim/` runs with the faults each seed
// draws, and ciQuorumAllFaultSeeds how many with every class on; each runs twice (trace hashes
// compared). Together about a minute on two cores. WEIR_SIM_QUORUM_SEEDS and
// WEIR_SIM_QUORUM_ALL_FAULT_SEEDS override them (0 skips a set); -short runs a handful.
const (
	ciQuorumSeeds         = 1500
	ciQuorumAllFaultSeeds = 1500
	shortQuorumSeeds      = 20
)

// TestQuorumSeeds runs the quorum CI seed sets, each seed twice: every run must pass and
// replay to the same trace hash.
func TestQuorumSeeds(t *testing.T) {
	drawn, all := uint64(ciQuorumSeeds), uint64(ciQuorumAllFaultSeeds)
	if testing.Short() {
		drawn, all = shortQuorumSeeds, shortQuorumSeeds
	}
	drawn = seedCount(t, "WEIR_SIM_QUORUM_SEEDS", drawn)
	all = seedCount(t, "WEIR_SIM_QUORUM_ALL_FAULT_SEEDS", all)
	var runs []seedRun
	for seed := uint64(1); seed <= max(drawn, all); seed++ {
		if seed <= drawn {
			runs = append(runs, seedRun{seed: seed})
		}
		if seed <= all {
			runs = append(runs, seedRun{seed: seed, faults: "all"})
		}
	}
	runSeeds(t, runs, func(t *testing.T, r seedRun) { checkQuorumSeed(t, DefaultQuorumOptions(r.seed), r.faults) })
}

// checkQuorumSeed runs a quorum seed twice and fails on a failing run or a differing trace.
func checkQuorumSeed(t *testing.T, opts QuorumOptions, faults string) {
	t.Helper()
	opts.Faults = faults
	replay := fmt.Sprintf("weir sim --quorum --seed %d", opts.Seed)
	if faults != "" {
		replay += " --faults " + faults
	}
	first := RunQuorum(opts)
	if !first.Passed() {
		t.Errorf("quorum seed %d failed: %s\n  replay: %s\n%s", opts.Seed, first.Failure, replay, first.Summary())
		return
	}
	if again := RunQuorum(opts); again.TraceHash != first.TraceHash {
		t.Errorf("quorum seed %d is not deterministic (%s): trace hash %s then %s; %s", opts.Seed, replay, first.TraceHash, again.TraceHash,
			firstQuorumTraceDifference(opts))
	}
}

// firstQuorumTraceDifference runs opts twice with traces captured and names the first line
// that differs.
func firstQuorumTraceDifference(opts QuorumOptions) string {
	var a, b bytes.Buffer
	opts.Trace = &a
	RunQuorum(opts)
	opts.Trace = &b
	RunQuorum(opts)
	la, lb := strings.Split(a.String(), "\n"), strings.Split(b.String(), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return fmt.Sprintf("first difference at trace line %d:\n  %s\n  %s", i+1, la[i], lb[i])
		}
	}
	if len(la) != len(lb) {
		return fmt.Sprintf("one trace is a prefix of the other (%d and %d lines)", len(la), len(lb))
	}
	return "the traces captured again are identical"
}

// TestQuorumDeterminism: a quorum run with every fault class replays line for line, and
// another seed does not.
func TestQuorumDeterminism(t *testing.T) {
	trace := func(seed uint64) string {
		var b bytes.Buffer
		opts := DefaultQuorumOptions(seed)
		opts.Faults = "all"
		opts.Trace = &b
		res := RunQuorum(opts)
		if !res.Passed() {
			t.Fatalf("seed %d: %s", seed, res.Failure)
		}
		return b.String()
	}
	a, b := trace(11), trace(11)
	if a != b {
		t.Fatalf("seed 11 replayed differently: %s", firstQuorumTraceDifference(QuorumOptions{Seed: 11, DurationNs: 20e9, LivenessNs: 60e9, Faults: "all"}))
	}
	if !strings.Contains(a, "ctl1 ready") || !strings.Contains(a, "role=leader") {
		t.Fatalf("the trace does not cover the quorum nodes' Readies")
	}
	if trace(12) == a {
		t.Fatal("seeds 11 and 12 gave the same trace")
	}
}

// TestQuorumVoterCounts: 3 and 5 voters without faults elect one leader in epoch 1, acknowledge
// registrations and producer ids, and converge.
func TestQuorumVoterCounts(t *testing.T) {
	for _, voters := range []int{3, 5} {
		t.Run(fmt.Sprint(voters), func(t *testing.T) {
			opts := DefaultQuorumOptions(7)
			opts.Voters, opts.Faults = voters, "none"
			res := RunQuorum(opts)
			if !res.Passed() {
				t.Fatal(res.Summary())
			}
			if res.Knobs.Voters != voters || res.MaxEpoch != 1 || len(res.History.Registrations) == 0 || res.History.Heartbeats == 0 {
				t.Fatalf("want %d voters, one epoch, registrations and heartbeats:\n%s", voters, res.Summary())
			}
		})
	}
}

// newTestQuorum builds a fault-free quorum cluster for a scenario driven by hand.
func newTestQuorum(t *testing.T, seed uint64, voters int) *quorumCluster {
	t.Helper()
	opts := DefaultQuorumOptions(seed)
	opts.Voters, opts.Faults = voters, "none"
	c := &quorumCluster{opts: opts, w: NewWorld(seed)}
	if err := c.setUp(); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *quorumCluster) mustConverge(t *testing.T, what string, withinNs int64) *ControllerNode {
	t.Helper()
	if !c.w.RunUntilTrue(c.converged, c.w.NowNs()+withinNs) {
		t.Fatalf("%s: not converged within %d ms: %s", what, withinNs/1e6, c.describe())
	}
	if f := c.checker.failure(); f != "" {
		t.Fatalf("%s: %s", what, f)
	}
	return c.leader()
}

// TestQuorumZombieLeader: the leader is cut off from the other nodes (its clients still reach
// it) while brokers register; the others elect a new leader in a later epoch, the zombie commits
// nothing, and once healed it follows the new leader; every acknowledged registration survives.
func TestQuorumZombieLeader(t *testing.T) {
	c := newTestQuorum(t, 3, 3)
	old := c.mustConverge(t, "first election", 10e9)
	oldEpoch := old.Node().QuorumState().Epoch
	var others []string
	for _, n := range c.nodes {
		if n != old {
			others = append(others, n.Host())
		}
	}
	c.network.Partition([]string{old.Host()}, others)
	zombieHW := old.Node().HighWatermark()
	c.w.RunFor(15e9)
	if hw := old.Node().HighWatermark(); hw != zombieHW {
		t.Fatalf("the isolated leader's high watermark moved from %d to %d", zombieHW, hw)
	}
	if old.Node().Role() == quorum.RoleLeader && old.Node().Active() {
		t.Fatal("the isolated leader is still the active controller after 15 s (check-quorum)")
	}
	c.network.HealAll()
	c.w.RunFor(5e9) // clients keep going, now through the new leader
	for _, a := range c.clients {
		a.stop()
	}
	leader := c.mustConverge(t, "after healing", 30e9)
	if e := leader.Node().QuorumState().Epoch; e <= oldEpoch {
		t.Fatalf("new leader's epoch %d, want above %d", e, oldEpoch)
	}
	if st := old.Node().QuorumState(); st.Epoch != leader.Node().QuorumState().Epoch {
		t.Fatalf("the old leader is at %s, the new one at %s", st, leader.Node().QuorumState())
	}
	c.checker.checkLogMatching(c.members())
	c.checker.checkRegistrations(c.members(), &c.history)
	c.checker.checkProducerIDs(c.members(), &c.history)
	if f := c.checker.failure(); f != "" {
		t.Fatal(f)
	}
	if len(c.history.Registrations) == 0 {
		t.Fatal("no registration was acknowledged")
	}
}

// TestControllerNodeCrashKeepsQuorumState: every voter crashes at once, losing unsynced data,
// and restarts; the quorum state read back is never behind what each had made durable, and the
// quorum elects a leader in a later epoch with every acknowledged registration kept.
func TestControllerNodeCrashKeepsQuorumState(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		c := newTestQuorum(t, seed, 3)
		c.w.RunFor(4e9)
		before := c.mustConverge(t, "first election", 10e9).Node().QuorumState().Epoch
		var restarted []quorum.State
		for _, n := range c.nodes {
			n.SetHooks(ControllerHooks{
				Restarted: func(n *ControllerNode, s quorum.State) { c.checker.restarted(n, s); restarted = append(restarted, s) },
				Observe:   func(n *ControllerNode) { c.checker.observe(n) },
			})
			n.Crash()
		}
		c.w.RunFor(100e6)
		for _, n := range c.nodes {
			if err := n.Restart(); err != nil {
				t.Fatalf("seed %d: restart: %v", seed, err)
			}
		}
		for _, a := range c.clients {
			a.stop()
		}
		for _, s := range restarted {
			if s.Epoch < before {
				t.Fatalf("seed %d: a node restarted at epoch %d, below %d", seed, s.Epoch, before)
			}
		}
		after := c.mustConverge(t, "after the crash", 30e9).Node().QuorumState().Epoch
		if after <= before {
			t.Fatalf("seed %d: epoch %d after the crash, want above %d", seed, after, before)
		}
		c.checker.checkLogMatching(c.members())
		c.checker.checkRegistrations(c.members(), &c.history)
		c.checker.checkProducerIDs(c.members(), &c.history)
		if f := c.checker.failure(); f != "" {
			t.Fatalf("seed %d: %s", seed, f)
		}
	}
}

// TestQuorumCheckersCatchViolations: each checker fails on the violation it exists for.
func TestQuorumCheckersCatchViolations(t *testing.T) {
	expect := func(t *testing.T, k *quorumChecker, invariant string) {
		t.Helper()
		if f := k.failure(); !strings.Contains(f, invariant) {
			t.Fatalf("want a violation of %q, got %q", invariant, f)
		}
	}
	t.Run("two leaders in one epoch", func(t *testing.T) {
		k := newQuorumChecker(NewWorld(1))
		k.noteLeader(4, 1, 1)
		k.noteLeader(4, 2, 3)
		expect(t, k, "one leader per epoch")
	})
	converged := func(t *testing.T) *quorumCluster {
		c := newTestQuorum(t, 5, 3)
		c.w.RunFor(6e9)
		for _, a := range c.clients {
			a.stop()
		}
		c.mustConverge(t, "set-up", 30e9)
		return c
	}
	t.Run("epoch back across a crash", func(t *testing.T) {
		c := converged(t)
		n := c.nodes[0]
		st := n.Node().QuorumState()
		c.checker.restarted(n, quorum.State{Epoch: st.Epoch - 1, VotedFor: quorum.NoNode, LeaderID: quorum.NoNode})
		expect(t, c.checker, "quorum-state epoch never goes back across a crash")
	})
	t.Run("high watermark back", func(t *testing.T) {
		c := converged(t)
		n := c.nodes[1]
		c.checker.progress[n.ID()] = nodeProgress{incarnation: n.Incarnation(), hw: n.Node().HighWatermark() + 5}
		c.checker.observe(n)
		expect(t, c.checker, "high watermark never goes back")
	})
	t.Run("vote changed in an epoch", func(t *testing.T) {
		c := converged(t)
		n := c.nodes[2]
		st := n.Node().QuorumState()
		c.checker.durable[n.ID()] = quorum.State{Epoch: st.Epoch, VotedFor: st.VotedFor + 7, LeaderID: st.LeaderID}
		c.checker.observe(n)
		expect(t, c.checker, "one vote per epoch")
	})
	t.Run("lost registration", func(t *testing.T) {
		c := converged(t)
		h := c.history
		h.Registrations = append(h.Registrations, AckedRegistration{BrokerID: 4242, Epoch: 1 << 40}) // an epoch no registration has
		c.checker.checkRegistrations(c.members(), &h)
		expect(t, c.checker, "committed entries are never lost")
	})
	t.Run("one epoch for two registrations", func(t *testing.T) {
		c := converged(t)
		h := c.history
		r := h.Registrations[0]
		r.BrokerID = 4243
		h.Registrations = append(h.Registrations, r)
		c.checker.checkRegistrations(c.members(), &h)
		expect(t, c.checker, "broker epochs are unique")
	})
	t.Run("overlapping producer ids", func(t *testing.T) {
		c := converged(t)
		h := QuorumHistory{ProducerIDs: []AckedProducerIDs{{BrokerID: 1, Start: 0, Len: 1000}, {BrokerID: 2, Start: 500, Len: 1000}}}
		c.checker.checkProducerIDs(c.members(), &h)
		expect(t, c.checker, "producer id blocks are unique")
	})
	t.Run("divergent logs", func(t *testing.T) {
		c := converged(t)
		a, b := c.nodes[0].Log(), c.nodes[1].Log()
		epoch := a.LastEpoch()
		if err := a.Append([]quorum.Entry{{Epoch: epoch, Data: []byte("a")}, {Epoch: epoch + 1, Data: []byte("x")}}); err != nil {
			t.Fatal(err)
		}
		if err := b.Append([]quorum.Entry{{Epoch: epoch, Data: []byte("b")}, {Epoch: epoch + 1, Data: []byte("x")}}); err != nil {
			t.Fatal(err)
		}
		c.checker.checkLogMatching(c.members())
		expect(t, c.checker, "log matching")
	})
	t.Run("broker epoch not its registration's offset", func(t *testing.T) {
		c := converged(t)
		n := c.nodes[0]
		_, applied := n.Node().Image()
		start, entries, err := logEntries(n)
		if err != nil {
			t.Fatal(err)
		}
		img, err := metadata.EmptyImage().Apply([]metadata.Record{metadata.NewRegisterBrokerRecord(77, int64(start), metadata.UUID{7}, nil, nil, nil, true)})
		if err != nil {
			t.Fatal(err)
		}
		c.checker.checkBrokerEpochsIn(n.ID(), img, applied, start, entries)
		expect(t, c.checker, "broker epoch = offset of its registration record")
	})
	t.Run("different images at one offset", func(t *testing.T) {
		c := converged(t)
		_, applied := c.nodes[0].Node().Image()
		c.checker.checkImage(99, metadata.EmptyImage(), applied)
		expect(t, c.checker, "same committed image at the same offset")
	})
}

// BenchmarkQuorumRun is a 3-voter quorum's speed in virtual seconds per wall second, with the
// seed's drawn faults; run it with -cpu 1.
func BenchmarkQuorumRun(b *testing.B) {
	var virtualNs int64
	began := time.Now()
	seed := uint64(0)
	for b.Loop() {
		seed++
		opts := DefaultQuorumOptions(seed)
		opts.Voters = 3
		res := RunQuorum(opts)
		if !res.Passed() {
			b.Fatalf("seed %d failed: %s", seed, res.Failure)
		}
		virtualNs += res.VirtualNs
	}
	b.ReportMetric(float64(virtualNs)/1e9/time.Since(began).Seconds(), "virtual-s/s")
}

// TestQuorumLivenessFailsWithAnObserverCutOff: an observer cut off from the voters after the
// faults healed cannot apply what the controllers commit meanwhile (the clients go on), and the
// run fails naming liveness.
func TestQuorumLivenessFailsWithAnObserverCutOff(t *testing.T) {
	c := newTestQuorum(t, 2, 3)
	c.opts.LivenessNs = 30e9
	c.w.RunUntil(c.healNs)
	obs := c.nodes[len(c.nodes)-1]
	var voters []string
	for _, n := range c.nodes {
		if n.Voter() {
			voters = append(voters, n.Host())
		}
	}
	c.network.Partition([]string{obs.Host()}, voters)
	end := c.leader().Log().EndOffset()
	c.w.RunFor(5e9) // the clients keep registering and heartbeating: the log grows past the observer
	if c.leader().Log().EndOffset() == end {
		t.Fatal("nothing was appended after the observer was cut off: the test shows nothing")
	}
	if f := c.finish(); !strings.Contains(f, "liveness") {
		t.Fatalf("want a liveness failure, got %q", f)
	}
}

// TestQuorumCatchesLyingSyncs: with disks that acknowledge syncs without syncing, power losses
// lose entries the quorum committed, and the run fails (seeds are tried until one does): over
// 150 seeds, 16 failed — 8 on "same committed image at the same offset", 2 on "committed
// entries are never lost", 6 on core/quorum's own invariant panic (truncation below the high
// watermark).
func TestQuorumCatchesLyingSyncs(t *testing.T) {
	failed := 0
	for seed := uint64(1); seed <= 60 && failed == 0; seed++ {
		opts := DefaultQuorumOptions(seed)
		opts.Faults, opts.DurationNs = "crash", 10e9
		res := runQuorum(opts, func(c *quorumCluster) { c.lyingSyncs = true })
		if res.Passed() {
			continue
		}
		failed++
		t.Logf("seed %d: %s", seed, res.Failure)
	}
	if failed == 0 {
		t.Fatal("no seed caught the lost committed entries of lying syncs")
	}
}
