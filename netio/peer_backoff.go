package netio

import (
	"math/rand/v2"
	"time"
)

// reconnectBackoff is Kafka's ExponentialBackoff for reconnect.backoff.ms (multiplier 2,
// jitter 0.2): base·2^failedAttempts up to backoffMax, scaled by a factor drawn from
// [0.8, 1.2], and again at most backoffMax. failedAttempts counts the failures before the latest, so the first failure
// waits about base (Kafka's ClusterConnectionStates: backoff(failedAttempts - 1)).
func reconnectBackoff(base, backoffMax time.Duration, failedAttempts int, rng *rand.Rand) time.Duration {
	term := base
	for i := 0; i < failedAttempts && term < backoffMax; i++ {
		term *= 2
	}
	term = min(term, backoffMax)
	// In thousandths, to keep the arithmetic in integers.
	jittered := term / 1000 * time.Duration(800+rng.IntN(401))
	return min(jittered, backoffMax)
}
