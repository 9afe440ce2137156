package sim

import (
	"cmp"
	"errors"
	"fmt"
	iofs "io/fs"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/errorfs"
)

// The contract with corruption. A single-replica broker cannot keep acknowledged data that its
// disk silently destroyed: there is no other copy. What Weir promises there is "detected,
// truncated or refused, never served": a damaged batch fails its CRC or header checks, so the
// read-plan executor cuts a fetch before it (refused), recovery truncates the log at it
// (truncated), and nothing of it reaches a client. The simulator therefore records every
// damage a disk fault did (DamageLog, fed by errorfs.Corruptor's reports), maps it to the
// partition offsets whose records it may have destroyed (DamagedOffsets), and the durability
// checker excuses exactly those — for produces invoked before the damage, since a later
// produce cannot have put its data under it — and nothing else. Serving a damaged batch stays
// a failure: the checkers see a value nobody wrote.

// ExcusedRange is a range of one partition's offsets whose acknowledged records a disk fault
// may have destroyed.
type ExcusedRange struct {
	Topic     string
	Partition int32
	// FirstOffset and LastOffset bound the range, inclusive; LastOffset math.MaxInt64 means
	// to the log's end.
	FirstOffset, LastOffset int64
	// InvokedByNs: only produces invoked at or before this virtual time are excused. Offsets
	// reused after a truncation hold later produces to the full promise.
	InvokedByNs int64
	// Reason says which damage, for the report.
	Reason string
}

// Covers reports whether a produce invoked at invokeNs and acknowledged at offset in
// topic/partition is excused by r.
func (r ExcusedRange) Covers(topic string, partition int32, offset, invokeNs int64) bool {
	return r.Topic == topic && r.Partition == partition && r.FirstOffset <= offset && offset <= r.LastOffset && invokeNs <= r.InvokedByNs
}

func (r ExcusedRange) String() string {
	last := strconv.FormatInt(r.LastOffset, 10)
	if r.LastOffset == math.MaxInt64 {
		last = "end"
	}
	return fmt.Sprintf("%s-%d [%d, %s] invoked by %dms: %s", r.Topic, r.Partition, r.FirstOffset, last, r.InvokedByNs/1e6, r.Reason)
}

// DiskDamage is one damage a disk fault did, stamped with the virtual time it happened.
type DiskDamage struct {
	AtNs int64
	errorfs.Damage
}

// segmentPath splits a partition segment's path "<log dir>/<topic>-<partition>/<base>.log".
func segmentPath(p string) (dir, topic string, partition int32, base int64, ok bool) {
	dir, name := path.Split(path.Clean("/" + p))
	dir = path.Clean(dir)
	if !strings.HasSuffix(name, ".log") || len(name) != 20+len(".log") {
		return "", "", 0, 0, false
	}
	base, err := strconv.ParseInt(name[:20], 10, 64)
	if err != nil || base < 0 {
		return "", "", 0, 0, false
	}
	dirName := path.Base(dir)
	dash := strings.LastIndexByte(dirName, '-')
	if dash <= 0 {
		return "", "", 0, 0, false
	}
	p64, err := strconv.ParseInt(dirName[dash+1:], 10, 32)
	if err != nil || p64 < 0 {
		return "", "", 0, 0, false
	}
	return dir, dirName[:dash], int32(p64), base, true
}

// IsPartitionSegment reports whether p is a partition's segment data file (not its indexes, not
// the metadata log's): the files whose damage maps to excusable offsets.
func IsPartitionSegment(p string) bool {
	_, topic, _, _, ok := segmentPath(p)
	return ok && !strings.HasPrefix(topic, "__cluster_metadata")
}

