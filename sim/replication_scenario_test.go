package sim

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/weirdata/weir/core/client"
	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/diskio/memfs"
)

// TestReplicationScenarios runs testdata/replication-scenarios/*.txt: a cluster of brokers
// replicating the workload topic (RF=3, min.insync.replicas=2, acks=all clients), with
// faults on named brokers at given virtual times, and the checkers' verdict at the end (the
// history checkers, the replication invariants, identical committed prefixes). Each reproduces
// a replication bug Kafka had; a scenario runs once with the bug planted (core/buggify) and
// shows the checkers catch it, then again without it and shows it passes. Brokers are named
// by id (node=2) or by a name a command gave them (as=NAME); node=leader is a partition's
// leader in the active controller's image (with partition=P). The language:
//
//	cluster seed=N [nodes=3..5] [voters=1|3] [roles=separate|combined] [partitions=P]
//	        [clients=C] [idempotent=PCT] [produce=PCT] [rate=OPS] [in-flight=N] [fetch-bytes=N]
//	        [min-isr=N] [unclean=true] [lag-ms=MS] [session-ms=MS] [plant=bug,...]
//	                      build the world (default: 3 brokers, one separate controller, so
//	                      that crashing a broker leaves the quorum alone); lag-ms is
//	                      replica.lag.time.max.ms, session-ms broker.session.timeout.ms
//	workload for=D        start the clients' operations for D (virtual) from now
//	run for=D             advance virtual time by D
//	leader partition=P [as=NAME]
//	                      the partition's state in the active controller's image: "leader
//	                      node2 epoch 3 isr [1 2 3]" (or "leader none ..."), then "elr [..]"
//	                      while it has eligible leader replicas
//	replicas partition=P  each broker's replica: "node1 leader epoch 0 end 120 hw 118", "node2
//	                      follower epoch 0 end 120 hw 115", "node3 down"
//	position client=N partition=P
//	                      where workload client N consumes the partition: "client1 position
//	                      3431 epoch 0 valid at leader epoch 0" (see check.Position)
//	await-leader partition=P [not=NODE] [as=NAME] within=D
//	                      run until the partition has a leader (other than NODE) serving it
//	                      at the image's epoch: as `leader`, or "no leader: " and `leader`
//	await-isr partition=P size=N within=D
//	                      run until the image's ISR has N members: as `leader`, or "isr ..."
//	crash node=NODE [mode=lose|keep|random] [as=NAME]
//	                      power loss (default random); the broker stays down until `restart`
//	restart node=NODE     start it again on what its disk kept
//	wipe node=NODE        crash it and give it an empty disk (a replaced drive); `restart`
//	                      formats it anew: it registers as a new incarnation, leaves every
//	                      ISR and fetches each partition from offset 0
//	stop node=NODE [as=NAME]
//	                      SIGTERM: a controlled shutdown, then the process exits; `restart`
//	pause node=NODE for=D [as=NAME]   stop the process for D (GC pause, SIGSTOP)
//	isolate node=NODE [as=NAME]   cut the broker off from every other broker and controller,
//	                      both ways (clients still reach it)
//	partition a=NODE,... b=NODE,...   cut those brokers apart, both ways ("controllers"
//	                      names the controller-only processes, client1.. the workload's
//	                      client hosts)
//	cut from=NODE,... to=NODE,...     cut the links one way (bytes held, as partition)
//	heal [a=NODE,... b=NODE,...]   remove every cut, or those between a and b (both ways)
//	check                 stop the workload, heal, wait for liveness, read every partition to
//	                      its high watermark and run the checkers: "pass", or FAIL and the
//	                      anomalies by name (or the rule that broke)
//
// WEIR_SCENARIO_TRACE=FILE writes the run's whole trace to FILE (of the last cluster a
// file builds), to find out why a scenario went as it did.
func TestReplicationScenarios(t *testing.T) {
	datadriven.Walk(t, "../testdata/replication-scenarios", func(t *testing.T, path string) {
		var c *cluster
		var names map[string]int32
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) (out string) {
			if d.Cmd != "cluster" && c == nil {
				t.Fatalf("%s: cluster first", d.Pos)
			}
			defer func() {
				if p := recover(); p != nil {
					out = fmt.Sprintf("panic: %v\n", p)
				}
			}()
			switch d.Cmd {
			case "cluster":
				names = map[string]int32{}
				var failure string
				c, failure = replicationScenarioCluster(t, d)
				return failure
			case "workload":
				c.startWorkload(c.w.NowNs() + durationArg(t, d, "for"))
			case "run":
				c.w.RunFor(durationArg(t, d, "for"))
			case "leader":
				p := partitionArg(t, d)
				st := describePartition(c, p)
				nameNode(t, d, names, partitionLeader(c, p))
				return st
			case "await-leader":
				p := partitionArg(t, d)
				not := int32(-1)
				if d.HasArg("not") {
					not = scenarioNode(t, d, "not", c, names).ID()
				}
				ok := c.w.RunUntilTrue(func() bool {
					id := partitionLeader(c, p)
					return id >= 0 && id != not && leaderServes(c, p, id)
				}, c.w.NowNs()+durationArg(t, d, "within"))
				if !ok {
					return "no leader: " + describePartition(c, p)
				}
				nameNode(t, d, names, partitionLeader(c, p))
				return describePartition(c, p)
			case "replicas":
				return describeReplicas(c, partitionArg(t, d))
			case "position":
				var client int
				d.ScanArgs(t, "client", &client)
				return describePosition(t, d, c, client, partitionArg(t, d))
			case "await-isr":
				p := partitionArg(t, d)
				var size int
				d.ScanArgs(t, "size", &size)
				c.w.RunUntilTrue(func() bool {
					img := c.leaderImage()
					part := imagePartition(img, p)
					return part != nil && len(part.ISR) == size
				}, c.w.NowNs()+durationArg(t, d, "within"))
				return describePartition(c, p)
			case "crash":
				n := scenarioNode(t, d, "node", c, names)
				nameNode(t, d, names, n.ID())
				n.CrashWith(crashModeArg(t, d, memfs.CrashRandom))
			case "restart":
				if err := scenarioNode(t, d, "node", c, names).Restart(); err != nil {
					return fmt.Sprintf("restart: %v\n", err)
				}
			case "wipe":
				if err := c.wipe(scenarioNode(t, d, "node", c, names)); err != nil {
					t.Fatalf("%s: %v", d.Pos, err)
				}
			case "pause":
				n := scenarioNode(t, d, "node", c, names)
				nameNode(t, d, names, n.ID())
				n.Pause(durationArg(t, d, "for"))
			case "isolate":
				n := scenarioNode(t, d, "node", c, names)
				nameNode(t, d, names, n.ID())
				var others []string
				for _, m := range c.members() {
					if h := m.(interface{ Host() string }).Host(); h != n.Host() {
						others = append(others, h)
					}
				}
				c.network.Partition([]string{n.Host()}, others)
			case "stop":
				n := scenarioNode(t, d, "node", c, names)
				nameNode(t, d, names, n.ID())
				n.Shutdown()
			case "partition":
				c.network.Partition(scenarioHosts(t, d, "a", c, names), scenarioHosts(t, d, "b", c, names))
			case "cut":
				c.network.Cut(scenarioHosts(t, d, "from", c, names), scenarioHosts(t, d, "to", c, names))
			case "heal":
				if d.HasArg("a") {
					a, b := scenarioHosts(t, d, "a", c, names), scenarioHosts(t, d, "b", c, names)
					c.network.Heal(a, b)
					c.network.Heal(b, a)
				} else {
					c.network.HealAll()
				}
			case "check":
				c.network.HealAll()
				if failure := c.finish(); failure != "" && c.report.Valid() {
					// The rule that broke, not the numbers after it (which change with the code).
					if parts := strings.SplitN(failure, ": ", 3); len(parts) == 3 {
						failure = parts[0] + ": " + parts[1]
					}
					return "FAIL " + failure + "\n"
				}
				return verdictNames(c.report)
			default:
				t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			}
			return ""
		})
	})
}

