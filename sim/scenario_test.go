package sim

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/errorfs"
	"github.com/weirdata/weir/diskio/memfs"
)

// TestScenarios runs testdata/scenarios/*.txt (datadriven, like etcd raft's interaction
// tests): each names a cluster, a workload and the faults at given virtual times, and expects
// the checkers' verdict. Every bug the simulator finds becomes one, because seeds drift as
// the code changes and a scenario does not. The language:
//
//	cluster seed=N [partitions=P] [clients=C] [idempotent=PCT] [produce=PCT] [rate=OPS]
//	        [segment-bytes=B] [index-interval-bytes=B] [retention-ms=MS]
//	        [retention-check-ms=MS] [in-flight=N] [plant=bug,...] [damage=on]
//	                      build the world; knobs not named come from the seed; damage=on lets
//	                      `damage` and `misdirect` commands record what they break (and puts an
//	                      idle errorfs.Corruptor under the broker's disk for `misdirect`)
//	workload for=D        start the clients' operations for D (virtual) from now
//	run for=D             advance virtual time by D
//	crash [mode=lose|keep|random]   power loss of the broker (default: lose unsynced data)
//	restart               start the broker again on what its disk kept (recovery)
//	reset-connections     reset every connection of the broker, requests in flight lost
//	partition a=H,H b=H,H / heal     cut hosts apart both ways / remove every cut
//	cut from=H,H to=H,H   cut one way: bytes from the first hosts to the second are held
//	clog host=H / unclog host=H       stall every link of a host / release it
//	slow-sync factor=F    multiply the broker's sync latency by F from now on (1: normal)
//	damage partition=P segment=first|last|I batch=first|last|I
//	       kind=raise-base-offset|lower-base-offset|zero-header|flip-record
//	                      damage one batch of a partition's segment on the broker's disk, durably
//	                      (a bit flip raising or lowering its base offset, outside the CRC;
//	                      zeros over its header; a bit flip in its records, inside the CRC),
//	                      recorded so the checkers excuse what it destroys; an index I counts
//	                      from 0, or back from the end when negative (-1: the last)
//	damage partition=P kind=producer-snapshots
//	                      flip a bit in the CRC of each of the partition's producer snapshots,
//	                      durably: the next load deletes them and rebuilds the state from the log
//	misdirect partition=P [bytes=LOW-HIGH]
//	                      the broker's next write (of LOW to HIGH bytes) to a segment of the
//	                      partition lands elsewhere in its file (errorfs.Corruptor: whole sectors
//	                      away, either way, drawn from the seed); runs until that write (at most
//	                      10 s) and prints the damage, recorded so the checkers excuse it (needs
//	                      damage=on)
//	plan-cuts             how many read plans the broker has served short so far (log.ErrPlanCut:
//	                      a file vanished or shrank under a fetch); without damage, any is a bug
//	check                 stop the workload, wait for every operation, read every partition to
//	                      its high watermark and run the checkers: "pass", or FAIL and the
//	                      anomalies by name
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "../testdata/scenarios", func(t *testing.T, path string) {
		var (
			c   *cluster
			arm misdirectArm
		)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) (out string) {
			if d.Cmd != "cluster" && c == nil {
				t.Fatalf("%s: cluster first", d.Pos)
			}
			defer func() {
				if p := recover(); p != nil {
					out = fmt.Sprintf("panic: %v\n", p)
				}
			}()
			switch d.Cmd {
			case "cluster":
				return scenarioCluster(t, d, &c, &arm)
			case "workload":
				c.startWorkload(c.w.NowNs() + durationArg(t, d, "for"))
			case "run":
				c.w.RunFor(durationArg(t, d, "for"))
			case "crash":
				c.node.CrashWith(crashModeArg(t, d, memfs.CrashLoseUnsynced))
			case "restart":
				if c.damage != nil {
					if err := c.damage.Remap(c.node.Disk(), c.w.NowNs()); err != nil {
						t.Fatalf("%s: %v", d.Pos, err)
					}
				}
				err := c.node.Restart()
				if c.damage != nil {
					// Also after a failed restart: recovery may have truncated before it failed.
					if nerr := c.damage.NoteRecovery(c.node.Disk(), c.w.NowNs()); nerr != nil {
						t.Fatalf("%s: %v", d.Pos, nerr)
					}
				}
				if err != nil {
					return fmt.Sprintf("restart: %v\n", err)
				}
			case "damage":
				return scenarioDamage(t, d, c)
			case "misdirect":
				return scenarioMisdirect(t, d, c, &arm)
			case "reset-connections":
				c.network.ResetHost(c.node.Host())
			case "partition":
				c.network.Partition(hostsArg(t, d, "a"), hostsArg(t, d, "b"))
			case "cut":
				c.network.Cut(hostsArg(t, d, "from"), hostsArg(t, d, "to"))
			case "heal":
				c.network.HealAll()
			case "clog", "unclog":
				var host string
				d.ScanArgs(t, "host", &host)
				if d.Cmd == "clog" {
					c.network.Clog(host)
				} else {
					c.network.Unclog(host)
				}
			case "slow-sync":
				var factor int64
				d.ScanArgs(t, "factor", &factor)
				c.node.SetSyncSlowdown(factor)
			case "plan-cuts":
				return fmt.Sprintf("%d\n", c.node.Stats().PlanCuts)
			case "check":
				if failure := c.finish(); failure != "" && c.report.Valid() {
					return "FAIL " + failure + "\n"
				}
				return verdictNames(c.report)
			default:
				t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			}
			return ""
		})
	})
}

