package errorfs_test

import (
	"bytes"
	"errors"
	iofs "io/fs"
	"slices"
	"testing"

	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/errorfs"
	"github.com/weirdata/weir/diskio/memfs"
)

// TestIndexSweepWriteFileAtomic fails each operation of WriteFileAtomic in turn and checks
// that the failure is reported and that, after a worst-case crash, the file holds the old or
// the new content and nothing else.
func TestIndexSweepWriteFileAtomic(t *testing.T) {
	const wantOps = 8 // create, write, sync, close, rename, opendir, sync, close
	oldContent, newContent := []byte("old"), []byte("new content")
	var k int64
	for ; ; k++ {
		mem := memfs.New()
		if err := diskio.WriteFileAtomic(mem, "/", "cp", oldContent); err != nil {
			t.Fatal(err)
		}
		inj := errorfs.OnIndex(k)
		var kinds []errorfs.OpKind
		record := errorfs.InjectorFunc(func(op errorfs.Op) error {
			kinds = append(kinds, op.Kind)
			return nil
		})
		err := diskio.WriteFileAtomic(errorfs.Wrap(mem, errorfs.Or(inj, record)), "/", "cp", newContent)
		if inj.Count() <= k {
			if err != nil {
				t.Fatalf("clean run failed: %v", err)
			}
			break
		}
		if !errors.Is(err, diskio.ErrInjected) {
			t.Fatalf("k=%d: want an injected error, got %v", k, err)
		}
		// After a failure only the cleanup Close may run.
		for _, kind := range kinds[k+1:] {
			if kind != errorfs.OpClose {
				t.Fatalf("k=%d: %v ran after the failure (%v)", k, kind, kinds)
			}
		}
		after := mem.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
		got, err := diskio.ReadFile(after, "/cp")
		if err != nil {
			t.Fatalf("k=%d: %v", k, err)
		}
		if !bytes.Equal(got, oldContent) && !bytes.Equal(got, newContent) {
			t.Fatalf("k=%d: torn checkpoint %q", k, got)
		}
	}
	if k != wantOps {
		t.Fatalf("sweep ended after %d operations, want %d", k, wantOps)
	}
}

func TestOnKinds(t *testing.T) {
	fs := errorfs.Wrap(memfs.New(), errorfs.OnKinds(errorfs.OpSync, errorfs.OpRename))
	f, err := fs.Create("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.SyncData(); err != nil {
		t.Fatalf("SyncData is not Sync: %v", err)
	}
	err = f.Sync()
	var pathErr *iofs.PathError
	if !errors.Is(err, diskio.ErrInjected) || !errors.As(err, &pathErr) || pathErr.Op != "sync" || pathErr.Path != "a" {
		t.Fatalf("got %v", err)
	}
	if err := fs.Rename("a", "b"); !errors.Is(err, diskio.ErrInjected) {
		t.Fatalf("got %v", err)
	}
	if _, err := fs.Stat("a"); err != nil {
		t.Fatalf("failed rename was applied: %v", err)
	}
}

