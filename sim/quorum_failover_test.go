package sim

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/weirdata/weir/diskio/memfs"
)

// failoverLivenessNs is the liveness bound a failover must meet: a new active controller
// committing a broker's registration within 30 virtual seconds of losing the old one.
const failoverLivenessNs = 30 * int64(time.Second)

// failoverSample is one failover's virtual durations from the fault: until a node is the active
// controller in a later epoch than the lost one (it leads and its epoch's LeaderChange record is
// committed), until a broker's registration sent at the fault is acknowledged (the broker
// sends to the active controller of the moment: an isolated one keeps it until it answers
// NOT_CONTROLLER or the broker's 3 s request timeout), and until an isolated old leader stops
// acting as the active controller (check-quorum; 0 for a crash).
type failoverSample struct {
	activeNs, registeredNs, oldStepsDownNs int64
}

// measureFailover runs one seed of a 3-voter quorum at Kafka's default quorum timeouts
// (election 1 s, fetch and request 2 s) with one admin client's brokers for load, takes the
// active controller down by fault ("crash": power loss; "isolate": cut off from the other
// quorum nodes, its clients still reaching it) at a seeded moment, and measures the failover.
func measureFailover(seed uint64, fault string) (failoverSample, error) {
	opts := DefaultQuorumOptions(seed)
	opts.Faults, opts.Voters = "none", 3
	opts.DurationNs = int64(time.Hour)
	c := &quorumCluster{opts: opts, w: NewWorld(seed)}
	c.adjust = func(k *QuorumKnobs) {
		k.Observers, k.Clients, k.BrokersPerClient = 1, 1, 2
		k.ElectionTimeoutMs = 1000
		k.FetchEntriesMax, k.SnapshotChunkBytes = 1024, 1<<20
	}
	if err := c.setUp(); err != nil {
		return failoverSample{}, err
	}
	if !c.w.RunUntilTrue(func() bool { return c.leader() != nil }, 20*int64(time.Second)) {
		return failoverSample{}, fmt.Errorf("no first leader: %s", c.describe())
	}
	// Let the clients register and the quorum settle, then strike at a seeded moment of the
	// fetch and heartbeat cycles.
	c.w.RunFor(2*int64(time.Second) + c.w.Rand("failover/when").Int64N(int64(2*time.Second)))
	old := c.leader()
	if old == nil {
		return failoverSample{}, fmt.Errorf("no leader to fail: %s", c.describe())
	}
	oldEpoch := old.Node().QuorumState().Epoch
	faultNs := c.w.NowNs()
	switch fault {
	case "crash":
		old.CrashWith(memfs.CrashRandom)
	case "isolate":
		c.network.Partition([]string{old.Host()}, otherHosts(c, old))
	default:
		return failoverSample{}, fmt.Errorf("fault %q", fault)
	}
	b := newScriptBroker(c, 9000)
	b.call(b.registrationRequest())
	limit := faultNs + failoverLivenessNs
	s := failoverSample{activeNs: -1, registeredNs: -1, oldStepsDownNs: -1}
	if fault == "crash" {
		s.oldStepsDownNs = 0
	}
	done := func() bool {
		at := c.w.NowNs() - faultNs
		// A later epoch's: the crashed one may restart (the fault plan's restart hook) and win.
		if l := c.leader(); s.activeNs < 0 && l != nil && l.Node().QuorumState().Epoch > oldEpoch {
			s.activeNs = at
		}
		if s.registeredNs < 0 && b.oneShot == nil {
			s.registeredNs = at
		}
		if s.oldStepsDownNs < 0 && !old.Node().Active() {
			s.oldStepsDownNs = at
		}
		return s.activeNs >= 0 && s.registeredNs >= 0 && s.oldStepsDownNs >= 0
	}
	if !c.w.RunUntilTrue(done, limit) {
		return s, fmt.Errorf("not within %ds (ms to a new active controller %.0f, to the registration %.0f, to the old one stepping down %.0f; -1: never): %s",
			failoverLivenessNs/1e9, msOrNever(s.activeNs), msOrNever(s.registeredNs), msOrNever(s.oldStepsDownNs), c.describe())
	}
	if b.result != "registered" {
		return s, fmt.Errorf("registration answered %q", b.result)
	}
	if f := c.checker.failure(); f != "" {
		return s, fmt.Errorf("checker: %s", f)
	}
	return s, nil
}

// TestQuorumFailoverTime measures, over many seeds, how long the metadata quorum takes to
// replace a lost active controller: until another node is the active controller, and until a
// broker's registration sent at the fault is acknowledged. It asserts only liveness (every
// failover within 30 virtual seconds) and logs the distribution in virtual ms.
func TestQuorumFailoverTime(t *testing.T) {
	seeds := 200
	if testing.Short() {
		seeds = 20
	}
	for _, fault := range []string{"crash", "isolate"} {
		var active, registered, stepsDown []int64
		for seed := 1; seed <= seeds; seed++ {
			s, err := measureFailover(uint64(seed), fault)
			if err != nil {
				t.Errorf("%s seed %d: %v", fault, seed, err)
				continue
			}
			active = append(active, s.activeNs)
			registered = append(registered, s.registeredNs)
			stepsDown = append(stepsDown, s.oldStepsDownNs)
		}
		t.Logf("%s of the active controller, %d seeds, virtual ms: new active controller %s; registration acknowledged %s",
			fault, len(active), distribution(active), distribution(registered))
		if fault == "isolate" {
			t.Logf("isolate: the old active controller steps down %s", distribution(stepsDown))
		}
	}
}

func msOrNever(ns int64) float64 {
	if ns < 0 {
		return -1
	}
	return float64(ns) / 1e6
}

// distribution is median, p90 and max of virtual durations, in ms.
func distribution(ns []int64) string {
	if len(ns) == 0 {
		return "(none)"
	}
	s := slices.Clone(ns)
	slices.Sort(s)
	at := func(p int) float64 { return float64(s[(len(s)-1)*p/100]) / 1e6 }
	return fmt.Sprintf("median %.0f, p90 %.0f, max %.0f", at(50), at(90), float64(s[len(s)-1])/1e6)
}
