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

// ciSeeds is how many seeds `go test ./sim/` runs (each twice), sized to a few minutes on two
// cores; WEIR_SIM_SEEDS overrides it, and `weir sim sweep` runs longer sweeps. -short runs a
// handful.
const ciSeeds = 300

// TestRunSeeds runs seeds 1..ciSeeds, each twice: every run must pass and replay to the same
// trace hash; a mismatch names the first event that differs.
func TestRunSeeds(t *testing.T) {
	seeds := uint64(ciSeeds)
	if testing.Short() {
		seeds = 8
	}
	if s := os.Getenv("WEIR_SIM_SEEDS"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			t.Fatalf("WEIR_SIM_SEEDS=%q: want a positive count", s)
		}
		seeds = n
	}
	var (
		mu   sync.Mutex
		next uint64 = 1
	)
	take := func() (uint64, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next > seeds {
			return 0, false
		}
		next++
		return next - 1, true
	}
	// One worker per core, each running whole seeds: a run is single-goroutine.
	for worker := range runtime.GOMAXPROCS(0) {
		t.Run(fmt.Sprintf("worker%d", worker), func(t *testing.T) {
			t.Parallel()
			for seed, ok := take(); ok; seed, ok = take() {
				checkSeed(t, seed)
			}
		})
	}
}

// checkSeed runs seed twice and fails on a failing run or a differing trace.
func checkSeed(t *testing.T, seed uint64) {
	opts := DefaultRunOptions(seed)
	first := Run(opts)
	if !first.Passed() {
		t.Errorf("seed %d failed: %s\n  replay: weir sim --seed %d\n%s", seed, first.Failure, seed, first.Summary())
		return
	}
	if again := Run(opts); again.TraceHash != first.TraceHash {
		t.Errorf("seed %d is not deterministic: trace hash %s then %s; %s", seed, first.TraceHash, again.TraceHash, firstTraceDifference(opts))
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
