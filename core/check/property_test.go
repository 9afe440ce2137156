package check

import (
	"bytes"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/anishathalye/porcupine"
	"pgregory.net/rapid"
)

// logSim runs a correct single-partition log under concurrent clients and records the history
// a checker sees: produces that land, fail, or end unknown (and may still land later), fetches
// from each client's position, rewinds, DeleteRecords, gaps (control records), a
// non-idempotent producer's duplicates from retries, and final reads paging through the log.
type logSim struct {
	t         *rapid.T
	h         History
	nowNs     int64
	entries   []string // the value at each offset; "" is a gap (an invisible control record)
	logStart  int64
	clients   []*simClient
	ghosts    []*simOp // unknown produces that have not landed yet and still may
	nextValue int
}

type simClient struct {
	id         int
	idempotent bool
	seq        int64
	position   int64
	pending    *simOp
	resend     []string // values of an unacknowledged produce a non-idempotent client sends again
}

type simOp struct {
	op      Op
	client  *simClient
	applied bool
	// Fetch results, fixed when the fetch is applied.
	outOfRange bool
	records    []Record
	nextOffset int64
}

func (s *logSim) highWatermark() int64 { return int64(len(s.entries)) }

func (s *logSim) tick() int64 {
	s.nowNs++
	return s.nowNs
}

func (s *logSim) idle() []*simClient {
	var out []*simClient
	for _, c := range s.clients {
		if c.pending == nil {
			out = append(out, c)
		}
	}
	return out
}

func (s *logSim) busy() []*simClient {
	var out []*simClient
	for _, c := range s.clients {
		if c.pending != nil {
			out = append(out, c)
		}
	}
	return out
}

func (s *logSim) invoke(c *simClient) {
	c.seq++
	op := Op{Client: c.id, Seq: c.seq, Topic: "t", InvokeNs: s.tick(), FetchOffset: -1, HighWatermark: -1, LogStartOffset: -1,
		Idempotent: c.idempotent, ProducerID: int64(c.id)}
	if rapid.Bool().Draw(s.t, "produce") {
		op.Kind = OpProduce
		values := c.resend
		c.resend = nil
		if len(values) == 0 || rapid.Bool().Draw(s.t, "fresh") {
			values = nil
			for range rapid.IntRange(1, 3).Draw(s.t, "batch") {
				s.nextValue++
				values = append(values, "v"+strconv.Itoa(s.nextValue))
			}
		}
		for _, v := range values {
			op.Records = append(op.Records, Record{Offset: -1, Value: v})
		}
	} else {
		op.Kind = OpFetch
		op.FetchOffset = c.position
	}
	c.pending = &simOp{op: op, client: c}
}

// apply is the moment an operation takes effect at the leader.
func (s *logSim) apply(p *simOp) {
	p.applied = true
	s.tick()
	switch p.op.Kind {
	case OpProduce:
		if rapid.IntRange(0, 5).Draw(s.t, "gap") == 0 {
			s.entries = append(s.entries, "")
		}
		if !p.op.Idempotent && rapid.IntRange(0, 5).Draw(s.t, "retry-dup") == 0 {
			for _, r := range p.op.Records { // an attempt whose answer was lost, then the retry
				s.entries = append(s.entries, r.Value)
			}
		}
		base := s.highWatermark()
		for i := range p.op.Records {
			s.entries = append(s.entries, p.op.Records[i].Value)
			p.op.Records[i].Offset = base + int64(i) // kept only if acknowledged
		}
	case OpFetch:
		p.op.HighWatermark, p.op.LogStartOffset = s.highWatermark(), s.logStart
		if p.op.FetchOffset < s.logStart {
			p.outOfRange = true
			return
		}
		p.records, p.nextOffset = s.read(p.op.FetchOffset, rapid.IntRange(1, 4).Draw(s.t, "fetch-max"))
	}
}

// read returns up to max visible records from offset and the offset after what it scanned.
func (s *logSim) read(offset int64, max int) ([]Record, int64) {
	var out []Record
	for ; offset < s.highWatermark() && len(out) < max; offset++ {
		if v := s.entries[offset]; v != "" {
			out = append(out, Record{Offset: offset, Value: v})
		}
	}
	return out, offset
}

