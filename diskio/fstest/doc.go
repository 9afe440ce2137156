// Package fstest is the behaviour every diskio.FS must share, as a test suite: Run checks an
// implementation against it. diskio's own tests run it on osfs, memfs and errorfs; a new FS or
// wrapper should run it too.
package fstest
