package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clusterNode is a combined (broker and controller) `weir broker` process of a 3-node cluster.
type clusterNode struct {
	id             int32
	config         string
	brokerAddr     string
	controllerAddr string
	proc           *brokerProcess
}

// combinedProperties is node id's server.properties in a cluster whose nodes listen on
// brokerPorts and controllerPorts.
func combinedProperties(dataDir string, id int32, brokerPorts, controllerPorts []int) string {
	var voters []string
	for i, p := range controllerPorts {
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", i+1, p))
	}
	return strings.Join([]string{
		fmt.Sprintf("node.id=%d", id),
		"process.roles=broker,controller",
		fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", brokerPorts[id-1], controllerPorts[id-1]),
		"controller.listener.names=CONTROLLER",
		"controller.quorum.voters=" + strings.Join(voters, ","),
		"log.dirs=" + filepath.ToSlash(dataDir),
	}, "\n") + "\n"
}

// startCombinedCluster formats and starts three combined nodes, each with extraProps added to
// its server.properties, and waits until every one serves; it returns them with their broker
// and controller addresses.
func startCombinedCluster(t *testing.T, bin, extraProps string) (nodes []*clusterNode, bootstrap, controllers []string) {
	t.Helper()
	brokerPorts := []int{freeLoopbackPort(t), freeLoopbackPort(t), freeLoopbackPort(t)}
	controllerPorts := []int{freeLoopbackPort(t), freeLoopbackPort(t), freeLoopbackPort(t)}
	for id := int32(1); id <= 3; id++ {
		dir := t.TempDir()
		config := filepath.Join(dir, "server.properties")
		props := combinedProperties(filepath.Join(dir, "data"), id, brokerPorts, controllerPorts) + extraProps
		if err := os.WriteFile(config, []byte(props), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "storage", "format", "--cluster-id", testControllerClusterID, "--config", config).CombinedOutput()
		if err != nil {
			t.Fatalf("format node %d: %v\n%s", id, err, out)
		}
		n := &clusterNode{id: id, config: config,
			brokerAddr:     "127.0.0.1:" + strconv.Itoa(brokerPorts[id-1]),
			controllerAddr: "127.0.0.1:" + strconv.Itoa(controllerPorts[id-1])}
		n.start(t, bin)
		nodes = append(nodes, n)
		bootstrap = append(bootstrap, n.brokerAddr)
		controllers = append(controllers, n.controllerAddr)
	}
	for _, n := range nodes {
		n.waitServing(t)
	}
	return nodes, bootstrap, controllers
}

func (c *clusterNode) start(t *testing.T, bin string) {
	t.Helper()
	c.proc = launchWeirBroker(t, bin, c.config, fmt.Sprintf("node %d", c.id))
}

// waitServing waits until the node logs that its broker serves.
func (c *clusterNode) waitServing(t *testing.T) {
	t.Helper()
	c.proc.waitForLine(t, fmt.Sprintf("node %d", c.id), "msg=listening")
}

