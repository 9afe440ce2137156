package check

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Anomaly names a class of violation. The queue classes are spelled as Jepsen's
// jepsen.tests.kafka checker reports them; each constant says exactly what Weir reports under
// the name, and where that departs from Jepsen.
type Anomaly string

const (
	// LostWrite: a record that must be durable is not at its offset in the final reads of a
	// partition whose final reads are complete. Must be durable: every record of an
	// acknowledged produce (its offset known), and every record a non-final fetch returned
	// below that answer's HighWatermark (or with the HighWatermark unknown), since Kafka
	// serves only committed records. Exempt: offsets below the final reads' LogStartOffset
	// (retention or DeleteRecords may have deleted them), unless Options.Retention declares
	// the topic's retention and the record was too young for it. Reported once per (offset, value);
	// a record at or above the final HighWatermark is lost too. Jepsen, lacking final reads,
	// infers loss from the highest offset some poll read; Weir checks against the final reads
	// and does not look for loss in partitions without them.
	LostWrite Anomaly = "lost-write"
	// Duplicate: one value at more than one offset of a partition (from fetches and
	// acknowledged produces). An anomaly only when every op that sent the value was idempotent
	// and all of them belong to one producer session (ProducerID, ProducerEpoch); otherwise
	// the duplicate is reported as information, since a non-idempotent producer's retries, or
	// a resend under a new session, may write a value twice.
	Duplicate Anomaly = "duplicate"
	// InconsistentOffsets: two observations of one offset disagree on its value. The
	// observations are every record an OutcomeOK fetch returned and every record of an
	// acknowledged produce whose offset is known. Reported once per offset.
	InconsistentOffsets Anomaly = "inconsistent-offsets"
	// NonmonotonicSend: a client's acknowledged produce B to a partition got a base offset at
	// or below the last offset of an earlier acknowledged produce A of the same client and
	// partition, where A completed before B was invoked, or A and B were both idempotent in
	// one producer session and A was issued first (Seq). Overlapping produces of a
	// non-idempotent client are exempt: Kafka lets retries reorder them when several requests
	// are in flight. Reported once per B.
	NonmonotonicSend Anomaly = "nonmonotonic-send"
	// NonmonotonicPoll: a client's fetch F of a partition returned a record at or below the
	// last offset L of the client's previous record-returning fetch P of that partition,
	// although F.FetchOffset > L (the client did not rewind). A fetch with F.FetchOffset <= L
	// is the client moving back on its own (seek, offset reset, rebalance, restart) and is
	// compared with nothing. Only OutcomeOK fetches returning records take part, in Seq order.
	NonmonotonicPoll Anomaly = "nonmonotonic-poll"
	// IntNonmonotonicPoll: one fetch returned records whose offsets do not strictly increase.
	IntNonmonotonicPoll Anomaly = "int-nonmonotonic-poll"
	// PollSkip: a fetch F began above the client's position while records the history shows
	// exist lay in between. The position is L+1 after the client's previous record-returning
	// fetch of the partition (when F did not rewind, see NonmonotonicPoll), else
	// F.FetchOffset; the skipped window is [position, first offset F returned). A record
	// "exists" if any fetch returned it or an acknowledged produce placed it; offsets below
	// F's LogStartOffset are exempt (deleted records are legitimately skipped after an offset
	// reset). Reported once per fetch, counting the skipped records. A client that seeks
	// forward on purpose over records that still exist shows as a poll-skip: harnesses
	// should not, or should continue under a new Client id.
	PollSkip Anomaly = "poll-skip"
	// MissedTruncation: a client's fetch read value A at offset O, and a later fetch of the
	// client, continuing without moving back to O or below, read records of the final log,
	// which holds another value at O: the client went on past a truncation below its position
	// (an unclean election, a replica's lost records) without noticing, so it never reads what
	// the log now holds below its position. Kafka's consumer validates its position against a
	// new leader's epochs (KIP-320) and rewinds to the first offset known to diverge. Offsets
	// the final reads do not cover, and records a disk fault destroyed (Options.Excused), are
	// exempt. Reported once per client and partition truncation.
	MissedTruncation Anomaly = "missed-truncation"
	// IntPollSkip: one fetch returned two consecutive records with a record that exists (as
	// for PollSkip) at an offset strictly between them.
	IntPollSkip Anomaly = "int-poll-skip"
	// Unseen: an acknowledged produce's value that no fetch ever returned. An anomaly only in
	// a partition whose final reads are complete and only when the value's offset is at or
	// above the final LogStartOffset (or unknown while the log start is 0); otherwise it is
	// information (consumers may simply not have got there, or retention deleted it).
	Unseen Anomaly = "unseen"
	// ReadAboveHW: an OutcomeOK fetch returned a record at an offset at or above the
	// HighWatermark of the same answer.
	ReadAboveHW Anomaly = "read-above-hw"
	// AbortedRead: a fetch returned a value that only OutcomeFailed produces sent (a produce
	// that failed definitely did not take effect). Jepsen calls this G1a; here it is the
	// non-transactional case, transactions are not modelled yet.
	AbortedRead Anomaly = "G1a"
	// UnwrittenRead: a fetch returned a value no produce of the history sent to that
	// partition (corruption, a misdirected write, or another partition's data).
	UnwrittenRead Anomaly = "unwritten-read"
	// NotLinearizable: a partition's produces are not linearizable (porcupine): some produce A
	// completed before produce B was invoked yet B's offsets are not above A's, or two
	// produces' offset ranges overlap. Failed produces are left out; an unknown or unnumbered
	// one takes part only if fetches show where it landed (see linearizable.go).
	NotLinearizable Anomaly = "not-linearizable"
	// LinearizabilityTimeout: porcupine did not decide a partition within the timeout. Never a
	// pass: rerun with a smaller history.
	LinearizabilityTimeout Anomaly = "linearizability-timeout"
	// IncompleteFinalRead: a partition's final reads leave a gap in [final LogStartOffset,
	// final HighWatermark), or (Options.RequireFinalReads) a partition has no final reads.
	// The durability checks cannot vouch for such a partition.
	IncompleteFinalRead Anomaly = "incomplete-final-read"
	// InvalidHistory: the history breaks its own format (see History.Validate); no other check
	// runs.
	InvalidHistory Anomaly = "invalid-history"
)

