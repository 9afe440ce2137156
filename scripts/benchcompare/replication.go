package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// replicationClusterID formats the three nodes of the replication benchmark.
const replicationClusterID = "MkU3OEVBNTcwNTJENDM2Qg"

// clusterNode is one combined process of the replication benchmark's three-node cluster.
type clusterNode struct {
	id         int32
	config     string
	brokerAddr string
	cmd        *exec.Cmd
	logs       *bytes.Buffer
}

// runReplication measures, on three combined `weir broker` processes sharing this machine,
// acks=all produce throughput and latency to an RF=3, min.insync.replicas=2 topic against an
// RF=1 topic in the same run (the ratio is what carries across machines), then the failover
// time of a partition whose leader is killed with kill -9: from the kill to the first
// acknowledged produce to that partition, once per run (the killed node restarts between).
func runReplication(runs, produceMiB int, workDir string) error {
	workDir, weirBin, cleanup, err := buildInto(workDir)
	defer cleanup()
	if err != nil {
		return err
	}
	nodes, err := startCluster(weirBin, workDir)
	if err != nil {
		return err
	}
	defer func() {
		for _, n := range nodes {
			n.stop()
		}
	}()
	var bootstrap []string
	for _, n := range nodes {
		bootstrap = append(bootstrap, n.brokerAddr)
	}
	brokers := strings.Join(bootstrap, ",")
	const recordBytes, partitions = 1024, 3
	records := produceMiB << 20 / recordBytes
	type sample struct{ mbps, p50, p99 float64 }
	results := map[int][]sample{}
	for r := range runs {
		// Alternate which goes first, so drift in the machine's load hits both alike.
		order := []int{1, 3}
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, rf := range order {
			topic := fmt.Sprintf("bench-rf%d-%d", rf, r)
			args := []string{"produce", "--brokers", brokers, "--topic", topic, "--records", strconv.Itoa(records),
				"--record-size", strconv.Itoa(recordBytes), "--partitions", strconv.Itoa(partitions), "--acks", "-1",
				"--replication-factor", strconv.Itoa(rf)}
			if rf > 1 {
				args = append(args, "--topic-config", "min.insync.replicas=2")
			}
			s, err := bench(weirBin, args...)
			if err != nil {
				return fmt.Errorf("RF=%d run %d: %w", rf, r, err)
			}
			fmt.Fprintf(os.Stderr, "run %d RF=%d: %7.1f MB/s, p50 %6.1f ms, p99 %6.1f ms\n", r, rf, s.MBPerSec, s.LatencyP50Ms, s.LatencyP99Ms)
			results[rf] = append(results[rf], sample{s.MBPerSec, s.LatencyP50Ms, s.LatencyP99Ms})
		}
	}
	if runs > 0 {
		col := func(rf int, f func(sample) float64) float64 {
			var xs []float64
			for _, s := range results[rf] {
				xs = append(xs, f(s))
			}
			return median(xs)
		}
		fmt.Printf("acks=all, %d-byte records, %d partitions, 3 brokers on one machine; medians of %d runs\n", recordBytes, partitions, runs)
		fmt.Printf("%-28s %10s %10s %10s\n", "topic", "MB/s", "p50 ms", "p99 ms")
		for _, rf := range []int{1, 3} {
			name := "RF=1"
			if rf == 3 {
				name = "RF=3 min.insync.replicas=2"
			}
			fmt.Printf("%-28s %10.1f %10.1f %10.1f\n", name, col(rf, func(s sample) float64 { return s.mbps }),
				col(rf, func(s sample) float64 { return s.p50 }), col(rf, func(s sample) float64 { return s.p99 }))
		}
		fmt.Printf("RF=3 / RF=1 throughput: %.2f\n", col(3, func(s sample) float64 { return s.mbps })/col(1, func(s sample) float64 { return s.mbps }))
	}
	var failovers []float64
	for r := range runs {
		d, err := measureFailover(weirBin, nodes, bootstrap, r)
		if err != nil {
			return fmt.Errorf("failover run %d: %w", r, err)
		}
		fmt.Fprintf(os.Stderr, "failover run %d: %v\n", r, d.Round(time.Millisecond))
		failovers = append(failovers, float64(d.Milliseconds()))
	}
	if len(failovers) > 0 {
		fmt.Printf("leader failover (kill -9 to the first acknowledged produce to its partition): median %.0f ms of %d, max %.0f ms\n",
			median(failovers), len(failovers), slices.Max(failovers))
	}
	return nil
}

