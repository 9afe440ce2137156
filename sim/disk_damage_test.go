package sim

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"math"
	"slices"
	"testing"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/errorfs"
	"github.com/weirdata/weir/diskio/memfs"
)

// writeSegment writes batches of the given record counts as one segment at base and returns
// each batch's byte position.
func writeSegment(t *testing.T, fs diskio.FS, dir string, base int64, counts ...int) []int64 {
	t.Helper()
	var data []byte
	var positions []int64
	next := base
	for i, count := range counts {
		b := testBatch(t, string(rune('a'+i)), count)
		record.SetBaseOffset(b, record.Offset(next))
		positions = append(positions, int64(len(data)))
		data = append(data, b...)
		next += int64(count)
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := "00000000000000000000"
	digits := []byte(name)
	for i, v := len(digits)-1, base; v > 0; i, v = i-1, v/10 {
		digits[i] = byte('0' + v%10)
	}
	if err := diskio.WriteFileAtomic(fs, dir, string(digits)+".log", data); err != nil {
		t.Fatal(err)
	}
	return positions
}

// TestDamagedOffsets: a damaged record body excuses its batch only; a damaged header excuses
// the rest of its segment (to the next segment's base, or to the end for the last one); bytes
// past the file, index files and the metadata log excuse nothing.
func TestDamagedOffsets(t *testing.T) {
	fs := memfs.New()
	const dir = "/weir-data/my-topic-2"
	pos := writeSegment(t, fs, dir, 0, 3, 2, 4) // offsets 0-2, 3-4, 5-8
	writeSegment(t, fs, dir, 9, 1)
	last := writeSegment(t, fs, dir+"0", 0, 2) // partition 20: one segment
	seg := dir + "/00000000000000000000.log"
	at := func(kind errorfs.DamageKind, p string, off, length int64) DiskDamage {
		return DiskDamage{AtNs: 5e9, Damage: errorfs.Damage{Kind: kind, Path: p, OffsetBytes: off, LengthBytes: length}}
	}
	for _, tc := range []struct {
		name string
		d    DiskDamage
		want [][2]int64
	}{
		{"body of the second batch", at(errorfs.DamageBitFlip, seg, pos[1]+record.HeaderSizeBytes+3, 1), [][2]int64{{3, 4}}},
		{"header of the second batch", at(errorfs.DamageBitFlip, seg, pos[1]+17, 1), [][2]int64{{3, 8}}},
		{"first byte of the file", at(errorfs.DamageLatent, seg, 0, 512), [][2]int64{{0, 8}}},
		{"across two bodies", at(errorfs.DamageLatent, seg, pos[2]-2, 4), [][2]int64{{3, 8}}},
		{"past the end", at(errorfs.DamageBitFlip, seg, 1<<20, 1), nil},
		{"last segment's header", at(errorfs.DamageBitFlip, dir+"0/00000000000000000000.log", last[0]+1, 1), [][2]int64{{0, math.MaxInt64}}},
		{"an index", at(errorfs.DamageBitFlip, dir+"/00000000000000000000.index", 0, 1), nil},
		{"the metadata log", at(errorfs.DamageBitFlip, "/weir-data/__cluster_metadata-0/00000000000000000000.log", 0, 1), nil},
		{"a missing file", at(errorfs.DamageBitFlip, dir+"/00000000000000000100.log", 0, 1), nil},
	} {
		got, err := DamagedOffsets(fs, tc.d, 5e9)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var ranges [][2]int64
		for _, r := range got {
			if r.InvokedByNs != 5e9 || r.Reason == "" {
				t.Fatalf("%s: %v", tc.name, r)
			}
			ranges = append(ranges, [2]int64{r.FirstOffset, r.LastOffset})
		}
		if !slices.Equal(ranges, tc.want) {
			t.Fatalf("%s: excused %v, want %v", tc.name, got, tc.want)
		}
	}
	// A misdirected write damages the intended and the landing range.
	got, err := DamagedOffsets(fs, DiskDamage{AtNs: 1, Damage: errorfs.Damage{Kind: errorfs.DamageMisdirected, Path: seg,
		OffsetBytes: pos[2] + record.HeaderSizeBytes, LengthBytes: 2, LandedOffsetBytes: pos[0] + record.HeaderSizeBytes}}, 1)
	if err != nil || len(got) != 2 || got[0].FirstOffset != 0 || got[0].LastOffset != 2 || got[1].FirstOffset != 5 || got[1].LastOffset != 8 {
		t.Fatalf("misdirected: %v, %v", got, err)
	}
	// A misdirected append that landed before the file's end left the batch missing.
	end := last[0] + int64(len(testBatch(t, "a", 2)))
	got2, err := DamagedOffsets(fs, DiskDamage{AtNs: 1, Damage: errorfs.Damage{Kind: errorfs.DamageMisdirected, Path: dir + "0/00000000000000000000.log",
		OffsetBytes: end, LengthBytes: 80, LandedOffsetBytes: end + 512}}, 1)
	if err != nil || len(got2) != 1 || got2[0].FirstOffset != 2 || got2[0].LastOffset != math.MaxInt64 {
		t.Fatalf("misdirected append: %v, %v", got2, err)
	}
	if next, ok := SkipExcused(got, "my-topic", 2, 6); !ok || next != 9 {
		t.Fatalf("SkipExcused at 6: %d, %v", next, ok)
	}
	if _, ok := SkipExcused(got, "my-topic", 2, 3); ok {
		t.Fatal("SkipExcused at an offset no damage covers")
	}
	if r := got[0]; !r.Covers("my-topic", 2, 1, 1) || r.Covers("my-topic", 2, 1, 2) || r.Covers("my-topic", 2, 3, 0) || r.Covers("my-topic", 20, 1, 0) {
		t.Fatalf("Covers is wrong for %v", r)
	}
}

// TestPlantedBitFlip: a bit flips in the write of an acknowledged, synced batch. The broker
// never serves it: the read-plan executor cuts every fetch before it; after a crash and a
// recovery that scans the segment (the recovery-point checkpoint lost), recovery truncates
// the log at it. The damage log excuses exactly that batch, then — once recovery truncated —
// the rest of the partition for produces invoked before the restart, and not a produce after.
func TestPlantedBitFlip(t *testing.T) {
	w := NewWorld(21)
	network := NewNetwork(w, DefaultNetworkConfig())
	var damage DamageLog
	corr := errorfs.NewCorruptor(w.Rand("test/corrupt"), func(d errorfs.Damage) { damage.Add(w.NowNs(), d) })
	flip := errorfs.NewToggle(errorfs.When(errorfs.PathMatch(IsPartitionSegment), errorfs.OnIndex(0)))
	corr.BitFlip = flip
	cfg := DefaultNodeConfig(1)
	cfg.Corruptor = corr
	n, err := NewNode(w, network, cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.SetHooks(NodeHooks{
		BeforeRestart: func(n *Node) {
			if err := damage.Remap(n.Disk(), w.NowNs()); err != nil {
				t.Error(err)
			}
		},
		AfterRestart: func(n *Node, _ error) {
			if err := damage.NoteRecovery(n.Disk(), w.NowNs()); err != nil {
				t.Error(err)
			}
		},
	})
	w.RunFor(100 * msNs)
	c := dialClient(t, w, network, "client1", n.Addr())
	c.createTopic("orders", 1)
	good := testBatch(t, "good", 3)
	c.produce("orders", good) // offsets 0-2
	flip.On()
	bad := testBatch(t, "flipped", 2)
	if base := c.produce("orders", bad); base != 3 { // acknowledged: the flip is silent
		t.Fatalf("flipped batch at %d", base)
	}
	flip.Off()
	after := testBatch(t, "after", 4)
	c.produce("orders", after) // offsets 5-8
	if damage.Len() != 1 {
		t.Fatalf("damages %v", damage.Damages())
	}

	if err := damage.Remap(n.Disk(), w.NowNs()); err != nil {
		t.Fatal(err)
	}
	if got := damage.Excused(); len(got) != 1 || got[0].Topic != "orders" || got[0].Partition != 0 || got[0].FirstOffset != 3 || got[0].LastOffset != 4 {
		t.Fatalf("excused %v, want exactly offsets 3-4", got)
	}

	// Refused: a fetch from 0 stops before the bad batch, one from 3 returns nothing.
	batches, hw := c.fetch("orders", 0)
	if hw != 9 {
		t.Fatalf("high watermark %d", hw)
	}
	sameBatch(t, batches, good, 0)
	if batches, _ := c.fetch("orders", 3); len(batches) != 0 {
		t.Fatalf("the damaged batch was served (%d bytes)", len(batches))
	}
	batches, _ = c.fetch("orders", 5)
	sameBatch(t, batches, after, 5)
	if n.Stats().PlanCuts < 2 {
		t.Fatalf("plan cuts %d", n.Stats().PlanCuts)
	}

	// Truncated: recovery from the start (as after a lost checkpoint) meets the bad batch.
	n.CrashWith(memfs.CrashLoseUnsynced)
	if err := n.Disk().Remove("/weir-data/" + storage.RecoveryPointCheckpointFile); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		t.Fatal(err)
	}
	restartNs := w.NowNs()
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	w.RunFor(100 * msNs)
	c = dialClient(t, w, network, "client1", n.Addr())
	batches, hw = c.fetch("orders", 0)
	if hw != 3 {
		t.Fatalf("high watermark %d after recovery, want 3 (truncated at the damaged batch)", hw)
	}
	sameBatch(t, batches, good, 0)
	excused := damage.Excused()
	covers := func(offset, invokeNs int64) bool {
		return slices.ContainsFunc(excused, func(r ExcusedRange) bool { return r.Covers("orders", 0, offset, invokeNs) })
	}
	if covers(0, 0) || covers(2, 0) || !covers(3, 0) || !covers(8, 0) {
		t.Fatalf("excused %v: want offsets 3 onwards, not 0-2", excused)
	}
	reused := testBatch(t, "reused", 2)
	invoked := w.NowNs()
	if base := c.produce("orders", reused); base != 3 {
		t.Fatalf("produce after recovery at %d", base)
	}
	if invoked <= restartNs || covers(3, invoked) {
		t.Fatalf("a produce invoked after the recovery is excused: %v", excused)
	}
	batches, _ = c.fetch("orders", 3)
	sameBatch(t, batches, reused, 3)
}

// TestMisdirectedAppendTruncatedByRecovery: an append that strayed past the segment's end left
// a hole where its batch belongs; the broker appended on after it, into the next segment too.
// Recovery then truncates at the hole and deletes the next segment: every produce invoked
// before the recovery from the hole's first offset on is excused (the hole still "misses" the
// write after the truncation, which must not hide the truncation), later ones are not, and
// fresh batches written where the hole was are not the damage's.
func TestMisdirectedAppendTruncatedByRecovery(t *testing.T) {
	fs := memfs.New()
	const dir = "/weir-data/t-0"
	seg := dir + "/00000000000000000000.log"
	pos := writeSegment(t, fs, dir, 0, 3, 2, 4) // offsets 0-2, 3-4, 5-8
	writeSegment(t, fs, dir, 9, 2)              // offsets 9-10
	data, err := diskio.ReadFile(fs, seg)
	if err != nil {
		t.Fatal(err)
	}
	lost := slices.Clone(data[pos[1]:pos[2]])
	clear(data[pos[1]:pos[2]]) // the hole the stray write left
	landed := int64(len(data)) + 2*errorfs.SectorBytes
	data = append(data, make([]byte, landed-int64(len(data)))...)
	data = append(data, lost...)
	if err := diskio.WriteFileAtomic(fs, dir, "00000000000000000000.log", data); err != nil {
		t.Fatal(err)
	}
	var damage DamageLog
	damage.Add(5e9, errorfs.Damage{Kind: errorfs.DamageMisdirected, Path: seg, OffsetBytes: pos[1],
		LengthBytes: int64(len(lost)), LandedOffsetBytes: landed})
	if err := damage.Remap(fs, 7e9); err != nil {
		t.Fatal(err)
	}
	// Recovery truncates at the hole and deletes the segments after it.
	if err := diskio.WriteFileAtomic(fs, dir, "00000000000000000000.log", data[:pos[1]]); err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove(dir + "/00000000000000000009.log"); err != nil {
		t.Fatal(err)
	}
	if err := damage.NoteRecovery(fs, 8e9); err != nil {
		t.Fatal(err)
	}
	covered := func(offset, invokeNs int64) bool {
		for _, r := range damage.Excused() {
			if r.Covers("t", 0, offset, invokeNs) {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		offset, invokeNs int64
		want             bool
	}{
		{2, 1e9, false},      // before the hole: intact
		{3, 4e9, true},       // the stray batch
		{6, 7e9, true},       // appended after the stray write, truncated by recovery
		{10, 7e9, true},      // in the next segment, deleted by recovery
		{10, 8e9, true},      // invoked as recovery ran
		{10, 8e9 + 1, false}, // invoked after recovery: the full promise
		{3, 9e9, false},
	} {
		if got := covered(tc.offset, tc.invokeNs); got != tc.want {
			t.Errorf("offset %d invoked at %dns: excused %v, want %v; excused %v", tc.offset, tc.invokeNs, got, tc.want, damage.Excused())
		}
	}
	// New batches written where the hole was are not the damage's.
	writeSegment(t, fs, dir, 0, 3, 4)
	if err := damage.Remap(fs, 12e9); err != nil {
		t.Fatal(err)
	}
	if covered(4, 10e9) {
		t.Errorf("a batch written after the recovery is excused: %v", damage.Excused())
	}
	if damage.Explains(seg, pos[1], pos[1]+1) {
		t.Error("a damage recovery truncated away still explains its bytes")
	}
}

// TestMisdirectedLanding: the bytes a misdirected write landed on are damaged: a batch body
// there is excused for produces invoked by the damage, its neighbours are not, and its bytes
// (and the intended range's) explain an invariant check that read them.
func TestMisdirectedLanding(t *testing.T) {
	fs := memfs.New()
	const dir = "/weir-data/t-1"
	seg := dir + "/00000000000000000000.log"
	pos := writeSegment(t, fs, dir, 0, 2, 80, 2) // offsets 0-1, 2-81, 82-83
	// The write meant for the last batch's body landed a sector earlier, in the middle one's.
	intended := pos[2] + record.HeaderSizeBytes + 4
	landed := intended - errorfs.SectorBytes
	d := DiskDamage{AtNs: 5e9, Damage: errorfs.Damage{Kind: errorfs.DamageMisdirected, Path: seg,
		OffsetBytes: intended, LengthBytes: 16, LandedOffsetBytes: landed}}
	if landed < pos[1]+record.HeaderSizeBytes || landed+16 > pos[2] {
		t.Fatalf("batch layout %v does not suit the test", pos)
	}
	got, err := DamagedOffsets(fs, d, 7e9)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].FirstOffset != 2 || got[0].LastOffset != 83 || got[0].InvokedByNs != 5e9 {
		t.Errorf("excused %v, want [2, 83] invoked by 5000ms (the landing batch and the intended one, not the first)", got)
	}
	var damage DamageLog
	damage.Add(d.AtNs, d.Damage)
	for _, tc := range []struct {
		low, high int64
		want      bool
	}{
		{landed, landed + 1, true},
		{landed - 4, landed, false},
		{intended + 15, intended + 20, true},
		{pos[0], pos[0] + record.HeaderSizeBytes, false},
	} {
		if got := damage.Explains(seg, tc.low, tc.high); got != tc.want {
			t.Errorf("Explains [%d, %d) = %v, want %v", tc.low, tc.high, got, tc.want)
		}
	}
	if damage.Explains(dir+"/00000000000000000000.index", landed, landed+1) {
		t.Error("a damage explains another file's bytes")
	}
}

// TestInvariantExcuse: a Node invariant failure is traced, not a panic, only when it is a
// log.InvariantError that read bytes the plan says a disk fault damaged.
func TestInvariantExcuse(t *testing.T) {
	const seg = "/weir-data/t-0/00000000000000000000.log"
	var damage DamageLog
	damage.Add(1e9, errorfs.Damage{Kind: errorfs.DamageBitFlip, Path: seg, OffsetBytes: 100, LengthBytes: 1})
	n := &Node{cfg: NodeConfig{DamageExplains: damage.Explains}}
	read := func(low int64) error {
		return fmt.Errorf("sim-1: %w", &log.InvariantError{Reads: []log.ByteRange{
			{Path: "/weir-data/t-0/00000000000000000000.index", LowBytes: 0, HighBytes: 8},
			{Path: seg, LowBytes: low, HighBytes: low + record.HeaderSizeBytes}}})
	}
	if !n.damageExplains(read(90)) {
		t.Error("a check that read the flipped byte is not explained")
	}
	if n.damageExplains(read(101)) {
		t.Error("a check that read only intact bytes is explained")
	}
	if n.damageExplains(fmt.Errorf("%w: log start above the log end", log.ErrInvariant)) {
		t.Error("an invariant naming no bytes is explained")
	}
	if (&Node{}).damageExplains(read(90)) {
		t.Error("explained without a DamageExplains hook")
	}
}

// TestSkipExcusedNarrowest: a reader refused at a damaged batch skips only that batch, even
// where an earlier recovery's truncation excuses everything to the log's end (for produces
// before it: later ones reused those offsets and are held to the full promise); only where
// nothing narrower covers does it stop.
func TestSkipExcusedNarrowest(t *testing.T) {
	rs := []ExcusedRange{
		{Topic: "t", Partition: 0, FirstOffset: 100, LastOffset: math.MaxInt64, InvokedByNs: 5e9},
		{Topic: "t", Partition: 0, FirstOffset: 300, LastOffset: 304, InvokedByNs: 9e9},
		{Topic: "t", Partition: 0, FirstOffset: 302, LastOffset: 310, InvokedByNs: 9e9},
	}
	for _, tc := range []struct {
		offset, next int64
		ok           bool
	}{
		{302, 305, true},
		{306, 311, true},
		{150, math.MaxInt64, true},
		{99, 99, false},
	} {
		if next, ok := SkipExcused(rs, "t", 0, tc.offset); next != tc.next || ok != tc.ok {
			t.Errorf("SkipExcused at %d = %d, %v; want %d, %v", tc.offset, next, ok, tc.next, tc.ok)
		}
	}
}

// TestCorruptionTargets: corruption faults target partition segments and producer snapshots
// (and a snapshot's temporary file), never indexes, checkpoints or the metadata log.
func TestCorruptionTargets(t *testing.T) {
	cases := []struct {
		path              string
		segment, snapshot bool
	}{
		{"/weir-data/orders-0/00000000000000000042.log", true, false},
		{"/weir-data/orders-0/00000000000000000042.snapshot", false, true},
		{"/weir-data/orders-0/00000000000000000042.snapshot.tmp", false, true},
		{"/weir-data/orders-0/00000000000000000042.index", false, false},
		{"/weir-data/orders-0/00000000000000000042.timeindex", false, false},
		{"/weir-data/orders-0/leader-epoch-checkpoint", false, false},
		{"/weir-data/recovery-point-offset-checkpoint", false, false},
		{"/weir-data/__cluster_metadata-0/00000000000000000042.log", false, false},
		{"/weir-data/__cluster_metadata-0/00000000000000000042.snapshot", false, false},
		{"/weir-data/orders-0/42.snapshot", false, false},
	}
	for _, c := range cases {
		if got := IsPartitionSegment(c.path); got != c.segment {
			t.Errorf("IsPartitionSegment(%q) = %v", c.path, got)
		}
		if got := IsProducerSnapshot(c.path); got != c.snapshot {
			t.Errorf("IsProducerSnapshot(%q) = %v", c.path, got)
		}
	}
}

// TestBaseOffsetDamageExcusesWhatRecoveryCuts: a bit flip in a batch's base offset, which its
// CRC does not cover, is seen only when the offsets go back at the next batch, and either of
// the two headers may be the damaged one: reads refuse both (sim seed 1309), and recovery cuts
// at the first unless it continues the offsets before it. Lowered, the damaged batch goes back
// below the batch before it, so that intact batch is excused too (reads refuse it), though
// recovery keeps it; raised, the batch after it goes back and the batch before is not the
// damage's. Both mappings cover what a real recovery then truncates.
func TestBaseOffsetDamageExcusesWhatRecoveryCuts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		bit       uint  // flipped in the second batch's base offset 3
		wantFirst int64 // the first offset excused
		wantEnd   int64 // where recovery ends the log
	}{
		{"lowered", 1, 0, 3}, // 3 → 1, below the first batch's 0-2, which continues the log
		{"raised", 2, 3, 3},  // 3 → 7: the third batch's 5 goes back
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := memfs.New()
			const dir = "/weir-data/t-0"
			seg := dir + "/00000000000000000000.log"
			pos := writeSegment(t, fs, dir, 0, 3, 2, 4) // offsets 0-2, 3-4, 5-8
			data, err := diskio.ReadFile(fs, seg)
			if err != nil {
				t.Fatal(err)
			}
			data[pos[1]+7] ^= 1 << tc.bit
			if err := diskio.WriteFileAtomic(fs, dir, "00000000000000000000.log", data); err != nil {
				t.Fatal(err)
			}
			var damage DamageLog
			damage.Add(5e9, errorfs.Damage{Kind: errorfs.DamageBitFlip, Path: seg, OffsetBytes: pos[1] + 7, LengthBytes: 1})
			if err := damage.Remap(fs, 7e9); err != nil {
				t.Fatal(err)
			}
			if got := damage.Excused(); len(got) != 1 || got[0].FirstOffset != tc.wantFirst || got[0].LastOffset != math.MaxInt64 {
				t.Fatalf("excused %v, want [%d, end]", got, tc.wantFirst)
			}
			l, err := log.Open(fs, dir, log.DefaultConfig(), log.OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if end := int64(l.EndOffset()); end != tc.wantEnd {
				t.Fatalf("recovery ended the log at %d, want %d", end, tc.wantEnd)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if err := damage.NoteRecovery(fs, 8e9); err != nil {
				t.Fatal(err)
			}
			excused := damage.Excused()
			for _, tc2 := range []struct {
				offset, invokeNs int64
				want             bool
			}{
				{tc.wantFirst, 7e9, true},
				{8, 8e9, true},       // truncated by the recovery
				{20, 8e9, true},      // reused after it, by a produce invoked before it
				{20, 8e9 + 1, false}, // invoked after the recovery: the full promise
				{tc.wantFirst - 1, 1e9, false},
			} {
				covered := slices.ContainsFunc(excused, func(r ExcusedRange) bool { return r.Covers("t", 0, tc2.offset, tc2.invokeNs) })
				if covered != tc2.want {
					t.Errorf("offset %d invoked at %dns: excused %v, want %v; excused %v", tc2.offset, tc2.invokeNs, covered, tc2.want, excused)
				}
			}
		})
	}
}