// Example is one instance of an anomaly.
type Example struct {
	Topic     string
	Partition int32
	// Offset is the offset concerned, -1 when none is.
	Offset int64
	// Value is the value concerned, "" when none is.
	Value string
	// Ops are the indexes (Op.Index) of the operations involved, ascending.
	Ops []int
	// Note says what was seen, briefly.
	Note string
}

// Finding is every instance of one anomaly class: the count and a few examples.
type Finding struct {
	Anomaly Anomaly
	Count   int
	// Examples are the first instances in (topic, partition, offset, value, ops) order, at
	// most Options.ExamplesMax.
	Examples []Example
}

// Report is what Check found.
type Report struct {
	// Anomalies are the classes that make the history invalid, sorted by name.
	Anomalies []Finding
	// Info are classes observed but allowed (a duplicate from a non-idempotent producer, an
	// unseen value without complete final reads), sorted by name.
	Info []Finding
	// OpCount and PartitionCount describe the history checked.
	OpCount        int
	PartitionCount int
}

// Valid reports whether the history holds the contract: no anomaly was found.
func (r Report) Valid() bool { return len(r.Anomalies) == 0 }

// Count returns how many instances of class a were found, among anomalies or information.
func (r Report) Count(a Anomaly) int {
	for _, f := range r.Anomalies {
		if f.Anomaly == a {
			return f.Count
		}
	}
	for _, f := range r.Info {
		if f.Anomaly == a {
			return f.Count
		}
	}
	return 0
}

// Has reports whether anomaly class a (not information) was found.
func (r Report) Has(a Anomaly) bool {
	for _, f := range r.Anomalies {
		if f.Anomaly == a {
			return true
		}
	}
	return false
}

