package check

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strconv"
)

// finalReads is what a partition's final reads (OutcomeOK fetches with Final set) saw.
type finalReads struct {
	// logStart and highWatermark are the highest the final fetches reported.
	logStart, highWatermark int64
	// values maps each offset the final reads returned to the values there.
	values map[int64][]string
}

// has reports whether the final reads hold value at offset.
func (f *finalReads) has(offset int64, value string) bool {
	return slices.Contains(f.values[offset], value)
}

// checkDurability reports LostWrite, Unseen and IncompleteFinalRead for one partition (see
// the Anomaly constants). Without complete final reads it reports unseen values as
// information only.
func checkDurability(c *collector, v *partitionView, opts Options) {
	excused := func(offset, invokeNs int64) bool {
		return opts.Excused != nil && opts.Excused(v.key.topic, v.key.partition, offset, invokeNs)
	}
	final, complete := readFinal(c, v, opts.RequireFinalReads, excused)
	// deletable reports whether r, written by an operation invoked at invokeNs, may be missing:
	// below the final log start (retention, DeleteRecords), or destroyed by the disk.
	deletable := func(r Record, invokeNs int64) bool {
		if r.Offset >= 0 && excused(r.Offset, invokeNs) {
			return true
		}
		if r.Offset >= final.logStart {
			return false
		}
		rule, ok := opts.Retention[v.key.topic]
		return !ok || rule.mayDelete(r)
	}
	if complete {
		checkLostWrites(c, v, final, deletable)
	}
	checkUnseen(c, v, final, complete, deletable)
}

// readFinal gathers the final reads and checks that they cover [log start, high watermark).
// It reports IncompleteFinalRead and returns complete=false when they do not, or when there
// are none.
func readFinal(c *collector, v *partitionView, requireFinal bool, excused func(offset, invokeNs int64) bool) (final finalReads, complete bool) {
	final = finalReads{logStart: -1, highWatermark: -1, values: map[int64][]string{}}
	type span struct{ from, to int64 } // [from, to)
	var spans []span
	var ops []int
	for _, op := range v.ops {
		if op.Kind != OpFetch || !op.Final || op.Outcome != OutcomeOK {
			continue
		}
		ops = append(ops, op.Index)
		final.logStart = max(final.logStart, op.LogStartOffset)
		final.highWatermark = max(final.highWatermark, op.HighWatermark)
		if len(op.Records) == 0 {
			continue
		}
		from := op.FetchOffset
		for _, r := range op.Records {
			from = min(from, r.Offset)
			if !slices.Contains(final.values[r.Offset], r.Value) {
				final.values[r.Offset] = append(final.values[r.Offset], r.Value)
			}
		}
		spans = append(spans, span{from, op.Records[len(op.Records)-1].Offset + 1})
	}
	if len(ops) == 0 {
		if requireFinal {
			c.add(IncompleteFinalRead, v.example(-1, "", "no final reads"), false)
		}
		return final, false
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.from, b.from) })
	// skippable reports whether the final reads may miss [from, to): offsets a disk fault
	// destroyed, which the broker refuses to serve.
	skippable := func(from, to int64) bool {
		for o := from; o < to; o++ {
			if !excused(o, math.MinInt64) {
				return false
			}
		}
		return true
	}
	covered := final.logStart // [logStart, covered) is covered so far
	for _, s := range spans {
		if s.from > covered && !skippable(covered, s.from) {
			break
		}
		covered = max(covered, s.to)
	}
	if covered < final.highWatermark && skippable(covered, final.highWatermark) {
		covered = final.highWatermark
	}
	if covered < final.highWatermark {
		next := final.highWatermark
		for _, s := range spans {
			if s.from > covered {
				next = min(next, s.from)
			}
		}
		note := "final reads miss offsets " + rangeString(covered, next-1) + " of log start " +
			strconv.FormatInt(final.logStart, 10) + " to high watermark " + strconv.FormatInt(final.highWatermark, 10)
		if len(ops) > 3 {
			ops = ops[:3]
		}
		c.add(IncompleteFinalRead, v.example(covered, "", note, ops...), false)
		return final, false
	}
	return final, true
}

// checkLostWrites reports each record that had to be durable and is not at its offset in the
// final reads: acknowledged produce records and records fetched below their answer's high
// watermark, unless deletable (below the final log start, and retention or DeleteRecords may
// have removed it).
func checkLostWrites(c *collector, v *partitionView, final finalReads, deletable func(Record, int64) bool) {
	type lost struct {
		offset int64
		value  string
	}
	lostOps := map[lost][]int{}
	consider := func(op *Op, r Record) {
		if deletable(r, op.InvokeNs) || final.has(r.Offset, r.Value) {
			return
		}
		k := lost{r.Offset, r.Value}
		if ops := lostOps[k]; len(ops) < 4 {
			lostOps[k] = append(ops, op.Index)
		}
	}
	for _, op := range v.ops {
		switch {
		case op.Kind == OpProduce && op.Outcome == OutcomeOK:
			for _, r := range op.Records {
				if r.Offset >= 0 {
					consider(op, r)
				}
			}
		case op.Kind == OpFetch && op.Outcome == OutcomeOK && !op.Final:
			for _, r := range op.Records {
				if op.HighWatermark < 0 || r.Offset < op.HighWatermark {
					consider(op, r)
				}
			}
		}
	}
	keys := slices.SortedFunc(maps.Keys(lostOps), func(a, b lost) int {
		if c := cmp.Compare(a.offset, b.offset); c != 0 {
			return c
		}
		return cmp.Compare(a.value, b.value)
	})
	for _, k := range keys {
		var note string
		switch there := final.values[k.offset]; {
		case k.offset < final.logStart:
			note = "deleted below the final log start " + strconv.FormatInt(final.logStart, 10) + " before retention allowed"
		case k.offset >= final.highWatermark:
			note = "at or above the final high watermark " + strconv.FormatInt(final.highWatermark, 10)
		case len(there) == 0:
			note = "absent from the final reads"
		default:
			note = "final reads hold " + quoteAll(there) + " there"
		}
		c.add(LostWrite, v.example(k.offset, k.value, note, lostOps[k]...), false)
	}
}

// checkUnseen reports each acknowledged value no fetch returned: an anomaly when the final
// reads are complete and the value was not below the final log start, information otherwise.
func checkUnseen(c *collector, v *partitionView, final finalReads, complete bool, deletable func(Record, int64) bool) {
	reported := map[*valueInfo]bool{}
	for _, op := range v.ops {
		if op.Kind != OpProduce || op.Outcome != OutcomeOK {
			continue
		}
		for _, r := range op.Records {
			info := v.values.get(r.Value) // every produced value has one
			if info.fetchedBy >= 0 || reported[info] {
				continue
			}
			reported[info] = true
			anomaly := complete && (!deletable(r, op.InvokeNs) || (r.Offset < 0 && final.logStart == 0))
			note := "acknowledged, never fetched"
			if !anomaly {
				note += " (no complete final reads, below the final log start, or excused)"
			}
			c.add(Unseen, v.example(r.Offset, r.Value, note, op.Index), !anomaly)
		}
	}
}
