package controller

import (
	"fmt"
	"testing"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/record"
)

// BenchmarkQuorumCommit measures the metadata records a 3-voter quorum of Nodes commits per
// second of CPU: each op proposes one command of recordsPerCommand records (a topic with its
// partitions) on the active controller and runs the cluster until every voter has applied it.
// Frames go through core/wire and disks are memfs with syncs completing at once, so this is
// the cost of the quorum and the image, not of a disk or a network. Report records/s.
func BenchmarkQuorumCommit(b *testing.B) {
	for _, partitions := range []int{1, 10} {
		b.Run(fmt.Sprintf("partitions=%d", partitions), func(b *testing.B) {
			defer func(saved int64) { clusterSnapshotBytes = saved }(clusterSnapshotBytes)
			clusterSnapshotBytes = DefaultNodeConfig(quorum.Config{}, nil, "").SnapshotBytesBetween
			c := newTestCluster(b, 1, []int32{1, 2, 3}, nil)
			c.runUntil(20_000, "an active controller", func() bool { return c.active() != nil })
			replicas := make([][]int32, partitions)
			for i := range replicas {
				replicas[i] = []int32{1}
			}
			records := 0
			b.ResetTimer()
			for i := range b.N {
				rs, err := metadata.NewTopicRecords(fmt.Sprintf("t%d", i), metadata.UUID{byte(i), byte(i >> 8), byte(i >> 16), 1}, replicas, nil)
				if err != nil {
					b.Fatal(err)
				}
				c.propose(rs)
				records += len(rs)
				end := c.active().node.log.EndOffset()
				for !c.appliedAll(end) {
					c.step()
				}
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// appliedAll reports whether every live node has applied every record below end.
func (c *testCluster) appliedAll(end record.Offset) bool {
	for _, id := range c.ids() {
		if _, applied := c.nodes[id].node.Image(); applied < end {
			return false
		}
	}
	return true
}
