package producer

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"slices"
	"strings"
	"testing"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

// kafkaSnapshotFixture is a version-1 producer snapshot laid out field by field after Kafka's
// ProducerStateManager.PID_SNAPSHOT_MAP_SCHEMA. The CRC was computed with CRC32C over bytes
// 6.. (the check value of CRC32C("123456789") is e3069283, as RFC 3720 gives).
var kafkaSnapshotFixture = strings.Join([]string{
	"0001",     // version 1
	"5dbc9c03", // crc32c of the rest
	"00000002", // two entries
	// producer 1000, epoch 2, last sequence 9, last offset 42, offset delta 4,
	// timestamp 1700000000000, coordinator epoch -1, no transaction
	"00000000000003e8", "0002", "00000009", "000000000000002a", "00000004", "0000018bcfe56800", "ffffffff", "ffffffffffffffff",
	// producer 2000, epoch 0, no batch (sequence -1, offset -1, delta 0),
	// timestamp 1700000000500, coordinator epoch 5, no transaction
	"00000000000007d0", "0000", "ffffffff", "ffffffffffffffff", "00000000", "0000018bcfe569f4", "00000005", "ffffffffffffffff",
}, "")

var kafkaSnapshotEntries = []Entry{
	{ProducerID: 1000, ProducerEpoch: 2, CoordinatorEpoch: -1, LastTimestampMs: 1700000000000, CurrentTxnFirstOffset: NoOffset,
		Batches: []BatchMetadata{{LastSequence: 9, LastOffset: 42, OffsetDelta: 4, TimestampMs: 1700000000000}}},
	{ProducerID: 2000, ProducerEpoch: 0, CoordinatorEpoch: 5, LastTimestampMs: 1700000000500, CurrentTxnFirstOffset: NoOffset},
}

