package errorfs

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/weirdata/weir/diskio"
)

// SectorBytes is the granularity of misdirected writes and latent read errors: a disk
// misplaces and loses whole sectors.
const SectorBytes = 512

// misdirectSectorsMax bounds how far (in sectors) a misdirected write lands from its target.
const misdirectSectorsMax = 8

// DamageKind names what a silent disk fault did to stored data.
type DamageKind int

// The kinds of damage a Corruptor does.
const (
	// DamageBitFlip: a write was stored with one bit flipped; WriteAt reported success.
	DamageBitFlip DamageKind = iota + 1
	// DamageMisdirected: a write's data landed at another offset of the same file (whole
	// sectors away); the intended range kept its old bytes and the landing range was
	// overwritten. WriteAt reported success.
	DamageMisdirected
	// DamageLatent: a sector written successfully went bad afterwards: every read
	// overlapping it fails with EIO until the sector is written again (a drive remaps a
	// sector on write) or the Corruptor's bad sectors are cleared.
	DamageLatent
)

func (k DamageKind) String() string {
	switch k {
	case DamageBitFlip:
		return "bit-flip"
	case DamageMisdirected:
		return "misdirected-write"
	case DamageLatent:
		return "latent-read-error"
	}
	return "DamageKind(" + strconv.Itoa(int(k)) + ")"
}

// Damage is one silent fault a Corruptor did: which file, which bytes, what kind.
type Damage struct {
	Kind DamageKind
	// Path is the file's path as it was opened (a File's name).
	Path string
	// OffsetBytes and LengthBytes are the damaged range: the flipped byte, the bad sectors,
	// or a misdirected write's intended range (which kept old bytes).
	OffsetBytes, LengthBytes int64
	// LandedOffsetBytes is where a misdirected write's data went (LengthBytes long).
	LandedOffsetBytes int64
}

// Ranges are the byte ranges [low, high) whose content is not what the writer wrote there:
// one range, or two for a misdirected write (the intended and the landing range).
func (d Damage) Ranges() [][2]int64 {
	r := [][2]int64{{d.OffsetBytes, d.OffsetBytes + d.LengthBytes}}
	if d.Kind == DamageMisdirected {
		r = append(r, [2]int64{d.LandedOffsetBytes, d.LandedOffsetBytes + d.LengthBytes})
	}
	return r
}

func (d Damage) String() string {
	s := fmt.Sprintf("%s %s [%d+%d]", d.Kind, d.Path, d.OffsetBytes, d.LengthBytes)
	if d.Kind == DamageMisdirected {
		s += fmt.Sprintf(" landed at %d", d.LandedOffsetBytes)
	}
	return s
}

// Corruptor does silent damage to writes and reads on the FS it is given to (WithCorruption).
// Each kind is picked by an Injector consulted for every write (a non-nil "error" picks the
// write; it is never returned), so predicates, seeded rates and Toggles compose as for
// failures: c.BitFlip = errorfs.When(errorfs.PathMatch(isSegment), errorfs.RandomFrom(rng, 100)).
// All three are consulted for every write, in the order BitFlip, Misdirect, Latent, so that
// their counters stay in step; the first that picks the write applies, and only one does.
//
// Every damage is reported to the report function, so that a caller knows which data a fault
// destroyed. Where in a write a bit flips, how far a write strays and which sector goes bad
// are drawn from the Corruptor's own PRNG: the same seed and the same writes give the same
// damage. Bad sectors live in the Corruptor, not the wrapped FS, so one Corruptor given to
// every incarnation of a simulated machine keeps them across crashes, as a disk does.
type Corruptor struct {
	// BitFlip, Misdirect and Latent pick the writes damaged each way; nil picks none. Set
	// them before the FS is used.
	BitFlip, Misdirect, Latent Injector

	mu     sync.Mutex
	rng    *rand.Rand
	report func(Damage)
	bad    map[string][][2]int64 // clean path → bad sector ranges, sorted; lookup only
	// written holds, per clean path, the bytes the writer meant where damage replaced them
	// (for Inspect); a later write over them or a truncate forgets them. Lookup only.
	written    map[string][]patch
	inspecting bool
	count      [DamageLatent + 1]int64
}

// patch is bytes as the writer meant them at an offset.
type patch struct {
	off  int64
	data []byte
}

