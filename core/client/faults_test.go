package client_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/core/client"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/wire"
)

// modelBroker is a one-node broker in a few lines, with Kafka's idempotence rules: per
// partition and producer, the epoch, the last sequence and the last five batches (a retry of
// one of them is answered with its original offset).
type modelBroker struct {
	t        *testing.T
	versions wire.VersionTable
	logs     [2][]string // partition → values by offset
	state    [2]map[int64]*producerEntry
	nextPID  int64
}

type producerEntry struct {
	epoch   int16
	lastSeq int32
	recent  []recentBatch
}

type recentBatch struct {
	firstSeq   int32
	baseOffset int64
}

func newModelBroker(t *testing.T) *modelBroker {
	return &modelBroker{t: t, versions: wire.DefaultVersions(), state: [2]map[int64]*producerEntry{{}, {}}, nextPID: 1000}
}

// produceFault is what the world does to one produce request.
type produceFault uint8

const (
	faultNone         produceFault = iota
	faultNotLeader                 // refused before the append
	faultTimedOutLate              // appended, then answered REQUEST_TIMED_OUT
)

// handle answers one request frame; nil for none.
func (b *modelBroker) handle(frame []byte, fault produceFault) []byte {
	req, err := wire.DecodeRequest(frame, &b.versions)
	if errors.Is(err, wire.ErrUnsupportedVersion) && req.Header.APIKey == 18 {
		return wire.AppendResponse(nil, req.Header, wire.UnsupportedApiVersionsResponse(&b.versions))
	}
	if err != nil {
		b.t.Fatalf("broker: %v", err)
	}
	var resp kmsg.Response
	switch body := req.Body.(type) {
	case *kmsg.ApiVersionsRequest:
		r := kmsg.NewPtrApiVersionsResponse()
		r.ApiKeys = b.versions.APIKeys()
		resp = r
	case *kmsg.MetadataRequest:
		resp = metadataResponse(map[int32]string{0: "b0:9092"}, "t", topicID, partitionLeader{0, 0, 1}, partitionLeader{1, 0, 1})
	case *kmsg.InitProducerIDRequest:
		r := kmsg.NewPtrInitProducerIDResponse()
		r.ProducerID, r.ProducerEpoch = b.nextPID, 0
		b.nextPID++
		resp = r
	case *kmsg.ProduceRequest:
		p := body.Topics[0].Partitions[0]
		code, base := int16(6), int64(-1) // NOT_LEADER_OR_FOLLOWER
		if fault != faultNotLeader {
			code, base = b.append(p.Partition, p.Records)
			if fault == faultTimedOutLate {
				code, base = 7, -1
			}
		}
		resp = produceResponse(req, code, base)
	case *kmsg.FetchRequest:
		resp = b.fetch(body)
	default:
		b.t.Fatalf("broker: unexpected %T", body)
	}
	return wire.AppendResponse(nil, req.Header, resp)
}

