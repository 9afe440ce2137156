package sim

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/wire"
)

func TestParseFaults(t *testing.T) {
	for _, tc := range []struct {
		list string
		want FaultClass
	}{
		{"none", FaultsNone},
		{"", FaultsNone},
		{"all", FaultsAll},
		{"net, crash", FaultNet | FaultCrash},
		{"disk,corrupt,full,slowsync,clog,pause,clock", FaultDisk | FaultCorrupt | FaultFull | FaultSlowSync | FaultClog | FaultPause | FaultClock},
	} {
		got, err := ParseFaults(tc.list)
		if err != nil || got != tc.want {
			t.Fatalf("ParseFaults(%q) = %v, %v; want %v", tc.list, got, err, tc.want)
		}
		if again, err := ParseFaults(got.String()); err != nil || again != got {
			t.Fatalf("%v does not round-trip: %v, %v", got, again, err)
		}
	}
	if _, err := ParseFaults("net,bogus"); err == nil {
		t.Fatal("an unknown class parsed")
	}
	// Without an override, classes are drawn per seed: some seeds enable some, not all alike.
	seen := map[FaultClass]bool{}
	for seed := uint64(1); seed <= 20; seed++ {
		seen[NewFaultPlan(NewWorld(seed), DefaultFaultConfig(0, 1e9)).Classes()] = true
	}
	if len(seen) < 5 {
		t.Fatalf("20 seeds drew only %d different sets of classes", len(seen))
	}
}

// trySend is rawClient.send that reports a closed connection instead of failing the test.
func (c *rawClient) trySend(version int16, req kmsg.Request) (int32, bool) {
	c.corr++
	client := "sim-test"
	frame := wire.AppendRequest(nil, wire.RequestHeader{APIKey: req.Key(), APIVersion: version, CorrelationID: c.corr, ClientID: &client}, req)
	c.sent[c.corr] = sentRequest{req.Key(), version}
	if c.closed || c.conn.Send(frame) != nil {
		return 0, false
	}
	return c.corr, true
}

// redial connects from host to addr, retrying through partitions and restarts until limitNs.
func redial(t *testing.T, w *World, network *Network, host, addr string, limitNs int64) *rawClient {
	t.Helper()
	for w.NowNs() < limitNs {
		c := &rawClient{t: t, w: w, fr: wire.NewResponseFrameReader(wire.DefaultRequestBytesMax),
			sent: map[int32]sentRequest{}, responses: map[int32]kmsg.Response{}}
		c.conn = network.Dial(host, addr, c)
		w.RunUntilTrue(func() bool { return c.connected || c.closed }, limitNs)
		if c.connected && !c.closed {
			return c
		}
		w.RunFor(100 * msNs)
	}
	return nil
}

// tryFetch is rawClient.fetch returning the partition's error code instead of failing on it;
// it asks for one byte, so the answer is the first batch at offset alone (KIP-74).
func (c *rawClient) tryFetch(topic string, offset int64) ([]byte, int16) {
	c.t.Helper()
	resp := c.call(12, fetchRequest(topic, offset, 0, 1, 1)).(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		c.t.Fatalf("fetch: %+v", resp)
	}
	p := resp.Topics[0].Partitions[0]
	return p.RecordBatches, p.ErrorCode
}

// ackedBatch is a batch the broker acknowledged, at base, for a produce invoked at invokeNs.
type ackedBatch struct {
	base     int64
	batch    []byte
	invokeNs int64
}

