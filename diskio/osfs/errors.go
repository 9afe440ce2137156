package osfs

import (
	iofs "io/fs"

	"golang.org/x/sys/unix"

	"github.com/weirdata/weir/diskio"
)

// noSpaceError is ENOSPC (or EDQUOT) that also matches diskio.ErrNoSpace.
type noSpaceError struct{ errno unix.Errno }

func (e noSpaceError) Error() string   { return e.errno.Error() }
func (e noSpaceError) Unwrap() []error { return []error{diskio.ErrNoSpace, e.errno} }

func pathError(op, name string, err error) error {
	if errno, ok := err.(unix.Errno); ok && (errno == unix.ENOSPC || errno == unix.EDQUOT) {
		err = noSpaceError{errno: errno}
	}
	return &iofs.PathError{Op: op, Path: name, Err: err}
}

// retry runs a system call until it does not fail with EINTR.
func retry(call func() error) error {
	for {
		err := call()
		if err != unix.EINTR {
			return err
		}
	}
}
