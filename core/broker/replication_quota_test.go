package broker

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
)

// The rate is the bytes of the live windows over the time since the oldest started, at least
// one window; windows are reused round-robin and expire after all of them have passed.
func TestSampledRateWindows(t *testing.T) {
	r := newSampledRate(3, 1000)
	rate := func(nowMs int64) (int64, int64) { return r.measure(nowMs) }

	r.record(500, 0)
	if sum, span := rate(0); sum != 500 || span != 1000 {
		t.Fatalf("at 0: %d bytes over %d ms, want 500 over 1000 (one window at least)", sum, span)
	}
	if !r.exceeds(499, 0) || r.exceeds(500, 0) {
		t.Fatal("500 B in the first second: above 499 B/s and not above 500 B/s")
	}
	r.record(500, 999) // same window
	r.record(500, 1500)
	if len(r.samples) != 2 {
		t.Fatalf("%d windows after records at 0, 999, 1500; want 2", len(r.samples))
	}
	if sum, span := rate(1500); sum != 1500 || span != 1500 {
		t.Fatalf("at 1500: %d bytes over %d ms, want 1500 over 1500", sum, span)
	}
	if !r.exceeds(999, 1500) || r.exceeds(1000, 1500) {
		t.Fatal("1500 B over 1.5 s is 1000 B/s")
	}
	// At 3000 the first window (started at 0) is 3 windows old: it expires.
	if sum, span := rate(3000); sum != 500 || span != 1500 {
		t.Fatalf("at 3000: %d bytes over %d ms, want 500 over 1500", sum, span)
	}
	// Many windows later the memory is still windowsMax windows, and all of them expired.
	for ms := int64(3000); ms < 60_000; ms += 700 {
		r.record(10, ms)
	}
	if len(r.samples) != 3 {
		t.Fatalf("%d windows, want at most 3", len(r.samples))
	}
	if sum, _ := rate(200_000); sum != 0 {
		t.Fatalf("long after the last record: %d bytes, want 0", sum)
	}

	// Unlimited never throttles; sums saturate instead of wrapping.
	big := newSampledRate(2, 1000)
	big.record(math.MaxInt64, 0)
	big.record(math.MaxInt64, 1)
	if sum, _ := big.measure(1); sum != math.MaxInt64 {
		t.Fatalf("saturated sum %d", sum)
	}
	if big.exceeds(config.ReplicationThrottledRateUnlimited, 1) {
		t.Fatal("the unlimited rate throttles")
	}
	if !big.exceeds(math.MaxInt64-1, 1) {
		t.Fatal("a saturated sum is not above MaxInt64-1 B/s")
	}
	if newSampledRate(1, 1000).exceeds(0, 5) {
		t.Fatal("nothing recorded is above 0 B/s")
	}
}

