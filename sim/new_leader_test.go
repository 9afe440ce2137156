package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/diskio/memfs"
)

// TestNewLeaderHidesItsHighWatermark: a newly elected leader's high watermark may be below
// the one its predecessor showed until it reaches its epoch start, so clients' fetches and
// ListOffsets get OFFSET_NOT_AVAILABLE (KIP-207) until then, and then a high watermark no
// lower than any shown before. ListOffsets once answered with the stale one.
func TestNewLeaderHidesItsHighWatermark(t *testing.T) {
	opts := DefaultRunOptions(1)
	opts.Faults = "none"
	opts.Nodes, opts.Voters, opts.Roles, opts.ReplicationFactor = 3, 1, RolesSeparate, 3
	c := newCluster(opts, func(k *Knobs) { k.Partitions, k.RetentionMs, k.Clients, k.ProducePct = 1, -1, 2, 90 })
	require.Empty(t, c.setUp())
	c.startWorkload(c.w.NowNs() + 4*int64(time.Second))
	c.w.RunFor(2 * int64(time.Second))

	old := partitionLeader(c, 0)
	var shownHW int64
	for _, v := range c.nodes[old-1].Broker().Replicas() {
		shownHW = int64(v.HighWatermark)
	}
	c.nodes[old-1].CrashWith(memfs.CrashKeepUnsynced)
	// The next leader is the first replica in the ISR after the old one; cut it off from
	// the third, whose fetches its high watermark waits for.
	require.True(t, c.w.RunUntilTrue(func() bool { id := partitionLeader(c, 0); return id >= 0 && id != old }, c.w.NowNs()+15*int64(time.Second)))
	next := partitionLeader(c, 0)
	third := int32(6) - old - next
	c.network.Partition([]string{c.nodes[next-1].Host()}, []string{c.nodes[third-1].Host()})
	require.True(t, c.w.RunUntilTrue(func() bool { return leaderServes(c, 0, next) }, c.w.NowNs()+5*int64(time.Second)))
	c.w.RunFor(500 * int64(time.Millisecond))

	listLatest := func() *kmsg.ListOffsetsResponseTopicPartition {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version, req.ReplicaID = 4, -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = workloadTopic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp = 0, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		probe := dialClient(t, c.w, c.network, "probe", c.nodes[next-1].Addr())
		defer probe.conn.Abort()
		resp := probe.wait(probe.send(4, req)).(*kmsg.ListOffsetsResponse)
		return &resp.Topics[0].Partitions[0]
	}
	for _, v := range c.nodes[next-1].Broker().Replicas() {
		require.False(t, v.Established, "the new leader waits for the cut-off follower: %+v", v)
	}
	p := listLatest()
	require.Equal(t, int16(78), p.ErrorCode, "OFFSET_NOT_AVAILABLE before the epoch start, not offset %d (shown before: %d)", p.Offset, shownHW)

	c.network.HealAll()
	require.True(t, c.w.RunUntilTrue(func() bool {
		for _, v := range c.nodes[next-1].Broker().Replicas() {
			return v.Established
		}
		return false
	}, c.w.NowNs()+10*int64(time.Second)))
	p = listLatest()
	require.Equal(t, int16(0), p.ErrorCode)
	require.GreaterOrEqual(t, p.Offset, shownHW)
}