// scenarioCluster handles `cluster`.
func scenarioCluster(t *testing.T, d *datadriven.TestData, c **cluster, arm *misdirectArm) string {
	var seed uint64
	d.ScanArgs(t, "seed", &seed)
	opts := DefaultRunOptions(seed)
	opts.Faults = "none" // a scenario names its faults step by step
	if d.HasArg("rate") {
		d.ScanArgs(t, "rate", &opts.OpsPerSecond)
	}
	opts.Planted = plantArg(t, d)
	var damage string
	if d.HasArg("damage") {
		d.ScanArgs(t, "damage", &damage)
	}
	*c = newCluster(opts, func(k *Knobs) {
		scanOptional(t, d, "partitions", &k.Partitions)
		scanOptional(t, d, "clients", &k.Clients)
		scanOptional(t, d, "idempotent", &k.IdempotentPct)
		scanOptional(t, d, "produce", &k.ProducePct)
		scanOptional(t, d, "segment-bytes", &k.SegmentBytes)
		scanOptional(t, d, "index-interval-bytes", &k.IndexIntervalBytes)
		scanOptional(t, d, "retention-ms", &k.RetentionMs)
		scanOptional(t, d, "retention-check-ms", &k.RetentionCheckIntervalMs)
		scanOptional(t, d, "in-flight", &k.InFlightMax)
	})
	*arm = misdirectArm{}
	if damage == "on" {
		(*c).damage = &DamageLog{}
		(*c).corruptor = arm.corruptor(*c)
	}
	if failure := (*c).setUp(); failure != "" {
		return failure + "\n"
	}
	return ""
}

// crashModeArg is a crash command's mode=lose|keep|random, def when not given.
func crashModeArg(t *testing.T, d *datadriven.TestData, def memfs.CrashMode) memfs.CrashMode {
	if !d.HasArg("mode") {
		return def
	}
	var m string
	d.ScanArgs(t, "mode", &m)
	switch m {
	case "lose":
		return memfs.CrashLoseUnsynced
	case "keep":
		return memfs.CrashKeepUnsynced
	case "random":
		return memfs.CrashRandom
	}
	t.Fatalf("%s: crash mode %q: want lose, keep or random", d.Pos, m)
	return def
}

// plantArg is a cluster command's plant=bug,... (none when not given).
func plantArg(t *testing.T, d *datadriven.TestData) []buggify.Bug {
	if !d.HasArg("plant") {
		return nil
	}
	var list string
	d.ScanArgs(t, "plant", &list)
	bugs, err := buggify.ParseBugs(list)
	if err != nil {
		t.Fatalf("%s: %v", d.Pos, err)
	}
	return bugs
}

func scanOptional[T any](t *testing.T, d *datadriven.TestData, key string, dst *T) {
	if d.HasArg(key) {
		d.ScanArgs(t, key, dst)
	}
}

func durationArg(t *testing.T, d *datadriven.TestData, key string) int64 {
	var s string
	d.ScanArgs(t, key, &s)
	dur, err := time.ParseDuration(s)
	if err != nil || dur <= 0 {
		t.Fatalf("%s: %s=%q: want a positive duration", d.Pos, key, s)
	}
	return dur.Nanoseconds()
}

func hostsArg(t *testing.T, d *datadriven.TestData, key string) []string {
	var s string
	d.ScanArgs(t, key, &s)
	return strings.Split(s, ",")
}

// verdictNames is a report as a scenario prints it: pass, or the anomaly names (counts and
// examples change with the code; which anomalies a scenario shows should not).
func verdictNames(r check.Report) string {
	if r.Valid() {
		return "pass\n"
	}
	var names []string
	for _, f := range r.Anomalies {
		names = append(names, string(f.Anomaly))
	}
	slices.Sort(names)
	return "FAIL " + strings.Join(slices.Compact(names), " ") + "\n"
}

