package metadata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	iofs "io/fs"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

const testLogDir = "/meta"

func smallQuorumLogConfig() QuorumLogConfig {
	cfg := DefaultQuorumLogConfig()
	cfg.Log.SegmentBytes = 1 << 10 // a roll every dozen entries or so
	cfg.ReadBytesMax = 512
	return cfg
}

func openQL(t testing.TB, fsys diskio.FS) *QuorumLog {
	t.Helper()
	q, err := OpenQuorumLog(fsys, testLogDir, smallQuorumLogConfig(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// flushQL runs the log's pending sync as a driver does.
func flushQL(t testing.TB, fsys diskio.FS, q *QuorumLog) {
	t.Helper()
	if req, ok := q.PendingSync(); ok {
		q.Synced(req, req.Run(fsys))
	}
	if err := q.Poisoned(); err != nil {
		t.Fatal(err)
	}
}

func ent(epoch record.Epoch, data string) quorum.Entry {
	return quorum.Entry{Epoch: epoch, Data: []byte(data)}
}

// readAllQL reads [Start, End) in reads of random sizes.
func readAllQL(t testing.TB, q *QuorumLog, rng *rand.Rand) []quorum.Entry {
	t.Helper()
	var out []quorum.Entry
	for o := q.Start().EndOffset; o < q.EndOffset(); {
		got, err := q.Read(o, 1+rng.IntN(20))
		if err != nil {
			t.Fatalf("read at %d: %v", o, err)
		}
		if len(got) == 0 {
			t.Fatalf("read at %d of [%d, %d) returned nothing", o, q.Start().EndOffset, q.EndOffset())
		}
		out = append(out, got...)
		o += record.Offset(len(got))
	}
	return out
}

// modelEndOffsetForEpoch is the quorum's Log contract over the visible entries and the start.
func modelEndOffsetForEpoch(start quorum.EpochEndOffset, visible []quorum.Entry, epoch record.Epoch) (record.Epoch, record.Offset) {
	type es struct {
		epoch record.Epoch
		start record.Offset
	}
	var list []es
	if start.EndOffset > 0 {
		list = append(list, es{start.Epoch, start.EndOffset})
	}
	for i, e := range visible {
		if len(list) == 0 || list[len(list)-1].epoch < e.Epoch {
			list = append(list, es{e.Epoch, start.EndOffset + record.Offset(i)})
		}
	}
	end := start.EndOffset + record.Offset(len(visible))
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].epoch <= epoch {
			if i == len(list)-1 {
				return list[i].epoch, end
			}
			return list[i].epoch, list[i+1].start
		}
	}
	return quorum.UndefinedEpoch, quorum.UndefinedOffset
}

// checkQLShape checks the log's answers against what it holds: visible entries, epochs never
// going down, LastEpoch, EndOffsetForEpoch for every epoch around, DurableOffset ≤ EndOffset.
func checkQLShape(t testing.TB, q *QuorumLog, rng *rand.Rand) []quorum.Entry {
	t.Helper()
	visible := readAllQL(t, q, rng)
	start := q.Start()
	last := start.Epoch
	for i, e := range visible {
		if e.Epoch < last {
			t.Fatalf("entry %d has epoch %d after epoch %d", start.EndOffset+record.Offset(i), e.Epoch, last)
		}
		last = e.Epoch
	}
	if q.LastEpoch() != last {
		t.Fatalf("LastEpoch %d, entries say %d", q.LastEpoch(), last)
	}
	for epoch := record.Epoch(0); epoch <= last+1; epoch++ {
		we, wo := modelEndOffsetForEpoch(start, visible, epoch)
		ge, gov := q.EndOffsetForEpoch(epoch)
		if we != ge || wo != gov {
			t.Fatalf("EndOffsetForEpoch(%d) = (%d, %d), want (%d, %d) (start %+v)", epoch, ge, gov, we, wo, start)
		}
	}
	if d := q.DurableOffset(); d > q.EndOffset() || d < start.EndOffset {
		t.Fatalf("DurableOffset %d outside [%d, %d]", d, start.EndOffset, q.EndOffset())
	}
	return visible
}

func sameEntries(a, b []quorum.Entry) bool {
	return slices.EqualFunc(a, b, func(x, y quorum.Entry) bool {
		return x.Epoch == y.Epoch && x.Control == y.Control && bytes.Equal(x.Data, y.Data)
	})
}

// sameBatches is sameEntries with the batch boundaries and timestamps too.
func sameBatches(a, b []quorum.Entry) bool {
	return slices.EqualFunc(a, b, func(x, y quorum.Entry) bool {
		return x.Epoch == y.Epoch && x.Control == y.Control && bytes.Equal(x.Data, y.Data) &&
			x.MoreInBatch == y.MoreInBatch && x.TimestampMs == y.TimestampMs
	})
}

// batchOf makes data one batch of epoch; ts is its timestamp (record.NoTimestamp: the log's).
func batchOf(epoch record.Epoch, ts int64, data ...string) []quorum.Entry {
	out := make([]quorum.Entry, len(data))
	for i, d := range data {
		out[i] = quorum.Entry{Epoch: epoch, Data: []byte(d), MoreInBatch: i < len(data)-1, TimestampMs: ts}
	}
	return out
}

// rawBatches reads the record batches of the log in [from, to) (batch boundaries) off the
// disk, keyed by base offset: the bytes core/log stores.
func rawBatches(t testing.TB, q *QuorumLog, from, to record.Offset) map[record.Offset][]byte {
	t.Helper()
	out := map[record.Offset][]byte{}
	for next := from; next < to; {
		plan, err := q.log.Read(next, 1<<20, to, true)
		if err != nil {
			t.Fatalf("plan a read at %d: %v", next, err)
		}
		if plan.FirstOffset != next || len(plan.Ranges) == 0 {
			t.Fatalf("read at %d starts at %d (%d ranges): not a batch boundary", next, plan.FirstOffset, len(plan.Ranges))
		}
		data, err := log.AppendPlan(q.fsys, nil, plan)
		if err != nil {
			t.Fatalf("read at %d: %v", next, err)
		}
		it := record.NewBatchIterator(data)
		for it.Next() {
			out[it.Header().BaseOffset] = slices.Clone(it.Batch())
		}
		if it.Err() != nil {
			t.Fatalf("batches at %d: %v", next, it.Err())
		}
		next = plan.NextOffset
	}
	return out
}

// TestQuorumLogBatches: each batch of entries is one record batch on disk, stamped with the
// log's clock unless it carries the leader's timestamp; Read returns whole batches; a
// follower storing the leader's batches writes the leader's bytes; truncation and snapshots
// inside a batch are refused.
func TestQuorumLogBatches(t *testing.T) {
	fsys := memfs.New()
	q := openQL(t, fsys)
	q.SetNowMs(5_000)
	var all []quorum.Entry
	all = append(all, batchOf(1, record.NoTimestamp, "a", "b", "c")...)                                           // [0, 3), the leader's
	all = append(all, quorum.Entry{Epoch: 1, Control: true, Data: []byte("lc"), TimestampMs: record.NoTimestamp}) // [3, 4)
	all = append(all, batchOf(2, 4_000, "d", "e")...)                                                             // [4, 6), fetched
	if err := q.Append(all); err != nil {
		t.Fatal(err)
	}
	raw := rawBatches(t, q, 0, q.EndOffset())
	for base, want := range map[record.Offset]struct {
		count int32
		epoch record.Epoch
		tsMs  int64
	}{0: {3, 1, 5_000}, 3: {1, 1, 5_000}, 4: {2, 2, 4_000}} { //purity:allow-map-range each checked alone
		h, err := record.ParseHeader(raw[base])
		if err != nil || h.RecordCount != want.count || h.PartitionLeaderEpoch != want.epoch || h.FirstTimestamp != want.tsMs || h.MaxTimestamp != want.tsMs {
			t.Fatalf("record batch at %d: %+v (%v), want %+v", base, h, err, want)
		}
	}
	if len(raw) != 3 {
		t.Fatalf("%d record batches, want 3", len(raw))
	}
	// Reads return whole batches: within the bound, but at least the first whole.
	for _, c := range []struct {
		from, max, want int
	}{{0, 1, 3}, {0, 3, 3}, {0, 4, 4}, {0, 5, 4}, {0, 6, 6}, {3, 1, 1}, {3, 2, 1}, {3, 3, 3}, {4, 1, 2}} {
		got, err := q.Read(record.Offset(c.from), c.max)
		if err != nil || len(got) != c.want || got[len(got)-1].MoreInBatch {
			t.Fatalf("Read(%d, %d): %d entries (%v), want %d whole", c.from, c.max, len(got), err, c.want)
		}
	}
	stored, err := q.Read(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(all)
	for i := range 4 {
		want[i].TimestampMs = 5_000
	}
	if !sameBatches(stored, want) {
		t.Fatalf("read back %+v, want %+v", stored, want)
	}
	// A follower, at another wall clock, stores what the leader's log reads: the same bytes.
	followerFS := memfs.New()
	f := openQL(t, followerFS)
	f.SetNowMs(9_999)
	if err := f.Append(stored[:4]); err != nil {
		t.Fatal(err)
	}
	if err := f.Append(stored[4:]); err != nil {
		t.Fatal(err)
	}
	if got := rawBatches(t, f, 0, f.EndOffset()); !maps.EqualFunc(got, raw, bytes.Equal) {
		t.Fatal("the follower's record batches differ from the leader's")
	}
	// Entries that are not whole batches are refused, and nothing is written.
	if err := f.Append(batchOf(2, 1, "x", "y")[:1]); !errors.Is(err, quorum.ErrInvalidBatch) || f.EndOffset() != 6 {
		t.Fatalf("appending part of a batch: %v, end %d", err, f.EndOffset())
	}
	// A snapshot inside a batch is refused; at a boundary it is not.
	if err := q.RecordSnapshot(SnapshotID{EndOffset: 2, Epoch: 1}); err == nil || !strings.Contains(err.Error(), "inside the batch") {
		t.Fatalf("snapshot inside a batch: %v", err)
	}
	takeSnapshot(t, fsys, q, stored, 3)
	// Truncating inside a batch breaks the quorum's invariant: a panic naming it.
	func() {
		defer func() {
			if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "truncation at a batch boundary") {
				t.Fatalf("truncating inside a batch: %v", p)
			}
		}()
		_ = f.TruncateTo(5)
	}()
}

func TestQuorumLogAppendReadTruncate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fsys := memfs.New()
	q := openQL(t, fsys)
	if q.EndOffset() != 0 || q.LastEpoch() != 0 || q.Start() != (quorum.EpochEndOffset{}) {
		t.Fatalf("new log: end %d last epoch %d start %+v", q.EndOffset(), q.LastEpoch(), q.Start())
	}
	if e, o := q.EndOffsetForEpoch(3); e != quorum.UndefinedEpoch || o != quorum.UndefinedOffset {
		t.Fatalf("empty log EndOffsetForEpoch = (%d, %d)", e, o)
	}
	var want []quorum.Entry
	for i, epoch := range []record.Epoch{1, 1, 2, 2, 2, 5, 5, 7} {
		e := ent(epoch, fmt.Sprintf("entry-%d-%s", i, strings.Repeat("x", rng.IntN(200))))
		if i == 2 {
			e.Control = true
		}
		want = append(want, e)
	}
	if err := q.Append(want); err != nil {
		t.Fatal(err)
	}
	got := checkQLShape(t, q, rng)
	if !sameEntries(got, want) {
		t.Fatalf("read back %v, want %v", got, want)
	}
	if q.DurableOffset() != 0 {
		t.Fatalf("durable %d before any flush", q.DurableOffset())
	}
	flushQL(t, fsys, q)
	if q.DurableOffset() != 8 {
		t.Fatalf("durable %d after a flush, want 8", q.DurableOffset())
	}
	// Truncation is exact at every offset, including inside what one Append wrote.
	if err := q.TruncateTo(4); err != nil {
		t.Fatal(err)
	}
	if q.EndOffset() != 4 || q.DurableOffset() != 4 || q.LastEpoch() != 2 {
		t.Fatalf("after truncating to 4: end %d durable %d last epoch %d", q.EndOffset(), q.DurableOffset(), q.LastEpoch())
	}
	want = want[:4]
	if got := checkQLShape(t, q, rng); !sameEntries(got, want) {
		t.Fatalf("after truncation read %v", got)
	}
	if err := q.TruncateTo(5); err == nil {
		t.Fatal("truncating above the end succeeded")
	}
	if _, err := q.Read(4, 1); err == nil {
		t.Fatal("reading at the end succeeded")
	}
	if err := q.Append([]quorum.Entry{ent(1, "older epoch")}); err == nil {
		t.Fatal("appended an entry of an epoch below the last")
	}
	more := []quorum.Entry{ent(6, "a"), ent(6, "b")}
	if err := q.Append(more); err != nil {
		t.Fatal(err)
	}
	want = append(want, more...)
	flushQL(t, fsys, q)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = openQL(t, fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}))
	if got := checkQLShape(t, q, rng); !sameEntries(got, want) {
		t.Fatalf("after reopening read %v, want %v", got, want)
	}
}

