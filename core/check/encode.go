package check

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// OpLineBytesMax bounds one encoded op (one line) when decoding: a longer line is an error,
// never an unbounded allocation.
const OpLineBytesMax = 16 << 20

// Encode writes h as JSON lines: one Op per line, in history order. chaos/ records histories
// this way and the simulator saves failing runs this way; Decode reads them back.
func Encode(w io.Writer, h History) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range h.Ops {
		if err := enc.Encode(&h.Ops[i]); err != nil {
			return fmt.Errorf("encode op %d: %w", i, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("encode history: %w", err)
	}
	return nil
}

// Decode reads a history Encode wrote. Blank lines are skipped; unknown fields, an op whose
// Index is not its position, and a line longer than OpLineBytesMax are errors naming the line.
// The ops are not otherwise validated: Check does that (History.Validate).
func Decode(r io.Reader) (History, error) {
	var h History
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), OpLineBytesMax)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var op Op
		if err := dec.Decode(&op); err != nil {
			return History{}, fmt.Errorf("decode history line %d: %w", line, err)
		}
		if dec.More() {
			return History{}, fmt.Errorf("decode history line %d: more than one op on the line", line)
		}
		if op.Index != len(h.Ops) {
			return History{}, fmt.Errorf("decode history line %d: op index %d, want %d", line, op.Index, len(h.Ops))
		}
		h.Ops = append(h.Ops, op)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return History{}, fmt.Errorf("decode history line %d: longer than %d bytes: %w", line+1, OpLineBytesMax, err)
		}
		return History{}, fmt.Errorf("decode history line %d: %w", line+1, err)
	}
	return h, nil
}

// MarshalText spells the kind as String does ("produce", "fetch").
func (k OpKind) MarshalText() ([]byte, error) {
	if k != OpProduce && k != OpFetch {
		return nil, fmt.Errorf("op kind %d: not a known kind", k)
	}
	return []byte(k.String()), nil
}

// UnmarshalText reads what MarshalText wrote.
func (k *OpKind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "produce":
		*k = OpProduce
	case "fetch":
		*k = OpFetch
	default:
		return fmt.Errorf("op kind %q: not a known kind", b)
	}
	return nil
}

// MarshalText spells the outcome as String does ("ok", "failed", "unknown").
func (o Outcome) MarshalText() ([]byte, error) {
	if o != OutcomeOK && o != OutcomeFailed && o != OutcomeUnknown {
		return nil, fmt.Errorf("outcome %d: not a known outcome", o)
	}
	return []byte(o.String()), nil
}

// UnmarshalText reads what MarshalText wrote.
func (o *Outcome) UnmarshalText(b []byte) error {
	switch string(b) {
	case "ok":
		*o = OutcomeOK
	case "failed":
		*o = OutcomeFailed
	case "unknown":
		*o = OutcomeUnknown
	default:
		return fmt.Errorf("outcome %q: not a known outcome", b)
	}
	return nil
}
