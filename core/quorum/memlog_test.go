package quorum

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"

	"github.com/weirdata/weir/core/record"
)

// memLog is an in-memory Log with a crash model: entries above the durable offset may be lost
// (a random prefix of them survives, cut to whole batches, as core/log drops a torn batch), as
// unflushed page-cache writes are. A writeback may make part of a batch durable, so the
// durable offset may lie inside a batch. A truncation is durable at once (a simplification: a
// file's shrink is metadata the next sync covers). Snapshots are durable when taken or
// installed; a partly fetched one is lost on a crash. Batch boundaries are kept with the
// entries (MoreInBatch); a truncation, log start or snapshot inside a batch panics.
//
// The log keeps every entry it ever held below its start (all), standing in for the
// application state a snapshot is made from; through the Log interface only [start, end) is
// visible.
type memLog struct {
	all        []Entry       // entries [0, end); below start only for snapshots
	prefix     []uint64      // prefix[i]: hash of all[0..i], for the log-matching checks
	start      record.Offset // log start offset
	startEpoch record.Epoch  // epoch of the entry below start
	epochs     []epochStart  // first offset of each epoch at or above start
	durable    record.Offset
	flushes    map[int]record.Offset // pending flush id → target offset
	flushSeq   int
	snapshot   *memSnapshot   // latest complete snapshot
	older      []*memSnapshot // earlier ones still kept for followers fetching them
	pending    *memSnapshot   // one being fetched
	// onAppend is called for every appended or installed entry with its offset and prefix hash.
	onAppend    func(o record.Offset, e Entry, prefix uint64)
	truncations int
	installs    int
	// wallMs is the wall clock that stamps the leader's own batches (NoTimestamp).
	wallMs int64
}

type epochStart struct {
	epoch record.Epoch
	start record.Offset
}

type memSnapshot struct {
	id   EpochEndOffset
	data []byte
}

func newMemLog() *memLog { return &memLog{flushes: map[int]record.Offset{}} }

func (l *memLog) EndOffset() record.Offset { return record.Offset(len(l.all)) }

func (l *memLog) LastEpoch() record.Epoch {
	if l.EndOffset() > l.start {
		return l.all[len(l.all)-1].Epoch
	}
	return l.startEpoch
}

func (l *memLog) Start() EpochEndOffset {
	return EpochEndOffset{Epoch: l.startEpoch, EndOffset: l.start}
}

func (l *memLog) EndOffsetForEpoch(epoch record.Epoch) (record.Epoch, record.Offset) {
	list := l.epochs
	if l.start > 0 {
		list = append([]epochStart{{epoch: l.startEpoch, start: l.start}}, l.epochs...)
	}
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].epoch <= epoch {
			if i == len(list)-1 {
				return list[i].epoch, l.EndOffset()
			}
			return list[i].epoch, list[i+1].start
		}
	}
	return UndefinedEpoch, UndefinedOffset
}

func (l *memLog) Append(entries []Entry) error {
	if err := checkBatches(entries); err != nil {
		panic(fmt.Sprintf("memlog: append at %d: %v", l.EndOffset(), err))
	}
	for _, e := range entries {
		if e.Epoch < l.LastEpoch() {
			panic(fmt.Sprintf("memlog: entry of epoch %d after epoch %d", e.Epoch, l.LastEpoch()))
		}
		if e.TimestampMs == record.NoTimestamp {
			e.TimestampMs = l.wallMs
		}
		l.appendOne(e)
	}
	return nil
}

// isBoundary reports whether o is a batch boundary: 0, or the end of the entry at o-1's batch.
func (l *memLog) isBoundary(o record.Offset) bool {
	return o == 0 || o <= l.EndOffset() && !l.all[o-1].MoreInBatch
}

// floorBoundary is the largest batch boundary at or below o.
func (l *memLog) floorBoundary(o record.Offset) record.Offset {
	for o > 0 && !l.isBoundary(o) {
		o--
	}
	return max(o, 0)
}

func (l *memLog) appendOne(e Entry) {
	o := l.EndOffset()
	if n := len(l.epochs); o >= l.start && (n == 0 || l.epochs[n-1].epoch < e.Epoch) {
		l.epochs = append(l.epochs, epochStart{epoch: e.Epoch, start: o})
	}
	var prev uint64
	if len(l.prefix) > 0 {
		prev = l.prefix[len(l.prefix)-1]
	}
	h := entryHash(prev, e)
	l.all = append(l.all, e)
	l.prefix = append(l.prefix, h)
	if l.onAppend != nil {
		l.onAppend(o, e, h)
	}
}

