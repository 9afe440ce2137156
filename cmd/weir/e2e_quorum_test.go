package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// controllerProcess is a `weir broker` process with process.roles=controller.
type controllerProcess struct {
	id     int32
	config string
	addr   string
	proc   *brokerProcess
}

func (c *controllerProcess) start(t *testing.T, bin string) {
	t.Helper()
	name := fmt.Sprintf("controller %d", c.id)
	c.proc = launchWeirBroker(t, bin, c.config, name)
	c.proc.waitForLine(t, name, `msg="controller listening"`)
}

// waitForLeader polls DescribeQuorum on addrs until a leader of an epoch above minEpoch
// answers, and returns its description.
func waitForLeader(t *testing.T, addrs []string, minEpoch int32) quorumDescription {
	t.Helper()
	deadline := time.Now().Add(e2eTimeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		q, err := describeQuorum(ctx, addrs)
		cancel()
		if err == nil && q.LeaderEpoch > minEpoch {
			return q
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no quorum leader above epoch %d within %v", minEpoch, e2eTimeout)
	return quorumDescription{}
}

// TestE2EControllerQuorumKill: three controller processes, formatted with `weir storage
// format`, elect a leader; kill -9 of the leader gets a new one within the election timeout
// (fetch timeout 2 s + election timeout 1-2 s), three times over, the killed one rejoining as a
// follower that catches up. The median failover time is logged.
func TestE2EControllerQuorumKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin := buildWeir(t, t.TempDir())
	ports := []int{freeLoopbackPort(t), freeLoopbackPort(t), freeLoopbackPort(t)}
	var cs []*controllerProcess
	var addrs []string
	for id := int32(1); id <= 3; id++ {
		dir := t.TempDir()
		config := filepath.Join(dir, "controller.properties")
		if err := os.WriteFile(config, []byte(controllerQuorumProperties(filepath.Join(dir, "data"), id, ports)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "storage", "format", "--cluster-id", testControllerClusterID, "--config", config).CombinedOutput()
		if err != nil {
			t.Fatalf("format node %d: %v\n%s", id, err, out)
		}
		c := &controllerProcess{id: id, config: config, addr: "127.0.0.1:" + strconv.Itoa(ports[id-1])}
		c.start(t, bin)
		cs = append(cs, c)
		addrs = append(addrs, c.addr)
	}
	q := waitForLeader(t, addrs, 0)
	var failovers []time.Duration
	for round := range 3 {
		old := cs[q.LeaderID-1]
		killedAt := time.Now()
		if code := old.proc.signal(t, syscall.SIGKILL); code != -1 {
			t.Fatalf("round %d: controller %d exit code %d after kill -9", round, old.id, code)
		}
		var rest []string
		for _, c := range cs {
			if c != old {
				rest = append(rest, c.addr)
			}
		}
		next := waitForLeader(t, rest, q.LeaderEpoch)
		failovers = append(failovers, time.Since(killedAt))
		t.Logf("round %d: killed leader %d (epoch %d); controller %d leads epoch %d after %v",
			round, old.id, q.LeaderEpoch, next.LeaderID, next.LeaderEpoch, failovers[round])
		old.start(t, bin)
		// The restarted controller catches up with the new leader's high watermark.
		deadline := time.Now().Add(e2eTimeout)
		for {
			cur := waitForLeader(t, addrs, next.LeaderEpoch-1)
			i := slices.IndexFunc(cur.Voters, func(r quorumReplica) bool { return r.NodeID == old.id })
			if i >= 0 && cur.Voters[i].LogEndOffset >= next.HighWatermark {
				q = cur
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: restarted controller %d did not catch up: %+v", round, old.id, cur)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	slices.Sort(failovers)
	t.Logf("controller failover after kill -9: median %v (of %v)", failovers[len(failovers)/2], failovers)
}
