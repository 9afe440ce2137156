package producer

import (
	"github.com/weirdata/weir/core/record"
)

// Attribute bits of a v2 batch (Kafka's DefaultRecordBatch).
const (
	attrTransactional int16 = 0x10
	attrControl       int16 = 0x20
)

// batch returns the header of a client batch of n records from producer pid at epoch starting
// at sequence seq, stamped timestampMs.
func batch(pid int64, epoch int16, seq int32, n int32, timestampMs int64) record.Header {
	return record.Header{
		Magic:           record.MagicV2,
		ProducerID:      pid,
		ProducerEpoch:   epoch,
		BaseSequence:    seq,
		LastOffsetDelta: n - 1,
		RecordCount:     n,
		FirstTimestamp:  timestampMs,
		MaxTimestamp:    timestampMs,
	}
}

// tester is what the helpers need of *testing.T, *testing.B and *rapid.T.
type tester interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

func newTestState(t tester, cfg Config) *State {
	t.Helper()
	s, err := NewState(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// appendBatch runs CheckAppend and, on VerdictAppend, Update at the state's end offset, like a
// leader. It returns the verdict, the base offset the batch went to (or the duplicate's) and
// the error.
func appendBatch(s *State, h record.Header, nowMs int64) (Verdict, record.Offset, error) {
	v, err := s.CheckAppend(h, nowMs)
	if err != nil {
		return v, 0, err
	}
	if v.Kind == VerdictDuplicate {
		return v, v.BaseOffset, nil
	}
	base := s.EndOffset()
	h.BaseOffset = base
	s.Update(h, base, nowMs)
	return v, base, nil
}

func mustAppend(t tester, s *State, h record.Header, nowMs int64) record.Offset {
	t.Helper()
	v, base, err := appendBatch(s, h, nowMs)
	if err != nil {
		t.Fatalf("append %+v: %v", h, err)
	}
	if v.Kind != VerdictAppend {
		t.Fatalf("append %+v: verdict %v, want append", h, v)
	}
	return base
}
