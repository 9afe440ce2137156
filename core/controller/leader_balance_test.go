package controller

import (
	"math"
	"testing"

	"github.com/weirdata/weir/core/config"

	"github.com/weirdata/weir/core/metadata"
)

// TestLeaderBalance: one check interval after activation, Tick elects the preferred replica of
// every partition led by another broker where the preferred one is in the ISR and active, and
// schedules the next pass an interval later.
func TestLeaderBalance(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	topic := h.createTopic("t", 1, []int32{2, 1}, []int32{3, 1}, []int32{1, 2})
	h.change("t", 0, func(r *metadata.PartitionChangeRecord) { r.Leader = 1 })
	h.change("t", 1, func(r *metadata.PartitionChangeRecord) { r.Leader, r.ISR = 1, []int32{1} })
	intervalMs := h.c.cfg.Broker.LeaderImbalanceCheckIntervalSeconds * 1000
	h.c.Activate(h.img, h.nowMs)
	start := h.nowMs
	keepAlive := func() {
		for _, id := range []int32{1, 2, 3} {
			h.heartbeat(id, h.caughtUp(), false, false)
		}
	}
	for h.nowMs+3000 < start+intervalMs {
		h.nowMs += 3000
		keepAlive()
		// Broker 5, in controlled shutdown, does not heartbeat: it is fenced, nothing else.
		for _, r := range h.tick() {
			if r.Type() == pcrType {
				t.Fatalf("at %d ms, before the interval: %+v", h.nowMs-start, r)
			}
		}
	}
	_, deadline := h.c.Tick(h.img, h.nowMs)
	if deadline > start+intervalMs {
		t.Fatalf("deadline %d, want at most %d", deadline, start+intervalMs)
	}
	h.nowMs = start + intervalMs
	keepAlive()
	records := h.tick()
	if !sameTypes(records, pcrType) {
		t.Fatalf("balance pass: %v", recordTypes(records))
	}
	if p := h.partition(topic, 0); p.Leader != 2 {
		t.Fatalf("partition 0 %+v", p)
	}
	if p := h.partition(topic, 1); p.Leader != 1 {
		t.Fatalf("partition 1 (preferred out of the ISR) %+v", p)
	}
	if h.c.balance.deadline() != h.nowMs+intervalMs {
		t.Fatalf("next pass at %d, want %d", h.c.balance.deadline(), h.nowMs+intervalMs)
	}
	if records := h.tick(); len(records) != 0 {
		t.Fatalf("a pass right after: %v", recordTypes(records))
	}
}

// TestLeaderBalanceDisabled: auto.leader.rebalance.enable=false never elects.
func TestLeaderBalanceDisabled(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	h.c.balance = newLeaderBalance(false, 300)
	h.createTopic("t", 1, []int32{2, 1})
	h.change("t", 0, func(r *metadata.PartitionChangeRecord) { r.Leader = 1 })
	h.c.Activate(h.img, h.nowMs)
	h.nowMs += 10 * 300_000
	h.c.Activate(h.img, h.nowMs) // fresh leases
	if records := h.tick(); len(records) != 0 {
		t.Fatalf("disabled: %v", recordTypes(records))
	}
	if _, deadline := h.c.Tick(h.img, h.nowMs); deadline > h.nowMs+int64(h.c.cfg.Broker.BrokerSessionTimeoutMs)+1 {
		t.Fatalf("deadline %d", deadline)
	}
}

// TestLeaderBalanceBounded: at most balanceElectionsMax elections a pass; the rest follow in
// the next pass, due at once.
func TestLeaderBalanceBounded(t *testing.T) {
	h := replicationHarness(t, metadata.MetadataVersionDefault)
	var assignment [][]int32
	for range balanceElectionsMax + 5 {
		assignment = append(assignment, []int32{2, 1})
	}
	topic := h.createTopic("t", 1, assignment...)
	var moves []metadata.Record
	for p := range assignment {
		r := metadata.NewPartitionChangeRecord(topic, int32(p))
		r.Leader = 1
		moves = append(moves, r)
	}
	h.append(moves)
	h.c.Activate(h.img, h.nowMs) // every lease fresh
	h.c.balance.nextMs = h.nowMs // the pass due now
	records, deadline := h.c.Tick(h.img, h.nowMs)
	h.append(records)
	if len(records) != balanceElectionsMax || deadline != h.nowMs+1 {
		t.Fatalf("%d records, deadline %d (now %d)", len(records), deadline, h.nowMs)
	}
	h.nowMs++
	if records := h.tick(); len(records) != 5 {
		t.Fatalf("second pass: %d records", len(records))
	}
	for p := range assignment {
		if h.partition(topic, int32(p)).Leader != 2 {
			t.Fatalf("partition %d not balanced", p)
		}
	}
}

// TestConfigLeaderImbalanceInterval: with auto.leader.rebalance.enable the check interval must
// be positive and representable in ms.
func TestConfigLeaderImbalanceInterval(t *testing.T) {
	cfg := Config{NodeID: 1, Broker: config.DefaultBrokerConfig()}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, seconds := range []int64{0, -1, math.MaxInt64 / 100} {
		cfg.Broker.LeaderImbalanceCheckIntervalSeconds = seconds
		if err := cfg.Validate(); err == nil {
			t.Fatalf("interval %d s validated", seconds)
		}
	}
	cfg.Broker.AutoLeaderRebalanceEnable = false
	if err := cfg.Validate(); err != nil {
		t.Fatalf("disabled: %v", err)
	}
}