func (s *logSim) complete(p *simOp) {
	if !p.applied && rapid.IntRange(0, 3).Draw(s.t, "reached-leader") > 0 {
		s.apply(p)
	}
	c := p.client
	c.pending = nil
	op := p.op
	op.CompleteNs = s.tick()
	switch op.Kind {
	case OpProduce:
		switch {
		case p.applied && rapid.IntRange(0, 5).Draw(s.t, "ack-lost") > 0:
			op.Outcome = OutcomeOK
		case p.applied:
			op.Outcome = OutcomeUnknown
		case rapid.Bool().Draw(s.t, "failed"):
			op.Outcome = OutcomeFailed
		default:
			op.Outcome = OutcomeUnknown
			s.ghosts = append(s.ghosts, &simOp{op: op})
		}
		if op.Outcome != OutcomeOK {
			op.Records = slices.Clone(op.Records)
			for i := range op.Records {
				op.Records[i].Offset = -1
			}
			if !c.idempotent {
				c.resend = valuesOf(op.Records)
			}
		}
	case OpFetch:
		switch {
		case p.applied && p.outOfRange:
			op.Outcome = OutcomeFailed
			op.Err = "OFFSET_OUT_OF_RANGE"
			c.position = op.LogStartOffset // auto.offset.reset=earliest
		case p.applied && rapid.IntRange(0, 7).Draw(s.t, "fetch-lost") > 0:
			op.Outcome = OutcomeOK
			op.Records = p.records
			c.position = p.nextOffset
		default:
			op.Outcome = OutcomeUnknown
		}
		if op.Outcome != OutcomeOK {
			op.HighWatermark, op.LogStartOffset = -1, -1
		}
	}
	s.h.Add(op)
}

func valuesOf(rs []Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Value
	}
	return out
}

// landGhost makes an unknown produce take effect after its client gave up on it.
func (s *logSim) landGhost(i int) {
	g := s.ghosts[i]
	s.ghosts = slices.Delete(s.ghosts, i, i+1)
	for _, r := range g.op.Records {
		s.entries = append(s.entries, r.Value)
	}
	s.tick()
}

func (s *logSim) step() {
	switch action := rapid.IntRange(0, 9).Draw(s.t, "action"); {
	case action <= 2:
		if idle := s.idle(); len(idle) > 0 {
			s.invoke(rapid.SampledFrom(idle).Draw(s.t, "invoke"))
		}
	case action <= 4:
		var unapplied []*simOp
		for _, c := range s.busy() {
			if !c.pending.applied {
				unapplied = append(unapplied, c.pending)
			}
		}
		if len(unapplied) > 0 {
			s.apply(rapid.SampledFrom(unapplied).Draw(s.t, "apply"))
		}
	case action <= 7:
		if busy := s.busy(); len(busy) > 0 {
			s.complete(rapid.SampledFrom(busy).Draw(s.t, "complete").pending)
		}
	case action == 8:
		if len(s.ghosts) > 0 && rapid.Bool().Draw(s.t, "ghost") {
			s.landGhost(rapid.IntRange(0, len(s.ghosts)-1).Draw(s.t, "which-ghost"))
		} else if rapid.IntRange(0, 2).Draw(s.t, "delete") == 0 {
			s.logStart = rapid.Int64Range(s.logStart, s.highWatermark()).Draw(s.t, "log-start")
		}
	default:
		if idle := s.idle(); len(idle) > 0 {
			c := rapid.SampledFrom(idle).Draw(s.t, "rewinder")
			c.position = rapid.Int64Range(min(s.logStart, c.position), c.position).Draw(s.t, "rewind-to")
		}
	}
}

// finish settles every operation, lets some unknown produces land, then reads the log back.
func (s *logSim) finish() {
	for _, c := range s.busy() {
		if !c.pending.applied && rapid.Bool().Draw(s.t, "apply-at-end") {
			s.apply(c.pending)
		}
		s.complete(c.pending)
	}
	for len(s.ghosts) > 0 {
		if rapid.Bool().Draw(s.t, "ghost-lands") {
			s.landGhost(0)
		} else {
			s.ghosts = s.ghosts[1:]
		}
	}
	offset, seq := s.logStart, int64(0)
	for first := true; first || offset < s.highWatermark(); first = false {
		seq++
		records, next := s.read(offset, rapid.IntRange(1, 5).Draw(s.t, "final-page"))
		s.h.Add(Op{Client: 1000, Seq: seq, Kind: OpFetch, Topic: "t", InvokeNs: s.tick(), CompleteNs: s.tick(),
			Outcome: OutcomeOK, Records: records, FetchOffset: offset, HighWatermark: s.highWatermark(),
			LogStartOffset: s.logStart, Final: true, ProducerID: 0})
		offset = next
	}
}

func genHistory(t *rapid.T) History { return genHistorySized(t, 4, 10, 250) }