// fetch answers with up to five records from the offset asked, as one batch.
func (b *modelBroker) fetch(req *kmsg.FetchRequest) *kmsg.FetchResponse {
	p := req.Topics[0].Partitions[0]
	log := b.logs[p.Partition]
	hw := int64(len(log))
	if p.FetchOffset > hw {
		return fetchResponse(req, 1, hw, 0, nil) // OFFSET_OUT_OF_RANGE
	}
	end := min(hw, p.FetchOffset+5)
	var batch []byte
	if end > p.FetchOffset {
		records := make([]record.Record, 0, end-p.FetchOffset)
		for i, v := range log[p.FetchOffset:end] {
			records = append(records, record.Record{OffsetDelta: int32(i), Value: []byte(v)})
		}
		var err error
		batch, err = record.AppendBatch(nil, record.BatchOptions{BaseOffset: record.Offset(p.FetchOffset), PartitionLeaderEpoch: 1,
			FirstTimestamp: 1, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, records)
		if err != nil {
			b.t.Fatal(err)
		}
	}
	return fetchResponse(req, 0, hw, 0, batch)
}

// append applies one produced batch, returning the error code and base offset.
func (b *modelBroker) append(partition int32, batch []byte) (code int16, base int64) {
	h, err := record.Validate(batch)
	if err != nil {
		b.t.Fatalf("broker: bad batch: %v", err)
	}
	if traceFaults {
		defer func() {
			b.t.Logf("broker p%d: pid %d epoch %d seq %d n %d -> code %d base %d", partition, h.ProducerID, h.ProducerEpoch, h.BaseSequence, h.RecordCount, code, base)
		}()
	}
	if h.ProducerID >= 0 {
		e := b.state[partition][h.ProducerID]
		switch {
		case e == nil && h.BaseSequence != 0:
			return 59, -1 // UNKNOWN_PRODUCER_ID
		case e != nil && h.ProducerEpoch < e.epoch:
			return 47, -1 // INVALID_PRODUCER_EPOCH
		case e != nil && h.ProducerEpoch > e.epoch && h.BaseSequence != 0:
			return 45, -1
		case e != nil && h.ProducerEpoch == e.epoch:
			for _, r := range e.recent {
				if r.firstSeq == h.BaseSequence {
					return 0, r.baseOffset // a retry of an appended batch
				}
			}
			if h.BaseSequence != e.lastSeq+1 {
				return 45, -1 // OUT_OF_ORDER_SEQUENCE_NUMBER
			}
		}
		if e == nil || h.ProducerEpoch > e.epoch {
			e = &producerEntry{epoch: h.ProducerEpoch}
			b.state[partition][h.ProducerID] = e
		}
		e.lastSeq = h.BaseSequence + h.LastOffsetDelta
		e.recent = append(e.recent, recentBatch{firstSeq: h.BaseSequence, baseOffset: int64(len(b.logs[partition]))})
		if len(e.recent) > 5 {
			e.recent = e.recent[1:]
		}
	}
	base = int64(len(b.logs[partition]))
	if err := record.ForEachRecord(batch, func(r *record.Record) error {
		b.logs[partition] = append(b.logs[partition], string(r.Value))
		return nil
	}); err != nil {
		b.t.Fatalf("broker: %v", err)
	}
	return 0, base
}

// traceFaults logs every append and every unacknowledged outcome.
const traceFaults = false

// faultWorld runs one Client against a modelBroker on virtual time, with a network that
// delays answers, resets connections (losing requests before or after the broker applied
// them) and fails dials.
type faultWorld struct {
	t              *testing.T
	rng            *rand.Rand
	c              *client.Client
	b              *modelBroker
	nowNs          int64
	open           map[client.ConnID]bool
	dead           map[client.ConnID]bool // reset by the network, not yet reported
	lastDeliveryNs map[client.ConnID]int64
	// During [downFromNs, downUntilNs) the network is cut: dials fail, requests are lost.
	downFromNs, downUntilNs int64
	events                  []worldEvent
	completed               []check.Op
	deadline                int64
}

type worldEvent struct {
	atNs int64
	kind uint8 // 1 connect, 2 dial failed, 3 deliver, 4 reset
	conn client.ConnID
	data []byte
}

func (w *faultWorld) schedule(ev worldEvent) {
	// After every event at the same time or earlier: FIFO among equal times.
	i := slices.IndexFunc(w.events, func(e worldEvent) bool { return e.atNs > ev.atNs })
	if i < 0 {
		i = len(w.events)
	}
	w.events = slices.Insert(w.events, i, ev)
}

func (w *faultWorld) apply(r client.Ready) {
	for _, id := range r.Closes {
		delete(w.open, id)
	}
	for _, d := range r.Dials {
		kind := uint8(1)
		if w.rng.IntN(10) == 0 || w.isDown() {
			kind = 2
		}
		w.schedule(worldEvent{atNs: w.nowNs + 1_000_000 + w.rng.Int64N(5_000_000), kind: kind, conn: d.Conn})
	}
	for _, s := range r.Sends {
		if w.dead[s.Conn] {
			continue // reset by the network; the client hears of it with the reset event
		}
		if !w.open[s.Conn] {
			w.t.Fatalf("send on connection %d, which is not open", s.Conn)
		}
		roll := w.rng.IntN(100)
		if roll < 4 || w.isDown() {
			// Reset before the broker read the request.
			w.schedule(worldEvent{atNs: w.nowNs, kind: 4, conn: s.Conn})
			delete(w.open, s.Conn)
			w.dead[s.Conn] = true
			continue
		}
		fault := faultNone
		if roll < 10 {
			fault = faultNotLeader
		} else if roll < 15 {
			fault = faultTimedOutLate
		}
		out := w.b.handle(s.Data[4:], fault)
		if roll >= 15 && roll < 20 {
			// Reset after the broker applied it: the answer is lost.
			w.schedule(worldEvent{atNs: w.nowNs + 100_000, kind: 4, conn: s.Conn})
			delete(w.open, s.Conn)
			w.dead[s.Conn] = true
			continue
		}
		// A connection delivers in order, like TCP.
		at := max(w.nowNs+200_000+w.rng.Int64N(3_000_000), w.lastDeliveryNs[s.Conn])
		w.lastDeliveryNs[s.Conn] = at
		w.schedule(worldEvent{atNs: at, kind: 3, conn: s.Conn, data: out})
	}
	w.completed = append(w.completed, r.Completed...)
	w.deadline = r.NextDeadlineNs
}

// runUntil runs every event and timer due by t, then sets the clock to t.
func (w *faultWorld) runUntil(t int64) {
	for {
		next := int64(-1)
		if len(w.events) > 0 {
			next = w.events[0].atNs
		}
		if w.deadline > 0 && (next < 0 || w.deadline < next) {
			next = w.deadline
		}
		if next < 0 || next > t {
			break
		}
		w.step()
	}
	w.nowNs = max(w.nowNs, t)
}

func (w *faultWorld) isDown() bool { return w.nowNs >= w.downFromNs && w.nowNs < w.downUntilNs }

// step runs the next event or timer; false when nothing is left.
func (w *faultWorld) step() bool {
	if len(w.events) == 0 && w.deadline == 0 {
		return false
	}
	if len(w.events) > 0 && (w.deadline == 0 || w.events[0].atNs <= w.deadline) {
		ev := w.events[0]
		w.events = w.events[1:]
		w.nowNs = max(w.nowNs, ev.atNs)
		switch ev.kind {
		case 1:
			w.open[ev.conn] = true
			w.apply(w.c.Connected(ev.conn, w.nowNs))
		case 2, 4:
			// The client may already have forgotten it; it ignores unknown connections.
			delete(w.open, ev.conn)
			w.apply(w.c.Closed(ev.conn, w.nowNs))
		case 3:
			if w.open[ev.conn] {
				// Answers arrive in pieces.
				data := ev.data
				for len(data) > 0 && w.open[ev.conn] {
					n := 1 + w.rng.IntN(len(data))
					w.apply(w.c.Received(ev.conn, data[:n], w.nowNs))
					data = data[n:]
				}
			}
		}
		return true
	}
	w.nowNs = max(w.nowNs, w.deadline)
	w.apply(w.c.Timer(w.nowNs))
	return true
}

// TestFaultsKeepOutcomesTrue runs produces through resets, lost answers, refusals and late
// timeouts, then holds every outcome to the broker's log: an OK produce is in the log at its
// offsets, a failed one nowhere, and with idempotence no value is ever appended twice.
func TestFaultsKeepOutcomesTrue(t *testing.T) {
	for _, idempotent := range []bool{true, false} {
		for seed := uint64(1); seed <= 40; seed++ {
			t.Run(fmt.Sprintf("idempotent=%v/seed=%d", idempotent, seed), func(t *testing.T) {
				runFaultWorld(t, seed, idempotent)
			})
		}
	}
}

// TestFaultsDeterministic: the same seed gives the same history, byte for byte.
func TestFaultsDeterministic(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		a, b := runFaultWorld(t, seed, true), runFaultWorld(t, seed, true)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("seed %d: two runs differ", seed)
		}
	}
}

