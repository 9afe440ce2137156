package producer

import "testing"

// BenchmarkCheckAppendUpdate is the produce path's producer-state cost per batch: CheckAppend
// then Update, for one producer and for 1000 producers taking turns.
func BenchmarkCheckAppendUpdate(b *testing.B) {
	for _, producers := range []int{1, 1000} {
		b.Run(map[int]string{1: "producers=1", 1000: "producers=1000"}[producers], func(b *testing.B) {
			s := newTestState(b, DefaultConfig())
			seqs := make([]int32, producers)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				p := i % producers
				h := batch(int64(p), 0, seqs[p], 10, 1000)
				v, err := s.CheckAppend(h, 1000)
				if err != nil || v.Kind != VerdictAppend {
					b.Fatalf("%+v %v", v, err)
				}
				s.Update(h, s.EndOffset(), 1000)
				seqs[p] = incrementSequence(seqs[p], 10)
			}
		})
	}
}

// BenchmarkDuplicate is the cost of answering a retried batch.
func BenchmarkDuplicate(b *testing.B) {
	s := newTestState(b, DefaultConfig())
	for i := int32(0); i < 5; i++ {
		mustAppend(b, s, batch(1, 0, i*10, 10, 1000), 1000)
	}
	h := batch(1, 0, 0, 10, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if v, err := s.CheckAppend(h, 1000); err != nil || v.Kind != VerdictDuplicate {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkSnapshot encodes the snapshot of 10000 producers.
func BenchmarkSnapshot(b *testing.B) {
	s := newTestState(b, DefaultConfig())
	for p := int64(0); p < 10000; p++ {
		mustAppend(b, s, batch(p, 0, 0, 1, 1000), 1000)
	}
	buf := make([]byte, 0, 1<<20)
	b.ReportAllocs()
	for b.Loop() {
		buf = s.AppendSnapshot(buf[:0])
	}
}
