package sim

import (
	"testing"

	"github.com/weirdata/weir/core/buggify"
)

// plantedSeedsMax bounds the seeds a planted bug may survive before its test fails.
const plantedSeedsMax = 30

// plantedFaults are the fault classes each planted bug needs to show (the others stay off so
// the test is quick): losing unsynced data needs crashes, a skipped CRC check needs damage to
// recover from, lost producer state needs retries across restarts.
var plantedFaults = map[buggify.Bug]string{
	buggify.BugAckBeforeFsync:         "crash",
	buggify.BugRecoverySkipsCRC:       "crash,corrupt",
	buggify.BugIndexOffByOne:          "none",
	buggify.BugServeAboveHW:           "none",
	buggify.BugLoseProducerState:      "crash,net",
	buggify.BugRetentionDeletesActive: "none",
}

// TestPlantedBugsCaught is the simulator's proof of power: each bug core can be built to have
// (core/buggify's Bugs) is planted in turn, and runs from seed 1 on must fail within
// plantedSeedsMax seeds, on a seed that passes without the bug (so the failure is the bug's).
// The log says after how many seeds and how.
func TestPlantedBugsCaught(t *testing.T) {
	for _, bug := range buggify.Bugs {
		t.Run(string(bug), func(t *testing.T) {
			faults, ok := plantedFaults[bug]
			if !ok {
				t.Fatalf("no fault classes named for %s in plantedFaults", bug)
			}
			for seed := uint64(1); seed <= plantedSeedsMax; seed++ {
				opts := DefaultRunOptions(seed)
				opts.Faults = faults
				opts.Planted = []buggify.Bug{bug}
				res := Run(opts)
				if res.Passed() {
					continue
				}
				opts.Planted = nil
				if clean := Run(opts); !clean.Passed() {
					t.Logf("seed %d fails without the bug too (%s): not counted", seed, clean.Failure)
					continue
				}
				t.Logf("%s caught after %d seeds (faults %s): %s", bug, seed, faults, res.Failure)
				return
			}
			t.Errorf("%s survived %d seeds", bug, plantedSeedsMax)
		})
	}
}
