// Package memfs is an in-memory diskio.FS that can be crashed: it tracks what a real disk would
// keep after a power loss, and hands out the post-crash disk as a new FS.
//
// # Use
//
//	fs := memfs.New()                 // empty root; paths are slash-separated, "/a" == "a"
//	fs.SetCapacityBytes(1 << 20)      // optional: writes past it fail with diskio.ErrNoSpace
//	... run code against fs ...
//	after := fs.CrashClone(memfs.CrashConfig{Seed: 7})          // seeded random crash
//	worst := fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
//	all := fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashKeepUnsynced})
//	... recover from after; handles opened on fs are not valid on it ...
//	after.Digest() == other.Digest()  // byte-identical trees; fs.String() lists the tree
//	fs.UsedBytes()                    // bytes counted against the capacity
//
// # What is durable (strict, like Pebble's strict MemFS)
//
//   - File data and size: durable as of the last File.Sync or File.SyncData on any handle of
//     the file (the two are the same here: the size counts as data). Writes and Truncate after
//     that are unsynced. Create on an existing file truncates it: an unsynced change.
//   - Directory entries: a create, mkdir, remove or rename is durable in a directory only once
//     that directory is synced (OpenDir(dir), then Sync). A rename touches two directories when
//     it moves between them. The root directory itself always exists.
//   - A file whose entry is not durable vanishes on a crash even if its data was synced; a
//     directory's entries are lost with it if the directory's own entry is not durable.
//
// # Crash outcomes
//
// CrashClone(CrashConfig{Seed, Mode}) with Mode:
//   - CrashRandom: the namespace changes not yet durable survive as a prefix of their order
//     (length drawn from the seed). Then, walking the tree in sorted order, each file with
//     unsynced data gets one fate drawn from the seed: lost (back to the synced content and
//     size), kept (as written), or torn: the size is the old or the new one, and each 512-byte
//     sector (SectorBytes) of the unsynced region holds either its new or its old content;
//     bytes with no old or new content read as zeros.
//   - CrashLoseUnsynced: only synced data and durable entries survive (the worst case).
//   - CrashKeepUnsynced: everything survives.
//
// The same seed on the same state gives a byte-identical clone (Digest compares two FSs). The
// clone is fully synced, keeps the capacity limit, and holds no locks.
//
// # Other behaviour
//
//   - Deterministic: List is sorted, nothing depends on map order, ModTime is always zero.
//   - Safe for concurrent use (one mutex); the simulator uses it from one goroutine.
//   - Lock is exclusive per file within one FS; a second Lock returns diskio.ErrLocked.
//   - Capacity counts, per linked file, max(size, preallocated extent). A write or truncate or
//     preallocate that would exceed it fails whole with diskio.ErrNoSpace (nothing written).
//   - A file's size and preallocated extent are bounded by FileBytesMax (4 GiB); beyond it
//     operations fail with EFBIG rather than allocate.
//   - Errors are *fs.PathError wrapping syscall errnos (ENOENT, EISDIR, ENOTDIR, ENOTEMPTY,
//     ...), so errors.Is(err, fs.ErrNotExist) works as with osfs. Rename's path is
//     "old -> new".
//
// Known limits: namespace changes on a directory that is later removed stay in the pending
// list until every directory they touch is synced; fault models beyond crashes (bit flips,
// latent read errors, misdirected writes) are not built yet — they belong in node-level hooks
// on ReadAt/WriteAt and in CrashConfig.
package memfs