// snapshotBytes is an application's snapshot of entries (opaque to QuorumLog), batch
// boundaries and timestamps kept.
func snapshotBytes(entries []quorum.Entry) []byte {
	var b []byte
	for _, e := range entries {
		b = binary.BigEndian.AppendUint32(b, uint32(e.Epoch))
		var flags byte
		if e.Control {
			flags |= 1
		}
		if e.MoreInBatch {
			flags |= 2
		}
		b = append(b, flags)
		b = binary.BigEndian.AppendUint64(b, uint64(e.TimestampMs))
		b = binary.BigEndian.AppendUint32(b, uint32(len(e.Data)))
		b = append(b, e.Data...)
	}
	return b
}

func parseSnapshotBytes(b []byte) ([]quorum.Entry, error) {
	const header = 17
	var out []quorum.Entry
	for len(b) > 0 {
		if len(b) < header {
			return nil, errors.New("torn")
		}
		n := int(binary.BigEndian.Uint32(b[13:]))
		if len(b) < header+n {
			return nil, errors.New("torn")
		}
		out = append(out, quorum.Entry{
			Epoch: record.Epoch(binary.BigEndian.Uint32(b)), Control: b[4]&1 != 0, MoreInBatch: b[4]&2 != 0,
			TimestampMs: int64(binary.BigEndian.Uint64(b[5:])), Data: slices.Clone(b[header : header+n]),
		})
		b = b[header+n:]
	}
	return out, nil
}