// Both sides throttle only a replica that is not in sync, is throttled on this broker, and
// only while the quota is exceeded.
func TestShouldThrottle(t *testing.T) {
	exceeded := &replicationQuota{rate: newSampledRate(11, 1000), boundBytesPerSec: 100}
	exceeded.record(1000, 0)
	within := &replicationQuota{rate: newSampledRate(11, 1000), boundBytesPerSec: 100}
	within.record(100, 0)
	unlimited := &replicationQuota{rate: newSampledRate(11, 1000), boundBytesPerSec: config.ReplicationThrottledRateUnlimited}
	unlimited.record(1<<40, 0)
	for _, tc := range []struct {
		name              string
		inSync, throttled bool
		q                 *replicationQuota
		want              bool
	}{
		{"out of sync, throttled, exceeded", false, true, exceeded, true},
		{"in sync", true, true, exceeded, false},
		{"not throttled here", false, false, exceeded, false},
		{"within the rate", false, true, within, false},
		{"unlimited", false, true, unlimited, false},
	} {
		if got := shouldThrottle(tc.inSync, tc.throttled, tc.q, 10); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The rates come from the image: this node's value over the cluster default over unlimited;
// DescribeConfigs shows them (and the static windows) on the BROKER resource.
func TestReplicationThrottledRateConfig(t *testing.T) {
	h := newTopicHarness(t, func(b *config.BrokerConfig) { b.Replication.QuotaWindowNum = 5 })
	bounds := func() (int64, int64) {
		q := h.node.replicationQuotas()
		return q.leader.boundBytesPerSec, q.follower.boundBytesPerSec
	}
	if l, f := bounds(); l != math.MaxInt64 || f != math.MaxInt64 {
		t.Fatalf("unset: %d, %d; want unlimited", l, f)
	}
	if got := len(h.node.replicationQuotas().leader.rate.samples); cap(h.node.replicationQuotas().leader.rate.samples) != 5 || got > 5 {
		t.Fatalf("the rate keeps %d of %d windows, want up to replication.quota.window.num=5", got, cap(h.node.replicationQuotas().leader.rate.samples))
	}
	alterConfig(t, h, resourceTypeBroker, "", config.LeaderReplicationThrottledRateKey, kmsg.IncrementalAlterConfigOpSet, "2000")
	alterConfig(t, h, resourceTypeBroker, "", config.FollowerReplicationThrottledRateKey, kmsg.IncrementalAlterConfigOpSet, "3000")
	if l, f := bounds(); l != 2000 || f != 3000 {
		t.Fatalf("cluster default: %d, %d; want 2000, 3000", l, f)
	}
	alterConfig(t, h, resourceTypeBroker, "1", config.LeaderReplicationThrottledRateKey, kmsg.IncrementalAlterConfigOpSet, "1000")
	if l, f := bounds(); l != 1000 || f != 3000 {
		t.Fatalf("per broker over the default: %d, %d; want 1000, 3000", l, f)
	}

	describe := func(name string, keys ...string) string {
		req := kmsg.NewPtrDescribeConfigsRequest()
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName, rr.ConfigNames = resourceTypeBroker, name, keys
		req.Resources = append(req.Resources, rr)
		req.IncludeSynonyms = true
		h.request(1, 4, req)
		return h.take()
	}
	got := describe("1", config.LeaderReplicationThrottledRateKey, config.FollowerReplicationThrottledRateKey,
		"replication.quota.window.num", "replication.quota.window.size.seconds")
	for _, want := range []string{
		"follower.replication.throttled.rate=3000 source=3 readOnly=false [follower.replication.throttled.rate=3000 3] [follower.replication.throttled.rate=9223372036854775807 5]",
		"leader.replication.throttled.rate=1000 source=2 readOnly=false [leader.replication.throttled.rate=1000 2] [leader.replication.throttled.rate=2000 3] [leader.replication.throttled.rate=9223372036854775807 5]",
		"replication.quota.window.num=5 source=5 readOnly=true [replication.quota.window.num=11 5]",
		"replication.quota.window.size.seconds=1 source=5 readOnly=true [replication.quota.window.size.seconds=1 5]",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("describe broker 1 lacks %q:\n%s", want, got)
		}
	}
	got = describe("")
	if !containsAll(got, "follower.replication.throttled.rate=3000 source=3", "leader.replication.throttled.rate=2000 source=3") {
		t.Errorf("describe the cluster default:\n%s", got)
	}

	// The topic lists show as topic configs.
	alterConfig(t, h, resourceTypeTopic, "a", config.LeaderReplicationThrottledReplicasKey, kmsg.IncrementalAlterConfigOpSet, "0:1, 0:2")
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = resourceTypeTopic, "a"
	rr.ConfigNames = []string{config.LeaderReplicationThrottledReplicasKey, config.FollowerReplicationThrottledReplicasKey}
	req.Resources = append(req.Resources, rr)
	h.request(1, 4, req)
	got = h.take()
	if !containsAll(got, "leader.replication.throttled.replicas=0:1,0:2 source=1", "follower.replication.throttled.replicas= source=5") {
		t.Errorf("describe topic a:\n%s", got)
	}
	if !h.node.leaderThrottles(tpA) || h.node.followerThrottles(tpA) {
		t.Error("partition 0 of a: leader-throttled on broker 1 and not follower-throttled, as the lists say")
	}
}

// throttleCase is one replication throttle scenario on a pair of brokers.
type throttleCase struct {
	// configure sets the throttle (rate and lists) once the topic exists.
	configure func(t *testing.T, p *pair)
	// quota is the throttle that limits (the leader's on broker 1 or the follower's on 2).
	quota func(p *pair) *replicationQuota
}

const (
	throttleRateBytesPerSec = 64 * 1024
	throttleValueBytes      = 1000
)

var (
	tpThrottled   = storage.TopicPartition{Topic: "t", Partition: 0}
	tpUnthrottled = storage.TopicPartition{Topic: "t", Partition: 1}
)

// TestLeaderThrottleLimitsAnOutOfSyncFollower: leader.replication.throttled.replicas=0:1 and
// leader.replication.throttled.rate on broker 1 hold a follower that fell out of the ISR to
// the rate on partition 0, while partition 1 (unthrottled) catches up at once; once in sync
// again, partition 0 is not held back although the quota is exceeded.
func TestLeaderThrottleLimitsAnOutOfSyncFollower(t *testing.T) {
	runThrottleCase(t, throttleCase{
		configure: func(t *testing.T, p *pair) {
			alterPair(t, p, resourceTypeTopic, "t", config.LeaderReplicationThrottledReplicasKey, "0:1")
			alterPair(t, p, resourceTypeBroker, "1", config.LeaderReplicationThrottledRateKey, strconv.Itoa(throttleRateBytesPerSec))
		},
		quota: func(p *pair) *replicationQuota { return &p.brokers[1].node.replicationQuotas().leader },
	})
}

// TestFollowerThrottleLimitsAnOutOfSyncFollower: the same with the follower's throttle
// (follower.replication.throttled.replicas=0:2, the rate as the cluster default).
func TestFollowerThrottleLimitsAnOutOfSyncFollower(t *testing.T) {
	runThrottleCase(t, throttleCase{
		configure: func(t *testing.T, p *pair) {
			alterPair(t, p, resourceTypeTopic, "t", config.FollowerReplicationThrottledReplicasKey, "0:2")
			alterPair(t, p, resourceTypeBroker, "", config.FollowerReplicationThrottledRateKey, strconv.Itoa(throttleRateBytesPerSec))
		},
		quota: func(p *pair) *replicationQuota { return &p.brokers[2].node.replicationQuotas().follower },
	})
}

func runThrottleCase(t *testing.T, tc throttleCase) {
	p := newPair(t, func(b *config.BrokerConfig) {
		b.Replication.LagTimeMaxMs = 1000
		// Small fetches, often: the rate is enforced per fetch, so each fetch must be small
		// next to a second's worth, and a long poll short next to a second.
		b.Replication.FetchMaxBytes = 16 * 1024
		b.Replication.FetchWaitMaxMs = 50
		b.Replication.FetchBackoffMs = 50
	})
	create := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "t", -1, -1
	for i := range int32(2) {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = i, []int32{1, 2}
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	}
	create.Topics, create.TimeoutMillis = append(create.Topics, rt), 5000
	if resp := p.request(1, 7, create).(*kmsg.CreateTopicsResponse); resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create topic t: error %d", resp.Topics[0].ErrorCode)
	}
	p.advance(500)
	tc.configure(t, p)

	batchBytes := int64(len(makeBatch(t, 1, throttleValueBytes, testStartWallMs, record.CodecNone)))
	produce := func(tp storage.TopicPartition, batches int) {
		for range batches {
			req := kmsg.NewPtrProduceRequest()
			req.Acks, req.TimeoutMillis = 1, 30000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = tp.Topic
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition, rp.Records = tp.Partition, makeBatch(t, 1, throttleValueBytes, p.now.WallMs, record.CodecNone)
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := p.request(1, 9, req).(*kmsg.ProduceResponse)
			if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
				t.Fatalf("produce to %s: error %d", tp, code)
			}
		}
	}

	// The follower is cut off while 1 MiB goes to partition 0 and 256 KiB to partition 1: it
	// leaves both ISRs.
	p.holdFetchesFrom = 2
	produce(tpThrottled, 1024)
	produce(tpUnthrottled, 256)
	p.advance(3000)
	for _, tp := range []storage.TopicPartition{tpThrottled, tpUnthrottled} {
		if isr := p.partition(tp).ISR; !slices.Equal(isr, []int32{1}) {
			t.Fatalf("%s: ISR %v after the follower was cut off, want [1]", tp, isr)
		}
	}

	// Reconnected, the follower catches up on partition 1 at once; on partition 0 at the rate.
	p.holdFetchesFrom = 0
	p.releaseHeld()
	startOffset := p.endOffset(2, tpThrottled)
	var perSecond []int64
	prev := startOffset
	for range 7 {
		p.advance(1000)
		now := p.endOffset(2, tpThrottled)
		perSecond = append(perSecond, (now-prev)*batchBytes)
		prev = now
	}
	t.Logf("throttled partition: bytes replicated per second %v (rate %d B/s)", perSecond, throttleRateBytesPerSec)
	if got, want := p.endOffset(2, tpUnthrottled), p.endOffset(1, tpUnthrottled); got != want {
		t.Fatalf("unthrottled partition: follower at %d of %d after 7 s", got, want)
	}
	// The first second may carry a burst (the rate's windows remember the idle seconds
	// before); from then on the rate holds.
	var steady int64
	for _, b := range perSecond[1:] {
		steady += b
	}
	want := int64(throttleRateBytesPerSec) * int64(len(perSecond)-1)
	if steady < want*8/10 || steady > want*12/10 {
		t.Fatalf("throttled partition: %d bytes in %d s, want %d ± 20%%", steady, len(perSecond)-1, want)
	}
	if lead := p.endOffset(1, tpThrottled); p.endOffset(2, tpThrottled) >= lead {
		t.Fatal("the throttled partition caught up: the test measured nothing")
	}

	// Caught up and back in the ISR, partition 0 is not throttled any more: a burst far above
	// the rate is replicated at once, although the quota is exceeded.
	for range 600 {
		if slices.Contains(p.partition(tpThrottled).ISR, 2) {
			break
		}
		p.advance(100)
	}
	if isr := p.partition(tpThrottled).ISR; !slices.Contains(isr, 2) {
		t.Fatalf("the follower did not rejoin the ISR of %s: %v", tpThrottled, isr)
	}
	p.advance(100)
	produce(tpThrottled, 512)
	p.advance(300)
	if got, want := p.endOffset(2, tpThrottled), p.endOffset(1, tpThrottled); got != want {
		t.Fatalf("in sync, the throttled partition was held back: follower at %d of %d", got, want)
	}
	if q := tc.quota(p); !q.exceeded(p.now.MonotonicMs) {
		t.Fatal("the quota is not exceeded after the burst: the in-sync exemption was not exercised")
	}
}

