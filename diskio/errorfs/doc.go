// Package errorfs wraps a diskio.FS and fails the operations an Injector picks, for error
// sweeps and fault injection (after Pebble's vfs/errorfs).
//
//	inj := errorfs.OnIndex(k)                  // fail the k-th operation (0-based)
//	fs := errorfs.Wrap(memfs.New(), inj)       // fs is a diskio.FS
//	...
//	inj.Count()                                // operations seen: the sweep stops when <= k
//
// # Operations
//
// Every method of diskio.FS and diskio.File is one operation (Op) with a kind (OpCreate,
// OpOpen, OpOpenReadWrite, OpOpenDir, OpRemove, OpRemoveAll, OpRename, OpMkdirAll, OpList,
// OpStat, OpLock, OpUnlock, OpRead, OpWrite, OpSync, OpSyncData, OpTruncate, OpPreallocate,
// OpFileStat, OpClose), the path (a File's is the name it was opened under; Rename also has
// NewPath), and for reads, writes, truncates and preallocations the offset (new size) and
// length. The injector is consulted before the operation runs.
//
// # What a failure does
//
//   - Most operations fail before reaching the inner FS: nothing happens. A failed Sync leaves
//     the data unsynced (on memfs a crash may then lose it), which is what "the page cache is
//     not trusted after a failed fsync" must assume anyway.
//   - Close (of a file or a lock) releases the inner file and then reports the failure, as
//     close(2) does.
//   - Write writes nothing, unless Wrap is given WithPartialWrites(seed): then a seeded-random
//     prefix (possibly empty, never whole) is written and WriteAt returns its length with the
//     error.
//
// The error is an *fs.PathError (Op is the kind's name, Path the path, "old -> new" for
// Rename) wrapping the injector's error; the built-in injectors' errors wrap
// diskio.ErrInjected, so errors.Is(err, diskio.ErrInjected) tells injected faults apart.
//
// # Injectors
//
//   - OnIndex(k) *IndexInjector: fails the k-th operation it sees; Count() reports how many it
//     has seen.
//   - Always(), Never(), OnKinds(kinds...), OnPathPrefix(prefix).
//   - When(pred, inj): inj sees only operations pred selects (so indexes count only those).
//     Predicates: Kinds, Mutating, PathPrefix, PathMatch, And.
//   - Random(seed, rateMillionths) and RandomFrom(rng, rateMillionths): fail each operation
//     seen with probability rate/1e6, deterministically from the seed.
//   - Or(injs...): the first error of several; every injector is consulted every time.
//   - NewToggle(inj): switched on and off by the test; starts off.
//   - InjectorFunc: any func(Op) error.
//
// # Silent corruption
//
// WithCorruption(c) adds a Corruptor: its injectors BitFlip, Misdirect and Latent, consulted
// for every write like failure injectors (predicates, seeded rates, toggles), pick writes to
// damage silently — WriteAt reports success:
//   - bit flip: the write is stored with one bit flipped;
//   - misdirected write: the data lands 1-8 sectors away in the same file; the intended
//     range keeps its old bytes;
//   - latent sector error: a sector of the write goes bad afterwards; every read overlapping a
//     bad sector reads what precedes it and fails with EIO (wrapping diskio.ErrInjected and
//     syscall.EIO) until the sector is written whole again (a drive remaps it) or ClearBad.
//     (EIO rather than flipped bits on read: that is what a drive reports when its ECC fails;
//     silent flips are the bit-flip kind.) MarkBad makes a range bad directly.
//
// Every damage is reported (Damage: kind, path, byte range, and a misdirected write's landing
// offset) to the Corruptor's report function, so a simulator knows which data a fault
// destroyed; where and how far are drawn from the Corruptor's seeded PRNG. Bad sectors live in
// the Corruptor, so one Corruptor given to each incarnation of a machine keeps them across
// crashes. Inspect(fn) runs fn reading the data as it was written (damage undone, bad sectors
// and injected read errors out of the way), for invariant checks.
//
// All injectors are safe for concurrent use; the order in which concurrent operations reach
// them is, of course, not deterministic.
package errorfs
