package sim

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/metadata"
)

// startCluster sets opts's cluster up and starts its faults and workload, as Run does.
func startCluster(t *testing.T, opts RunOptions) *cluster {
	t.Helper()
	c := newCluster(opts)
	if f := c.setUp(); f != "" {
		t.Fatalf("seed %d: %s", opts.Seed, f)
	}
	c.startFaults()
	c.startWorkload(c.w.NowNs() + opts.DurationNs)
	return c
}

// runCluster runs opts to the end as Run does and returns the cluster for inspection.
func runCluster(t *testing.T, opts RunOptions) *cluster {
	t.Helper()
	c := startCluster(t, opts)
	c.w.RunUntil(c.stopNs)
	if f := c.finish(); f != "" {
		t.Fatalf("seed %d: %s", opts.Seed, f)
	}
	return c
}

// TestClusterSpreadsPartitions: in a cluster the topic's partitions (RF=1) are spread over
// every broker, each broker leads its own, and the clients reach every broker: produces and
// fetches follow the leaders.
func TestClusterSpreadsPartitions(t *testing.T) {
	type shape struct {
		nodes, voters int
		roles         string
	}
	for _, shape := range []shape{{3, 1, RolesCombined}, {3, 3, RolesCombined}, {4, 3, RolesCombined}, {5, 5, RolesCombined}, {3, 3, RolesSeparate}, {4, 5, RolesSeparate}} {
		opts := DefaultRunOptions(11)
		opts.Nodes, opts.Voters, opts.Roles, opts.Faults = shape.nodes, shape.voters, shape.roles, "none"
		opts.ReplicationFactor = 3
		c := runCluster(t, opts)
		for _, ctl := range c.controllers {
			if ctl.Stats().Listener.Requests == 0 {
				t.Errorf("%+v: controller %d took no requests", shape, ctl.ID())
			}
		}
		img, _ := c.members()[0].controllerNode().Image()
		topic, ok := img.TopicByName(workloadTopic)
		if !ok {
			t.Fatalf("%d nodes: topic %s not in the image", shape.nodes, workloadTopic)
		}
		led := map[int32]int{}
		for _, p := range topic.Partitions() {
			// RF=3 (workloadTopicSpec); without faults the preferred replica leads and every
			// replica is in sync.
			if len(p.Replicas) != 3 || p.Leader != p.Replicas[0] || len(p.ISR) != 3 {
				t.Fatalf("%d nodes: partition %d: replicas %v ISR %v leader %d", shape.nodes, p.ID, p.Replicas, p.ISR, p.Leader)
			}
			led[p.Leader]++
		}
		for _, n := range c.nodes {
			if led[n.ID()] == 0 {
				t.Errorf("%d nodes: broker %d leads none of the %d partitions (%v)", shape.nodes, n.ID(), topic.PartitionCount(), led)
			}
			if n.Stats().Requests < 100 {
				t.Errorf("%d nodes: broker %d served %d requests: clients do not reach it", shape.nodes, n.ID(), n.Stats().Requests)
			}
			if voter := shape.roles == RolesCombined && int(n.ID()) <= shape.voters; voter != (n.Stats().Controller.Requests > 0) {
				t.Errorf("%d nodes, %d voters: node %d's controller listener took %d requests", shape.nodes, shape.voters, n.ID(), n.Stats().Controller.Requests)
			}
		}
		if len(c.history.Ops) < 1000 {
			t.Errorf("%d nodes: only %d operations", shape.nodes, len(c.history.Ops))
		}
	}
}

// TestClusterDeterministic: a cluster run replays to the same trace.
func TestClusterDeterministic(t *testing.T) {
	opts := DefaultRunOptions(5)
	for _, roles := range []string{RolesCombined, RolesSeparate} {
		opts.Nodes, opts.Roles, opts.Faults = 4, roles, "all"
		a, b := Run(opts), Run(opts)
		if !a.Passed() || a.TraceHash != b.TraceHash {
			t.Fatalf("seed 5 on 4 nodes, %s: %q, trace %s then %s", roles, a.Failure, a.TraceHash, b.TraceHash)
		}
	}
}

// TestClusterCatchesPlantedBug: the checkers see a broker of a cluster acknowledging produces
// before they are durable, once crashes lose them.
func TestClusterCatchesPlantedBug(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		opts := DefaultRunOptions(seed)
		opts.Nodes, opts.Faults, opts.Planted = 3, "crash", []buggify.Bug{buggify.BugAckBeforeFsync}
		if res := Run(opts); !res.Passed() {
			t.Logf("seed %d caught it: %s", seed, res.Failure)
			return
		}
	}
	t.Fatal("no seed of 40 caught ack-before-fsync on a 3-node cluster")
}

