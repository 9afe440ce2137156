package sim

import (
	"strings"
	"testing"

	"github.com/weirdata/weir/internal/purity"
)

// TestDeterminismRules holds sim/ to the parts of core's purity rules that keep a run
// reproducible (DESIGN §8): no goroutines, channels or selects, no map-order iteration, no
// clock reads or global random source. sim/ may import what core may not (memfs, netio's
// defaults) and may format text, so import, layer and print findings do not count.
func TestDeterminismRules(t *testing.T) {
	findings, err := purity.CheckPatterns(".", ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		switch f.Rule {
		case purity.RuleImport, purity.RuleLayer:
			continue
		case purity.RuleCall:
			if strings.Contains(f.Message, "prints") {
				continue
			}
		}
		t.Errorf("sim/%s", f)
	}
}
