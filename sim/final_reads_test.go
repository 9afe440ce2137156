package sim

import (
	"math"
	"testing"

	"github.com/weirdata/weir/core/check"
)

// fetched is an answer to a final fetch: OK with records at offsets from..to-1 (none when
// from == to), or failed with err.
func fetched(from, to, hw, logStart int64, err string) check.Op {
	op := check.Op{Kind: check.OpFetch, Topic: workloadTopic, FetchOffset: from, HighWatermark: hw, LogStartOffset: logStart, Outcome: check.OutcomeOK}
	if err != "" {
		op.Outcome, op.Err = check.OutcomeFailed, err
		return op
	}
	for o := from; o < to; o++ {
		op.Records = append(op.Records, check.Record{Offset: o, Value: "v"})
	}
	return op
}

// TestFinalReaderEmptyAnswerIsAskedAgain (seeds 1468 and 941 with every fault): an OK answer
// without records below the high watermark is not always a refusal of destroyed data. Here
// retention deleted the segment holding 527-531 in the same step that planned the fetch, so
// the read found no file and came back empty; an earlier recovery's truncation excuses offsets
// from 503 to the log's end, but only for produces invoked before it, and 527-531 were written
// after. The reader must ask again — the log start has moved past them, and the final reads
// must say so — rather than stop at the end of the range.
func TestFinalReaderEmptyAnswerIsAskedAgain(t *testing.T) {
	r := finalReader{excused: []ExcusedRange{
		{Topic: workloadTopic, Partition: 0, FirstOffset: 503, LastOffset: math.MaxInt64, InvokedByNs: 17129e6},
	}}
	steps := []struct {
		op           check.Op
		final        bool
		position     int64
		done         bool
		errorOrStuck bool
	}{
		{fetched(0, 0, 532, 527, "OFFSET_OUT_OF_RANGE"), false, 527, false, false},
		{fetched(527, 527, 532, 527, ""), true, 527, false, true}, // cut short: ask again
		{fetched(527, 527, 532, 532, "OFFSET_OUT_OF_RANGE"), false, 532, false, false},
		{fetched(532, 532, 532, 532, ""), true, 532, true, true},
	}
	for i, s := range steps {
		final, stuck := r.answer(s.op)
		if final != s.final || stuck != s.errorOrStuck || r.position != s.position || r.done != s.done {
			t.Fatalf("answer %d (%s %q, %d records, hw %d, log start %d): final %v stuck %v, position %d done %v; want %v %v, %d %v",
				i, s.op.Outcome, s.op.Err, len(s.op.Records), s.op.HighWatermark, s.op.LogStartOffset,
				final, stuck, r.position, r.done, s.final, s.errorOrStuck, s.position, s.done)
		}
	}
}

// TestFinalReaderSkipsRefusedBatch: an answer that stays empty at a destroyed batch is a
// refusal: the reader steps over the batch to the next offset, or stops where only a range to
// the log's end covers it; an empty answer where no damage is stays where it is (the caller's
// deadline bounds it), and a refusal by error steps over at once.
func TestFinalReaderSkipsRefusedBatch(t *testing.T) {
	excused := []ExcusedRange{
		{Topic: workloadTopic, Partition: 0, FirstOffset: 10, LastOffset: 14, InvokedByNs: 5e9},
		{Topic: workloadTopic, Partition: 0, FirstOffset: 30, LastOffset: math.MaxInt64, InvokedByNs: 5e9},
	}
	r := finalReader{excused: excused, position: 10}
	for i := range 2 {
		r.answer(fetched(10, 10, 40, 0, ""))
		if want := []int64{10, 15}[i]; r.position != want || r.done {
			t.Fatalf("empty answer %d at 10: position %d done %v, want %d", i+1, r.position, r.done, want)
		}
	}
	r.answer(fetched(15, 20, 40, 0, ""))
	for range 3 {
		r.answer(fetched(20, 20, 40, 0, ""))
	}
	if r.position != 20 || r.done {
		t.Fatalf("empty answers where no damage is: position %d done %v, want 20", r.position, r.done)
	}
	r.position = 30
	r.answer(fetched(30, 30, 40, 0, ""))
	r.answer(fetched(30, 30, 40, 0, ""))
	if r.position != 40 || !r.done {
		t.Fatalf("refused where only a range to the end covers: position %d done %v, want done at 40", r.position, r.done)
	}
	r = finalReader{excused: excused, position: 12, destroyedFrom: -1}
	if final, stuck := r.answer(fetched(12, 12, 40, 0, "KAFKA_STORAGE_ERROR")); final || stuck || r.position != 15 || r.destroyedFrom != -1 {
		t.Fatalf("refused by error at 12: final %v stuck %v position %d destroyed from %d, want 15 and -1", final, stuck, r.position, r.destroyedFrom)
	}
	// Refused by error where only a range to the end covers: the reader stops and says from
	// where everything was destroyed (finalReads then records a final read ending there, so a
	// partition its leader's disk took whole still has one: RF=3 seed 368).
	r = finalReader{excused: excused, position: 31, destroyedFrom: -1}
	if final, stuck := r.answer(fetched(31, 31, 40, 0, "CORRUPT_MESSAGE")); final || stuck || !r.done || r.destroyedFrom != 31 {
		t.Fatalf("refused by error at 31: final %v stuck %v done %v destroyed from %d, want done and 31", final, stuck, r.done, r.destroyedFrom)
	}
}
