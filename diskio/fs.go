package diskio

import (
	"errors"
	"io"
	"io/fs"
	"path"
)

// FS is the file system as storage sees it. It is shaped like Pebble's vfs.FS: core/ code
// touches files only through it, so the simulator can hand core a crashable, faulty disk and
// production hands it the OS.
//
// Durability contract (the same as POSIX with fdatasync, which the crashable FS enforces):
//   - data written to a File survives a crash only after File.Sync or File.SyncData returns nil;
//   - a created, renamed or removed directory entry survives a crash only after the parent
//     directory is synced (OpenDir(dir) then Sync);
//   - after a failed Sync the page cache is not trusted: the caller must treat the file's state
//     as unknown (in Weir: crash and recover).
//
// Paths are slash-separated; implementations may require them to be clean.
type FS interface {
	// Create creates the named file for reading and writing, truncating it if it exists.
	Create(name string) (File, error)
	// Open opens the named file read-only.
	Open(name string) (File, error)
	// OpenReadWrite opens the named file for reading and writing, creating it if needed.
	OpenReadWrite(name string) (File, error)
	// OpenDir opens a directory so that it can be synced.
	OpenDir(name string) (File, error)
	// Remove removes the named file or empty directory.
	Remove(name string) error
	// RemoveAll removes a directory tree; a missing path is not an error.
	RemoveAll(name string) error
	// Rename renames oldname to newname, replacing newname if it exists.
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and any missing parents.
	MkdirAll(dir string, perm fs.FileMode) error
	// List returns the names (not paths) of a directory's entries, sorted.
	List(dir string) ([]string, error)
	// Stat describes the named file.
	Stat(name string) (fs.FileInfo, error)
	// Lock takes an exclusive lock on the named file, creating it if needed; Close releases it.
	// It stops two processes from opening one log dir.
	Lock(name string) (io.Closer, error)
}

// File is an open file. ReadAt and WriteAt never move a shared offset, so one File may be read
// by many readers while the loop appends.
type File interface {
	io.Closer
	io.ReaderAt
	io.WriterAt
	// Sync makes the file's data and metadata durable (fsync); on a directory, its entries.
	Sync() error
	// SyncData makes the file's data durable (fdatasync); the size counts as data.
	SyncData() error
	// Truncate changes the file's size.
	Truncate(sizeBytes int64) error
	// Preallocate reserves space for [offset, offset+length) without changing the size.
	Preallocate(offset, length int64) error
	// Stat describes the file.
	Stat() (fs.FileInfo, error)
}

// Errors the implementations return, wrapped in *fs.PathError where a path is involved,
// so errors.Is works as with the os package.
var (
	ErrNotExist = fs.ErrNotExist
	ErrExist    = fs.ErrExist
	// ErrLocked is returned by Lock when another holder has the lock.
	ErrLocked = errors.New("diskio: file is locked by another holder")
	// ErrInjected is the root of every error an error-injecting FS returns.
	ErrInjected = errors.New("diskio: injected error")
	// ErrNoSpace is returned when a write needs space the disk does not have (ENOSPC).
	ErrNoSpace = errors.New("diskio: no space left on device")
)

// WriteFileAtomic writes data to name durably: it writes a temporary file, syncs it, renames it
// over name and syncs the directory, so a crash leaves either the old content or the new one.
// Checkpoint files (recovery points, leader epochs, meta.properties) are written this way.
func WriteFileAtomic(filesystem FS, dir, name string, data []byte) error {
	path := Join(dir, name)
	tmpPath := path + ".tmp"
	f, err := filesystem.Create(tmpPath)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := filesystem.Rename(tmpPath, path); err != nil {
		return err
	}
	return SyncDir(filesystem, dir)
}

// ReadFile reads a whole file.
func ReadFile(filesystem FS, name string) ([]byte, error) {
	f, err := filesystem.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data := make([]byte, info.Size())
	n, err := f.ReadAt(data, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(data)) {
		return nil, err
	}
	return data[:n], nil
}

// SyncDir makes a directory's entries durable.
func SyncDir(filesystem FS, dir string) error {
	d, err := filesystem.OpenDir(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}

// Join joins slash-separated path elements (path.Join: core/ must not use path/filepath).
func Join(elem ...string) string { return path.Join(elem...) }
