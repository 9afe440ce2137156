package memfs_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

const seedCount = 300

func TestCreatedFileDisappearsIfDirectoryNotSynced(t *testing.T) {
	fs := memfs.New()
	if err := fs.MkdirAll("/log", 0o755); err != nil {
		t.Fatal(err)
	}
	mustSyncDir(t, fs, "/")
	mustWrite(t, fs, "/log/a", []byte("hello"), true).Close()

	for seed := uint64(0); seed < 20; seed++ {
		worst := fs.CrashClone(memfs.CrashConfig{Seed: seed, Mode: memfs.CrashLoseUnsynced})
		if !exists(t, worst, "/log") || exists(t, worst, "/log/a") {
			t.Fatalf("after crash want /log without a, got:\n%s", worst)
		}
	}
	mustSyncDir(t, fs, "/log")
	worst := fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
	if got := readAll(t, worst, "/log/a"); string(got) != "hello" {
		t.Fatalf("after dir sync got %q", got)
	}
}

func TestSyncedFileInUnsyncedDirectoryVanishes(t *testing.T) {
	fs := memfs.New()
	if err := fs.MkdirAll("/a/b", 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, fs, "/a/b/f", []byte("x"), true).Close()
	mustSyncDir(t, fs, "/a/b")
	mustSyncDir(t, fs, "/a")
	worst := fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
	if exists(t, worst, "/a") {
		t.Fatalf("/a was never made durable in /, got:\n%s", worst)
	}
	mustSyncDir(t, fs, "/")
	worst = fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
	if got := readAll(t, worst, "/a/b/f"); string(got) != "x" {
		t.Fatalf("got %q", got)
	}
}

func TestSyncedDataSurvivesEverySeed(t *testing.T) {
	fs := memfs.New()
	synced := bytes.Repeat([]byte("s"), 2000)
	f := mustWrite(t, fs, "f", synced, true)
	mustSyncDir(t, fs, "/")
	if _, err := f.WriteAt(bytes.Repeat([]byte("u"), 3000), 2000); err != nil {
		t.Fatal(err)
	}
	for seed := uint64(0); seed < seedCount; seed++ {
		after := fs.CrashClone(memfs.CrashConfig{Seed: seed})
		got := readAll(t, after, "f")
		if len(got) < len(synced) || !bytes.Equal(got[:len(synced)], synced) {
			t.Fatalf("seed %d: synced prefix lost, size %d", seed, len(got))
		}
	}
}

func TestUnsyncedDataLostKeptOrTorn(t *testing.T) {
	fs := memfs.New()
	oldData := bytes.Repeat([]byte("a"), 4*memfs.SectorBytes)
	newData := bytes.Repeat([]byte("b"), 4*memfs.SectorBytes)
	f := mustWrite(t, fs, "f", oldData, true)
	mustSyncDir(t, fs, "/")
	if _, err := f.WriteAt(newData, 0); err != nil {
		t.Fatal(err)
	}
	var lost, kept, torn int
	for seed := uint64(0); seed < seedCount; seed++ {
		got := readAll(t, fs.CrashClone(memfs.CrashConfig{Seed: seed}), "f")
		switch {
		case bytes.Equal(got, oldData):
			lost++
		case bytes.Equal(got, newData):
			kept++
		default:
			torn++
			if len(got) != len(oldData) {
				t.Fatalf("seed %d: torn size %d", seed, len(got))
			}
			for s := 0; s < len(got); s += memfs.SectorBytes {
				sector := got[s : s+memfs.SectorBytes]
				if !bytes.Equal(sector, oldData[:memfs.SectorBytes]) && !bytes.Equal(sector, newData[:memfs.SectorBytes]) {
					t.Fatalf("seed %d: sector at %d is neither old nor new", seed, s)
				}
			}
		}
	}
	if lost == 0 || kept == 0 || torn == 0 {
		t.Fatalf("want every outcome over %d seeds: lost %d kept %d torn %d", seedCount, lost, kept, torn)
	}
	if got := readAll(t, fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}), "f"); !bytes.Equal(got, oldData) {
		t.Fatal("worst case kept unsynced data")
	}
	if got := readAll(t, fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashKeepUnsynced}), "f"); !bytes.Equal(got, newData) {
		t.Fatal("keep-all lost unsynced data")
	}
}

func TestTornAppendReadsZerosOrNewData(t *testing.T) {
	fs := memfs.New()
	f := mustWrite(t, fs, "f", nil, true)
	mustSyncDir(t, fs, "/")
	appended := bytes.Repeat([]byte("n"), 3*memfs.SectorBytes+100)
	if _, err := f.WriteAt(appended, 0); err != nil {
		t.Fatal(err)
	}
	sizes := map[int]bool{}
	for seed := uint64(0); seed < seedCount; seed++ {
		got := readAll(t, fs.CrashClone(memfs.CrashConfig{Seed: seed}), "f")
		sizes[len(got)] = true
		for i, b := range got {
			if b != 0 && b != 'n' {
				t.Fatalf("seed %d: byte %d is %q", seed, i, b)
			}
		}
	}
	if !sizes[0] || !sizes[len(appended)] || len(sizes) != 2 {
		t.Fatalf("want sizes 0 and %d, got %v", len(appended), sizes)
	}
}

