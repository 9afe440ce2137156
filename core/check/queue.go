package check

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// checkValues reports, for one partition, the classes that follow from which values were seen
// at which offsets: InconsistentOffsets, Duplicate, AbortedRead (G1a) and UnwrittenRead.
func checkValues(c *collector, v *partitionView) {
	for _, off := range v.offsets {
		if !v.disagreeAt(off) {
			continue
		}
		values := v.valuesAt(off)
		// One op per distinct value: the first that saw it.
		var ops []int
		for _, val := range values {
			for _, o := range v.byOffset[off] {
				if o.value == val {
					ops = append(ops, o.op)
					break
				}
			}
		}
		c.add(InconsistentOffsets, v.example(off, "", "values "+quoteAll(values), ops...), false)
	}

	// Only values seen at two offsets or more matter; they are sorted for a stable report.
	var repeated []string
	for _, info := range v.values.all {
		if len(info.offsets) >= 2 {
			repeated = append(repeated, info.value)
		}
	}
	slices.Sort(repeated)
	for _, val := range repeated {
		offs := v.offsetsOf(val)
		var ops []int
		for _, w := range v.writersOf(val) {
			ops = append(ops, w.Index)
		}
		for _, off := range offs {
			for _, o := range v.byOffset[off] {
				if o.value == val {
					ops = append(ops, o.op)
					break
				}
			}
		}
		note := "at offsets " + joinInt64s(offs)
		info := !duplicateIsAnomaly(v.writersOf(val))
		switch {
		case info:
			note += " (sent by a non-idempotent producer or in more than one producer session)"
		case v.producerForgotten(v.writersOf(val)[0], offs):
			// Kafka forgets a producer once retention (or DeleteRecords) removed every batch of
			// it (ProducerStateManager evicts producers below the log start): a retry arriving
			// after that is appended again. Allowed, and reported as information.
			info = true
			note += " (every earlier batch of its producer lies below the final log start: deleted with the producer's state)"
		}
		c.add(Duplicate, v.example(offs[0], val, note, ops...), info)
	}

	// Only values read with no produce that may have written them matter; sorted as above.
	var unwritten []string
	for _, info := range v.values.all {
		if info.fetchedBy >= 0 && !mayHaveBeenWritten(info.writers) {
			unwritten = append(unwritten, info.value)
		}
	}
	slices.Sort(unwritten)
	for _, val := range unwritten {
		reader, _ := v.fetchedBy(val)
		offset := int64(-1)
		for _, off := range v.offsetsOf(val) {
			for _, o := range v.byOffset[off] {
				if o.op == reader && o.value == val {
					offset = off
				}
			}
			if offset >= 0 {
				break
			}
		}
		writers := v.writersOf(val)
		if len(writers) == 0 {
			c.add(UnwrittenRead, v.example(offset, val, "no produce sent this value to the partition", reader), false)
			continue
		}
		failed := true
		ops := []int{reader}
		for _, w := range writers {
			failed = failed && w.Outcome == OutcomeFailed
			ops = append(ops, w.Index)
		}
		if failed {
			c.add(AbortedRead, v.example(offset, val, "read a value whose every produce failed", ops...), false)
		}
	}
}

// disagreeAt reports whether two observations at offset hold different values, without
// building the list of them (checkValues asks for every offset).
func (v *partitionView) disagreeAt(offset int64) bool {
	obs := v.byOffset[offset]
	for _, o := range obs[min(1, len(obs)):] {
		if o.value != obs[0].value {
			return true
		}
	}
	return false
}

// mayHaveBeenWritten reports whether some produce of a value (its writers) did not fail: a
// read of it is then no UnwrittenRead or AbortedRead.
func mayHaveBeenWritten(writers []*Op) bool {
	for _, w := range writers {
		if w.Outcome != OutcomeFailed {
			return true
		}
	}
	return false
}

// producerForgotten reports whether the broker may have forgotten the producer session of w
// before the copy at the last of offs was appended: the first copy lies below the final log
// start, and so does every record of the session placed between the copies, except other
// retries appended again: those seen below start too, and those the client sent before w (a
// lower sequence: placed after w's first copy, they were retried, whether or not anyone read
// their first copy). Such a retry re-seeds the forgotten state with its old sequence, and the
// retries in flight behind it follow in order.
func (v *partitionView) producerForgotten(w *Op, offs []int64) bool {
	start := v.finalLogStart()
	first, last := offs[0], offs[len(offs)-1]
	if first >= start {
		return false
	}
	for _, op := range v.ops {
		if op.Kind != OpProduce || op.ProducerID != w.ProducerID || op.ProducerEpoch != w.ProducerEpoch || op.Client != w.Client || op.Seq < w.Seq {
			continue
		}
		for _, r := range op.Records {
			if r.Offset > first && r.Offset < last && r.Offset >= start && !v.appendedAgain(r.Value, start) {
				return false
			}
		}
	}
	return true
}

