package record

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Record is one record of a batch. Key/Value nil means null (a nil Value is a tombstone); an
// empty non-nil slice is an empty, non-null key or value.
type Record struct {
	Attributes     int8
	TimestampDelta int64 // ms after the batch's FirstTimestamp
	OffsetDelta    int32 // offset after the batch's BaseOffset
	Key            []byte
	Value          []byte
	Headers        []RecordHeader
}

// RecordHeader is one header of a record. A nil Value is a null value.
type RecordHeader struct {
	Key   string
	Value []byte
}

// minRecordSizeBytes is the smallest encoded record body after its length: attributes, one-byte
// timestamp and offset deltas, null key, null value, zero headers.
const minRecordSizeBytes = 6

// minRecordFramedSizeBytes adds the one-byte length varint in front of the smallest body.
const minRecordFramedSizeBytes = minRecordSizeBytes + 1

// Largest encodings of Kafka's zigzag varints: int32 in 5 bytes, int64 in 10.
const (
	varintLenMax  = 5
	varlongLenMax = 10
)

// sizeVarint is the encoded size of v as a zigzag varint.
func sizeVarint(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// sizeVarBytes is the encoded size of a nullable byte string with a varint length.
func sizeVarBytes(b []byte) int {
	if b == nil {
		return 1
	}
	return sizeVarint(int64(len(b))) + len(b)
}

func appendVarint(dst []byte, v int64) []byte { return binary.AppendVarint(dst, v) }

func appendVarBytes(dst []byte, b []byte) []byte {
	if b == nil {
		return appendVarint(dst, -1)
	}
	dst = appendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// recordBodySizeBytes is the size of r's encoding after its length prefix.
func recordBodySizeBytes(r *Record) int {
	n := 1 + sizeVarint(r.TimestampDelta) + sizeVarint(int64(r.OffsetDelta)) +
		sizeVarBytes(r.Key) + sizeVarBytes(r.Value) + sizeVarint(int64(len(r.Headers)))
	for i := range r.Headers {
		h := &r.Headers[i]
		n += sizeVarint(int64(len(h.Key))) + len(h.Key) + sizeVarBytes(h.Value)
	}
	return n
}

// checkEncodable reports why r cannot be encoded as a Kafka record, if it cannot: every length
// is an int32 in the format.
func checkEncodable(r *Record) error {
	if len(r.Key) > math.MaxInt32 || len(r.Value) > math.MaxInt32 || len(r.Headers) > math.MaxInt32 {
		return fmt.Errorf("%w: record at offset delta %d too large to encode", ErrInvalidRecord, r.OffsetDelta)
	}
	for i := range r.Headers {
		if len(r.Headers[i].Key) > math.MaxInt32 || len(r.Headers[i].Value) > math.MaxInt32 {
			return fmt.Errorf("%w: header %d of record at offset delta %d too large to encode", ErrInvalidRecord, i, r.OffsetDelta)
		}
	}
	if recordBodySizeBytes(r) > math.MaxInt32 {
		return fmt.Errorf("%w: record at offset delta %d too large to encode", ErrInvalidRecord, r.OffsetDelta)
	}
	return nil
}

// appendRecord appends r in Kafka's DefaultRecord encoding: a varint length, then attributes,
// varlong timestamp delta, varint offset delta, key, value and headers, lengths as varints with
// -1 for null.
func appendRecord(dst []byte, r *Record) []byte {
	dst = appendVarint(dst, int64(recordBodySizeBytes(r)))
	dst = append(dst, byte(r.Attributes))
	dst = appendVarint(dst, r.TimestampDelta)
	dst = appendVarint(dst, int64(r.OffsetDelta))
	dst = appendVarBytes(dst, r.Key)
	dst = appendVarBytes(dst, r.Value)
	dst = appendVarint(dst, int64(len(r.Headers)))
	for i := range r.Headers {
		h := &r.Headers[i]
		dst = appendVarint(dst, int64(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendVarBytes(dst, h.Value)
	}
	return dst
}

// recordReader decodes records from a byte slice. Errors are returned as ErrInvalidRecord: a
// record that does not parse inside a batch whose CRC holds was built wrong by its producer,
// which Kafka reports as INVALID_RECORD (DefaultRecord.readFrom throws InvalidRecordException).
type recordReader struct {
	b   []byte
	pos int
	// skipHeaders checks each header's framing without decoding it (no allocation).
	skipHeaders bool
}

func (rd *recordReader) varlong() (int64, bool) {
	if rd.pos < len(rd.b) && rd.b[rd.pos] < 0x80 {
		// One byte, the common case (small deltas and lengths): zigzag-decode it inline.
		u := int64(rd.b[rd.pos])
		rd.pos++
		return u>>1 ^ -(u & 1), true
	}
	v, n := binary.Varint(rd.b[rd.pos:])
	if n <= 0 {
		return 0, false
	}
	rd.pos += n
	return v, true
}

// varint reads a zigzag varint that must fit an int32, as Kafka's ByteUtils.readVarint requires.
func (rd *recordReader) varint() (int32, bool) {
	if b := rd.b[rd.pos:]; len(b) >= 2 || len(b) == 1 && b[0] < 0x80 {
		// One or two bytes, the common cases (deltas, lengths up to 8 KiB): inline.
		if b[0] < 0x80 {
			u := int32(b[0])
			rd.pos++
			return u>>1 ^ -(u & 1), true
		}
		if b[1] < 0x80 {
			u := int32(b[0]&0x7f) | int32(b[1])<<7
			rd.pos += 2
			return u>>1 ^ -(u & 1), true
		}
	}
	v, n := binary.Varint(rd.b[rd.pos:])
	if n <= 0 || n > varintLenMax || v < math.MinInt32 || v > math.MaxInt32 {
		return 0, false
	}
	rd.pos += n
	return int32(v), true
}

// bytes reads a nullable byte string: a varint length (-1 for null) then that many bytes. The
// result aliases the input.
func (rd *recordReader) bytes() ([]byte, bool) {
	n, ok := rd.varint()
	if !ok || n < -1 {
		return nil, false
	}
	if n == -1 {
		return nil, true
	}
	if int(n) > len(rd.b)-rd.pos {
		return nil, false
	}
	b := rd.b[rd.pos : rd.pos+int(n) : rd.pos+int(n)]
	rd.pos += int(n)
	return b, true
}

// readRecord decodes the next record into r, reusing r.Headers' backing array. It checks the
// record's length framing: the body must be consumed exactly.
func (rd *recordReader) readRecord(r *Record) error {
	start := rd.pos
	length, ok := rd.varint()
	if !ok {
		return fmt.Errorf("%w: bad record length varint at byte %d", ErrInvalidRecord, start)
	}
	if length < minRecordSizeBytes || int(length) > len(rd.b)-rd.pos {
		return fmt.Errorf("%w: record length %d at byte %d with %d bytes left", ErrInvalidRecord, length, start, len(rd.b)-rd.pos)
	}
	body := recordReader{b: rd.b[rd.pos : rd.pos+int(length)], skipHeaders: rd.skipHeaders}
	rd.pos += int(length)
	if err := body.readBody(r); err != nil {
		return fmt.Errorf("%w (record at byte %d)", err, start)
	}
	if body.pos != len(body.b) {
		return fmt.Errorf("%w: record at byte %d declares %d bytes, uses %d", ErrInvalidRecord, start, length, body.pos)
	}
	return nil
}

func (rd *recordReader) readBody(r *Record) error {
	r.Attributes = int8(rd.b[0])
	rd.pos = 1
	var ok bool
	if r.TimestampDelta, ok = rd.varlong(); !ok {
		return fmt.Errorf("%w: bad timestamp delta", ErrInvalidRecord)
	}
	if r.OffsetDelta, ok = rd.varint(); !ok {
		return fmt.Errorf("%w: bad offset delta", ErrInvalidRecord)
	}
	if r.Key, ok = rd.bytes(); !ok {
		return fmt.Errorf("%w: bad key length", ErrInvalidRecord)
	}
	if r.Value, ok = rd.bytes(); !ok {
		return fmt.Errorf("%w: bad value length", ErrInvalidRecord)
	}
	count, ok := rd.varint()
	// Each header takes at least two bytes (key and value lengths): bound the count by what the
	// remaining bytes could hold before growing anything.
	if !ok || count < 0 || int(count) > (len(rd.b)-rd.pos)/2 {
		return fmt.Errorf("%w: bad header count %d", ErrInvalidRecord, count)
	}
	r.Headers = r.Headers[:0]
	for i := 0; i < int(count); i++ {
		keyLen, ok := rd.varint()
		if !ok || keyLen < 0 || int(keyLen) > len(rd.b)-rd.pos {
			return fmt.Errorf("%w: bad key length of header %d", ErrInvalidRecord, i)
		}
		key := rd.b[rd.pos : rd.pos+int(keyLen)]
		rd.pos += int(keyLen)
		value, ok := rd.bytes()
		if !ok {
			return fmt.Errorf("%w: bad value length of header %d", ErrInvalidRecord, i)
		}
		if !rd.skipHeaders {
			r.Headers = append(r.Headers, RecordHeader{Key: string(key), Value: value})
		}
	}
	return nil
}
