package check

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// validateErrorsMax bounds how many problems Validate lists; one is enough to reject a history.
const validateErrorsMax = 16

// Validate reports whether h keeps its own format, the rules every checker relies on:
//   - Ops[i].Index == i; each (Client, Seq) is used once;
//   - Kind and Outcome are known values; InvokeNs <= CompleteNs; Topic is set; Partition >= 0;
//   - keys and values are valid UTF-8 (the JSON-lines encoding carries them as strings);
//   - a produce sends at least one record; an acknowledged produce's offsets are all -1
//     (not known) or base, base+1, ... with base >= 0; other produces' offsets are -1;
//   - a fetch's records have offsets >= 0; a fetch that is not OutcomeOK returned nothing;
//   - Final is set on fetches only, and an OutcomeOK Final fetch reports its HighWatermark and
//     LogStartOffset (not -1).
//
// It returns nil or the first problems found, joined.
func (h *History) Validate() error {
	problems := h.problems()
	errs := make([]error, 0, min(len(problems), validateErrorsMax))
	for _, p := range problems[:min(len(problems), validateErrorsMax)] {
		errs = append(errs, p)
	}
	return errors.Join(errs...)
}

// problem is one way an op breaks the history format.
type problem struct {
	op  int // Op.Index of the op, or its position if the Index is wrong
	msg string
}

func (p problem) Error() string { return p.msg }

// problems lists every way h breaks its format, in op order (see Validate).
func (h *History) problems() []problem {
	var out []problem
	position := 0
	fail := func(op *Op, format string, args ...any) {
		out = append(out, problem{op: position, msg: fmt.Sprintf("op %d (client %d seq %d): %s", op.Index, op.Client, op.Seq, fmt.Sprintf(format, args...))})
	}
	type clientSeq struct {
		client int
		seq    int64
	}
	seen := make(map[clientSeq]int, len(h.Ops))
	for i := range h.Ops {
		position = i
		op := &h.Ops[i]
		if op.Index != i {
			fail(op, "Index %d at position %d", op.Index, i)
		}
		if first, dup := seen[clientSeq{op.Client, op.Seq}]; dup {
			fail(op, "client and seq already used by op %d", first)
		} else {
			seen[clientSeq{op.Client, op.Seq}] = i
		}
		if op.Kind != OpProduce && op.Kind != OpFetch {
			fail(op, "unknown kind %d", op.Kind)
		}
		if op.Outcome != OutcomeOK && op.Outcome != OutcomeFailed && op.Outcome != OutcomeUnknown {
			fail(op, "unknown outcome %d", op.Outcome)
		}
		if op.InvokeNs > op.CompleteNs {
			fail(op, "invoked at %d after completing at %d", op.InvokeNs, op.CompleteNs)
		}
		if op.Topic == "" {
			fail(op, "no topic")
		}
		if op.Partition < 0 {
			fail(op, "partition %d", op.Partition)
		}
		for _, r := range op.Records {
			if !utf8.ValidString(r.Key) || !utf8.ValidString(r.Value) {
				fail(op, "record at offset %d: key or value is not valid UTF-8", r.Offset)
				break
			}
		}
		switch op.Kind {
		case OpProduce:
			validateProduce(op, fail)
		case OpFetch:
			validateFetch(op, fail)
		}
	}
	return out
}

func validateProduce(op *Op, fail func(*Op, string, ...any)) {
	if len(op.Records) == 0 {
		fail(op, "produce of no records")
		return
	}
	if op.Final {
		fail(op, "Final set on a produce")
	}
	base := op.Records[0].Offset
	if op.Outcome != OutcomeOK || base == -1 {
		for _, r := range op.Records {
			if r.Offset != -1 {
				fail(op, "produce record offset %d where -1 (not known) is expected", r.Offset)
				return
			}
		}
		return
	}
	if base < 0 {
		fail(op, "acknowledged base offset %d", base)
		return
	}
	for i, r := range op.Records {
		if r.Offset != base+int64(i) {
			fail(op, "acknowledged record %d at offset %d, want base %d + %d", i, r.Offset, base, i)
			return
		}
	}
}

func validateFetch(op *Op, fail func(*Op, string, ...any)) {
	if op.Outcome != OutcomeOK && len(op.Records) > 0 {
		fail(op, "%s fetch returned %d records", op.Outcome, len(op.Records))
	}
	for _, r := range op.Records {
		if r.Offset < 0 {
			fail(op, "fetched record at offset %d", r.Offset)
			break
		}
	}
	if op.Final && op.Outcome == OutcomeOK && (op.HighWatermark < 0 || op.LogStartOffset < 0) {
		fail(op, "final fetch without HighWatermark (%d) or LogStartOffset (%d)", op.HighWatermark, op.LogStartOffset)
	}
}
