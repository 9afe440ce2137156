package producer

import (
	"errors"
	"math"
	"testing"

	"pgregory.net/rapid"

	"github.com/weirdata/weir/core/record"
)

// The model: a few idempotent producers send batches (pid, epoch, first sequence, count); any
// batch ever sent may be delivered any number of times in any order (client retries after a
// lost response, reordering across connections, zombies of an older epoch). A leader judges
// each delivery with CheckAppend and appends on VerdictAppend.
type sentBatch struct {
	pid   int64
	epoch int16
	seq   int32
	n     int32
}

type modelProducer struct {
	pid     int64
	epoch   int16
	nextSeq int32
	sent    []sentBatch // the most recent sends, of every epoch
}

type acceptedBatch struct {
	base        record.Offset
	timestampMs int64
}

// producerHistory is what the model knows a producer's accepted batches must look like.
type producerHistory struct {
	epoch   int16
	lastSeq int32
	recent  []sentBatch // accepted in the current epoch, newest last, at most BatchesRetained
}

const sentKept = 12

// kafkaBatchesRetained is Kafka's NUM_BATCHES_TO_RETAIN, spelled out so the model does not
// follow a change of BatchesRetained.
const kafkaBatchesRetained = 5

func TestPropertyIdempotence(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := newTestState(t, DefaultConfig())
		var producers []*modelProducer
		for i := range rapid.IntRange(1, 3).Draw(t, "producers") {
			start := rapid.SampledFrom([]int32{0, math.MaxInt32 - 7}).Draw(t, "start")
			producers = append(producers, &modelProducer{pid: int64(100 + i), nextSeq: start})
		}
		accepted := map[sentBatch]acceptedBatch{}
		seqTaken := map[[3]int64]bool{} // (pid, epoch, sequence) of every accepted record
		history := map[int64]*producerHistory{}
		var log []record.Header
		nowMs := int64(1_000_000)

		steps := rapid.IntRange(1, 300).Draw(t, "steps")
		for range steps {
			p := producers[rapid.IntRange(0, len(producers)-1).Draw(t, "producer")]
			nowMs++
			switch action := rapid.IntRange(0, 9).Draw(t, "action"); {
			case action < 4: // send a new batch
				n := rapid.Int32Range(1, 5).Draw(t, "records")
				p.sent = append(p.sent, sentBatch{p.pid, p.epoch, p.nextSeq, n})
				if len(p.sent) > sentKept {
					p.sent = p.sent[1:]
				}
				p.nextSeq = incrementSequence(p.nextSeq, n)
			case action < 9: // deliver a sent batch, maybe again, maybe out of order
				if len(p.sent) == 0 {
					continue
				}
				b := p.sent[rapid.IntRange(0, len(p.sent)-1).Draw(t, "which")]
				if rapid.Bool().Draw(t, "in order") {
					// Mostly a client sends in order: the oldest batch of its epoch not yet
					// accepted, so that long runs of acceptances happen.
					for _, c := range p.sent {
						if _, ok := accepted[c]; !ok && c.epoch == p.epoch {
							b = c
							break
						}
					}
				}
				if b.n > 1 && rapid.IntRange(0, 9).Draw(t, "suffix") == 0 {
					// A batch no real client sends: the tail of a sent one. It shares the last
					// sequence but not the range, so it is never a duplicate.
					b.seq, b.n = incrementSequence(b.seq, 1), b.n-1
				}
				h := batch(b.pid, b.epoch, b.seq, b.n, nowMs)
				v, err := s.CheckAppend(h, nowMs)
				hist := history[b.pid]
				prev, wasAccepted := accepted[b]
				switch {
				case err != nil:
					if !errors.Is(err, ErrOutOfOrderSequence) && !errors.Is(err, ErrInvalidProducerEpoch) {
						t.Fatalf("%+v: unexpected error %v", b, err)
					}
					if hist == nil {
						t.Fatalf("%+v refused from a producer without state: %v", b, err)
					}
					if b.epoch < hist.epoch && !errors.Is(err, ErrInvalidProducerEpoch) {
						t.Fatalf("%+v of an older epoch than %d: %v", b, hist.epoch, err)
					}
					if b.epoch == hist.epoch && b.seq == incrementSequence(hist.lastSeq, 1) {
						t.Fatalf("%+v is next in sequence after %d but refused: %v", b, hist.lastSeq, err)
					}
					for _, r := range hist.recent {
						if r == b {
							t.Fatalf("%+v is one of the last %d batches but refused: %v", b, kafkaBatchesRetained, err)
						}
					}
				case v.Kind == VerdictDuplicate:
					if !wasAccepted {
						t.Fatalf("%+v reported a duplicate but was never accepted", b)
					}
					if v.BaseOffset != prev.base || v.LastOffset != prev.base+record.Offset(b.n-1) || v.TimestampMs != prev.timestampMs {
						t.Fatalf("%+v duplicate answered %+v, accepted at %+v", b, v, prev)
					}
				case v.Kind == VerdictAppend:
					if wasAccepted {
						t.Fatalf("%+v accepted twice (first at %d)", b, prev.base)
					}
					for i := int32(0); i < b.n; i++ {
						k := [3]int64{b.pid, int64(b.epoch), int64(incrementSequence(b.seq, i))}
						if seqTaken[k] {
							t.Fatalf("%+v: sequence %d of epoch %d accepted twice", b, k[2], b.epoch)
						}
						seqTaken[k] = true
					}
					if hist != nil {
						switch {
						case b.epoch < hist.epoch:
							t.Fatalf("%+v accepted after epoch %d", b, hist.epoch)
						case b.epoch == hist.epoch && b.seq != incrementSequence(hist.lastSeq, 1):
							t.Fatalf("%+v accepted after last sequence %d: not contiguous", b, hist.lastSeq)
						case b.epoch > hist.epoch && b.seq != 0:
							t.Fatalf("%+v opened epoch %d at sequence %d", b, b.epoch, b.seq)
						}
					} else {
						hist = &producerHistory{}
						history[b.pid] = hist
					}
					if b.epoch != hist.epoch {
						hist.recent = nil
					}
					hist.epoch, hist.lastSeq = b.epoch, incrementSequence(b.seq, b.n-1)
					hist.recent = append(hist.recent, b)
					if len(hist.recent) > kafkaBatchesRetained {
						hist.recent = hist.recent[1:]
					}
					base := s.EndOffset()
					h.BaseOffset = base
					s.Update(h, base, nowMs)
					accepted[b] = acceptedBatch{base, nowMs}
					log = append(log, h)
				default:
					t.Fatalf("verdict %+v", v)
				}
			default: // the client re-initializes: a new epoch starting at sequence 0
				if p.epoch < math.MaxInt16 {
					p.epoch++
					p.nextSeq = 0
				}
			}
		}

		// Replaying the log rebuilds the same state.
		replayed := newTestState(t, DefaultConfig())
		for _, h := range log {
			replayed.ReplayBatch(h)
		}
		assertSameEntries(t, s.Entries(), replayed.Entries())

		// A snapshot keeps each producer's last batch.
		decoded, err := DecodeSnapshot(s.AppendSnapshot(nil))
		if err != nil {
			t.Fatal(err)
		}
		want := s.Entries()
		for i := range want {
			if n := len(want[i].Batches); n > 1 {
				want[i].Batches = want[i].Batches[n-1:]
			}
		}
		assertSameEntries(t, want, decoded)
	})
}
