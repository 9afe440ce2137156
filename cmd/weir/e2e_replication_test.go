package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// replicatedLagMs is replica.lag.time.max.ms in the replicated cluster test: short, so a
// stopped follower leaves the ISR within seconds.
const replicatedLagMs = 2000

// replicatedSessionMs is broker.session.timeout.ms there: well above the lag, so a stopped
// follower leaves the ISR by lagging before its session could lapse; a killed broker's
// partitions fail over after it.
const replicatedSessionMs = 12000

// TestE2EReplicatedCluster: three combined processes, a topic of 3 partitions with RF=3 and
// min.insync.replicas=2, franz-go's idempotent acks=all producer and librdkafka's (kcat) beside
// it across each kill. Every acknowledged record
// survives kill -9 of a partition leader (the producer goes on through the new leaders and
// its retries are not duplicated); the killed broker, restarted, catches up and rejoins every
// ISR; a follower stopped with SIGSTOP leaves the ISR after replica.lag.time.max.ms once
// records arrive (acks=all produces then commit with the two others), and rejoins after
// SIGCONT; kill -9 of the active controller leaves the producer going on. The broker session
// timeout is well above the lag, so a lapsed session cannot stand in for the lag rule.
func TestE2EReplicatedCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin := buildWeir(t, t.TempDir())
	nodes, bootstrap, controllers := startCombinedCluster(t, bin,
		"replica.lag.time.max.ms="+strconv.Itoa(replicatedLagMs)+"\n"+
			"replica.fetch.wait.max.ms=200\n"+
			"broker.session.timeout.ms="+strconv.Itoa(replicatedSessionMs)+"\n")
	ctx, cancel := context.WithTimeout(context.Background(), 4*e2eTimeout)
	defer cancel()
	admin := newTestClient(t, bootstrap[0], kgo.SeedBrokers(bootstrap...))

	const topic, partitions = "replicated", 3
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, partitions, 3
	minISR := kmsg.NewCreateTopicsRequestTopicConfig()
	minISR.Name, minISR.Value = "min.insync.replicas", kmsg.StringPtr("2")
	ct.Configs = append(ct.Configs, minISR)
	create.Topics = append(create.Topics, ct)
	create.TimeoutMillis = 10_000
	if resp, err := create.RequestWith(ctx, admin); err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create %s: %v %+v", topic, err, resp)
	}
	for _, n := range nodes {
		waitFor(t, fmt.Sprintf("broker %d to know %s", n.id, topic), func() bool { return brokerKnows(ctx, n.brokerAddr, topic) })
	}
	// isrs is each partition's ISR (sorted) and leader as the broker at addr answers
	// Metadata; lastMeta keeps what was seen last, for failures.
	var lastMeta string
	isrs := func(addr string) (map[int32][]int32, map[int32]int32, bool) {
		m := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		m.Topics = append(m.Topics, rt)
		raw, err := kafkaRequest(ctx, addr, m)
		if err != nil {
			lastMeta = err.Error()
			return nil, nil, false
		}
		r := raw.(*kmsg.MetadataResponse)
		if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != partitions {
			lastMeta = fmt.Sprintf("%+v", r.Topics)
			return nil, nil, false
		}
		isr, leaders := map[int32][]int32{}, map[int32]int32{}
		for _, p := range r.Topics[0].Partitions {
			isr[p.Partition] = slices.Sorted(slices.Values(p.ISR))
			leaders[p.Partition] = p.Leader
		}
		lastMeta = fmt.Sprintf("ISRs %v leaders %v", isr, leaders)
		return isr, leaders, true
	}
	// fullISRs reports whether every partition's ISR holds all three brokers.
	fullISRs := func(addr string) bool {
		isr, _, ok := isrs(addr)
		if !ok {
			return false
		}
		for p := int32(0); p < partitions; p++ {
			if !slices.Equal(isr[p], []int32{1, 2, 3}) {
				return false
			}
		}
		return true
	}
	waitFor(t, "every ISR full", func() bool { return fullISRs(bootstrap[0]) }, func() string { return lastMeta })

	producer := newTestClient(t, bootstrap[0], kgo.SeedBrokers(bootstrap...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	batch := func(from, n int) []*kgo.Record {
		records := makeRecords(topic, from+n)[from:]
		for i, r := range records {
			r.Partition = int32((from + i) % partitions)
		}
		return records
	}
	acked := produceAll(t, producer, batch(0, 300))

	// kill -9 the leader of partition 0 (any node: its controller role, if active, moves
	// too), with produces in flight; every acknowledged record must survive.
	_, leaders, ok := isrs(bootstrap[0])
	if !ok {
		t.Fatalf("metadata: %s", lastMeta)
	}
	victim := nodes[leaders[0]-1]
	// librdkafka (kcat) produces to partition 0 across the kill too, fed over three seconds.
	kcatFirst := startKcatProducer(t, bootstrap, topic, 0, "kcat-a")
	time.Sleep(time.Second)
	inflight := make(chan []testRecord, 1)
	go func() {
		// Not t.Fatal off the test goroutine: report what was acknowledged, errors excluded.
		pctx, pcancel := context.WithTimeout(context.Background(), 2*e2eTimeout)
		defer pcancel()
		var ok []testRecord
		for _, res := range producer.ProduceSync(pctx, batch(300, 300)...) {
			if res.Err == nil {
				ok = append(ok, fromKgo(res.Record))
			}
		}
		inflight <- ok
	}()
	leaderKilledAt := time.Now()
	victim.proc.signal(t, syscall.SIGKILL)
	second := <-inflight
	if len(second) != 300 {
		t.Fatalf("%d of 300 records produced across the leader's crash were acknowledged: RF=3 with two brokers left must take them all", len(second))
	}
	acked = append(acked, second...)
	// Those may have been acknowledged before the kill took effect: these go through the
	// failover for certain.
	acked = append(acked, produceAll(t, producer, batch(600, 150))...)
	t.Logf("kill -9 of node %d, leader of partition 0: every record produced across it acknowledged %v later",
		victim.id, time.Since(leaderKilledAt).Round(time.Millisecond))
	kcatSent := map[string]int32{}
	if waitKcat(t, kcatFirst, leaderKilledAt, "the leader's kill") {
		kcatSent["kcat-a"] = 0
	}
	var live []string
	for _, n := range nodes {
		if n != victim {
			live = append(live, n.brokerAddr)
		}
	}
	readBack(t, live[0], topic, acked, kcatSent)

	// The killed broker restarts, catches up from the leaders and rejoins every ISR.
	victim.start(t, bin)
	victim.waitServing(t)
	waitFor(t, "the restarted broker back in every ISR", func() bool { return fullISRs(live[0]) }, func() string { return lastMeta })

	// SIGSTOP a follower of partition 0: it leaves the ISR after replica.lag.time.max.ms;
	// acks=all produces go on with two in-sync replicas; after SIGCONT it rejoins.
	_, leaders, _ = isrs(live[0])
	var stopped *clusterNode
	for _, n := range nodes {
		if n.id != leaders[0] {
			stopped = n
			break
		}
	}
	leaderAddr := nodes[leaders[0]-1].brokerAddr
	var onlyP0 []*kgo.Record
	for _, r := range batch(750, 150) {
		if r.Partition == 0 {
			onlyP0 = append(onlyP0, r)
		}
	}
	// The producer has its producer id and its connection to the leader before the stop: a
	// client picks any broker for InitProducerId and Metadata, and one sent to the stopped
	// process would wait out the client's request timeout instead.
	p0Producer := newTestClient(t, leaderAddr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	acked = append(acked, produceAll(t, p0Producer, onlyP0[:1])...)
	if err := stopped.proc.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = stopped.proc.cmd.Process.Signal(syscall.SIGCONT)
		}
	}
	defer resume()
	// A follower at the leader's log end counts as caught up however long it is silent
	// (Kafka's isCaughtUp): records must arrive for it to fall behind. acks=all produces to
	// partition 0 wait for it until it is dropped from the ISR after replica.lag.time.max.ms,
	// then commit with the leader and the other follower (min.insync.replicas=2).
	acked = append(acked, produceAll(t, p0Producer, onlyP0[1:])...)
	isr, _, ok := isrs(leaderAddr)
	if !ok || slices.Contains(isr[0], stopped.id) || len(isr[0]) != 2 {
		t.Fatalf("acks=all produces committed with stopped node %d still in partition 0's ISR: %s", stopped.id, lastMeta)
	}
	t.Logf("acks=all produces to partition 0 committed %v after SIGSTOP of follower %d, which left the ISR (replica.lag.time.max.ms=%d)",
		time.Since(stoppedAt).Round(time.Millisecond), stopped.id, replicatedLagMs)
	// It left by lagging, not by losing its broker session: still registered and unfenced, so
	// still listed.
	if !brokerListed(ctx, leaderAddr, stopped.id) {
		t.Fatalf("stopped node %d is no longer listed: its session lapsed, so the lag rule was not what dropped it", stopped.id)
	}
	resume()
	waitFor(t, fmt.Sprintf("node %d back in every ISR after SIGCONT", stopped.id), func() bool { return fullISRs(leaderAddr) }, func() string { return lastMeta })

	// kill -9 of the active controller (its broker leads some partitions too): a new one is
	// elected, the dead broker's session lapses, its partitions move to the other ISR
	// members, and the producers go on: franz-go's over every partition and librdkafka's
	// (kcat, idempotent, acks=all) to a partition the killed node leads, its records fed
	// over three seconds so that some are sent across the kill.
	ctlVictim := nodes[waitForLeader(t, controllers, 0).LeaderID-1]
	_, leaders, _ = isrs(leaderAddr)
	kcatPartition := int32(0)
	for p := int32(0); p < partitions; p++ {
		if leaders[p] == ctlVictim.id {
			kcatPartition = p
		}
	}
	kcatSecond := startKcatProducer(t, bootstrap, topic, kcatPartition, "kcat-b")
	time.Sleep(time.Second)
	killedAt := time.Now()
	ctlVictim.proc.signal(t, syscall.SIGKILL)
	acked = append(acked, produceAll(t, producer, batch(900, 150))...)
	t.Logf("kill -9 of the active controller %d: 150 records over every partition acknowledged %v later (broker.session.timeout.ms=%d)",
		ctlVictim.id, time.Since(killedAt).Round(time.Millisecond), replicatedSessionMs)
	if waitKcat(t, kcatSecond, killedAt, fmt.Sprintf("the controller's kill (partition %d led by node %d)", kcatPartition, leaders[kcatPartition])) {
		kcatSent["kcat-b"] = kcatPartition
	}

	// Every acknowledged record reads back once, in order; each kcat run's, in its
	// partition, in the order sent.
	var reader string
	for _, n := range nodes {
		if n != ctlVictim {
			reader = n.brokerAddr
		}
	}
	readBack(t, reader, topic, acked, kcatSent)
}