// replicationScenarioCluster handles `cluster`.
func replicationScenarioCluster(t *testing.T, d *datadriven.TestData) (*cluster, string) {
	var seed uint64
	d.ScanArgs(t, "seed", &seed)
	opts := DefaultRunOptions(seed)
	opts.Faults = "none"
	opts.Nodes, opts.Voters, opts.Roles, opts.ReplicationFactor = 3, 1, RolesSeparate, 3
	scanOptional(t, d, "nodes", &opts.Nodes)
	scanOptional(t, d, "voters", &opts.Voters)
	scanOptional(t, d, "roles", &opts.Roles)
	scanOptional(t, d, "rate", &opts.OpsPerSecond)
	opts.Planted = plantArg(t, d)
	if err := opts.Validate(); err != nil {
		t.Fatalf("%s: %v", d.Pos, err)
	}
	c := newCluster(opts, func(k *Knobs) {
		scanOptional(t, d, "partitions", &k.Partitions)
		scanOptional(t, d, "clients", &k.Clients)
		scanOptional(t, d, "idempotent", &k.IdempotentPct)
		scanOptional(t, d, "produce", &k.ProducePct)
		scanOptional(t, d, "in-flight", &k.InFlightMax)
		scanOptional(t, d, "fetch-bytes", &k.FetchMaxBytes)
		// Retention would make what a replica lost look like what retention took.
		k.RetentionMs = -1
	})
	if path := os.Getenv("WEIR_SCENARIO_TRACE"); path != "" {
		// The whole trace of the scenario's run, for finding out why it went as it did.
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		c.w.SetTraceWriter(f)
	}
	if d.HasArg("min-isr") {
		var v string
		d.ScanArgs(t, "min-isr", &v)
		c.topicConfigs = append(c.topicConfigs, client.TopicConfig{Name: "min.insync.replicas", Value: v})
	}
	if d.HasArg("unclean") {
		var v string
		d.ScanArgs(t, "unclean", &v)
		c.topicConfigs = append(c.topicConfigs, client.TopicConfig{Name: "unclean.leader.election.enable", Value: v})
	}
	var lagMs int64
	var sessionMs int32
	scanOptional(t, d, "lag-ms", &lagMs)
	scanOptional(t, d, "session-ms", &sessionMs)
	c.sessionTimeoutMs = sessionMs
	c.brokerAdjust = func(b *config.BrokerConfig) {
		if lagMs > 0 {
			b.Replication.LagTimeMaxMs = lagMs
		}
		if sessionMs > 0 {
			b.BrokerSessionTimeoutMs = sessionMs
		}
	}
	if failure := c.setUp(); failure != "" {
		return c, failure + "\n"
	}
	return c, fmt.Sprintf("%d brokers, %d voters (%s)\n", c.opts.Nodes, c.opts.Voters, c.opts.Roles)
}