// entryHash chains e onto prev: log matching covers epochs, data, batch boundaries and the
// batches' timestamps.
func entryHash(prev uint64, e Entry) uint64 {
	h := fnv.New64a()
	var b [22]byte
	binary.BigEndian.PutUint64(b[:8], prev)
	binary.BigEndian.PutUint32(b[8:12], uint32(e.Epoch))
	if e.Control {
		b[12] = 1
	}
	if e.MoreInBatch {
		b[13] = 1
	}
	binary.BigEndian.PutUint64(b[14:], uint64(e.TimestampMs))
	h.Write(b[:])
	h.Write(e.Data)
	return h.Sum64()
}

func (l *memLog) TruncateTo(o record.Offset) error {
	if o < l.start || o > l.EndOffset() {
		return fmt.Errorf("memlog: truncate to %d outside [%d, %d]", o, l.start, l.EndOffset())
	}
	if !l.isBoundary(o) {
		panic(fmt.Sprintf("memlog: invariant: truncation at a batch boundary: %d is inside a batch", o))
	}
	l.truncations++
	l.cut(o)
	return nil
}

// cut drops the entries at and above o.
func (l *memLog) cut(o record.Offset) {
	l.all = l.all[:o]
	l.prefix = l.prefix[:o]
	for len(l.epochs) > 0 && l.epochs[len(l.epochs)-1].start >= o {
		l.epochs = l.epochs[:len(l.epochs)-1]
	}
	l.durable = min(l.durable, o)
	for id, target := range l.flushes { //purity:allow-map-range test helper, each entry clamped independently
		l.flushes[id] = min(target, o)
	}
}

func (l *memLog) Read(from record.Offset, entriesMax int) ([]Entry, error) {
	if from < l.start || from >= l.EndOffset() {
		return nil, fmt.Errorf("memlog: read at %d outside [%d, %d)", from, l.start, l.EndOffset())
	}
	if !l.isBoundary(from) {
		panic(fmt.Sprintf("memlog: invariant: read at a batch boundary: %d is inside a batch", from))
	}
	// Whole batches within entriesMax, and at least the first however large.
	to := from + 1
	for l.all[to-1].MoreInBatch {
		to++
	}
	for next := to; next < l.EndOffset(); {
		end := next + 1
		for l.all[end-1].MoreInBatch {
			end++
		}
		if end-from > record.Offset(entriesMax) {
			break
		}
		to, next = end, end
	}
	return append([]Entry(nil), l.all[from:to]...), nil
}

func (l *memLog) DurableOffset() record.Offset { return l.durable }

func (l *memLog) LatestSnapshot() (EpochEndOffset, bool) {
	if l.snapshot == nil {
		return EpochEndOffset{}, false
	}
	return l.snapshot.id, true
}

func (l *memLog) ReadSnapshot(id EpochEndOffset, position int64, bytesMax int32) ([]byte, int64, error) {
	s := l.snapshot
	for _, o := range l.older {
		if o.id == id {
			s = o
		}
	}
	if s == nil || s.id != id {
		return nil, 0, fmt.Errorf("memlog: snapshot %+v: %w", id, ErrNoSnapshot)
	}
	size := int64(len(s.data))
	if position > size {
		return nil, size, nil
	}
	end := min(size, position+int64(bytesMax))
	return append([]byte(nil), s.data[position:end]...), size, nil
}

func (l *memLog) WriteSnapshotChunk(id EpochEndOffset, position int64, data []byte) error {
	if position == 0 || l.pending == nil || l.pending.id != id {
		if position != 0 {
			return fmt.Errorf("memlog: snapshot %+v chunk at %d with nothing before it", id, position)
		}
		l.pending = &memSnapshot{id: id}
	}
	if position != int64(len(l.pending.data)) {
		return fmt.Errorf("memlog: snapshot %+v chunk at %d, have %d bytes", id, position, len(l.pending.data))
	}
	l.pending.data = append(l.pending.data, data...)
	return nil
}

func (l *memLog) InstallSnapshot(id EpochEndOffset, size int64) error {
	p := l.pending
	if p == nil || p.id != id || int64(len(p.data)) != size {
		return fmt.Errorf("memlog: install snapshot %+v of %d bytes: not all fetched", id, size)
	}
	entries, err := decodeSnapshot(p.data)
	if err != nil {
		return fmt.Errorf("memlog: install snapshot %+v: %w", id, err)
	}
	if record.Offset(len(entries)) != id.EndOffset || entries[len(entries)-1].Epoch != id.Epoch {
		return fmt.Errorf("memlog: snapshot %+v holds %d entries", id, len(entries))
	}
	l.restartAt(p, entries)
	l.pending = nil
	l.installs++
	return nil
}

// restartAt replaces the whole log with snapshot s of entries.
func (l *memLog) restartAt(s *memSnapshot, entries []Entry) {
	l.all, l.prefix, l.epochs = nil, nil, nil
	l.start = 0
	for _, e := range entries {
		l.appendOne(e)
	}
	l.epochs = nil
	l.start, l.startEpoch = s.id.EndOffset, s.id.Epoch
	l.durable = s.id.EndOffset
	l.snapshot = s
	l.older = nil
	for id := range l.flushes { //purity:allow-map-range test helper, each entry clamped independently
		l.flushes[id] = s.id.EndOffset
	}
}