func runFaultWorld(t *testing.T, seed uint64, idempotent bool) []check.Op {
	cfg := testConfig("b0:9092")
	cfg.Idempotent = idempotent
	cfg.DeliveryTimeoutNs = 2_000_000_000
	w := &faultWorld{t: t, rng: rand.New(rand.NewPCG(seed, 99)), b: newModelBroker(t), open: map[client.ConnID]bool{}, dead: map[client.ConnID]bool{}, lastDeliveryNs: map[client.ConnID]int64{}, nowNs: 1}
	w.c = client.New(cfg, rand.New(rand.NewPCG(seed, 1)))
	if seed%2 == 0 {
		// A cut longer than the delivery timeout: some produces end unknown or failed.
		w.downFromNs = 1_000_000_000 + w.rng.Int64N(1_000_000_000)
		w.downUntilNs = w.downFromNs + 3_000_000_000
	}
	const ops = 40
	fetches := 0
	values := map[string]client.OpID{}
	for i := 0; i < ops; i++ {
		n := 1 + w.rng.IntN(3)
		records := make([]check.Record, n)
		for j := range records {
			records[j] = check.Record{Value: fmt.Sprintf("v%d-%d", i, j)}
		}
		id, r := w.c.Produce("t", int32(w.rng.IntN(2)), records, w.nowNs)
		for _, rec := range records {
			values[rec.Value] = id
		}
		w.apply(r)
		if w.rng.IntN(2) == 0 {
			p := w.rng.IntN(2)
			_, r := w.c.Fetch("t", int32(p), w.rng.Int64N(int64(len(w.b.logs[p])+3)), w.nowNs)
			w.apply(r)
			fetches++
		}
		w.runUntil(w.nowNs + w.rng.Int64N(300_000_000))
	}
	for steps := 0; w.c.Pending() > 0; steps++ {
		if steps > 200_000 || !w.step() {
			t.Fatalf("%d operations pending after %d steps", w.c.Pending(), steps)
		}
	}
	if len(w.completed) != ops+fetches {
		t.Fatalf("%d completions for %d operations", len(w.completed), ops+fetches)
	}
	where := map[string][]int64{} // value → offsets in the log
	for p := range w.b.logs {
		for off, v := range w.b.logs[p] {
			where[v] = append(where[v], int64(p)<<32|int64(off))
		}
	}
	var outcomes [4]int
	fetchedRecords := 0
	seen := map[int64]bool{}
	for _, op := range w.completed {
		if seen[op.Seq] {
			t.Fatalf("operation %d completed twice", op.Seq)
		}
		seen[op.Seq] = true
		outcomes[op.Outcome]++
		if op.Kind == check.OpFetch {
			log := w.b.logs[op.Partition]
			for i, rec := range op.Records {
				if rec.Offset != op.FetchOffset+int64(i) || rec.Offset >= int64(len(log)) || log[rec.Offset] != rec.Value {
					t.Fatalf("fetch %d from %d: record %d is %+v, log has %q", op.Seq, op.FetchOffset, i, rec, log[min(rec.Offset, int64(len(log)-1))])
				}
			}
			fetchedRecords += len(op.Records)
			if op.Outcome == check.OutcomeOK && op.HighWatermark < op.FetchOffset {
				t.Fatalf("fetch %d: high watermark %d below the offset %d", op.Seq, op.HighWatermark, op.FetchOffset)
			}
			continue
		}
		if traceFaults && op.Outcome != check.OutcomeOK {
			t.Logf("op %d: %v %q after %d ms", op.Seq, op.Outcome, op.Err, (op.CompleteNs-op.InvokeNs)/1e6)
		}
		for _, rec := range op.Records {
			at := where[rec.Value]
			switch op.Outcome {
			case check.OutcomeOK:
				want := int64(op.Partition)<<32 | rec.Offset
				if len(at) == 0 || rec.Offset >= 0 && !slices.Contains(at, want) {
					t.Fatalf("ok produce %d: %q at offset %d, log has it at %v", op.Seq, rec.Value, rec.Offset, at)
				}
			case check.OutcomeFailed:
				if len(at) > 0 {
					t.Fatalf("failed produce %d (%s): %q is in the log", op.Seq, op.Err, rec.Value)
				}
			}
			if idempotent && len(at) > 1 {
				t.Fatalf("idempotent produce %d (%v): %q appended %d times", op.Seq, op.Outcome, rec.Value, len(at))
			}
		}
	}
	t.Logf("ok %d, failed %d, unknown %d (%d fetches read %d records); log sizes %d, %d", outcomes[check.OutcomeOK], outcomes[check.OutcomeFailed],
		outcomes[check.OutcomeUnknown], fetches, fetchedRecords, len(w.b.logs[0]), len(w.b.logs[1]))
	return w.completed
}