func partitionArg(t *testing.T, d *datadriven.TestData) int32 {
	var p int32
	d.ScanArgs(t, "partition", &p)
	return p
}

// scenarioNode is the broker a command's key names: an id, a name given by as=, or "leader"
// (the leader of the command's partition=).
func scenarioNode(t *testing.T, d *datadriven.TestData, key string, c *cluster, names map[string]int32) *Node {
	var name string
	d.ScanArgs(t, key, &name)
	return scenarioNodeNamed(t, d, key, name, c, names)
}

func scenarioNodeNamed(t *testing.T, d *datadriven.TestData, key, name string, c *cluster, names map[string]int32) *Node {
	id, ok := names[name]
	switch {
	case ok:
	case name == "leader":
		id = partitionLeader(c, partitionArg(t, d))
	default:
		v, err := strconv.Atoi(name)
		if err != nil {
			t.Fatalf("%s: %s=%q: no such broker", d.Pos, key, name)
		}
		id = int32(v)
	}
	for _, n := range c.nodes {
		if n.ID() == id {
			return n
		}
	}
	t.Fatalf("%s: %s=%q: no broker %d", d.Pos, key, name, id)
	return nil
}

// scenarioHosts is the hosts a command's key lists: brokers as scenarioNode names them, and
// "controllers" for the controller-only processes.
func scenarioHosts(t *testing.T, d *datadriven.TestData, key string, c *cluster, names map[string]int32) []string {
	var list string
	d.ScanArgs(t, key, &list)
	var out []string
	for _, name := range strings.Split(list, ",") {
		if name == "controllers" {
			for _, n := range c.controllers {
				out = append(out, n.Host())
			}
			continue
		}
		if i := slices.IndexFunc(c.clients, func(h *ClientHost) bool { return h.Host() == name }); i >= 0 {
			out = append(out, c.clients[i].Host())
			continue
		}
		out = append(out, scenarioNodeNamed(t, d, key, name, c, names).Host())
	}
	return out
}

