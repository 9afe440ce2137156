// Package osfs is diskio.FS on the operating system, through golang.org/x/sys/unix: ReadAt and
// WriteAt are pread and pwrite (short transfers continued, EINTR retried), SyncData is
// fdatasync, Sync is fsync, Preallocate is fallocate(FALLOC_FL_KEEP_SIZE) (a no-op where the
// file system does not support it), Lock is flock(LOCK_EX|LOCK_NB).
//
// Namespace changes are made durable before they return: Create, OpenReadWrite and Lock (when
// they create the file), MkdirAll (for each directory it creates), Rename (both parents) and
// Remove/RemoveAll sync the parent directory afterwards. If that sync fails the change happened
// but may not survive a crash; the error says so and the caller treats the state as unknown.
//
// Errors are *fs.PathError carrying the operation and path (Rename's path is "old -> new"), so
// errors.Is(err, fs.ErrNotExist) works; ENOSPC and EDQUOT also match diskio.ErrNoSpace, and a
// held lock matches diskio.ErrLocked. A File is safe for concurrent ReadAt/WriteAt; Close waits
// for calls in flight so a descriptor number is never reused under a running call.
//
// Linux is the production target; darwin builds (fsync for SyncData, no preallocation) for
// development.
package osfs
