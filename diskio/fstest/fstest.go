package fstest

import (
	"bytes"
	"errors"
	"io"
	iofs "io/fs"
	"slices"
	"testing"

	"github.com/weirdata/weir/diskio"
)

// Run runs the conformance suite. newFS returns a fresh file system and an existing, empty
// directory in it under which the suite works.
func Run(t *testing.T, newFS func(t *testing.T) (fs diskio.FS, dir string)) {
	tests := []struct {
		name string
		run  func(t *testing.T, fs diskio.FS, dir string)
	}{
		{"ReadWriteAtOffsets", testReadWriteAtOffsets},
		{"CreateTruncatesExisting", testCreateTruncatesExisting},
		{"OpenReadWriteKeepsContent", testOpenReadWriteKeepsContent},
		{"OpenIsReadOnly", testOpenIsReadOnly},
		{"Truncate", testTruncate},
		{"PreallocateKeepsSize", testPreallocateKeepsSize},
		{"RenameOverExisting", testRenameOverExisting},
		{"Remove", testRemove},
		{"RemoveAll", testRemoveAll},
		{"ListSorted", testListSorted},
		{"Stat", testStat},
		{"MkdirAll", testMkdirAll},
		{"NotExist", testNotExist},
		{"LockExclusive", testLockExclusive},
		{"Closed", testClosed},
		{"WriteFileAtomic", testWriteFileAtomic},
		{"OpenDir", testOpenDir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, dir := newFS(t)
			tt.run(t, fs, dir)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func create(t *testing.T, fs diskio.FS, name string, data []byte) {
	t.Helper()
	f, err := fs.Create(name)
	must(t, err)
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	must(t, f.Close())
}

func content(t *testing.T, fs diskio.FS, name string) string {
	t.Helper()
	data, err := diskio.ReadFile(fs, name)
	must(t, err)
	return string(data)
}

func wantErrIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("want an error matching %v, got %v", target, err)
	}
}

// wantPathError checks the error names the path it is about, as the os package's do.
func wantPathError(t *testing.T, err error, target error) {
	t.Helper()
	wantErrIs(t, err, target)
	var pathErr *iofs.PathError
	if !errors.As(err, &pathErr) {
		t.Fatalf("want *fs.PathError, got %T: %v", err, err)
	}
}

func testReadWriteAtOffsets(t *testing.T, fs diskio.FS, dir string) {
	name := diskio.Join(dir, "f")
	f, err := fs.Create(name)
	must(t, err)
	defer f.Close()
	if n, err := f.WriteAt([]byte("hello"), 0); n != 5 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	// Writing past the end leaves a hole of zeros.
	if n, err := f.WriteAt([]byte("world"), 10); n != 5 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	if n, err := f.WriteAt([]byte("J"), 0); n != 1 || err != nil {
		t.Fatalf("overwrite: %d, %v", n, err)
	}
	buf := make([]byte, 15)
	if n, err := f.ReadAt(buf, 0); n != 15 || err != nil {
		t.Fatalf("read: %d, %v", n, err)
	}
	if want := "Jello\x00\x00\x00\x00\x00world"; string(buf) != want {
		t.Fatalf("got %q want %q", buf, want)
	}
	small := make([]byte, 3)
	if n, err := f.ReadAt(small, 11); n != 3 || err != nil || string(small) != "orl" {
		t.Fatalf("read at 11: %d %v %q", n, err, small)
	}
	// A read crossing the end returns what there is and io.EOF.
	if n, err := f.ReadAt(buf[:10], 12); n != 3 || !errors.Is(err, io.EOF) || string(buf[:3]) != "rld" {
		t.Fatalf("read across end: %d %v %q", n, err, buf[:3])
	}
	if n, err := f.ReadAt(buf, 15); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("read at end: %d %v", n, err)
	}
	if n, err := f.ReadAt(buf, 100); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("read past end: %d %v", n, err)
	}
	if n, err := f.ReadAt(nil, 3); n != 0 || err != nil {
		t.Fatalf("empty read: %d %v", n, err)
	}
	must(t, f.Sync())
	must(t, f.SyncData())
	info, err := f.Stat()
	must(t, err)
	if info.Size() != 15 || info.Name() != "f" || info.IsDir() {
		t.Fatalf("stat: size %d name %q dir %v", info.Size(), info.Name(), info.IsDir())
	}
}

