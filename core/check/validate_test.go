package check

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(h *History)
		want   string
	}{
		{"index", func(h *History) { h.Ops[2].Index = 0 }, "Index 0 at position 2"},
		{"client and seq reused", func(h *History) { h.Ops[2].Seq = h.Ops[0].Seq }, "already used by op 0"},
		{"kind", func(h *History) { h.Ops[0].Kind = 0 }, "unknown kind"},
		{"outcome", func(h *History) { h.Ops[0].Outcome = 0 }, "unknown outcome"},
		{"time", func(h *History) { h.Ops[0].InvokeNs = h.Ops[0].CompleteNs + 1 }, "after completing"},
		{"topic", func(h *History) { h.Ops[0].Topic = "" }, "no topic"},
		{"partition", func(h *History) { h.Ops[0].Partition = -1 }, "partition -1"},
		{"utf-8", func(h *History) { h.Ops[0].Records[0].Value = "\xff" }, "UTF-8"},
		{"empty produce", func(h *History) { h.Ops[1].Records = nil }, "no records"},
		{"final produce", func(h *History) { h.Ops[1].Final = true }, "Final set on a produce"},
		{"offsets not consecutive", func(h *History) { h.Ops[0].Records[1].Offset = 5 }, "want base 0 + 1"},
		{"negative base", func(h *History) { h.Ops[1].Records[0].Offset = -2 }, "acknowledged base offset -2"},
		{"offset on an unacknowledged produce", func(h *History) { h.Ops[1].Outcome = OutcomeUnknown }, "where -1"},
		{"records on a failed fetch", func(h *History) { h.Ops[3].Outcome = OutcomeFailed }, "failed fetch returned 2 records"},
		{"negative fetched offset", func(h *History) { h.Ops[3].Records[0].Offset = -1 }, "fetched record at offset -1"},
		{"final without high watermark", func(h *History) { h.Ops[5].HighWatermark = -1 }, "final fetch without HighWatermark"},
	}
	if err := plainFinal().h.Validate(); err != nil {
		t.Fatalf("the clean history: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := plainFinal().h
			tc.mutate(&h)
			err := h.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want it to mention %q", err, tc.want)
			}
			if r := Check(h, Options{}); !r.Has(InvalidHistory) || len(r.Anomalies) != 1 {
				t.Fatalf("Check: %s", r.Details())
			}
		})
	}
}
