package controller

// AlterPartition (KIP-497; v2 topic ids, v3 broker epochs of KIP-903), as Kafka's
// ReplicationControlManager.alterPartition decides it: a partition leader asks to change its ISR
// (or, after an unclean election, to leave RECOVERING).
//
// The sender's registration must be current (its BrokerID and BrokerEpoch), else the whole
// request is STALE_BROKER_EPOCH. Then, per partition, in Kafka's order:
//   - an unknown topic is UNKNOWN_TOPIC_ID (v2+) or UNKNOWN_TOPIC_OR_PARTITION (v0-1), an
//     unknown partition UNKNOWN_TOPIC_OR_PARTITION;
//   - a leader or partition epoch above the controller's is NOT_CONTROLLER (this controller is
//     behind: the sender retries and finds the new one);
//   - an older leader epoch is FENCED_LEADER_EPOCH;
//   - a sender that is not the leader is INVALID_REQUEST;
//   - an older partition epoch is INVALID_UPDATE_VERSION (the ISR changed meanwhile);
//   - an ISR with a duplicate, a negative id, a broker outside the replicas, or without the
//     leader is INVALID_REQUEST, as is an ISR of more than the leader while RECOVERING, or going
//     from RECOVERED back to RECOVERING;
//   - a new ISR member that is not registered, fenced, in controlled shutdown, or (v3) not at
//     the broker epoch given (-1 skips the check) is INELIGIBLE_REPLICA (KIP-841, KIP-903;
//     OPERATION_NOT_ATTEMPTED before v2).
//
// An accepted change is built by the partition change builder with the new ISR and recovery
// state (an unclean election where the topic allows it): the partition epoch goes up by one;
// an ISR that now holds every replica of a reassignment completes it, and if that removes the
// leader, the leadership moves and the sender gets NEW_LEADER_ELECTED (FENCED_LEADER_EPOCH
// before v2) along with the record. Otherwise the answer echoes the partition's state after the
// change (or as it is, when nothing changes).

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/metadata"
)

// AlterPartition decides an AlterPartition request on img, the latest image.
func (c *Controller) AlterPartition(img *metadata.Image, nowMs int64, req *kmsg.AlterPartitionRequest) Result {
	resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
	if b, ok := img.Broker(req.BrokerID); !ok || b.Epoch != req.BrokerEpoch {
		resp.ErrorCode = errStaleBrokerEpoch
		return Result{Response: resp}
	}
	p := newProposal(img)
	for i := range req.Topics {
		rt := &req.Topics[i]
		out := kmsg.NewAlterPartitionResponseTopic()
		out.Topic, out.TopidID = rt.Topic, rt.TopicID
		var topic *metadata.Topic
		var ok bool
		if req.Version >= 2 {
			if rt.TopicID != [16]byte{} {
				topic, ok = p.image().TopicByID(metadata.UUID(rt.TopicID))
			}
		} else {
			topic, ok = p.image().TopicByName(rt.Topic)
		}
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			op := kmsg.NewAlterPartitionResponseTopicPartition()
			op.Partition = rp.Partition
			switch {
			case !ok && req.Version >= 2:
				op.ErrorCode = errUnknownTopicID
			case !ok:
				op.ErrorCode = errUnknownTopicOrPartition
			default:
				c.alterPartition(p, req, topic, rp, &op)
			}
			out.Partitions = append(out.Partitions, op)
		}
		resp.Topics = append(resp.Topics, out)
	}
	return Result{Records: p.records, Response: resp}
}

// newISR is the request's new ISR as broker ids with epochs (-1: not checked), v3's field or the
// plain list of earlier versions.
func newISR(version int16, rp *kmsg.AlterPartitionRequestTopicPartition) (ids []int32, epochs []int64) {
	if version >= 3 {
		for _, s := range rp.NewEpochISR {
			ids, epochs = append(ids, s.BrokerID), append(epochs, s.BrokerEpoch)
		}
		return ids, epochs
	}
	for _, id := range rp.NewISR {
		ids, epochs = append(ids, id), append(epochs, -1)
	}
	return ids, epochs
}

