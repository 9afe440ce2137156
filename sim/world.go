package sim

import (
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
)

// DefaultEventsMax bounds the events one World executes: a run that schedules events at the
// same virtual time forever (a livelock) stops with a panic instead of spinning.
const DefaultEventsMax = 50_000_000

// EventID names a scheduled event so that it can be cancelled; 0 is no event.
type EventID uint64

// World is one simulated run: virtual monotonic time, the event queue, the seeded PRNGs and
// the trace. Everything in a run is driven from World's single goroutine; nothing reads a
// real clock or a global random source, so the same seed replays the same run.
type World struct {
	seed  uint64
	nowNs int64
	// seq orders events scheduled for the same virtual time: first scheduled, first run.
	seq   uint64
	queue eventQueue
	// slots holds every event ever allocated, by slot: an EventID names a slot and the
	// generation of its use, so Cancel needs no map. free lists the slots not in the queue.
	slots []*event
	free  []int32

	rands map[string]*rand.Rand // lookup only; never ranged over

	trace      hash.Hash
	traceLines int64
	traceOut   io.Writer
	line       []byte
	// stamp is traceStamp's text for virtual time stampNs: an event's lines share one time.
	stamp   []byte
	stampNs int64
	// scratch is the buffer traceBuf lines are built in.
	scratch traceBuf

	executed  int64
	eventsMax int64
}

// NewWorld starts a run from seed at virtual time 0.
func NewWorld(seed uint64) *World {
	return &World{
		seed:      seed,
		rands:     map[string]*rand.Rand{},
		trace:     sha256.New(),
		stampNs:   -1,
		eventsMax: DefaultEventsMax,
	}
}

// Seed is the run's seed.
func (w *World) Seed() uint64 { return w.seed }

// NowNs is the virtual monotonic time, in nanoseconds since the run began. It never goes back.
func (w *World) NowNs() int64 { return w.nowNs }

// Executed is how many events have run.
func (w *World) Executed() int64 { return w.executed }

// SetEventsMax changes the bound on executed events (DefaultEventsMax).
func (w *World) SetEventsMax(n int64) { w.eventsMax = n }

// Rand returns the PRNG of the named component (e.g. "node/1/disk", "network"), seeded from a
// hash of (seed, name): each component draws from its own stream, so a new draw in one place
// does not shift the draws of any other. The same name returns the same generator.
func (w *World) Rand(name string) *rand.Rand {
	if r, ok := w.rands[name]; ok {
		return r
	}
	r := rand.New(rand.NewChaCha8(DeriveSeed(w.seed, name)))
	w.rands[name] = r
	return r
}

// DeriveSeed is the 32-byte ChaCha8 seed of a named component: sha256(seed, name).
func DeriveSeed(seed uint64, name string) [32]byte {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(name))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// At schedules fn to run at virtual time atNs (now, if atNs is in the past), labelled what in
// the trace. Events at the same time run in the order they were scheduled.
func (w *World) At(atNs int64, what string, fn func()) EventID {
	if fn == nil {
		panic("sim: invariant: an event needs a function")
	}
	w.seq++
	var e *event
	if n := len(w.free); n > 0 {
		e = w.slots[w.free[n-1]]
		w.free = w.free[:n-1]
	} else {
		if len(w.slots) == math.MaxInt32 {
			panic("sim: invariant: more than 2^31 events pending")
		}
		e = &event{slot: int32(len(w.slots))}
		w.slots = append(w.slots, e)
	}
	e.atNs, e.seq, e.what, e.fn = max(atNs, w.nowNs), w.seq, what, fn
	heap.Push(&w.queue, e)
	return e.id()
}

// After schedules fn delayNs from now.
func (w *World) After(delayNs int64, what string, fn func()) EventID {
	return w.At(w.nowNs+max(delayNs, 0), what, fn)
}

// Cancel removes a scheduled event; it reports whether the event was still pending.
func (w *World) Cancel(id EventID) bool {
	slot := int64(uint32(id)) - 1
	if slot < 0 || slot >= int64(len(w.slots)) {
		return false
	}
	e := w.slots[slot]
	if e.index < 0 || e.id() != id {
		return false // run, cancelled, or its slot reused since
	}
	heap.Remove(&w.queue, e.index)
	w.recycle(e)
	return true
}

