package metadata

import (
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

// crashPointFS is a memfs that can take a crash image just before its n-th mutating call (file
// writes, truncations, syncs, creations, renames, removals): a crash in the middle of whatever
// the QuorumLog is doing.
type crashPointFS struct {
	*memfs.FS
	ops     int
	armAt   int // take the image before mutating call number armAt; 0 = disarmed
	crashes memfs.CrashConfig
	image   *memfs.FS
}

func (c *crashPointFS) mutate() {
	c.ops++
	if c.armAt > 0 && c.ops == c.armAt && c.image == nil {
		c.image = c.FS.CrashClone(c.crashes)
	}
}

func (c *crashPointFS) wrap(f diskio.File, err error) (diskio.File, error) {
	if err != nil {
		return nil, err
	}
	return &crashPointFile{File: f, fs: c}, nil
}

func (c *crashPointFS) Create(name string) (diskio.File, error) {
	c.mutate()
	return c.wrap(c.FS.Create(name))
}
func (c *crashPointFS) Open(name string) (diskio.File, error) { return c.wrap(c.FS.Open(name)) }
func (c *crashPointFS) OpenReadWrite(name string) (diskio.File, error) {
	c.mutate()
	return c.wrap(c.FS.OpenReadWrite(name))
}
func (c *crashPointFS) OpenDir(name string) (diskio.File, error) { return c.wrap(c.FS.OpenDir(name)) }
func (c *crashPointFS) Remove(name string) error {
	c.mutate()
	return c.FS.Remove(name)
}
func (c *crashPointFS) RemoveAll(name string) error {
	c.mutate()
	return c.FS.RemoveAll(name)
}
func (c *crashPointFS) Rename(oldname, newname string) error {
	c.mutate()
	return c.FS.Rename(oldname, newname)
}
func (c *crashPointFS) MkdirAll(dir string, perm iofs.FileMode) error {
	c.mutate()
	return c.FS.MkdirAll(dir, perm)
}
func (c *crashPointFS) Lock(name string) (io.Closer, error) { return c.FS.Lock(name) }

type crashPointFile struct {
	diskio.File
	fs *crashPointFS
}

func (f *crashPointFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mutate()
	return f.File.WriteAt(p, off)
}
func (f *crashPointFile) Sync() error     { f.fs.mutate(); return f.File.Sync() }
func (f *crashPointFile) SyncData() error { f.fs.mutate(); return f.File.SyncData() }
func (f *crashPointFile) Truncate(sizeBytes int64) error {
	f.fs.mutate()
	return f.File.Truncate(sizeBytes)
}
func (f *crashPointFile) Preallocate(offset, length int64) error {
	f.fs.mutate()
	return f.File.Preallocate(offset, length)
}

// qlModel is what a QuorumLog has promised: every entry ever below its start (the snapshots'
// content) and above it, and the durable offset it claimed.
type qlModel struct {
	all     []quorum.Entry
	durable record.Offset
}

// checkCrashImage reopens a crash image and checks it against a promise: the start's snapshot
// and the newest one hold the model's entries below them, and every entry the log claimed
// durable is there, unchanged. It returns what failed, or "".
func checkCrashImage(t testing.TB, image *memfs.FS, m qlModel, rng *rand.Rand) string {
	q, err := OpenQuorumLog(image, testLogDir, smallQuorumLogConfig(), 1000)
	if err != nil {
		return fmt.Sprintf("reopen: %v", err)
	}
	defer q.Close()
	visible := checkQLShape(t, q, rng)
	start := q.Start().EndOffset
	for _, at := range []record.Offset{start, q.newestSnapshotEnd()} {
		if at == 0 {
			continue
		}
		if at > record.Offset(len(m.all)) {
			return fmt.Sprintf("snapshot at %d past the model's %d entries", at, len(m.all))
		}
		id, _ := q.LatestSnapshot()
		if at == start {
			id = q.Start()
		}
		data, _, err := q.ReadSnapshot(id, 0, 1<<30)
		if err != nil {
			return fmt.Sprintf("read snapshot %+v: %v", id, err)
		}
		got, err := parseSnapshotBytes(data)
		if err != nil || !sameEntries(got, m.all[:at]) {
			first := -1
			for i := range min(len(got), int(at)) {
				if !sameEntries(got[i:i+1], m.all[i:i+1]) {
					first = i
					break
				}
			}
			return fmt.Sprintf("snapshot %+v (start %+v) does not hold the model's first %d entries (%d entries, first differing %d: %v)", id, q.Start(), at, len(got), first, err)
		}
	}
	end := q.EndOffset()
	if m.durable > start && end < m.durable {
		return fmt.Sprintf("log [%d, %d) lost entries below the durable offset %d", start, end, m.durable)
	}
	for o := start; o < min(m.durable, end); o++ {
		if !sameBatches(visible[o-start:o-start+1], m.all[o:o+1]) {
			return fmt.Sprintf("entry %d changed below the durable offset %d (batch boundary or timestamp included)", o, m.durable)
		}
	}
	if msg := checkWholeBatches(visible, start); msg != "" {
		return msg
	}
	return ""
}

// batchData is the data of entry k of the n entries of appended batch id, then filler: a
// recovered log shows which batch each entry came from.
func batchData(id, k, n int, filler []byte) []byte {
	return append(fmt.Appendf(nil, "b%d.%d/%d|", id, k, n), filler...)
}

// checkWholeBatches checks that every data batch of a log (from offset start) is one appended
// batch, whole: its entries are entries 0..n-1 of one batch id (batchData), in order. A crash
// that kept part of a batch, or recovery that glued parts together, shows here.
func checkWholeBatches(visible []quorum.Entry, start record.Offset) string {
	for i := 0; i < len(visible); {
		end := i + 1
		for end < len(visible) && visible[end-1].MoreInBatch {
			end++
		}
		if visible[end-1].MoreInBatch {
			return fmt.Sprintf("the log ends inside a batch at %d", start+record.Offset(end))
		}
		var id0, n0 int
		for k := i; k < end && !visible[i].Control; k++ { // a LeaderChange batch is the quorum's
			var id, j, n int
			if _, err := fmt.Sscanf(string(visible[k].Data), "b%d.%d/%d|", &id, &j, &n); err != nil {
				return fmt.Sprintf("entry %d is no appended batch's: %q", start+record.Offset(k), visible[k].Data)
			}
			if k == i {
				id0, n0 = id, n
			}
			if id != id0 || j != k-i || n != n0 || n != end-i {
				return fmt.Sprintf("the batch [%d, %d) is not one whole appended batch: entry %d is %d.%d/%d", start+record.Offset(i), start+record.Offset(end), start+record.Offset(k), id, j, n)
			}
		}
		i = end
	}
	return ""
}

// boundaryIn is a random batch boundary of entries in [lo, hi] (both boundaries).
func boundaryIn(rng *rand.Rand, entries []quorum.Entry, lo, hi record.Offset) record.Offset {
	var bs []record.Offset
	for o := lo; o <= hi; o++ {
		if o == 0 || !entries[o-1].MoreInBatch {
			bs = append(bs, o)
		}
	}
	return bs[rng.IntN(len(bs))]
}

func (q *QuorumLog) newestSnapshotEnd() record.Offset {
	id, _ := q.LatestSnapshot()
	return id.EndOffset
}

// modelOf is the model of a freshly opened log: its start snapshot's entries, then its own.
func modelOf(t testing.TB, q *QuorumLog, rng *rand.Rand) qlModel {
	t.Helper()
	var m qlModel
	if start := q.Start(); start.EndOffset > 0 {
		data, _, err := q.ReadSnapshot(start, 0, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if m.all, err = parseSnapshotBytes(data); err != nil {
			t.Fatal(err)
		}
	}
	m.all = append(m.all, readAllQL(t, q, rng)...)
	m.durable = q.DurableOffset()
	return m
}

// TestQuorumLogCrashes drives a QuorumLog with random appends, flushes (overlapping later
// calls), truncations, application snapshots with prefix deletion, and snapshot installs with
// a divergent tail, and crashes it at random mutating calls inside them (every crash mode of
// memfs). Each crash image, reopened, must keep what the log promised before the interrupted
// call or after it. QUORUMLOG_SEEDS sets the number of seeds.
func TestQuorumLogCrashes(t *testing.T) {
	for seed := range uint64(seedsFromEnv(t, "QUORUMLOG_SEEDS", 40)) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runQuorumLogCrashes(t, seed) })
	}
}