// alterPartition decides one partition of a known topic and fills its answer.
func (c *Controller) alterPartition(p *proposal, req *kmsg.AlterPartitionRequest, topic *metadata.Topic, rp *kmsg.AlterPartitionRequestTopicPartition, op *kmsg.AlterPartitionResponseTopicPartition) {
	// The latest state: an earlier entry of the request may have changed this partition.
	img := p.image()
	part, ok := img.Partition(topic.ID, rp.Partition)
	if !ok {
		op.ErrorCode = errUnknownTopicOrPartition
		return
	}
	ids, epochs := newISR(req.Version, rp)
	if code := c.validateAlterPartition(img, req, part, rp, ids, epochs); code != errNone {
		op.ErrorCode = code
		return
	}
	b := c.newPartitionChangeBuilder(img, topic, part, func(id int32) bool { return isActive(img, id) })
	if c.uncleanElectionEnabled(img, topic.Name) {
		b.election = electionUnclean
	}
	b.targetISR = slices.Clone(ids)
	b.targetLeaderRecover = rp.LeaderRecoveryState
	if req.Version < 1 {
		// v0 has no recovery state field: it means RECOVERED.
		b.targetLeaderRecover = leaderRecoveryRecovered
	}
	if r := b.build(); r != nil {
		p.add(r)
		part, _ = p.image().Partition(topic.ID, rp.Partition)
		if r.Leader != metadata.NoLeaderChange && r.Leader != req.BrokerID {
			// The change completed a reassignment that removed the sender: it is told to
			// refresh its metadata, though the change was made.
			op.ErrorCode = errNewLeaderElected
			if req.Version < 2 {
				op.ErrorCode = errFencedLeaderEpoch
			}
			return
		}
	}
	op.LeaderID = part.Leader
	op.LeaderEpoch = part.LeaderEpoch
	op.ISR = slices.Clone(part.ISR)
	op.LeaderRecoveryState = part.LeaderRecoveryState
	op.PartitionEpoch = part.PartitionEpoch
}

// validateAlterPartition is Kafka's validateAlterPartitionData.
func (c *Controller) validateAlterPartition(img *metadata.Image, req *kmsg.AlterPartitionRequest, part *metadata.Partition, rp *kmsg.AlterPartitionRequestTopicPartition, ids []int32, epochs []int64) int16 {
	switch {
	case rp.LeaderEpoch > part.LeaderEpoch, rp.PartitionEpoch > part.PartitionEpoch:
		return errNotController
	case rp.LeaderEpoch < part.LeaderEpoch:
		return errFencedLeaderEpoch
	case req.BrokerID != part.Leader:
		return errInvalidRequest
	case rp.PartitionEpoch < part.PartitionEpoch:
		return errInvalidUpdateVersion
	}
	for i, id := range ids {
		if id < 0 || slices.Contains(ids[:i], id) || !slices.Contains(part.Replicas, id) {
			return errInvalidRequest
		}
	}
	recoveryState := rp.LeaderRecoveryState
	if req.Version < 1 {
		recoveryState = leaderRecoveryRecovered
	}
	switch {
	case !slices.Contains(ids, part.Leader):
		return errInvalidRequest
	case recoveryState != leaderRecoveryRecovered && recoveryState != leaderRecoveryRecovering:
		// Kafka's LeaderRecoveryState.of refuses any other value.
		return errInvalidRequest
	case recoveryState == leaderRecoveryRecovering && len(ids) > 1:
		return errInvalidRequest
	case part.LeaderRecoveryState == leaderRecoveryRecovered && recoveryState == leaderRecoveryRecovering:
		return errInvalidRequest
	}
	for i, id := range ids {
		b, ok := img.Broker(id)
		if !ok || (b.InControlledShutdown || b.Fenced) && !c.cfg.Buggify.Planted(buggify.BugAdmitFencedReplica) || (epochs[i] != -1 && epochs[i] != b.Epoch) {
			if req.Version < 2 {
				return errOperationNotAttempted
			}
			return errIneligibleReplica
		}
	}
	return errNone
}
