package quorum

import (
	"fmt"
	"slices"
)

// Config is one member's quorum configuration. Names follow Kafka's controller.quorum.* keys.
type Config struct {
	// ID is this node's node.id.
	ID NodeID
	// Voters is the static voter set (controller.quorum.voters): 1, 3 or 5 ids, or any odd or
	// even count ≥ 1. A node whose ID is not a voter is an observer: it fetches, never votes.
	Voters []NodeID
	// ElectionTimeoutMs (controller.quorum.election.timeout.ms, 1000): an election starts after
	// a random time in [ElectionTimeoutMs, 2·ElectionTimeoutMs) without a leader.
	ElectionTimeoutMs int64
	// ElectionBackoffMaxMs (controller.quorum.election.backoff.max.ms, 1000) bounds the wait of
	// a voter that is not the first preferred successor of a resigning leader.
	ElectionBackoffMaxMs int64
	// FetchTimeoutMs (controller.quorum.fetch.timeout.ms, 2000): a follower that has not heard
	// from its leader for this long starts a pre-vote; a leader that has not been fetched from
	// by a majority for 1.5 times this long resigns (check-quorum).
	FetchTimeoutMs int64
	// RequestTimeoutMs (controller.quorum.request.timeout.ms, 2000): an unanswered fetch or
	// BeginQuorumEpoch is sent again after this long.
	RequestTimeoutMs int64
	// RetryBackoffMs (controller.quorum.retry.backoff.ms, 20): wait after a failed fetch.
	RetryBackoffMs int64
	// FetchMaxWaitMs (500): how long a leader holds a fetch that finds nothing new.
	FetchMaxWaitMs int32
	// FetchEntriesMax bounds the entries of one fetch response.
	FetchEntriesMax int32
	// UncommittedEntriesMax bounds what a leader accepts above its high watermark.
	UncommittedEntriesMax int64
	// ProposalEntriesMax bounds the entries of one Propose call, which become one batch
	// (Kafka's QuorumController.MAX_RECORDS_PER_BATCH, 10000). At most UncommittedEntriesMax.
	ProposalEntriesMax int
	// ObserversMax bounds the observers a leader holds fetches for.
	ObserversMax int
	// SnapshotChunkBytesMax bounds one FetchSnapshot chunk (Kafka sends up to the fetch's
	// max bytes).
	SnapshotChunkBytesMax int32
	// SnapshotBytesMax bounds the size of a snapshot a follower accepts.
	SnapshotBytesMax int64

	// bug plants a deliberate bug (tests only; the zero value is none).
	bug bug
}

// DefaultConfig is Kafka's defaults for node id with the given voters.
func DefaultConfig(id NodeID, voters []NodeID) Config {
	return Config{
		ID: id, Voters: voters,
		ElectionTimeoutMs: 1000, ElectionBackoffMaxMs: 1000, FetchTimeoutMs: 2000,
		RequestTimeoutMs: 2000, RetryBackoffMs: 20, FetchMaxWaitMs: 500,
		FetchEntriesMax: 1024, UncommittedEntriesMax: 1 << 16, ProposalEntriesMax: 10000, ObserversMax: 64,
		SnapshotChunkBytesMax: 1 << 20, SnapshotBytesMax: 1 << 32,
	}
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	if c.ID < 0 {
		return fmt.Errorf("quorum: node id %d is negative", c.ID)
	}
	if len(c.Voters) == 0 {
		return fmt.Errorf("quorum: no voters")
	}
	sorted := slices.Clone(c.Voters)
	slices.Sort(sorted)
	for i, v := range sorted {
		if v < 0 || (i > 0 && sorted[i-1] == v) {
			return fmt.Errorf("quorum: voter set %v has a negative or repeated id", c.Voters)
		}
	}
	switch {
	case c.ElectionTimeoutMs <= 0, c.ElectionBackoffMaxMs <= 0, c.FetchTimeoutMs <= 0,
		c.RequestTimeoutMs <= 0, c.RetryBackoffMs <= 0, c.FetchMaxWaitMs < 0:
		return fmt.Errorf("quorum: timeouts must be positive: %+v", *c)
	case int64(c.FetchMaxWaitMs) >= c.RequestTimeoutMs:
		return fmt.Errorf("quorum: fetch max wait %d ms must be below the request timeout %d ms", c.FetchMaxWaitMs, c.RequestTimeoutMs)
	case 2*int64(c.FetchMaxWaitMs) >= c.FetchTimeoutMs:
		// An idle leader answers a held fetch only at its max wait: followers and the
		// leader's check-quorum must hear from each other well within the fetch timeout.
		return fmt.Errorf("quorum: fetch max wait %d ms must be below half the fetch timeout %d ms", c.FetchMaxWaitMs, c.FetchTimeoutMs)
	case c.FetchEntriesMax <= 0, c.UncommittedEntriesMax <= 0, c.ProposalEntriesMax <= 0, c.ObserversMax < 0,
		c.SnapshotChunkBytesMax <= 0, c.SnapshotBytesMax <= 0:
		return fmt.Errorf("quorum: bounds must be positive: %+v", *c)
	case int64(c.ProposalEntriesMax) > c.UncommittedEntriesMax:
		// A proposal that large could never be accepted.
		return fmt.Errorf("quorum: proposal entries max %d above the uncommitted entries max %d", c.ProposalEntriesMax, c.UncommittedEntriesMax)
	}
	return nil
}

// bug names a deliberate bug the randomized test plants to show it is caught.
type bug uint8

const (
	bugNone bug = iota
	// bugVoteBeforePersist: a granted vote is answered without being persisted.
	bugVoteBeforePersist
	// bugMinorityHighWatermark: the leader's HW follows its most advanced replica alone.
	bugMinorityHighWatermark
	// bugCommitEarlierEpoch: the HW may stop at or below the leader's epoch start, committing
	// an earlier epoch's entries by counting the replicas that hold them.
	bugCommitEarlierEpoch
	// bugHighWatermarkInsideBatch: the leader's HW is the majority offset as is, not rounded
	// down to a batch boundary.
	bugHighWatermarkInsideBatch
)

func (b bug) String() string {
	switch b {
	case bugVoteBeforePersist:
		return "vote-before-persist"
	case bugMinorityHighWatermark:
		return "minority-high-watermark"
	case bugCommitEarlierEpoch:
		return "commit-earlier-epoch"
	case bugHighWatermarkInsideBatch:
		return "hw-inside-batch"
	}
	return "none"
}
