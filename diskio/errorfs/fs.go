package errorfs

import (
	"errors"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"sync"

	"github.com/weirdata/weir/diskio"
)

// Option configures Wrap.
type Option func(*FS)

// WithPartialWrites makes a failing Write apply a prefix of its data first, as a real disk
// error midway through a write may: the prefix length is drawn from a PRNG seeded with seed,
// uniformly from 0 up to (not including) the full length, and WriteAt returns that length with
// the error. Without this option a failing Write writes nothing.
func WithPartialWrites(seed uint64) Option {
	return func(fs *FS) {
		fs.partialRng = rand.New(rand.NewPCG(seed, 0x7061727469616c21))
	}
}

// FS wraps a diskio.FS, failing the operations its injector picks.
type FS struct {
	inner diskio.FS
	inj   Injector

	partialMu  sync.Mutex
	partialRng *rand.Rand // nil: failed writes write nothing

	corrupt *Corruptor // nil: no silent damage
}

var _ diskio.FS = (*FS)(nil)

// Wrap returns inner with inj consulted before every operation. A failed operation returns a
// *fs.PathError (Op is the kind's name, Path the path) wrapping the injector's error.
func Wrap(inner diskio.FS, inj Injector, opts ...Option) diskio.FS {
	fs := &FS{inner: inner, inj: inj}
	for _, opt := range opts {
		opt(fs)
	}
	return fs
}

func (fs *FS) maybe(op Op) error {
	err := fs.inj.MaybeError(op)
	if err == nil {
		return nil
	}
	name := op.Path
	if op.NewPath != "" {
		name += " -> " + op.NewPath
	}
	return &iofs.PathError{Op: op.Kind.String(), Path: name, Err: err}
}

func (fs *FS) open(kind OpKind, name string, open func(string) (diskio.File, error)) (diskio.File, error) {
	if err := fs.maybe(Op{Kind: kind, Path: name}); err != nil {
		return nil, err
	}
	f, err := open(name)
	if err != nil {
		return nil, err
	}
	return &file{fs: fs, inner: f, name: name}, nil
}

// Create implements diskio.FS.
func (fs *FS) Create(name string) (diskio.File, error) {
	f, err := fs.open(OpCreate, name, fs.inner.Create)
	if err == nil && fs.corrupt != nil {
		fs.corrupt.truncated(name, 0) // a new file: no old sectors
	}
	return f, err
}

// Open implements diskio.FS.
func (fs *FS) Open(name string) (diskio.File, error) {
	return fs.open(OpOpen, name, fs.inner.Open)
}

// OpenReadWrite implements diskio.FS.
func (fs *FS) OpenReadWrite(name string) (diskio.File, error) {
	return fs.open(OpOpenReadWrite, name, fs.inner.OpenReadWrite)
}

// OpenDir implements diskio.FS.
func (fs *FS) OpenDir(name string) (diskio.File, error) {
	return fs.open(OpOpenDir, name, fs.inner.OpenDir)
}

// Remove implements diskio.FS.
func (fs *FS) Remove(name string) error {
	if err := fs.maybe(Op{Kind: OpRemove, Path: name}); err != nil {
		return err
	}
	if err := fs.inner.Remove(name); err != nil {
		return err
	}
	if fs.corrupt != nil {
		fs.corrupt.removed(name)
	}
	return nil
}

// RemoveAll implements diskio.FS.
func (fs *FS) RemoveAll(name string) error {
	if err := fs.maybe(Op{Kind: OpRemoveAll, Path: name}); err != nil {
		return err
	}
	if err := fs.inner.RemoveAll(name); err != nil {
		return err
	}
	if fs.corrupt != nil {
		fs.corrupt.removed(name)
	}
	return nil
}

// Rename implements diskio.FS.
func (fs *FS) Rename(oldname, newname string) error {
	if err := fs.maybe(Op{Kind: OpRename, Path: oldname, NewPath: newname}); err != nil {
		return err
	}
	if err := fs.inner.Rename(oldname, newname); err != nil {
		return err
	}
	if fs.corrupt != nil {
		fs.corrupt.removed(newname) // replaced
		fs.corrupt.renamed(oldname, newname)
	}
	return nil
}

// MkdirAll implements diskio.FS.
func (fs *FS) MkdirAll(dir string, perm iofs.FileMode) error {
	if err := fs.maybe(Op{Kind: OpMkdirAll, Path: dir}); err != nil {
		return err
	}
	return fs.inner.MkdirAll(dir, perm)
}

