package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/weirdata/weir/diskio/osfs"
)

// TestCombinedBrokerKeepsItsLease: the broker of a combined process heartbeats its own
// process's controller (here the active one, a sole voter) every broker.heartbeat.interval.ms
// while idle, so that controller never fences it, and a SIGTERM is a completed controlled
// shutdown.
//
// The co-located controller answers a heartbeat that writes no record within the driver's
// execution of the broker Ready that sent it. The driver used to arm the broker's timer for
// that older Ready afterwards (its heartbeat in flight: 30 s away), so the broker sent no
// heartbeat until some other event came: the controller fenced its own broker once the
// session timed out, and a controlled shutdown waited for a heartbeat that never came (the
// three-node e2e test's SIGTERM of the active controller's broker).
func TestCombinedBrokerKeepsItsLease(t *testing.T) {
	const sessionTimeoutMs = 500
	cfg := parseConfig(t, brokerProperties(t.TempDir(), "broker.heartbeat.interval.ms=50", "broker.session.timeout.ms=500"))
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// Only the loop goroutine touches these until runBroker returned.
	var served, lost bool
	var lostState string
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listening := make(chan struct{}, 1)
	result := make(chan error, 1)
	go func() {
		result <- runBroker(ctx, driverOptions{
			fsys: osfs.New(), cfg: cfg, logger: logger,
			shutdownTimeout: 10 * time.Second,
			listening:       func(net.Addr) { listening <- struct{}{} },
			afterEvent: func(d *driver) {
				switch {
				case d.draining:
				case d.node.Serving():
					served = true
				case served && !lost:
					lost, lostState = true, d.node.LifecycleState()
				}
			},
		})
	}()
	select {
	case <-listening:
	case err := <-result:
		t.Fatalf("broker did not start: %v\n%s", err, logs)
	case <-time.After(e2eTimeout):
		t.Fatalf("broker not listening within %v\n%s", e2eTimeout, logs)
	}
	// Idle for three session timeouts: only the timers drive the heartbeats.
	time.Sleep(3 * sessionTimeoutMs * time.Millisecond)
	cancel()
	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("runBroker: %v\n%s", err, logs)
		}
	case <-time.After(e2eTimeout):
		t.Fatalf("broker did not stop within %v\n%s", e2eTimeout, logs)
	}
	if lost {
		t.Errorf("the controller fenced its own process's broker while it was idle (its lease lapsed); lifecycle then: %s", lostState)
	}
	if out := logs.String(); !strings.Contains(out, "controlled shutdown") || strings.Contains(out, "without a completed controlled shutdown") {
		t.Errorf("SIGTERM was not a completed controlled shutdown:\n%s", out)
	}
}
