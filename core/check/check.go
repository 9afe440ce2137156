package check

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"time"
)

// DefaultLinearizabilityTimeout bounds porcupine per partition when Options leave it zero.
const DefaultLinearizabilityTimeout = 10 * time.Second

// DefaultExamplesMax is how many examples a Finding keeps when Options leave it zero.
const DefaultExamplesMax = 5

// Options tune Check.
type Options struct {
	// LinearizabilityTimeout bounds the porcupine search of each partition (zero:
	// DefaultLinearizabilityTimeout). A partition not decided in time is reported as
	// LinearizabilityTimeout, never passed. It is the one place where the machine's speed can
	// change a result.
	LinearizabilityTimeout time.Duration
	// ExamplesMax bounds the examples kept per class (zero: DefaultExamplesMax); counts are
	// always complete.
	ExamplesMax int
	// RequireFinalReads makes a partition without final reads an IncompleteFinalRead: set it
	// when the harness promises to read every partition back after the faults stop.
	RequireFinalReads bool
	// Retention, per topic, says what may remove records below the log start. For a topic
	// without an entry anything may (DeleteRecords, retention): records below the final log
	// start are not checked. With one, a record below it is a lost write unless retention
	// could have deleted it (see Retention).
	Retention map[string]Retention
	// Excused, when set, names offsets the harness knows a disk fault destroyed on a broker
	// that had no other copy (a single replica cannot keep what its disk silently lost; its
	// promise is to detect it and never serve it). A record there written by an operation
	// invoked at invokeNs is excused from durability (lost-write, unseen), and final reads may
	// skip such offsets (asked with invokeNs = math.MinInt64). Everything else still holds:
	// nothing corrupt may be read, no offset may hold two values.
	Excused func(topic string, partition int32, offset, invokeNs int64) bool
	// Replicated says the partitions are replicated, each replica's log its own below the
	// high watermark. A fetch may have read a record from a replica other than the one whose
	// disk destroyed it, after the damage, and that replica may lead later: a record a fetch
	// returned is then excused by when the produce that wrote it was invoked (records written
	// before the damage were on the damaged disk), not by when the fetch was; a record no
	// produce in the history wrote keeps the fetch's time. And each leader reports its own log
	// start (see checkPolls).
	Replicated bool
}

// writerInvokes maps each value produced to a partition to the earliest invocation of a
// produce that sent it (any outcome).
type writerInvokes map[writerKey]int64

type writerKey struct {
	topic     string
	partition int32
	value     string
}

func newWriterInvokes(h History) writerInvokes {
	w := writerInvokes{}
	for _, op := range h.Ops {
		if op.Kind != OpProduce {
			continue
		}
		for _, r := range op.Records {
			k := writerKey{op.Topic, op.Partition, r.Value}
			if t, ok := w[k]; !ok || op.InvokeNs < t {
				w[k] = op.InvokeNs
			}
		}
	}
	return w
}

// excuseTime is the invocation op's record r is excused by: op's own, except, under
// Replicated (w not nil), for a fetch: the earlier of the fetch's and the record's writer's (a
// fetch cannot return what was written after it was invoked, so its own time is never too
// late).
func (w writerInvokes) excuseTime(op *Op, r Record) int64 {
	if w == nil || op.Kind != OpFetch {
		return op.InvokeNs
	}
	if t, ok := w[writerKey{op.Topic, op.Partition, r.Value}]; ok {
		return min(t, op.InvokeNs)
	}
	return op.InvokeNs
}

// latestWriterAt is the latest of the earliest invocations of the writers of the values v saw
// at offset (math.MaxInt64 when one has no known writer): a skip of offset is excused only if
// every value there was written before the damage (a fetch may have read any of them from
// another replica).
func (w writerInvokes) latestWriterAt(v *partitionView, offset int64) int64 {
	latest := int64(math.MinInt64)
	for _, value := range v.valuesAt(offset) {
		t, ok := w[writerKey{v.key.topic, v.key.partition, value}]
		if !ok {
			return math.MaxInt64
		}
		latest = max(latest, t)
	}
	return latest
}

// forgetDestroyed returns h as if the records a disk fault destroyed had never been observed:
// an acknowledged produce with an excused record becomes an unknown outcome at unknown
// offsets (its data is gone, so where it was is no longer a promise), and non-final fetches
// drop the excused records they read before the damage. What followed from the loss — the
// broker truncating the destroyed batch and appending new records at its offsets — then
// checks like any other history; no other record is excused.
func forgetDestroyed(h History, excused func(topic string, partition int32, offset, invokeNs int64) bool, writers writerInvokes) History {
	out := History{Ops: make([]Op, len(h.Ops))}
	for i, op := range h.Ops {
		destroyed := func(r Record) bool {
			return r.Offset >= 0 && excused(op.Topic, op.Partition, r.Offset, writers.excuseTime(&op, r))
		}
		switch {
		case op.Kind == OpProduce && op.Outcome == OutcomeOK && slices.ContainsFunc(op.Records, destroyed):
			op.Outcome = OutcomeUnknown
			op.Err = "destroyed by a disk fault after its acknowledgement"
			op.Records = slices.Clone(op.Records)
			for j := range op.Records {
				op.Records[j].Offset = -1
			}
		case op.Kind == OpFetch && !op.Final && slices.ContainsFunc(op.Records, destroyed):
			op.Records = slices.DeleteFunc(slices.Clone(op.Records), destroyed)
		}
		out.Ops[i] = op
	}
	return out
}