// takeSnapshot writes the application's snapshot of entries[:at] durably and records it.
func takeSnapshot(t testing.TB, fsys diskio.FS, q *QuorumLog, all []quorum.Entry, at record.Offset) SnapshotID {
	t.Helper()
	id := SnapshotID{EndOffset: at, Epoch: all[at-1].Epoch}
	if err := diskio.WriteFileAtomic(fsys, q.Dir(), SnapshotFileName(id), snapshotBytes(all[:at])); err != nil {
		t.Fatal(err)
	}
	if err := q.RecordSnapshot(id); err != nil {
		t.Fatal(err)
	}
	return id
}

// transferSnapshot copies snapshot id from src to dst in chunks, as FetchSnapshot does.
func transferSnapshot(t testing.TB, src, dst *QuorumLog, id quorum.EpochEndOffset, chunkBytes int32) {
	t.Helper()
	var position int64
	for {
		data, size, err := src.ReadSnapshot(id, position, chunkBytes)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 0 {
			if err := dst.WriteSnapshotChunk(id, position, data); err != nil {
				t.Fatal(err)
			}
			position += int64(len(data))
		}
		if position == size {
			if err := dst.InstallSnapshot(id, size); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
}

func TestQuorumLogSnapshots(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	leaderFS := memfs.New()
	leader := openQL(t, leaderFS)
	var all []quorum.Entry
	for i := range 40 {
		all = append(all, ent(record.Epoch(1+i/10), fmt.Sprintf("v%d", i)))
	}
	if err := leader.Append(all); err != nil {
		t.Fatal(err)
	}
	flushQL(t, leaderFS, leader)
	if _, ok := leader.LatestSnapshot(); ok {
		t.Fatal("a snapshot before any was taken")
	}
	if err := leader.RecordSnapshot(SnapshotID{EndOffset: 15, Epoch: 1}); err == nil {
		t.Fatal("recorded a snapshot whose epoch is not the log's")
	}
	s15 := takeSnapshot(t, leaderFS, leader, all, 15)
	s25 := takeSnapshot(t, leaderFS, leader, all, 25)
	ops, err := leader.DeleteBefore(s15, 2000)
	if err != nil {
		t.Fatal(err)
	}
	if err := log.RunFileOps(leaderFS, ops); err != nil {
		t.Fatal(err)
	}
	if leader.Start() != (quorum.EpochEndOffset{Epoch: 2, EndOffset: 15}) {
		t.Fatalf("start %+v after deleting below %s", leader.Start(), s15)
	}
	if _, err := leader.Read(14, 1); err == nil {
		t.Fatal("read below the start succeeded")
	}
	if got := checkQLShape(t, leader, rng); !sameEntries(got, all[15:]) {
		t.Fatalf("after DeleteBefore read %v", got)
	}
	if id, ok := leader.LatestSnapshot(); !ok || id != (quorum.EpochEndOffset{Epoch: 3, EndOffset: 25}) {
		t.Fatalf("latest snapshot %+v %t", id, ok)
	}
	ops, err = leader.DeleteBefore(s25, 2000)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) == 0 || ops[0].Path != diskio.Join(leader.Dir(), SnapshotFileName(s15)) {
		t.Fatalf("DeleteBefore %s ops %v, want the removal of %s first", s25, ops, s15)
	}
	if err := log.RunFileOps(leaderFS, ops); err != nil {
		t.Fatal(err)
	}
	if err := diskio.SyncDir(leaderFS, leader.Dir()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := leader.ReadSnapshot(quorum.EpochEndOffset{Epoch: 2, EndOffset: 15}, 0, 10); !errors.Is(err, quorum.ErrNoSnapshot) {
		t.Fatalf("reading a forgotten snapshot: %v", err)
	}
	// The file is gone before the log forgets it (removed by hand): still ErrNoSnapshot.
	s30 := takeSnapshot(t, leaderFS, leader, all, 30)
	if err := leaderFS.Remove(diskio.Join(leader.Dir(), SnapshotFileName(s30))); err != nil {
		t.Fatal(err)
	}
	if _, _, err := leader.ReadSnapshot(quorum.EpochEndOffset{Epoch: 3, EndOffset: 30}, 0, 10); !errors.Is(err, quorum.ErrNoSnapshot) {
		t.Fatalf("reading a removed snapshot file: %v", err)
	}
	// Reopening: the start is the oldest snapshot at or above where the log begins; s30's file is
	// gone, so s25 is the newest.
	if err := leader.Close(); err != nil {
		t.Fatal(err)
	}
	leader = openQL(t, leaderFS.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}))
	if leader.Start() != (quorum.EpochEndOffset{Epoch: 3, EndOffset: 25}) || leader.EndOffset() != 40 {
		t.Fatalf("reopened: start %+v end %d", leader.Start(), leader.EndOffset())
	}
	checkQLShape(t, leader, rng)

	// A follower with a divergent tail installs the leader's snapshot.
	followerFS := memfs.New()
	follower := openQL(t, followerFS)
	divergent := append(slices.Clone(all[:12]), ent(2, "other"), ent(2, "other2"))
	if err := follower.Append(divergent); err != nil {
		t.Fatal(err)
	}
	flushQL(t, followerFS, follower)
	// A stale pending snapshot of another id is started over.
	if err := follower.WriteSnapshotChunk(quorum.EpochEndOffset{Epoch: 1, EndOffset: 5}, 0, []byte("junk")); err != nil {
		t.Fatal(err)
	}
	id, _ := leader.LatestSnapshot()
	if err := follower.WriteSnapshotChunk(id, 3, []byte("x")); err == nil {
		t.Fatal("a chunk past the start of a new pending snapshot was accepted")
	}
	transferSnapshot(t, leader, follower, id, 7)
	// The hand-made removal of s30 was never synced: the crash brought it back.
	if id != (quorum.EpochEndOffset{Epoch: 3, EndOffset: 30}) {
		t.Fatalf("leader's latest snapshot after the crash %+v", id)
	}
	if follower.Start() != id || follower.EndOffset() != 30 || follower.DurableOffset() != 30 || follower.LastEpoch() != 3 {
		t.Fatalf("after install: start %+v end %d durable %d last epoch %d", follower.Start(), follower.EndOffset(), follower.DurableOffset(), follower.LastEpoch())
	}
	if got, ok := follower.LatestSnapshot(); !ok || got != id {
		t.Fatalf("follower's latest snapshot %+v", got)
	}
	names, _ := followerFS.List(follower.Dir())
	for _, n := range names {
		if strings.HasSuffix(n, snapshotPartSuffix) {
			t.Fatalf("left %s after installing", n)
		}
	}
	if err := follower.Append(all[30:]); err != nil {
		t.Fatal(err)
	}
	if got := checkQLShape(t, follower, rng); !sameEntries(got, all[30:]) {
		t.Fatalf("follower after install and append read %v", got)
	}
	// Installed means durable: a crash that loses everything unsynced keeps the snapshot.
	crashed := openQL(t, followerFS.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}))
	if crashed.Start() != id || crashed.EndOffset() != 30 {
		t.Fatalf("after a crash: start %+v end %d", crashed.Start(), crashed.EndOffset())
	}
	data, _, err := crashed.ReadSnapshot(id, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := parseSnapshotBytes(data); err != nil || !sameEntries(got, all[:30]) {
		t.Fatalf("installed snapshot holds %v (%v)", got, err)
	}
}