// List implements diskio.FS.
func (fs *FS) List(dir string) ([]string, error) {
	if err := fs.maybe(Op{Kind: OpList, Path: dir}); err != nil {
		return nil, err
	}
	return fs.inner.List(dir)
}

// Stat implements diskio.FS.
func (fs *FS) Stat(name string) (iofs.FileInfo, error) {
	if err := fs.maybe(Op{Kind: OpStat, Path: name}); err != nil {
		return nil, err
	}
	return fs.inner.Stat(name)
}

// Lock implements diskio.FS.
func (fs *FS) Lock(name string) (io.Closer, error) {
	if err := fs.maybe(Op{Kind: OpLock, Path: name}); err != nil {
		return nil, err
	}
	l, err := fs.inner.Lock(name)
	if err != nil {
		return nil, err
	}
	return &lock{fs: fs, inner: l, name: name}, nil
}

// lock fails its Close as injected, but releases the inner lock regardless: a failed close
// still releases the descriptor.
type lock struct {
	fs    *FS
	inner io.Closer
	name  string
}

func (l *lock) Close() error {
	injectedErr := l.fs.maybe(Op{Kind: OpUnlock, Path: l.name})
	err := l.inner.Close()
	if injectedErr != nil {
		return injectedErr
	}
	return err
}

// file wraps an open diskio.File.
type file struct {
	fs    *FS
	inner diskio.File
	name  string
}

var _ diskio.File = (*file)(nil)

// Close releases the inner file even when the close is failed, as close(2) does.
func (f *file) Close() error {
	injectedErr := f.fs.maybe(Op{Kind: OpClose, Path: f.name})
	err := f.inner.Close()
	if injectedErr != nil {
		return injectedErr
	}
	return err
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	inspecting := f.fs.corrupt != nil && f.fs.corrupt.inspectingNow()
	if !inspecting {
		if err := f.fs.maybe(Op{Kind: OpRead, Path: f.name, OffsetBytes: off, LengthBytes: int64(len(p))}); err != nil {
			return 0, err
		}
	}
	if f.fs.corrupt != nil {
		n, err := f.fs.corrupt.read(f.inner, f.name, p, off)
		if err != nil && errors.Is(err, diskio.ErrInjected) {
			err = &iofs.PathError{Op: OpRead.String(), Path: f.name, Err: err}
		}
		return n, err
	}
	return f.inner.ReadAt(p, off)
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	err := f.fs.maybe(Op{Kind: OpWrite, Path: f.name, OffsetBytes: off, LengthBytes: int64(len(p))})
	if err == nil {
		if f.fs.corrupt != nil {
			return f.fs.corrupt.write(f.inner, f.name, p, off)
		}
		return f.inner.WriteAt(p, off)
	}
	prefix := f.fs.partialLength(len(p))
	if prefix == 0 {
		return 0, err
	}
	n, innerErr := f.inner.WriteAt(p[:prefix], off)
	if innerErr != nil {
		return n, innerErr
	}
	return n, err
}

// partialLength is how many bytes of a failing write of lengthBytes to apply.
func (fs *FS) partialLength(lengthBytes int) int {
	if fs.partialRng == nil || lengthBytes == 0 {
		return 0
	}
	fs.partialMu.Lock()
	defer fs.partialMu.Unlock()
	return fs.partialRng.IntN(lengthBytes)
}

func (f *file) Sync() error {
	if err := f.fs.maybe(Op{Kind: OpSync, Path: f.name}); err != nil {
		return err
	}
	return f.inner.Sync()
}

func (f *file) SyncData() error {
	if err := f.fs.maybe(Op{Kind: OpSyncData, Path: f.name}); err != nil {
		return err
	}
	return f.inner.SyncData()
}

func (f *file) Truncate(sizeBytes int64) error {
	if err := f.fs.maybe(Op{Kind: OpTruncate, Path: f.name, OffsetBytes: sizeBytes}); err != nil {
		return err
	}
	if err := f.inner.Truncate(sizeBytes); err != nil {
		return err
	}
	if f.fs.corrupt != nil {
		f.fs.corrupt.truncated(f.name, sizeBytes)
	}
	return nil
}

func (f *file) Preallocate(offset, length int64) error {
	if err := f.fs.maybe(Op{Kind: OpPreallocate, Path: f.name, OffsetBytes: offset, LengthBytes: length}); err != nil {
		return err
	}
	return f.inner.Preallocate(offset, length)
}

func (f *file) Stat() (iofs.FileInfo, error) {
	if err := f.fs.maybe(Op{Kind: OpFileStat, Path: f.name}); err != nil {
		return nil, err
	}
	return f.inner.Stat()
}