// appendedAgain reports whether value was also seen below start: a copy placed at or above
// start is then a retry appended after the first was deleted.
func (v *partitionView) appendedAgain(value string, start int64) bool {
	offs := v.offsetsOf(value)
	return len(offs) > 1 && offs[0] < start
}

// duplicateIsAnomaly reports whether a value written more than once breaks the contract: only
// when every producer of it was idempotent and in one producer session, the scope in which
// Kafka deduplicates retries. A value with no producer at all is an anomaly too.
func duplicateIsAnomaly(writers []*Op) bool {
	for _, w := range writers {
		if !w.Idempotent {
			return false
		}
		if w.ProducerID != writers[0].ProducerID || w.ProducerEpoch != writers[0].ProducerEpoch {
			return false
		}
	}
	return true
}

// checkReadAboveHW reports each OutcomeOK fetch that returned a record at or above its own
// answer's HighWatermark.
func checkReadAboveHW(c *collector, v *partitionView) {
	for _, op := range v.ops {
		if op.Kind != OpFetch || op.Outcome != OutcomeOK || op.HighWatermark < 0 {
			continue
		}
		above := 0
		first := -1
		for i, r := range op.Records {
			if r.Offset >= op.HighWatermark {
				above++
				if first < 0 {
					first = i
				}
			}
		}
		if above > 0 {
			r := op.Records[first]
			note := strconv.Itoa(above) + " records at or above high watermark " + strconv.FormatInt(op.HighWatermark, 10)
			c.add(ReadAboveHW, v.example(r.Offset, r.Value, note, op.Index), false)
		}
	}
}

// sentRange is an acknowledged produce with known offsets: [base, last].
type sentRange struct {
	op         *Op
	base, last int64
}

// checkSends reports NonmonotonicSend: per client, an acknowledged produce whose base offset is
// at or below the last offset of an earlier acknowledged produce that completed before it was
// invoked, or that preceded it (Seq) in the same idempotent producer session.
func checkSends(c *collector, v *partitionView) {
	byClient := map[int][]sentRange{}
	for _, op := range v.ops {
		if op.Kind != OpProduce || op.Outcome != OutcomeOK || op.Records[0].Offset < 0 {
			continue
		}
		base := op.Records[0].Offset
		byClient[op.Client] = append(byClient[op.Client], sentRange{op: op, base: base, last: base + int64(len(op.Records)) - 1})
	}
	for _, client := range slices.Sorted(maps.Keys(byClient)) {
		sends := byClient[client]
		slices.SortFunc(sends, func(a, b sentRange) int { return cmp.Compare(a.op.Seq, b.op.Seq) })

		// Real time: the highest last offset among sends completed before each invocation.
		byComplete := slices.Clone(sends)
		slices.SortStableFunc(byComplete, func(a, b sentRange) int { return cmp.Compare(a.op.CompleteNs, b.op.CompleteNs) })
		prefixMax := make([]int, len(byComplete)) // index into byComplete of the max last so far
		for i := range byComplete {
			prefixMax[i] = i
			if i > 0 && byComplete[prefixMax[i-1]].last >= byComplete[i].last {
				prefixMax[i] = prefixMax[i-1]
			}
		}
		type session struct {
			id    int64
			epoch int16
		}
		lastInSession := map[session]sentRange{}

		start := v.finalLogStart()
		for _, b := range sends {
			var witness *sentRange
			bySession := false
			n, _ := slices.BinarySearchFunc(byComplete, b.op.InvokeNs, func(s sentRange, t int64) int { return cmp.Compare(s.op.CompleteNs, t) })
			if n > 0 {
				if a := byComplete[prefixMax[n-1]]; a.last >= b.base {
					witness = &a
				}
			}
			if b.op.Idempotent {
				s := session{b.op.ProducerID, b.op.ProducerEpoch}
				if a, ok := lastInSession[s]; ok && witness == nil && a.last >= b.base {
					witness, bySession = &a, true
				}
				lastInSession[s] = b
			}
			if witness != nil {
				note := "offsets " + rangeString(b.base, b.last) + " after " + rangeString(witness.base, witness.last)
				info := false
				if bySession && b.last < start {
					// Only the session's order is broken, and the later batch lies below the final
					// log start: deleted with the producer's state, after which Kafka accepts the
					// earlier batch's retry at any sequence (as for duplicates, producerForgotten).
					info = true
					note += " (the later batch lies below the final log start: deleted with its producer's state)"
				}
				c.add(NonmonotonicSend, v.example(b.base, b.op.Records[0].Value, note, witness.op.Index, b.op.Index), info)
			}
		}
	}
}

