package sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirdata/weir/core/buggify"
)

// plantedSeedsMax bounds the seeds a planted bug may survive before its test fails.
const plantedSeedsMax = 30

// plantedRun is the runs a planted bug needs to show: the fault classes (the others stay off
// so the test is quick) and, for a replication bug, a cluster of three brokers replicating
// three ways.
type plantedRun struct {
	faults     string
	replicated bool
	// scenario, when set, is the replication scenario that catches the bug instead: its window
	// (a follower cut off from its leader between two crashes) is too narrow for random faults.
	// TestReplicationScenarios shows it failing with the bug and passing without.
	scenario string
}

// plantedRuns names each planted bug's runs: losing unsynced data needs crashes, a skipped
// CRC check needs damage to recover from, lost producer state needs retries across restarts;
// the replication bugs need leaders to change under load.
var plantedRuns = map[buggify.Bug]plantedRun{
	buggify.BugAckBeforeFsync:             {faults: "crash"},
	buggify.BugRecoverySkipsCRC:           {faults: "crash,corrupt"},
	buggify.BugIndexOffByOne:              {faults: "none"},
	buggify.BugServeAboveHW:               {faults: "none"},
	buggify.BugLoseProducerState:          {faults: "crash,net"},
	buggify.BugRetentionDeletesActive:     {faults: "none"},
	buggify.BugTruncateToHW:               {scenario: "kip101_truncate_to_hw.txt"},
	buggify.BugSkipDivergenceCheck:        {faults: "crash,pause,net", replicated: true},
	buggify.BugTruncateIgnoresOwnEpochs:   {scenario: "kip279_fast_double_failover.txt"},
	buggify.BugShowUnestablishedHW:        {faults: "crash,pause,net", replicated: true},
	buggify.BugFollowerSkipsProducerState: {faults: "crash,pause,net", replicated: true},
	buggify.BugISRWithoutBrokerEpochs:     {scenario: "kip903_empty_disk_stale_alter_partition.txt"},
	buggify.BugAdmitFencedReplica:         {faults: "crash,pause,net", replicated: true},
	buggify.BugIgnoreUncleanRestart:       {scenario: "kip966_wiped_last_isr_member.txt"},
	buggify.BugConsumerSkipsValidation:    {scenario: "kip320_consumer_detects_truncation.txt"},
}

// TestPlantedBugsCaught is the simulator's proof of power: each bug core can be built to have
// (core/buggify's Bugs) is planted in turn, and runs from seed 1 on must fail within
// plantedSeedsMax seeds, on a seed that passes without the bug (so the failure is the bug's);
// a bug whose window random faults miss names the replication scenario that catches it. The
// log says after how many seeds and how.
func TestPlantedBugsCaught(t *testing.T) {
	for _, bug := range buggify.Bugs {
		t.Run(string(bug), func(t *testing.T) {
			run, ok := plantedRuns[bug]
			if !ok {
				t.Fatalf("no runs named for %s in plantedRuns", bug)
			}
			if run.scenario != "" {
				data, err := os.ReadFile(filepath.Join("../testdata/replication-scenarios", run.scenario))
				if err != nil || !strings.Contains(string(data), "plant="+string(bug)) {
					t.Fatalf("%s: scenario %s does not plant it (%v)", bug, run.scenario, err)
				}
				t.Logf("%s is caught by the replication scenario %s", bug, run.scenario)
				return
			}
			faults := run.faults
			for seed := uint64(1); seed <= plantedSeedsMax; seed++ {
				opts := DefaultRunOptions(seed)
				opts.Faults = faults
				if run.replicated {
					opts.Nodes, opts.ReplicationFactor = 3, 3
				}
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
