package controller

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestNodeReplicationCommands: AlterPartition (v3, over the controller listener's codec), a
// reassignment and a preferred election reach the active controller, are answered once
// committed, and every node applies them; the standby answers NOT_CONTROLLER.
func TestNodeReplicationCommands(t *testing.T) {
	c := newTestCluster(t, 17, []int32{1, 2, 3}, nil)
	c.runUntil(20_000, "an active controller", func() bool { return c.active() != nil })
	a := c.active()
	for _, id := range []int32{1, 2} {
		reg := c.request(a, 600, registrationRequest(id, 1)).(*kmsg.BrokerRegistrationResponse)
		require.Zero(t, reg.ErrorCode)
		hb := c.request(a, 600, heartbeatRequest(id, reg.BrokerEpoch, int64(a.node.HighWatermark())-1, false, false)).(*kmsg.BrokerHeartbeatResponse)
		require.False(t, hb.IsFenced)
	}
	create := kmsg.NewPtrCreateTopicsRequest()
	create.Version = 7
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "t", -1, -1
	rt.ReplicaAssignment = []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 0, Replicas: []int32{1, 2}}}
	create.Topics = append(create.Topics, rt)
	created := c.request(a, 601, create).(*kmsg.CreateTopicsResponse)
	require.Zero(t, created.Topics[0].ErrorCode)
	topicID := created.Topics[0].TopicID

	img, _ := a.node.Image()
	leader, _ := img.Broker(1)
	alter := kmsg.NewPtrAlterPartitionRequest()
	alter.Version, alter.BrokerID, alter.BrokerEpoch = 3, 1, leader.Epoch
	at := kmsg.NewAlterPartitionRequestTopic()
	at.TopicID = topicID
	ap := kmsg.NewAlterPartitionRequestTopicPartition()
	ap.NewEpochISR = []kmsg.AlterPartitionRequestTopicPartitionNewEpochISR{{BrokerID: 1, BrokerEpoch: leader.Epoch}}
	at.Partitions = append(at.Partitions, ap)
	alter.Topics = append(alter.Topics, at)
	altered := c.request(a, 602, alter).(*kmsg.AlterPartitionResponse)
	require.Zero(t, altered.ErrorCode)
	require.Zero(t, altered.Topics[0].Partitions[0].ErrorCode)
	require.Equal(t, []int32{1}, altered.Topics[0].Partitions[0].ISR)
	require.Equal(t, int32(1), altered.Topics[0].Partitions[0].PartitionEpoch)

	reassign := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	rrt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rrt.Topic = "t"
	rrt.Partitions = []kmsg.AlterPartitionAssignmentsRequestTopicPartition{{Partition: 0, Replicas: []int32{2, 1}}}
	reassign.Topics = append(reassign.Topics, rrt)
	reassigned := c.request(a, 603, reassign).(*kmsg.AlterPartitionAssignmentsResponse)
	require.Zero(t, reassigned.Topics[0].Partitions[0].ErrorCode)

	// Broker 2, now the preferred replica, is out of the ISR: not available.
	elect := kmsg.NewPtrElectLeadersRequest()
	elect.Version = 2
	elect.Topics = []kmsg.ElectLeadersRequestTopic{{Topic: "t", Partitions: []int32{0}}}
	elected := c.request(a, 604, elect).(*kmsg.ElectLeadersResponse)
	require.Equal(t, errPreferredLeaderNotAvailable, elected.Topics[0].Partitions[0].ErrorCode)

	end := int64(a.node.log.EndOffset())
	c.runUntil(50_000, "every node applying the changes", func() bool { return c.converged(end) })
	for _, id := range c.ids() {
		img, _ := c.nodes[id].node.Image()
		t2, ok := img.TopicByName("t")
		require.True(t, ok, "node %d", id)
		p, _ := t2.Partition(0)
		require.Equal(t, []int32{2, 1}, p.Replicas, "node %d", id)
		require.Equal(t, []int32{1}, p.ISR, "node %d", id)
	}
	for _, id := range []int32{1, 2, 3} {
		if c.nodes[id] != a {
			refused := c.request(c.nodes[id], 605, alter).(*kmsg.AlterPartitionResponse)
			require.Equal(t, errNotController, refused.ErrorCode)
			break
		}
	}
}
