package osfs

import (
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/weirdata/weir/diskio"
)

// FS is the operating system's file system. The zero value is ready to use.
type FS struct{}

var _ diskio.FS = FS{}

// New returns the OS file system.
func New() FS { return FS{} }

const filePerm = 0o644

func openFD(name string, flags int) (int, error) {
	var fd int
	err := retry(func() error {
		var err error
		fd, err = unix.Open(name, flags|unix.O_CLOEXEC, filePerm)
		return err
	})
	return fd, err
}

// openCreating opens name with flags, creating it if missing; created says whether this call
// made the directory entry (so the caller knows to sync the parent).
func openCreating(name string, flags int) (fd int, created bool, err error) {
	for {
		fd, err = openFD(name, flags&^unix.O_TRUNC|unix.O_CREAT|unix.O_EXCL)
		if err == nil {
			return fd, true, nil
		}
		if err != unix.EEXIST {
			return -1, false, err
		}
		fd, err = openFD(name, flags)
		if err != unix.ENOENT {
			return fd, false, err
		}
		// Removed between the two opens: try creating again.
	}
}

// syncDir fsyncs a directory so its entries are durable.
func syncDir(dir string) error {
	fd, err := openFD(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return pathError("open", dir, err)
	}
	defer unix.Close(fd)
	if err := retry(func() error { return unix.Fsync(fd) }); err != nil {
		return pathError("sync", dir, err)
	}
	return nil
}

// openSynced opens name for reading and writing, creating it if missing and then syncing its
// parent directory.
func openSynced(op, name string, flags int) (*File, error) {
	fd, created, err := openCreating(name, flags)
	if err != nil {
		return nil, pathError(op, name, err)
	}
	if created {
		if err := syncDir(filepath.Dir(name)); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	return newFile(fd, name), nil
}

// Create implements diskio.FS.
func (FS) Create(name string) (diskio.File, error) {
	return openSynced("create", name, unix.O_RDWR|unix.O_TRUNC)
}

// Open implements diskio.FS.
func (FS) Open(name string) (diskio.File, error) {
	fd, err := openFD(name, unix.O_RDONLY)
	if err != nil {
		return nil, pathError("open", name, err)
	}
	return newFile(fd, name), nil
}

// OpenReadWrite implements diskio.FS.
func (FS) OpenReadWrite(name string) (diskio.File, error) {
	return openSynced("open", name, unix.O_RDWR)
}

// OpenDir implements diskio.FS.
func (FS) OpenDir(name string) (diskio.File, error) {
	fd, err := openFD(name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, pathError("open", name, err)
	}
	return newFile(fd, name), nil
}

// Remove implements diskio.FS: unlink, or rmdir for a directory, then sync the parent.
func (FS) Remove(name string) error {
	err := retry(func() error { return unix.Unlink(name) })
	if err == unix.EISDIR || err == unix.EPERM {
		// Linux unlink reports EISDIR for a directory; POSIX allows EPERM.
		if rmErr := retry(func() error { return unix.Rmdir(name) }); rmErr != unix.ENOTDIR {
			err = rmErr
		}
	}
	if err != nil {
		return pathError("remove", name, err)
	}
	return syncDir(filepath.Dir(name))
}

// RemoveAll implements diskio.FS, syncing the parent when something was removed.
func (FS) RemoveAll(name string) error {
	if _, err := os.Lstat(name); errors.Is(err, iofs.ErrNotExist) {
		return nil
	}
	if err := os.RemoveAll(name); err != nil {
		return err
	}
	return syncDir(filepath.Dir(name))
}

// Rename implements diskio.FS, then syncs the new parent and, if different, the old one.
func (FS) Rename(oldname, newname string) error {
	if err := retry(func() error { return unix.Rename(oldname, newname) }); err != nil {
		return pathError("rename", oldname+" -> "+newname, err)
	}
	newDir, oldDir := filepath.Dir(newname), filepath.Dir(oldname)
	if err := syncDir(newDir); err != nil {
		return err
	}
	if filepath.Clean(oldDir) != filepath.Clean(newDir) {
		return syncDir(oldDir)
	}
	return nil
}

// MkdirAll implements diskio.FS: it creates the missing directories top down, then syncs the
// parent of each one it created.
func (FS) MkdirAll(dir string, perm iofs.FileMode) error {
	dir = filepath.Clean(dir)
	var missing []string
	for p := dir; ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err == nil {
			if !info.IsDir() {
				return pathError("mkdir", p, unix.ENOTDIR)
			}
			break
		}
		if !errors.Is(err, iofs.ErrNotExist) {
			return err
		}
		missing = append(missing, p)
		if parent := filepath.Dir(p); parent == p {
			break
		}
	}
	var created []string
	for i := len(missing) - 1; i >= 0; i-- {
		p := missing[i]
		err := retry(func() error { return unix.Mkdir(p, uint32(perm.Perm())) })
		if err == unix.EEXIST {
			continue // made concurrently; whoever made it syncs its parent
		}
		if err != nil {
			return pathError("mkdir", p, err)
		}
		created = append(created, p)
	}
	for _, p := range created {
		if err := syncDir(filepath.Dir(p)); err != nil {
			return err
		}
	}
	return nil
}

// List implements diskio.FS.
func (FS) List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// Stat implements diskio.FS.
func (FS) Stat(name string) (iofs.FileInfo, error) {
	var st unix.Stat_t
	if err := retry(func() error { return unix.Stat(name, &st) }); err != nil {
		return nil, pathError("stat", name, err)
	}
	return newFileInfo(filepath.Base(name), &st), nil
}

// Lock implements diskio.FS with flock(LOCK_EX|LOCK_NB). flock locks belong to the open file
// description, so a second Lock in the same process fails as one in another process does.
func (FS) Lock(name string) (io.Closer, error) {
	f, err := openSynced("lock", name, unix.O_RDWR)
	if err != nil {
		return nil, err
	}
	err = f.use("lock", func(fd int) error {
		return retry(func() error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) })
	})
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, pathError("lock", name, diskio.ErrLocked)
		}
		return nil, err
	}
	return lockFile{f: f}, nil
}
