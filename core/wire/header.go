package wire

import (
	"encoding/binary"
	"fmt"
	"math"
)

// apiVersionsKey is ApiVersions, whose response header is always v0 (KIP-511: a client must
// be able to read the answer before it knows which versions the broker speaks).
const apiVersionsKey = 18

// RequestHeader is a request's header. Header v1 carries the four fields; header v2, used by
// a request's flexible versions, adds tagged fields, of which none are defined: they are
// checked for framing and skipped.
type RequestHeader struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	ClientID      *string // nil is a null client id
}

// parseRequestHeader decodes a request header from the start of frame, with tagged fields if
// flexible, and returns the bytes after it (the body).
func parseRequestHeader(frame []byte, flexible bool) (RequestHeader, []byte, error) {
	var h RequestHeader
	if len(frame) < RequestHeaderMinBytes {
		return h, nil, fmt.Errorf("%w: request header needs %d bytes, frame has %d", ErrMalformed, RequestHeaderMinBytes, len(frame))
	}
	h.APIKey = int16(binary.BigEndian.Uint16(frame[0:]))
	h.APIVersion = int16(binary.BigEndian.Uint16(frame[2:]))
	h.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
	clientIDBytes := int16(binary.BigEndian.Uint16(frame[8:]))
	rest := frame[RequestHeaderMinBytes:]
	switch {
	case clientIDBytes == -1:
	case clientIDBytes < -1:
		return h, nil, fmt.Errorf("%w: client id length %d", ErrMalformed, clientIDBytes)
	case int(clientIDBytes) > len(rest):
		return h, nil, fmt.Errorf("%w: client id length %d, %d bytes left", ErrMalformed, clientIDBytes, len(rest))
	default:
		clientID := string(rest[:clientIDBytes])
		h.ClientID = &clientID
		rest = rest[clientIDBytes:]
	}
	if flexible {
		var err error
		if rest, err = skipTaggedFields(rest); err != nil {
			return h, nil, fmt.Errorf("request header tagged fields: %w", err)
		}
	}
	return h, rest, nil
}

// skipTaggedFields checks the framing of a tagged-field section and returns the bytes after
// it. Like Kafka's generated readers, it does not require the tags to be in order.
func skipTaggedFields(b []byte) ([]byte, error) {
	count, b, err := readUvarint(b)
	if err != nil {
		return nil, fmt.Errorf("tagged field count: %w", err)
	}
	if uint64(count) > uint64(len(b)) { // each field takes at least two bytes
		return nil, fmt.Errorf("%w: %d tagged fields in %d bytes", ErrMalformed, count, len(b))
	}
	for i := uint32(0); i < count; i++ {
		var size uint32
		if _, b, err = readUvarint(b); err != nil {
			return nil, fmt.Errorf("tagged field %d: tag: %w", i, err)
		}
		if size, b, err = readUvarint(b); err != nil {
			return nil, fmt.Errorf("tagged field %d: size: %w", i, err)
		}
		if uint64(size) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: tagged field %d: size %d, %d bytes left", ErrMalformed, i, size, len(b))
		}
		b = b[size:]
	}
	return b, nil
}

// readUvarint reads an unsigned varint of at most 32 bits (Kafka's UNSIGNED_VARINT).
func readUvarint(b []byte) (uint32, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 || n > binary.MaxVarintLen32 || v > math.MaxUint32 {
		return 0, nil, fmt.Errorf("%w: bad unsigned varint", ErrMalformed)
	}
	return uint32(v), b[n:], nil
}

// appendRequestHeader writes a request header, v2 (an empty tagged-field section) if flexible.
func appendRequestHeader(dst []byte, h RequestHeader, flexible bool) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(h.APIKey))
	dst = binary.BigEndian.AppendUint16(dst, uint16(h.APIVersion))
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.CorrelationID))
	if h.ClientID == nil {
		dst = binary.BigEndian.AppendUint16(dst, math.MaxUint16) // -1: null
	} else {
		id := *h.ClientID
		if len(id) > math.MaxInt16 {
			panic(fmt.Sprintf("wire: client id of %d bytes exceeds the int16 length field", len(id)))
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(id)))
		dst = append(dst, id...)
	}
	if flexible {
		dst = append(dst, 0)
	}
	return dst
}

// responseHeaderFlexible reports whether a response uses header v1 (tagged fields): when its
// version is flexible, except ApiVersions, whose response header is always v0.
func responseHeaderFlexible(key int16, bodyFlexible bool) bool {
	return bodyFlexible && key != apiVersionsKey
}