// NewCorruptor returns a Corruptor drawing from rng (which it then owns) and reporting every
// damage to report (nil: not reported). It damages nothing until its injectors are set; one
// that never will (for Inspect and MarkBad only) may have a nil rng.
func NewCorruptor(rng *rand.Rand, report func(Damage)) *Corruptor {
	return &Corruptor{rng: rng, report: report, bad: map[string][][2]int64{}, written: map[string][]patch{}}
}

// Inspect runs fn with every FS using c reading the data as it was written: damaged bytes read
// as the writer meant them, bad sectors read, and the FS's injector is not consulted for
// reads. A simulator checks its invariants so: they are about what the program did, not about
// what the disk then did to it.
func (c *Corruptor) Inspect(fn func()) {
	c.mu.Lock()
	c.inspecting = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inspecting = false
		c.mu.Unlock()
	}()
	fn()
}

// inspectingNow reports whether Inspect is running.
func (c *Corruptor) inspectingNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inspecting
}

// remember records that [off, off+len(data)) should hold data.
func (c *Corruptor) remember(name string, off int64, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := cleanPath(name)
	c.written[key] = append(trimPatches(c.written[key], off, off+int64(len(data))), patch{off: off, data: slices.Clone(data)})
}

// forgetWritten drops what is remembered in [low, high) of name.
func (c *Corruptor) forgetWritten(name string, low, high int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := cleanPath(name)
	if len(c.written[key]) == 0 {
		return
	}
	if kept := trimPatches(c.written[key], low, high); len(kept) > 0 {
		c.written[key] = kept
	} else {
		delete(c.written, key)
	}
}

// trimPatches removes [low, high) from patches, splitting those it cuts.
func trimPatches(patches []patch, low, high int64) []patch {
	var kept []patch
	for _, pt := range patches {
		end := pt.off + int64(len(pt.data))
		if end <= low || pt.off >= high {
			kept = append(kept, pt)
			continue
		}
		if pt.off < low {
			kept = append(kept, patch{off: pt.off, data: pt.data[:low-pt.off]})
		}
		if high < end {
			kept = append(kept, patch{off: high, data: pt.data[high-pt.off:]})
		}
	}
	return kept
}

// readWritten is a read under Inspect: the inner bytes with the remembered ones laid over.
func (c *Corruptor) readWritten(inner readerAt, name string, p []byte, off int64) (int, error) {
	n, err := inner.ReadAt(p, off)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pt := range c.written[cleanPath(name)] {
		low, high := max(pt.off, off), min(pt.off+int64(len(pt.data)), off+int64(len(p)))
		if low >= high {
			continue
		}
		copy(p[low-off:high-off], pt.data[low-pt.off:high-pt.off])
		if int(high-off) > n {
			// The writer meant the file to reach here (a write that strayed elsewhere):
			// bytes between the file's end and the patch, if any, read as zeros. The
			// patch may begin before the file's end (an append that strayed backwards by
			// less than its length left the file ending inside it): then there is no gap.
			clear(p[n:max(n, int(low-off))])
			n = int(high - off)
		}
	}
	if n == len(p) {
		err = nil
	}
	return n, err
}

// WithCorruption makes Wrap's FS damage writes and fail reads as c decides.
func WithCorruption(c *Corruptor) Option {
	return func(fs *FS) { fs.corrupt = c }
}

// Count is how many damages of kind c has done.
func (c *Corruptor) Count(kind DamageKind) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if kind < DamageBitFlip || kind > DamageLatent {
		return 0
	}
	return c.count[kind]
}

// MarkBad makes [offsetBytes, offsetBytes+lengthBytes) of path unreadable (widened to whole
// sectors), as a latent sector error does, and reports it.
func (c *Corruptor) MarkBad(name string, offsetBytes, lengthBytes int64) {
	if lengthBytes <= 0 || offsetBytes < 0 {
		return
	}
	low := offsetBytes / SectorBytes * SectorBytes
	high := (offsetBytes + lengthBytes + SectorBytes - 1) / SectorBytes * SectorBytes
	c.mu.Lock()
	c.markBadLocked(name, low, high)
	d := Damage{Kind: DamageLatent, Path: name, OffsetBytes: low, LengthBytes: high - low}
	c.count[DamageLatent]++
	c.mu.Unlock()
	c.emit(d)
}