func testCreateTruncatesExisting(t *testing.T, fs diskio.FS, dir string) {
	name := diskio.Join(dir, "f")
	create(t, fs, name, []byte("long content"))
	create(t, fs, name, []byte("new"))
	if got := content(t, fs, name); got != "new" {
		t.Fatalf("got %q", got)
	}
}

func testOpenReadWriteKeepsContent(t *testing.T, fs diskio.FS, dir string) {
	name := diskio.Join(dir, "f")
	f, err := fs.OpenReadWrite(name)
	must(t, err)
	_, err = f.WriteAt([]byte("abcdef"), 0)
	must(t, err)
	must(t, f.Close())
	f, err = fs.OpenReadWrite(name)
	must(t, err)
	_, err = f.WriteAt([]byte("XY"), 2)
	must(t, err)
	must(t, f.Close())
	if got := content(t, fs, name); got != "abXYef" {
		t.Fatalf("got %q", got)
	}
}

func testOpenIsReadOnly(t *testing.T, fs diskio.FS, dir string) {
	name := diskio.Join(dir, "f")
	create(t, fs, name, []byte("abc"))
	f, err := fs.Open(name)
	must(t, err)
	defer f.Close()
	if _, err := f.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("write through a read-only handle succeeded")
	}
	if err := f.Truncate(0); err == nil {
		t.Fatal("truncate through a read-only handle succeeded")
	}
	if got := content(t, fs, name); got != "abc" {
		t.Fatalf("got %q", got)
	}
}

func testTruncate(t *testing.T, fs diskio.FS, dir string) {
	name := diskio.Join(dir, "f")
	f, err := fs.Create(name)
	must(t, err)
	defer f.Close()
	_, err = f.WriteAt([]byte("0123456789"), 0)
	must(t, err)
	must(t, f.Truncate(4))
	if got := content(t, fs, name); got != "0123" {
		t.Fatalf("after shrink got %q", got)
	}
	must(t, f.Truncate(8))
	if got := content(t, fs, name); got != "0123\x00\x00\x00\x00" {
		t.Fatalf("after grow got %q", got)
	}
	info, err := fs.Stat(name)
	must(t, err)
	if info.Size() != 8 {
		t.Fatalf("size %d", info.Size())
	}
}

func testPreallocateKeepsSize(t *testing.T, fs diskio.FS, dir string) {
	name := diskio.Join(dir, "f")
	f, err := fs.Create(name)
	must(t, err)
	defer f.Close()
	_, err = f.WriteAt([]byte("abc"), 0)
	must(t, err)
	must(t, f.Preallocate(0, 1<<16))
	info, err := f.Stat()
	must(t, err)
	if info.Size() != 3 {
		t.Fatalf("preallocate changed the size to %d", info.Size())
	}
}

func testRenameOverExisting(t *testing.T, fs diskio.FS, dir string) {
	a, b := diskio.Join(dir, "a"), diskio.Join(dir, "b")
	create(t, fs, a, []byte("A"))
	create(t, fs, b, []byte("B"))
	must(t, fs.Rename(a, b))
	if got := content(t, fs, b); got != "A" {
		t.Fatalf("got %q", got)
	}
	_, err := fs.Stat(a)
	wantPathError(t, err, iofs.ErrNotExist)
	names, err := fs.List(dir)
	must(t, err)
	if !slices.Equal(names, []string{"b"}) {
		t.Fatalf("names %v", names)
	}
	// Into another directory.
	sub := diskio.Join(dir, "sub")
	must(t, fs.MkdirAll(sub, 0o755))
	must(t, fs.Rename(b, diskio.Join(sub, "c")))
	if got := content(t, fs, diskio.Join(sub, "c")); got != "A" {
		t.Fatalf("got %q", got)
	}
	// A directory renames with its contents.
	moved := diskio.Join(dir, "moved")
	must(t, fs.Rename(sub, moved))
	if got := content(t, fs, diskio.Join(moved, "c")); got != "A" {
		t.Fatalf("got %q", got)
	}
	wantPathError(t, fs.Rename(a, b), iofs.ErrNotExist)
}

