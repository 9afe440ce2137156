package buggify

import (
	"fmt"
	"slices"
	"strings"
)

// Bug names a deliberate bug core can be built to have at run time. The simulator's power is
// shown by planting each one and watching a checker catch it (DESIGN §8, "proof of power").
// Planted bugs draw nothing from the PRNG: a planted run replays exactly like any other.
type Bug string

const (
	// BugAckBeforeFsync: acks=1/-1 produces are answered after the page-cache write, before
	// the sync covering them (a crash then loses acknowledged records).
	BugAckBeforeFsync Bug = "ack-before-fsync"
	// BugRecoverySkipsCRC: log recovery keeps a batch its checks find corrupt (a CRC
	// mismatch) instead of truncating the log there.
	BugRecoverySkipsCRC Bug = "recovery-skips-crc"
	// BugIndexOffByOne: the offset index lookup takes the entry after the last one at or below
	// the offset wanted, so a read of an indexed batch's last offset starts past it.
	BugIndexOffByOne Bug = "index-off-by-one"
	// BugServeAboveHW: fetches read up to the log end, past the high watermark they report.
	BugServeAboveHW Bug = "serve-above-hw"
	// BugLoseProducerState: a partition's idempotent-producer state starts empty when its log
	// is opened, as if snapshots and the log replay were lost.
	BugLoseProducerState Bug = "lose-producer-state"
	// BugRetentionDeletesActive: when retention deletes any segment it deletes the active
	// one too (rolling first), records too young for retention.ms included.
	BugRetentionDeletesActive Bug = "retention-deletes-active"

	// Replication bugs Kafka had, each undoing one fix (the replication scenarios name them).

	// BugTruncateToHW: a follower taking a new leader epoch first cuts its log back to the high
	// watermark it knew (Kafka before KIP-101), which may be below records the ISR acknowledged.
	BugTruncateToHW Bug = "truncate-to-hw"
	// BugSkipDivergenceCheck: a leader answers a follower's fetch without comparing its last
	// fetched epoch with its own log (KIP-101, KIP-320), so a follower keeps records of an epoch
	// the leader never had.
	BugSkipDivergenceCheck Bug = "skip-divergence-check"
	// BugTruncateIgnoresOwnEpochs: a diverged follower truncates to the end offset the leader
	// gave without bounding it by the end of its own copy of that epoch (KIP-279), keeping
	// records of a later epoch below that offset.
	BugTruncateIgnoresOwnEpochs Bug = "truncate-ignores-own-epochs"
	// BugShowUnestablishedHW: a new leader shows clients its high watermark before it reached
	// its epoch start (KIP-207), which may be below one its predecessor showed.
	BugShowUnestablishedHW Bug = "show-unestablished-hw"
	// BugFollowerSkipsProducerState: a follower appends replicated batches without recording
	// them in its idempotent-producer state, so after a failover a retry is appended again.
	BugFollowerSkipsProducerState Bug = "follower-skips-producer-state"
	// BugISRWithoutBrokerEpochs: a leader's AlterPartition gives no broker epoch for the
	// members of the ISR it proposes (AlterPartition before v3, KIP-903), so the controller
	// cannot tell the incarnation that caught up from a later one that restarted empty.
	BugISRWithoutBrokerEpochs Bug = "isr-without-broker-epochs"
	// BugAdmitFencedReplica: a leader proposes, and the controller admits, a follower whose
	// broker is fenced or in controlled shutdown (Kafka before KIP-841), since the follower
	// still fetches and is caught up.
	BugAdmitFencedReplica Bug = "admit-fenced-replica"
	// BugIgnoreUncleanRestart: the controller takes every registration of a known broker as
	// a clean restart, whatever its PreviousBrokerEpoch (KIP-966's unclean-shutdown detection
	// undone), so a broker back with an empty disk keeps its ISR or ELR standing.
	BugIgnoreUncleanRestart Bug = "ignore-unclean-restart"
	// BugConsumerSkipsValidation: a consumer goes on from its position after a leader change
	// without validating it against the new leader's epochs (Kafka's consumer before KIP-320),
	// so after an unclean election it silently skips the records written below its position.
	BugConsumerSkipsValidation Bug = "consumer-skips-validation"
)

// Bugs lists every bug that can be planted.
var Bugs = []Bug{BugAckBeforeFsync, BugRecoverySkipsCRC, BugIndexOffByOne, BugServeAboveHW, BugLoseProducerState, BugRetentionDeletesActive,
	BugTruncateToHW, BugSkipDivergenceCheck, BugTruncateIgnoresOwnEpochs, BugShowUnestablishedHW,
	BugFollowerSkipsProducerState, BugISRWithoutBrokerEpochs, BugAdmitFencedReplica, BugIgnoreUncleanRestart,
	BugConsumerSkipsValidation}

// ParseBugs reads a comma-separated list of bug names ("" is none).
func ParseBugs(list string) ([]Bug, error) {
	if list == "" {
		return nil, nil
	}
	var out []Bug
	for name := range strings.SplitSeq(list, ",") {
		bug := Bug(strings.TrimSpace(name))
		if !slices.Contains(Bugs, bug) {
			return nil, fmt.Errorf("buggify: unknown bug %q (known: %s)", bug, joinBugs(Bugs))
		}
		out = append(out, bug)
	}
	return out, nil
}

func joinBugs(bugs []Bug) string {
	names := make([]string, len(bugs))
	for i, b := range bugs {
		names[i] = string(b)
	}
	return strings.Join(names, ", ")
}

// Planted reports whether bug is planted in this run. A nil B plants nothing.
func (b *B) Planted(bug Bug) bool {
	return b != nil && slices.Contains(b.planted, bug)
}
