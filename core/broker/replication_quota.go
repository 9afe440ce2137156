package broker

// Replication throttling, as Kafka's replication quotas (KIP-73, ReplicationQuotaManager).
//
// Two quotas per broker, each a byte rate over sampled windows of the broker's monotonic
// clock: the leader quota (leader.replication.throttled.rate) counts the bytes this broker
// sends, as leader, for the partitions its leader.replication.throttled.replicas names on this
// broker; the follower quota (follower.replication.throttled.rate) the bytes it receives, as
// follower, for those follower.replication.throttled.replicas names. Both rates are dynamic
// broker configs: this node's own value, else the cluster default, else Long.MAX_VALUE (no
// throttle). While a quota is exceeded, a throttled partition whose replica is not in sync is
// left out: the leader answers the follower's fetch of it without records
// (ReplicaManager.shouldLeaderThrottle), the follower leaves it out of its fetch
// (ReplicaFetcherThread.shouldFollowerThrottle). In-sync replicas are never held back, so a
// throttle cannot shrink the ISR.
//
// The rate is Kafka's SimpleRate over a SampledStat of sums: replication.quota.window.num
// windows of replication.quota.window.size.seconds; the rate is the bytes of the windows not
// yet expired over the time since the oldest one started (at least one window). The window
// count bounds the memory; decisions use integers only.

import (
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/storage"
)

// sampledRate is a byte rate over at most windowsMax windows of windowMs each (Kafka's
// SampledStat with SimpleRate's window size).
type sampledRate struct {
	windowMs   int64
	windowsMax int
	// samples grow to windowsMax, then are reused round-robin; current is the one recorded to.
	samples []rateSample
	current int
}

// rateSample is one window: when it started and the bytes recorded in it.
type rateSample struct {
	startMs  int64
	sumBytes int64
}

func newSampledRate(windows int, windowMs int64) *sampledRate {
	if windows < 1 || windowMs < 1 {
		panic(fmt.Sprintf("broker: invariant: a sampled rate needs at least one window of at least 1 ms (got %d of %d ms)", windows, windowMs))
	}
	return &sampledRate{windowMs: windowMs, windowsMax: windows, samples: make([]rateSample, 0, windows)}
}

// currentSample is the window recorded to, the first one started at nowMs.
func (r *sampledRate) currentSample(nowMs int64) *rateSample {
	if len(r.samples) == 0 {
		r.samples = append(r.samples, rateSample{startMs: nowMs})
	}
	return &r.samples[r.current]
}

// record adds bytes at nowMs: to the current window, or to a new one once it is a window old
// (the oldest window is reused once there are windowsMax).
func (r *sampledRate) record(bytes, nowMs int64) {
	s := r.currentSample(nowMs)
	if nowMs-s.startMs >= r.windowMs {
		r.current = (r.current + 1) % r.windowsMax
		if r.current >= len(r.samples) {
			r.samples = append(r.samples, rateSample{startMs: nowMs})
		} else {
			r.samples[r.current] = rateSample{startMs: nowMs}
		}
		s = &r.samples[r.current]
	}
	if bytes > math.MaxInt64-s.sumBytes {
		s.sumBytes = math.MaxInt64
		return
	}
	s.sumBytes += bytes
}

// purge empties, restarting at nowMs, every window that started all the windows' span ago.
func (r *sampledRate) purge(nowMs int64) {
	expireMs := int64(r.windowsMax) * r.windowMs
	for i := range r.samples {
		if nowMs-r.samples[i].startMs >= expireMs {
			r.samples[i] = rateSample{startMs: nowMs}
		}
	}
}

// measure returns the bytes of the live windows and the span they cover (SimpleRate's window
// size: since the oldest window started, at least one window).
func (r *sampledRate) measure(nowMs int64) (sumBytes, spanMs int64) {
	r.purge(nowMs)
	r.currentSample(nowMs)
	oldest := r.samples[0].startMs
	for _, s := range r.samples {
		oldest = min(oldest, s.startMs)
		if s.sumBytes > math.MaxInt64-sumBytes {
			sumBytes = math.MaxInt64
		} else {
			sumBytes += s.sumBytes
		}
	}
	return sumBytes, max(nowMs-oldest, r.windowMs)
}

// exceeds reports whether the rate at nowMs is above boundBytesPerSec (Kafka's quota check:
// bytes / (span / 1000) > bound, here sum*1000 > bound*span in 128 bits).
func (r *sampledRate) exceeds(boundBytesPerSec, nowMs int64) bool {
	if boundBytesPerSec == config.ReplicationThrottledRateUnlimited {
		return false
	}
	sumBytes, spanMs := r.measure(nowMs)
	hiL, loL := bits.Mul64(uint64(sumBytes), 1000)
	hiR, loR := bits.Mul64(uint64(max(boundBytesPerSec, 0)), uint64(spanMs))
	return hiL > hiR || (hiL == hiR && loL > loR)
}

// replicationQuota is one of a broker's two throttles: a rate and its bound.
type replicationQuota struct {
	rate             *sampledRate
	boundBytesPerSec int64
}