// checkPolls reports, per client and in Seq order over the OutcomeOK fetches that returned
// records: NonmonotonicPoll, PollSkip, IntNonmonotonicPoll and IntPollSkip, as the Anomaly
// constants define them. excused(offset, invokeNs) says whether a disk fault destroyed the
// record at offset for an operation invoked at invokeNs (Options.Excused).
//
// With replicated partitions (Options.Replicated) the log start is each leader's own: a new
// leader may hold records below the log start its predecessor reported (retention runs on each
// replica by its own clock), so a consumer that reset to a log start some fetch answer reported
// (OFFSET_OUT_OF_RANGE) skips what lies below it legitimately, whatever the next leader says.
func checkPolls(c *collector, v *partitionView, replicated bool, excused func(offset, invokeNs int64) bool) {
	// A record a disk fault destroyed before a fetch was invoked is dropped from what the fetch
	// read (forgetDestroyed), and skipping it is no anomaly; a skip is judged at the earliest
	// invocation of the fetches around it, the one that may have dropped it. A record written
	// after the damage, at the same offsets (a truncation reused them), must still be read.
	existingIn := func(from, to, logStart, invokeNs int64) []int64 {
		return slices.DeleteFunc(v.existingIn(from, to, logStart), func(offset int64) bool { return excused(offset, invokeNs) })
	}
	byClient := map[int][]*Op{}
	// logStarts holds, per client, the fetches that reported a log start.
	logStarts := map[int][]*Op{}
	for _, op := range v.ops {
		if op.Kind == OpFetch && op.Outcome == OutcomeOK && len(op.Records) > 0 {
			byClient[op.Client] = append(byClient[op.Client], op)
		}
		if replicated && op.Kind == OpFetch && op.LogStartOffset > 0 {
			logStarts[op.Client] = append(logStarts[op.Client], op)
		}
	}
	// reportedLogStart is the highest log start an answer to client reported between its
	// fetches prev and f (Seq order, f's own included).
	reportedLogStart := func(client int, prev, f *Op) int64 {
		best := f.LogStartOffset
		for _, op := range logStarts[client] {
			if (prev == nil || op.Seq > prev.Seq) && op.Seq <= f.Seq {
				best = max(best, op.LogStartOffset)
			}
		}
		return best
	}
	finalAt := v.finalValues()
	for _, client := range slices.Sorted(maps.Keys(byClient)) {
		fetches := byClient[client]
		slices.SortFunc(fetches, func(a, b *Op) int { return cmp.Compare(a.Seq, b.Seq) })
		var prev *Op
		var diverged []divergedRead // see checkMissedTruncation
		for _, f := range fetches {
			checkPollInternal(c, v, f, existingIn)
			diverged = checkMissedTruncation(c, v, prev, f, diverged, finalAt, excused)
			first := f.Records[0]
			position := f.FetchOffset
			invokeNs := f.InvokeNs
			if prev != nil {
				last := prev.Records[len(prev.Records)-1].Offset
				// FetchOffset <= last: the client moved back on its own; nothing to compare.
				if f.FetchOffset > last {
					position = last + 1
					invokeNs = min(invokeNs, prev.InvokeNs)
					if first.Offset <= last {
						note := "returned offset " + strconv.FormatInt(first.Offset, 10) + " after the previous fetch ended at " +
							strconv.FormatInt(last, 10) + ", fetch offset " + strconv.FormatInt(f.FetchOffset, 10)
						c.add(NonmonotonicPoll, v.example(first.Offset, first.Value, note, prev.Index, f.Index), false)
					}
				}
			}
			logStart := f.LogStartOffset
			if replicated {
				logStart = reportedLogStart(client, prev, f)
			}
			if skipped := existingIn(position, first.Offset, logStart, invokeNs); len(skipped) > 0 {
				note := "position " + strconv.FormatInt(position, 10) + ", first record returned at " +
					strconv.FormatInt(first.Offset, 10) + ", skipped " + strconv.Itoa(len(skipped)) + " existing records"
				ops := []int{f.Index}
				if prev != nil && position != f.FetchOffset {
					ops = append(ops, prev.Index)
				}
				c.add(PollSkip, v.example(skipped[0], v.valuesAt(skipped[0])[0], note, ops...), false)
			}
			prev = f
		}
	}
}