func runQuorumLogCrashes(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 77))
	cfs := &crashPointFS{FS: memfs.New()}
	q, err := OpenQuorumLog(cfs, testLogDir, smallQuorumLogConfig(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	m := modelOf(t, q, rng)
	var inflight *log.SyncRequest
	var ops []log.FileOp
	committed := record.Offset(0) // stands in for the high watermark: never truncated below
	nowMs := int64(1000)
	crashes, checked, batches := 0, 0, 0
	// Raft's log matching: entries at one offset with one epoch are the same entry. After a
	// truncation or a divergent snapshot, new entries take an epoch never used before.
	maxEpoch, diverged := record.Epoch(0), false
	for step := range 300 {
		nowMs += rng.Int64N(50)
		q.SetNowMs(nowMs)
		pre := qlModel{all: slices.Clone(m.all), durable: q.DurableOffset()}
		cfs.image = nil
		cfs.armAt = 0
		if rng.IntN(4) == 0 {
			cfs.armAt = cfs.ops + 1 + rng.IntN(12)
			cfs.crashes = memfs.CrashConfig{Seed: rng.Uint64(), Mode: memfs.CrashMode(rng.IntN(3))}
		}
		start, end := q.Start().EndOffset, q.EndOffset()
		what := ""
		switch k := rng.IntN(100); {
		case k < 35:
			// One or two batches of 1..4 entries (about as many entries per append as when
			// each entry was its own batch), one epoch each, control ones alone, stamped by
			// the log (a leader's) or carrying their own timestamp (a follower's).
			epoch := q.LastEpoch()
			if diverged {
				epoch, diverged = maxEpoch+1, false
			}
			var entries []quorum.Entry
			for range 1 + rng.IntN(2) {
				if rng.IntN(8) == 0 {
					epoch = max(epoch, maxEpoch) + record.Epoch(1+rng.IntN(2))
				}
				maxEpoch = max(maxEpoch, epoch)
				control := rng.IntN(10) == 0
				size := 1 + rng.IntN(4)
				if control {
					size = 1
				}
				ts := int64(record.NoTimestamp)
				if rng.IntN(2) == 0 {
					ts = rng.Int64N(1 << 41)
				}
				batches++
				for k := range size {
					filler := make([]byte, rng.IntN(120))
					for i := range filler {
						filler[i] = byte(rng.Uint32())
					}
					entries = append(entries, quorum.Entry{Epoch: epoch, Control: control, Data: batchData(batches, k, size, filler), MoreInBatch: k < size-1, TimestampMs: ts})
				}
			}
			what = fmt.Sprintf("append %d at %d", len(entries), end)
			if err := q.Append(entries); err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.TimestampMs == record.NoTimestamp {
					e.TimestampMs = nowMs // what the log stamps
				}
				m.all = append(m.all[:end], e)
				end++
			}
		case k < 50:
			if inflight == nil {
				if req, ok := q.PendingSync(); ok {
					inflight = &req
				}
				what = "start flush"
			} else {
				what = "complete flush"
				q.Synced(*inflight, inflight.Run(cfs))
				inflight = nil
			}
		case k < 60:
			low := max(start, committed)
			if low > end {
				continue
			}
			to := boundaryIn(rng, m.all, low, end)
			what = fmt.Sprintf("truncate to %d", to)
			if err := q.TruncateTo(to); err != nil {
				t.Fatal(err)
			}
			m.all = m.all[:to]
			diverged = true
		case k < 72:
			if end <= start || end == 0 {
				continue
			}
			at := boundaryIn(rng, m.all, start+1, end)
			if at <= q.newestSnapshotEnd() || at <= start {
				continue
			}
			what = fmt.Sprintf("snapshot at %d", at)
			committed = max(committed, at)
			id := takeSnapshot(t, cfs, q, m.all, at)
			if rng.IntN(2) == 0 {
				what += " and delete below"
				more, err := q.DeleteBefore(id, nowMs)
				if err != nil {
					t.Fatal(err)
				}
				ops = append(ops, more...)
			}
		case k < 80:
			what = "run file ops"
			if err := log.RunFileOps(cfs, ops); err != nil {
				t.Fatal(err)
			}
			ops = nil
		case k < 90:
			// A leader's snapshot: entries agree up to h (≥ what is committed here), then diverge.
			low := max(start, committed, q.newestSnapshotEnd())
			if low > end {
				continue
			}
			h := boundaryIn(rng, m.all, low, end)
			x := max(h, 1) + record.Offset(rng.Int64N(12))
			snap := slices.Clone(m.all[:h])
			maxEpoch++
			epoch := maxEpoch
			for o := h; o < x; o++ {
				snap = append(snap, quorum.Entry{Epoch: epoch, Data: fmt.Appendf(nil, "leader-%d-%d", seed, o)})
			}
			id := quorum.EpochEndOffset{Epoch: snap[x-1].Epoch, EndOffset: x}
			data := snapshotBytes(snap)
			what = fmt.Sprintf("install %+v diverging at %d", id, h)
			for pos := 0; pos < len(data); {
				n := min(len(data)-pos, 1+rng.IntN(64))
				if err := q.WriteSnapshotChunk(id, int64(pos), data[pos:pos+n]); err != nil {
					t.Fatal(err)
				}
				pos += n
			}
			if err := q.InstallSnapshot(id, int64(len(data))); err != nil {
				t.Fatal(err)
			}
			m.all = snap
			committed = x
			inflight = nil // the sync in flight may still complete, harmlessly
		default:
			what = "crash"
			cfs.image = cfs.FS.CrashClone(memfs.CrashConfig{Seed: rng.Uint64(), Mode: memfs.CrashMode(rng.IntN(3))})
		}
		if inflight != nil && what == "install" {
			inflight = nil
		}
		post := qlModel{all: slices.Clone(m.all), durable: q.DurableOffset()}
		if post.durable > q.EndOffset() {
			t.Fatalf("step %d (%s): durable %d past the end %d", step, what, post.durable, q.EndOffset())
		}
		image := cfs.image
		cfs.image, cfs.armAt = nil, 0
		if image == nil {
			continue
		}
		checked++
		failPre := checkCrashImage(t, image.CrashClone(memfs.CrashConfig{Mode: memfs.CrashKeepUnsynced}), pre, rng)
		failPost := checkCrashImage(t, image.CrashClone(memfs.CrashConfig{Mode: memfs.CrashKeepUnsynced}), post, rng)
		if failPre != "" && failPost != "" {
			t.Fatalf("step %d: crash during %q: against the state before: %s; after: %s", step, what, failPre, failPost)
		}
		if rng.IntN(2) == 0 {
			continue // the original lives on, as if the crash never happened
		}
		crashes++
		if inflight != nil {
			q.Synced(*inflight, io.ErrUnexpectedEOF) // the old process is gone
			inflight = nil
		}
		q.Close()
		cfs = &crashPointFS{FS: image, ops: cfs.ops}
		if q, err = OpenQuorumLog(cfs, testLogDir, smallQuorumLogConfig(), nowMs); err != nil {
			t.Fatalf("step %d: reopen after a crash during %q: %v", step, what, err)
		}
		m = modelOf(t, q, rng)
		diverged = true // the crash may have dropped a tail written in the current epoch
		ops = nil
		committed = min(committed, q.newestSnapshotEnd(), q.EndOffset())
		committed = max(committed, q.Start().EndOffset)
	}
	if checked == 0 {
		t.Fatalf("no crash image was checked")
	}
	_ = crashes
}