func TestTruncateIsUnsyncedUntilSync(t *testing.T) {
	fs := memfs.New()
	f := mustWrite(t, fs, "f", bytes.Repeat([]byte("x"), 1000), true)
	mustSyncDir(t, fs, "/")
	if err := f.Truncate(10); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}), "f"); len(got) != 1000 {
		t.Fatalf("unsynced truncate survived: size %d", len(got))
	}
	if err := f.SyncData(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}), "f"); len(got) != 10 {
		t.Fatalf("synced truncate lost: size %d", len(got))
	}
	// Growing back must read zeros, not the bytes cut off before.
	if err := f.Truncate(20); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}), "f")
	if want := append(bytes.Repeat([]byte("x"), 10), make([]byte, 10)...); !bytes.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
}

func TestRenameNotSyncedIsUndone(t *testing.T) {
	fs := memfs.New()
	mustWrite(t, fs, "a", []byte("A"), true).Close()
	mustWrite(t, fs, "b", []byte("B"), true).Close()
	mustSyncDir(t, fs, "/")
	if err := fs.Rename("a", "b"); err != nil {
		t.Fatal(err)
	}
	worst := fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
	if string(readAll(t, worst, "a")) != "A" || string(readAll(t, worst, "b")) != "B" {
		t.Fatalf("rename survived without a dir sync:\n%s", worst)
	}
	// A seeded crash shows the rename whole or not at all, never half.
	for seed := uint64(0); seed < 50; seed++ {
		after := fs.CrashClone(memfs.CrashConfig{Seed: seed})
		if exists(t, after, "a") {
			if string(readAll(t, after, "b")) != "B" {
				t.Fatalf("seed %d: half a rename", seed)
			}
		} else if string(readAll(t, after, "b")) != "A" {
			t.Fatalf("seed %d: half a rename", seed)
		}
	}
	mustSyncDir(t, fs, "/")
	worst = fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
	if exists(t, worst, "a") || string(readAll(t, worst, "b")) != "A" {
		t.Fatalf("synced rename lost:\n%s", worst)
	}
}

func TestRemoveNotSyncedIsUndone(t *testing.T) {
	fs := memfs.New()
	mustWrite(t, fs, "a", []byte("A"), true).Close()
	mustSyncDir(t, fs, "/")
	if err := fs.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}), "a"); string(got) != "A" {
		t.Fatalf("got %q", got)
	}
	if exists(t, fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashKeepUnsynced}), "a") {
		t.Fatal("keep-all undid the removal")
	}
}

func TestUnsyncedNamespaceChangesSurviveAsPrefix(t *testing.T) {
	fs := memfs.New()
	names := []string{"c", "a", "b"} // creation order differs from sorted order
	for _, name := range names {
		mustWrite(t, fs, name, []byte(name), true).Close()
	}
	seen := map[string]bool{}
	for seed := uint64(0); seed < seedCount; seed++ {
		after := fs.CrashClone(memfs.CrashConfig{Seed: seed})
		got, err := after.List("/")
		if err != nil {
			t.Fatal(err)
		}
		kept := 0
		for kept < len(names) && exists(t, after, names[kept]) {
			kept++
		}
		if want := slices.Sorted(slices.Values(names[:kept])); !slices.Equal(got, want) {
			t.Fatalf("seed %d: %v is not a prefix of the creation order %v", seed, got, names)
		}
		seen[fmt.Sprint(got)] = true
	}
	if len(seen) != len(names)+1 {
		t.Fatalf("want every prefix over %d seeds, saw %v", seedCount, seen)
	}
}

