package sim

import (
	"slices"
	"testing"

	"github.com/weirdata/weir/core/client"
)

// TestOperatorElectsAndReassigns: with RunOptions.Operator a replicated run gets preferred
// elections and reassignments while the workload goes on, the controller takes them (no
// top-level error, a reassignment moving a replica completes), and the run passes every
// checker. Sweeps with faults: `weir sim sweep --nodes N --replication-factor 3 --operator`.
func TestOperatorElectsAndReassigns(t *testing.T) {
	opts := DefaultRunOptions(1)
	opts.Nodes, opts.Voters, opts.Roles, opts.Faults = 4, 1, RolesSeparate, "none"
	opts.ReplicationFactor, opts.Operator = 3, true
	c := runCluster(t, opts)
	kinds := map[client.AdminKind]int{}
	for _, r := range c.admin.AdminResults() {
		if r.Kind == client.AdminCreateTopic {
			continue
		}
		if r.ErrorCode != 0 {
			t.Errorf("%s failed: %s", r.Kind, r.Err)
		}
		kinds[r.Kind]++
	}
	if kinds[client.AdminElectLeaders] == 0 || kinds[client.AdminReassign] == 0 {
		t.Fatalf("operator actions: %v", kinds)
	}
	// Without faults every reassignment completes: each partition sent somewhere ends there.
	img := c.leaderImage()
	for p, target := range c.operator.targets {
		part := imagePartition(img, p)
		if part == nil || !slices.Equal(part.Replicas, target) || len(part.AddingReplicas) > 0 || len(part.RemovingReplicas) > 0 {
			t.Errorf("partition %d sent to %v: %+v", p, target, part)
		}
	}
	if c.operator.moves == 0 {
		t.Errorf("no reassignment moved a replica")
	}
}