func fixtureBytes(t *testing.T) []byte {
	t.Helper()
	b, err := hex.DecodeString(kafkaSnapshotFixture)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSnapshotKafkaFixture(t *testing.T) {
	data := fixtureBytes(t)
	got, err := DecodeSnapshot(data)
	if err != nil {
		t.Fatal(err)
	}
	assertSameEntries(t, kafkaSnapshotEntries, got)
	if b := got[0].Batches[0]; b.FirstSequence() != 5 || b.FirstOffset() != 38 {
		t.Fatalf("first sequence %d, first offset %d", b.FirstSequence(), b.FirstOffset())
	}
	// The same state encodes to the same bytes.
	s := newTestState(t, DefaultConfig())
	for _, e := range kafkaSnapshotEntries {
		s.producers[e.ProducerID] = importEntry(e)
	}
	if enc := s.AppendSnapshot(nil); !bytes.Equal(enc, data) {
		t.Fatalf("encoded\n%x\nwant\n%x", enc, data)
	}
	if crc32.Checksum([]byte("123456789"), castagnoli) != 0xe3069283 {
		t.Fatal("the CRC table is not CRC32C")
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := newTestState(t, DefaultConfig())
	for i := int32(0); i < 7; i++ { // producer 1: seven batches, the snapshot keeps the last
		mustAppend(t, s, batch(1, 3, i*2, 2, int64(100+i)), 100)
	}
	txn := batch(2, 0, 0, 3, 200)
	txn.Attributes = attrTransactional
	mustAppend(t, s, txn, 200)
	s.ReplayBatch(record.Header{BaseOffset: s.EndOffset(), Attributes: attrControl, ProducerID: 3, ProducerEpoch: 4,
		BaseSequence: -1, RecordCount: 1, MaxTimestamp: 300}) // a producer known only by a marker
	got, err := DecodeSnapshot(s.AppendSnapshot(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := s.Entries()
	want[0].Batches = want[0].Batches[len(want[0].Batches)-1:]
	assertSameEntries(t, want, got)
	if got[1].CurrentTxnFirstOffset != 14 || len(got[2].Batches) != 0 || got[2].ProducerEpoch != 4 {
		t.Fatalf("decoded %+v", got)
	}
	// An empty state.
	empty := newTestState(t, DefaultConfig())
	if got, err := DecodeSnapshot(empty.AppendSnapshot(nil)); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
}

// resealed returns data with its CRC recomputed, for corruptions the CRC does not catch.
func resealed(data []byte) []byte {
	out := bytes.Clone(data)
	binary.BigEndian.PutUint32(out[snapshotCRCOffset:], crc32.Checksum(out[snapshotEntriesStart:], castagnoli))
	return out
}

func TestSnapshotCorruption(t *testing.T) {
	data := fixtureBytes(t)
	for i := range data { // any flipped bit is caught
		for bit := 0; bit < 8; bit++ {
			bad := bytes.Clone(data)
			bad[i] ^= 1 << bit
			if _, err := DecodeSnapshot(bad); !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("bit %d of byte %d flipped: %v", bit, i, err)
			}
		}
	}
	for n := 0; n < len(data); n++ { // any truncation is caught
		if _, err := DecodeSnapshot(data[:n]); !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	entry := func(pid int64, lastOffset int64, delta int32) []byte {
		b := binary.BigEndian.AppendUint64(nil, uint64(pid))
		b = binary.BigEndian.AppendUint16(b, 0)
		b = binary.BigEndian.AppendUint32(b, 5)
		b = binary.BigEndian.AppendUint64(b, uint64(lastOffset))
		b = binary.BigEndian.AppendUint32(b, uint32(delta))
		b = binary.BigEndian.AppendUint64(b, 1000)
		b = binary.BigEndian.AppendUint32(b, 0xffffffff)
		return binary.BigEndian.AppendUint64(b, 0xffffffffffffffff)
	}
	file := func(count int32, entries ...[]byte) []byte {
		b := []byte{0, 1, 0, 0, 0, 0}
		b = binary.BigEndian.AppendUint32(b, uint32(count))
		for _, e := range entries {
			b = append(b, e...)
		}
		return resealed(b)
	}
	cases := map[string][]byte{
		"trailing byte":        resealed(append(bytes.Clone(data), 0)),
		"version 2":            func() []byte { b := bytes.Clone(data); b[1] = 2; return b }(),
		"negative count":       file(-1),
		"count too high":       file(2, entry(1, 10, 0)),
		"producer id twice":    file(2, entry(1, 10, 0), entry(1, 20, 0)),
		"negative producer id": file(1, entry(-5, 10, 0)),
		"negative delta":       file(1, entry(1, 10, -1)),
		"batch below offset 0": file(1, entry(1, 3, 4)),
	}
	for name, bad := range cases {
		if _, err := DecodeSnapshot(bad); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got, err := DecodeSnapshot(file(1, entry(1, 3, 3))); err != nil || got[0].Batches[0].FirstOffset() != 0 {
		t.Fatalf("a batch at offset 0: %+v %v", got, err)
	}
}

func TestSnapshotFileNames(t *testing.T) {
	if n := SnapshotFileName(42); n != "00000000000000000042.snapshot" {
		t.Fatal(n)
	}
	for name, want := range map[string]record.Offset{
		"00000000000000000042.snapshot": 42, "09223372036854775807.snapshot": 1<<63 - 1,
	} {
		if o, ok := ParseSnapshotFileName(name); !ok || o != want {
			t.Errorf("%s: %d %v", name, o, ok)
		}
	}
	for _, name := range []string{"00000000000000000042.snapshot.tmp", "0000000000000000042.snapshot", "0000000000000000004x.snapshot",
		"00000000000000000042.log", "99999999999999999999.snapshot"} {
		if _, ok := ParseSnapshotFileName(name); ok {
			t.Errorf("%s parsed", name)
		}
	}
}

// snapshotAt writes s's snapshot after moving its end offset to offset.
func snapshotAt(t *testing.T, fsys diskio.FS, dir string, s *State, offset record.Offset) {
	t.Helper()
	s.endOffset = offset
	if o, err := s.WriteSnapshot(fsys, dir); err != nil || o != offset {
		t.Fatalf("write snapshot at %d: %d %v", offset, o, err)
	}
}

func TestLoad(t *testing.T) {
	const dir = "/data/t-0"
	fsys := memfs.New()
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	s := newTestState(t, cfg)
	mustAppend(t, s, batch(1, 0, 0, 5, 1000), 1000)
	snapshotAt(t, fsys, dir, s, 5)
	mustAppend(t, s, batch(2, 0, 0, 5, 2000), 2000)
	snapshotAt(t, fsys, dir, s, 20)
	mustAppend(t, s, batch(3, 0, 0, 5, 3000), 3000)
	snapshotAt(t, fsys, dir, s, 30)
	snapshotAt(t, fsys, dir, s, 40)

	// The log ends at 35 after recovery: the snapshot at 40 goes, 30 is loaded.
	got, res, err := Load(fsys, dir, cfg, 0, 35, 3000)
	if err != nil {
		t.Fatal(err)
	}
	if res.SnapshotOffset != 30 || res.Removed != 1 || got.EndOffset() != 30 || got.Len() != 3 {
		t.Fatalf("loaded %+v, end %d, %d producers", res, got.EndOffset(), got.Len())
	}
	// A retry of a producer's last batch before the restart is still a duplicate.
	if v, err := got.CheckAppend(batch(3, 0, 0, 5, 3000), 3000); err != nil || v.Kind != VerdictDuplicate || v.BaseOffset != 20 {
		t.Fatalf("retry after the restart: %+v %v", v, err)
	}
	if offsets, _ := ListSnapshots(fsys, dir); len(offsets) != 3 || offsets[2] != 30 {
		t.Fatalf("snapshots left: %v", offsets)
	}
	if known := got.SnapshotOffsets(); !slices.Equal(known, []record.Offset{5, 20, 30}) {
		t.Fatalf("the loaded state knows snapshots %v, want [5 20 30]", known)
	}
	// The newest is corrupt: deleted, the one before is loaded. Producer 1 (last active at
	// 1000) has expired by then.
	corrupt := diskio.Join(dir, SnapshotFileName(30))
	data, _ := diskio.ReadFile(fsys, corrupt)
	data[len(data)-1] ^= 0xff
	if err := diskio.WriteFileAtomic(fsys, dir, SnapshotFileName(30), data); err != nil {
		t.Fatal(err)
	}
	got, res, err = Load(fsys, dir, cfg, 0, 35, 1000+cfg.ExpirationMs)
	if err != nil {
		t.Fatal(err)
	}
	if res.SnapshotOffset != 20 || len(res.Corrupt) != 1 || !errors.Is(res.Corrupt[0], ErrCorruptSnapshot) || res.Expired != 1 || got.Len() != 1 {
		t.Fatalf("after corruption: %+v, %d producers", res, got.Len())
	}
	if _, ok := got.Producer(2); !ok {
		t.Fatal("producer 2 not loaded")
	}
	// The corrupt one is gone from what the state knows too; retention removes by that list.
	if known := got.SnapshotOffsets(); !slices.Equal(known, []record.Offset{5, 20}) {
		t.Fatalf("after corruption the state knows snapshots %v, want [5 20]", known)
	}
	// The log start passed every snapshot: state starts empty at the log start.
	got, res, err = Load(fsys, dir, cfg, 20, 35, 3000)
	if err != nil {
		t.Fatal(err)
	}
	if res.SnapshotOffset != NoOffset || got.EndOffset() != 20 || got.Len() != 0 {
		t.Fatalf("past every snapshot: %+v end %d", res, got.EndOffset())
	}
	if offsets, _ := ListSnapshots(fsys, dir); len(offsets) != 0 {
		t.Fatalf("snapshots left: %v", offsets)
	}
	if _, _, err := Load(fsys, dir, cfg, 40, 35, 3000); err == nil {
		t.Fatal("log start past the end accepted")
	}
	// The state deletes by the snapshots it knows.
	snapshotAt(t, fsys, dir, got, 25)
	snapshotAt(t, fsys, dir, got, 30)
	if err := got.DeleteSnapshotsBefore(fsys, dir, 30); err != nil {
		t.Fatal(err)
	}
	if offsets, _ := ListSnapshots(fsys, dir); !slices.Equal(offsets, []record.Offset{30}) {
		t.Fatalf("after deleting below 30: %v", offsets)
	}
	snapshotAt(t, fsys, dir, got, 33)
	if known := got.SnapshotOffsets(); !slices.Equal(known, []record.Offset{30, 33}) {
		t.Fatalf("after a new snapshot the state knows %v, want [30 33]", known)
	}
	if err := got.DeleteSnapshotsBefore(fsys, dir, 34); err != nil {
		t.Fatal(err)
	}
	if offsets, _ := ListSnapshots(fsys, dir); len(offsets) != 0 {
		t.Fatalf("after deleting below 34: %v", offsets)
	}
}

func TestSnapshotSurvivesCrashAndDeleteBefore(t *testing.T) {
	const dir = "p-0"
	fsys := memfs.New()
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := diskio.SyncDir(fsys, "/"); err != nil { // make the partition directory durable
		t.Fatal(err)
	}
	s := newTestState(t, DefaultConfig())
	mustAppend(t, s, batch(1, 0, 0, 5, 1000), 1000)
	snapshotAt(t, fsys, dir, s, 5)
	snapshotAt(t, fsys, dir, s, 9)
	after := fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
	got, res, err := Load(after, dir, DefaultConfig(), 0, 9, 1000)
	if err != nil || res.SnapshotOffset != 9 || got.Len() != 1 {
		t.Fatalf("after a crash: %+v %v", res, err)
	}
	if err := s.DeleteSnapshotsBefore(fsys, dir, 9); err != nil {
		t.Fatal(err)
	}
	if offsets, _ := ListSnapshots(fsys, dir); len(offsets) != 1 || offsets[0] != 9 {
		t.Fatalf("left %v", offsets)
	}
}
