package osfs

import "golang.org/x/sys/unix"

func fdatasync(fd int) error { return unix.Fdatasync(fd) }

// preallocate reserves blocks without changing the size; file systems without fallocate
// support (EOPNOTSUPP, ENOSYS) simply allocate on write.
func preallocate(fd int, offset, length int64) error {
	err := retry(func() error { return unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, offset, length) })
	if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
		return nil
	}
	return err
}
