package check

// builder writes small synthetic histories for one partition, "t"/0, one op after another
// unless an op's times are given.
type builder struct {
	h          History
	nowNs      int64
	seq        map[int]int64
	idempotent map[int]bool
}

func newBuilder() *builder {
	return &builder{seq: map[int]int64{}, idempotent: map[int]bool{}}
}

// add appends op with the next Seq of its client; zero times mean "right after the last op".
func (b *builder) add(op Op) int {
	if op.Topic == "" {
		op.Topic = "t"
	}
	b.seq[op.Client]++
	op.Seq = b.seq[op.Client]
	if op.InvokeNs == 0 && op.CompleteNs == 0 {
		op.InvokeNs, op.CompleteNs = b.nowNs+1, b.nowNs+2
	}
	b.nowNs = max(b.nowNs, op.CompleteNs)
	return b.h.Add(op)
}

// produce adds a produce; base -1 leaves offsets unknown (as for any outcome but OK).
func (b *builder) produce(client int, outcome Outcome, base int64, values ...string) int {
	return b.add(b.produceOp(client, outcome, base, values...))
}

func (b *builder) produceOp(client int, outcome Outcome, base int64, values ...string) Op {
	op := Op{Client: client, Kind: OpProduce, Outcome: outcome, Idempotent: b.idempotent[client],
		ProducerID: int64(client), HighWatermark: -1, LogStartOffset: -1, FetchOffset: -1}
	for i, v := range values {
		off := int64(-1)
		if base >= 0 {
			off = base + int64(i)
		}
		op.Records = append(op.Records, Record{Offset: off, Value: v})
	}
	return op
}

// fetch adds an OK fetch with log start 0.
func (b *builder) fetch(client int, fetchOffset, hw int64, records ...Record) int {
	return b.add(Op{Client: client, Kind: OpFetch, Outcome: OutcomeOK, FetchOffset: fetchOffset,
		HighWatermark: hw, LogStartOffset: 0, Records: records})
}

// final adds an OK final fetch by client 99.
func (b *builder) final(fetchOffset, hw, logStart int64, records ...Record) int {
	return b.add(Op{Client: 99, Kind: OpFetch, Outcome: OutcomeOK, FetchOffset: fetchOffset,
		HighWatermark: hw, LogStartOffset: logStart, Records: records, Final: true})
}

// recs numbers values from base.
func recs(base int64, values ...string) []Record {
	out := make([]Record, len(values))
	for i, v := range values {
		out[i] = Record{Offset: base + int64(i), Value: v}
	}
	return out
}

// rec is one record.
func rec(offset int64, value string) Record { return Record{Offset: offset, Value: value} }

// join concatenates record lists.
func join(lists ...[]Record) []Record {
	var out []Record
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// anomalyNames lists the anomaly classes of r, in order.
func anomalyNames(r Report) []Anomaly {
	var out []Anomaly
	for _, f := range r.Anomalies {
		out = append(out, f.Anomaly)
	}
	return out
}