// IsProducerSnapshot reports whether p is a partition's producer-state snapshot
// ("<20 digits>.snapshot"), or the temporary file it is written to before its rename.
// Corruption faults target them too: they carry a CRC, so damage must be detected (the
// snapshot is deleted and the state rebuilt from the log), and no offset is excused for it.
func IsProducerSnapshot(p string) bool {
	name := path.Base(strings.TrimSuffix(p, ".tmp"))
	if !strings.HasSuffix(name, ".snapshot") || len(name) != 20+len(".snapshot") {
		return false
	}
	_, err := strconv.ParseUint(name[:20], 10, 64)
	return err == nil && !strings.Contains(p, "__cluster_metadata")
}

// DamagedOffsets maps one damage to the offsets whose records it may have destroyed, by walking
// the batch headers of the damaged segment as it is now on fsys (pass the raw disk, not one
// behind the Corruptor), at virtual time nowNs:
//   - every batch whose bytes overlap a damaged range is excused, for produces invoked by the
//     damage's time (a later produce's data was not under it);
//   - when the walk cannot trust what it reads there — a header overlaps the damage, or a
//     header before the damage does not parse — everything from that batch to the segment's
//     end (the next segment's base, or the log's end for the last segment) is "possibly
//     destroyed": a reader finding batches by walking headers cannot get past it, so batches
//     appended after the damage are excused too, for produces invoked by nowNs;
//   - a batch whose offsets go back below the batch before it (a base offset, which the CRC
//     does not cover, lowered there or raised in the batch before) puts that batch in doubt
//     too: reads refuse both (recovery cuts at the first unless it continues the offsets
//     before it), so the excuse starts there.
//
// A damage to a file that is not a partition segment, or whose bytes are no longer in the file
// (lost in a crash, truncated, deleted), maps to nothing.
func DamagedOffsets(fsys diskio.FS, d DiskDamage, nowNs int64) ([]ExcusedRange, error) {
	m, err := mapDamage(fsys, d, nowNs)
	return m.excused, err
}

// damageMapping is what mapDamage found: the excused ranges, the segment's size then, and the
// byte position of the first batch the damage made untrustworthy (math.MaxInt64 if none).
type damageMapping struct {
	excused        []ExcusedRange
	sizeBytes      int64
	firstBadAtByte int64
}

// mapDamage is DamagedOffsets, also reporting where in the segment the damage starts to
// matter, so that NoteRecovery can tell a recovery truncating there from no change.
func mapDamage(fsys diskio.FS, d DiskDamage, nowNs int64) (damageMapping, error) {
	m := damageMapping{firstBadAtByte: math.MaxInt64}
	dir, topic, partition, base, ok := segmentPath(d.Path)
	if !ok {
		return m, nil
	}
	data, err := diskio.ReadFile(fsys, path.Join(dir, path.Base(d.Path)))
	if errors.Is(err, iofs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("sim: mapping %v: %w", d.Damage, err)
	}
	m.sizeBytes = int64(len(data))
	segmentLast, err := segmentLastOffset(fsys, dir, base)
	if err != nil {
		return m, err
	}
	var out []ExcusedRange
	bad := func(atByte int64) { m.firstBadAtByte = min(m.firstBadAtByte, atByte) }
	add := func(first, last, invokedByNs int64, why string) {
		if first > last {
			return // past the segment's end: the next segment holds those offsets
		}
		out = append(out, ExcusedRange{Topic: topic, Partition: partition, FirstOffset: first, LastOffset: last,
			InvokedByNs: invokedByNs, Reason: fmt.Sprintf("%v at %dms: %s", d.Damage, d.AtNs/1e6, why)})
	}
	size := int64(len(data))
	for i, r := range d.Ranges() {
		low, high := r[0], min(r[1], size)
		// A misdirected write meant for the file's end left the file short: the batch the
		// broker wrote (and later ones in the segment) are simply not there.
		missing := d.Kind == errorfs.DamageMisdirected && i == 0 && low >= size
		if low >= high && !missing {
			continue // the damaged bytes are not in the file any more
		}
		if missing {
			high = size
		}
		pos, next := int64(0), base
		prevPos, prevBase := int64(-1), int64(0) // the batch before pos in this walk, if any
		walked := true
		for pos < size && pos < high {
			if size-pos < record.HeaderSizeBytes {
				break // a torn tail: no batch there, nothing acknowledged
			}
			h, err := record.ParseHeader(data[pos:])
			if err == nil && pos+h.SizeBytes() <= size && int64(h.BaseOffset) < next && prevPos >= 0 {
				// Offsets go back: a base offset, outside the CRC, was lowered here or raised
				// in the batch before. Reads cannot tell which and refuse both (recovery
				// keeps the first only if it continues the offsets before it).
				add(prevBase, segmentLast, max(nowNs, d.AtNs), "offsets go back at byte "+strconv.FormatInt(pos, 10)+", from the batch before it")
				bad(prevPos)
				walked = false
				break
			}
			if err != nil || pos+h.SizeBytes() > size || int64(h.BaseOffset) < next {
				// The walk cannot find batches past here; a header that does not parse where
				// no damage is would be recovery's business, but the damage may lie beyond.
				add(next, segmentLast, max(nowNs, d.AtNs), "unreadable from byte "+strconv.FormatInt(pos, 10))
				bad(pos)
				walked = false
				break
			}
			end := pos + h.SizeBytes()
			if low < pos+record.HeaderSizeBytes && pos < high {
				add(next, segmentLast, max(nowNs, d.AtNs), "batch header damaged at byte "+strconv.FormatInt(pos, 10))
				bad(pos)
				walked = false
				break
			}
			if low < end && pos < high {
				add(int64(h.BaseOffset), int64(h.LastOffset()), d.AtNs, "batch damaged")
				bad(pos)
			}
			next = int64(h.NextOffset())
			prevPos, prevBase = pos, int64(h.BaseOffset)
			pos = end
		}
		if missing && walked {
			add(next, segmentLast, d.AtNs, "the write meant for byte "+strconv.FormatInt(low, 10)+" landed elsewhere")
			bad(low)
		}
	}
	m.excused = mergeExcused(out)
	return m, nil
}

