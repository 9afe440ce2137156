package controller

// AlterPartitionReassignments and ListPartitionReassignments (KIP-455), as Kafka's KRaft
// ReplicationControlManager decides them.
//
// A reassignment of a partition to target replicas T, from current replicas R (which, while a
// reassignment runs, is its union of old and new), writes:
//
//	replicas = T followed by R∖T (sorted), removing = R∖T (sorted), adding = T∖R (sorted)
//
// (Kafka's PartitionReassignmentReplicas). The partition change builder then completes
// the reassignment at once when the ISR, less the removed replicas, already holds every replica
// that stays (a reordering, or a shrink); otherwise the new replicas join the ISR through the
// leader's AlterPartition, and the one that completes it drops the removed replicas and moves
// the leadership if the leader was one of them. The target must be non-empty, without
// duplicates, and name registered brokers (INVALID_REPLICA_ASSIGNMENT).
//
// A null target cancels: NO_REASSIGNMENT_IN_PROGRESS when none runs; otherwise the replicas
// become R less adding, the ISR loses the adding replicas, and, should that empty it, the
// first remaining replica is put in it, which is an unclean election and so is refused
// (INVALID_REPLICA_ASSIGNMENT) unless the topic allows unclean elections (Kafka's
// PartitionReassignmentRevert).
//
// An unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION. The records of every partition
// form one Result.
//
// Where Weir differs from Kafka: a new target for a partition already being reassigned replaces
// the running reassignment's lists (KIP-455: the new reassignment supersedes the old). Kafka's
// KRaft controller only sets non-empty lists, so an empty removing or adding list leaves the
// old one in place and the partition may end on the old target's replicas: reassigning a
// partition to its current replicas while a reassignment runs completes the old reassignment.
// Here removing is always R∖T, and adding is T∖R plus the replicas of T the running
// reassignment was still adding (they may not have caught up yet).

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
)

// AlterPartitionReassignments decides an AlterPartitionReassignments request (kmsg's
// AlterPartitionAssignments) on img, the latest image.
func (c *Controller) AlterPartitionReassignments(img *metadata.Image, nowMs int64, req *kmsg.AlterPartitionAssignmentsRequest) Result {
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	p := newProposal(img)
	for _, rt := range req.Topics {
		out := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		out.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			op := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			op.Partition = rp.Partition
			if aerr := c.alterPartitionReassignment(p, rt.Topic, rp.Partition, rp.Replicas); aerr != nil {
				op.ErrorCode, op.ErrorMessage = aerr.code, strp(aerr.msg)
			}
			out.Partitions = append(out.Partitions, op)
		}
		resp.Topics = append(resp.Topics, out)
	}
	return Result{Records: p.records, Response: resp}
}

// alterPartitionReassignment starts, changes or (target nil) cancels one partition's
// reassignment, adding its record, if any, to p.
func (c *Controller) alterPartitionReassignment(p *proposal, topicName string, partition int32, target []int32) *apiError {
	img := p.image()
	t, ok := img.TopicByName(topicName)
	if !ok {
		return errorf(errUnknownTopicOrPartition, "Unable to find a topic named %s.", topicName)
	}
	part, ok := t.Partition(partition)
	if !ok {
		return errorf(errUnknownTopicOrPartition, "Unable to find partition %s:%d.", topicName, partition)
	}
	b := c.newPartitionChangeBuilder(img, t, part, func(id int32) bool { return isActive(img, id) })
	if target == nil {
		if !reassigning(part) {
			return errorf(errNoReassignmentInProgress, "No partition reassignment is in progress.")
		}
		unclean := c.uncleanElectionEnabled(img, topicName)
		replicas, isr, revertUnclean := revertReassignment(part)
		if revertUnclean && !unclean {
			return errorf(errInvalidReplicaAssignment, "Unable to revert partition assignment for %s:%d because it would require an unclean leader election.", topicName, partition)
		}
		if unclean {
			b.election = electionUnclean
		}
		b.targetISR, b.targetReplicas = isr, replicas
		b.targetRemoving, b.targetAdding = []int32{}, []int32{}
	} else {
		if aerr := checkReassignmentTarget(img, target); aerr != nil {
			return aerr
		}
		replicas, removing, adding := reassignmentReplicas(part.Replicas, target)
		for _, id := range part.AddingReplicas {
			if slices.Contains(target, id) && !slices.Contains(adding, id) {
				adding = append(adding, id)
			}
		}
		slices.Sort(adding)
		b.targetReplicas = replicas
		b.targetRemoving, b.targetAdding = nonNil(removing), nonNil(adding)
	}
	if r := b.build(); r != nil {
		p.add(r)
	}
	return nil
}

