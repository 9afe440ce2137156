package osfs

import (
	"errors"
	"io"
	iofs "io/fs"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weirdata/weir/diskio"
)

// File is an open file descriptor.
type File struct {
	// mu is held shared by every call using fd and exclusively by Close, so a closed
	// descriptor number, which the kernel may hand to another open, is never used.
	mu   sync.RWMutex
	fd   int // -1 once closed
	name string
}

var _ diskio.File = (*File)(nil)

func newFile(fd int, name string) *File { return &File{fd: fd, name: name} }

// use runs call with the descriptor held open.
func (f *File) use(op string, call func(fd int) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.fd < 0 {
		return pathError(op, f.name, iofs.ErrClosed)
	}
	if err := call(f.fd); err != nil {
		return pathError(op, f.name, err)
	}
	return nil
}

// Close implements diskio.File.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fd < 0 {
		return pathError("close", f.name, iofs.ErrClosed)
	}
	fd := f.fd
	f.fd = -1
	// close is not retried on EINTR: on Linux the descriptor is released regardless.
	if err := unix.Close(fd); err != nil {
		return pathError("close", f.name, err)
	}
	return nil
}

// ReadAt implements io.ReaderAt with pread, continuing short reads; it returns io.EOF when the
// file ends before p is full.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	done := 0
	eof := false
	err := f.use("read", func(fd int) error {
		for done < len(p) {
			n, err := unix.Pread(fd, p[done:], off+int64(done))
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			if n == 0 {
				eof = true
				return nil
			}
			done += n
		}
		return nil
	})
	if err != nil {
		return done, err
	}
	if eof {
		return done, io.EOF
	}
	return done, nil
}

// WriteAt implements io.WriterAt with pwrite, continuing short writes.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	done := 0
	err := f.use("write", func(fd int) error {
		for done < len(p) {
			n, err := unix.Pwrite(fd, p[done:], off+int64(done))
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			if n == 0 {
				return io.ErrShortWrite
			}
			done += n
		}
		return nil
	})
	return done, err
}

// Sync implements diskio.File with fsync.
func (f *File) Sync() error {
	return f.use("sync", func(fd int) error { return retry(func() error { return unix.Fsync(fd) }) })
}

// SyncData implements diskio.File with fdatasync.
func (f *File) SyncData() error {
	return f.use("syncdata", func(fd int) error { return retry(func() error { return fdatasync(fd) }) })
}

// Truncate implements diskio.File with ftruncate.
func (f *File) Truncate(sizeBytes int64) error {
	return f.use("truncate", func(fd int) error {
		return retry(func() error { return unix.Ftruncate(fd, sizeBytes) })
	})
}

// Preallocate implements diskio.File with fallocate(FALLOC_FL_KEEP_SIZE).
func (f *File) Preallocate(offset, length int64) error {
	return f.use("preallocate", func(fd int) error { return preallocate(fd, offset, length) })
}

// Stat implements diskio.File with fstat.
func (f *File) Stat() (iofs.FileInfo, error) {
	var st unix.Stat_t
	err := f.use("stat", func(fd int) error { return retry(func() error { return unix.Fstat(fd, &st) }) })
	if err != nil {
		return nil, err
	}
	return newFileInfo(filepath.Base(f.name), &st), nil
}

// fileInfo is fs.FileInfo from a stat call.
type fileInfo struct {
	name      string
	sizeBytes int64
	mode      iofs.FileMode
	modTime   time.Time
	sys       unix.Stat_t
}

func newFileInfo(name string, st *unix.Stat_t) *fileInfo {
	mode := iofs.FileMode(st.Mode & 0o777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= iofs.ModeDir
	case unix.S_IFLNK:
		mode |= iofs.ModeSymlink
	case unix.S_IFIFO:
		mode |= iofs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= iofs.ModeSocket
	case unix.S_IFCHR:
		mode |= iofs.ModeDevice | iofs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= iofs.ModeDevice
	}
	return &fileInfo{name: name, sizeBytes: st.Size, mode: mode, modTime: time.Unix(st.Mtim.Unix()), sys: *st}
}

func (fi *fileInfo) Name() string        { return fi.name }
func (fi *fileInfo) Size() int64         { return fi.sizeBytes }
func (fi *fileInfo) Mode() iofs.FileMode { return fi.mode }
func (fi *fileInfo) ModTime() time.Time  { return fi.modTime }
func (fi *fileInfo) IsDir() bool         { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any            { return &fi.sys }

// lockFile is a held flock; closing the descriptor releases it.
type lockFile struct{ f *File }

func (l lockFile) Close() error {
	err := l.f.Close()
	var pathErr *iofs.PathError
	if errors.As(err, &pathErr) {
		pathErr.Op = "unlock"
	}
	return err
}