// TestSkipExcusedSeparateDamages (seed 490 with every fault): two bit flips at the same
// instant damaged adjacent batches in two segments, 140-142 in one and 143-144 at the start of
// the next. Recovery scanned only the second segment, truncated its damaged batch, and a later
// produce wrote 143-146 there, which the broker serves; the first segment's damaged batch stays
// and is refused. A reader refused at 140 must step to 143, not over the new records: the two
// damages' ranges must not merge into one, though their offsets and times meet.
func TestSkipExcusedSeparateDamages(t *testing.T) {
	fs := memfs.New()
	const dir = "/weir-data/t-0"
	first := writeSegment(t, fs, dir, 140, 3)
	second := writeSegment(t, fs, dir, 143, 2)
	var damage DamageLog
	for _, d := range []struct {
		base, pos int64
	}{{140, first[0]}, {143, second[0]}} {
		damage.Add(5e9, errorfs.Damage{Kind: errorfs.DamageBitFlip, Path: fmt.Sprintf("%s/%020d.log", dir, d.base),
			OffsetBytes: d.pos + record.HeaderSizeBytes + 3, LengthBytes: 1})
	}
	if err := damage.Remap(fs, 6e9); err != nil {
		t.Fatal(err)
	}
	// Recovery truncates the second segment at its damaged batch; a produce invoked after it
	// writes 143-146 there.
	if err := diskio.WriteFileAtomic(fs, dir, fmt.Sprintf("%020d.log", 143), nil); err != nil {
		t.Fatal(err)
	}
	if err := damage.NoteRecovery(fs, 7e9); err != nil {
		t.Fatal(err)
	}
	writeSegment(t, fs, dir, 143, 4)
	if err := damage.Remap(fs, 9e9); err != nil {
		t.Fatal(err)
	}
	excused := damage.Excused()
	if next, ok := SkipExcused(excused, "t", 0, 140); !ok || next != 143 {
		t.Fatalf("SkipExcused at 140 = %d, %v; want 143 (the refused batch only); excused %v", next, ok, excused)
	}
	covers := func(offset, invokeNs int64) bool {
		return slices.ContainsFunc(excused, func(r ExcusedRange) bool { return r.Covers("t", 0, offset, invokeNs) })
	}
	if !covers(142, 5e9) || !covers(144, 5e9) || !covers(146, 7e9) || covers(143, 8e9) || covers(139, 0) {
		t.Fatalf("excused %v: want 140-144 for produces by the damage, 143 on for those by the recovery, no later one", excused)
	}
}