func genHistorySized(t *rapid.T, clientsMax, stepsMin, stepsMax int) History {
	s := &logSim{t: t}
	for i := range rapid.IntRange(1, clientsMax).Draw(t, "clients") {
		s.clients = append(s.clients, &simClient{id: i + 1, idempotent: rapid.Bool().Draw(t, "idempotent")})
	}
	for range rapid.IntRange(stepsMin, stepsMax).Draw(t, "steps") {
		s.step()
	}
	s.finish()
	return s.h
}

var propertyOptions = Options{RequireFinalReads: true}

func TestPropertyCorrectLogIsValid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := genHistory(t)
		r := Check(h, propertyOptions)
		if !r.Valid() {
			t.Fatalf("a correct log reported %s", r.Details())
		}
		if again := Check(h, propertyOptions); !reflect.DeepEqual(r, again) {
			t.Fatalf("two checks differ:\n%s\n%s", r.Details(), again.Details())
		}
		assertWitnessAgreesWithPorcupine(t, h)
		var buf bytes.Buffer
		if err := Encode(&buf, h); err != nil {
			t.Fatal(err)
		}
		decoded, err := Decode(&buf)
		if err != nil || !reflect.DeepEqual(decoded, h) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// TestPropertyMutationIsCaught applies each mutation that fits the generated history, one at a
// time to a fresh copy, and requires every mutated history to be reported by the expected name.
func TestPropertyMutationIsCaught(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := genHistory(t)
		for _, m := range mutations {
			mutated := cloneHistory(h)
			if !m.apply(t, &mutated) {
				continue
			}
			r := Check(mutated, propertyOptions)
			caught := false
			for _, a := range m.expect {
				caught = caught || r.Has(a)
			}
			if r.Valid() || !caught {
				t.Fatalf("mutation %q reported %v, want one of %v:\n%s", m.name, anomalyNames(r), m.expect, r.Details())
			}
			assertWitnessAgreesWithPorcupine(t, mutated)
		}
	})
}

// assertWitnessAgreesWithPorcupine checks the claims linearizable.go documents: a pair
// witness exists exactly when porcupine finds the partition not linearizable, and the pruned
// model porcupine runs gives the specification's verdict.
func assertWitnessAgreesWithPorcupine(t *rapid.T, h History) {
	if h.Validate() != nil {
		return
	}
	for _, p := range splitPartitions(h) {
		ops := linearOps(newPartitionView(p))
		_, _, witness := linearizabilityWitness(ops)
		pops := porcupineOps(ops)
		ok := porcupine.CheckOperations(offsetModel(ops), pops)
		if ok == witness {
			t.Fatalf("porcupine linearizable=%v but witness found=%v", ok, witness)
		}
		if len(ops) <= 60 {
			if spec := porcupine.CheckOperations(specModel, pops); spec != ok {
				t.Fatalf("pruned model linearizable=%v, specification %v", ok, spec)
			}
		}
	}
}

// specModel is the unpruned specification offsetModel refines: b >= state, state b+n.
var specModel = porcupine.Model{
	Init: func() any { return int64(0) },
	Step: func(state, input, output any) (bool, any) {
		next := state.(int64)
		if out := output.(produceOutput); out.base >= next {
			return true, out.base + input.(produceInput).count
		}
		return false, state
	},
}

func cloneHistory(h History) History {
	out := History{Ops: slices.Clone(h.Ops)}
	for i := range out.Ops {
		out.Ops[i].Records = slices.Clone(out.Ops[i].Records)
	}
	return out
}

// removeOp deletes op i and renumbers the rest.
func removeOp(h *History, i int) {
	h.Ops = slices.Delete(h.Ops, i, i+1)
	for j := range h.Ops {
		h.Ops[j].Index = j
	}
}

// observedElsewhere reports whether some op other than skip saw offset (fetched it, or an
// acknowledged produce placed it).
func observedElsewhere(h *History, skip int, offset int64) bool {
	for i, op := range h.Ops {
		if i == skip || (op.Kind == OpFetch && op.Outcome != OutcomeOK) || (op.Kind == OpProduce && op.Outcome != OutcomeOK) {
			continue
		}
		for _, r := range op.Records {
			if r.Offset == offset {
				return true
			}
		}
	}
	return false
}

// pick draws one of n candidates, false if there are none.
func pick(t *rapid.T, n int, label string) (int, bool) {
	if n == 0 {
		return 0, false
	}
	return rapid.IntRange(0, n-1).Draw(t, label), true
}

type opRecord struct{ op, record int }

type mutation struct {
	name   string
	expect []Anomaly
	apply  func(t *rapid.T, h *History) bool
}