// startCluster formats and starts three combined nodes and waits for every one to listen.
func startCluster(weirBin, workDir string) ([]*clusterNode, error) {
	var brokerPorts, controllerPorts []int
	for range 3 {
		b, err := freePort()
		if err != nil {
			return nil, err
		}
		c, err := freePort()
		if err != nil {
			return nil, err
		}
		brokerPorts, controllerPorts = append(brokerPorts, b), append(controllerPorts, c)
	}
	var voters []string
	for i, p := range controllerPorts {
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", i+1, p))
	}
	var nodes []*clusterNode
	for i := range 3 {
		id := int32(i + 1)
		dir := filepath.Join(workDir, fmt.Sprintf("node-%d", id))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		props := strings.Join([]string{
			fmt.Sprintf("node.id=%d", id),
			"process.roles=broker,controller",
			fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", brokerPorts[i], controllerPorts[i]),
			"controller.listener.names=CONTROLLER",
			"controller.quorum.voters=" + strings.Join(voters, ","),
			"log.dirs=" + filepath.Join(dir, "data"),
		}, "\n") + "\n"
		config := filepath.Join(dir, "server.properties")
		if err := os.WriteFile(config, []byte(props), 0o644); err != nil {
			return nil, err
		}
		if out, err := exec.Command(weirBin, "storage", "format", "--cluster-id", replicationClusterID, "--config", config).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("format node %d: %w\n%s", id, err, out)
		}
		n := &clusterNode{id: id, config: config, brokerAddr: "127.0.0.1:" + strconv.Itoa(brokerPorts[i])}
		if err := n.start(weirBin); err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

func (n *clusterNode) start(weirBin string) error {
	n.logs = &bytes.Buffer{}
	n.cmd = exec.Command(weirBin, "broker", "--config", n.config, "--log-level", "warn")
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("starting node %d: %w", n.id, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", n.brokerAddr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %d not listening on %s after 30s: %v\n%s", n.id, n.brokerAddr, err, n.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *clusterNode) stop() {
	if n.cmd != nil && n.cmd.ProcessState == nil {
		n.cmd.Process.Kill()
		n.cmd.Wait()
	}
}

// measureFailover kills the leader of partition 0 of an RF=3 topic with kill -9 and times
// the first acknowledged produce to that partition after it; the node restarts afterwards
// and the next run waits for its ISRs to fill again.
func measureFailover(weirBin string, nodes []*clusterNode, bootstrap []string, run int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := fmt.Sprintf("failover-%d", run)
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MetadataMinAge(50*time.Millisecond), kgo.RetryTimeout(time.Minute))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	// The node the last run killed is back once it is registered again: three brokers listed.
	for {
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		if err == nil && len(resp.Brokers) == 3 {
			break
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("three brokers not listed: %v", ctx.Err())
		}
		time.Sleep(50 * time.Millisecond)
	}
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, 1, 3
	c := kmsg.NewCreateTopicsRequestTopicConfig()
	c.Name, c.Value = "min.insync.replicas", kmsg.StringPtr("2")
	ct.Configs = append(ct.Configs, c)
	create.Topics = append(create.Topics, ct)
	create.TimeoutMillis = 10_000
	if resp, err := create.RequestWith(ctx, cl); err != nil || resp.Topics[0].ErrorCode != 0 {
		return 0, fmt.Errorf("create %s: %v %+v", topic, err, resp)
	}
	// A full ISR first: the measurement starts from a healthy partition.
	var leader int32
	for {
		m := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		m.Topics = append(m.Topics, rt)
		resp, err := m.RequestWith(ctx, cl)
		if err == nil && len(resp.Topics) == 1 && len(resp.Topics[0].Partitions) == 1 {
			p := resp.Topics[0].Partitions[0]
			if p.Leader >= 0 && len(p.ISR) == 3 {
				leader = p.Leader
				break
			}
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("%s: no leader with a full ISR: %v", topic, ctx.Err())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("before")}).FirstErr(); err != nil {
		return 0, fmt.Errorf("produce before the kill: %w", err)
	}
	victim := nodes[leader-1]
	killedAt := time.Now()
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return 0, err
	}
	victim.cmd.Wait()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("after")}).FirstErr(); err != nil {
		return 0, fmt.Errorf("produce after the kill: %w", err)
	}
	took := time.Since(killedAt)
	return took, victim.start(weirBin)
}