// ClearBad makes every bad sector readable again (the plan's faults heal; the bytes under
// them were never changed).
func (c *Corruptor) ClearBad() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.bad)
}

// BadRanges lists path's bad sector ranges [low, high), in order.
func (c *Corruptor) BadRanges(name string) [][2]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.bad[cleanPath(name)])
}

func (c *Corruptor) emit(d Damage) {
	if c.report != nil {
		c.report(d)
	}
}

func cleanPath(name string) string {
	// Every read and write looks its file up by this key: an already clean absolute path (the
	// common case) is returned without building a new string.
	if len(name) > 0 && name[0] == '/' && path.Clean(name) == name {
		return name
	}
	return "/" + strings.TrimLeft(path.Clean("/"+name), "/")
}

// markBadLocked adds [low, high) to name's bad ranges, merging overlaps.
func (c *Corruptor) markBadLocked(name string, low, high int64) {
	key := cleanPath(name)
	ranges := append(c.bad[key], [2]int64{low, high})
	slices.SortFunc(ranges, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	merged := ranges[:1]
	for _, r := range ranges[1:] {
		last := &merged[len(merged)-1]
		if r[0] <= last[1] {
			last[1] = max(last[1], r[1])
			continue
		}
		merged = append(merged, r)
	}
	c.bad[key] = merged
}

// readable returns how many bytes from off may be read before a bad sector, and whether the
// range [off, off+length) touches one.
func (c *Corruptor) readable(name string, off, length int64) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.bad[cleanPath(name)] {
		if r[0] < off+length && off < r[1] {
			return max(r[0]-off, 0), true
		}
	}
	return length, false
}

// rewritten forgets the bad sectors a successful write of [off, off+length) covers whole: a
// drive remaps a sector when it is written.
func (c *Corruptor) rewritten(name string, off, length int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := cleanPath(name)
	ranges := c.bad[key]
	if len(ranges) == 0 {
		return
	}
	var kept [][2]int64
	for _, r := range ranges {
		// Sectors of r fully inside the write are remapped; the rest stay bad.
		low := (off + SectorBytes - 1) / SectorBytes * SectorBytes
		high := (off + length) / SectorBytes * SectorBytes
		if high <= r[0] || low >= r[1] || low >= high {
			kept = append(kept, r)
			continue
		}
		if r[0] < low {
			kept = append(kept, [2]int64{r[0], low})
		}
		if high < r[1] {
			kept = append(kept, [2]int64{high, r[1]})
		}
	}
	if len(kept) == 0 {
		delete(c.bad, key)
		return
	}
	c.bad[key] = kept
}

// truncated drops the bad sectors at or past sizeBytes (a truncate or a create).
func (c *Corruptor) truncated(name string, sizeBytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := cleanPath(name)
	if w := trimPatches(c.written[key], sizeBytes, math.MaxInt64); len(w) > 0 {
		c.written[key] = w
	} else {
		delete(c.written, key)
	}
	var kept [][2]int64
	for _, r := range c.bad[key] {
		if r[0] < sizeBytes {
			kept = append(kept, [2]int64{r[0], min(r[1], (sizeBytes+SectorBytes-1)/SectorBytes*SectorBytes)})
		}
	}
	if len(kept) == 0 {
		delete(c.bad, key)
		return
	}
	c.bad[key] = kept
}

// renamed moves the bad sectors of oldname (and of everything under it) to newname.
func (c *Corruptor) renamed(oldname, newname string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	from, to := cleanPath(oldname), cleanPath(newname)
	moved := map[string][][2]int64{}
	for _, key := range c.sortedKeysLocked() {
		if key == from || strings.HasPrefix(key, from+"/") {
			moved[to+strings.TrimPrefix(key, from)] = c.bad[key]
			delete(c.bad, key)
		}
	}
	//purity:allow-map-range each key is written once; order cannot matter
	for key, r := range moved {
		c.bad[key] = r
	}
	movedWritten := map[string][]patch{}
	for _, key := range sortedKeys(c.written) {
		if key == from || strings.HasPrefix(key, from+"/") {
			movedWritten[to+strings.TrimPrefix(key, from)] = c.written[key]
			delete(c.written, key)
		}
	}
	//purity:allow-map-range each key is written once; order cannot matter
	for key, w := range movedWritten {
		c.written[key] = w
	}
}