// takeSnapshot snapshots the entries below at (at most the node's high watermark), as the
// application would; deletePrefix then moves the log start up to it.
func (l *memLog) takeSnapshot(at record.Offset) {
	if at <= 0 || at > l.EndOffset() || l.snapshot != nil && at <= l.snapshot.id.EndOffset {
		return
	}
	if !l.isBoundary(at) {
		panic(fmt.Sprintf("memlog: invariant: snapshot at a batch boundary: %d is inside a batch", at))
	}
	if l.snapshot != nil {
		// Keep the previous ones for transfers under way, as Kafka keeps snapshots a while.
		l.older = append(l.older, l.snapshot)
		if len(l.older) > 16 {
			l.older = l.older[1:]
		}
	}
	l.snapshot = &memSnapshot{id: EpochEndOffset{Epoch: l.all[at-1].Epoch, EndOffset: at}, data: encodeSnapshot(l.all[:at])}
}

func (l *memLog) deletePrefix(at record.Offset) {
	if l.snapshot == nil || at <= l.start || at > l.snapshot.id.EndOffset {
		return
	}
	if !l.isBoundary(at) {
		panic(fmt.Sprintf("memlog: invariant: log start at a batch boundary: %d is inside a batch", at))
	}
	l.start, l.startEpoch = at, l.all[at-1].Epoch
	keep := l.epochs[:0]
	for _, e := range l.epochs {
		if e.start >= at {
			keep = append(keep, e)
		}
	}
	l.epochs = keep
	l.durable = max(l.durable, at) // the snapshot holds what lies below
}

func encodeSnapshot(entries []Entry) []byte {
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

func decodeSnapshot(b []byte) ([]Entry, error) {
	var out []Entry
	for len(b) > 0 {
		const header = 17
		if len(b) < header {
			return nil, errors.New("torn entry header")
		}
		e := Entry{Epoch: record.Epoch(binary.BigEndian.Uint32(b)), Control: b[4]&1 != 0, MoreInBatch: b[4]&2 != 0}
		e.TimestampMs = int64(binary.BigEndian.Uint64(b[5:]))
		n := int(binary.BigEndian.Uint32(b[13:]))
		if len(b) < header+n {
			return nil, errors.New("torn entry")
		}
		e.Data = append([]byte(nil), b[header:header+n]...)
		out = append(out, e)
		b = b[header+n:]
	}
	if len(out) == 0 {
		return nil, errors.New("empty snapshot")
	}
	return out, nil
}

// startFlush begins a flush of everything written so far.
func (l *memLog) startFlush() int {
	l.flushSeq++
	l.flushes[l.flushSeq] = l.EndOffset()
	return l.flushSeq
}

// completeFlush makes the flush's target durable (less whatever was truncated meanwhile).
func (l *memLog) completeFlush(id int) {
	target, ok := l.flushes[id]
	if !ok {
		return
	}
	delete(l.flushes, id)
	l.durable = max(l.durable, min(target, l.EndOffset()))
}

// writeback makes a random part of the unflushed tail durable, as the page cache writes dirty
// pages back on its own: the durable offset may land inside a batch.
func (l *memLog) writeback(rng *rand.Rand) {
	if extra := l.EndOffset() - l.durable; extra > 0 {
		l.durable += record.Offset(rng.Int64N(int64(extra) + 1))
	}
}

// crash keeps the durable prefix and a random part of the rest; a log shorter than its latest
// snapshot restarts at the snapshot (as Kafka truncates fully to it on startup).
func (l *memLog) crash(rng *rand.Rand) {
	keep := l.durable
	if extra := l.EndOffset() - l.durable; extra > 0 {
		keep += record.Offset(rng.Int64N(int64(extra) + 1))
	}
	// Recovery drops a torn last batch, durable part and all: no batch is kept in part.
	keep = l.floorBoundary(keep)
	l.pending = nil
	l.flushes = map[int]record.Offset{}
	if l.snapshot != nil && keep < l.snapshot.id.EndOffset {
		entries, err := decodeSnapshot(l.snapshot.data)
		if err != nil {
			panic(err)
		}
		hook := l.onAppend
		l.onAppend = nil
		l.restartAt(l.snapshot, entries)
		l.onAppend = hook
		return
	}
	l.cut(keep)
	l.durable = keep
}

func (l *memLog) prefixHash(o record.Offset) uint64 {
	if o < 0 {
		return 0
	}
	return l.prefix[o]
}

// visible is the log's entries from its start.
func (l *memLog) visible() []Entry { return l.all[l.start:] }
