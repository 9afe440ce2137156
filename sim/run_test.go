package sim

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ciSeeds is how many seeds `go test ./sim/` runs with the faults each seed draws, and
// ciAllFaultSeeds how many with every fault class on; each runs twice. Together they are sized
// to a few minutes on two cores. WEIR_SIM_SEEDS and WEIR_SIM_ALL_FAULT_SEEDS override them
// (0 skips a set), `weir sim sweep` runs longer sweeps, and -short runs a handful.
//
// ciClusterSeeds and ciClusterAllFaultSeeds are the same for clusters of 3, 4 and 5 brokers
// (the node count cycles with the seed, the voters are drawn) with an RF=1 topic, and
// ciReplicatedSeeds and ciReplicatedAllFaultSeeds with an RF=3, min.insync.replicas=2 topic
// and acks=all producers; WEIR_SIM_CLUSTER_SEEDS, WEIR_SIM_CLUSTER_ALL_FAULT_SEEDS,
// WEIR_SIM_REPLICATED_SEEDS and WEIR_SIM_REPLICATED_ALL_FAULT_SEEDS override them.
// ciOperatorSeeds run the replicated workload under every fault class with the operator
// (preferred elections and reassignments, RunOptions.Operator), ciWipeSeeds with one disk
// wiped (RunOptions.Wipes); WEIR_SIM_OPERATOR_SEEDS and WEIR_SIM_WIPE_SEEDS override them.
const (
	ciSeeds                   = 2500
	ciAllFaultSeeds           = 3000
	ciClusterSeeds            = 200
	ciClusterAllFaultSeeds    = 150
	ciReplicatedSeeds         = 250
	ciReplicatedAllFaultSeeds = 250
	ciOperatorSeeds           = 200
	ciWipeSeeds               = 200
	shortSeeds                = 8
	shortAllFaultSet          = 4
)

// seedRun is one seed of the CI set, with the faults it runs under ("" draws them), its
// cluster size (0: the single-node default), the workload topic's replication factor (0:
// one) and whether the operator runs.
type seedRun struct {
	seed     uint64
	faults   string
	nodes    int
	rf       int
	operator bool
	wipes    bool
}

// TestRunSeeds runs the CI seed sets, each seed twice: every run must pass and replay to the
// same trace hash; a mismatch names the first event that differs.
func TestRunSeeds(t *testing.T) {
	drawn, all := uint64(ciSeeds), uint64(ciAllFaultSeeds)
	if testing.Short() {
		drawn, all = shortSeeds, shortAllFaultSet
	}
	clusterDrawn, clusterAll := uint64(ciClusterSeeds), uint64(ciClusterAllFaultSeeds)
	if testing.Short() {
		clusterDrawn, clusterAll = shortSeeds, shortAllFaultSet
	}
	drawn = seedCount(t, "WEIR_SIM_SEEDS", drawn)
	all = seedCount(t, "WEIR_SIM_ALL_FAULT_SEEDS", all)
	replicatedDrawn, replicatedAll := uint64(ciReplicatedSeeds), uint64(ciReplicatedAllFaultSeeds)
	if testing.Short() {
		replicatedDrawn, replicatedAll = shortSeeds, shortAllFaultSet
	}
	clusterDrawn = seedCount(t, "WEIR_SIM_CLUSTER_SEEDS", clusterDrawn)
	clusterAll = seedCount(t, "WEIR_SIM_CLUSTER_ALL_FAULT_SEEDS", clusterAll)
	replicatedDrawn = seedCount(t, "WEIR_SIM_REPLICATED_SEEDS", replicatedDrawn)
	replicatedAll = seedCount(t, "WEIR_SIM_REPLICATED_ALL_FAULT_SEEDS", replicatedAll)
	operatorAll := uint64(ciOperatorSeeds)
	if testing.Short() {
		operatorAll = shortAllFaultSet
	}
	operatorAll = seedCount(t, "WEIR_SIM_OPERATOR_SEEDS", operatorAll)
	wipeAll := uint64(ciWipeSeeds)
	if testing.Short() {
		wipeAll = shortAllFaultSet
	}
	wipeAll = seedCount(t, "WEIR_SIM_WIPE_SEEDS", wipeAll)
	var runs []seedRun
	for seed := uint64(1); seed <= max(drawn, all, clusterDrawn, clusterAll, replicatedDrawn, replicatedAll, operatorAll, wipeAll); seed++ {
		nodes := 3 + int(seed%3)
		if seed <= drawn {
			runs = append(runs, seedRun{seed, "", 0, 0, false, false})
		}
		if seed <= all {
			runs = append(runs, seedRun{seed, "all", 0, 0, false, false})
		}
		if seed <= clusterDrawn {
			runs = append(runs, seedRun{seed, "", nodes, 0, false, false})
		}
		if seed <= clusterAll {
			runs = append(runs, seedRun{seed, "all", nodes, 0, false, false})
		}
		if seed <= replicatedDrawn {
			runs = append(runs, seedRun{seed, "", nodes, 3, false, false})
		}
		if seed <= replicatedAll {
			runs = append(runs, seedRun{seed, "all", nodes, 3, false, false})
		}
		if seed <= operatorAll {
			runs = append(runs, seedRun{seed, "all", nodes, 3, true, false})
		}
		if seed <= wipeAll {
			runs = append(runs, seedRun{seed, "all", nodes, 3, false, true})
		}
	}
	runSeeds(t, runs, func(t *testing.T, r seedRun) { checkSeed(t, r) })
}

