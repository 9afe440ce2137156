package controller

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/quorum"
)

// describeQuorum answers DescribeQuorum (KIP-595, KIP-836) for __cluster_metadata-0: the
// leader's view of every voter and observer; NOT_LEADER_OR_FOLLOWER with the known leader on
// any other node, as Kafka's KafkaRaftClient answers. Times are the leader's wall clock.
func (n *Node) describeQuorum(req *kmsg.DescribeQuorumRequest) kmsg.Response {
	resp := kmsg.NewPtrDescribeQuorumResponse()
	resp.SetVersion(req.GetVersion())
	if len(req.Topics) != 1 || len(req.Topics[0].Partitions) != 1 ||
		req.Topics[0].Topic != quorum.MetadataTopic || req.Topics[0].Partitions[0].Partition != quorum.MetadataPartition {
		resp.ErrorCode = quorum.ErrInvalidRequest
		return resp
	}
	p := kmsg.NewDescribeQuorumResponseTopicPartition()
	p.Partition = quorum.MetadataPartition
	st := n.q.State()
	p.LeaderID, p.LeaderEpoch = int32(st.LeaderID), int32(st.Epoch)
	d, leads := n.q.Describe(n.now.MonotonicMs)
	if !leads {
		p.ErrorCode = quorum.ErrNotLeaderOrFollower
	} else {
		p.HighWatermark = int64(d.HighWatermark)
		for _, v := range d.Voters {
			p.CurrentVoters = append(p.CurrentVoters, n.replicaState(v))
		}
		for _, v := range d.Observers {
			p.Observers = append(p.Observers, n.replicaState(v))
		}
		for _, v := range d.Voters {
			e, ok := n.cfg.VoterEndpoints[v.ID]
			if !ok {
				continue
			}
			node := kmsg.NewDescribeQuorumResponseNode()
			node.NodeID = int32(v.ID)
			node.Listeners = []kmsg.DescribeQuorumResponseNodeListener{{Name: e.Listener, Host: e.Host, Port: e.Port}}
			resp.Nodes = append(resp.Nodes, node)
		}
	}
	resp.Topics = []kmsg.DescribeQuorumResponseTopic{{Topic: quorum.MetadataTopic, Partitions: []kmsg.DescribeQuorumResponseTopicPartition{p}}}
	return resp
}

// replicaState converts a replica's view to the wire, its times to the wall clock.
func (n *Node) replicaState(v quorum.ReplicaView) kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
	s := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
	s.ReplicaID, s.LogEndOffset = int32(v.ID), int64(v.LogEndOffset)
	s.LastFetchTimestamp, s.LastCaughtUpTimestamp = n.wallMs(v.LastFetchMs), n.wallMs(v.LastCaughtUpMs)
	return s
}

// wallMs converts a monotonic time of this event's past to the wall clock; -1 stays -1.
func (n *Node) wallMs(monotonicMs int64) int64 {
	if monotonicMs < 0 {
		return -1
	}
	return n.now.WallMs - (n.now.MonotonicMs - monotonicMs)
}
