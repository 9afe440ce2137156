package controller

import (
	"slices"

	"github.com/weirdata/weir/core/metadata"
)

// This file is Kafka's PartitionChangeBuilder: from a partition and the targets a command sets
// (ISR, replicas, reassignment, leader recovery state, election kind, brokers back from an
// unclean restart) it builds the one PartitionChangeRecord that moves the partition there, or
// nothing when nothing changes. Every change of a partition's leadership, ISR or assignment
// goes through it, so a broker losing its lease, an AlterPartition, an election and a
// reassignment all decide leaders the same way.
//
// With eligible leader replicas (KIP-966) it also keeps the ELR: the replicas that left an ISR
// already below min.insync.replicas, which hold every committed record because a leader does
// not advance the high watermark while its ISR is that small; and the last known ELR: when the
// ISR and ELR are both empty, the partition's last leader, which is elected again (uncleanly,
// RECOVERING) once it is back and unfenced — Kafka's balanced recovery, its default.

// election is PartitionChangeBuilder.Election.
type election int

const (
	// electionOnline keeps the partition online: keep the leader if it is still valid, else
	// the first valid replica.
	electionOnline election = iota
	// electionPreferred elects the first replica if it is valid, else keeps the leader, else
	// the first valid replica.
	electionPreferred
	// electionUnclean is electionOnline that, when no replica is valid, elects the first
	// acceptable replica outside the ISR (with the ISR reset to it, KIP-704's RECOVERING).
	electionUnclean
)

// Leader recovery states (KIP-704).
const (
	leaderRecoveryRecovered  int8 = 0
	leaderRecoveryRecovering int8 = 1
)

// partitionChangeBuilder collects the targets for one partition. Targets start as the
// partition's current state; build compares them with it.
type partitionChangeBuilder struct {
	mv      int16
	topicID metadata.UUID
	part    *metadata.Partition
	// acceptable reports whether a broker may lead (Kafka's isAcceptableLeader): active, or as
	// the caller decides while the image does not yet show a change it is making.
	acceptable func(int32) bool
	// elr: eligible leader replicas are in use (image.ELREnabled); minISR is the topic's
	// min.insync.replicas.
	elr    bool
	minISR int
	// uncleanShutdown is a broker back from an unclean restart (metadata.NoLeader for none):
	// it never becomes eligible (Kafka's uncleanShutdownReplicas).
	uncleanShutdown     int32
	election            election
	targetISR           []int32
	targetELR           []int32
	targetLastKnownELR  []int32
	targetReplicas      []int32
	targetRemoving      []int32
	targetAdding        []int32
	targetLeaderRecover int8
}

// newPartitionChangeBuilder starts a builder for topic t's partition part in img.
func (c *Controller) newPartitionChangeBuilder(img *metadata.Image, t *metadata.Topic, part *metadata.Partition, acceptable func(int32) bool) *partitionChangeBuilder {
	return &partitionChangeBuilder{
		mv:                  img.MetadataVersion(),
		topicID:             t.ID,
		part:                part,
		acceptable:          acceptable,
		elr:                 img.ELREnabled(),
		minISR:              int(c.minInsyncReplicas(img, t.Name)),
		uncleanShutdown:     metadata.NoLeader,
		targetISR:           slices.Clone(part.ISR),
		targetELR:           slices.Clone(part.EligibleLeaderReplicas),
		targetLastKnownELR:  slices.Clone(part.LastKnownELR),
		targetReplicas:      slices.Clone(part.Replicas),
		targetRemoving:      slices.Clone(part.RemovingReplicas),
		targetAdding:        slices.Clone(part.AddingReplicas),
		targetLeaderRecover: part.LeaderRecoveryState,
	}
}

// isValidNewLeader: acceptable, and in the target ISR, or in the ELR when the target ISR is
// empty.
func (b *partitionChangeBuilder) isValidNewLeader(id int32) bool {
	inISR := slices.Contains(b.targetISR, id)
	inELR := b.elr && len(b.targetISR) == 0 && slices.Contains(b.targetELR, id)
	return (inISR || inELR) && b.acceptable(id)
}

// populateTargetELR is Kafka's maybePopulateTargetElr: with an ISR of at least
// min.insync.replicas there is no ELR; below it, the members leaving the ISR join the ELR
// (they hold everything the high watermark reached before the ISR got this small), the ISR's
// members leave it, and a broker back from an unclean restart is never in it.
func (b *partitionChangeBuilder) populateTargetELR() {
	if !b.elr {
		return
	}
	if len(b.targetISR) >= b.minISR {
		b.targetELR, b.targetLastKnownELR = []int32{}, []int32{}
		return
	}
	candidates := slices.Clone(b.targetELR)
	for _, id := range b.part.ISR {
		if !slices.Contains(candidates, id) {
			candidates = append(candidates, id)
		}
	}
	b.targetELR = slices.DeleteFunc(slices.Clone(candidates), func(id int32) bool {
		return slices.Contains(b.targetISR, id) || id == b.uncleanShutdown || !slices.Contains(b.targetReplicas, id)
	})
	slices.Sort(b.targetELR)
	// The last known ELR: every candidate that is neither in the ISR nor in the ELR.
	for _, id := range b.targetLastKnownELR {
		if !slices.Contains(candidates, id) {
			candidates = append(candidates, id)
		}
	}
	b.targetLastKnownELR = slices.DeleteFunc(candidates, func(id int32) bool {
		return slices.Contains(b.targetISR, id) || slices.Contains(b.targetELR, id)
	})
	slices.Sort(b.targetLastKnownELR)
}