// TestCheckerFencedLeader: the quorum checker fails an image in which a fenced broker leads.
func TestCheckerFencedLeader(t *testing.T) {
	topicID := metadata.UUID{1}
	recs := []metadata.Record{metadata.NewRegisterBrokerRecord(1, 10, metadata.UUID{9}, nil, nil, nil, false)}
	topic, err := metadata.NewTopicRecords("t", topicID, [][]int32{{1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs = append(recs, topic...)
	led, err := metadata.EmptyImage().Apply(recs)
	if err != nil {
		t.Fatal(err)
	}
	k := newQuorumChecker(NewWorld(1))
	k.checkImage(1, led, 5)
	if f := k.failure(); f != "" {
		t.Fatalf("an unfenced leader: %s", f)
	}
	fenced, err := led.Apply([]metadata.Record{metadata.NewBrokerFenceRecord(1, 10)})
	if err != nil {
		t.Fatal(err)
	}
	k.checkImage(1, fenced, 6)
	if f := k.failure(); !strings.Contains(f, "a fenced broker leads nothing") {
		t.Fatalf("want a violation of %q, got %q", "a fenced broker leads nothing", f)
	}
}

// TestClusterControlledShutdown: with the cluster healthy, a SIGTERM of any broker is a
// controlled shutdown the controller completes (ShouldShutdown before the driver's 10 s
// timeout): the broker co-located with the active controller too, right after a killed node
// came back and re-registered; the workload's checkers pass across the shutdowns.
func TestClusterControlledShutdown(t *testing.T) {
	for _, roles := range []string{RolesCombined, RolesSeparate} {
		t.Run(roles, func(t *testing.T) {
			opts := DefaultRunOptions(shutdownSeed)
			opts.Nodes, opts.Voters, opts.Roles, opts.Faults = 3, 3, roles, "none"
			opts.DurationNs = 120 * int64(time.Second)
			c := startCluster(t, opts)
			c.w.RunFor(3 * int64(time.Second))
			byHost := func(host string) *Node {
				for _, n := range c.nodes {
					if n.Host() == host {
						return n
					}
				}
				return nil
			}
			waitServing := func(what string) {
				t.Helper()
				if !c.w.RunUntilTrue(c.allServing, c.w.NowNs()+30*int64(time.Second)) {
					t.Fatalf("%s: the brokers do not all serve: %s", what, c.describeNodes())
				}
			}
			stop := func(n *Node, what string) {
				t.Helper()
				before := n.Stats().ControlledShutdowns
				n.Shutdown()
				if !c.w.RunUntilTrue(func() bool { return !n.Up() }, c.w.NowNs()+30*int64(time.Second)) {
					t.Fatalf("%s: node %d did not exit after SIGTERM", what, n.ID())
				}
				if n.Stats().ControlledShutdowns != before+1 {
					t.Fatalf("%s: node %d exited without a completed controlled shutdown: %s", what, n.ID(), c.describeNodes())
				}
				// The fault plan restarts a node that went down, as a supervisor would.
				if !c.w.RunUntilTrue(n.Up, c.w.NowNs()+10*int64(time.Second)) {
					t.Fatalf("%s: node %d was not restarted", what, n.ID())
				}
				waitServing(what)
				c.w.RunFor(2 * int64(time.Second))
			}
			if roles == RolesCombined {
				// kill -9 the active controller's node; it comes back and re-registers.
				victim := byHost(c.leaderHost())
				victim.Crash()
				if !c.w.RunUntilTrue(victim.Up, c.w.NowNs()+10*int64(time.Second)) {
					t.Fatalf("node %d was not restarted", victim.ID())
				}
				waitServing("after the kill")
				stop(byHost(c.leaderHost()), "the active controller's broker")
			}
			for _, n := range c.nodes {
				stop(n, fmt.Sprintf("broker %d", n.ID()))
			}
			c.w.RunUntil(c.stopNs)
			if f := c.finish(); f != "" {
				t.Fatal(f)
			}
		})
	}
}

var shutdownSeed = uint64(21)

// TestClusterLeaseLapse: a broker cut off from the controller (not from its clients) for
// longer than broker.session.timeout.ms is fenced: it leads nothing and leaves every ISR (its
// partitions move to other in-sync replicas); once the link heals it heartbeats again, is
// unfenced, catches up and rejoins the ISRs (leadership comes back with the next preferred
// election, auto.leader.rebalance.enable's every 300 s); every acknowledged write survives
// (the run's checkers).
func TestClusterLeaseLapse(t *testing.T) {
	opts := DefaultRunOptions(11)
	opts.Nodes, opts.Voters, opts.Roles, opts.Faults = 3, 1, RolesCombined, "none"
	opts.ReplicationFactor = 3
	opts.DurationNs = 40 * int64(time.Second)
	c := startCluster(t, opts)
	c.w.RunFor(3 * int64(time.Second))
	ctl := c.nodes[0].Controller() // node 1 is the sole voter
	leaderOf := func(broker int32) (led, partitions, inISR int, fenced bool) {
		img, _ := ctl.Image()
		topic, _ := img.TopicByName(workloadTopic)
		for _, p := range topic.Partitions() {
			if p.Replicas[0] == broker {
				partitions++
				if p.Leader == broker {
					led++
				}
			}
			if slices.Contains(p.ISR, broker) {
				inISR++
			}
		}
		b, _ := img.Broker(broker)
		return led, partitions, inISR, b.Fenced
	}
	if led, parts, _, fenced := leaderOf(3); fenced || parts == 0 || led != parts {
		t.Fatalf("before the cut: broker 3 leads %d of its %d partitions, fenced %v", led, parts, fenced)
	}
	cut := []string{"node3"}
	c.network.Partition(cut, []string{"node1"})
	c.w.RunFor(12 * int64(time.Second)) // past the 9 s session timeout
	if led, parts, inISR, fenced := leaderOf(3); !fenced || led != 0 || inISR != 0 {
		t.Fatalf("after 12 s cut off: broker 3 leads %d of its %d partitions, is in %d ISRs, fenced %v", led, parts, inISR, fenced)
	}
	c.network.Heal(cut, []string{"node1"})
	c.network.Heal([]string{"node1"}, cut)
	// RF=3 over 3 brokers: broker 3 replicates every partition.
	img, _ := ctl.Image()
	topic, _ := img.TopicByName(workloadTopic)
	all := topic.PartitionCount()
	if !c.w.RunUntilTrue(func() bool { _, _, inISR, fenced := leaderOf(3); return !fenced && inISR == all }, c.w.NowNs()+20*int64(time.Second)) {
		led, parts, inISR, fenced := leaderOf(3)
		t.Fatalf("20 s after the heal: broker 3 leads %d of its %d partitions, is in %d of %d ISRs, fenced %v", led, parts, inISR, all, fenced)
	}
	c.w.RunUntil(c.stopNs)
	if f := c.finish(); f != "" {
		t.Fatal(f)
	}
	t.Logf("%d operations, virtual time %.1f s", len(c.history.Ops), float64(c.w.NowNs())/1e9)
}

// TestReplicationRegressionSeeds replays seeds whose failures replication fixes came from:
//   - 134 (5 brokers): retention emptied a partition's logs; the leader, knowing no epoch,
//     answered the follower's fetch as diverged, and the follower, unable to truncate below
//     its empty log, never rejoined the ISR (replica.Diverged);
//   - 48 (3 brokers): an ISR proposal made while an older one of the same partition was in
//     flight was never sent, so the partition's ISR stayed short (alter_partition.go);
//   - 66 (3 brokers): a new leader had not recorded its epoch in its epoch cache before
//     appending, so a follower holding a record of an epoch the leader never had got an
//     "unknown epoch" answer, passed the check, and kept a batch the leader's log has with
//     another epoch (committed prefixes differed);
//   - 102 (5 brokers): a follower wrote a fetched batch with a flipped bit, stayed in the ISR
//     and became leader; a consumer had read the record from the old leader after the damage
//     (check.Options.Replicated: excused by the produce's time), and a consumer reset to one
//     leader's log start saw a lower one from the next (no poll-skip for replicas);
//   - 25 (3 brokers): the same log-start reset;
//   - 141 (5 brokers): a broker elected leader that appended nothing kept its epoch at its
//     log end as a follower, so its fetches diverged at the log end forever (log.TruncateTo
//     at the end drops that epoch, as Kafka's);
//   - 368 (5 brokers, drawn faults): a misdirected write destroyed a partition's whole log on
//     the replica that came to lead it alone, and the final reads recorded nothing for it.
func TestReplicationRegressionSeeds(t *testing.T) {
	for _, tc := range []struct {
		seed     uint64
		nodes    int
		faults   string
		operator bool
		wipes    bool
	}{
		{48, 3, "all", false, false}, {66, 3, "all", false, false}, {134, 5, "all", false, false}, {102, 5, "all", false, false},
		{25, 3, "all", false, false}, {141, 5, "all", false, false}, {368, 5, "", false, false},
		// A leader's own damaged batch: cut in place (20017), or, below its epoch start, the
		// leader stops to come back unclean and an ELR member takes over (53).
		{20017, 3, "all", false, false}, {53, 3, "all", true, false},
		// The last eligible replica's damaged batch below its epoch start, the disk of the
		// partition's other eligible replica wiped.
		{91, 4, "all", false, true},
		// A read plan of a replica's log that a reassignment deleted meanwhile.
		{1032, 5, "net,crash,pause,clock,clog", true, false},
		// Followers whose logs retention emptied past a leader's end (that leader lost records
		// to its disk), their fetches out of range for good.
		{30751, 3, "all", false, false},
	} {
		opts := DefaultRunOptions(tc.seed)
		opts.Nodes, opts.Faults, opts.ReplicationFactor, opts.Operator, opts.Wipes = tc.nodes, tc.faults, 3, tc.operator, tc.wipes
		if res := Run(opts); res.Failure != "" {
			t.Errorf("seed %d (%d brokers): %s", tc.seed, opts.Nodes, res.Failure)
		}
	}
}
