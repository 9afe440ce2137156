package broker

import (
	"testing"

	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/metadata"
)

// TestNoTimerWhileWaitingForBootstrap: a broker that knows the quorum's leader but whose image
// has no metadata.version yet (the bootstrap records are not committed) cannot register, and
// asks for no timer: one due at once would fire again and again until the bootstrap commits.
func TestNoTimerWhileWaitingForBootstrap(t *testing.T) {
	h := newHarness(t, nil)
	node, _, err := NewNode(h.cfg, h.logs, h.node.rng, h.now)
	if err != nil {
		t.Fatal(err)
	}
	h.now.MonotonicMs += 10
	r := node.Metadata(h.now, controller.Committed{Image: metadata.EmptyImage(), Offset: 0, LeaderID: 1, LeaderEpoch: 1})
	if len(r.Sends) != 0 {
		t.Fatalf("the broker sent %d requests before the bootstrap committed", len(r.Sends))
	}
	if r.NextDeadlineMs != 0 && r.NextDeadlineMs <= h.now.MonotonicMs {
		t.Fatalf("deadline %d at %d: a timer due at once", r.NextDeadlineMs, h.now.MonotonicMs)
	}
}

// A broker records its epoch on its disk when it registers, and a restart on that disk (a power
// loss: unsynced data lost) registers with it as PreviousBrokerEpoch: the controller takes it
// as a clean restart, so the partitions it was the only replica of elect it again.
func TestRestartRegistersWithThePreviousBrokerEpoch(t *testing.T) {
	h := newHarness(t, nil)
	if got := h.logs.PreviousBrokerEpoch(); got != -1 {
		t.Fatalf("a new disk says previous epoch %d", got)
	}
	epoch := h.node.life.epoch
	if epoch < 0 {
		t.Fatal("not registered")
	}
	createIdempotentTopic(t, h, nil)
	h2 := h.restart(false)
	if got := h2.logs.PreviousBrokerEpoch(); got != epoch {
		t.Fatalf("after the restart the disk says %d, the broker registered at %d", got, epoch)
	}
	tp, ok := h2.image().TopicByName("r")
	if !ok {
		t.Fatal("no topic r")
	}
	p, _ := tp.Partition(0)
	if p.Leader != 1 || len(p.ISR) != 1 || len(p.EligibleLeaderReplicas) != 0 {
		t.Fatalf("after a clean restart: %+v", p)
	}
}