func TestQuorumLogOpenRemovesPartialSnapshot(t *testing.T) {
	fsys := memfs.New()
	q := openQL(t, fsys)
	if err := q.Append([]quorum.Entry{ent(1, "a")}); err != nil {
		t.Fatal(err)
	}
	id := quorum.EpochEndOffset{Epoch: 1, EndOffset: 9}
	if err := q.WriteSnapshotChunk(id, 0, []byte("partial")); err != nil {
		t.Fatal(err)
	}
	flushQL(t, fsys, q)
	if err := diskio.SyncDir(fsys, q.Dir()); err != nil {
		t.Fatal(err)
	}
	crashed := fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashKeepUnsynced})
	part := diskio.Join(q.Dir(), strings.TrimSuffix(SnapshotFileName(SnapshotID{EndOffset: 9, Epoch: 1}), snapshotSuffix)+snapshotPartSuffix)
	if _, err := crashed.Stat(part); err != nil {
		t.Fatalf("the partial snapshot is not there to be cleaned: %v", err)
	}
	q2 := openQL(t, crashed)
	if _, err := crashed.Stat(part); !errors.Is(err, iofs.ErrNotExist) {
		t.Fatalf("partial snapshot left after open: %v", err)
	}
	if _, ok := q2.LatestSnapshot(); ok || q2.EndOffset() != 1 {
		t.Fatalf("reopened: end %d, snapshot %t", q2.EndOffset(), ok)
	}
}

