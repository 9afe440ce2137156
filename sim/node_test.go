package sim

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/errorfs"
	"github.com/weirdata/weir/diskio/memfs"
)

// newTestNode starts node 1 on a fresh world and network.
func newTestNode(t testing.TB, seed uint64) (*World, *Network, *Node) {
	t.Helper()
	w := NewWorld(seed)
	network := NewNetwork(w, DefaultNetworkConfig())
	n, err := NewNode(w, network, DefaultNodeConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	// Let the start complete: the metadata bootstrap, the registration and unfencing.
	if !w.RunUntilTrue(n.Serving, w.NowNs()+waitNs) {
		t.Fatal("the node does not serve after its start")
	}
	return w, network, n
}

// TestNodeServes: a raw client speaks to a simulated node through real bytes: ApiVersions,
// CreateTopics, two acks=-1 produces, and fetches returning exactly the batches produced at
// the offsets the produces were given.
func TestNodeServes(t *testing.T) {
	w, network, n := newTestNode(t, 1)
	c := dialClient(t, w, network, "client1", n.Addr())

	versions := c.call(3, apiVersionsRequest()).(*kmsg.ApiVersionsResponse)
	if versions.ErrorCode != 0 || len(versions.ApiKeys) == 0 {
		t.Fatalf("ApiVersions: error %d, %d keys", versions.ErrorCode, len(versions.ApiKeys))
	}
	// A too-new ApiVersions is answered (KIP-511), not a reason to close.
	tooNew := c.call(99, apiVersionsRequest()).(*kmsg.ApiVersionsResponse)
	if tooNew.ErrorCode != 35 {
		t.Fatalf("ApiVersions v99: error %d, want UNSUPPORTED_VERSION", tooNew.ErrorCode)
	}

	c.createTopic("orders", 1)
	first, second := testBatch(t, "a", 3), testBatch(t, "b", 2)
	if got := c.produce("orders", first); got != 0 {
		t.Fatalf("first produce at offset %d, want 0", got)
	}
	if got := c.produce("orders", second); got != 3 {
		t.Fatalf("second produce at offset %d, want 3", got)
	}

	batches, hw := c.fetch("orders", 0)
	if hw != 5 {
		t.Fatalf("high watermark %d, want 5", hw)
	}
	if len(batches) != len(first)+len(second) {
		t.Fatalf("fetched %d bytes, want %d", len(batches), len(first)+len(second))
	}
	sameBatch(t, batches[:len(first)], first, 0)
	sameBatch(t, batches[len(first):], second, 3)
	batches, _ = c.fetch("orders", 3)
	sameBatch(t, batches, second, 3)
	if batches, _ = c.fetch("orders", 5); len(batches) != 0 {
		t.Fatalf("fetch at the end returned %d bytes", len(batches))
	}
	if s := n.Stats(); s.SyncsRun == 0 || s.Responses < 8 || s.PlanCuts != 0 {
		t.Fatalf("node stats %+v", s)
	}
}

// TestNodeDecodeErrorCloses: a frame that does not decode closes the connection, as netio
// closes it, and the node keeps serving others.
func TestNodeDecodeErrorCloses(t *testing.T) {
	w, network, n := newTestNode(t, 2)
	c := dialClient(t, w, network, "client1", n.Addr())
	if err := c.conn.Send([]byte{0, 0, 0, 12, 0x7f, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if !w.RunUntilTrue(func() bool { return c.closed }, w.NowNs()+waitNs) {
		t.Fatal("a bad frame did not close the connection")
	}
	if c.closeErr != nil {
		t.Fatalf("closed with %v, want a clean close", c.closeErr)
	}
	other := dialClient(t, w, network, "client2", n.Addr())
	if resp := other.call(3, apiVersionsRequest()).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("ApiVersions after another connection failed: %d", resp.ErrorCode)
	}
}

// TestNodeCrashAfterAck: a record acknowledged with acks=-1 survives a power loss of any
// seeded outcome; the restarted node serves it at the same offset.
func TestNodeCrashAfterAck(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		w, network, n := newTestNode(t, seed)
		c := dialClient(t, w, network, "client1", n.Addr())
		c.createTopic("orders", 1)
		batch := testBatch(t, "acked", 4)
		if got := c.produce("orders", batch); got != 0 {
			t.Fatalf("seed %d: produce at %d", seed, got)
		}
		n.Crash()
		w.RunFor(10 * msNs)
		if !c.closed || c.closeErr == nil {
			t.Fatalf("seed %d: the client's connection was not reset by the crash (closed %v, %v)", seed, c.closed, c.closeErr)
		}
		if err := n.Restart(); err != nil {
			t.Fatalf("seed %d: restart: %v", seed, err)
		}
		w.RunFor(100 * msNs)
		c = dialClient(t, w, network, "client1", n.Addr())
		batches, hw := c.fetch("orders", 0)
		if hw != 4 {
			t.Fatalf("seed %d: high watermark %d after restart, want 4", seed, hw)
		}
		sameBatch(t, batches, batch, 0)
	}
}

// TestNodeCrashLosesOnlyUnacked: a produce whose sync has not completed when the power fails
// is never acknowledged; after restart the acknowledged batch is intact at its offset and the
// unacknowledged one is either gone or whole right after it — nothing else.
func TestNodeCrashLosesOnlyUnacked(t *testing.T) {
	kept, lost := 0, 0
	for seed := uint64(1); seed <= 12; seed++ {
		w, network, n := newTestNode(t, seed)
		c := dialClient(t, w, network, "client1", n.Addr())
		c.createTopic("orders", 1)
		acked, unacked := testBatch(t, "acked", 2), testBatch(t, "unacked", 3)
		c.produce("orders", acked)
		corr := c.send(9, produceRequest("orders", unacked))
		// Crash while the unacknowledged batch's sync is in flight.
		if !w.RunUntilTrue(func() bool { return n.Outstanding() > 0 }, w.NowNs()+waitNs) {
			t.Fatalf("seed %d: the produce never started a sync", seed)
		}
		n.Crash()
		if _, ok := c.tryWait(corr); ok {
			t.Fatalf("seed %d: the produce was acknowledged though its sync never completed", seed)
		}
		if err := n.Restart(); err != nil {
			t.Fatalf("seed %d: restart: %v", seed, err)
		}
		w.RunFor(100 * msNs)
		c = dialClient(t, w, network, "client1", n.Addr())
		batches, hw := c.fetch("orders", 0)
		switch hw {
		case 2:
			lost++
			sameBatch(t, batches, acked, 0)
		case 5:
			kept++
			sameBatch(t, batches[:len(acked)], acked, 0)
			sameBatch(t, batches[len(acked):], unacked, 2)
		default:
			t.Fatalf("seed %d: high watermark %d after restart, want 2 or 5", seed, hw)
		}
	}
	t.Logf("unacknowledged batch kept in %d seeds, lost in %d", kept, lost)
}

// TestNodeCrashBetweenEffects: the crash lands inside the Ready that carries the produce's
// response, before the response is written: the client never learns the outcome, yet the
// batch was synced and is served after restart — an operation whose outcome is unknown.
func TestNodeCrashBetweenEffects(t *testing.T) {
	w, network, n := newTestNode(t, 3)
	c := dialClient(t, w, network, "client1", n.Addr())
	c.createTopic("orders", 1)
	batch := testBatch(t, "unknown", 2)
	corr := c.send(9, produceRequest("orders", batch))
	if !w.RunUntilTrue(func() bool { return n.Outstanding() > 0 }, w.NowNs()+waitNs) {
		t.Fatal("the produce never started a sync")
	}
	n.ArmCrash(0) // before the next effect: the produce's response, in the sync completion's Ready
	if _, ok := c.tryWait(corr); ok {
		t.Fatal("the produce was answered though the node crashed before writing the response")
	}
	if n.Up() || n.Stats().Crashes != 1 || n.Stats().SyncsRun == 0 {
		t.Fatalf("node up %v, stats %+v", n.Up(), n.Stats())
	}
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	w.RunFor(100 * msNs)
	c = dialClient(t, w, network, "client1", n.Addr())
	batches, hw := c.fetch("orders", 0)
	if hw != 2 {
		t.Fatalf("high watermark %d, want 2: the synced batch is durable", hw)
	}
	sameBatch(t, batches, batch, 0)
}

// TestNodeWorstCaseCrashBeforeSync: a crash armed before the produce's sync starts, with every
// unsynced byte lost, leaves an empty partition and no acknowledgement.
func TestNodeWorstCaseCrashBeforeSync(t *testing.T) {
	w, network, n := newTestNode(t, 4)
	c := dialClient(t, w, network, "client1", n.Addr())
	c.createTopic("orders", 1)
	n.ArmCrash(0)
	corr := c.send(9, produceRequest("orders", testBatch(t, "lost", 1)))
	if _, ok := c.tryWait(corr); ok || n.Up() {
		t.Fatalf("answered %v, node up %v", ok, n.Up())
	}
	// Crash again from the same disk, this time losing every unsynced byte, to pin the
	// worst case (the first crash was seeded).
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	n.CrashWith(memfs.CrashLoseUnsynced)
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	w.RunFor(100 * msNs)
	c = dialClient(t, w, network, "client1", n.Addr())
	batches, hw := c.fetch("orders", 0)
	if hw > 1 || (hw == 0) != (len(batches) == 0) {
		t.Fatalf("high watermark %d with %d bytes", hw, len(batches))
	}
	if hw == 1 {
		if h, err := record.ParseHeader(batches); err != nil || h.BaseOffset != 0 || !bytes.Contains(batches, []byte("lost-0")) {
			t.Fatalf("the batch kept by the seeded crash is not whole: %v", err)
		}
	}
}

// scenario is a short run that touches every part: requests, syncs, network delays and
// splits, a reset, a partition that heals, a crash and a restart. It returns the trace hash.
func scenario(t testing.TB, seed uint64) string {
	t.Helper()
	w, network, n := newTestNode(t, seed)
	c := dialClient(t, w, network, "client1", n.Addr())
	c.createTopic("orders", 1)
	for i := range 3 {
		c.produce("orders", testBatch(t, string(rune('a'+i)), 1+i))
	}
	network.Partition([]string{"client1"}, []string{n.Host()})
	corr := c.send(12, kmsg.NewPtrFetchRequest())
	w.RunFor(50 * msNs)
	network.HealAll()
	c.tryWait(corr)
	network.Reset(c.conn)
	w.RunFor(10 * msNs)
	c = dialClient(t, w, network, "client2", n.Addr())
	c.send(9, produceRequest("orders", testBatch(t, "x", 2)))
	w.RunFor(2 * msNs)
	n.Crash()
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	w.RunFor(100 * msNs)
	c = dialClient(t, w, network, "client3", n.Addr())
	c.fetch("orders", 0)
	w.RunFor(secondNs)
	return w.TraceHash()
}

// TestTraceDeterminism: the same seed gives the same trace hash; another seed another.
func TestTraceDeterminism(t *testing.T) {
	first, again, other := scenario(t, 42), scenario(t, 42), scenario(t, 43)
	if first != again {
		t.Fatalf("seed 42 ran twice gave trace hashes %s and %s", first, again)
	}
	if first == other {
		t.Fatalf("seeds 42 and 43 gave the same trace hash %s", first)
	}
}

// TestNodeSyncFailureCrashes: a failed fsync is fatal (the Node's Fatal): the node crashes
// without acknowledging the produce, and restarts with the acknowledged data intact.
func TestNodeSyncFailureCrashes(t *testing.T) {
	w := NewWorld(5)
	network := NewNetwork(w, DefaultNetworkConfig())
	failSyncs := errorfs.NewToggle(errorfs.OnKinds(errorfs.OpSyncData))
	cfg := DefaultNodeConfig(1)
	cfg.Injector = failSyncs
	n, err := NewNode(w, network, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.RunFor(100 * msNs)
	c := dialClient(t, w, network, "client1", n.Addr())
	c.createTopic("orders", 1)
	acked := testBatch(t, "acked", 1)
	c.produce("orders", acked)

	failSyncs.On()
	corr := c.send(9, produceRequest("orders", testBatch(t, "failed", 1)))
	if resp, ok := c.tryWait(corr); ok {
		if code := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code == 0 {
			t.Fatal("a produce whose sync failed was acknowledged")
		}
	}
	if n.Up() || !errors.Is(n.LastFatal(), diskio.ErrInjected) || n.Stats().SyncErrors == 0 {
		t.Fatalf("up %v, fatal %v, stats %+v", n.Up(), n.LastFatal(), n.Stats())
	}
	failSyncs.Off()
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	w.RunFor(100 * msNs)
	c = dialClient(t, w, network, "client1", n.Addr())
	batches, hw := c.fetch("orders", 0)
	if hw < 1 {
		t.Fatalf("high watermark %d: the acknowledged batch is gone", hw)
	}
	sameBatch(t, batches[:len(acked)], acked, 0)
}

// TestNodeIdleTimeout: a connection silent for connections.max.idle.ms is closed by the node,
// as netio closes it; one that keeps talking stays open.
func TestNodeIdleTimeout(t *testing.T) {
	w, network, n := newTestNode(t, 6)
	idle := dialClient(t, w, network, "client1", n.Addr())
	busy := dialClient(t, w, network, "client2", n.Addr())
	idleNs := DefaultNodeConfig(1).IdleTimeoutNs
	for range 4 {
		w.RunFor(idleNs / 3)
		busy.call(3, apiVersionsRequest())
	}
	if !idle.closed || idle.closeErr != nil || busy.closed {
		t.Fatalf("idle closed %v (%v), busy closed %v", idle.closed, idle.closeErr, busy.closed)
	}
}

// TestNodeRandomCrashPoints: with small segments (rolls, multi-segment read plans) and
// pipelined produces, a crash at a seeded point between two effects of a Ready, then
// recovery: every acknowledged batch is served at its offset, byte for byte, and anything
// else served is a whole batch that was sent.
func TestNodeRandomCrashPoints(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		w := NewWorld(seed)
		network := NewNetwork(w, DefaultNetworkConfig())
		cfg := DefaultNodeConfig(1)
		cfg.Adjust = func(b *config.BrokerConfig) { b.LogSegmentBytes = 300 }
		n, err := NewNode(w, network, cfg)
		if err != nil {
			t.Fatal(err)
		}
		w.RunFor(100 * msNs)
		c := dialClient(t, w, network, "client1", n.Addr())
		c.createTopic("orders", 1)
		acked := map[int64][]byte{} // base offset → batch; lookup only
		var sent [][]byte
		crashAfterBursts := 1 + w.Rand("test").IntN(4)
		for burst := 0; n.Up(); burst++ {
			if burst == crashAfterBursts {
				n.ArmCrashRandom(12)
			}
			corrs := map[int32][]byte{}
			var order []int32
			for i := range 3 {
				batch := testBatch(t, fmt.Sprintf("s%d-b%d-%d", seed, burst, i), 1+i)
				sent = append(sent, batch)
				corr := c.send(9, produceRequest("orders", batch))
				corrs[corr] = batch
				order = append(order, corr)
			}
			for _, corr := range order {
				resp, ok := c.tryWait(corr)
				if !ok {
					break
				}
				p := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
				if p.ErrorCode != 0 {
					t.Fatalf("seed %d: produce error %d", seed, p.ErrorCode)
				}
				acked[p.BaseOffset] = corrs[corr]
			}
			if burst > 20 {
				t.Fatalf("seed %d: the armed crash never happened", seed)
			}
		}
		if err := n.Restart(); err != nil {
			t.Fatalf("seed %d: restart: %v", seed, err)
		}
		w.RunFor(100 * msNs)
		c = dialClient(t, w, network, "client1", n.Addr())
		batches, hw := c.fetch("orders", 0)
		found := 0
		for rest := batches; len(rest) > 0; {
			h, batch, after, err := record.NextBatch(rest)
			if err != nil {
				t.Fatalf("seed %d: served batch: %v", seed, err)
			}
			if want, ok := acked[int64(h.BaseOffset)]; ok {
				sameBatch(t, batch, want, int64(h.BaseOffset))
				found++
			} else if !slices.ContainsFunc(sent, func(s []byte) bool { return bytes.Equal(s[16:], batch[16:]) }) {
				t.Fatalf("seed %d: served a batch at %d that was never sent", seed, h.BaseOffset)
			}
			rest = after
		}
		if found != len(acked) {
			t.Fatalf("seed %d: %d of %d acknowledged batches served (high watermark %d)", seed, found, len(acked), hw)
		}
	}
}

// TestNodeHousekeeping: over minutes of virtual time the node's timers run retention (segment
// deletions as file ops on the background worker) and write offset checkpoints; a restart
// after a crash finds a consistent log starting past the deleted segments.
func TestNodeHousekeeping(t *testing.T) {
	w := NewWorld(9)
	network := NewNetwork(w, DefaultNetworkConfig())
	cfg := DefaultNodeConfig(1)
	cfg.Adjust = func(b *config.BrokerConfig) {
		b.LogSegmentBytes = 300
		b.LogRetentionMs = 10_000
		b.LogRetentionCheckIntervalMs = 5_000
		b.LogSegmentDeleteDelayMs = 1_000
	}
	n, err := NewNode(w, network, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.RunFor(100 * msNs)
	c := dialClient(t, w, network, "client1", n.Addr())
	c.createTopic("orders", 1)
	for i := range 10 {
		c.produce("orders", testBatch(t, fmt.Sprintf("old-%d", i), 2))
	}
	w.RunFor(90 * secondNs)
	recent := testBatch(t, "recent", 1)
	end := c.produce("orders", recent)
	s := n.Stats()
	if s.FileOps == 0 || s.CheckpointWrites == 0 || s.CheckpointErrors != 0 {
		t.Fatalf("no retention deletions or checkpoints: %+v", s)
	}
	n.Crash()
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	w.RunFor(100 * msNs)
	c = dialClient(t, w, network, "client1", n.Addr())
	batches, hw := c.fetch("orders", end)
	if hw != end+1 {
		t.Fatalf("high watermark %d, want %d", hw, end+1)
	}
	sameBatch(t, batches, recent, end)
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "orders"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = 0, -2, -1 // earliest
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	earliest := c.call(7, req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	if earliest.ErrorCode != 0 || earliest.Offset == 0 || earliest.Offset > end {
		t.Fatalf("log start offset %d (error %d): retention deleted nothing, or too much", earliest.Offset, earliest.ErrorCode)
	}
}
