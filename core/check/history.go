package check

// OpKind is what a client operation did.
type OpKind uint8

const (
	// OpProduce sent records to one partition in one produce request (one batch). Jepsen's
	// queue workload calls it a send.
	OpProduce OpKind = iota + 1
	// OpFetch read records of one partition from FetchOffset (Jepsen's poll).
	OpFetch
)

func (k OpKind) String() string {
	switch k {
	case OpProduce:
		return "produce"
	case OpFetch:
		return "fetch"
	}
	return "unknown-op"
}

// Outcome is what the client knows about an operation when it completes.
type Outcome uint8

const (
	// OutcomeOK: the broker answered without error (a produce was acknowledged).
	OutcomeOK Outcome = iota + 1
	// OutcomeFailed: the broker answered with an error that means the operation did not take
	// effect (a produce refused before it was appended).
	OutcomeFailed
	// OutcomeUnknown: the client cannot know whether the operation took effect (a connection
	// reset with the request in flight, a timeout). Checkers keep such an operation open to
	// the end of the history: it may take effect at any later time, or never.
	OutcomeUnknown
)

func (o Outcome) String() string {
	switch o {
	case OutcomeOK:
		return "ok"
	case OutcomeFailed:
		return "failed"
	case OutcomeUnknown:
		return "unknown"
	}
	return "invalid-outcome"
}

// Record is one record sent or read. Values are unique across a history (clients generate
// them, e.g. "c3-17"), which is what lets checkers tell a duplicate from a second write.
type Record struct {
	// Offset is the record's offset: for a fetch, where it was read; for an acknowledged
	// produce, base offset + index in the batch; -1 when not known.
	Offset int64 `json:"offset"`
	// Key and Value are valid UTF-8 (the JSON-lines encoding carries them as strings).
	Key   string `json:"key,omitempty"`
	Value string `json:"value"`
	// TimestampMs is the record's timestamp (CreateTime as produced or as fetched), 0 when
	// unknown; checkers use it only for retention (Options.Retention).
	TimestampMs int64 `json:"timestamp_ms,omitempty"`
}

// Op is one client operation: its invocation, completion and outcome. Simulated clients
// (core/client) and real ones (chaos/) record the same format.
type Op struct {
	// Index is the operation's position in its History (set by History.Add).
	Index int `json:"index"`
	// Client names the client process; a client's operations never overlap in time unless it
	// pipelines, and Seq orders them as the client issued them.
	Client int    `json:"client"`
	Seq    int64  `json:"seq"`
	Kind   OpKind `json:"kind"`
	Topic  string `json:"topic"`
	// Partition is the partition written or read.
	Partition int32 `json:"partition"`
	// InvokeNs and CompleteNs are on one monotonic clock shared by every client of the
	// history (virtual time in the simulator). For OutcomeUnknown CompleteNs is when the
	// client gave up; checkers treat the operation as open to the end of the history (until
	// a fetch that returned its records, which cannot precede the append).
	InvokeNs   int64   `json:"invoke_ns"`
	CompleteNs int64   `json:"complete_ns"`
	Outcome    Outcome `json:"outcome"`
	// Err is the Kafka error name or the reason for a failed or unknown outcome.
	Err string `json:"err,omitempty"`
	// Idempotent marks a produce from an idempotent producer (a duplicate is then an anomaly).
	Idempotent bool `json:"idempotent,omitempty"`
	// Records: for a produce, the records sent (Offsets set when acknowledged); for a fetch,
	// the records returned, in offset order. A fetch records what the client delivers: Kafka
	// clients drop the records of the first batch below FetchOffset, and so must the history
	// (the poll checks take a record at or below the previous fetch's last one as going back).
	Records []Record `json:"records"`
	// FetchOffset is the offset a fetch asked for.
	FetchOffset int64 `json:"fetch_offset"`
	// HighWatermark is the partition's high watermark in a fetch answer (-1 if unknown).
	HighWatermark int64 `json:"high_watermark"`
	// LogStartOffset is the partition's log start offset in a fetch answer (-1 if unknown):
	// records below it may have been deleted by retention or DeleteRecords.
	LogStartOffset int64 `json:"log_start_offset"`
	// Final marks a fetch the harness made after the faults stopped and the cluster healed,
	// to read the partition back whole. The OutcomeOK Final fetches of a partition together
	// must cover it from the highest LogStartOffset they report to the highest HighWatermark
	// (both must be known, not -1); the lost-write and unseen checks hold the run to what they
	// read. A harness pages through the partition with as many Final fetches as it needs.
	Final bool `json:"final,omitempty"`
	// ProducerID and ProducerEpoch name an idempotent produce's producer session (-1 when
	// unknown). Kafka deduplicates retries within one session only: a value sent again after
	// an epoch bump or by a new producer id may legitimately land twice. Equal values, unknown
	// ones included, count as one session (the strict reading).
	ProducerID    int64 `json:"producer_id"`
	ProducerEpoch int16 `json:"producer_epoch"`
	// Position, for a fetch a consumer made from a tracked position (KIP-320), is where the
	// consumer stands after it; nil for other fetches. It moves past the records returned; when
	// the fetch found the log truncated below the position it was given, FetchOffset is the
	// first offset known to diverge, where it read from instead, and DivergedFrom the position
	// it was given.
	Position *Position `json:"position,omitempty"`
	// DivergedFrom is, for a fetch that detected a truncation (see Position), the position it
	// was asked to continue from; 0 when it detected none.
	DivergedFrom int64 `json:"diverged_from,omitempty"`
}

// Position is a consumer's place in a partition (Kafka's FetchPosition): the next offset to
// read, the leader epoch of the record before it, and the leader epoch it was last known valid
// at. A consumer that learns of a later leader epoch validates the position with
// OffsetForLeaderEpoch before it reads on (KIP-320), so it notices a truncation below it.
type Position struct {
	Offset int64 `json:"offset"`
	// OffsetEpoch is the leader epoch of the record before Offset; -1 when unknown (a position
	// from a reset), and such a position is not validated.
	OffsetEpoch int32 `json:"offset_epoch"`
	// LeaderEpoch is the partition's leader epoch when the position was last known valid; -1
	// when never.
	LeaderEpoch int32 `json:"leader_epoch"`
}

// StartPosition is a position at offset from a reset or a seek: nothing to validate.
func StartPosition(offset int64) Position {
	return Position{Offset: offset, OffsetEpoch: -1, LeaderEpoch: -1}
}

// History is every operation of a run, in the order they were recorded (completion order).
type History struct {
	Ops []Op
}

// Add appends op, setting its Index, and returns the index.
func (h *History) Add(op Op) int {
	op.Index = len(h.Ops)
	h.Ops = append(h.Ops, op)
	return op.Index
}
