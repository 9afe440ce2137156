package sim

import (
	"testing"
)

// TestRunSeeds runs a fixed set of seeds, each twice: every run passes and replays to the
// same trace hash.
func TestRunSeeds(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		opts := DefaultRunOptions(seed)
		first := Run(opts)
		t.Log(first.Summary())
		if !first.Passed() {
			t.Errorf("seed %d failed: %s\nreplay: weir sim --seed %d", seed, first.Failure, seed)
			continue
		}
		if again := Run(opts); again.TraceHash != first.TraceHash {
			t.Errorf("seed %d: trace hash %s then %s: the run is not deterministic", seed, first.TraceHash, again.TraceHash)
		}
	}
}
