// Package diskio is the file system storage sees: the FS and File interfaces that core/ may
// import, and helpers over them. Implementations live below it: osfs (the operating system,
// through golang.org/x/sys/unix), memfs (an in-memory FS that can be crashed, keeping only what
// was synced), errorfs (a wrapper that fails chosen operations), and fstest (the conformance suite every implementation passes).
package diskio