// removed forgets the bad sectors of name and everything under it.
func (c *Corruptor) removed(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := cleanPath(name)
	for _, k := range c.sortedKeysLocked() {
		if k == key || strings.HasPrefix(k, key+"/") || key == "/" {
			delete(c.bad, k)
		}
	}
	for _, k := range sortedKeys(c.written) {
		if k == key || strings.HasPrefix(k, key+"/") || key == "/" {
			delete(c.written, k)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	//purity:allow-map-range the keys are sorted below
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (c *Corruptor) sortedKeysLocked() []string { return sortedKeys(c.bad) }

// picks consults every injector for op and returns the kind of the first that picked it.
func (c *Corruptor) picks(op Op) DamageKind {
	var kind DamageKind
	for i, inj := range []Injector{c.BitFlip, c.Misdirect, c.Latent} {
		if inj != nil && inj.MaybeError(op) != nil && kind == 0 {
			kind = DamageKind(i + 1)
		}
	}
	return kind
}

// write is WriteAt through the Corruptor: it damages the write if an injector picks it.
func (c *Corruptor) write(inner readWriterAt, name string, p []byte, off int64) (int, error) {
	if len(p) == 0 || off < 0 {
		return inner.WriteAt(p, off)
	}
	kind := c.picks(Op{Kind: OpWrite, Path: name, OffsetBytes: off, LengthBytes: int64(len(p))})
	switch kind {
	case DamageBitFlip:
		c.mu.Lock()
		at := c.rng.IntN(len(p))
		bit := c.rng.IntN(8)
		c.count[kind]++
		c.mu.Unlock()
		flipped := slices.Clone(p)
		flipped[at] ^= 1 << bit
		n, err := inner.WriteAt(flipped, off)
		if err != nil {
			return n, err
		}
		c.rewritten(name, off, int64(len(p)))
		c.forgetWritten(name, off, off+int64(len(p)))
		c.remember(name, off+int64(at), p[at:at+1])
		c.emit(Damage{Kind: kind, Path: name, OffsetBytes: off + int64(at), LengthBytes: 1})
		return n, nil
	case DamageMisdirected:
		c.mu.Lock()
		distance := int64(1+c.rng.IntN(misdirectSectorsMax)) * SectorBytes
		if c.rng.IntN(2) == 0 && off >= distance {
			distance = -distance
		}
		c.count[kind]++
		c.mu.Unlock()
		landed := off + distance
		before := make([]byte, len(p))
		inner.ReadAt(before, landed) // what the stray write destroys; past the file's end, zeros
		if _, err := inner.WriteAt(p, landed); err != nil {
			// The stray write failed (no space, say): report what the caller asked for.
			return 0, err
		}
		c.forgetWritten(name, landed, landed+int64(len(p)))
		c.remember(name, landed, before)
		c.remember(name, off, p)
		c.emit(Damage{Kind: kind, Path: name, OffsetBytes: off, LengthBytes: int64(len(p)), LandedOffsetBytes: landed})
		return len(p), nil
	}
	n, err := inner.WriteAt(p, off)
	if err != nil {
		return n, err
	}
	c.rewritten(name, off, int64(n))
	c.forgetWritten(name, off, off+int64(n))
	if kind == DamageLatent {
		c.mu.Lock()
		at := off + int64(c.rng.IntN(len(p)))
		c.mu.Unlock()
		c.MarkBad(name, at, 1)
	}
	return n, nil
}

// read is ReadAt through the Corruptor: a read touching a bad sector reads what precedes it
// and fails with EIO.
func (c *Corruptor) read(inner readerAt, name string, p []byte, off int64) (int, error) {
	if off < 0 {
		return inner.ReadAt(p, off)
	}
	if c.inspectingNow() {
		return c.readWritten(inner, name, p, off)
	}
	good, bad := c.readable(name, off, int64(len(p)))
	if !bad {
		return inner.ReadAt(p, off)
	}
	n := 0
	if good > 0 {
		var err error
		n, err = inner.ReadAt(p[:good], off)
		if err != nil {
			return n, err
		}
	}
	return n, fmt.Errorf("%w (%w): latent sector error at %d", diskio.ErrInjected, syscall.EIO, off+good)
}

type readWriterAt interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
}

type readerAt interface {
	ReadAt(p []byte, off int64) (int, error)
}
