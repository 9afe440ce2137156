package check

import (
	"testing"

	"pgregory.net/rapid"
)

// BenchmarkCheck checks a generated correct single-partition history of about 20k steps
// (8 clients, unknown outcomes, ghosts landing late, rewinds, deletions, final reads).
func BenchmarkCheck(b *testing.B) {
	h := rapid.Custom(func(t *rapid.T) History { return genHistorySized(t, 8, 20000, 20000) }).Example(1)
	for b.Loop() {
		if r := Check(h, Options{}); !r.Valid() {
			b.Fatal(r.Details())
		}
	}
	b.ReportMetric(float64(len(h.Ops)), "ops")
}
