package record

import "fmt"

// ForEachRecord decodes a whole batch's records (decompressing) and calls fn for each; the
// Record and its slices are valid only during the call. It validates the batch first (header
// and CRC) and checks the record framing: exactly RecordCount records filling the records
// section. A batch that fails to decompress is ErrCorruptBatch; records that do not parse are
// ErrInvalidRecord. An error from fn stops the iteration and is returned as is. Compressed batches are
// bounded by DefaultDecompressedBytesMax; callers on a hot path keep a Decompressor.
func ForEachRecord(batch []byte, fn func(r *Record) error) error {
	h, err := Validate(batch)
	if err != nil {
		return err
	}
	if h.Codec() == CodecNone {
		var r Record
		return forEachRecord(&h, batch[HeaderSizeBytes:], &r, false, fn)
	}
	return NewDecompressor(DefaultDecompressedBytesMax).forEachValidated(&h, batch, fn)
}

// ForEachRecord is the package's ForEachRecord with d's decoders, buffers and bound. The
// Record passed to fn is reused across calls.
func (d *Decompressor) ForEachRecord(batch []byte, fn func(r *Record) error) error {
	h, err := Validate(batch)
	if err != nil {
		return err
	}
	return d.forEachValidated(&h, batch, fn)
}

// forEachValidated iterates the records of a batch that passed Validate.
func (d *Decompressor) forEachValidated(h *Header, batch []byte, fn func(r *Record) error) error {
	records, err := d.records(h, batch)
	if err != nil {
		return err
	}
	return forEachRecord(h, records, &d.record, false, fn)
}

// records returns the batch's records section, decompressed.
func (d *Decompressor) records(h *Header, batch []byte) ([]byte, error) {
	records, err := d.Decompress(h.Codec(), batch[HeaderSizeBytes:])
	if err != nil {
		return nil, fmt.Errorf("batch at base offset %d: %w", h.BaseOffset, err)
	}
	return records, nil
}

// forEachRecord decodes h.RecordCount records from b, which they must fill exactly.
// forEachRecord decodes b's records into r one by one, calling fn for each; with skipHeaders
// the headers are checked but not decoded into r.Headers (left empty).
func forEachRecord(h *Header, b []byte, r *Record, skipHeaders bool, fn func(r *Record) error) error {
	// Bound the count by what the bytes can hold before looping on a forged count.
	if int64(h.RecordCount)*minRecordFramedSizeBytes > int64(len(b)) {
		return fmt.Errorf("%w: %d records cannot fit in %d bytes at base offset %d", ErrInvalidRecord, h.RecordCount, len(b), h.BaseOffset)
	}
	rd := recordReader{b: b, skipHeaders: skipHeaders}
	for i := int32(0); i < h.RecordCount; i++ {
		if err := rd.readRecord(r); err != nil {
			return fmt.Errorf("record %d of batch at base offset %d: %w", i, h.BaseOffset, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if rd.pos != len(b) {
		return fmt.Errorf("%w: %d bytes after the last of %d records at base offset %d", ErrInvalidRecord, len(b)-rd.pos, h.RecordCount, h.BaseOffset)
	}
	return nil
}