// String is a one-line summary: "valid: ..." or "invalid: " and each class with its count
// and first example, fit for a test failure message.
func (r Report) String() string {
	var b strings.Builder
	if r.Valid() {
		b.WriteString("valid: ")
	} else {
		b.WriteString("invalid: ")
	}
	b.WriteString(strconv.Itoa(r.OpCount))
	b.WriteString(" ops, ")
	b.WriteString(strconv.Itoa(r.PartitionCount))
	b.WriteString(" partitions")
	for _, f := range r.Anomalies {
		b.WriteString("; ")
		writeFindingHead(&b, f)
		if len(f.Examples) > 0 {
			b.WriteString(" e.g. ")
			writeExample(&b, f.Examples[0])
		}
	}
	if len(r.Info) > 0 {
		b.WriteString("; info:")
		for _, f := range r.Info {
			b.WriteString(" ")
			writeFindingHead(&b, f)
		}
	}
	return b.String()
}

// Details is the long form: one line per class, then one indented line per example.
func (r Report) Details() string {
	var b strings.Builder
	if r.Valid() {
		b.WriteString("valid")
	} else {
		b.WriteString("invalid")
	}
	b.WriteString(": " + strconv.Itoa(r.OpCount) + " ops, " + strconv.Itoa(r.PartitionCount) + " partitions\n")
	write := func(kind string, fs []Finding) {
		for _, f := range fs {
			b.WriteString(kind)
			writeFindingHead(&b, f)
			b.WriteString("\n")
			for _, e := range f.Examples {
				b.WriteString("    ")
				writeExample(&b, e)
				b.WriteString("\n")
			}
			if n := f.Count - len(f.Examples); n > 0 {
				b.WriteString("    ... " + strconv.Itoa(n) + " more\n")
			}
		}
	}
	write("anomaly ", r.Anomalies)
	write("info ", r.Info)
	return b.String()
}

func writeFindingHead(b *strings.Builder, f Finding) {
	b.WriteString(string(f.Anomaly))
	b.WriteString(" x")
	b.WriteString(strconv.Itoa(f.Count))
}

func writeExample(b *strings.Builder, e Example) {
	var parts []string
	if e.Topic != "" {
		where := e.Topic + "/" + strconv.FormatInt(int64(e.Partition), 10)
		if e.Offset >= 0 {
			where += "@" + strconv.FormatInt(e.Offset, 10)
		}
		parts = append(parts, where)
	}
	if e.Value != "" {
		parts = append(parts, "value "+strconv.Quote(e.Value))
	}
	if len(e.Ops) > 0 {
		ops := make([]string, len(e.Ops))
		for i, op := range e.Ops {
			ops[i] = strconv.Itoa(op)
		}
		parts = append(parts, "ops "+strings.Join(ops, ","))
	}
	b.WriteString(strings.Join(parts, " "))
	if e.Note != "" {
		if len(parts) > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Note)
	}
}

// compareExamples orders examples by topic, partition, offset, value, then ops.
func compareExamples(a, b Example) int {
	if c := cmp.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Partition, b.Partition); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Offset, b.Offset); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Value, b.Value); c != 0 {
		return c
	}
	if c := slices.Compare(a.Ops, b.Ops); c != 0 {
		return c
	}
	return cmp.Compare(a.Note, b.Note)
}

// collector gathers instances per class while the checks run, then builds the sorted Report.
type collector struct {
	examplesMax int
	anomalies   map[Anomaly][]Example
	info        map[Anomaly][]Example
}

func newCollector(examplesMax int) *collector {
	return &collector{
		examplesMax: examplesMax,
		anomalies:   map[Anomaly][]Example{},
		info:        map[Anomaly][]Example{},
	}
}

// add records one instance of anomaly a; info instances are allowed behaviour.
func (c *collector) add(a Anomaly, e Example, info bool) {
	e.Ops = slices.Clone(e.Ops)
	slices.Sort(e.Ops)
	e.Ops = slices.Compact(e.Ops)
	if info {
		c.info[a] = append(c.info[a], e)
		return
	}
	c.anomalies[a] = append(c.anomalies[a], e)
}

func (c *collector) findings(m map[Anomaly][]Example) []Finding {
	names := slices.Sorted(maps.Keys(m))
	out := make([]Finding, 0, len(names))
	for _, name := range names {
		es := m[name]
		slices.SortFunc(es, compareExamples)
		n := min(len(es), c.examplesMax)
		out = append(out, Finding{Anomaly: name, Count: len(es), Examples: slices.Clip(es[:n])})
	}
	return out
}