// exceeded reports whether the bytes recorded lately are above the bound.
func (q *replicationQuota) exceeded(nowMs int64) bool {
	return q.rate.exceeds(q.boundBytesPerSec, nowMs)
}

// record counts bytes sent or received for throttled partitions.
func (q *replicationQuota) record(bytes, nowMs int64) { q.rate.record(bytes, nowMs) }

// shouldThrottle is the decision both sides make for one partition (Kafka's
// shouldLeaderThrottle and shouldFollowerThrottle): a replica not in sync, throttled on this
// broker, while the quota is exceeded.
func shouldThrottle(inSync, throttled bool, q *replicationQuota, nowMs int64) bool {
	return !inSync && throttled && q.exceeded(nowMs)
}

// replicationQuotas are a Node's two throttles, their bounds read from the image img.
type replicationQuotas struct {
	img      *metadata.Image
	leader   replicationQuota
	follower replicationQuota
}

// replicationQuotas returns the Node's throttles, their bounds up to date with its image.
func (n *Node) replicationQuotas() *replicationQuotas {
	q := n.quotas
	if q == nil {
		rc := &n.cfg.Broker.Replication
		windows, windowMs := int(rc.QuotaWindowNum), int64(rc.QuotaWindowSizeSeconds)*1000
		q = &replicationQuotas{
			leader:   replicationQuota{rate: newSampledRate(windows, windowMs), boundBytesPerSec: config.ReplicationThrottledRateUnlimited},
			follower: replicationQuota{rate: newSampledRate(windows, windowMs), boundBytesPerSec: config.ReplicationThrottledRateUnlimited},
		}
		n.quotas = q
	}
	if q.img != n.img {
		q.img = n.img
		q.leader.boundBytesPerSec = n.throttledRate(config.LeaderReplicationThrottledRateKey)
		q.follower.boundBytesPerSec = n.throttledRate(config.FollowerReplicationThrottledRateKey)
	}
	return q
}

// throttledRate is a throttled rate as this node runs with it: its own dynamic value, else
// the cluster default, else unlimited (Kafka's BrokerConfigHandler). The controller checked
// the committed values; one that does not parse counts as unset.
func (n *Node) throttledRate(key string) int64 {
	for _, syn := range controller.DynamicBrokerValues(n.img, n.cfg.Broker.NodeID, key) {
		if v, err := config.ParseDynamicBrokerValue(key, syn.Value); err == nil {
			return v
		}
	}
	return config.ReplicationThrottledRateUnlimited
}

// leaderThrottles reports whether tp is in the leader throttled replicas on this broker
// (Kafka's leader quota isThrottled: partition:thisBroker listed, or "*").
func (n *Node) leaderThrottles(tp storage.TopicPartition) bool {
	ts, ok := n.topics[tp.Topic]
	return ok && ts.cfg.LeaderReplicationThrottledReplicas.Throttled(tp.Partition, n.cfg.Broker.NodeID)
}

// followerThrottles reports whether tp is in the follower throttled replicas on this broker.
func (n *Node) followerThrottles(tp storage.TopicPartition) bool {
	ts, ok := n.topics[tp.Topic]
	return ok && ts.cfg.FollowerReplicationThrottledReplicas.Throttled(tp.Partition, n.cfg.Broker.NodeID)
}

// leaderThrottled decides whether this leader leaves r's records out of follower's fetch: the
// follower is not in the ISR, tp is throttled here, and the leader quota is exceeded.
func (n *Node) leaderThrottled(r *partitionReplica, follower int32) bool {
	inSync := slices.Contains(r.leader.State().ISR, follower)
	return shouldThrottle(inSync, n.leaderThrottles(r.tp), &n.replicationQuotas().leader, n.now.MonotonicMs)
}

// followerThrottled decides whether this follower leaves r out of its next fetch: its last
// answer from the leader at this epoch did not bring it up to the leader's high watermark
// (Kafka's isReplicaInSync: a lag of 0), tp is throttled here, and the follower quota is
// exceeded.
func (n *Node) followerThrottled(r *partitionReplica) bool {
	inSync := r.fetchCaughtUp && r.fetchCaughtUpEpoch == r.part.LeaderEpoch
	return shouldThrottle(inSync, n.followerThrottles(r.tp), &n.replicationQuotas().follower, n.now.MonotonicMs)
}

// recordLeaderThrottled counts the bytes an answer to a follower's fetch carries for the
// partitions throttled here (Kafka's sizeOfThrottledPartitions, recorded as the answer goes).
func (n *Node) recordLeaderThrottled(throttledBytes int64) {
	n.replicationQuotas().leader.record(throttledBytes, n.now.MonotonicMs)
}

// recordFollowerFetched notes what a leader's answer for r brought: whether it caught this
// replica up to the leader's high watermark, and its bytes when r is throttled here.
func (n *Node) recordFollowerFetched(r *partitionReplica, endOffset, leaderHW, bytes int64) {
	r.fetchCaughtUp, r.fetchCaughtUpEpoch = leaderHW >= 0 && endOffset >= leaderHW, r.part.LeaderEpoch
	if n.followerThrottles(r.tp) {
		n.replicationQuotas().follower.record(bytes, n.now.MonotonicMs)
	}
}
