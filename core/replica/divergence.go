package replica

import (
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
)

// EpochEnd is a leader epoch and the offset where it ends in a log (the start of the next
// epoch, or the log end for the latest), as Fetch's DivergingEpoch and OffsetForLeaderEpoch
// carry it; Epoch -1 when the log knows no epoch at or below the one asked about.
type EpochEnd struct {
	Epoch     record.Epoch
	EndOffset record.Offset
}

// Diverged is the leader's check of a follower's fetch (Kafka's Partition.fetchRecords with
// KIP-320's last fetched epoch): the follower's log holds epoch lastFetchedEpoch up to
// fetchOffset; leaderEnd is the leader log's answer for that epoch (EndOffsetForEpoch). The
// follower diverged when the leader does not know that epoch or ends it before fetchOffset;
// the answer tells the follower where the leader's log of the nearest epoch ends. A fetch
// without a last fetched epoch (-1) is not checked, nor one against a leader whose log knows
// no epoch at all (EndOffsetForEpoch's undefined answer: it holds no record, e.g. retention
// emptied it), which has nothing to compare: the fetch offset's range check decides.
func Diverged(fetchOffset record.Offset, lastFetchedEpoch record.Epoch, leaderEnd EpochEnd) (EpochEnd, bool) {
	if lastFetchedEpoch < 0 || leaderEnd.Epoch < 0 {
		return EpochEnd{}, false
	}
	if leaderEnd.Epoch < lastFetchedEpoch || leaderEnd.EndOffset < fetchOffset {
		return leaderEnd, true
	}
	return EpochEnd{}, false
}

// TruncationOffset is where a follower whose log has the epochs entries and ends at logEnd
// truncates after the leader answered its fetch with div (Kafka's
// AbstractFetcherThread.getOffsetTruncationState): at the end of its own largest epoch at or
// below div.Epoch, and no later than div.EndOffset when that epoch is div.Epoch itself. When
// the follower's epoch is below div.Epoch the cut is intermediate: its next fetch carries that
// epoch and the leader checks again, until the logs agree. A follower knowing no epoch at or
// below div.Epoch keeps none of its records (all of them are from epochs the leader lacks).
func TruncationOffset(entries []log.EpochEntry, logEnd record.Offset, div EpochEnd) record.Offset {
	i := -1
	for j := range entries {
		if entries[j].Epoch <= div.Epoch {
			i = j
		}
	}
	if i < 0 {
		if len(entries) == 0 {
			if div.Epoch < 0 || div.EndOffset < 0 {
				return logEnd
			}
			return min(div.EndOffset, logEnd)
		}
		return min(entries[0].StartOffset, logEnd)
	}
	end := logEnd
	if i+1 < len(entries) {
		end = entries[i+1].StartOffset
	}
	if entries[i].Epoch == div.Epoch {
		end = min(end, div.EndOffset)
	}
	return min(end, logEnd)
}
