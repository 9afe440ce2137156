package sim

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/weirdata/weir/diskio/memfs"
)

// TestQuorumScenarios runs testdata/quorum-scenarios/*.txt: a metadata quorum, its admin
// clients, and faults at given virtual times, step by step, with the checkers' verdict at the
// end. Nodes are named ctl<id> (voters 1..n, observers 101..); node=leader is the current
// quorum leader; as=NAME on a command names its node for later ones. Crashed nodes stay down
// until `restart`. The language:
//
//	quorum seed=N [voters=3|5] [observers=N] [clients=N] [brokers=N] [heartbeat-ms=MS]
//	       [snapshot-bytes=B] [segment-bytes=B]
//	                      build the world (knobs not named come from the seed); admin clients
//	                      start at 1 s
//	run for=D             advance virtual time by D
//	await-leader within=D [not=NODE]
//	                      run until an active leader (other than NODE) exists: "leader
//	                      elected", or "no leader"
//	isolate node=NODE [as=NAME]
//	                      cut NODE off from every other quorum node, both ways (its clients
//	                      still reach it)
//	heal                  remove every cut
//	crash node=NODE [as=NAME] [mode=random|lose|keep]   power loss (default random)
//	shutdown node=NODE [as=NAME]   resign, then exit
//	restart node=NODE     start it again on what its disk kept
//	pause node=NODE [as=NAME] for=D   stop the process for D
//	snapshot-fetches node=NODE     whether the node has sent FetchSnapshot ("some", "none")
//	same-epoch a=NODE b=NODE   whether both are in the same quorum epoch
//	check                 stop the clients, wait for liveness, run the end checkers: "pass" or
//	                      FAIL and the first violation
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
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "quorum" && c == nil {
				d.Fatalf(t, "%s: quorum first", d.Pos)
			}
			switch d.Cmd {
			case "quorum":
				var seed uint64
				d.ScanArgs(t, "seed", &seed)
				opts := DefaultQuorumOptions(seed)
				opts.Faults = "none"
				opts.DurationNs = int64(time.Hour) // faults never heal by themselves here
				c = &quorumCluster{opts: opts, w: NewWorld(seed)}
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
					n.SetHooks(ControllerHooks{Restarted: c.checker.restarted, Observe: c.checker.observe})
				}
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
				if node(d, "node").Stats().FetchSnapshotSends > 0 {
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
