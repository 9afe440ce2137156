package quorum

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"

	"github.com/weirdata/weir/core/record"
)

// memLog is an in-memory Log with a crash model: entries above the durable offset may be lost
// (a random prefix of them survives), as unflushed page-cache writes are. A truncation is
// durable at once (a simplification: a file's shrink is metadata the next sync covers).
type memLog struct {
	entries  []Entry
	prefix   []uint64 // prefix[i]: hash of entries[0..i], for the log-matching checks
	epochs   []epochStart
	durable  record.Offset
	flushes  map[int]record.Offset // pending flush id → target offset
	flushSeq int
	// onAppend is called for every appended entry with its offset and prefix hash.
	onAppend    func(o record.Offset, e Entry, prefix uint64)
	truncations int
}

type epochStart struct {
	epoch record.Epoch
	start record.Offset
}

func newMemLog() *memLog { return &memLog{flushes: map[int]record.Offset{}} }

func (l *memLog) EndOffset() record.Offset { return record.Offset(len(l.entries)) }

func (l *memLog) LastEpoch() record.Epoch {
	if len(l.entries) == 0 {
		return 0
	}
	return l.entries[len(l.entries)-1].Epoch
}

func (l *memLog) EndOffsetForEpoch(epoch record.Epoch) (record.Epoch, record.Offset) {
	for i := len(l.epochs) - 1; i >= 0; i-- {
		if l.epochs[i].epoch <= epoch {
			if i == len(l.epochs)-1 {
				return l.epochs[i].epoch, l.EndOffset()
			}
			return l.epochs[i].epoch, l.epochs[i+1].start
		}
	}
	return UndefinedEpoch, UndefinedOffset
}

func (l *memLog) Append(entries []Entry) error {
	for _, e := range entries {
		o := l.EndOffset()
		if n := len(l.epochs); n == 0 || l.epochs[n-1].epoch < e.Epoch {
			l.epochs = append(l.epochs, epochStart{epoch: e.Epoch, start: o})
		} else if l.epochs[n-1].epoch > e.Epoch {
			panic(fmt.Sprintf("memlog: entry of epoch %d after epoch %d", e.Epoch, l.epochs[n-1].epoch))
		}
		var prev uint64
		if len(l.prefix) > 0 {
			prev = l.prefix[len(l.prefix)-1]
		}
		h := entryHash(prev, e)
		l.entries = append(l.entries, e)
		l.prefix = append(l.prefix, h)
		if l.onAppend != nil {
			l.onAppend(o, e, h)
		}
	}
	return nil
}

func entryHash(prev uint64, e Entry) uint64 {
	h := fnv.New64a()
	var b [13]byte
	binary.BigEndian.PutUint64(b[:8], prev)
	binary.BigEndian.PutUint32(b[8:12], uint32(e.Epoch))
	if e.Control {
		b[12] = 1
	}
	h.Write(b[:])
	h.Write(e.Data)
	return h.Sum64()
}

func (l *memLog) TruncateTo(o record.Offset) error {
	if o < 0 || o > l.EndOffset() {
		return fmt.Errorf("memlog: truncate to %d outside [0, %d]", o, l.EndOffset())
	}
	l.truncations++
	l.entries = l.entries[:o]
	l.prefix = l.prefix[:o]
	for len(l.epochs) > 0 && l.epochs[len(l.epochs)-1].start >= o {
		l.epochs = l.epochs[:len(l.epochs)-1]
	}
	l.durable = min(l.durable, o)
	for id, target := range l.flushes { //purity:allow-map-range test helper, each entry clamped independently
		l.flushes[id] = min(target, o)
	}
	return nil
}

func (l *memLog) Read(from record.Offset, entriesMax int) ([]Entry, error) {
	if from < 0 || from >= l.EndOffset() {
		return nil, fmt.Errorf("memlog: read at %d outside [0, %d)", from, l.EndOffset())
	}
	to := min(l.EndOffset(), from+record.Offset(entriesMax))
	return append([]Entry(nil), l.entries[from:to]...), nil
}

func (l *memLog) DurableOffset() record.Offset { return l.durable }

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

// crash keeps the durable prefix and a random part of the rest.
func (l *memLog) crash(rng *rand.Rand) {
	keep := l.durable
	if extra := l.EndOffset() - l.durable; extra > 0 {
		keep += record.Offset(rng.Int64N(int64(extra) + 1))
	}
	l.entries = l.entries[:keep]
	l.prefix = l.prefix[:keep]
	for len(l.epochs) > 0 && l.epochs[len(l.epochs)-1].start >= keep {
		l.epochs = l.epochs[:len(l.epochs)-1]
	}
	l.durable = keep
	l.flushes = map[int]record.Offset{}
}

func (l *memLog) prefixHash(o record.Offset) uint64 {
	if o < 0 {
		return 0
	}
	return l.prefix[o]
}