func testRemove(t *testing.T, fs diskio.FS, dir string) {
	name := diskio.Join(dir, "f")
	create(t, fs, name, []byte("x"))
	// An open handle keeps working after the name is gone.
	f, err := fs.Open(name)
	must(t, err)
	defer f.Close()
	must(t, fs.Remove(name))
	wantPathError(t, fs.Remove(name), iofs.ErrNotExist)
	buf := make([]byte, 1)
	if _, err := f.ReadAt(buf, 0); err != nil || buf[0] != 'x' {
		t.Fatalf("read after remove: %v %q", err, buf)
	}
	sub := diskio.Join(dir, "sub")
	must(t, fs.MkdirAll(sub, 0o755))
	create(t, fs, diskio.Join(sub, "g"), nil)
	if err := fs.Remove(sub); err == nil {
		t.Fatal("removed a non-empty directory")
	}
	must(t, fs.Remove(diskio.Join(sub, "g")))
	must(t, fs.Remove(sub))
	names, err := fs.List(dir)
	must(t, err)
	if len(names) != 0 {
		t.Fatalf("names %v", names)
	}
}

func testRemoveAll(t *testing.T, fs diskio.FS, dir string) {
	tree := diskio.Join(dir, "tree")
	must(t, fs.MkdirAll(diskio.Join(tree, "a", "b"), 0o755))
	create(t, fs, diskio.Join(tree, "a", "b", "f"), []byte("x"))
	create(t, fs, diskio.Join(tree, "g"), []byte("y"))
	must(t, fs.RemoveAll(tree))
	_, err := fs.Stat(tree)
	wantErrIs(t, err, iofs.ErrNotExist)
	must(t, fs.RemoveAll(tree))
	must(t, fs.RemoveAll(diskio.Join(dir, "missing", "deeper")))
	file := diskio.Join(dir, "file")
	create(t, fs, file, nil)
	must(t, fs.RemoveAll(file))
	names, err := fs.List(dir)
	must(t, err)
	if len(names) != 0 {
		t.Fatalf("names %v", names)
	}
}

func testListSorted(t *testing.T, fs diskio.FS, dir string) {
	want := []string{"00000000000000000000.index", "00000000000000000000.log", "00000000000000000100.log", "B", "a", "leader-epoch-checkpoint", "z"}
	for _, i := range []int{6, 2, 0, 5, 3, 1} {
		create(t, fs, diskio.Join(dir, want[i]), nil)
	}
	must(t, fs.MkdirAll(diskio.Join(dir, want[4]), 0o755))
	got, err := fs.List(dir)
	must(t, err)
	if !slices.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	_, err = fs.List(diskio.Join(dir, "z"))
	if err == nil {
		t.Fatal("listed a file")
	}
}

func testStat(t *testing.T, fs diskio.FS, dir string) {
	name := diskio.Join(dir, "f")
	create(t, fs, name, make([]byte, 1234))
	info, err := fs.Stat(name)
	must(t, err)
	if info.Size() != 1234 || info.Name() != "f" || info.IsDir() || !info.Mode().IsRegular() {
		t.Fatalf("stat: %d %q %v %v", info.Size(), info.Name(), info.IsDir(), info.Mode())
	}
	info, err = fs.Stat(dir)
	must(t, err)
	if !info.IsDir() {
		t.Fatal("dir is not a dir")
	}
}