// faultRun is one node under classes' faults over [100ms, healAtNs), with a raw client
// producing acks=-1 batches throughout; after the heal it waits for the plan to settle, then
// checks that every acknowledged batch is served at its offset byte for byte — unless the
// plan's damage map excuses it — and that nothing served is damaged. It returns the trace
// hash, the plan and the acknowledged batches.
func faultRun(t *testing.T, seed uint64, classes FaultClass, healAtNs int64) (string, *FaultPlan, []ackedBatch) {
	t.Helper()
	w := NewWorld(seed)
	network := NewNetwork(w, DefaultNetworkConfig())
	fc := DefaultFaultConfig(100*msNs, healAtNs)
	fc.Classes, fc.Override, fc.GapNsMean = classes, true, 300*msNs
	plan := NewFaultPlan(w, fc)
	cfg := DefaultNodeConfig(1)
	cfg.Adjust = func(b *config.BrokerConfig) { b.LogSegmentBytes = 8192 }
	plan.ConfigureNode(&cfg)
	n, err := NewNode(w, network, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.RunFor(50 * msNs)
	c := dialClient(t, w, network, "client1", n.Addr())
	c.createTopic("orders", 1)
	plan.Start(network, []*Node{n}, []string{"client1"})

	var acked []ackedBatch
	var sent [][]byte
	for i := 0; w.NowNs() < healAtNs; i++ {
		if c == nil || c.closed {
			if c = redial(t, w, network, "client1", n.Addr(), healAtNs); c == nil {
				break
			}
		}
		batch := testBatch(t, fmt.Sprintf("s%d-%d", seed, i), 1+i%3)
		sent = append(sent, batch)
		invokeNs := w.NowNs()
		corr, ok := c.trySend(9, produceRequest("orders", batch))
		if !ok {
			continue
		}
		resp, ok := c.tryWait(corr)
		if !ok {
			continue
		}
		if p := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]; p.ErrorCode == 0 {
			acked = append(acked, ackedBatch{base: p.BaseOffset, batch: batch, invokeNs: invokeNs})
		}
	}
	w.RunUntil(healAtNs)
	if !plan.Healed() {
		t.Fatal("the plan did not heal at its time")
	}
	if !w.RunUntilTrue(func() bool { ok, _ := plan.Settled(); return ok }, w.NowNs()+30*secondNs) {
		_, why := plan.Settled()
		t.Fatalf("seed %d (%s): not settled after the heal: %s (last fatal %v)", seed, classes, why, n.LastFatal())
	}
	excused, err := plan.Excused()
	if err != nil {
		t.Fatal(err)
	}
	c = redial(t, w, network, "client1", n.Addr(), w.NowNs()+30*secondNs)
	if c == nil {
		t.Fatalf("seed %d (%s): cannot connect after the heal", seed, classes)
	}
	for _, a := range acked {
		isExcused := slices.ContainsFunc(excused, func(r ExcusedRange) bool { return r.Covers("orders", 0, a.base, a.invokeNs) })
		batches, code := c.tryFetch("orders", a.base)
		for retries := 0; (code == 3 || (code == 0 && len(batches) == 0)) && !isExcused && retries < 100; retries++ {
			// A node just restarted serves its metadata (UNKNOWN_TOPIC_OR_PARTITION until
			// then) and its recovered tail (above the high watermark until then) once the
			// start's syncs complete, which a slow-sync window may have made slow; clients
			// fetch again.
			w.RunFor(100 * msNs)
			batches, code = c.tryFetch("orders", a.base)
		}
		if code != 0 && !isExcused {
			t.Fatalf("seed %d (%s): fetch of acknowledged batch at %d: error %d (excused: %v; stats %s)", seed, classes, a.base, code, excused, plan.Stats())
		}
		// Whatever is served is whole, valid and was sent: never a damaged batch.
		for rest := batches; len(rest) > 0; {
			h, b, next, err := record.NextBatch(rest)
			if err != nil {
				t.Fatalf("seed %d (%s): served a bad batch at %d: %v", seed, classes, a.base, err)
			}
			if !slices.ContainsFunc(sent, func(s []byte) bool { return bytes.Equal(s[16:], b[16:]) }) {
				t.Fatalf("seed %d (%s): served a batch at %d that was never sent", seed, classes, h.BaseOffset)
			}
			rest = next
		}
		if isExcused {
			continue
		}
		if len(batches) == 0 {
			t.Fatalf("seed %d (%s): acknowledged batch at %d lost (excused: %v; damage %v; stats %s)", seed, classes, a.base, excused, plan.Damage(1).Damages(), plan.Stats())
		}
		h, first, _, _ := record.NextBatch(batches)
		if int64(h.BaseOffset) != a.base {
			t.Fatalf("seed %d (%s): fetch at %d starts at %d", seed, classes, a.base, h.BaseOffset)
		}
		sameBatch(t, first, a.batch, a.base)
	}
	return w.TraceHash(), plan, acked
}