// readBack consumes topic through addr and checks it holds exactly the acknowledged records
// of franz-go (acked) and of each kcat run (named by prefix, to its partition), each once and
// in the order produced.
func readBack(t *testing.T, addr, topic string, acked []testRecord, kcatSent map[string]int32) {
	t.Helper()
	got := consumeN(t, addr, topic, len(acked)+len(kcatSent)*kcatRecords)
	fromKcat := map[string][]string{}
	got = slices.DeleteFunc(got, func(r testRecord) bool {
		prefix, _, ok := strings.Cut(r.Value, ":")
		if !ok || !strings.HasPrefix(prefix, "kcat-") {
			return false
		}
		if p, sent := kcatSent[prefix]; !sent || r.Partition != p {
			t.Errorf("kcat's record %s in partition %d, want %d", r.Value, r.Partition, p)
		}
		fromKcat[prefix] = append(fromKcat[prefix], r.Value)
		return true
	})
	sameRecords(t, got, acked)
	for prefix := range kcatSent {
		want := make([]string, kcatRecords)
		for i := range want {
			want[i] = kcatValue(prefix, i)
		}
		if !slices.Equal(fromKcat[prefix], want) {
			t.Errorf("%s's records read back as %v, want %d in order, once each", prefix, fromKcat[prefix], kcatRecords)
		}
	}
}