func testMkdirAll(t *testing.T, fs diskio.FS, dir string) {
	deep := diskio.Join(dir, "a", "b", "c")
	must(t, fs.MkdirAll(deep, 0o755))
	must(t, fs.MkdirAll(deep, 0o755))
	info, err := fs.Stat(deep)
	must(t, err)
	if !info.IsDir() {
		t.Fatal("not a dir")
	}
	create(t, fs, diskio.Join(deep, "f"), nil)
	if err := fs.MkdirAll(diskio.Join(deep, "f"), 0o755); err == nil {
		t.Fatal("MkdirAll over a file succeeded")
	}
	if err := fs.MkdirAll(diskio.Join(deep, "f", "g"), 0o755); err == nil {
		t.Fatal("MkdirAll under a file succeeded")
	}
}

func testNotExist(t *testing.T, fs diskio.FS, dir string) {
	missing := diskio.Join(dir, "missing")
	_, err := fs.Open(missing)
	wantPathError(t, err, iofs.ErrNotExist)
	_, err = fs.Stat(missing)
	wantPathError(t, err, iofs.ErrNotExist)
	_, err = fs.List(missing)
	wantErrIs(t, err, iofs.ErrNotExist)
	_, err = fs.OpenDir(missing)
	wantPathError(t, err, iofs.ErrNotExist)
	_, err = fs.Create(diskio.Join(missing, "f"))
	wantPathError(t, err, iofs.ErrNotExist)
	_, err = fs.OpenReadWrite(diskio.Join(missing, "f"))
	wantPathError(t, err, iofs.ErrNotExist)
	_, err = diskio.ReadFile(fs, missing)
	wantErrIs(t, err, diskio.ErrNotExist)
}

func testLockExclusive(t *testing.T, fs diskio.FS, dir string) {
	name := diskio.Join(dir, "LOCK")
	l, err := fs.Lock(name)
	must(t, err)
	_, err = fs.Lock(name)
	wantPathError(t, err, diskio.ErrLocked)
	must(t, l.Close())
	l, err = fs.Lock(name)
	must(t, err)
	must(t, l.Close())
	if l.Close() == nil {
		t.Fatal("second unlock succeeded")
	}
}

func testClosed(t *testing.T, fs diskio.FS, dir string) {
	f, err := fs.Create(diskio.Join(dir, "f"))
	must(t, err)
	must(t, f.Close())
	wantErrIs(t, f.Close(), iofs.ErrClosed)
	_, err = f.WriteAt([]byte("x"), 0)
	wantErrIs(t, err, iofs.ErrClosed)
	_, err = f.ReadAt(make([]byte, 1), 0)
	wantErrIs(t, err, iofs.ErrClosed)
	wantErrIs(t, f.Sync(), iofs.ErrClosed)
	_, err = f.Stat()
	wantErrIs(t, err, iofs.ErrClosed)
}

func testWriteFileAtomic(t *testing.T, fs diskio.FS, dir string) {
	must(t, diskio.WriteFileAtomic(fs, dir, "meta.properties", []byte("node.id=1\n")))
	must(t, diskio.WriteFileAtomic(fs, dir, "meta.properties", []byte("node.id=2\n")))
	data, err := diskio.ReadFile(fs, diskio.Join(dir, "meta.properties"))
	must(t, err)
	if !bytes.Equal(data, []byte("node.id=2\n")) {
		t.Fatalf("got %q", data)
	}
	names, err := fs.List(dir)
	must(t, err)
	if !slices.Equal(names, []string{"meta.properties"}) {
		t.Fatalf("names %v", names)
	}
}

func testOpenDir(t *testing.T, fs diskio.FS, dir string) {
	d, err := fs.OpenDir(dir)
	must(t, err)
	must(t, d.Sync())
	info, err := d.Stat()
	must(t, err)
	if !info.IsDir() {
		t.Fatal("not a dir")
	}
	must(t, d.Close())
	file := diskio.Join(dir, "f")
	create(t, fs, file, nil)
	if _, err := fs.OpenDir(file); err == nil {
		t.Fatal("OpenDir on a file succeeded")
	}
}