var mutations = []mutation{
	{
		name:   "drop a durable record from a final read",
		expect: []Anomaly{LostWrite, IncompleteFinalRead},
		apply: func(t *rapid.T, h *History) bool {
			var logStart int64
			for _, op := range h.Ops {
				if op.Final {
					logStart = max(logStart, op.LogStartOffset)
				}
			}
			durable := map[Record]bool{}
			for _, op := range h.Ops {
				switch {
				case op.Kind == OpProduce && op.Outcome == OutcomeOK:
					for _, r := range op.Records {
						durable[Record{Offset: r.Offset, Value: r.Value}] = true
					}
				case op.Kind == OpFetch && op.Outcome == OutcomeOK && !op.Final:
					for _, r := range op.Records {
						if r.Offset < op.HighWatermark {
							durable[Record{Offset: r.Offset, Value: r.Value}] = true
						}
					}
				}
			}
			var cands []opRecord
			for i, op := range h.Ops {
				for j, r := range op.Records {
					if op.Final && r.Offset >= logStart && durable[Record{Offset: r.Offset, Value: r.Value}] {
						cands = append(cands, opRecord{i, j})
					}
				}
			}
			k, ok := pick(t, len(cands), "drop-final")
			if ok {
				c := cands[k]
				h.Ops[c.op].Records = slices.Delete(h.Ops[c.op].Records, c.record, c.record+1)
			}
			return ok
		},
	},
	{
		name:   "swap two values in a fetch",
		expect: []Anomaly{InconsistentOffsets},
		apply: func(t *rapid.T, h *History) bool {
			type pair struct{ op, i, j int }
			var cands []pair
			for o, op := range h.Ops {
				if op.Kind != OpFetch {
					continue
				}
				for i := range op.Records {
					for j := i + 1; j < len(op.Records); j++ {
						if op.Records[i].Value != op.Records[j].Value && observedElsewhere(h, o, op.Records[i].Offset) {
							cands = append(cands, pair{o, i, j})
						}
					}
				}
			}
			k, ok := pick(t, len(cands), "swap")
			if ok {
				c := cands[k]
				rs := h.Ops[c.op].Records
				rs[c.i].Value, rs[c.j].Value = rs[c.j].Value, rs[c.i].Value
			}
			return ok
		},
	},
	{
		name:   "acknowledge a produce at another produce's offsets",
		expect: []Anomaly{NotLinearizable},
		apply: func(t *rapid.T, h *History) bool {
			var acked []int
			for i, op := range h.Ops {
				if op.Kind == OpProduce && op.Outcome == OutcomeOK {
					acked = append(acked, i)
				}
			}
			a, ok := pick(t, len(acked), "moved")
			if !ok || len(acked) < 2 {
				return false
			}
			b := (a + 1 + rapid.IntRange(0, len(acked)-2).Draw(t, "onto")) % len(acked)
			base := h.Ops[acked[b]].Records[0].Offset
			for i := range h.Ops[acked[a]].Records {
				h.Ops[acked[a]].Records[i].Offset = base + int64(i)
			}
			return true
		},
	},
	{
		name:   "lower a fetch's high watermark below what it returned",
		expect: []Anomaly{ReadAboveHW},
		apply: func(t *rapid.T, h *History) bool {
			var cands []int
			for i, op := range h.Ops {
				if op.Kind == OpFetch && op.Outcome == OutcomeOK && len(op.Records) > 0 {
					cands = append(cands, i)
				}
			}
			k, ok := pick(t, len(cands), "lower-hw")
			if ok {
				op := &h.Ops[cands[k]]
				op.HighWatermark = op.Records[len(op.Records)-1].Offset
			}
			return ok
		},
	},
	{
		name:   "fail a produce whose value was read",
		expect: []Anomaly{AbortedRead},
		apply: func(t *rapid.T, h *History) bool {
			fetched := map[string]bool{}
			writers := map[string]int{}
			for _, op := range h.Ops {
				for _, r := range op.Records {
					if op.Kind == OpFetch {
						fetched[r.Value] = true
					} else {
						writers[r.Value]++
					}
				}
			}
			var cands []int
			for i, op := range h.Ops {
				if op.Kind == OpProduce && op.Outcome != OutcomeFailed && writers[op.Records[0].Value] == 1 && fetched[op.Records[0].Value] {
					cands = append(cands, i)
				}
			}
			k, ok := pick(t, len(cands), "fail")
			if ok {
				op := &h.Ops[cands[k]]
				op.Outcome = OutcomeFailed
				for i := range op.Records {
					op.Records[i].Offset = -1
				}
			}
			return ok
		},
	},
	{
		name:   "drop a final read page",
		expect: []Anomaly{IncompleteFinalRead},
		apply: func(t *rapid.T, h *History) bool {
			var cands []int
			for i, op := range h.Ops {
				if op.Final && len(op.Records) > 0 {
					cands = append(cands, i)
				}
			}
			k, ok := pick(t, len(cands), "drop-page")
			if ok {
				removeOp(h, cands[k])
			}
			return ok
		},
	},
	{
		name:   "replace a fetched value by one never written",
		expect: []Anomaly{UnwrittenRead},
		apply: func(t *rapid.T, h *History) bool {
			var cands []opRecord
			for i, op := range h.Ops {
				if op.Kind == OpFetch {
					for j := range op.Records {
						cands = append(cands, opRecord{i, j})
					}
				}
			}
			k, ok := pick(t, len(cands), "garbage")
			if ok {
				h.Ops[cands[k].op].Records[cands[k].record].Value = "garbage"
			}
			return ok
		},
	},
	{
		name:   "reorder two records of a fetch",
		expect: []Anomaly{IntNonmonotonicPoll},
		apply: func(t *rapid.T, h *History) bool {
			var cands []int
			for i, op := range h.Ops {
				if op.Kind == OpFetch && len(op.Records) >= 2 {
					cands = append(cands, i)
				}
			}
			k, ok := pick(t, len(cands), "reorder")
			if ok {
				rs := h.Ops[cands[k]].Records
				i := rapid.IntRange(0, len(rs)-2).Draw(t, "reorder-at")
				rs[i], rs[i+1] = rs[i+1], rs[i]
			}
			return ok
		},
	},
	{
		name:   "drop a record another op saw from the middle of a fetch",
		expect: []Anomaly{IntPollSkip},
		apply: func(t *rapid.T, h *History) bool {
			var cands []opRecord
			for i, op := range h.Ops {
				for j := 1; op.Kind == OpFetch && j+1 < len(op.Records); j++ {
					if observedElsewhere(h, i, op.Records[j].Offset) {
						cands = append(cands, opRecord{i, j})
					}
				}
			}
			k, ok := pick(t, len(cands), "drop-middle")
			if ok {
				c := cands[k]
				h.Ops[c.op].Records = slices.Delete(h.Ops[c.op].Records, c.record, c.record+1)
			}
			return ok
		},
	},
	{
		name:   "drop the first record of a fetch, one another op saw",
		expect: []Anomaly{PollSkip},
		apply: func(t *rapid.T, h *History) bool {
			var cands []int
			for i, op := range h.Ops {
				if op.Kind == OpFetch && len(op.Records) >= 2 && observedElsewhere(h, i, op.Records[0].Offset) {
					cands = append(cands, i)
				}
			}
			k, ok := pick(t, len(cands), "drop-first")
			if ok {
				op := &h.Ops[cands[k]]
				op.Records = op.Records[1:]
			}
			return ok
		},
	},
	{
		name:   "append an idempotent producer's value again at the end of the log",
		expect: []Anomaly{Duplicate},
		apply: func(t *rapid.T, h *History) bool {
			writers := map[string][]int{}
			for i, op := range h.Ops {
				if op.Kind == OpProduce {
					for _, r := range op.Records {
						writers[r.Value] = append(writers[r.Value], i)
					}
				}
			}
			// A copy below the final log start may legally come back (Kafka forgets a producer
			// whose batches retention deleted): plant only duplicates of records still there.
			finalStart := map[partitionKey]int64{}
			for _, op := range h.Ops {
				if op.Final && op.Outcome == OutcomeOK {
					k := partitionKey{op.Topic, op.Partition}
					finalStart[k] = max(finalStart[k], op.LogStartOffset)
				}
			}
			var cands []string
			for i, op := range h.Ops {
				if op.Kind == OpProduce && op.Outcome == OutcomeOK && op.Idempotent && len(writers[op.Records[0].Value]) == 1 &&
					op.Records[0].Offset >= finalStart[partitionKey{op.Topic, op.Partition}] {
					cands = append(cands, h.Ops[i].Records[0].Value)
				}
			}
			k, ok := pick(t, len(cands), "duplicate")
			if !ok {
				return false
			}
			last := -1
			for i, op := range h.Ops {
				if op.Final {
					last = i
				}
			}
			op := &h.Ops[last]
			op.Records = append(op.Records, Record{Offset: op.HighWatermark, Value: cands[k]})
			for i := range h.Ops {
				if h.Ops[i].Final {
					h.Ops[i].HighWatermark++
				}
			}
			return true
		},
	},
}