// recycle frees e's slot, out of the queue, for a later At: the next use of the slot has
// another generation, so e's EventID no longer names it. The slots number at most the
// queue's peak length.
func (w *World) recycle(e *event) {
	e.gen++
	e.what, e.fn = "", nil
	w.free = append(w.free, e.slot)
}

// Pending is how many events are scheduled.
func (w *World) Pending() int { return w.queue.Len() }

// NextAtNs is the time of the next event; ok is false when none is scheduled.
func (w *World) NextAtNs() (atNs int64, ok bool) {
	if w.queue.Len() == 0 {
		return 0, false
	}
	return w.queue[0].atNs, true
}

// Step runs the next event, advancing virtual time to it; it reports false when none is left.
func (w *World) Step() bool {
	if w.queue.Len() == 0 {
		return false
	}
	e := heap.Pop(&w.queue).(*event)
	if e.atNs < w.nowNs {
		panic(fmt.Sprintf("sim: invariant: event %q at %d ns runs after %d ns", e.what, e.atNs, w.nowNs))
	}
	w.nowNs = e.atNs
	w.executed++
	if w.executed > w.eventsMax {
		panic(fmt.Sprintf("sim: more than %d events executed (a livelock?); last %q at %d ns", w.eventsMax, e.what, e.atNs))
	}
	w.Trace(e.what)
	fn := e.fn
	w.recycle(e) // before fn, which may schedule (and so reuse e)
	fn()
	return true
}

// RunUntil runs events up to and including virtual time untilNs, then moves the clock there.
func (w *World) RunUntil(untilNs int64) {
	for {
		at, ok := w.NextAtNs()
		if !ok || at > untilNs {
			break
		}
		w.Step()
	}
	w.nowNs = max(w.nowNs, untilNs)
}

// RunFor runs events for durationNs of virtual time.
func (w *World) RunFor(durationNs int64) { w.RunUntil(w.nowNs + durationNs) }

// RunUntilTrue runs events until done reports true (checked before each event) or no event is
// left before limitNs; it reports done's final answer. Virtual time stops at the last event run.
func (w *World) RunUntilTrue(done func() bool, limitNs int64) bool {
	for !done() {
		at, ok := w.NextAtNs()
		if !ok || at > limitNs {
			return done()
		}
		w.Step()
	}
	return true
}

// SetTraceWriter makes every trace line also go to out (weir sim --trace); nil stops it.
func (w *World) SetTraceWriter(out io.Writer) { w.traceOut = out }

// Trace appends one line to the trace, stamped with the virtual time: the running hash covers
// it, and the trace writer, when set, gets it.
func (w *World) Trace(text string) {
	w.line = append(w.traceStamp(), text...)
	w.endTraceLine()
}

// Tracef is Trace with formatting, formatted straight into the line (a run traces every event).
func (w *World) Tracef(format string, args ...any) {
	w.line = fmt.Appendf(w.traceStamp(), format, args...)
	w.endTraceLine()
}

// TraceBytes is Trace of text that the caller built (and may reuse once it returns).
func (w *World) TraceBytes(text []byte) {
	w.line = append(w.traceStamp(), text...)
	w.endTraceLine()
}

// traceBuf builds a trace line with appends instead of fmt, for lines written on every
// delivery, request and sync. Its output must match the fmt verbs it replaces (%d, %s, %v of
// an error, %08x), or traces of the same seed would differ across versions for no reason.
type traceBuf []byte

func (w *World) traceBuf() traceBuf { return w.scratch[:0] }

func (b traceBuf) str(s string) traceBuf { return append(b, s...) }
func (b traceBuf) num(x int64) traceBuf  { return strconv.AppendInt(b, x, 10) }
func (b traceBuf) unum(x uint64) traceBuf {
	return strconv.AppendUint(b, x, 10)
}

// err appends e as %v does.
func (b traceBuf) err(e error) traceBuf {
	if e == nil {
		return append(b, "<nil>"...)
	}
	return append(b, e.Error()...)
}

// hex8 appends x as %08x does.
func (b traceBuf) hex8(x uint32) traceBuf {
	const digits = "0123456789abcdef"
	for shift := 28; shift >= 0; shift -= 4 {
		b = append(b, digits[(x>>uint(shift))&0xf])
	}
	return b
}