// TestE2EThreeNodeCluster: three combined processes formatted with `weir storage format` form
// one cluster: a topic of 6 partitions and RF=1 has its leaders spread over the three
// brokers, records produced through any broker land on each partition's leader and read back;
// kill -9 of the active controller gets a new one within the election timeout, after which
// topics can again be created and every broker is still listed; SIGTERM of the active
// controller's node is a controlled shutdown of its broker (its partitions lose their leader,
// RF=1) and a resignation of the quorum leadership, and the broker comes back leading them.
func TestE2EThreeNodeCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin := buildWeir(t, t.TempDir())
	nodes, bootstrap, controllers := startCombinedCluster(t, bin, "")
	client := newTestClient(t, bootstrap[0])
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()

	// Every broker is listed, and a 6-partition topic spreads its leaders over them.
	meta := requireMetadata(t, ctx, client, "orders", 6)
	// Brokers learn committed metadata asynchronously (as Kafka's do): wait until each one
	// serves the topic before producing to its leaders.
	for _, n := range nodes {
		waitFor(t, fmt.Sprintf("broker %d to know orders", n.id), func() bool { return brokerKnows(ctx, n.brokerAddr, "orders") })
	}
	leaders := map[int32]int{}
	for _, p := range meta.Topics[0].Partitions {
		leaders[p.Leader]++
	}
	if len(meta.Brokers) != 3 || len(leaders) != 3 || leaders[1] != 2 || leaders[2] != 2 || leaders[3] != 2 {
		t.Fatalf("brokers %d, leaders per broker %v: want 3 brokers leading 2 partitions each", len(meta.Brokers), leaders)
	}
	records := makeRecords("orders", 300)
	for i, r := range records {
		r.Partition = int32(i % 6)
	}
	producer := newTestClient(t, bootstrap[0], kgo.RecordPartitioner(kgo.ManualPartitioner()))
	acked := produceAll(t, producer, records)
	sameRecords(t, consumeN(t, bootstrap[2], "orders", 300), acked)

	// weir cluster info and health see the same.
	code, stdout, stderr := runWeir(t, "cluster", "info", "--brokers", bootstrap[1], "--format", "json")
	if code != 0 {
		t.Fatalf("cluster info: exit %d: %s", code, stderr)
	}
	var info clusterInfo
	if err := json.Unmarshal([]byte(stdout), &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Brokers) != 3 || info.Partitions != 6 || len(info.OfflinePartitions) != 0 || info.Brokers[0].Leaders != 2 {
		t.Fatalf("cluster info: %+v", info)
	}
	if code, stdout, stderr := runWeir(t, "cluster", "health", "--brokers", bootstrap[0], "--expect-brokers", "3",
		"--bootstrap-controller", strings.Join(controllers, ",")); code != 0 || !strings.Contains(stdout, "healthy") {
		t.Fatalf("cluster health: exit %d: %s %s", code, stdout, stderr)
	}

	// kill -9 of the active controller: a new one within the election timeout.
	q := waitForLeader(t, controllers, 0)
	old := nodes[q.LeaderID-1]
	killedAt := time.Now()
	old.proc.signal(t, syscall.SIGKILL)
	var rest []string
	for _, n := range nodes {
		if n != old {
			rest = append(rest, n.controllerAddr)
		}
	}
	next := waitForLeader(t, rest, q.LeaderEpoch)
	failover := time.Since(killedAt)
	t.Logf("killed the active controller %d; controller %d active after %v", old.id, next.LeaderID, failover)
	if failover > 5*time.Second {
		t.Errorf("failover took %v, more than fetch timeout + 2 election timeouts", failover)
	}
	// Topics can be created again; every broker still listed (the killed one until its lease
	// lapses, then fenced and gone from Metadata, then back once restarted).
	var restBootstrap []string
	for _, n := range nodes {
		if n != old {
			restBootstrap = append(restBootstrap, n.brokerAddr)
		}
	}
	client2 := newTestClient(t, restBootstrap[0])
	requireMetadata(t, ctx, client2, "after-failover", 3)
	for _, addr := range restBootstrap {
		waitFor(t, addr+" to know after-failover", func() bool { return brokerKnows(ctx, addr, "after-failover") })
	}
	old.start(t, bin)
	old.waitServing(t)
	waitFor(t, "all three brokers listed again", func() bool {
		m := kmsg.NewPtrMetadataRequest()
		resp, err := m.RequestWith(ctx, client2)
		return err == nil && len(resp.Brokers) == 3
	})

	// SIGTERM of a broker: a controlled shutdown (exit 0), its partitions left leaderless
	// (RF=1), then led by it again once it is back.
	// The cluster is whole again before the next step: every broker registered and unfenced
	// and every partition led.
	waitFor(t, "a healthy cluster", func() bool {
		code, _, _ := runWeir(t, "cluster", "health", "--brokers", bootstrap[2], "--expect-brokers", "3")
		return code == 0
	})
	// The broker of the active controller's own process, right after another broker
	// re-registered: its heartbeats reach the controller over the loopback, not TCP, and it
	// still gets a controlled shutdown; then the node resigns the quorum leadership and the
	// other two elect a new active controller.
	q = waitForLeader(t, controllers, 0)
	victim := nodes[q.LeaderID-1]
	if code := victim.proc.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit code %d", code)
	}
	stopLog := victim.proc.stderr.String()
	if !strings.Contains(stopLog, "controlled shutdown") || strings.Contains(stopLog, "without a completed controlled shutdown") {
		t.Fatalf("node %d did not complete a controlled shutdown:\n%s", victim.id, stopLog)
	}
	if i := strings.Index(stopLog, "resigning the quorum leadership"); i < 0 || i < strings.LastIndex(stopLog, "controlled shutdown") {
		t.Fatalf("node %d did not resign the quorum leadership after its broker's controlled shutdown:\n%s", victim.id, stopLog)
	}
	rest = rest[:0]
	for _, n := range nodes {
		if n != victim {
			rest = append(rest, n.controllerAddr)
		}
	}
	if next := waitForLeader(t, rest, q.LeaderEpoch); next.LeaderID == victim.id {
		t.Fatalf("node %d, stopped, still leads the quorum at epoch %d", victim.id, next.LeaderEpoch)
	}
	// Its partitions are offline now (RF=1): the cluster is unhealthy until it is back.
	var lastHealth string
	live := nodes[victim.id%3].brokerAddr // not the victim; up
	waitFor(t, "cluster health to see the stopped broker", func() bool {
		code, stdout, stderr := runWeir(t, "cluster", "health", "--brokers", live, "--expect-brokers", "3")
		lastHealth = fmt.Sprintf("exit %d: %s %s", code, stdout, stderr)
		return code == 1 && strings.Contains(stdout, "offline partition orders/")
	}, func() string { return lastHealth })
	victim.start(t, bin)
	victim.waitServing(t)
	waitFor(t, "every partition of orders led again", func() bool {
		m := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr("orders")
		m.Topics = append(m.Topics, rt)
		resp, err := m.RequestWith(ctx, client2)
		if err != nil || len(resp.Topics) != 1 {
			return false
		}
		return !slices.ContainsFunc(resp.Topics[0].Partitions, func(p kmsg.MetadataResponseTopicPartition) bool { return p.Leader < 0 })
	})
	sameRecords(t, consumeN(t, bootstrap[2], "orders", 300), acked)
}

