package buggify

import (
	"math/rand/v2"
	"testing"
)

func TestNilNeverFires(t *testing.T) {
	var b *B
	for range 100 {
		if b.Fire("log/roll-early") {
			t.Fatal("a nil B fired")
		}
	}
	if b.Stats() != nil {
		t.Fatal("a nil B has stats")
	}
}

func TestAlwaysOnFiresEveryTime(t *testing.T) {
	b := New(rand.New(rand.NewPCG(1, 2)), Options{EnableOneIn: 1, FireOneIn: 1})
	for range 10 {
		if !b.Fire("a") {
			t.Fatal("an always-on site did not fire")
		}
	}
	if got := b.Stats(); len(got) != 1 || got[0] != (SiteStats{Site: "a", Enabled: true, Checks: 10, Fires: 10}) {
		t.Fatalf("stats %+v", got)
	}
}

// TestOddsAndReplay: with the default odds about a quarter of sites are enabled and an enabled
// site fires about a quarter of the time; the same seed replays the same decisions.
func TestOddsAndReplay(t *testing.T) {
	run := func(seed uint64) []bool {
		b := New(rand.New(rand.NewPCG(seed, 0)), DefaultOptions())
		var out []bool
		for i := range 400 {
			for j := range 100 {
				out = append(out, b.Fire(string(rune('a'+i%26))+string(rune('0'+j%10))))
			}
		}
		enabled, fires, checks := 0, int64(0), int64(0)
		for _, s := range b.Stats() {
			if s.Enabled {
				enabled++
				fires += s.Fires
				checks += s.Checks
			}
		}
		if n := len(b.Stats()); n != 260 {
			t.Fatalf("%d sites, want 260", n)
		}
		if enabled < 30 || enabled > 110 {
			t.Errorf("seed %d: %d of 260 sites enabled, want about 65", seed, enabled)
		}
		if checks > 0 && (fires*100/checks < 15 || fires*100/checks > 35) {
			t.Errorf("seed %d: enabled sites fired %d of %d times, want about a quarter", seed, fires, checks)
		}
		return out
	}
	a, b := run(7), run(7)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 7 did not replay: decision %d differs", i)
		}
	}
}
