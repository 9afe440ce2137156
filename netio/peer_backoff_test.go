package netio

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestReconnectBackoff: Kafka's defaults (50 ms doubling to 1 s, ±20%): every draw lies within
// the jitter of its term, never above the maximum, and the jitter does vary.
func TestReconnectBackoff(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base, backoffMax := DefaultPeerReconnectBackoff, DefaultPeerReconnectBackoffMax
	terms := []time.Duration{50, 100, 200, 400, 800, 1000, 1000, 1000}
	for attempts, termMs := range terms {
		term := termMs * time.Millisecond
		seen := map[time.Duration]bool{}
		for range 200 {
			got := reconnectBackoff(base, backoffMax, attempts, rng)
			low, high := term*8/10, min(term*12/10, backoffMax)
			if got < low || got > high {
				t.Fatalf("after %d failures: %v, want %v to %v", attempts+1, got, low, high)
			}
			seen[got] = true
		}
		if len(seen) < 10 {
			t.Fatalf("after %d failures: only %d distinct backoffs in 200 draws", attempts+1, len(seen))
		}
	}
	// Huge attempt counts neither overflow nor exceed the maximum.
	if got := reconnectBackoff(base, backoffMax, 1<<30, rng); got > backoffMax || got < backoffMax*8/10 {
		t.Fatalf("after 2^30 failures: %v", got)
	}
}