// TestFaultClassesAlone: each class on its own over a single node: acknowledged batches survive
// (except exactly what the damage map excuses), nothing damaged is served, and the node is
// up and answering after the heal.
func TestFaultClassesAlone(t *testing.T) {
	for _, fc := range faultClasses {
		t.Run(fc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 4; seed++ {
				_, plan, acked := faultRun(t, seed, fc.class, 5*secondNs)
				if len(acked) == 0 {
					t.Fatalf("seed %d: nothing was acknowledged", seed)
				}
				t.Logf("seed %d: %d acknowledged; %s", seed, len(acked), plan.Stats())
			}
		})
	}
}

// TestFaultsAll: every class at once holds the same promises, and the same seed gives the
// same trace hash (each seed runs twice); different seeds differ.
func TestFaultsAll(t *testing.T) {
	hashes := map[string]uint64{}
	for seed := uint64(1); seed <= 8; seed++ {
		first, plan, _ := faultRun(t, seed, FaultsAll, 6*secondNs)
		again, _, _ := faultRun(t, seed, FaultsAll, 6*secondNs)
		if first != again {
			t.Fatalf("seed %d with all faults gave trace hashes %s and %s", seed, first, again)
		}
		if other, ok := hashes[first]; ok {
			t.Fatalf("seeds %d and %d gave the same trace", other, seed)
		}
		hashes[first] = seed
		t.Logf("seed %d: %s", seed, plan.Stats())
	}
}

// TestPauseDefersEverything: a paused node answers nothing until it resumes, then answers
// what arrived meanwhile; its timers fire late.
func TestPauseDefersEverything(t *testing.T) {
	w, network, n := newTestNode(t, 31)
	c := dialClient(t, w, network, "client1", n.Addr())
	c.createTopic("orders", 1)
	n.Pause(2 * secondNs)
	start := w.NowNs()
	corr := c.send(9, produceRequest("orders", testBatch(t, "paused", 1)))
	w.RunFor(1900 * msNs)
	if _, ok := c.responses[corr]; ok || !n.Paused() {
		t.Fatalf("a paused node answered (paused %v)", n.Paused())
	}
	resp := c.wait(corr).(*kmsg.ProduceResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("produce after the pause: error %d", code)
	}
	if w.NowNs()-start < 2*secondNs || n.Paused() || n.Stats().Deferred == 0 {
		t.Fatalf("answered after %dms, paused %v, stats %+v", (w.NowNs()-start)/1e6, n.Paused(), n.Stats())
	}
	// A long poll whose deadline falls inside a pause is answered when the pause ends.
	corr = c.send(12, fetchRequest("orders", 1, 200, 1<<20, 1<<20))
	w.RunFor(20 * msNs)
	n.Pause(secondNs)
	start = w.NowNs()
	c.wait(corr)
	if waited := w.NowNs() - start; waited < secondNs {
		t.Fatalf("the long poll was answered %dms into a 1 s pause", waited/1e6)
	}
}

// TestClockJumpsKeepDeadlines: wall-clock jumps, backwards and forwards, do not move the
// deadlines, which run on the monotonic clock: a 500 ms long poll is answered after 500 ms.
func TestClockJumpsKeepDeadlines(t *testing.T) {
	for _, jumpMs := range []int64{-3_600_000, 3_600_000} {
		w, network, n := newTestNode(t, 41)
		c := dialClient(t, w, network, "client1", n.Addr())
		c.createTopic("orders", 1)
		c.produce("orders", testBatch(t, "x", 1))
		start := w.NowNs()
		corr := c.send(12, fetchRequest("orders", 0, 500, 1<<20, 1<<20))
		w.RunFor(100 * msNs)
		n.Clock().Jump(jumpMs)
		n.Clock().SetDriftPpm(-500)
		if n.Clock().NowMs() < 1_700_000_000_000+jumpMs {
			t.Fatalf("jump %dms: the wall clock reads %d", jumpMs, n.Clock().NowMs())
		}
		c.wait(corr)
		if waited := w.NowNs() - start; waited < 500*msNs || waited > 600*msNs {
			t.Fatalf("jump %dms: the 500 ms long poll was answered after %dms", jumpMs, waited/1e6)
		}
		// The node keeps serving after the jump.
		if base := c.produce("orders", testBatch(t, "y", 1)); base != 1 {
			t.Fatalf("jump %dms: produce at %d", jumpMs, base)
		}
	}
}