func TestWhenCountsOnlySelected(t *testing.T) {
	inj := errorfs.OnIndex(1)
	fs := errorfs.Wrap(memfs.New(), errorfs.When(errorfs.Kinds(errorfs.OpWrite), inj))
	f, err := fs.Create("a")
	if err != nil {
		t.Fatal(err)
	}
	results := make([]bool, 4)
	for i := range results {
		_, err := f.WriteAt([]byte{byte(i)}, int64(i))
		results[i] = err != nil
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(results, []bool{false, true, false, false}) || inj.Count() != 4 {
		t.Fatalf("failures %v, count %d", results, inj.Count())
	}
}

func TestPathFilters(t *testing.T) {
	mem := memfs.New()
	for _, dir := range []string{"/a", "/b"} {
		if err := mem.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fs := errorfs.Wrap(mem, errorfs.OnPathPrefix("/a/"))
	if _, err := fs.Create("/a/x"); !errors.Is(err, diskio.ErrInjected) {
		t.Fatalf("got %v", err)
	}
	if _, err := fs.Create("/b/x"); err != nil {
		t.Fatal(err)
	}
	// Rename is selected by either name.
	if err := fs.Rename("/b/x", "/a/x"); !errors.Is(err, diskio.ErrInjected) {
		t.Fatalf("got %v", err)
	}
	fs = errorfs.Wrap(mem, errorfs.When(errorfs.And(errorfs.Mutating(), errorfs.PathMatch(func(p string) bool {
		return p == "/b/x"
	})), errorfs.Always()))
	if _, err := fs.Stat("/b/x"); err != nil {
		t.Fatalf("stat does not mutate: %v", err)
	}
	if err := fs.Remove("/b/x"); !errors.Is(err, diskio.ErrInjected) {
		t.Fatalf("got %v", err)
	}
}

func failurePattern(t *testing.T, inj errorfs.Injector, ops int) []bool {
	t.Helper()
	fs := errorfs.Wrap(memfs.New(), inj)
	pattern := make([]bool, ops)
	for i := range pattern {
		_, err := fs.Stat("/")
		pattern[i] = err != nil
	}
	return pattern
}

func TestRandom(t *testing.T) {
	const ops = 10_000
	a := failurePattern(t, errorfs.Random(42, 100_000), ops)
	b := failurePattern(t, errorfs.Random(42, 100_000), ops)
	c := failurePattern(t, errorfs.Random(43, 100_000), ops)
	if !slices.Equal(a, b) {
		t.Fatal("same seed, different failures")
	}
	if slices.Equal(a, c) {
		t.Fatal("different seeds, same failures")
	}
	failures := 0
	for _, failed := range a {
		if failed {
			failures++
		}
	}
	// 10% of 10,000: the standard deviation is 30, so 800..1200 fails only if broken.
	if failures < 800 || failures > 1200 {
		t.Fatalf("%d failures at a 10%% rate", failures)
	}
	if slices.Contains(failurePattern(t, errorfs.Random(1, 0), 1000), true) {
		t.Fatal("rate 0 failed")
	}
	if slices.Contains(failurePattern(t, errorfs.Random(1, errorfs.MillionthsMax), 1000), false) {
		t.Fatal("rate 1 passed")
	}
}

func TestOrConsultsAll(t *testing.T) {
	first, second := errorfs.OnIndex(1), errorfs.OnIndex(2)
	got := failurePattern(t, errorfs.Or(first, second), 5)
	if !slices.Equal(got, []bool{false, true, true, false, false}) {
		t.Fatalf("got %v", got)
	}
	if first.Count() != 5 || second.Count() != 5 {
		t.Fatalf("counts %d %d", first.Count(), second.Count())
	}
}

func TestToggle(t *testing.T) {
	toggle := errorfs.NewToggle(errorfs.Always())
	fs := errorfs.Wrap(memfs.New(), toggle)
	if _, err := fs.Stat("/"); err != nil {
		t.Fatal(err)
	}
	toggle.On()
	if _, err := fs.Stat("/"); !errors.Is(err, diskio.ErrInjected) {
		t.Fatalf("got %v", err)
	}
	toggle.Off()
	if _, err := fs.Stat("/"); err != nil {
		t.Fatal(err)
	}
}

func TestPartialWrites(t *testing.T) {
	data := bytes.Repeat([]byte("w"), 1000)
	prefixes := map[int]bool{}
	for seed := uint64(0); seed < 20; seed++ {
		mem := memfs.New()
		fs := errorfs.Wrap(mem, errorfs.OnKinds(errorfs.OpWrite), errorfs.WithPartialWrites(seed))
		f, err := fs.Create("f")
		if err != nil {
			t.Fatal(err)
		}
		n, err := f.WriteAt(data, 0)
		if !errors.Is(err, diskio.ErrInjected) || n >= len(data) {
			t.Fatalf("seed %d: n %d err %v", seed, n, err)
		}
		got, err := diskio.ReadFile(mem, "f")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data[:n]) {
			t.Fatalf("seed %d: wrote %d bytes but reported %d", seed, len(got), n)
		}
		prefixes[n] = true
	}
	if len(prefixes) < 10 {
		t.Fatalf("20 seeds gave only %d prefix lengths", len(prefixes))
	}
	// Without the option a failed write writes nothing.
	mem := memfs.New()
	f, err := errorfs.Wrap(mem, errorfs.OnKinds(errorfs.OpWrite)).Create("f")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.WriteAt(data, 0); n != 0 || err == nil {
		t.Fatalf("n %d err %v", n, err)
	}
	if info, err := mem.Stat("f"); err != nil || info.Size() != 0 {
		t.Fatalf("failed write applied: %v", err)
	}
}

func TestFailedCloseReleases(t *testing.T) {
	mem := memfs.New()
	fs := errorfs.Wrap(mem, errorfs.OnKinds(errorfs.OpUnlock, errorfs.OpClose))
	l, err := fs.Lock("LOCK")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); !errors.Is(err, diskio.ErrInjected) {
		t.Fatalf("got %v", err)
	}
	l, err = mem.Lock("LOCK")
	if err != nil {
		t.Fatalf("a failed unlock kept the lock: %v", err)
	}
	l.Close()
	f, err := fs.Create("f")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); !errors.Is(err, diskio.ErrInjected) {
		t.Fatalf("got %v", err)
	}
	if _, err := f.ReadAt(make([]byte, 1), 0); !errors.Is(err, iofs.ErrClosed) {
		t.Fatalf("a failed close left the file open: %v", err)
	}
}
