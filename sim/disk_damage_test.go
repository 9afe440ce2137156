package sim

import (
	"errors"
	iofs "io/fs"
	"math"
	"slices"
	"testing"

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
