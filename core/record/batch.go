package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Offset is a position in a partition's log: the offset of one record.
type Offset int64

// Epoch is a leader epoch.
type Epoch int32

// Layout of a record batch, magic v2 (Kafka's DefaultRecordBatch). All integers big-endian.
const (
	baseOffsetPos           = 0  // int64
	batchLengthPos          = 8  // int32: bytes after this field
	partitionLeaderEpochPos = 12 // int32
	magicPos                = 16 // int8
	crcPos                  = 17 // uint32, CRC32C of attributes..end
	attributesPos           = 21 // int16
	lastOffsetDeltaPos      = 23 // int32
	firstTimestampPos       = 27 // int64
	maxTimestampPos         = 35 // int64
	producerIDPos           = 43 // int64
	producerEpochPos        = 51 // int16
	baseSequencePos         = 53 // int32
	recordCountPos          = 57 // int32

	// HeaderSizeBytes is the size of a v2 batch header; records follow it.
	HeaderSizeBytes = 61
	// LogOverheadBytes is the part of the header not counted by batchLength (offset + length).
	LogOverheadBytes = 12
	// crcCoveredPos is where the CRC's coverage starts: it does not cover the first 21 bytes.
	crcCoveredPos = attributesPos

	// MagicV2 is the only batch format Weir stores.
	MagicV2 = 2
)

// Attribute bits.
const (
	codecMask              = 0x07
	timestampTypeBit       = 0x08
	transactionalBit       = 0x10
	controlBit             = 0x20
	deleteHorizonBit       = 0x40
	NoProducerID           = -1
	NoSequence             = -1
	NoPartitionLeaderEpoch = -1
	NoTimestamp            = -1
)

// Codec is a batch's compression codec (attributes bits 0-2).
type Codec int8

const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// castagnoli is the CRC32C table; hash/crc32 uses the SSE4.2 instruction for it on amd64.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the decoded fixed part of a v2 record batch. Decoding it allocates nothing.
type Header struct {
	BaseOffset           Offset
	BatchLength          int32 // bytes after the BatchLength field: total size is BatchLength+12
	PartitionLeaderEpoch Epoch
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64 // milliseconds since the epoch
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// SizeBytes is the batch's whole size on the wire and on disk.
func (h *Header) SizeBytes() int64 { return int64(h.BatchLength) + LogOverheadBytes }

// LastOffset is the offset of the batch's last record.
func (h *Header) LastOffset() Offset { return h.BaseOffset + Offset(h.LastOffsetDelta) }

// NextOffset is the offset after the batch.
func (h *Header) NextOffset() Offset { return h.LastOffset() + 1 }

// Codec is the compression codec.
func (h *Header) Codec() Codec { return Codec(h.Attributes & codecMask) }

// LogAppendTime reports whether timestamps are the broker's append time.
func (h *Header) LogAppendTime() bool { return h.Attributes&timestampTypeBit != 0 }

// Transactional reports whether the batch belongs to a transaction.
func (h *Header) Transactional() bool { return h.Attributes&transactionalBit != 0 }

// Control reports whether the batch holds a control record (transaction marker).
func (h *Header) Control() bool { return h.Attributes&controlBit != 0 }

// HasDeleteHorizon reports whether FirstTimestamp is the compaction delete horizon.
func (h *Header) HasDeleteHorizon() bool { return h.Attributes&deleteHorizonBit != 0 }

// Errors from parsing. Each is wrapped with context; callers match with errors.Is.
var (
	// ErrShortBatch: fewer bytes than the header or the declared length need.
	ErrShortBatch = errors.New("record: batch truncated")
	// ErrCorruptBatch: the bytes do not form a valid v2 batch (CORRUPT_MESSAGE).
	ErrCorruptBatch = errors.New("record: corrupt batch")
	// ErrUnsupportedMagic: a magic other than 2 (message format v0/v1 is not stored).
	ErrUnsupportedMagic = errors.New("record: unsupported magic")
	// ErrInvalidRecord: the bytes form a batch, but it breaks a rule Kafka enforces on what
	// may be appended, such as consecutive offset deltas from a producer (INVALID_RECORD).
	ErrInvalidRecord = errors.New("record: invalid record")
)

// ParseHeader decodes the header at the start of b. It checks only what is needed to know the
// batch's extent: enough bytes for a header and a batch length that is at least a header's.
// It does not check the CRC or that b holds the whole batch; Validate does.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSizeBytes {
		return h, fmt.Errorf("%w: %d bytes, header needs %d", ErrShortBatch, len(b), HeaderSizeBytes)
	}
	h.BaseOffset = Offset(be64(b[baseOffsetPos:]))
	h.BatchLength = int32(binary.BigEndian.Uint32(b[batchLengthPos:]))
	h.PartitionLeaderEpoch = Epoch(int32(binary.BigEndian.Uint32(b[partitionLeaderEpochPos:])))
	h.Magic = int8(b[magicPos])
	h.CRC = binary.BigEndian.Uint32(b[crcPos:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[attributesPos:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[lastOffsetDeltaPos:]))
	h.FirstTimestamp = be64(b[firstTimestampPos:])
	h.MaxTimestamp = be64(b[maxTimestampPos:])
	h.ProducerID = be64(b[producerIDPos:])
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[producerEpochPos:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[baseSequencePos:]))
	h.RecordCount = int32(binary.BigEndian.Uint32(b[recordCountPos:]))
	if h.Magic != MagicV2 {
		return h, fmt.Errorf("%w: magic %d at base offset %d", ErrUnsupportedMagic, h.Magic, h.BaseOffset)
	}
	if int64(h.BatchLength) < HeaderSizeBytes-LogOverheadBytes {
		return h, fmt.Errorf("%w: batch length %d shorter than a header", ErrCorruptBatch, h.BatchLength)
	}
	return h, nil
}

