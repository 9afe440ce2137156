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