// traceLine writes b as a line and keeps its buffer for the next.
func (w *World) traceLine(b traceBuf) {
	w.TraceBytes(b)
	w.scratch = b[:0]
}

// traceStamp starts a line with "<ms>.<ns, six digits>ms ".
func (w *World) traceStamp() []byte {
	if w.stampNs != w.nowNs {
		stamp := strconv.AppendInt(w.stamp[:0], w.nowNs/1e6, 10)
		stamp = append(stamp, '.')
		frac := w.nowNs % 1e6
		for div := int64(1e5); div > frac && div > 1; div /= 10 {
			stamp = append(stamp, '0')
		}
		stamp = strconv.AppendInt(stamp, frac, 10)
		w.stamp, w.stampNs = append(stamp, "ms "...), w.nowNs
	}
	return append(w.line[:0], w.stamp...)
}

func (w *World) endTraceLine() {
	w.line = append(w.line, '\n')
	w.trace.Write(w.line)
	w.traceLines++
	if w.traceOut != nil {
		w.traceOut.Write(w.line)
	}
}

// TraceHash is the hex sha256 of every trace line so far: two runs of one seed on one commit
// give the same hash, and a difference means the run was not deterministic.
func (w *World) TraceHash() string { return hex.EncodeToString(w.trace.Sum(nil)) }

// TraceLines is how many lines the trace has.
func (w *World) TraceLines() int64 { return w.traceLines }

// event is one scheduled function, in slot slot of World.slots for its gen-th use.
type event struct {
	atNs  int64
	seq   uint64
	what  string
	fn    func()
	index int // in the heap, for Cancel; -1 when not in it
	slot  int32
	gen   uint32
}

// id names the event's current use: the generation above the slot (plus one, so that no
// event is 0).
func (e *event) id() EventID { return EventID(uint64(e.gen)<<32 | uint64(e.slot+1)) }

// eventQueue is a min-heap on (atNs, seq).
type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].atNs != q[j].atNs {
		return q[i].atNs < q[j].atNs
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}
func (q *eventQueue) Push(x any) {
	e := x.(*event)
	e.index = len(*q)
	*q = append(*q, e)
}
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	e.index = -1
	return e
}

// WallClock is one machine's wall clock: the virtual monotonic time scaled by a drift and
// shifted by an offset, which Jump moves (an NTP step, a VM resume). It may run backwards
// through Jump; the monotonic clock never does.
type WallClock struct {
	w        *World
	offsetNs int64 // wall time at virtual time 0, plus every jump
	driftPpm int64 // parts per million the clock runs fast (positive) or slow
	// peakNs is the latest reading before a backward jump (between jumps the clock only
	// moves forward), for MaxMs.
	peakNs int64
}

// NewWallClock returns a wall clock reading startWallMs at virtual time 0, running driftPpm
// parts per million fast (negative: slow).
func (w *World) NewWallClock(startWallMs, driftPpm int64) *WallClock {
	return &WallClock{w: w, offsetNs: startWallMs * 1e6, driftPpm: driftPpm}
}

// NowNs reads the clock in nanoseconds since the Unix epoch.
func (c *WallClock) NowNs() int64 {
	mono := c.w.nowNs
	// mono*driftPpm/1e6 without overflowing for runs of any length.
	drift := (mono/1e6)*c.driftPpm + (mono%1e6)*c.driftPpm/1e6
	return c.offsetNs + mono + drift
}

// NowMs reads the clock in milliseconds since the Unix epoch.
func (c *WallClock) NowMs() int64 { return c.NowNs() / 1e6 }

// Jump moves the clock by deltaMs (negative: backwards).
func (c *WallClock) Jump(deltaMs int64) {
	if deltaMs < 0 {
		c.peakNs = max(c.peakNs, c.NowNs())
	}
	c.offsetNs += deltaMs * 1e6
}

// MaxMs is the latest the clock has read so far (its reading now, or before a backward
// jump): what time-based retention may have acted on.
func (c *WallClock) MaxMs() int64 { return max(c.peakNs, c.NowNs()) / 1e6 }

// SetDriftPpm changes the drift from now on, keeping the current reading.
func (c *WallClock) SetDriftPpm(driftPpm int64) {
	before := c.NowNs()
	c.driftPpm = driftPpm
	c.offsetNs += before - c.NowNs()
}
