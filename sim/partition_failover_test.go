package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/weirdata/weir/diskio/memfs"
)

// measurePartitionFailover runs one seed of three brokers (one separate controller) replicating
// the workload topic's one partition (RF=3, min.insync.replicas=2, acks=all clients at Kafka's
// default broker.session.timeout.ms of 9 s), stops its leader two virtual seconds into the
// workload ("crash": power loss; "stop": SIGTERM, a controlled shutdown) and returns how long
// until another broker leads it at the image's leader epoch, serving.
func measurePartitionFailover(seed uint64, fault string) (int64, error) {
	opts := DefaultRunOptions(seed)
	opts.Faults = "none"
	opts.Nodes, opts.Voters, opts.Roles, opts.ReplicationFactor = 3, 1, RolesSeparate, 3
	c := newCluster(opts, func(k *Knobs) {
		k.Partitions, k.Clients = 1, 3
		k.RetentionMs = -1
	})
	if failure := c.setUp(); failure != "" {
		return 0, fmt.Errorf("set up: %s", failure)
	}
	c.startWorkload(c.w.NowNs() + int64(time.Minute))
	c.w.RunFor(2 * int64(time.Second))
	old := partitionLeader(c, 0)
	if old < 0 || !leaderServes(c, 0, old) {
		return 0, fmt.Errorf("no leader serving before the fault")
	}
	var n *Node
	for _, m := range c.nodes {
		if m.ID() == old {
			n = m
		}
	}
	startNs := c.w.NowNs()
	switch fault {
	case "crash":
		n.CrashWith(memfs.CrashRandom)
	case "stop":
		n.Shutdown()
	default:
		return 0, fmt.Errorf("unknown fault %q", fault)
	}
	ok := c.w.RunUntilTrue(func() bool {
		id := partitionLeader(c, 0)
		return id >= 0 && id != old && leaderServes(c, 0, id)
	}, startNs+failoverLivenessNs)
	if !ok {
		return 0, fmt.Errorf("no new leader within %d s of the %s", failoverLivenessNs/1e9, fault)
	}
	return c.w.NowNs() - startNs, nil
}

// TestPartitionFailoverTime measures, over many seeds, how long a replicated partition takes
// to be served by a new leader after its leader is lost: by power loss (the controller waits
// out broker.session.timeout.ms before fencing it) or by SIGTERM (a controlled shutdown moves
// the leadership at once). It asserts only liveness (within 30 virtual seconds) and logs the
// distribution in virtual ms.
func TestPartitionFailoverTime(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 5
	}
	for _, fault := range []string{"crash", "stop"} {
		var took []int64
		for seed := 1; seed <= seeds; seed++ {
			ns, err := measurePartitionFailover(uint64(seed), fault)
			if err != nil {
				t.Errorf("%s seed %d: %v", fault, seed, err)
				continue
			}
			took = append(took, ns)
		}
		t.Logf("%s of a partition leader, %d seeds, virtual ms until a new leader serves: %s", fault, len(took), distribution(took))
	}
}