// checkReassignmentTarget is Kafka's validateManualPartitionAssignment without a replication
// factor to match.
func checkReassignmentTarget(img *metadata.Image, target []int32) *apiError {
	if len(target) == 0 {
		return errorf(errInvalidReplicaAssignment, "The manual partition assignment includes an empty replica list.")
	}
	sorted := slices.Sorted(slices.Values(target))
	for i, id := range sorted {
		if _, ok := img.Broker(id); !ok {
			return errorf(errInvalidReplicaAssignment, "The manual partition assignment includes broker %d, but no such broker is registered.", id)
		}
		if i > 0 && sorted[i-1] == id {
			return errorf(errInvalidReplicaAssignment, "The manual partition assignment includes the broker %d more than once.", id)
		}
	}
	return nil
}

// reassignmentReplicas is PartitionReassignmentReplicas(current, target).
func reassignmentReplicas(current, target []int32) (replicas, removing, adding []int32) {
	for _, id := range current {
		if !slices.Contains(target, id) {
			removing = append(removing, id)
		}
	}
	for _, id := range target {
		if !slices.Contains(current, id) {
			adding = append(adding, id)
		}
	}
	slices.Sort(removing)
	slices.Sort(adding)
	replicas = append(slices.Clone(target), removing...)
	return replicas, removing, adding
}

// revertReassignment is PartitionReassignmentRevert: the replicas less those being added, the
// ISR less those too, or, when that leaves it empty, the first remaining replica (unclean).
func revertReassignment(part *metadata.Partition) (replicas, isr []int32, unclean bool) {
	adding := func(id int32) bool { return slices.Contains(part.AddingReplicas, id) }
	replicas = slices.DeleteFunc(slices.Clone(part.Replicas), adding)
	isr = slices.DeleteFunc(slices.Clone(part.ISR), adding)
	if len(replicas) == 0 {
		// Replay refuses a partition whose adding replicas are all its replicas.
		panic(fmt.Sprintf("controller: invariant broken: partition %d adds all of its replicas %v", part.ID, part.Replicas))
	}
	if len(isr) == 0 {
		return replicas, []int32{replicas[0]}, true
	}
	return replicas, isr, false
}

// reassigning is Kafka's isReassignmentInProgress.
func reassigning(part *metadata.Partition) bool {
	return len(part.RemovingReplicas) > 0 || len(part.AddingReplicas) > 0
}

// ListPartitionReassignments answers a ListPartitionReassignments request on img: every
// partition with a reassignment running (null topics), or those of the named partitions;
// unknown topics and partitions, and partitions not being reassigned, are left out, as Kafka.
func (c *Controller) ListPartitionReassignments(img *metadata.Image, nowMs int64, req *kmsg.ListPartitionReassignmentsRequest) Result {
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	list := func(t *metadata.Topic, ids []int32) {
		out := kmsg.NewListPartitionReassignmentsResponseTopic()
		out.Topic = t.Name
		for _, id := range ids {
			part, ok := t.Partition(id)
			if !ok || !reassigning(part) {
				continue
			}
			op := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
			op.Partition = id
			op.Replicas = slices.Clone(part.Replicas)
			op.AddingReplicas = nonNil(part.AddingReplicas)
			op.RemovingReplicas = nonNil(part.RemovingReplicas)
			out.Partitions = append(out.Partitions, op)
		}
		if len(out.Partitions) > 0 {
			resp.Topics = append(resp.Topics, out)
		}
	}
	if req.Topics == nil {
		for _, t := range img.Topics() {
			var ids []int32
			for _, part := range t.Partitions() {
				ids = append(ids, part.ID)
			}
			list(t, ids)
		}
		return Result{Response: resp}
	}
	for _, rt := range req.Topics {
		if t, ok := img.TopicByName(rt.Topic); ok {
			list(t, rt.Partitions)
		}
	}
	return Result{Response: resp}
}