// segmentLastOffset is the last offset a segment can hold: the next segment's base minus one,
// or math.MaxInt64 for the last segment.
func segmentLastOffset(fsys diskio.FS, dir string, base int64) (int64, error) {
	names, err := fsys.List(dir)
	if err != nil {
		return 0, fmt.Errorf("sim: listing %s: %w", dir, err)
	}
	last := int64(math.MaxInt64)
	for _, name := range names {
		if _, _, _, b, ok := segmentPath(path.Join(dir, name)); ok && b > base && b-1 < last {
			last = b - 1
		}
	}
	return last, nil
}

// mergeExcused sorts one damage's ranges and merges those that overlap or meet (of the same
// partition and time): batches one damage destroyed side by side share a fate, since a
// recovery that scans their segment truncates at the first.
func mergeExcused(rs []ExcusedRange) []ExcusedRange {
	rs = sortExcused(rs)
	var out []ExcusedRange
	for _, r := range rs {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.Topic == r.Topic && last.Partition == r.Partition && last.InvokedByNs == r.InvokedByNs &&
				(last.LastOffset == math.MaxInt64 || r.FirstOffset <= last.LastOffset+1) {
				if r.LastOffset > last.LastOffset {
					last.LastOffset = r.LastOffset
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// sortExcused sorts the ranges of several damages and drops repeats, merging nothing else:
// SkipExcused steps over the narrowest range covering a refused offset, and the ranges of two
// damages may meet (in adjacent segments, at the same instant) while their batches have
// different fates — recovery truncating one and fresh records being written there, served,
// while the other is still refused. Joined, a reader would step over those fresh records.
func sortExcused(rs []ExcusedRange) []ExcusedRange {
	slices.SortFunc(rs, func(a, b ExcusedRange) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition),
			cmp.Compare(a.InvokedByNs, b.InvokedByNs), cmp.Compare(a.FirstOffset, b.FirstOffset), cmp.Compare(a.LastOffset, b.LastOffset))
	})
	return slices.CompactFunc(rs, func(a, b ExcusedRange) bool {
		return a.Topic == b.Topic && a.Partition == b.Partition && a.InvokedByNs == b.InvokedByNs &&
			a.FirstOffset == b.FirstOffset && a.LastOffset == b.LastOffset
	})
}

// DamageLog is one machine's record of what disk faults destroyed, and what that excuses.
// Damages are mapped to offsets late (Remap), when the batches around them are on disk, and
// again before each recovery; a damage whose bytes recovery removed also excuses the rest of
// its partition's log as it stood (NoteRecovery): recovery truncates everything after the
// first bad batch, as Kafka's does.
type DamageLog struct {
	records []*damageRecord
}

type damageRecord struct {
	damage DiskDamage
	mapped []ExcusedRange // the last mapping that found the damaged bytes
	// present: the last Remap found the damaged bytes in the file; sizeBytes and
	// firstBadAtByte are the segment's size then and where the damage starts to matter.
	present                   bool
	sizeBytes, firstBadAtByte int64
	// truncated: a recovery removed the damaged bytes; whatever is at their position now was
	// written afterwards, so the damage maps to nothing any more.
	truncated bool
	tails     []ExcusedRange // from recoveries that removed the damaged batch
}

// Add records a damage reported at atNs.
func (l *DamageLog) Add(atNs int64, d errorfs.Damage) {
	l.records = append(l.records, &damageRecord{damage: DiskDamage{AtNs: atNs, Damage: d}})
}

// Len is how many damages were recorded.
func (l *DamageLog) Len() int { return len(l.records) }

// Damages lists the damages in the order they happened.
func (l *DamageLog) Damages() []DiskDamage {
	out := make([]DiskDamage, len(l.records))
	for i, r := range l.records {
		out[i] = r.damage
	}
	return out
}

// Remap maps every damage on fsys (the raw disk) at virtual time nowNs, keeping a damage's
// last mapping when its bytes are gone.
func (l *DamageLog) Remap(fsys diskio.FS, nowNs int64) error {
	var errs []error
	for _, r := range l.records {
		if err := r.remap(fsys, nowNs); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// remap maps the damage again, keeping its last mapping when its bytes are gone.
func (r *damageRecord) remap(fsys diskio.FS, nowNs int64) error {
	if r.truncated {
		return nil
	}
	m, err := mapDamage(fsys, r.damage, nowNs)
	if err != nil {
		return err
	}
	r.present = len(m.excused) > 0
	if r.present {
		r.mapped, r.sizeBytes, r.firstBadAtByte = m.excused, m.sizeBytes, m.firstBadAtByte
	}
	return nil
}

// RemapBefore is an errorfs.Injector, consulted before each operation on the disk the
// damages are on (chain the disk's other injectors as inner; nil for none), that maps the
// damages of a file just before an operation removes, replaces or shortens it: retention
// deleting a damaged segment, a follower truncating one. Mapping only late (before restarts
// and at the end) would find those bytes gone and excuse nothing, though readers were
// refused the damaged batches while they were there. raw returns the raw disk (nil before
// the node exists) and nowNs the virtual time.
func (l *DamageLog) RemapBefore(raw func() diskio.FS, nowNs func() int64, inner errorfs.Injector) errorfs.Injector {
	return errorfs.InjectorFunc(func(op errorfs.Op) error {
		switch op.Kind {
		case errorfs.OpRemove, errorfs.OpRemoveAll, errorfs.OpRename, errorfs.OpTruncate, errorfs.OpCreate:
			if fsys := raw(); fsys != nil {
				// Best effort: a file that cannot be read now maps as it did last time.
				_ = l.remapPaths(fsys, nowNs(), op.Path, op.NewPath)
			}
		}
		if inner == nil {
			return nil
		}
		return inner.MaybeError(op)
	})
}

// remapPaths is Remap for the damages of the named files only, and of every file under them
// (RemoveAll).
func (l *DamageLog) remapPaths(fsys diskio.FS, nowNs int64, paths ...string) error {
	var errs []error
	for _, r := range l.records {
		damaged := path.Clean("/" + r.damage.Path)
		named := slices.ContainsFunc(paths, func(p string) bool {
			if p == "" {
				return false
			}
			p = path.Clean("/" + p)
			return damaged == p || strings.HasPrefix(damaged, p+"/")
		})
		if named {
			if err := r.remap(fsys, nowNs); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// NoteRecovery is called after a restart at atNs recovered fsys, whether or not the restart
// succeeded — recovery may truncate before it fails (call Remap before the restart, on the
// disk recovery was about to read): a damaged batch that was on disk then and
// is gone now was truncated by recovery with everything after it in its partition, so produces
// invoked before atNs are excused from its first offset to the log's end. "Gone" is either no
// longer found, or the segment shrank to end at or before the first damaged batch: a
// misdirected write's intended range past the truncated end still looks damaged (the write is
// missing there), though recovery removed everything it affected.
func (l *DamageLog) NoteRecovery(fsys diskio.FS, atNs int64) error {
	var errs []error
	for _, r := range l.records {
		if r.truncated || !r.present || len(r.mapped) == 0 {
			continue
		}
		now, err := mapDamage(fsys, r.damage, atNs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		shrunkPast := now.sizeBytes < r.sizeBytes && now.sizeBytes <= r.firstBadAtByte
		if len(now.excused) > 0 && !shrunkPast {
			continue
		}
		r.present, r.truncated = false, true
		first := r.mapped[0]
		for _, m := range r.mapped[1:] {
			if m.FirstOffset < first.FirstOffset {
				first = m
			}
		}
		r.tails = append(r.tails, ExcusedRange{Topic: first.Topic, Partition: first.Partition, FirstOffset: first.FirstOffset,
			LastOffset: math.MaxInt64, InvokedByNs: atNs,
			Reason: fmt.Sprintf("recovery at %dms truncated from the batch %v damaged", atNs/1e6, r.damage.Damage)})
	}
	return errors.Join(errs...)
}

// Explains reports whether a recorded damage changed bytes of [lowBytes, highBytes) of the
// file at p that are still as the damage left them (a recovery that truncated the damage
// away took its bytes with it): what a check read there is the fault's doing.
func (l *DamageLog) Explains(p string, lowBytes, highBytes int64) bool {
	p = path.Clean("/" + p)
	for _, r := range l.records {
		if r.truncated || path.Clean("/"+r.damage.Path) != p {
			continue
		}
		for _, dr := range r.damage.Ranges() {
			if dr[0] < highBytes && lowBytes < dr[1] {
				return true
			}
		}
	}
	return false
}

// Excused lists what the damages excuse, sorted, each damage's ranges kept apart from the
// others' (see sortExcused; call Remap first for damages not mapped yet).
func (l *DamageLog) Excused() []ExcusedRange {
	var all []ExcusedRange
	for _, r := range l.records {
		all = append(all, r.mapped...)
		all = append(all, r.tails...)
	}
	return sortExcused(all)
}

// SkipExcused tells a reader stuck at offset of topic/partition — the broker refuses the batch
// there, a fetch returns nothing below the high watermark — where to go on: the offset after
// the narrowest excused range covering it (math.MaxInt64 when only ranges to the log's end
// cover it). The narrowest, so that a range to the log's end from an earlier damage (a
// recovery's truncation, whose offsets later produces reused) does not end the read at a
// later batch damage: if the broker refuses again past it, a wider range is taken then. ok
// is false when no range covers offset: a refused batch no damage explains is a failure.
func SkipExcused(rs []ExcusedRange, topic string, partition int32, offset int64) (next int64, ok bool) {
	next = math.MaxInt64
	for _, r := range rs {
		if r.Topic == topic && r.Partition == partition && r.FirstOffset <= offset && offset <= r.LastOffset {
			ok = true
			if r.LastOffset != math.MaxInt64 {
				next = min(next, r.LastOffset+1)
			}
		}
	}
	if !ok {
		return offset, false
	}
	return next, true
}