// TestSlowSyncAndFullDisk: a 100× sync slowdown delays acknowledgements by as much; a full
// disk refuses a produce (an error, or a crash whose restart waits for space) and, once space
// is back, the node serves every acknowledged batch and takes new ones.
func TestSlowSyncAndFullDisk(t *testing.T) {
	w, network, n := newTestNode(t, 51)
	c := dialClient(t, w, network, "client1", n.Addr())
	c.createTopic("orders", 1)
	first := testBatch(t, "first", 2)
	c.produce("orders", first)

	n.SetSyncSlowdown(100)
	start := w.NowNs()
	c.produce("orders", testBatch(t, "slow", 1))
	if took := w.NowNs() - start; took < 100*DefaultNodeConfig(1).SyncNsMin {
		t.Fatalf("a produce with 100x slower syncs took %dms", took/1e6)
	}
	n.SetSyncSlowdown(1)

	n.SetDiskCapacityBytes(n.Disk().UsedBytes())
	corr, ok := c.trySend(9, produceRequest("orders", testBatch(t, "no-space", 50)))
	if ok {
		if resp, answered := c.tryWait(corr); answered && resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode == 0 {
			t.Fatal("a produce to a full disk was acknowledged")
		}
	}
	t.Logf("full disk: node up %v, last fatal %v", n.Up(), n.LastFatal())
	n.RestoreDiskCapacity()
	if !n.Up() {
		if err := n.Restart(); err != nil {
			t.Fatalf("restart after the disk emptied: %v", err)
		}
		w.RunFor(100 * msNs)
	}
	c = redial(t, w, network, "client1", n.Addr(), w.NowNs()+waitNs)
	batches, _ := c.fetch("orders", 0)
	sameBatch(t, batches[:len(first)], first, 0)
	if base := c.produce("orders", testBatch(t, "after", 1)); base < 3 {
		t.Fatalf("produce after the disk emptied at %d", base)
	}
}

// TestClockFaultsReachClientHosts: with client clocks added to the plan, clock faults also
// jump or re-drift them, and are counted apart from the nodes'.
func TestClockFaultsReachClientHosts(t *testing.T) {
	w := NewWorld(5)
	network := NewNetwork(w, DefaultNetworkConfig())
	fc := DefaultFaultConfig(100*msNs, 60*secondNs)
	fc.Classes, fc.Override, fc.GapNsMean = FaultClock, true, 300*msNs
	plan := NewFaultPlan(w, fc)
	cfg := DefaultNodeConfig(1)
	plan.ConfigureNode(&cfg)
	n, err := NewNode(w, network, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const baseMs = 1_700_000_000_000
	clocks := []*WallClock{w.NewWallClock(baseMs, 0), w.NewWallClock(baseMs, 0)}
	plan.AddClientClock("client1", clocks[0])
	plan.AddClientClock("client2", clocks[1])
	plan.Start(network, []*Node{n}, []string{"client1", "client2"})
	w.RunUntil(60 * secondNs)
	if s := plan.Stats(); s.ClientClockFaults == 0 || s.ClockJumps+s.DriftChanges == 0 {
		t.Fatalf("clock faults: %s", s)
	}
	moved := 0
	for _, c := range clocks {
		if c.NowMs() != baseMs+w.NowNs()/1e6 {
			moved++
		}
	}
	if moved == 0 {
		t.Fatal("no client clock reads other than the true time")
	}
}
