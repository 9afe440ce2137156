package sim

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/diskio/memfs"
)

// TestQuorumScenarios runs testdata/quorum-scenarios/*.txt: a metadata quorum, its admin
// clients, and faults at given virtual times, step by step, with the checkers' verdict at the
// end. Nodes are named ctl<id> (voters 1..n, observers 101..); node=leader is the current
// quorum leader; as=NAME on a command names its node for later ones. Crashed nodes stay down
// until `restart`. The language:
//
//	quorum seed=N [voters=3|5] [observers=N] [clients=N] [brokers=N] [heartbeat-ms=MS]
//	       [snapshot-bytes=B] [segment-bytes=B] [election-ms=MS] [session-ms=MS]
//	       [request-timeout-ms=MS]
//	                      build the world (knobs not named come from the seed; election-ms is
//	                      controller.quorum.election.timeout.ms, the fetch and request timeouts
//	                      twice it; session-ms broker.session.timeout.ms; request-timeout-ms
//	                      sets controller.quorum.request.timeout.ms apart, restarting every
//	                      node at time 0 to take it); admin clients start at 1 s
//	run for=D             advance virtual time by D
//	await-leader within=D [not=NODE]
//	                      run until an active leader (other than NODE) exists: "leader
//	                      elected", or "no leader"
//	isolate node=NODE [as=NAME]
//	                      cut NODE off from every other quorum node, both ways (its clients
//	                      still reach it)
//	hold node=NODE [as=NAME]   cut NODE's links to every other quorum node one way: what it
//	                      sends is held (TCP retransmits; the connection resets after 5-15 s)
//	                      while what they send still reaches it
//	release node=NODE     undo hold: the held bytes flow, late
//	clog node=NODE [as=NAME] / unclog node=NODE   stop / restart all of NODE's links
//	stale-messages node=NODE   the quorum messages NODE received since the last ask in an epoch
//	                      older than its own at delivery ("Fetch answer from ctl3"), or "none"
//	heal                  remove every cut (holds and isolated brokers too)
//	crash node=NODE [as=NAME] [mode=random|lose|keep]   power loss (default random)
//	shutdown node=NODE [as=NAME]   resign, then exit
//	restart node=NODE     start it again on what its disk kept
//	pause node=NODE [as=NAME] for=D   stop the process for D
//	snapshot-fetches node=NODE     whether the node has sent FetchSnapshot ("some", "none")
//	same-epoch a=NODE b=NODE   whether both are in the same quorum epoch
//
// Scripted brokers (scriptBroker) act only when told, unlike the admin clients' brokers; each
// talks to the active controller of the moment and reports as its metadata offset the last one
// that controller has applied (caught up). Commands waiting for an answer take within=D (10 s):
//
//	broker id=B           a broker with id B on host broker<B>
//	register broker=B     BrokerRegistration until answered: "registered" or "error N"
//	heartbeats broker=B every=D | stop   heartbeat every D (Kafka's default is 2 s), or stop
//	want-shutdown broker=B   from now on heartbeats ask for a controlled shutdown; one goes at
//	                      once, as Kafka's lifecycle manager sends it
//	await-heartbeat broker=B   the answer to a heartbeat sent from now on: "fenced=F
//	                      caught-up=C should-shutdown=S" or "error N"
//	await-shutdown broker=B    until a heartbeat answer says ShouldShutdown (the broker then
//	                      stops heartbeating): "told to shut down", or "still running: ..."
//	heartbeat-status broker=B  the last heartbeat answer, as await-heartbeat prints it
//	registration broker=B [node=NODE]   B's registration in NODE's committed image (default:
//	                      the active controller's): "epoch=acknowledged fenced=F
//	                      in-controlled-shutdown=S" (the epoch compared with B's acknowledged
//	                      one), or "not registered"
//	create-topic broker=B name=T replicas=B1,B2,...   CreateTopics of T with one partition on
//	                      those replicas, sent by B: "T error N"
//	partitions topic=T [node=NODE]   T's partitions' leader and ISR in that image
//	isolate-broker broker=B   cut B's host off from every quorum node, both ways
//
//	check                 stop the clients and the scripted brokers' heartbeats, wait for
//	                      liveness, run the end checkers: "pass" or FAIL and the first
//	                      violation
func TestQuorumScenarios(t *testing.T) {
	datadriven.Walk(t, "../testdata/quorum-scenarios", func(t *testing.T, path string) {
		var c *quorumCluster
		names := map[string]*ControllerNode{}
		node := func(d *datadriven.TestData, key string) *ControllerNode {
			var name string
			d.ScanArgs(t, key, &name)
			if name == "leader" {
				if l := c.faults.leader(); l != nil {
					return l
				}
				d.Fatalf(t, "%s: no leader", d.Pos)
			}
			n, ok := names[name]
			if !ok {
				d.Fatalf(t, "%s: no node %q", d.Pos, name)
			}
			return n
		}
		// target is the command's node=; as=NAME names it for later commands.
		target := func(d *datadriven.TestData) *ControllerNode {
			n := node(d, "node")
			if d.HasArg("as") {
				var as string
				d.ScanArgs(t, "as", &as)
				names[as] = n
			}
			return n
		}
		duration := func(d *datadriven.TestData, key string) int64 {
			var s string
			d.ScanArgs(t, key, &s)
			v, err := time.ParseDuration(s)
			if err != nil {
				d.Fatalf(t, "%s: %s=%q: %v", d.Pos, key, s, err)
			}
			return v.Nanoseconds()
		}
		brokers := map[int32]*scriptBroker{}
		var tap *staleTap
		broker := func(d *datadriven.TestData) *scriptBroker {
			var id int32
			d.ScanArgs(t, "broker", &id)
			b, ok := brokers[id]
			if !ok {
				d.Fatalf(t, "%s: no broker %d", d.Pos, id)
			}
			return b
		}
		// image is the committed image of node= if given, else the active controller's.
		image := func(d *datadriven.TestData) (*metadata.Image, string) {
			n := c.leader()
			if d.HasArg("node") {
				n = node(d, "node")
			}
			if n == nil {
				return nil, "no active controller\n"
			}
			if !n.Up() {
				return nil, "down\n"
			}
			img, _ := n.Node().Image()
			return img, ""
		}
		// await runs until done, within= (default 10s) at most.
		await := func(d *datadriven.TestData, done func() bool) bool {
			within := int64(10 * time.Second)
			if d.HasArg("within") {
				within = duration(d, "within")
			}
			return c.w.RunUntilTrue(done, c.w.NowNs()+within)
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "quorum" && c == nil {
				d.Fatalf(t, "%s: quorum first", d.Pos)
			}
			if tap != nil {
				defer tap.wrap() // a restart listens anew
			}
			switch d.Cmd {
			case "quorum":
				var seed uint64
				d.ScanArgs(t, "seed", &seed)
				opts := DefaultQuorumOptions(seed)
				opts.Faults = "none"
				opts.DurationNs = int64(time.Hour) // faults never heal by themselves here
				c = &quorumCluster{opts: opts, w: NewWorld(seed)}
				requestTimeoutMs := int64(0)
				c.adjust = func(k *QuorumKnobs) {
					for _, a := range d.CmdArgs {
						if a.Key == "seed" {
							continue
						}
						v, err := strconv.ParseInt(a.Vals[0], 10, 64)
						if err != nil {
							d.Fatalf(t, "%s: %s: %v", d.Pos, a.Key, err)
						}
						switch a.Key {
						case "voters":
							k.Voters = int(v)
						case "observers":
							k.Observers = int(v)
						case "clients":
							k.Clients = int(v)
						case "brokers":
							k.BrokersPerClient = int(v)
						case "heartbeat-ms":
							k.HeartbeatMs = v
						case "snapshot-bytes":
							k.SnapshotBytesBetween = v
						case "segment-bytes":
							k.SegmentBytes = v
						case "election-ms":
							k.ElectionTimeoutMs = v
						case "session-ms":
							k.SessionTimeoutMs = int32(v)
						case "request-timeout-ms":
							requestTimeoutMs = v
						default:
							d.Fatalf(t, "%s: unknown argument %q", d.Pos, a.Key)
						}
					}
				}
				if err := c.setUp(); err != nil {
					d.Fatalf(t, "%s: %v", d.Pos, err)
				}
				for _, n := range c.nodes {
					names[fmt.Sprintf("ctl%d", n.ID())] = n
					n.SetHooks(ControllerHooks{
						Restarted: func(n *ControllerNode, recovered quorum.State) { c.checker.restarted(n, recovered) },
						Observe:   func(n *ControllerNode) { c.checker.observe(n) },
					})
				}
				if requestTimeoutMs > 0 {
					setRequestTimeout(c, requestTimeoutMs)
				}
				tap = newStaleTap(c)
				tap.wrap()
				return fmt.Sprintf("%d voters, %d observers\n", c.knobs.Voters, c.knobs.Observers)
			case "run":
				c.w.RunFor(duration(d, "for"))
				return c.violations()
			case "await-leader":
				var not *ControllerNode
				if d.HasArg("not") {
					not = node(d, "not")
				}
				ok := c.w.RunUntilTrue(func() bool { l := c.leader(); return l != nil && l != not }, c.w.NowNs()+duration(d, "within"))
				if !ok {
					return "no leader\n" + c.violations()
				}
				return "leader elected\n" + c.violations()
			case "isolate":
				n := target(d)
				var others []string
				for _, m := range c.nodes {
					if m != n {
						others = append(others, m.Host())
					}
				}
				c.network.Partition([]string{n.Host()}, others)
				return ""
			case "heal":
				c.network.HealAll()
				return ""
			case "hold":
				n := target(d)
				c.network.Cut([]string{n.Host()}, otherHosts(c, n))
				return ""
			case "release":
				n := node(d, "node")
				c.network.Heal([]string{n.Host()}, otherHosts(c, n))
				return ""
			case "clog":
				c.network.Clog(target(d).Host())
				return ""
			case "unclog":
				c.network.Unclog(node(d, "node").Host())
				return ""
			case "stale-messages":
				n := node(d, "node")
				got := tap.stale[n.ID()]
				tap.stale[n.ID()] = nil
				if len(got) == 0 {
					return "none\n"
				}
				return strings.Join(got, "\n") + "\n"
			case "broker":
				var id int32
				d.ScanArgs(t, "id", &id)
				if _, ok := brokers[id]; ok {
					d.Fatalf(t, "%s: broker %d exists", d.Pos, id)
				}
				brokers[id] = newScriptBroker(c, id)
				return ""
			case "register":
				b := broker(d)
				b.call(b.registrationRequest())
				if !await(d, func() bool { return b.oneShot == nil }) {
					return "no answer\n" + c.violations()
				}
				return b.result + "\n" + c.violations()
			case "create-topic":
				var name, replicas string
				d.ScanArgs(t, "name", &name)
				d.ScanArgs(t, "replicas", &replicas)
				var ids []int32
				for _, f := range strings.Split(replicas, ",") {
					v, err := strconv.ParseInt(f, 10, 32)
					if err != nil {
						d.Fatalf(t, "%s: replicas=%q: %v", d.Pos, replicas, err)
					}
					ids = append(ids, int32(v))
				}
				b := broker(d)
				b.call(createTopicRequest(name, ids))
				if !await(d, func() bool { return b.oneShot == nil }) {
					return "no answer\n" + c.violations()
				}
				return b.result + "\n" + c.violations()
			case "heartbeats":
				b := broker(d)
				if d.HasArg("stop") {
					b.stopHeartbeats()
					return ""
				}
				b.startHeartbeats(duration(d, "every"))
				return ""
			case "want-shutdown":
				// As Kafka's BrokerLifecycleManager, the broker heartbeats at once.
				b := broker(d)
				b.wantShutdown = true
				b.pump()
				return ""
			case "await-heartbeat":
				b := broker(d)
				seen, sinceNs := b.heartbeatsAnswered, c.w.NowNs()
				if !await(d, func() bool { return b.heartbeatsAnswered > seen && b.lastAnsweredSentNs >= sinceNs }) {
					return "no heartbeat answered\n" + c.violations()
				}
				return b.heartbeatStatus() + "\n" + c.violations()
			case "await-shutdown":
				b := broker(d)
				if !await(d, func() bool { return b.shutDown }) {
					return "still running: " + b.heartbeatStatus() + "\n" + c.violations()
				}
				return "told to shut down\n" + c.violations()
			case "heartbeat-status":
				return broker(d).heartbeatStatus() + "\n"
			case "registration":
				b := broker(d)
				img, why := image(d)
				if img == nil {
					return why
				}
				return b.registration(img) + "\n"
			case "partitions":
				var topic string
				d.ScanArgs(t, "topic", &topic)
				img, why := image(d)
				if img == nil {
					return why
				}
				return partitionState(img, topic) + "\n"
			case "isolate-broker":
				b := broker(d)
				var hosts []string
				for _, n := range c.nodes {
					hosts = append(hosts, n.Host())
				}
				c.network.Partition([]string{b.host}, hosts)
				return ""
			case "crash":
				n := target(d)
				mode := "random"
				if d.HasArg("mode") {
					d.ScanArgs(t, "mode", &mode)
				}
				switch mode {
				case "random":
					n.CrashWith(memfs.CrashRandom)
				case "lose":
					n.CrashWith(memfs.CrashLoseUnsynced)
				case "keep":
					n.CrashWith(memfs.CrashKeepUnsynced)
				default:
					d.Fatalf(t, "%s: mode %q", d.Pos, mode)
				}
				return ""
			case "shutdown":
				target(d).Shutdown()
				return ""
			case "restart":
				if err := node(d, "node").Restart(); err != nil {
					return fmt.Sprintf("restart failed: %v\n", err)
				}
				return c.violations()
			case "pause":
				target(d).Pause(duration(d, "for"))
				return ""
			case "snapshot-fetches":
				if node(d, "node").Stats().Peers.FetchSnapshotSends > 0 {
					return "some\n"
				}
				return "none\n"
			case "same-epoch":
				a, b := node(d, "a"), node(d, "b")
				if !a.Up() || !b.Up() {
					return "down\n"
				}
				return fmt.Sprintf("%v\n", a.Node().QuorumState().Epoch == b.Node().QuorumState().Epoch)
			case "check":
				for _, a := range c.clients {
					a.stop()
				}
				for _, id := range slices.Sorted(maps.Keys(brokers)) {
					brokers[id].stopHeartbeats()
				}
				c.healNs = c.w.NowNs()
				if f := c.finish(); f != "" {
					return "FAIL: " + f + "\n"
				}
				acked := "none"
				if len(c.history.Registrations) > 0 {
					acked = "some"
				}
				return fmt.Sprintf("pass (registrations acknowledged: %s)\n", acked)
			}
			d.Fatalf(t, "%s: unknown command %q", d.Pos, d.Cmd)
			return ""
		})
	})
}

// violations is the checkers' first violation so far, as a scenario line, or "".
func (c *quorumCluster) violations() string {
	if f := c.checker.failure(); f != "" {
		return "VIOLATION: " + f + "\n"
	}
	return ""
}