// kcatRecords is how many records each kcat run produces.
const kcatRecords = 300

// kcatValue is record i of the kcat run named prefix.
func kcatValue(prefix string, i int) string { return fmt.Sprintf("%s:%03d", prefix, i) }

// startKcatProducer starts kcat producing kcatRecords records named by prefix idempotently
// with acks=all to one partition, one line every 10 ms, and returns a channel with its outcome
// (nil when kcat is missing outside CI: the librdkafka part is then left out).
func startKcatProducer(t *testing.T, bootstrap []string, topic string, partition int32, prefix string) <-chan error {
	t.Helper()
	_, err := exec.LookPath("kcat")
	if err != nil && os.Getenv("CI") != "true" {
		t.Logf("kcat is not on PATH: librdkafka's producer is left out (apt-get install kcat)")
		return nil
	}
	requireTool(t, err == nil, "kcat is not on PATH")
	ctx, cancel := context.WithTimeout(context.Background(), 2*e2eTimeout)
	cmd := exec.CommandContext(ctx, "kcat", "-b", strings.Join(bootstrap, ","), "-P", "-t", topic, "-p", strconv.Itoa(int(partition)),
		"-X", "enable.idempotence=true", "-X", "acks=all", "-X", "message.timeout.ms=60000")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		defer cancel()
		for i := range kcatRecords {
			if _, err := fmt.Fprintln(stdin, kcatValue(prefix, i)); err != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		stdin.Close()
		// librdkafka logs the killed broker's refused connections as errors: only the exit
		// code and what reads back count.
		if err := cmd.Wait(); err != nil {
			err = fmt.Errorf("kcat -P: %v (context: %v)\n%s", err, ctx.Err(), &out)
		}
		done <- err
	}()
	return done
}

// brokerListed reports whether the broker at addr lists broker id in Metadata (registered and
// unfenced).
func brokerListed(ctx context.Context, addr string, id int32) bool {
	raw, err := kafkaRequest(ctx, addr, kmsg.NewPtrMetadataRequest())
	if err != nil {
		return false
	}
	return slices.ContainsFunc(raw.(*kmsg.MetadataResponse).Brokers, func(b kmsg.MetadataResponseBroker) bool { return b.NodeID == id })
}

// waitKcat waits for a kcat run started by startKcatProducer (false: none ran) and logs how
// long after the kill at killedAt its last record was delivered.
func waitKcat(t *testing.T, done <-chan error, killedAt time.Time, what string) bool {
	t.Helper()
	if done == nil {
		return false
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("kcat's %d idempotent acks=all records across %s all delivered within %v of it", kcatRecords, what, time.Since(killedAt).Round(time.Millisecond))
	return true
}
