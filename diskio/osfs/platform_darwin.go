package osfs

import "golang.org/x/sys/unix"

// fdatasync is fsync on darwin, which has no fdatasync; development only (fsync there does not
// flush the drive cache either).
func fdatasync(fd int) error { return unix.Fsync(fd) }

func preallocate(fd int, offset, length int64) error { return nil }