// alterPair sets one config through broker 1, as kafka-configs does.
func alterPair(t *testing.T, p *pair, resourceType kmsg.ConfigResourceType, name, key, value string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = resourceType, name
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Op, c.Value = key, kmsg.IncrementalAlterConfigOpSet, strp(value)
	rr.Configs = append(rr.Configs, c)
	req.Resources = append(req.Resources, rr)
	resp := p.request(1, 1, req).(*kmsg.IncrementalAlterConfigsResponse)
	if code := resp.Resources[0].ErrorCode; code != 0 {
		t.Fatalf("setting %s of %q: error %d %s", key, name, code, deref(resp.Resources[0].ErrorMessage))
	}
}

// The Node's two decisions: the leader spares a follower in the ISR, the follower spares a
// partition its last answer (at the current leader epoch) caught up; both only for partitions
// their list names on this broker, and only while their quota is exceeded.
func TestNodeThrottleDecisions(t *testing.T) {
	h := newTopicHarness(t, nil)
	r := h.node.replicaStates[tpA]
	if r == nil || r.leader == nil {
		t.Fatal("broker 1 does not lead a-0")
	}
	leaderOf := func(follower int32) bool { return h.node.leaderThrottled(r, follower) }
	follower := &partitionReplica{tp: tpA, part: &metadata.Partition{ID: 0, Leader: 2, LeaderEpoch: 3}}
	followerDecision := func(caughtUp bool, epoch int32) bool {
		follower.fetchCaughtUp, follower.fetchCaughtUpEpoch = caughtUp, epoch
		return h.node.followerThrottled(follower)
	}
	now := h.now.MonotonicMs

	// No list, no rate: nothing throttled.
	if leaderOf(2) || followerDecision(false, 3) {
		t.Fatal("throttled without any throttle config")
	}
	alterConfig(t, h, resourceTypeTopic, "a", config.LeaderReplicationThrottledReplicasKey, kmsg.IncrementalAlterConfigOpSet, "0:1")
	alterConfig(t, h, resourceTypeTopic, "a", config.FollowerReplicationThrottledReplicasKey, kmsg.IncrementalAlterConfigOpSet, "*")
	alterConfig(t, h, resourceTypeBroker, "1", config.LeaderReplicationThrottledRateKey, kmsg.IncrementalAlterConfigOpSet, "100")
	alterConfig(t, h, resourceTypeBroker, "", config.FollowerReplicationThrottledRateKey, kmsg.IncrementalAlterConfigOpSet, "100")
	if leaderOf(2) || followerDecision(false, 3) {
		t.Fatal("throttled while the quotas are not exceeded")
	}
	q := h.node.replicationQuotas()
	q.leader.record(1000, now)
	q.follower.record(1000, now)
	if !leaderOf(2) {
		t.Error("leader: broker 2, out of the ISR, is not throttled")
	}
	if leaderOf(1) {
		t.Error("leader: a replica in the ISR is throttled")
	}
	if !followerDecision(false, 3) {
		t.Error("follower: a partition not caught up is not throttled")
	}
	if followerDecision(true, 3) {
		t.Error("follower: a partition caught up at this epoch is throttled")
	}
	if !followerDecision(true, 2) {
		t.Error("follower: caught up at an earlier leader epoch counts as in sync")
	}
	// The lists name replicas on other brokers only: nothing here is throttled.
	alterConfig(t, h, resourceTypeTopic, "a", config.LeaderReplicationThrottledReplicasKey, kmsg.IncrementalAlterConfigOpSet, "0:2")
	alterConfig(t, h, resourceTypeTopic, "a", config.FollowerReplicationThrottledReplicasKey, kmsg.IncrementalAlterConfigOpSet, "0:2")
	if leaderOf(2) || followerDecision(false, 3) {
		t.Error("throttled by lists naming other brokers' replicas")
	}
}
