package broker

import (
	"fmt"
	"slices"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
)

// ReadCut reports that the driver served a read plan of tp short at offset (log.CutOffset):
// the batch there failed its checks, or its file was gone or shorter. Read plans run off the
// loop, and only there are whole batches checked, so this is how the broker learns that its
// own log is damaged. Left alone, a leader's damaged batch is never served again, so no
// follower gets past it and, above the high watermark, nothing is committed again: the
// partition is stuck for good. So the broker looks for the damage itself (one batch read
// inline; a cut that came from a race with a truncation or a deletion finds none) and, when
// it leads tp and the damage is there:
//   - at or above both the high watermark and its epoch start, no one can have seen those
//     records committed: the log is cut there, as recovery would cut it on a restart, and the
//     produces waiting for them fail (KAFKA_STORAGE_ERROR, retriable);
//   - lower, the records may be committed, and this replica no longer holds what its leadership
//     vouches for. When another replica can take over (in the ISR or the ELR), the log is cut
//     and the broker stops, marked to come back as from an unclean restart (KIP-966): the
//     controller takes it out of every ISR and ELR and elects a replica that holds the records.
//     This is Kafka's log-directory failure with one directory: the broker halts. With no one
//     to take over, the last eligible replica cuts what lies above its high watermark (its
//     epoch then starts at the cut: the loss is the disk's) and keeps what lies below,
//     serving up to the damage.
func (n *Node) ReadCut(now Clocks, tp storage.TopicPartition, offset record.Offset) Ready {
	n.begin(now)
	if n.fatal == nil {
		n.checkDamage(tp, offset)
	}
	return n.ready()
}

// checkDamage looks for damage in tp's log at offset and deals with it (ReadCut).
func (n *Node) checkDamage(tp storage.TopicPartition, offset record.Offset) {
	r, leads := n.leading(tp)
	l, ok := n.logs.GetLog(tp)
	if !leads || !ok {
		return // a follower's log serves no reads: its leader's does
	}
	d, found, err := l.FindDamage(offset)
	if err != nil {
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: %s: looking for damage at %d after a read plan was cut there: %w", tp, offset, err))
		return
	}
	if !found {
		return
	}
	hw, epochStart := r.leader.HighWatermark(), r.leader.EpochStart()
	if d.Offset >= hw && d.Offset >= epochStart {
		n.cutOwnDamage(r, l, d)
		return
	}
	self := n.cfg.Broker.NodeID
	others := slices.ContainsFunc(r.part.ISR, func(id int32) bool { return id != self }) ||
		slices.ContainsFunc(r.part.EligibleLeaderReplicas, func(id int32) bool { return id != self })
	switch {
	case others:
		n.stopForDamage(r, l, d)
	case d.Offset >= hw:
		// The last replica standing lost records an earlier leader may have shown committed
		// (below the epoch start): no one holds them to take over, and waiting for them
		// leaves the partition unreadable for good. Its epoch starts at the cut; the loss
		// is the disk's, as with an unclean election.
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: %s: records from %d damaged on disk, below the epoch start %d, and no other replica in the ISR %v or the ELR %v: the last eligible replica loses them",
			tp, d.Offset, epochStart, r.part.ISR, r.part.EligibleLeaderReplicas))
		n.cutOwnDamage(r, l, d)
	case !r.damageWarned || r.damageWarnedAt != d.Offset:
		r.damageWarned, r.damageWarnedAt = true, d.Offset
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: %s: records from %d damaged on disk (%w), below the high watermark %d, and no other replica in the ISR %v or the ELR %v to take over: serving what lies below it",
			tp, d.Offset, d.Err, hw, r.part.ISR, r.part.EligibleLeaderReplicas))
	}
}

// stopForDamage cuts a led partition's log at damage below what its leadership vouches for and
// stops the broker, its log dirs marked for an unclean restart (ReadCut).
func (n *Node) stopForDamage(r *partitionReplica, l *log.Log, d log.Damage) {
	n.mayNeedSync(r.tp)
	if err := l.CutDamage(d); err != nil {
		n.fail(fmt.Errorf("broker: %s: cutting records damaged on disk at %d: %w", r.tp, d.Offset, err))
		return
	}
	if err := n.logs.MarkUnclean(); err != nil {
		n.fail(fmt.Errorf("broker: %s: records at %d damaged on disk (%w), and marking the log dirs for an unclean restart failed: %w", r.tp, d.Offset, d.Err, err))
		return
	}
	n.fail(fmt.Errorf("broker: %s: records at %d, below the high watermark %d or the epoch start %d this leader vouches for, damaged on disk (%w): cut them and stopping, to come back as from an unclean restart so that a replica holding them takes over",
		r.tp, d.Offset, r.leader.HighWatermark(), r.leader.EpochStart(), d.Err))
}

// cutOwnDamage cuts a led partition's log at damage above its high watermark: followers
// holding records there truncate when their next fetch finds them diverged, and the
// idempotent producers' state goes back with the log.
func (n *Node) cutOwnDamage(r *partitionReplica, l *log.Log, d log.Damage) {
	n.mayNeedSync(r.tp)
	if err := l.CutDamage(d); err != nil {
		n.fail(fmt.Errorf("broker: %s: cutting its own records damaged on disk at %d: %w", r.tp, d.Offset, err))
		return
	}
	// The epoch cache lost the leader's epoch if it started at the cut: say again where it
	// starts, so a follower holding records of this epoch past the cut is found diverged.
	epoch := record.Epoch(r.part.LeaderEpoch)
	if latest, ok := l.LatestEpoch(); !ok || latest < epoch {
		if _, err := l.AssignEpochStart(epoch, l.EndOffset()); err != nil {
			n.fail(fmt.Errorf("broker: %s: epoch %d after cutting damage at %d: %w", r.tp, epoch, d.Offset, err))
			return
		}
	}
	r.leader.LogCut(l.EndOffset())
	delete(n.producers, r.tp)
	if _, err := n.loadProducerState(r.tp, l); err != nil {
		n.fail(err)
		return
	}
	end := l.EndOffset()
	n.settleProduces(r.tp, func(p *producePending) (bool, int16, error) {
		if p.upTo > end {
			return true, errKafkaStorageError, fmt.Errorf("records lost to damage on disk: %w", d.Err)
		}
		return false, errNone, nil
	})
	n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: %s: cut the log at %d: its own uncommitted records from there damaged on disk: %w", r.tp, d.Offset, d.Err))
	n.wakeFetches(r.tp)
}

// damageSuspect is a place a read in the loop found a damaged batch header (log.Read's
// ErrCorruptLog): checked once the request is handled (checkDamageSuspects), since cutting
// the log wakes fetches and must not happen while one is being evaluated.
type damageSuspect struct {
	tp     storage.TopicPartition
	offset record.Offset
}

// suspectDamage queues a check of tp's log at offset.
func (n *Node) suspectDamage(tp storage.TopicPartition, offset record.Offset) {
	s := damageSuspect{tp, offset}
	if !slices.Contains(n.damageSuspects, s) {
		n.damageSuspects = append(n.damageSuspects, s)
	}
}

// checkDamageSuspects checks the places reads found damaged headers at (ReadCut's checks).
func (n *Node) checkDamageSuspects() {
	for _, s := range n.damageSuspects {
		if n.fatal == nil {
			n.checkDamage(s.tp, s.offset)
		}
	}
	n.damageSuspects = n.damageSuspects[:0]
}
