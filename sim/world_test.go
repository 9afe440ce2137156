package sim

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"testing"
)

// TestWorldOrder: events run by (virtual time, scheduling order); a cancelled event never
// runs; an event scheduled in the past runs now; time never goes back.
func TestWorldOrder(t *testing.T) {
	w := NewWorld(1)
	var ran []string
	add := func(atNs int64, name string) EventID {
		return w.At(atNs, name, func() {
			ran = append(ran, name)
			if w.NowNs() != max(atNs, 0) {
				t.Errorf("%s ran at %d, scheduled for %d", name, w.NowNs(), atNs)
			}
		})
	}
	add(30, "c1")
	add(10, "a")
	add(30, "c2")
	cancelled := add(20, "cancelled")
	add(20, "b")
	add(30, "c3")
	if !w.Cancel(cancelled) || w.Cancel(cancelled) {
		t.Fatal("Cancel must succeed once")
	}
	w.At(15, "nested", func() {
		ran = append(ran, "nested")
		w.After(0, "same time, later", func() { ran = append(ran, "same time, later") })
		w.At(5, "in the past", func() {
			ran = append(ran, "in the past")
			if w.NowNs() != 15 {
				t.Errorf("an event scheduled in the past ran at %d, want 15", w.NowNs())
			}
		})
	})
	w.RunUntil(25)
	if w.NowNs() != 25 {
		t.Fatalf("RunUntil(25) left the clock at %d", w.NowNs())
	}
	w.RunUntil(100)
	want := []string{"a", "nested", "same time, later", "in the past", "b", "c1", "c2", "c3"}
	if !slices.Equal(ran, want) {
		t.Fatalf("ran %v, want %v", ran, want)
	}
	if w.Step() || w.Pending() != 0 || w.Executed() != int64(len(want)) {
		t.Fatalf("queue not empty or count wrong: pending %d, executed %d", w.Pending(), w.Executed())
	}
}

// TestWorldEventsMax: a livelock stops with a panic instead of spinning.
func TestWorldEventsMax(t *testing.T) {
	w := NewWorld(1)
	w.SetEventsMax(100)
	var loop func()
	loop = func() { w.After(0, "loop", loop) }
	loop()
	defer func() {
		if recover() == nil {
			t.Fatal("no panic past the event bound")
		}
	}()
	w.RunFor(1)
}

// TestWorldRandIndependence: each named PRNG is its own stream: draws from one never shift
// another's, the same (seed, name) gives the same stream, and another seed or name another.
func TestWorldRandIndependence(t *testing.T) {
	draw := func(w *World, name string) []uint64 {
		out := make([]uint64, 8)
		for i := range out {
			out[i] = w.Rand(name).Uint64()
		}
		return out
	}
	alone := draw(NewWorld(7), "node/1/disk")
	busy := NewWorld(7)
	for i := range 1000 {
		busy.Rand("network").Uint64()
		busy.Rand("node/" + strconv.Itoa(i)).Uint64()
	}
	if got := draw(busy, "node/1/disk"); !slices.Equal(got, alone) {
		t.Fatalf("draws elsewhere shifted node/1/disk: %v, want %v", got, alone)
	}
	if slices.Equal(draw(NewWorld(8), "node/1/disk"), alone) {
		t.Fatal("another seed gave the same stream")
	}
	if slices.Equal(draw(NewWorld(7), "node/2/disk"), alone) {
		t.Fatal("another name gave the same stream")
	}
	w := NewWorld(7)
	if w.Rand("x") != w.Rand("x") {
		t.Fatal("the same name must return the same generator")
	}
}

// TestTraceHash: the hash covers every line and its virtual time.
func TestTraceHash(t *testing.T) {
	run := func(text string, atNs int64) string {
		w := NewWorld(1)
		w.At(atNs, "event", func() { w.Trace(text) })
		w.RunFor(100)
		return w.TraceHash()
	}
	if run("a", 5) != run("a", 5) {
		t.Fatal("the same trace hashed differently")
	}
	if run("a", 5) == run("b", 5) || run("a", 5) == run("a", 6) {
		t.Fatal("different traces hashed the same")
	}
	if w := NewWorld(1); w.TraceLines() != 0 {
		t.Fatal("a new world has trace lines")
	}
}

// TestWallClock: drift scales the monotonic time, jumps move the reading either way, and a
// drift change keeps the current reading.
func TestWallClock(t *testing.T) {
	w := NewWorld(1)
	fast := w.NewWallClock(1_000_000, 1000) // 1000 ppm fast
	exact := w.NewWallClock(1_000_000, 0)
	w.RunUntil(10 * secondNs)
	if exact.NowMs() != 1_010_000 || fast.NowMs() != 1_010_010 {
		t.Fatalf("after 10 s: exact %d, fast %d", exact.NowMs(), fast.NowMs())
	}
	exact.Jump(-5000)
	if exact.NowMs() != 1_005_000 {
		t.Fatalf("after a 5 s jump back: %d", exact.NowMs())
	}
	before := fast.NowNs()
	fast.SetDriftPpm(-1000)
	if fast.NowNs() != before {
		t.Fatalf("a drift change moved the reading from %d to %d", before, fast.NowNs())
	}
	w.RunUntil(20 * secondNs)
	if fast.NowMs() != 1_010_010+9_990 {
		t.Fatalf("after 10 s at -1000 ppm: %d", fast.NowMs())
	}
}

func TestWallClockMax(t *testing.T) {
	w := NewWorld(1)
	c := w.NewWallClock(1_000_000, 0)
	w.RunFor(5e9)
	if got := c.MaxMs(); got != 1_005_000 {
		t.Fatalf("MaxMs %d after 5 s, want 1005000", got)
	}
	c.Jump(-60_000)
	w.RunFor(1e9)
	if got := c.MaxMs(); got != 1_005_000 {
		t.Fatalf("MaxMs %d after a backward jump, want the reading before it, 1005000", got)
	}
	c.Jump(120_000)
	if got, now := c.MaxMs(), c.NowMs(); got != now || now != 1_066_000 {
		t.Fatalf("MaxMs %d, now %d after a forward jump, want both 1066000", got, now)
	}
}

// TestTraceStamp: a line's stamp is the virtual time as milliseconds with six decimals.
func TestTraceStamp(t *testing.T) {
	for _, nowNs := range []int64{0, 5, 999_999, 1_000_000, 1_000_007, 100_000, 12_345_678_901, 7_000_000_000} {
		w := NewWorld(1)
		var out bytes.Buffer
		w.SetTraceWriter(&out)
		w.At(nowNs, "e", func() {})
		w.Step()
		want := fmt.Sprintf("%d.%06dms e\n", nowNs/1e6, nowNs%1e6)
		if out.String() != want {
			t.Errorf("at %d ns the trace line is %q, want %q", nowNs, out.String(), want)
		}
	}
}