// canElectLastKnownLeader is Kafka's: with eligible leader replicas, no ISR and no ELR, the
// last known leader (the one member of the last known ELR) leads again once acceptable.
func (b *partitionChangeBuilder) canElectLastKnownLeader() bool {
	return b.elr && len(b.targetISR) == 0 && len(b.targetELR) == 0 && len(b.part.LastKnownELR) == 1 && b.acceptable(b.part.LastKnownELR[0])
}

// electLeader is Kafka's electLeader: the leader to have and whether the election is unclean.
func (b *partitionChangeBuilder) electLeader() (int32, bool) {
	if b.election == electionPreferred {
		if len(b.targetReplicas) > 0 && b.isValidNewLeader(b.targetReplicas[0]) {
			return b.targetReplicas[0], false
		}
		if b.isValidNewLeader(b.part.Leader) {
			return b.part.Leader, false
		}
		for _, id := range b.targetReplicas[min(1, len(b.targetReplicas)):] {
			if b.isValidNewLeader(id) {
				return id, false
			}
		}
		if b.canElectLastKnownLeader() {
			return b.part.LastKnownELR[0], true
		}
		return metadata.NoLeader, false
	}
	if b.isValidNewLeader(b.part.Leader) {
		return b.part.Leader, false
	}
	for _, id := range b.targetReplicas {
		if b.isValidNewLeader(id) {
			return id, false
		}
	}
	if b.canElectLastKnownLeader() {
		return b.part.LastKnownELR[0], true
	}
	if b.election == electionUnclean {
		for _, id := range b.targetReplicas {
			if b.acceptable(id) {
				return id, true
			}
		}
	}
	return metadata.NoLeader, false
}

// completeReassignmentIfNeeded is PartitionReassignmentReplicas.maybeCompleteReassignment: once
// the target ISR, less the replicas being removed, holds every replica that stays, the
// reassignment is done: the removed replicas leave the replicas and the ISR, and adding and
// removing are cleared.
func (b *partitionChangeBuilder) completeReassignmentIfNeeded() {
	if len(b.targetRemoving) == 0 && len(b.targetAdding) == 0 {
		return
	}
	isr, replicas := b.targetISR, b.targetReplicas
	if len(b.targetRemoving) > 0 {
		removed := func(id int32) bool { return slices.Contains(b.targetRemoving, id) }
		isr = slices.DeleteFunc(slices.Clone(b.targetISR), removed)
		if len(isr) == 0 {
			return
		}
		replicas = slices.DeleteFunc(slices.Clone(b.targetReplicas), removed)
		if len(replicas) == 0 {
			return
		}
	}
	if !containsAll(isr, replicas) {
		return
	}
	b.targetISR, b.targetReplicas = isr, replicas
	b.targetRemoving, b.targetAdding = []int32{}, []int32{}
}