func TestQuorumLogOpenRestartsAtNewerSnapshot(t *testing.T) {
	// A snapshot whose last entry the log holds in another epoch (a crash kept a divergent log
	// beside an installed snapshot) wins: the log restarts at it, as one shorter than it does.
	for _, tc := range []struct {
		name string
		log  []quorum.Entry
	}{
		{"divergent", []quorum.Entry{ent(1, "a"), ent(1, "b"), ent(2, "x"), ent(2, "y"), ent(2, "z")}},
		{"shorter", []quorum.Entry{ent(1, "a")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := memfs.New()
			q := openQL(t, fsys)
			if err := q.Append(tc.log); err != nil {
				t.Fatal(err)
			}
			flushQL(t, fsys, q)
			id := SnapshotID{EndOffset: 4, Epoch: 3}
			if err := diskio.WriteFileAtomic(fsys, q.Dir(), SnapshotFileName(id), []byte("snap")); err != nil {
				t.Fatal(err)
			}
			q.Close()
			q2 := openQL(t, fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}))
			if q2.Start() != (quorum.EpochEndOffset{Epoch: 3, EndOffset: 4}) || q2.EndOffset() != 4 || q2.LastEpoch() != 3 {
				t.Fatalf("reopened: start %+v end %d last epoch %d", q2.Start(), q2.EndOffset(), q2.LastEpoch())
			}
		})
	}
}
