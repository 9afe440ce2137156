package check

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"
)

// The linearizability model of one partition's produces (DESIGN §8: "if produce A completed
// before produce B started, A's offset is lower"). The specification: the state is the
// partition's next offset; a produce of n records that landed at base b is legal iff
// b >= state, and leaves state b+n. Offsets may have gaps (control records, produces the
// history does not place), so b may exceed the state.
//
// The model porcupine runs adds one pruning rule to that specification: a produce landing at
// b is also illegal while another produce of the history has a range reaching into
// [state, b). That produce can no longer be linearized (it would need a base >= b+n), so the
// step leads nowhere; rejecting it at once gives the same verdict on every history and keeps
// porcupine from exploring every increasing chain of concurrent produces, which is
// exponential in the number of concurrent produces (25 took over 20 s; the pruned search
// takes milliseconds on thousands). property_test.go checks the two agree.
//
// Which produces take part:
//   - OutcomeFailed: left out (it did not take effect).
//   - OutcomeOK with known offsets: [InvokeNs, CompleteNs], landed at its base.
//   - OutcomeUnknown, or OK without offsets (acks=0): DESIGN keeps such an op open to the end
//     of the history. It takes part only if fetches returned its values, they were sent by
//     no other op, each at one offset, all implying one base: then it landed there, and
//     its interval runs from its invocation to the completion of the first fetch that
//     returned one of its records (a record cannot be read before it is appended). That
//     bound is sound and keeps the search small: an op open to the end of the history would
//     be a candidate at every step of it.
//     Otherwise the op is left out: it may or may not have taken effect, and since every
//     constraint is a lower bound b >= state, an op that leaves the state unchanged is always
//     at least as easy to linearize as one that advances it, so leaving it out loses
//     nothing. That is also why a deterministic Model suffices.

// produceInput is a produce's input to the model.
type produceInput struct {
	op    int // Op.Index, for descriptions
	count int64
}

// produceOutput is where a produce landed.
type produceOutput struct {
	base int64
}

// offsetModel returns the pruned model for one partition's produces (ops as linearOps gives
// them).
func offsetModel(ops []linearOp) porcupine.Model {
	byBase := slices.Clone(ops)
	slices.SortFunc(byBase, func(x, y linearOp) int { return cmp.Compare(x.base, y.base) })
	bases := make([]int64, len(byBase))
	endMax := make([]int64, len(byBase)) // endMax[i]: the highest base+count among byBase[:i+1]
	for i, l := range byBase {
		bases[i] = l.base
		endMax[i] = l.base + l.count
		if i > 0 {
			endMax[i] = max(endMax[i], endMax[i-1])
		}
	}
	return porcupine.Model{
		Init: func() any { return int64(0) },
		Step: func(state, input, output any) (bool, any) {
			next := state.(int64)
			in := input.(produceInput)
			out := output.(produceOutput)
			if out.base < next {
				return false, state
			}
			// Some produce starting below out.base ends above next: it would be stranded.
			if below, _ := slices.BinarySearch(bases, out.base); below > 0 && endMax[below-1] > next {
				return false, state
			}
			return true, out.base + in.count
		},
		Hash:              func(state any) uint64 { return uint64(state.(int64)) },
		DescribeOperation: describeProduce,
		DescribeState:     describeNextOffset,
	}
}

func describeProduce(input, output any) string {
	in := input.(produceInput)
	out := output.(produceOutput)
	return "op " + strconv.Itoa(in.op) + ": produce " + strconv.FormatInt(in.count, 10) + " at " +
		rangeString(out.base, out.base+in.count-1)
}

func describeNextOffset(state any) string {
	return "next offset " + strconv.FormatInt(state.(int64), 10)
}

// linearOp is one produce taking part in the check, with its interval and offsets.
type linearOp struct {
	op            *Op
	callNs, retNs int64
	base, count   int64
}

// linearOps returns the produces of one partition that take part in the check, in op order.
func linearOps(v *partitionView) []linearOp {
	var out []linearOp
	for _, op := range v.ops {
		if op.Kind != OpProduce || op.Outcome == OutcomeFailed {
			continue
		}
		n := int64(len(op.Records))
		if op.Outcome == OutcomeOK && op.Records[0].Offset >= 0 {
			out = append(out, linearOp{op: op, callNs: op.InvokeNs, retNs: op.CompleteNs, base: op.Records[0].Offset, count: n})
			continue
		}
		if base, ok := inferBase(v, op); ok {
			seenNs, _ := firstReadNs(v, op) // inferBase found a fetch of its values
			out = append(out, linearOp{op: op, callNs: op.InvokeNs, retNs: max(seenNs, op.InvokeNs), base: base, count: n})
		}
	}
	return out
}

// inferBase finds where a produce without known offsets landed, from the fetches of its values.
func inferBase(v *partitionView, op *Op) (int64, bool) {
	base, found := int64(-1), false
	for i, r := range op.Records {
		if len(v.writersOf(r.Value)) != 1 {
			return 0, false // a value sent twice: its sightings may be the other send's
		}
		offs := v.offsetsOf(r.Value)
		switch len(offs) {
		case 0:
			continue
		case 1:
		default:
			return 0, false
		}
		b := offs[0] - int64(i)
		if found && b != base {
			return 0, false
		}
		base, found = b, true
	}
	return base, found && base >= 0
}

// firstReadNs returns when the first OutcomeOK fetch that returned one of op's records
// completed: op was appended before then.
func firstReadNs(v *partitionView, op *Op) (int64, bool) {
	first, found := int64(0), false
	for _, r := range op.Records {
		for _, off := range v.offsetsOf(r.Value) {
			for _, o := range v.byOffset[off] {
				if o.fetch && o.value == r.Value {
					if ns := v.opsByIndex[o.op].CompleteNs; !found || ns < first {
						first, found = ns, true
					}
				}
			}
		}
	}
	return first, found
}