// describePosition prints where workload client consumes partition p: "client1 position 3431
// epoch 0 valid at leader epoch 0" (the leader epoch of the record before it, and the leader
// epoch it was last validated at), "client1 position none" before its first fetch; then each
// truncation its fetches detected so far.
func describePosition(t *testing.T, d *datadriven.TestData, c *cluster, client int, p int32) string {
	if c.wl == nil || client < 1 || client > len(c.wl.clients) {
		t.Fatalf("%s: no workload client %d", d.Pos, client)
	}
	var b strings.Builder
	pos, ok := c.wl.clients[client-1].position[p]
	if !ok {
		fmt.Fprintf(&b, "client%d position none\n", client)
	} else {
		fmt.Fprintf(&b, "client%d position %d epoch %d valid at leader epoch %d\n", client, pos.Offset, pos.OffsetEpoch, pos.LeaderEpoch)
	}
	for _, op := range c.history.Ops {
		if op.Client == client && op.Partition == p && op.DivergedFrom > 0 {
			fmt.Fprintf(&b, "truncation detected below %d: read from %d (%s)\n", op.DivergedFrom, op.FetchOffset, op.Outcome)
		}
	}
	return b.String()
}

// nameNode records the command's as=NAME for broker id.
func nameNode(t *testing.T, d *datadriven.TestData, names map[string]int32, id int32) {
	if d.HasArg("as") {
		var as string
		d.ScanArgs(t, "as", &as)
		names[as] = id
	}
}

// partitionLeader is partition p's leader in the active controller's image; -1 none.
func partitionLeader(c *cluster, p int32) int32 {
	if part := imagePartition(c.leaderImage(), p); part != nil {
		return part.Leader
	}
	return -1
}

// leaderServes reports whether broker id leads partition p at the image's leader epoch.
func leaderServes(c *cluster, p int32, id int32) bool {
	part := imagePartition(c.leaderImage(), p)
	for _, n := range c.nodes {
		if n.ID() != id || n.Broker() == nil || part == nil {
			continue
		}
		for _, v := range n.Broker().Replicas() {
			if v.TopicPartition.Topic == workloadTopic && v.TopicPartition.Partition == p {
				return v.Leader && v.LeaderEpoch == part.LeaderEpoch
			}
		}
	}
	return false
}

// describePartition is partition p's state in the active controller's image.
func describePartition(c *cluster, p int32) string {
	part := imagePartition(c.leaderImage(), p)
	if part == nil {
		return "no such partition in the image\n"
	}
	leader := "none"
	if part.Leader != metadata.NoLeader {
		leader = fmt.Sprintf("node%d", part.Leader)
	}
	isr := slices.Clone(part.ISR)
	slices.Sort(isr)
	elr := ""
	if len(part.EligibleLeaderReplicas) > 0 {
		elr = fmt.Sprintf(" elr %v", part.EligibleLeaderReplicas)
	}
	return fmt.Sprintf("leader %s epoch %d isr %v%s\n", leader, part.LeaderEpoch, isr, elr)
}

// describeReplicas is each broker's replica of partition p, as it sees it.
func describeReplicas(c *cluster, p int32) string {
	var b strings.Builder
	for _, n := range c.nodes {
		if n.Broker() == nil {
			fmt.Fprintf(&b, "node%d down\n", n.ID())
			continue
		}
		found := false
		for _, v := range n.Broker().Replicas() {
			if v.TopicPartition.Topic != workloadTopic || v.TopicPartition.Partition != p {
				continue
			}
			role := "follower"
			if v.Leader {
				role = "leader"
			}
			fmt.Fprintf(&b, "node%d %s epoch %d end %d hw %d\n", n.ID(), role, v.LeaderEpoch, v.LogEndOffset, v.HighWatermark)
			found = true
		}
		if !found {
			fmt.Fprintf(&b, "node%d no replica\n", n.ID())
		}
	}
	return b.String()
}
