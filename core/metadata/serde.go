package metadata

import (
	"errors"
	"fmt"
	"math"
)

// frameVersion is the only frame version of Kafka's AbstractApiMessageSerde.
const frameVersion = 1

// ErrUnknownRecordType is returned (wrapped) for a well-framed record of a type Weir does not
// know, so a reader can tell "not ours yet" from corruption.
var ErrUnknownRecordType = errors.New("metadata: unknown record type")

// AppendRecord appends r as a metadata-log record value (Kafka's ApiMessageAndVersion serde):
// unsigned varint frame version 1, api key, version, then the message. It fails, appending
// nothing, if the version is not valid for the type or a field cannot be carried at it.
func AppendRecord(dst []byte, r Record) ([]byte, error) {
	t, v := r.Type(), r.recordVersion()
	valid, ok := validVersions[t]
	if !ok {
		return dst, fmt.Errorf("%w: %d", ErrUnknownRecordType, int16(t))
	}
	if v < valid.min || v > valid.max {
		return dst, fmt.Errorf("metadata: %s version %d is not in the valid versions %d-%d", t, v, valid.min, valid.max)
	}
	w := writer{b: dst}
	w.uvarint(frameVersion)
	w.uvarint(uint64(t))
	w.uvarint(uint64(v))
	if err := r.appendBody(&w); err != nil {
		return dst, err
	}
	return w.b, nil
}

// EncodeRecord returns r encoded as a metadata-log record value; see AppendRecord.
func EncodeRecord(r Record) ([]byte, error) { return AppendRecord(nil, r) }

// DecodeRecord decodes a metadata-log record value. Bytes that are not exactly one valid record
// (bad frame version, unknown type or version, truncation, trailing bytes, a null where the schema
// forbids it) are an error wrapping ErrCorruptRecord or ErrUnknownRecordType; it never panics.
func DecodeRecord(value []byte) (Record, error) {
	t, v, rd, err := decodeFrame(value)
	if err != nil {
		return nil, err
	}
	rec := newRecord(t)
	rec.readBody(rd, v)
	if rd.err != nil {
		return nil, rd.err
	}
	if len(rd.b) != 0 {
		return nil, fmt.Errorf("%w: %s version %d: %d bytes left over", ErrCorruptRecord, t, v, len(rd.b))
	}
	return rec, nil
}

// decodeFrame reads the frame and returns the record's type and version and a reader over its
// message.
func decodeFrame(value []byte) (RecordType, int16, *reader, error) {
	rd := &reader{b: value, what: "frame"}
	if value == nil {
		return 0, 0, nil, fmt.Errorf("%w: null value", ErrCorruptRecord)
	}
	frame := rd.uvarint()
	apiKey := rd.uvarint()
	version := rd.uvarint()
	if rd.err != nil {
		return 0, 0, nil, rd.err
	}
	if frame != frameVersion {
		return 0, 0, nil, fmt.Errorf("%w: frame version %d, want %d", ErrCorruptRecord, frame, frameVersion)
	}
	if apiKey > math.MaxInt16 {
		return 0, 0, nil, fmt.Errorf("%w: api key %d", ErrCorruptRecord, apiKey)
	}
	t := RecordType(apiKey)
	valid, ok := validVersions[t]
	if !ok {
		return 0, 0, nil, fmt.Errorf("%w: api key %d", ErrUnknownRecordType, apiKey)
	}
	if version > math.MaxInt16 || int16(version) < valid.min || int16(version) > valid.max {
		return 0, 0, nil, fmt.Errorf("%w: %s version %d is not in the valid versions %d-%d", ErrCorruptRecord, t, version, valid.min, valid.max)
	}
	rd.what = fmt.Sprintf("%s v%d", t, version)
	return t, int16(version), rd, nil
}
