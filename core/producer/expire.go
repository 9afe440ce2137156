package producer

import (
	"cmp"
	"math"
	"slices"
)

// expiryMs is when a producer last active at timestampMs expires, saturating.
func expiryMs(timestampMs, expirationMs int64) int64 {
	if timestampMs > math.MaxInt64-expirationMs {
		return math.MaxInt64
	}
	return timestampMs + expirationMs
}

// expired reports whether the producer expired at nowMs (ProducerStateManager.isProducerExpired):
// idle for producer.id.expiration.ms, measured from its last batch's timestamp, and no
// transaction open. Written without Kafka's subtraction, which overflows on a timestamp near
// the int64 minimum (a client's) and would keep such a producer forever.
func (s *State) expired(e *entry, nowMs int64) bool {
	return !e.inTransaction() && expiryMs(e.lastTimestampMs, s.cfg.ExpirationMs) <= nowMs
}

// RemoveExpired forgets the producers expired at nowMs (the wall clock) and returns how many.
// Kafka runs it every producer.id.expiration.check.interval.ms (default 600000); the broker
// calls it from a timer. A forgotten producer that comes back is accepted at any sequence, as
// in Kafka.
func (s *State) RemoveExpired(nowMs int64) int {
	removed := 0
	next := int64(math.MaxInt64)
	//purity:allow-map-range deleting the expired set and taking a minimum are order-free
	for id, e := range s.producers {
		if s.expired(e, nowMs) {
			delete(s.producers, id)
			removed++
			continue
		}
		if !e.inTransaction() {
			next = min(next, expiryMs(e.lastTimestampMs, s.cfg.ExpirationMs))
		}
	}
	s.expiryCheckMs = next
	return removed
}

// trimSlack is how far replay may overshoot the producer bound before trimming, so that
// trimming (a sort) runs once per many new producers rather than for each.
func trimSlack(producersMax int) int { return max(1, producersMax/8) }

// trim evicts producers until at most keep remain: those without an open transaction first,
// then the least recently active, then the lowest ids. Only replay and snapshot loading reach
// it (CheckAppend refuses new producers at the bound instead); an evicted producer that comes
// back is accepted at any sequence, as after expiration.
func (s *State) trim(keep int) {
	if len(s.producers) <= keep {
		return
	}
	all := make([]*entry, 0, len(s.producers))
	//purity:allow-map-range the entries are sorted below
	for _, e := range s.producers {
		all = append(all, e)
	}
	slices.SortFunc(all, func(a, b *entry) int {
		if a.inTransaction() != b.inTransaction() {
			if a.inTransaction() {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(a.lastTimestampMs, b.lastTimestampMs); c != 0 {
			return c
		}
		return cmp.Compare(a.producerID, b.producerID)
	})
	for _, e := range all[:len(all)-keep] {
		delete(s.producers, e.producerID)
	}
}