// Retention is a topic's time retention as a run configured and drove it.
type Retention struct {
	// Ms is the topic's retention.ms; -1 means nothing is ever deleted.
	Ms int64
	// WallClockMaxMs is the latest the broker's wall clock read during the run. Kafka deletes
	// a segment only when every record in it is older than Ms by that clock, so a record
	// whose timestamp is at least WallClockMaxMs-Ms was never eligible.
	WallClockMaxMs int64
}

// mayDelete reports whether retention may have deleted r (whose timestamp 0 is unknown).
func (t Retention) mayDelete(r Record) bool {
	if t.Ms < 0 {
		return false
	}
	return r.TimestampMs == 0 || r.TimestampMs < t.WallClockMaxMs-t.Ms
}

// Check holds h to DESIGN §8's contract and reports every anomaly class found. The result
// depends only on h and opts (apart from a porcupine timeout): partitions, ops and examples
// are visited in sorted order.
func Check(h History, opts Options) Report {
	if opts.LinearizabilityTimeout <= 0 {
		opts.LinearizabilityTimeout = DefaultLinearizabilityTimeout
	}
	if opts.ExamplesMax <= 0 {
		opts.ExamplesMax = DefaultExamplesMax
	}
	c := newCollector(opts.ExamplesMax)
	// The history is validated as recorded; forgetting destroyed records keeps it valid (it
	// only makes produces unknown at unknown offsets and drops records from fetches).
	problems := h.problems()
	var writers writerInvokes
	if opts.Replicated {
		writers = newWriterInvokes(h)
	}
	if len(problems) == 0 && opts.Excused != nil {
		h = forgetDestroyed(h, opts.Excused, writers)
	}
	parts := splitPartitions(h)
	report := func() Report {
		return Report{
			Anomalies:      c.findings(c.anomalies),
			Info:           c.findings(c.info),
			OpCount:        len(h.Ops),
			PartitionCount: len(parts),
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			c.add(InvalidHistory, Example{Offset: -1, Ops: []int{p.op}, Note: p.msg}, false)
		}
		return report()
	}
	for _, p := range parts {
		v := newPartitionView(p)
		checkValues(c, v)
		checkReadAboveHW(c, v)
		checkSends(c, v)
		checkPolls(c, v, opts.Replicated, func(offset, invokeNs int64) bool {
			if opts.Excused == nil {
				return false
			}
			if writers != nil {
				invokeNs = min(invokeNs, writers.latestWriterAt(v, offset))
			}
			return opts.Excused(v.key.topic, v.key.partition, offset, invokeNs)
		})
		checkDurability(c, v, opts)
		checkLinearizable(c, v, opts.LinearizabilityTimeout)
	}
	return report()
}

// partitionKey names one partition of one topic.
// finalLogStart is the highest log start the partition's OK final reads reported, -1 without
// any.
func (v *partitionView) finalLogStart() int64 {
	start := int64(-1)
	for _, op := range v.ops {
		if op.Kind == OpFetch && op.Final && op.Outcome == OutcomeOK {
			start = max(start, op.LogStartOffset)
		}
	}
	return start
}

type partitionKey struct {
	topic     string
	partition int32
}

func comparePartitionKeys(a, b partitionKey) int {
	if c := cmp.Compare(a.topic, b.topic); c != 0 {
		return c
	}
	return cmp.Compare(a.partition, b.partition)
}

// partitionOps is one partition's operations in history order.
type partitionOps struct {
	key partitionKey
	ops []*Op
}

// splitPartitions groups h's operations by partition, partitions sorted by (topic, partition).
func splitPartitions(h History) []partitionOps {
	byKey := map[partitionKey][]*Op{}
	for i := range h.Ops {
		op := &h.Ops[i]
		k := partitionKey{op.Topic, op.Partition}
		byKey[k] = append(byKey[k], op)
	}
	keys := slices.SortedFunc(maps.Keys(byKey), comparePartitionKeys)
	out := make([]partitionOps, 0, len(keys))
	for _, k := range keys {
		out = append(out, partitionOps{key: k, ops: byKey[k]})
	}
	return out
}

// observation is one sighting of a value at an offset: a record an OutcomeOK fetch returned,
// or a record of an acknowledged produce with known offsets.
type observation struct {
	value string
	op    int
	fetch bool
}

// partitionView indexes one partition's operations for the checks.
type partitionView struct {
	key partitionKey
	ops []*Op
	// opsByIndex maps Op.Index to the op, for this partition's ops.
	opsByIndex map[int]*Op
	// byOffset maps each observed offset to its observations, in op order.
	byOffset map[int64][]observation
	// offsets are byOffset's keys, ascending.
	offsets []int64
	// values indexes what was seen of each value: one lookup per observed record.
	values valueIndex
}