// scenarioDamage handles `damage`: it changes the bytes of one batch on the broker's disk (as
// a disk fault would, and synced, so a crash keeps them) and records the damage.
func scenarioDamage(t *testing.T, d *datadriven.TestData, c *cluster) string {
	var (
		partition       int32
		which, at, kind string
	)
	d.ScanArgs(t, "partition", &partition)
	d.ScanArgs(t, "kind", &kind)
	if c.damage == nil {
		t.Fatalf("%s: damage needs `cluster ... damage=on`", d.Pos)
	}
	disk := c.node.Disk()
	dir := fmt.Sprintf("/weir-data/%s-%d", workloadTopic, partition)
	names, err := disk.List(dir)
	if err != nil {
		t.Fatalf("%s: %v", d.Pos, err)
	}
	if kind == "producer-snapshots" {
		return scenarioDamageSnapshots(t, d, c, dir, names)
	}
	d.ScanArgs(t, "segment", &which)
	d.ScanArgs(t, "batch", &at)
	var segments []string
	for _, name := range names {
		if p := dir + "/" + name; IsPartitionSegment(p) {
			segments = append(segments, p)
		}
	}
	slices.Sort(segments)
	if len(segments) == 0 {
		t.Fatalf("%s: %s has no segments", d.Pos, dir)
	}
	path := segments[pickArg(t, d, "segment", which, len(segments))]
	data, err := diskio.ReadFile(disk, path)
	if err != nil {
		t.Fatalf("%s: %v", d.Pos, err)
	}
	var positions []int64
	for pos := int64(0); pos+record.HeaderSizeBytes <= int64(len(data)); {
		h, err := record.ParseHeader(data[pos:])
		if err != nil {
			break
		}
		positions = append(positions, pos)
		pos += h.SizeBytes()
	}
	if len(positions) == 0 {
		t.Fatalf("%s: %s holds no batch", d.Pos, path)
	}
	pos := positions[pickArg(t, d, "batch", at, len(positions))]
	var patch []byte
	var offset int64
	switch kind {
	case "raise-base-offset":
		// Bit 6 of the base offset's lowest byte: +64 where it is clear (the base offset is
		// big-endian, bytes 0-7 of the header).
		offset = pos + 7
		if data[offset]&0x40 != 0 {
			t.Fatalf("%s: bit 6 of the base offset at %d is set: flipping it would lower it", d.Pos, pos)
		}
		patch = []byte{data[offset] ^ 0x40}
	case "lower-base-offset":
		// The lowest set bit of the base offset's lowest byte: the batch then claims offsets
		// below the batch before it.
		offset = pos + 7
		if data[offset] == 0 {
			t.Fatalf("%s: the base offset at %d has no set bit in its lowest byte to clear", d.Pos, pos)
		}
		patch = []byte{data[offset] & (data[offset] - 1)}
	case "zero-header":
		offset = pos
		patch = make([]byte, record.HeaderSizeBytes)
	case "flip-record":
		// The first byte after the header: inside what the CRC covers, the header intact.
		offset = pos + record.HeaderSizeBytes
		patch = []byte{data[offset] ^ 0x01}
	default:
		t.Fatalf("%s: damage kind %q: want raise-base-offset, lower-base-offset, zero-header, flip-record or producer-snapshots", d.Pos, kind)
	}
	f, err := disk.OpenReadWrite(path)
	if err != nil {
		t.Fatalf("%s: %v", d.Pos, err)
	}
	if _, err := f.WriteAt(patch, offset); err != nil {
		t.Fatalf("%s: %v", d.Pos, err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("%s: %v", d.Pos, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("%s: %v", d.Pos, err)
	}
	c.damage.Add(c.w.NowNs(), errorfs.Damage{Kind: errorfs.DamageBitFlip, Path: path, OffsetBytes: offset, LengthBytes: int64(len(patch))})
	h, _ := record.ParseHeader(data[pos:])
	return fmt.Sprintf("%s: batch %d..%d at byte %d\n", path, h.BaseOffset, h.LastOffset(), pos)
}

// scenarioDamageSnapshots handles `damage kind=producer-snapshots`: it flips a bit of the
// stored CRC of every producer-state snapshot in dir (names: its entries), durably, as a disk
// fault would. Loading detects each and deletes it, so the state is rebuilt from the log start.
func scenarioDamageSnapshots(t *testing.T, d *datadriven.TestData, c *cluster, dir string, names []string) string {
	// The snapshot's CRC32C is bytes 2..5 (core/producer/snapshot.go); flip bit 0 of its last.
	const crcLowByte = 5
	disk := c.node.Disk()
	damaged := 0
	for _, name := range names {
		path := dir + "/" + name
		if !IsProducerSnapshot(path) || strings.HasSuffix(name, ".tmp") {
			continue
		}
		f, err := disk.OpenReadWrite(path)
		if err != nil {
			t.Fatalf("%s: %v", d.Pos, err)
		}
		crc := make([]byte, 1)
		if _, err := f.ReadAt(crc, crcLowByte); err != nil {
			t.Fatalf("%s: %s: %v", d.Pos, path, err)
		}
		crc[0] ^= 1
		if _, err := f.WriteAt(crc, crcLowByte); err != nil {
			t.Fatalf("%s: %v", d.Pos, err)
		}
		if err := f.Sync(); err != nil {
			t.Fatalf("%s: %v", d.Pos, err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("%s: %v", d.Pos, err)
		}
		// Recorded as the Corruptor records its damage to snapshots: it excuses no offset.
		c.damage.Add(c.w.NowNs(), errorfs.Damage{Kind: errorfs.DamageBitFlip, Path: path, OffsetBytes: crcLowByte, LengthBytes: 1})
		damaged++
	}
	if damaged == 0 {
		t.Fatalf("%s: %s has no producer snapshot", d.Pos, dir)
	}
	return fmt.Sprintf("%s: %d producer snapshots\n", dir, damaged)
}

// misdirectArm is what a scenario's `misdirect` command armed: the next write to a segment
// of partition is misdirected by the Corruptor the cluster was built with.
type misdirectArm struct {
	armed               bool
	partition           int32
	lowBytes, highBytes int64 // the write's length bounds
	damages             int   // misdirected writes reported so far
	last                errorfs.Damage
}

// corruptor builds the broker disk's Corruptor for c: it misdirects only what arm names, and
// records each damage in c's DamageLog.
func (arm *misdirectArm) corruptor(c *cluster) *errorfs.Corruptor {
	corr := errorfs.NewCorruptor(c.w.Rand("scenario/corrupt"), func(d errorfs.Damage) {
		c.damage.Add(c.w.NowNs(), d)
		c.w.Tracef("scenario disk damage: %v", d)
		arm.damages++
		arm.last = d
	})
	corr.Misdirect = errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !arm.armed || op.Kind != errorfs.OpWrite || !IsPartitionSegment(op.Path) ||
			op.LengthBytes < arm.lowBytes || op.LengthBytes > arm.highBytes {
			return nil
		}
		if _, topic, partition, _, _ := segmentPath(op.Path); topic != workloadTopic || partition != arm.partition {
			return nil
		}
		arm.armed = false
		return errorfs.Always().MaybeError(op)
	})
	return corr
}

// scenarioMisdirect handles `misdirect`.
func scenarioMisdirect(t *testing.T, d *datadriven.TestData, c *cluster, arm *misdirectArm) string {
	if c.corruptor == nil {
		t.Fatalf("%s: misdirect needs `cluster ... damage=on`", d.Pos)
	}
	d.ScanArgs(t, "partition", &arm.partition)
	arm.lowBytes, arm.highBytes = 1, math.MaxInt64
	if d.HasArg("bytes") {
		var bounds string
		d.ScanArgs(t, "bytes", &bounds)
		low, high, ok := strings.Cut(bounds, "-")
		var errLow, errHigh error
		arm.lowBytes, errLow = strconv.ParseInt(low, 10, 64)
		arm.highBytes, errHigh = strconv.ParseInt(high, 10, 64)
		if !ok || errLow != nil || errHigh != nil || arm.lowBytes < 1 || arm.highBytes < arm.lowBytes {
			t.Fatalf("%s: bytes=%q: want LOW-HIGH, 1 <= LOW <= HIGH", d.Pos, bounds)
		}
	}
	arm.armed = true
	before := arm.damages
	if !c.w.RunUntilTrue(func() bool { return arm.damages > before }, c.w.NowNs()+(10*time.Second).Nanoseconds()) {
		arm.armed = false
		return "no such write to the partition's segments within 10s\n"
	}
	return arm.last.String() + "\n"
}

// pickArg resolves key=first|last|I, an index into n things (segments, batches) counted from 0,
// or back from the end when negative (-1 is the last).
func pickArg(t *testing.T, d *datadriven.TestData, key, v string, n int) int {
	switch v {
	case "first":
		return 0
	case "last":
		return n - 1
	}
	i, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %s=%q: want first, last or an index", d.Pos, key, v)
	}
	if i < 0 {
		i += n
	}
	if i < 0 || i >= n {
		t.Fatalf("%s: %s=%s: there are %d", d.Pos, key, v, n)
	}
	return i
}
