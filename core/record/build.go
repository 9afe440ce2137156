package record

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// BatchOptions are a new batch's header fields. MaxTimestamp is computed from the records;
// LastOffsetDelta is the last record's OffsetDelta; the record count is len(records).
type BatchOptions struct {
	BaseOffset           Offset
	PartitionLeaderEpoch Epoch // NoPartitionLeaderEpoch (-1) when none
	Codec                Codec
	FirstTimestamp       int64 // ms; record timestamps are FirstTimestamp+TimestampDelta
	ProducerID           int64 // NoProducerID (-1) when none
	ProducerEpoch        int16 // -1 when none
	BaseSequence         int32 // NoSequence (-1) when none
	Transactional        bool
	Control              bool
	LogAppendTime        bool // timestamps are the broker's: MaxTimestamp is FirstTimestamp
	// EmptyLastOffsetDelta is the LastOffsetDelta of a batch with no records: the log cleaner
	// keeps an emptied batch to preserve its producer state and offset range, as Kafka does.
	// Ignored when there are records.
	EmptyLastOffsetDelta int32
}

// attributes encodes the options' attribute bits.
func (o *BatchOptions) attributes() int16 {
	a := int16(o.Codec) & codecMask
	if o.LogAppendTime {
		a |= timestampTypeBit
	}
	if o.Transactional {
		a |= transactionalBit
	}
	if o.Control {
		a |= controlBit
	}
	return a
}

// AppendBatch encodes records as one v2 batch (compressed with opts.Codec) appended to dst,
// with the CRC set. Offset deltas must be non-negative and strictly increasing (a compacted
// batch may have gaps). It allocates a fresh compressor for compressed codecs; callers that
// build many compressed batches keep a Compressor.
func AppendBatch(dst []byte, opts BatchOptions, records []Record) ([]byte, error) {
	if opts.Codec == CodecNone {
		return appendBatch(dst, opts, records, nil)
	}
	var c Compressor
	return c.AppendBatch(dst, opts, records)
}

// appendBatch is AppendBatch with the compressor c (nil only for CodecNone).
func appendBatch(dst []byte, opts BatchOptions, records []Record, c *Compressor) ([]byte, error) {
	if opts.Codec < CodecNone || opts.Codec > CodecZstd {
		return dst, fmt.Errorf("%w: unknown codec %d", ErrInvalidRecord, opts.Codec)
	}
	if opts.BaseOffset < 0 {
		return dst, fmt.Errorf("%w: negative base offset %d", ErrInvalidRecord, opts.BaseOffset)
	}
	if len(records) > math.MaxInt32 {
		return dst, fmt.Errorf("%w: %d records in one batch", ErrInvalidRecord, len(records))
	}
	lastOffsetDelta := opts.EmptyLastOffsetDelta
	maxTimestamp := opts.FirstTimestamp
	for i := range records {
		r := &records[i]
		if r.OffsetDelta < 0 {
			return dst, fmt.Errorf("%w: record %d has negative offset delta %d", ErrInvalidRecord, i, r.OffsetDelta)
		}
		if i > 0 && r.OffsetDelta <= records[i-1].OffsetDelta {
			return dst, fmt.Errorf("%w: record %d has offset delta %d after %d", ErrInvalidRecord, i, r.OffsetDelta, records[i-1].OffsetDelta)
		}
		if err := checkEncodable(r); err != nil {
			return dst, err
		}
		lastOffsetDelta = r.OffsetDelta
		if !opts.LogAppendTime && r.TimestampDelta > 0 && opts.FirstTimestamp+r.TimestampDelta > maxTimestamp {
			maxTimestamp = opts.FirstTimestamp + r.TimestampDelta
		}
	}
	if lastOffsetDelta < 0 {
		return dst, fmt.Errorf("%w: negative last offset delta %d", ErrInvalidRecord, lastOffsetDelta)
	}
	if opts.BaseOffset > math.MaxInt64-Offset(lastOffsetDelta) {
		return dst, fmt.Errorf("%w: offsets overflow past base offset %d", ErrInvalidRecord, opts.BaseOffset)
	}

	if opts.Codec == CodecNone {
		// The batch's exact size, so that dst grows once instead of doubling record by record.
		sizeBytes := HeaderSizeBytes
		for i := range records {
			body := recordBodySizeBytes(&records[i])
			sizeBytes += sizeVarint(int64(body)) + body
		}
		dst = slices.Grow(dst, sizeBytes)
	}
	start := len(dst)
	var header [HeaderSizeBytes]byte
	dst = append(dst, header[:]...)
	b := dst[start:]
	binary.BigEndian.PutUint64(b[baseOffsetPos:], uint64(opts.BaseOffset))
	binary.BigEndian.PutUint32(b[partitionLeaderEpochPos:], uint32(opts.PartitionLeaderEpoch))
	b[magicPos] = MagicV2
	binary.BigEndian.PutUint16(b[attributesPos:], uint16(opts.attributes()))
	binary.BigEndian.PutUint32(b[lastOffsetDeltaPos:], uint32(lastOffsetDelta))
	binary.BigEndian.PutUint64(b[firstTimestampPos:], uint64(opts.FirstTimestamp))
	binary.BigEndian.PutUint64(b[maxTimestampPos:], uint64(maxTimestamp))
	binary.BigEndian.PutUint64(b[producerIDPos:], uint64(opts.ProducerID))
	binary.BigEndian.PutUint16(b[producerEpochPos:], uint16(opts.ProducerEpoch))
	binary.BigEndian.PutUint32(b[baseSequencePos:], uint32(opts.BaseSequence))
	binary.BigEndian.PutUint32(b[recordCountPos:], uint32(len(records)))

	if opts.Codec == CodecNone {
		for i := range records {
			dst = appendRecord(dst, &records[i])
		}
	} else {
		c.raw = c.raw[:0]
		for i := range records {
			c.raw = appendRecord(c.raw, &records[i])
		}
		var err error
		if dst, err = c.compress(dst, opts.Codec, c.raw); err != nil {
			return dst[:start], err
		}
	}
	if len(dst)-start-LogOverheadBytes > math.MaxInt32 {
		return dst[:start], fmt.Errorf("%w: batch of %d bytes exceeds the format's limit", ErrInvalidRecord, len(dst)-start)
	}
	b = dst[start:]
	binary.BigEndian.PutUint32(b[batchLengthPos:], uint32(len(b)-LogOverheadBytes))
	binary.BigEndian.PutUint32(b[crcPos:], ComputeCRC(b))
	return dst, nil
}
