package sim

import (
	"fmt"
	"math"
	"strings"

	"github.com/weirdata/weir/core/check"
)

// refusedCorrupt reports whether a fetch failed because the broker found its data corrupt.
func refusedCorrupt(err string) bool {
	return strings.Contains(err, "KAFKA_STORAGE_ERROR") || strings.Contains(err, "CORRUPT_MESSAGE")
}

// finalReads reads every partition from its log start to its high watermark with a fresh
// client once faults have stopped, and adds those fetches to history marked Final.
func finalReads(w *World, network *Network, addrs []string, k Knobs, index int, history *check.History, limitNs int64, excused []ExcusedRange) string {
	var reads check.History
	reader, err := NewClientHost(w, network, "final", runClientConfig(addrs, index, false, k), &reads)
	if err != nil {
		return fmt.Sprintf("final reads: %v", err)
	}
	deadlineNs := w.NowNs() + limitNs
	for p := int32(0); p < k.Partitions; p++ {
		r := finalReader{excused: excused, partition: p, emptyAt: -1, destroyedFrom: -1}
		for !r.done {
			reader.Fetch(workloadTopic, p, r.position)
			if !w.RunUntilTrue(func() bool { return reader.Pending() == 0 }, deadlineNs) {
				return fmt.Sprintf("liveness: final read of partition %d at %d unanswered", p, r.position)
			}
			op := reads.Ops[len(reads.Ops)-1]
			at := r.position
			final, stuck := r.answer(op)
			if final {
				op.Final = true
				history.Add(op)
				r.answered = true
			}
			if r.destroyedFrom >= 0 && !r.answered {
				// Everything the partition holds was destroyed (its leader's disk took it
				// all): the checker still needs a final read to hold the partition to, one
				// that reads nothing and ends where the destruction starts. Records there
				// stay promised unless the damage excuses them.
				op.Outcome, op.Err, op.Final = check.OutcomeOK, "", true
				op.Records, op.FetchOffset, op.HighWatermark = nil, r.destroyedFrom, r.destroyedFrom
				op.LogStartOffset = min(max(op.LogStartOffset, 0), r.destroyedFrom)
				history.Add(op)
				r.answered = true
			}
			if r.done || !stuck || w.NowNs() < deadlineNs {
				continue
			}
			if op.Outcome != check.OutcomeOK {
				return fmt.Sprintf("liveness: final read of partition %d at %d: %s %s", p, at, op.Outcome, op.Err)
			}
			return fmt.Sprintf("liveness: final read of partition %d stuck at %d below the high watermark %d", p, r.position, op.HighWatermark)
		}
	}
	return ""
}

// finalReader is one partition's final read: from each answer, where to fetch next, stepping
// over offsets the disk destroyed (which the broker refuses to serve) and nothing else.
type finalReader struct {
	excused   []ExcusedRange
	partition int32
	// position is where the next fetch reads from; done is set once the partition is read to
	// its high watermark, or everything from position on was destroyed.
	position int64
	done     bool
	// emptyAt is the position an OK answer last came back empty at, below the high
	// watermark (-1: none). Such an answer is a refusal only if it comes again: a read plan is
	// also cut short, once, when retention deleted its segment before the read ran.
	emptyAt int64
	// answered is set once a final read of the partition went into the history;
	// destroyedFrom is the position from which everything was destroyed, when the reader
	// stopped there (-1: it did not).
	answered      bool
	destroyedFrom int64
}

// answer takes the answer to a fetch at r.position. final reports whether op is a final read
// for the history (an OK answer); stuck whether it may have made no progress (a failure to
// retry, an answer without records), which the caller bounds by its deadline.
func (r *finalReader) answer(op check.Op) (final, stuck bool) {
	switch {
	case op.Outcome == check.OutcomeFailed && strings.HasPrefix(op.Err, "OFFSET_OUT_OF_RANGE") && op.LogStartOffset > r.position:
		r.position = op.LogStartOffset
		return false, false
	case op.Outcome != check.OutcomeOK:
		if next, ok := SkipExcused(r.excused, workloadTopic, r.partition, r.position); ok && next > r.position && refusedCorrupt(op.Err) {
			// A batch the disk destroyed, which the broker refuses to read: read on past it, or
			// stop when everything from here on was destroyed.
			if next == math.MaxInt64 {
				r.done, r.destroyedFrom = true, r.position
			} else {
				r.position = next
			}
			return false, false
		}
		return false, true // a retriable failure: read again
	}
	switch {
	case len(op.Records) > 0:
		r.position = op.Records[len(op.Records)-1].Offset + 1
	case r.position >= op.HighWatermark:
	case r.emptyAt != r.position:
		// Nothing below the high watermark: ask again before taking it for a refusal. The
		// segment may have gone to retention after the fetch was planned; the next answer
		// then says where the log starts now.
		r.emptyAt = r.position
	default:
		if next, ok := SkipExcused(r.excused, workloadTopic, r.partition, r.position); ok && next > r.position {
			// A batch the disk destroyed: the broker refuses to serve it (nothing comes back
			// below the high watermark, again); read on past it.
			r.position = min(next, op.HighWatermark)
		}
	}
	if r.position >= op.HighWatermark {
		r.done = true
	}
	return true, len(op.Records) == 0
}