func TestRenameAcrossDirectoriesSyncedOnlyAtTarget(t *testing.T) {
	fs := memfs.New()
	if err := fs.MkdirAll("/src", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fs.MkdirAll("/dst", 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, fs, "/src/f", []byte("F"), true).Close()
	mustSyncDir(t, fs, "/src")
	mustSyncDir(t, fs, "/")
	if err := fs.Rename("/src/f", "/dst/f"); err != nil {
		t.Fatal(err)
	}
	mustSyncDir(t, fs, "/dst")
	worst := fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
	// The source directory was not synced, so the old name survives beside the new one.
	if string(readAll(t, worst, "/src/f")) != "F" || string(readAll(t, worst, "/dst/f")) != "F" {
		t.Fatalf("got:\n%s", worst)
	}
	// Both names are one file: a write through one shows through the other.
	mustWrite(t, worst, "/src/f", []byte("G"), false).Close()
	if got := readAll(t, worst, "/dst/f"); string(got) != "G" {
		t.Fatalf("names are not one file: %q", got)
	}
}

func TestDirectoryCycleAfterCrashIsBroken(t *testing.T) {
	// Sync /b while it holds a, then move a out and b into a and sync a: the synced entries
	// of a and b name each other. The clone must still be a tree.
	fs := memfs.New()
	for _, step := range []func() error{
		func() error { return fs.MkdirAll("/a", 0o755) },
		func() error { return fs.MkdirAll("/b", 0o755) },
		func() error { return diskio.SyncDir(fs, "/") },
		func() error { return fs.Rename("/a", "/b/a") },
		func() error { return diskio.SyncDir(fs, "/b") },
		func() error { return fs.Rename("/b/a", "/a") },
		func() error { return fs.Rename("/b", "/a/b") },
		func() error { return diskio.SyncDir(fs, "/a") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	worst := fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
	if !exists(t, worst, "/a/b") || exists(t, worst, "/a/b/a") {
		t.Fatalf("got:\n%s", worst)
	}
}

// buildBusyState leaves a mix of synced and unsynced files, entries and truncations.
func buildBusyState(t *testing.T) *memfs.FS {
	fs := memfs.New()
	if err := fs.MkdirAll("/data/t-0", 0o755); err != nil {
		t.Fatal(err)
	}
	mustSyncDir(t, fs, "/")
	mustSyncDir(t, fs, "/data")
	for i := range 8 {
		name := fmt.Sprintf("/data/t-0/%020d.log", i)
		f := mustWrite(t, fs, name, bytes.Repeat([]byte{byte('a' + i)}, 1500*(i+1)), i%2 == 0)
		if i == 3 {
			mustSyncDir(t, fs, "/data/t-0")
		}
		if _, err := f.WriteAt(bytes.Repeat([]byte{'z'}, 700), int64(300*i)); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := f.Truncate(int64(1000 * i)); err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
	}
	if err := fs.Rename("/data/t-0/00000000000000000001.log", "/data/t-0/renamed"); err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove("/data/t-0/00000000000000000002.log"); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestSameSeedGivesIdenticalClones(t *testing.T) {
	digests := map[[32]byte]bool{}
	for seed := uint64(0); seed < 50; seed++ {
		a := buildBusyState(t).CrashClone(memfs.CrashConfig{Seed: seed})
		b := buildBusyState(t).CrashClone(memfs.CrashConfig{Seed: seed})
		if a.Digest() != b.Digest() || a.String() != b.String() {
			t.Fatalf("seed %d: clones differ:\n%s\nvs\n%s", seed, a, b)
		}
		digests[a.Digest()] = true
	}
	if len(digests) < 10 {
		t.Fatalf("50 seeds gave only %d distinct crash states", len(digests))
	}
	fs := buildBusyState(t)
	if fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashKeepUnsynced}).Digest() != fs.Digest() {
		t.Fatal("keep-all clone differs from the original")
	}
}

func TestCloneIsDurableAndIndependent(t *testing.T) {
	fs := buildBusyState(t)
	clone := fs.CrashClone(memfs.CrashConfig{Seed: 3})
	// A clone has nothing unsynced: crashing it again in the worst case changes nothing.
	if clone.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}).Digest() != clone.Digest() {
		t.Fatal("clone has unsynced state")
	}
	before := clone.Digest()
	mustWrite(t, fs, "/data/t-0/renamed", []byte("changed after the crash"), true).Close()
	if clone.Digest() != before {
		t.Fatal("writing the original changed the clone")
	}
}

func TestLockReleasedByCrash(t *testing.T) {
	fs := memfs.New()
	if _, err := fs.Lock("LOCK"); err != nil {
		t.Fatal(err)
	}
	mustSyncDir(t, fs, "/")
	after := fs.CrashClone(memfs.CrashConfig{})
	l, err := after.Lock("LOCK")
	if err != nil {
		t.Fatalf("lock held across a crash: %v", err)
	}
	l.Close()
}

func TestSyncedNamespaceSurvivesEverySeed(t *testing.T) {
	fs := memfs.New()
	mustWrite(t, fs, "a", []byte("A"), true).Close()
	mustWrite(t, fs, "b", []byte("B"), true).Close()
	if err := fs.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if err := fs.Rename("b", "c"); err != nil {
		t.Fatal(err)
	}
	mustSyncDir(t, fs, "/")
	mustWrite(t, fs, "d", []byte("D"), true).Close() // unsynced: may or may not survive
	for seed := uint64(0); seed < 100; seed++ {
		after := fs.CrashClone(memfs.CrashConfig{Seed: seed})
		names, err := after.List("/")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names, []string{"c"}) && !slices.Equal(names, []string{"c", "d"}) {
			t.Fatalf("seed %d: synced namespace changed: %v", seed, names)
		}
	}
}