// divergedRead is a record a client read that the final log holds another value in place of.
type divergedRead struct {
	offset int64
	value  string
	op     int
}

// checkMissedTruncation carries, through a client's record-returning fetches of a partition in
// Seq order, the records it read that the final log replaced (diverged), and reports
// MissedTruncation when fetch f continues from prev without moving back below them and reads
// records of the final log. It returns the diverged reads still open after f.
func checkMissedTruncation(c *collector, v *partitionView, prev, f *Op, diverged []divergedRead,
	finalAt map[int64]string, excused func(offset, invokeNs int64) bool) []divergedRead {
	if prev != nil && f.FetchOffset <= prev.Records[len(prev.Records)-1].Offset {
		// The client moved back: what it read at and above where it went is read again.
		diverged = slices.DeleteFunc(diverged, func(d divergedRead) bool { return d.offset >= f.FetchOffset })
	} else if len(diverged) > 0 && slices.ContainsFunc(f.Records, func(r Record) bool { return finalAt[r.Offset] == r.Value }) {
		// Records a disk fault destroyed before f are exempt: their replica's log lost them.
		missed := slices.DeleteFunc(diverged, func(d divergedRead) bool { return excused(d.offset, f.InvokeNs) })
		if len(missed) > 0 {
			d := missed[0]
			note := "read " + strconv.Quote(d.value) + " at " + strconv.FormatInt(d.offset, 10) + ", then read on from " +
				strconv.FormatInt(f.FetchOffset, 10) + " in a log holding " + strconv.Quote(finalAt[d.offset]) +
				" there, without moving back: " + strconv.Itoa(len(missed)) + " records read that the log no longer holds"
			c.add(MissedTruncation, v.example(d.offset, d.value, note, d.op, f.Index), false)
		}
		diverged = diverged[:0]
	}
	for _, r := range f.Records {
		if final, ok := finalAt[r.Offset]; ok && final != r.Value {
			diverged = append(diverged, divergedRead{offset: r.Offset, value: r.Value, op: f.Index})
		}
	}
	return diverged
}

// finalValues maps each offset the partition's OK final reads returned to its value there.
func (v *partitionView) finalValues() map[int64]string {
	out := map[int64]string{}
	for _, op := range v.ops {
		if op.Kind == OpFetch && op.Final && op.Outcome == OutcomeOK {
			for _, r := range op.Records {
				out[r.Offset] = r.Value
			}
		}
	}
	return out
}

// checkPollInternal reports IntNonmonotonicPoll and IntPollSkip within one fetch, at most one
// of each.
func checkPollInternal(c *collector, v *partitionView, f *Op, existingIn func(from, to, logStart, invokeNs int64) []int64) {
	nonmonotonic, skip := false, false
	for i := 1; i < len(f.Records); i++ {
		a, b := f.Records[i-1], f.Records[i]
		if b.Offset <= a.Offset {
			if !nonmonotonic {
				note := "offset " + strconv.FormatInt(b.Offset, 10) + " after " + strconv.FormatInt(a.Offset, 10)
				c.add(IntNonmonotonicPoll, v.example(b.Offset, b.Value, note, f.Index), false)
				nonmonotonic = true
			}
			continue
		}
		if skipped := existingIn(a.Offset+1, b.Offset, f.LogStartOffset, f.InvokeNs); len(skipped) > 0 && !skip {
			note := "returned " + strconv.FormatInt(a.Offset, 10) + " then " + strconv.FormatInt(b.Offset, 10) +
				", skipping " + strconv.Itoa(len(skipped)) + " existing records"
			c.add(IntPollSkip, v.example(skipped[0], v.valuesAt(skipped[0])[0], note, f.Index), false)
			skip = true
		}
	}
}

func quoteAll(values []string) string {
	q := make([]string, len(values))
	for i, s := range values {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

func joinInt64s(xs []int64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatInt(x, 10)
	}
	return strings.Join(s, ", ")
}

func rangeString(first, last int64) string {
	if first == last {
		return strconv.FormatInt(first, 10)
	}
	return strconv.FormatInt(first, 10) + ".." + strconv.FormatInt(last, 10)
}
