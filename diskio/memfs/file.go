package memfs

import (
	"io"
	iofs "io/fs"
	"path"
	"syscall"
	"time"

	"github.com/weirdata/weir/diskio"
)

// FileBytesMax bounds a file's size and preallocated extent; beyond it writes, truncates and
// preallocations fail with EFBIG. It turns a wild offset into an error instead of an attempt to
// allocate that much memory.
const FileBytesMax = 1 << 32

// file is an open handle. It stays bound to its node after the node is renamed or removed, as
// a POSIX descriptor does; it is never valid on a crash clone (the clone has its own nodes).
type file struct {
	fs       *FS
	n        *node
	name     string
	writable bool
	closed   bool
}

var _ diskio.File = (*file)(nil)

func (f *file) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return pathError("close", f.name, iofs.ErrClosed)
	}
	f.closed = true
	return nil
}

// check reports why the handle cannot do op: closed, a directory, or read-only.
func (f *file) check(op string, write bool) error {
	if f.closed {
		return pathError(op, f.name, iofs.ErrClosed)
	}
	if f.n.isDir {
		return pathError(op, f.name, syscall.EISDIR)
	}
	if write && !f.writable {
		return pathError(op, f.name, syscall.EBADF)
	}
	return nil
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathError("read", f.name, syscall.EINVAL)
	}
	n := f.n.data.readAt(p, off)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathError("write", f.name, syscall.EINVAL)
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := f.n
	end := off + int64(len(p))
	if end > FileBytesMax {
		return 0, pathError("write", f.name, syscall.EFBIG)
	}
	oldSize := n.data.size
	if end > oldSize {
		// The whole write fails when it does not fit; a real disk may write a prefix first.
		if err := f.fs.charge(n, max(end, n.reservedBytes)); err != nil {
			return 0, pathError("write", f.name, err)
		}
	}
	n.data.writeAt(p, off)
	// A write past the end also changes the zero gap before it.
	n.markDirty(min(off, oldSize), end)
	return len(p), nil
}

// Sync implements diskio.File: on a file it makes data and size durable; on a directory, its
// entries.
func (f *file) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return pathError("sync", f.name, iofs.ErrClosed)
	}
	if f.n.isDir {
		f.fs.syncDir(f.n)
		return nil
	}
	f.n.syncData()
	return nil
}

// SyncData implements diskio.File; the size counts as data, so it is Sync.
func (f *file) SyncData() error {
	return f.Sync()
}

func (f *file) Truncate(sizeBytes int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate", true); err != nil {
		return err
	}
	if sizeBytes < 0 {
		return pathError("truncate", f.name, syscall.EINVAL)
	}
	if sizeBytes > FileBytesMax {
		return pathError("truncate", f.name, syscall.EFBIG)
	}
	if err := f.fs.truncate(f.n, sizeBytes); err != nil {
		return pathError("truncate", f.name, err)
	}
	return nil
}

func (f *file) Preallocate(offset, length int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("preallocate", true); err != nil {
		return err
	}
	if offset < 0 || length <= 0 {
		return pathError("preallocate", f.name, syscall.EINVAL)
	}
	if offset > FileBytesMax-length {
		return pathError("preallocate", f.name, syscall.EFBIG)
	}
	n := f.n
	reserved := max(n.reservedBytes, offset+length)
	if err := f.fs.charge(n, max(reserved, n.data.size)); err != nil {
		return pathError("preallocate", f.name, err)
	}
	n.reservedBytes = reserved
	return nil
}

func (f *file) Stat() (iofs.FileInfo, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return nil, pathError("stat", f.name, iofs.ErrClosed)
	}
	return f.n.info(f.name), nil
}

// truncate sets n's size; growing fills with zeros, shrinking also frees preallocated space
// beyond the new size, as ftruncate does.
func (fs *FS) truncate(n *node, sizeBytes int64) error {
	oldSize := n.data.size
	if sizeBytes == oldSize {
		return nil
	}
	reserved := min(n.reservedBytes, sizeBytes)
	if err := fs.charge(n, max(reserved, sizeBytes)); err != nil {
		return err
	}
	n.reservedBytes = reserved
	n.data.truncate(sizeBytes)
	n.markDirty(min(oldSize, sizeBytes), max(oldSize, sizeBytes))
	return nil
}

// charge moves n's space usage to newUsageBytes, failing with diskio.ErrNoSpace when that needs
// more space than the capacity leaves. Unlinked files are not counted.
func (fs *FS) charge(n *node, newUsageBytes int64) error {
	if n.links == 0 {
		return nil
	}
	delta := newUsageBytes - n.usageBytes()
	if delta > 0 && fs.capacityBytes > 0 && fs.usedBytes+delta > fs.capacityBytes {
		return diskio.ErrNoSpace
	}
	fs.usedBytes += delta
	return nil
}

func (n *node) usageBytes() int64 {
	return max(n.data.size, n.reservedBytes)
}

func (n *node) markDirty(lowBytes, highBytes int64) {
	if !n.dirty {
		n.dirty, n.dirtyLowBytes, n.dirtyHighBytes = true, lowBytes, highBytes
		return
	}
	n.dirtyLowBytes = min(n.dirtyLowBytes, lowBytes)
	n.dirtyHighBytes = max(n.dirtyHighBytes, highBytes)
}

// syncData copies the dirty range into synced, so a sync costs what was written since the last.
func (n *node) syncData() {
	if !n.dirty {
		return
	}
	n.synced.copyRange(n.data, n.dirtyLowBytes, n.dirtyHighBytes)
	n.dirty = false
}

func (n *node) info(name string) iofs.FileInfo {
	base := path.Base(cleanAbs(name))
	if n.isDir {
		return fileInfo{name: base, mode: iofs.ModeDir | 0o755}
	}
	return fileInfo{name: base, sizeBytes: n.data.size, mode: 0o644}
}

// fileInfo is a deterministic fs.FileInfo: the modification time is always zero.
type fileInfo struct {
	name      string
	sizeBytes int64
	mode      iofs.FileMode
}

func (fi fileInfo) Name() string        { return fi.name }
func (fi fileInfo) Size() int64         { return fi.sizeBytes }
func (fi fileInfo) Mode() iofs.FileMode { return fi.mode }
func (fi fileInfo) ModTime() time.Time  { return time.Time{} }
func (fi fileInfo) IsDir() bool         { return fi.mode.IsDir() }
func (fi fileInfo) Sys() any            { return nil }