// Validate checks a whole batch held exactly in b (len(b) == SizeBytes): its extent, the sense
// of the fields the CRC does not cover (base offset, length, magic: checked on every read), the
// CRC32C over the rest, then the sense of the fields the CRC covers. It does not decompress;
// ValidateRecords checks the records. It allocates nothing unless it fails.
//
// Any error means the batch is unusable; the sentinel says whose fault it is. Damaged bytes
// (short, wrong lengths, CRC mismatch) are ErrCorruptBatch, Kafka's CORRUPT_MESSAGE, which
// clients retry. A batch whose CRC holds but whose fields make no sense was written that way,
// so it is ErrInvalidRecord, Kafka's INVALID_RECORD, which clients do not retry.
func Validate(b []byte) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, err
	}
	if int64(len(b)) != h.SizeBytes() {
		if int64(len(b)) < h.SizeBytes() {
			return h, fmt.Errorf("%w: have %d of %d bytes at base offset %d", ErrShortBatch, len(b), h.SizeBytes(), h.BaseOffset)
		}
		return h, fmt.Errorf("%w: %d bytes for a batch of %d", ErrCorruptBatch, len(b), h.SizeBytes())
	}
	if h.BaseOffset < 0 {
		return h, fmt.Errorf("%w: negative base offset %d", ErrCorruptBatch, h.BaseOffset)
	}
	if got := crc32.Checksum(b[crcCoveredPos:], castagnoli); got != h.CRC {
		return h, fmt.Errorf("%w: crc mismatch at base offset %d: stored %08x, computed %08x", ErrCorruptBatch, h.BaseOffset, h.CRC, got)
	}
	if h.LastOffsetDelta > 0 && h.BaseOffset > math.MaxInt64-Offset(h.LastOffsetDelta) {
		// The base offset is outside the CRC: a damaged one is the likelier cause.
		return h, fmt.Errorf("%w: offset overflow at base offset %d", ErrCorruptBatch, h.BaseOffset)
	}
	if err := h.checkFields(); err != nil {
		return h, err
	}
	return h, nil
}

// checkFields checks the CRC-covered header fields for values no valid batch has.
func (h *Header) checkFields() error {
	switch {
	case h.LastOffsetDelta < 0:
		return fmt.Errorf("%w: negative last offset delta %d at base offset %d", ErrInvalidRecord, h.LastOffsetDelta, h.BaseOffset)
	case h.RecordCount < 0:
		return fmt.Errorf("%w: negative record count %d at base offset %d", ErrInvalidRecord, h.RecordCount, h.BaseOffset)
	case h.Codec() > CodecZstd:
		return fmt.Errorf("%w: unknown codec %d at base offset %d", ErrInvalidRecord, h.Codec(), h.BaseOffset)
	case int64(h.RecordCount) > int64(h.LastOffsetDelta)+1:
		// Each record has its own offset in the batch's range (compaction only removes some).
		return fmt.Errorf("%w: %d records in an offset range of %d at base offset %d", ErrInvalidRecord, h.RecordCount, int64(h.LastOffsetDelta)+1, h.BaseOffset)
	}
	// An uncompressed record takes at least 7 bytes (length, attributes, two deltas, key and
	// value lengths, header count), so the count cannot exceed what the bytes could hold.
	if h.Codec() == CodecNone && int64(h.RecordCount)*minRecordFramedSizeBytes > int64(h.BatchLength)-(HeaderSizeBytes-LogOverheadBytes) {
		return fmt.Errorf("%w: %d records cannot fit in %d bytes at base offset %d", ErrInvalidRecord, h.RecordCount, h.BatchLength, h.BaseOffset)
	}
	return nil
}

// ComputeCRC returns the CRC32C a batch's header should carry.
func ComputeCRC(b []byte) uint32 { return crc32.Checksum(b[crcCoveredPos:], castagnoli) }

// SetBaseOffset rewrites a batch's base offset in place. The CRC does not cover it.
func SetBaseOffset(b []byte, base Offset) {
	binary.BigEndian.PutUint64(b[baseOffsetPos:], uint64(base))
}

// SetPartitionLeaderEpoch rewrites the leader epoch in place. The CRC does not cover it.
func SetPartitionLeaderEpoch(b []byte, epoch Epoch) {
	binary.BigEndian.PutUint32(b[partitionLeaderEpochPos:], uint32(epoch))
}

// SetLogAppendTime marks the batch as LogAppendTime with the given time as its max timestamp,
// as Kafka's broker does for message.timestamp.type=LogAppendTime, and recomputes the CRC.
func SetLogAppendTime(b []byte, appendTimeMs int64) {
	attributes := binary.BigEndian.Uint16(b[attributesPos:]) | timestampTypeBit
	binary.BigEndian.PutUint16(b[attributesPos:], attributes)
	binary.BigEndian.PutUint64(b[maxTimestampPos:], uint64(appendTimeMs))
	binary.BigEndian.PutUint32(b[crcPos:], ComputeCRC(b))
}

func be64(b []byte) int64 { return int64(binary.BigEndian.Uint64(b)) }