// TestDamageMappedBeforeItsBytesGo: damages are mapped late, and a segment retention deletes
// (or a follower truncates) before any mapping took its damage with it — readers had been
// refused the damaged batch, and nothing excused the skip (seed 2477: retention deleted a
// segment holding a misdirected write's landing). RemapBefore maps a file's damages just
// before an operation removes, renames or truncates it.
func TestDamageMappedBeforeItsBytesGo(t *testing.T) {
	const dir = "/weir-data/t-0"
	seg := dir + "/00000000000000000000.log"
	for _, tc := range []struct {
		name string
		gone func(t *testing.T, fsys diskio.FS)
	}{
		{"retention deletes the segment", func(t *testing.T, fsys diskio.FS) {
			if err := fsys.Rename(seg, seg+".deleted"); err != nil {
				t.Fatal(err)
			}
			if err := fsys.Remove(seg + ".deleted"); err != nil {
				t.Fatal(err)
			}
		}},
		{"a follower truncates the segment", func(t *testing.T, fsys diskio.FS) {
			f, err := fsys.OpenReadWrite(seg)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(0); err != nil {
				t.Fatal(err)
			}
		}},
		{"the partition's directory is removed", func(t *testing.T, fsys diskio.FS) {
			if err := fsys.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		for _, observed := range []bool{false, true} {
			mem := memfs.New()
			pos := writeSegment(t, mem, dir, 0, 3, 2, 4) // offsets 0-2, 3-4, 5-8
			var damage DamageLog
			damage.Add(5e9, errorfs.Damage{Kind: errorfs.DamageBitFlip, Path: seg, OffsetBytes: pos[1] + record.HeaderSizeBytes + 3, LengthBytes: 1})
			var fsys diskio.FS = mem
			if observed {
				fsys = errorfs.Wrap(mem, damage.RemapBefore(func() diskio.FS { return mem }, func() int64 { return 6e9 }, nil))
			}
			tc.gone(t, fsys)
			if err := damage.Remap(mem, 9e9); err != nil {
				t.Fatal(err)
			}
			got := damage.Excused()
			if !observed {
				if len(got) != 0 {
					t.Fatalf("%s, unobserved: excused %v; the late mapping finds the bytes gone", tc.name, got)
				}
				continue
			}
			if len(got) != 1 || got[0].FirstOffset != 3 || got[0].LastOffset != 4 || got[0].InvokedByNs != 5e9 {
				t.Fatalf("%s: excused %v, want [3, 4] for produces by 5000ms (the damaged batch, mapped before it went)", tc.name, got)
			}
		}
	}
}