// runSeeds runs check on every run, one worker per core, each taking whole seeds (a run is
// single-goroutine).
func runSeeds(t *testing.T, runs []seedRun, check func(t *testing.T, r seedRun)) {
	var (
		mu   sync.Mutex
		next int
	)
	take := func() (seedRun, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= len(runs) {
			return seedRun{}, false
		}
		next++
		return runs[next-1], true
	}
	for worker := range runtime.GOMAXPROCS(0) {
		t.Run(fmt.Sprintf("worker%d", worker), func(t *testing.T) {
			t.Parallel()
			for r, ok := take(); ok; r, ok = take() {
				check(t, r)
			}
		})
	}
}

// seedCount is the environment variable env as a seed count, or def when it is unset.
func seedCount(t *testing.T, env string, def uint64) uint64 {
	s := os.Getenv(env)
	if s == "" {
		return def
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: want a seed count", env, s)
	}
	return n
}

// checkSeed runs a seed twice as r says and fails on a failing run or a differing trace.
func checkSeed(t *testing.T, r seedRun) {
	seed, faults, nodes, rf := r.seed, r.faults, r.nodes, r.rf
	opts := DefaultRunOptions(seed)
	opts.Faults, opts.Nodes, opts.ReplicationFactor, opts.Operator, opts.Wipes = faults, nodes, rf, r.operator, r.wipes
	replay := fmt.Sprintf("weir sim --seed %d", seed)
	if nodes > 1 {
		replay += fmt.Sprintf(" --nodes %d", nodes)
	}
	if rf > 1 {
		replay += fmt.Sprintf(" --replication-factor %d", rf)
	}
	if r.operator {
		replay += " --operator"
	}
	if r.wipes {
		replay += " --wipes"
	}
	if faults != "" {
		replay += " --faults " + faults
	}
	first := Run(opts)
	if !first.Passed() {
		t.Errorf("seed %d failed: %s\n  replay: %s\n%s", seed, first.Failure, replay, first.Summary())
		return
	}
	if again := Run(opts); again.TraceHash != first.TraceHash {
		t.Errorf("seed %d is not deterministic (%s): trace hash %s then %s; %s", seed, replay, first.TraceHash, again.TraceHash, firstTraceDifference(opts))
	}
}

// firstTraceDifference runs opts twice more with traces captured and names the first line
// that differs.
func firstTraceDifference(opts RunOptions) string {
	var a, b bytes.Buffer
	opts.Trace = &a
	Run(opts)
	opts.Trace = &b
	Run(opts)
	la, lb := strings.Split(a.String(), "\n"), strings.Split(b.String(), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return fmt.Sprintf("first difference at trace line %d:\n  %s\n  %s", i+1, la[i], lb[i])
		}
	}
	if len(la) != len(lb) {
		return fmt.Sprintf("one trace is a prefix of the other (%d and %d lines)", len(la), len(lb))
	}
	return "the traces captured again are identical (the difference is not in the trace text)"
}