// requireMetadata creates topic with partitions partitions (RF=1) and returns the Metadata
// that lists every one of them with a leader.
func requireMetadata(t *testing.T, ctx context.Context, client *kgo.Client, topic string, partitions int32) *kmsg.MetadataResponse {
	t.Helper()
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, partitions, 1
	create.Topics = append(create.Topics, ct)
	create.TimeoutMillis = 10_000
	resp, err := create.RequestWith(ctx, client)
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create %s: %v %+v", topic, err, resp)
	}
	var meta *kmsg.MetadataResponse
	waitFor(t, "metadata of "+topic, func() bool {
		m := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		m.Topics = append(m.Topics, rt)
		r, err := m.RequestWith(ctx, client)
		if err != nil || len(r.Topics) != 1 || r.Topics[0].ErrorCode != 0 || len(r.Topics[0].Partitions) != int(partitions) {
			return false
		}
		meta = r
		return true
	})
	return meta
}

// waitFor polls cond until it holds, failing after e2eTimeout; state, when given, says what
// was seen last.
func waitFor(t *testing.T, what string, cond func() bool, state ...func() string) {
	t.Helper()
	deadline := time.Now().Add(e2eTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			last := ""
			if len(state) > 0 {
				last = state[0]()
			}
			t.Fatalf("%s: not within %v; last: %s", what, e2eTimeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// brokerKnows reports whether the broker at addr answers Metadata for topic with every
// partition led.
func brokerKnows(ctx context.Context, addr, topic string) bool {
	m := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	m.Topics = append(m.Topics, rt)
	raw, err := kafkaRequest(ctx, addr, m)
	if err != nil {
		return false
	}
	r := raw.(*kmsg.MetadataResponse)
	if len(r.Topics) != 1 || r.Topics[0].ErrorCode != 0 || len(r.Topics[0].Partitions) == 0 {
		return false
	}
	return !slices.ContainsFunc(r.Topics[0].Partitions, func(p kmsg.MetadataResponseTopicPartition) bool { return p.Leader < 0 })
}
