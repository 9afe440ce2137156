package quorum

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// RejectResponse is the answer to a request FromKmsg rejected with rej, at the request's
// version, as Kafka's KafkaRaftClient words it: a top-level error with no partitions, or (for
// INVALID_VOTER_KEY and FetchSnapshot's UNKNOWN_TOPIC_OR_PARTITION) the partition asked for
// with the error and leader, the responder's current leader and epoch.
func RejectResponse(req kmsg.Request, rej *RejectError, leader LeaderAndEpoch) kmsg.Response {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	switch r := resp.(type) {
	case *kmsg.VoteResponse:
		if rej.TopLevel {
			r.ErrorCode = rej.Code
			break
		}
		q := req.(*kmsg.VoteRequest)
		p := kmsg.NewVoteResponseTopicPartition()
		p.Partition, p.ErrorCode = q.Topics[0].Partitions[0].Partition, rej.Code
		p.LeaderID, p.LeaderEpoch = int32(leader.LeaderID), int32(leader.LeaderEpoch)
		r.Topics = []kmsg.VoteResponseTopic{{Topic: q.Topics[0].Topic, Partitions: []kmsg.VoteResponseTopicPartition{p}}}
	case *kmsg.BeginQuorumEpochResponse:
		if rej.TopLevel {
			r.ErrorCode = rej.Code
			break
		}
		q := req.(*kmsg.BeginQuorumEpochRequest)
		p := kmsg.NewBeginQuorumEpochResponseTopicPartition()
		p.Partition, p.ErrorCode = q.Topics[0].Partitions[0].Partition, rej.Code
		p.LeaderID, p.LeaderEpoch = int32(leader.LeaderID), int32(leader.LeaderEpoch)
		r.Topics = []kmsg.BeginQuorumEpochResponseTopic{{Topic: q.Topics[0].Topic, Partitions: []kmsg.BeginQuorumEpochResponseTopicPartition{p}}}
	case *kmsg.FetchSnapshotResponse:
		if rej.TopLevel {
			r.ErrorCode = rej.Code
			break
		}
		q := req.(*kmsg.FetchSnapshotRequest)
		p := kmsg.NewFetchSnapshotResponseTopicPartition()
		p.Partition, p.ErrorCode = q.Topics[0].Partitions[0].Partition, rej.Code
		p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = int32(leader.LeaderID), int32(leader.LeaderEpoch)
		r.Topics = []kmsg.FetchSnapshotResponseTopic{{Topic: q.Topics[0].Topic, Partitions: []kmsg.FetchSnapshotResponseTopicPartition{p}}}
	case *kmsg.EndQuorumEpochResponse:
		r.ErrorCode = rej.Code
	case *kmsg.FetchResponse:
		r.ErrorCode = rej.Code
	default:
		panic(fmt.Sprintf("quorum: invariant: RejectResponse for %T, not a quorum request", req))
	}
	return resp
}
