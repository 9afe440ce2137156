package record

import "fmt"

// NextBatch splits the first batch off b, a run of concatenated batches (a segment chunk or a
// fetch response's records), and validates it (header sense and CRC; records are not read).
// Callers loop while len(rest) > 0. When b does not hold the whole first batch (a truncated
// tail, which a fetch answer may legitimately end with and log recovery truncates) the error
// is ErrShortBatch; bytes that cannot be a batch are ErrCorruptBatch, ErrInvalidRecord or
// ErrUnsupportedMagic, as Validate says. On error rest is b. It allocates nothing unless it
// fails.
func NextBatch(b []byte) (h Header, batch []byte, rest []byte, err error) {
	h, err = ParseHeader(b)
	if err != nil {
		return h, nil, b, err
	}
	size := h.SizeBytes()
	if size > int64(len(b)) {
		return h, nil, b, fmt.Errorf("%w: batch at base offset %d needs %d bytes, %d left", ErrShortBatch, h.BaseOffset, size, len(b))
	}
	if h, err = Validate(b[:size]); err != nil {
		return h, nil, b, err
	}
	return h, b[:size:size], b[size:], nil
}

// BatchIterator walks the batches of a byte slice with NextBatch:
//
//	it := record.NewBatchIterator(chunk)
//	for it.Next() {
//		use(it.Header(), it.Batch())
//	}
//	if err := it.Err(); err != nil { ... } // it.Position() is where the good bytes end
type BatchIterator struct {
	rest     []byte
	consumed int // input bytes up to the end of the current batch
	header   Header
	batch    []byte
	err      error
}

// NewBatchIterator returns an iterator over the batches in b.
func NewBatchIterator(b []byte) BatchIterator { return BatchIterator{rest: b} }

// Next advances to the next batch, reporting false at the end of the bytes or at a bad batch.
func (it *BatchIterator) Next() bool {
	it.batch = nil
	if it.err != nil || len(it.rest) == 0 {
		return false
	}
	h, batch, rest, err := NextBatch(it.rest)
	if err != nil {
		it.err = fmt.Errorf("at byte %d: %w", it.consumed, err)
		return false
	}
	it.header, it.batch, it.rest = h, batch, rest
	it.consumed += len(batch)
	return true
}

// Header is the current batch's header.
func (it *BatchIterator) Header() Header { return it.header }

// Batch is the current batch's bytes, aliasing the input.
func (it *BatchIterator) Batch() []byte { return it.batch }

// Position is the current batch's byte position in the input; after Next returns false, it is
// where the good bytes end: where a truncated or corrupt tail starts, or len(input).
func (it *BatchIterator) Position() int { return it.consumed - len(it.batch) }

// Err is why iteration stopped: nil at the clean end of the bytes, ErrShortBatch at a
// truncated tail, ErrCorruptBatch, ErrInvalidRecord or ErrUnsupportedMagic at a bad batch.
func (it *BatchIterator) Err() error { return it.err }

// Rest is the input after the current batch; after Next returns false, the unread tail.
func (it *BatchIterator) Rest() []byte { return it.rest }