// valueInfo is what a partition's ops say about one value.
type valueInfo struct {
	// offsetsBuf and writersBuf hold offsets and writers while each has one element, as it
	// usually does: a value is written once and seen at one offset.
	offsetsBuf [1]int64
	writersBuf [1]*Op
	// value is the value as first seen.
	value string
	// offsets are the distinct offsets the value was observed at, ascending.
	offsets []int64
	// writers are the produces (any outcome) that sent it to this partition.
	writers []*Op
	// fetchedBy is the first OutcomeOK fetch that returned it, or -1.
	fetchedBy int
}

// offsetsOf returns the distinct offsets value was observed at, ascending.
func (v *partitionView) offsetsOf(value string) []int64 {
	if info := v.values.get(value); info != nil {
		return info.offsets
	}
	return nil
}

// writersOf returns the produces (any outcome) that sent value to this partition.
func (v *partitionView) writersOf(value string) []*Op {
	if info := v.values.get(value); info != nil {
		return info.writers
	}
	return nil
}

// fetchedBy returns the first OutcomeOK fetch that returned value.
func (v *partitionView) fetchedBy(value string) (int, bool) {
	if info := v.values.get(value); info != nil && info.fetchedBy >= 0 {
		return info.fetchedBy, true
	}
	return 0, false
}

func newPartitionView(p partitionOps) *partitionView {
	recordCount := 0
	for _, op := range p.ops {
		recordCount += len(op.Records)
	}
	v := &partitionView{
		key:        p.key,
		ops:        p.ops,
		opsByIndex: make(map[int]*Op, len(p.ops)),
		byOffset:   make(map[int64][]observation, recordCount/2),
		values:     valueIndex{byValue: make(map[string]*valueInfo, recordCount)},
	}
	infoOf := func(value string) *valueInfo {
		if info := v.values.get(value); info != nil {
			return info
		}
		return v.values.add(value)
	}
	observe := func(r Record, info *valueInfo, op *Op) {
		if r.Offset < 0 {
			return
		}
		// info.value, not r.Value: equal values then share one string, and the checks'
		// many comparisons of them stop at the pointer instead of reading every byte.
		v.byOffset[r.Offset] = append(v.byOffset[r.Offset], observation{value: info.value, op: op.Index, fetch: op.Kind == OpFetch})
		if i, found := slices.BinarySearch(info.offsets, r.Offset); !found {
			info.offsets = slices.Insert(info.offsets, i, r.Offset)
		}
	}
	for _, op := range p.ops {
		v.opsByIndex[op.Index] = op
		switch op.Kind {
		case OpProduce:
			for _, r := range op.Records {
				info := infoOf(r.Value)
				if ws := info.writers; len(ws) == 0 || ws[len(ws)-1] != op {
					info.writers = append(ws, op)
				}
				if op.Outcome == OutcomeOK {
					observe(r, info, op)
				}
			}
		case OpFetch:
			if op.Outcome != OutcomeOK {
				continue
			}
			for _, r := range op.Records {
				info := infoOf(r.Value)
				if info.fetchedBy < 0 {
					info.fetchedBy = op.Index
				}
				observe(r, info, op)
			}
		}
	}
	v.offsets = slices.Sorted(maps.Keys(v.byOffset))
	return v
}

// valuesAt returns the distinct values observed at offset, sorted.
func (v *partitionView) valuesAt(offset int64) []string {
	obs := v.byOffset[offset]
	out := make([]string, 0, 1)
	for _, o := range obs {
		out = append(out, o.value)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// existingIn returns the observed offsets in [from, to) at or above floor, ascending, in a
// new slice: callers filter it in place, which must not disturb v.offsets.
func (v *partitionView) existingIn(from, to, floor int64) []int64 {
	from = max(from, floor)
	if from >= to {
		return nil
	}
	lo, _ := slices.BinarySearch(v.offsets, from)
	hi, _ := slices.BinarySearch(v.offsets, to)
	return slices.Clone(v.offsets[lo:hi])
}

// example starts an Example in this partition.
func (v *partitionView) example(offset int64, value string, note string, ops ...int) Example {
	return Example{Topic: v.key.topic, Partition: v.key.partition, Offset: offset, Value: value, Ops: ops, Note: note}
}

// valueIndex maps each value to its valueInfo, and lists them in the order added.
type valueIndex struct {
	byValue map[string]*valueInfo
	all     []*valueInfo
}

// get returns value's info, or nil.
func (x *valueIndex) get(value string) *valueInfo { return x.byValue[value] }

// add indexes a value not yet in x.
func (x *valueIndex) add(value string) *valueInfo {
	info := &valueInfo{value: value, fetchedBy: -1}
	info.offsets, info.writers = info.offsetsBuf[:0], info.writersBuf[:0]
	x.byValue[value] = info
	x.all = append(x.all, info)
	return info
}