// porcupineOps converts linear ops to porcupine operations, clients numbered densely from 0.
func porcupineOps(ops []linearOp) []porcupine.Operation {
	clients := map[int]int{}
	for _, l := range ops {
		clients[l.op.Client] = 0
	}
	for i, id := range slices.Sorted(maps.Keys(clients)) {
		clients[id] = i
	}
	out := make([]porcupine.Operation, len(ops))
	for i, l := range ops {
		out[i] = porcupine.Operation{
			ClientId: clients[l.op.Client],
			Input:    produceInput{op: l.op.Index, count: l.count},
			Call:     l.callNs,
			Output:   produceOutput{base: l.base},
			Return:   l.retNs,
		}
	}
	return out
}

// checkLinearizable runs porcupine on one partition's produces and reports NotLinearizable
// (with a witness pair when one is found) or LinearizabilityTimeout.
func checkLinearizable(c *collector, v *partitionView, timeout time.Duration) {
	checkLinearizableWith(c, v, timeout, porcupine.CheckOperationsTimeout)
}

// checkLinearizableWith is checkLinearizable with the decision procedure as a parameter, so
// tests can make it time out.
func checkLinearizableWith(c *collector, v *partitionView, timeout time.Duration,
	decide func(porcupine.Model, []porcupine.Operation, time.Duration) porcupine.CheckResult,
) {
	ops := linearOps(v)
	if len(ops) == 0 {
		return
	}
	verdict := decide(offsetModel(ops), porcupineOps(ops), timeout)
	if verdict == porcupine.Ok {
		return
	}
	// Illegal, or undecided: a witness pair both explains the verdict and, being a proof on
	// its own, settles an undecided search.
	if a, b, ok := linearizabilityWitness(ops); ok {
		c.add(NotLinearizable, v.example(b.base, b.op.Records[0].Value, witnessNote(a, b), a.op.Index, b.op.Index), false)
		return
	}
	if verdict == porcupine.Illegal {
		c.add(NotLinearizable, v.example(-1, "", strconv.Itoa(len(ops))+" produces admit no linearization"), false)
		return
	}
	c.add(LinearizabilityTimeout, v.example(-1, "", "porcupine undecided after "+timeout.String()+
		" on "+strconv.Itoa(len(ops))+" produces: rerun with a smaller history"), false)
}

// linearizabilityWitness finds a pair of produces that cannot both be linearized: overlapping
// offset ranges, or a completed before b was invoked while b landed below a. Given this
// model, a history is linearizable exactly when no such pair exists (sorting by base then
// gives a linearization), so the witness also explains porcupine's verdict.
func linearizabilityWitness(ops []linearOp) (a, b linearOp, ok bool) {
	byBase := slices.Clone(ops)
	slices.SortStableFunc(byBase, func(x, y linearOp) int { return cmp.Compare(x.base, y.base) })
	for i := 1; i < len(byBase); i++ {
		if x, y := byBase[i-1], byBase[i]; y.base < x.base+x.count {
			return x, y, true
		}
	}
	// Ranges are disjoint: look for b invoked after some a completed with a.base > b.base.
	byRet := slices.Clone(ops)
	slices.SortStableFunc(byRet, func(x, y linearOp) int { return cmp.Compare(x.retNs, y.retNs) })
	best := make([]int, len(byRet)) // index in byRet of the highest base among byRet[:i+1]
	for i := range byRet {
		best[i] = i
		if i > 0 && byRet[best[i-1]].base >= byRet[i].base {
			best[i] = best[i-1]
		}
	}
	for _, y := range byBase {
		n, _ := slices.BinarySearchFunc(byRet, y.callNs, func(x linearOp, t int64) int { return cmp.Compare(x.retNs, t) })
		if n > 0 {
			if x := byRet[best[n-1]]; x.base > y.base {
				return x, y, true
			}
		}
	}
	return linearOp{}, linearOp{}, false
}

func witnessNote(a, b linearOp) string {
	describe := func(l linearOp) string {
		s := "op " + strconv.Itoa(l.op.Index) + " at " + rangeString(l.base, l.base+l.count-1) +
			" [" + strconv.FormatInt(l.callNs, 10) + ", " + strconv.FormatInt(l.retNs, 10) + "]"
		if l.op.Outcome != OutcomeOK || l.op.Records[0].Offset < 0 {
			s += " (placed by fetches)"
		}
		return s
	}
	if b.base < a.base+a.count && a.base < b.base+b.count {
		return "overlapping offsets: " + describe(a) + " and " + describe(b)
	}
	return describe(a) + " completed before " + describe(b) + " was invoked"
}

// Visualize writes porcupine's HTML visualization of one partition's produce history to w:
// the linearization found, or the longest partial ones and where they fail. It is for a
// person investigating a failure; Check never calls it.
func Visualize(w io.Writer, h History, topic string, partition int32, timeout time.Duration) error {
	if err := h.Validate(); err != nil {
		return fmt.Errorf("visualize %s/%d: %w", topic, partition, err)
	}
	for _, p := range splitPartitions(h) {
		if p.key != (partitionKey{topic, partition}) {
			continue
		}
		ops := linearOps(newPartitionView(p))
		model := offsetModel(ops)
		_, info := porcupine.CheckOperationsVerbose(model, porcupineOps(ops), timeout)
		if err := porcupine.Visualize(model, info, w); err != nil {
			return fmt.Errorf("visualize %s/%d: %w", topic, partition, err)
		}
		return nil
	}
	return fmt.Errorf("visualize %s/%d: no such partition in the history", topic, partition)
}