// build returns the record, nil when it would change nothing (Kafka's changeRecordIsNoOp).
func (b *partitionChangeBuilder) build() *metadata.PartitionChangeRecord {
	part := b.part
	r := metadata.NewPartitionChangeRecord(b.topicID, part.ID)
	r.Version = partitionChangeRecordVersion(b.mv)

	b.completeReassignmentIfNeeded()
	b.populateTargetELR()

	// tryElection.
	if leader, unclean := b.electLeader(); leader != part.Leader {
		r.Leader = leader
		if b.elr && slices.Contains(b.targetELR, leader) {
			// Elected from the ELR (the ISR was empty): it is the ISR now.
			b.targetISR = []int32{leader}
			b.targetELR = slices.DeleteFunc(b.targetELR, func(id int32) bool { return id == leader })
		}
		if unclean {
			// The unclean leader's log is the truth from now on: the ISR is just the leader,
			// and it recovers before serving (KIP-704).
			r.ISR = []int32{leader}
			if part.LeaderRecoveryState != leaderRecoveryRecovering {
				r.LeaderRecoveryState = leaderRecoveryRecovering
			}
		}
	}

	// A replica leaving the assignment bumps the leader epoch, so its fetches are fenced.
	if r.Leader == metadata.NoLeaderChange && !containsAll(b.targetReplicas, part.Replicas) {
		r.Leader = part.Leader
	}

	// Kafka's maybeUpdateRecordElr: an unclean election empties the ELR (nobody's log is
	// known to hold what the new leader's lacks, or the other way round).
	if b.elr {
		if r.ISR != nil {
			b.targetELR, b.targetLastKnownELR = []int32{}, []int32{}
		}
		if !slices.Equal(b.targetELR, part.EligibleLeaderReplicas) && (len(b.targetELR) > 0 || len(part.EligibleLeaderReplicas) > 0) {
			r.EligibleLeaderReplicas = nonNil(b.targetELR)
		}
		leaderless := r.Leader == metadata.NoLeader || r.Leader == metadata.NoLeaderChange && part.Leader == metadata.NoLeader
		if len(part.LastKnownELR) == 1 && leaderless {
			// The last known leader stays recorded while the partition has no leader.
			b.targetLastKnownELR = slices.Clone(part.LastKnownELR)
		}
	}

	// Without ELR an empty target ISR is not written: the last member stays, as in Kafka, so
	// the partition knows whose log is newest. With ELR the ISR may be empty: the ELR knows.
	if r.ISR == nil && (len(b.targetISR) > 0 || b.elr) && !slices.Equal(b.targetISR, part.ISR) {
		r.ISR = nonNil(b.targetISR)
	}

	// Kafka's maybeUpdateRecordElr and maybeUpdateLastKnownLeader: the ISR emptying records
	// the leader it had as the last known leader (once); otherwise the last known ELR is
	// written where it changes.
	if b.elr {
		if r.ISR != nil && len(r.ISR) == 0 && part.Leader != metadata.NoLeader && !slices.Equal(part.LastKnownELR, []int32{part.Leader}) {
			b.targetLastKnownELR = []int32{part.Leader}
		}
		if !slices.Equal(b.targetLastKnownELR, part.LastKnownELR) && (len(b.targetLastKnownELR) > 0 || len(part.LastKnownELR) > 0) {
			r.LastKnownELR = nonNil(b.targetLastKnownELR)
		}
	}

	// Before 3.6-IV0 an ISR shrink also bumps the leader epoch (KAFKA-15021).
	if b.mv < mvLeaderEpochBumpOnIsrShrinkBefore && r.Leader == metadata.NoLeaderChange && r.ISR != nil && !containsAll(r.ISR, part.ISR) {
		r.Leader = part.Leader
	}

	b.setAssignmentChanges(r)

	if b.targetLeaderRecover != part.LeaderRecoveryState {
		r.LeaderRecoveryState = b.targetLeaderRecover
	}

	if r.ISR == nil && r.Leader == metadata.NoLeaderChange && r.Replicas == nil && r.RemovingReplicas == nil &&
		r.AddingReplicas == nil && r.LeaderRecoveryState == metadata.NoLeaderRecoveryStateChange && r.Directories == nil &&
		r.EligibleLeaderReplicas == nil && r.LastKnownELR == nil {
		return nil
	}
	return r
}

// setAssignmentChanges writes the replicas, their directories (from 3.7-IV2: a kept replica
// keeps its directory, a new one is unassigned until its broker places it), and the
// reassignment's adding and removing lists, each where it changes.
func (b *partitionChangeBuilder) setAssignmentChanges(r *metadata.PartitionChangeRecord) {
	part := b.part
	if len(b.targetReplicas) > 0 {
		if b.mv >= mvDirectoryAssignment {
			// A partition written before directory assignment has no directories: Kafka reads
			// them as unassigned.
			current := part.Directories
			if len(current) == 0 {
				current = make([]metadata.UUID, len(part.Replicas))
				for i := range current {
					current[i] = metadata.DirectoryUnassigned
				}
			}
			dirs := make([]metadata.UUID, len(b.targetReplicas))
			for i, id := range b.targetReplicas {
				dirs[i] = metadata.DirectoryUnassigned
				if j := slices.Index(part.Replicas, id); j >= 0 {
					dirs[i] = current[j]
				}
			}
			if !slices.Equal(dirs, current) {
				r.Directories = dirs
			}
		}
		if !slices.Equal(b.targetReplicas, part.Replicas) {
			r.Replicas = slices.Clone(b.targetReplicas)
		}
	}
	if !slices.Equal(b.targetRemoving, part.RemovingReplicas) {
		r.RemovingReplicas = nonNil(b.targetRemoving)
	}
	if !slices.Equal(b.targetAdding, part.AddingReplicas) {
		r.AddingReplicas = nonNil(b.targetAdding)
	}
}

// nonNil returns ids, or an empty list for nil: a record field set to "now empty" must not read
// as "unchanged".
func nonNil(ids []int32) []int32 {
	if ids == nil {
		return []int32{}
	}
	return slices.Clone(ids)
}

func containsAll(set, of []int32) bool {
	for _, id := range of {
		if !slices.Contains(set, id) {
			return false
		}
	}
	return true
}
