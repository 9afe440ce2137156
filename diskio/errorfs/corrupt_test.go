package errorfs_test

import (
	"bytes"
	"errors"
	"math/bits"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"

	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/errorfs"
	"github.com/weirdata/weir/diskio/fstest"
	"github.com/weirdata/weir/diskio/memfs"
)

// TestConformanceCorruptorIdle: a Corruptor that picks nothing leaves the FS conformant.
func TestConformanceCorruptorIdle(t *testing.T) {
	fstest.Run(t, func(t *testing.T) (diskio.FS, string) {
		c := errorfs.NewCorruptor(rand.New(rand.NewPCG(1, 2)), nil)
		c.BitFlip, c.Misdirect, c.Latent = errorfs.Never(), errorfs.Never(), errorfs.Never()
		return errorfs.Wrap(memfs.New(), errorfs.Never(), errorfs.WithCorruption(c)), "/"
	})
}

// corruptFS returns a memfs behind a Corruptor seeded with seed, and the damages it reports.
func corruptFS(seed uint64) (*memfs.FS, diskio.FS, *errorfs.Corruptor, *[]errorfs.Damage) {
	var reported []errorfs.Damage
	mem := memfs.New()
	c := errorfs.NewCorruptor(rand.New(rand.NewPCG(seed, 0)), func(d errorfs.Damage) { reported = append(reported, d) })
	return mem, errorfs.Wrap(mem, errorfs.Never(), errorfs.WithCorruption(c)), c, &reported
}

