package sim

import (
	"fmt"
	"testing"

	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/core/client"
)

// TestClientHost: core/client on a simulated host creates a topic, produces 60 records
// idempotently in 12 batches with acks=all and fetches them back: the history holds every
// operation, acknowledged at consecutive offsets, and the fetches return exactly those
// records.
func TestClientHost(t *testing.T) {
	var history check.History
	w, h := clientWithTopic(t, 7, &history, func(cfg *client.Config) { cfg.Idempotent = true })
	var want []check.Record
	for b := range 12 {
		var records []check.Record
		for i := range 5 {
			records = append(records, check.Record{Offset: -1, Key: fmt.Sprintf("k%d", b), Value: fmt.Sprintf("c1-%d", b*5+i)})
		}
		h.Produce("t", 0, records)
		for i, r := range records {
			r.Offset = int64(len(want) + i)
			records[i] = r
		}
		want = append(want, records...)
	}
	if !w.RunUntilTrue(func() bool { return h.Pending() == 0 }, waitNs) {
		t.Fatal("produces did not complete")
	}
	var got []check.Record
	for len(got) < len(want) {
		h.Fetch("t", 0, int64(len(got)))
		if !w.RunUntilTrue(func() bool { return h.Pending() == 0 }, waitNs) {
			t.Fatal("fetch did not complete")
		}
		op := history.Ops[len(history.Ops)-1]
		if op.Kind != check.OpFetch || op.Outcome != check.OutcomeOK || len(op.Records) == 0 {
			t.Fatalf("fetch at %d: %+v", len(got), op)
		}
		got = append(got, op.Records...)
	}
	same := func(a, b check.Record) bool { return a.Offset == b.Offset && a.Key == b.Key && a.Value == b.Value }
	for i := range want {
		if !same(got[i], want[i]) {
			t.Fatalf("record %d: read %+v, produced %+v", i, got[i], want[i])
		}
	}
	produced := 0
	for _, op := range history.Ops {
		if op.Kind != check.OpProduce {
			continue
		}
		if op.Outcome != check.OutcomeOK || !op.Idempotent {
			t.Fatalf("produce %+v", op)
		}
		for _, r := range op.Records {
			if !same(r, want[produced]) || r.TimestampMs != got[produced].TimestampMs || r.TimestampMs == 0 {
				t.Fatalf("produce acknowledged %+v, want %+v read back as %+v", r, want[produced], got[produced])
			}
			produced++
		}
	}
	if produced != len(want) {
		t.Fatalf("%d records acknowledged, want %d", produced, len(want))
	}
	if report := check.Check(history, check.Options{}); !report.Valid() {
		t.Fatalf("checker: %s", report.Details())
	}
}

// TestClientHostClock: a client host's records carry its own wall clock, so a jump of that
// clock (a clock fault on the client) moves their timestamps, and the broker stores them as
// sent (CreateTime).
func TestClientHostClock(t *testing.T) {
	var history check.History
	w, h := clientWithTopic(t, 8, &history, func(cfg *client.Config) { cfg.WallClockBaseMs = 1_700_000_000_000 })
	const jumpMs = -3_600_000
	h.Clock().Jump(jumpMs)
	wantMs := 1_700_000_000_000 + w.NowNs()/1e6 + jumpMs
	h.Produce("t", 0, []check.Record{{Offset: -1, Key: "k", Value: "v"}})
	h.Fetch("t", 0, 0)
	if !w.RunUntilTrue(func() bool { return h.Pending() == 0 }, waitNs) {
		t.Fatal("produce and fetch did not complete")
	}
	for _, op := range history.Ops {
		if op.Outcome != check.OutcomeOK || len(op.Records) != 1 || op.Records[0].TimestampMs != wantMs {
			t.Fatalf("%v %v: want one record stamped %d by the jumped clock", op.Kind, op.Records, wantMs)
		}
	}
}

// clientWithTopic starts a broker and client1 on it (acks=all, adjusted by adjust), recording
// into history, and creates topic "t" with one partition.
func clientWithTopic(t *testing.T, seed uint64, history *check.History, adjust func(*client.Config)) (*World, *ClientHost) {
	t.Helper()
	w, network, node := newTestNode(t, seed)
	cfg := client.DefaultConfig(node.Addr())
	cfg.ClientIndex, cfg.Acks = 1, client.AcksAll
	adjust(&cfg)
	h, err := NewClientHost(w, network, "client1", cfg, history)
	if err != nil {
		t.Fatal(err)
	}
	h.CreateTopic(client.TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 1})
	if !w.RunUntilTrue(func() bool { return h.Pending() == 0 }, waitNs) {
		t.Fatal("create topic did not complete")
	}
	if r := h.AdminResults(); len(r) != 1 || r[0].ErrorCode != 0 {
		t.Fatalf("create topic: %+v", r)
	}
	return w, h
}