func writeFile(t *testing.T, fs diskio.FS, name string, off int64, data []byte) {
	t.Helper()
	f, err := fs.OpenReadWrite(name)
	if err != nil {
		f, err = fs.Create(name)
	}
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.WriteAt(data, off); err != nil || n != len(data) {
		t.Fatalf("write %s at %d: %d, %v", name, off, n, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestBitFlip: a picked write succeeds, stores exactly one flipped bit at the byte the report
// names, and leaves the caller's buffer alone; the same seed flips the same bit.
func TestBitFlip(t *testing.T) {
	first := -1
	for range 2 {
		mem, fs, c, reported := corruptFS(7)
		c.BitFlip = errorfs.When(errorfs.PathPrefix("/seg"), errorfs.Always())
		data := bytes.Repeat([]byte{0xa5}, 1000)
		writeFile(t, fs, "/other", 0, data) // not selected
		writeFile(t, fs, "/seg", 100, data)
		if !slices.Equal(data, bytes.Repeat([]byte{0xa5}, 1000)) {
			t.Fatal("the caller's buffer was changed")
		}
		if len(*reported) != 1 || c.Count(errorfs.DamageBitFlip) != 1 {
			t.Fatalf("reported %v", *reported)
		}
		d := (*reported)[0]
		if d.Kind != errorfs.DamageBitFlip || d.Path != "/seg" || d.LengthBytes != 1 || d.OffsetBytes < 100 || d.OffsetBytes >= 1100 {
			t.Fatalf("damage %v", d)
		}
		got, err := diskio.ReadFile(mem, "/seg")
		if err != nil {
			t.Fatal(err)
		}
		diffBits, diffAt := 0, -1
		for i := 100; i < 1100; i++ {
			if x := got[i] ^ 0xa5; x != 0 {
				diffBits += bits.OnesCount8(x)
				diffAt = i
			}
		}
		if diffBits != 1 || int64(diffAt) != d.OffsetBytes {
			t.Fatalf("%d bits differ, last at %d; report says %d", diffBits, diffAt, d.OffsetBytes)
		}
		if other, _ := diskio.ReadFile(mem, "/other"); !bytes.Equal(other, data) {
			t.Fatal("an unselected file was damaged")
		}
		if first >= 0 && first != diffAt {
			t.Fatalf("same seed flipped byte %d, then %d", first, diffAt)
		}
		first = diffAt
	}
}

// TestMisdirectedWrite: the data lands whole sectors away in the same file, the intended range
// keeps its old bytes, and the report names both.
func TestMisdirectedWrite(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		mem, fs, c, reported := corruptFS(seed)
		writeFile(t, fs, "/f", 0, make([]byte, 16*errorfs.SectorBytes))
		c.Misdirect = errorfs.Always()
		data := bytes.Repeat([]byte("x"), 300)
		writeFile(t, fs, "/f", 8*errorfs.SectorBytes, data)
		if len(*reported) != 1 {
			t.Fatalf("seed %d: reported %v", seed, *reported)
		}
		d := (*reported)[0]
		distance := d.LandedOffsetBytes - d.OffsetBytes
		if d.Kind != errorfs.DamageMisdirected || d.OffsetBytes != 8*errorfs.SectorBytes || d.LengthBytes != 300 ||
			distance == 0 || distance%errorfs.SectorBytes != 0 || len(d.Ranges()) != 2 {
			t.Fatalf("seed %d: damage %v", seed, d)
		}
		got, _ := diskio.ReadFile(mem, "/f")
		if !bytes.Equal(got[d.LandedOffsetBytes:d.LandedOffsetBytes+300], data) {
			t.Fatalf("seed %d: the data is not where the report says it landed", seed)
		}
		for i := d.OffsetBytes; i < d.OffsetBytes+300; i++ {
			if (i < d.LandedOffsetBytes || i >= d.LandedOffsetBytes+300) && got[i] != 0 {
				t.Fatalf("seed %d: the intended range was written at %d", seed, i)
			}
		}
	}
}

// TestLatentReadError: a picked write's sector goes bad: reads touching it fail with EIO after
// reading what precedes it, others succeed; rewriting the whole sector, truncating, renaming,
// removing and ClearBad behave as documented.
func TestLatentReadError(t *testing.T) {
	mem, fs, c, reported := corruptFS(3)
	writeFile(t, fs, "/f", 0, make([]byte, 4*errorfs.SectorBytes))
	c.Latent = errorfs.When(errorfs.Kinds(errorfs.OpWrite), errorfs.OnIndex(0))
	writeFile(t, fs, "/f", errorfs.SectorBytes, bytes.Repeat([]byte("y"), errorfs.SectorBytes))
	if len(*reported) != 1 || (*reported)[0].Kind != errorfs.DamageLatent ||
		(*reported)[0].OffsetBytes != errorfs.SectorBytes || (*reported)[0].LengthBytes != errorfs.SectorBytes {
		t.Fatalf("reported %v", *reported)
	}
	if got, _ := diskio.ReadFile(mem, "/f"); !bytes.Equal(got[errorfs.SectorBytes:2*errorfs.SectorBytes], bytes.Repeat([]byte("y"), errorfs.SectorBytes)) {
		t.Fatal("the write itself was not stored")
	}
	f, err := fs.Open("/f")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2*errorfs.SectorBytes)
	n, err := f.ReadAt(buf, 100)
	if !errors.Is(err, syscall.EIO) || !errors.Is(err, diskio.ErrInjected) || n != errorfs.SectorBytes-100 {
		t.Fatalf("read over the bad sector: %d, %v", n, err)
	}
	if _, err := f.ReadAt(buf[:100], 2*errorfs.SectorBytes); err != nil {
		t.Fatalf("read after the bad sector: %v", err)
	}
	f.Close()

	// A partial rewrite leaves the sector bad; a whole one remaps it.
	writeFile(t, fs, "/f", errorfs.SectorBytes+1, []byte("z"))
	if len(c.BadRanges("/f")) != 1 {
		t.Fatal("a partial rewrite cleared the bad sector")
	}
	writeFile(t, fs, "/f", errorfs.SectorBytes, make([]byte, errorfs.SectorBytes))
	if len(c.BadRanges("f")) != 0 {
		t.Fatalf("a whole rewrite left %v", c.BadRanges("/f"))
	}

	c.MarkBad("/f", 3*errorfs.SectorBytes+10, 1)
	if err := fs.Rename("/f", "/g"); err != nil {
		t.Fatal(err)
	}
	if got := c.BadRanges("/g"); len(got) != 1 || got[0] != [2]int64{3 * errorfs.SectorBytes, 4 * errorfs.SectorBytes} {
		t.Fatalf("after rename: %v", got)
	}
	if _, err := diskio.ReadFile(fs, "/g"); !errors.Is(err, syscall.EIO) {
		t.Fatalf("reading the renamed file: %v", err)
	}
	c.ClearBad()
	if _, err := diskio.ReadFile(fs, "/g"); err != nil {
		t.Fatalf("after ClearBad: %v", err)
	}
	c.MarkBad("/g", 0, 1)
	if err := fs.Remove("/g"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, fs, "/g", 0, []byte("new file"))
	if _, err := diskio.ReadFile(fs, "/g"); err != nil {
		t.Fatalf("a new file inherited bad sectors: %v", err)
	}
	if c.Count(errorfs.DamageLatent) != 3 {
		t.Fatalf("latent count %d", c.Count(errorfs.DamageLatent))
	}
}

// TestCorruptionRate: a seeded rate damages some writes, the same ones for the same seed.
func TestCorruptionRate(t *testing.T) {
	run := func() []errorfs.Damage {
		_, fs, c, reported := corruptFS(11)
		c.BitFlip = errorfs.Random(5, 100_000)
		for i := range 200 {
			writeFile(t, fs, "/f", int64(i)*10, []byte("0123456789"))
		}
		return *reported
	}
	a, b := run(), run()
	if len(a) < 5 || len(a) > 50 || !slices.Equal(a, b) {
		t.Fatalf("%d then %d damages for the same seed at 10%%", len(a), len(b))
	}
}

// TestInspect: under Inspect, reads see the data as written — flipped bits and misdirected
// writes undone, bad sectors and injected read errors out of the way — and outside it the
// damage is back; a later clean write is what Inspect then shows.
func TestInspect(t *testing.T) {
	var reported []errorfs.Damage
	mem := memfs.New()
	c := errorfs.NewCorruptor(rand.New(rand.NewPCG(4, 0)), func(d errorfs.Damage) { reported = append(reported, d) })
	failReads := errorfs.NewToggle(errorfs.OnKinds(errorfs.OpRead))
	fs := errorfs.Wrap(mem, failReads, errorfs.WithCorruption(c))
	old := bytes.Repeat([]byte("o"), 8*errorfs.SectorBytes)
	writeFile(t, fs, "/f", 0, old)
	meant := slices.Clone(old)

	c.BitFlip = errorfs.When(errorfs.Kinds(errorfs.OpWrite), errorfs.OnIndex(0))
	a := bytes.Repeat([]byte("a"), 100)
	writeFile(t, fs, "/f", 10, a)
	copy(meant[10:], a)
	c.BitFlip = nil
	c.Misdirect = errorfs.When(errorfs.Kinds(errorfs.OpWrite), errorfs.OnIndex(0))
	b := bytes.Repeat([]byte("b"), 50)
	writeFile(t, fs, "/f", 4*errorfs.SectorBytes, b)
	copy(meant[4*errorfs.SectorBytes:], b)
	c.Misdirect = nil
	c.MarkBad("/f", 2*errorfs.SectorBytes, 1)
	failReads.On()
	if len(reported) != 3 {
		t.Fatalf("reported %v", reported)
	}
	if _, err := diskio.ReadFile(fs, "/f"); err == nil {
		t.Fatal("a read outside Inspect did not fail")
	}
	var inspected []byte
	var err error
	c.Inspect(func() { inspected, err = diskio.ReadFile(fs, "/f") })
	// A write that strayed past the end grew the file; Inspect reads zeros there.
	if err != nil || len(inspected) < len(meant) || !bytes.Equal(inspected[:len(meant)], meant) ||
		bytes.ContainsFunc(inspected[len(meant):], func(r rune) bool { return r != 0 }) {
		t.Fatalf("Inspect read %d bytes (%v), not the data as written", len(inspected), err)
	}
	if raw, _ := diskio.ReadFile(mem, "/f"); bytes.Equal(raw, meant) {
		t.Fatal("the damage is gone from the disk")
	}
	failReads.Off()
	c.ClearBad()
	clean := make([]byte, len(old))
	writeFile(t, fs, "/f", 0, clean)
	c.Inspect(func() { inspected, err = diskio.ReadFile(fs, "/f") })
	if err != nil || len(inspected) < len(clean) || bytes.ContainsFunc(inspected, func(r rune) bool { return r != 0 }) {
		t.Fatalf("after a clean rewrite Inspect read %v", err)
	}
}

// TestInspectAppendMisdirectedBack: an append that strayed backwards by less than its length
// left the file ending inside the range the writer meant; under Inspect a read there returns
// the whole append as written (seed 1617 with every fault panicked here: the inner read
// returned some bytes of the patch, and the zero-fill between the file's end and the patch
// was sliced backwards).
func TestInspectAppendMisdirectedBack(t *testing.T) {
	const sizeBytes = 16 * errorfs.SectorBytes
	appended := bytes.Repeat([]byte("p"), 10*errorfs.SectorBytes+17) // longer than any stray
	backwards := 0
	for seed := uint64(1); seed <= 20; seed++ {
		_, fs, c, reported := corruptFS(seed)
		writeFile(t, fs, "/f", 0, bytes.Repeat([]byte("o"), sizeBytes))
		c.Misdirect = errorfs.Always()
		writeFile(t, fs, "/f", sizeBytes, appended)
		c.Misdirect = nil
		if len(*reported) != 1 {
			t.Fatalf("seed %d: reported %v", seed, *reported)
		}
		if (*reported)[0].LandedOffsetBytes > sizeBytes {
			continue // strayed forwards: the file covers the whole intended range
		}
		backwards++
		f, err := fs.Open("/f")
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(appended))
		var n int
		c.Inspect(func() { n, err = f.ReadAt(got, sizeBytes) })
		if err != nil || n != len(appended) || !bytes.Equal(got, appended) {
			t.Fatalf("seed %d: Inspect read %d bytes (%v) of the append, not the append as written", seed, n, err)
		}
		// From before the file's end the read crosses into the patch the same way.
		got = make([]byte, 100+len(appended))
		c.Inspect(func() { n, err = f.ReadAt(got, sizeBytes-100) })
		if err != nil || n != len(got) || !bytes.Equal(got[:100], bytes.Repeat([]byte("o"), 100)) || !bytes.Equal(got[100:], appended) {
			t.Fatalf("seed %d: Inspect read %d bytes (%v) across the file's end", seed, n, err)
		}
		f.Close()
	}
	if backwards == 0 {
		t.Fatal("no seed strayed backwards; the test checks nothing")
	}
}
