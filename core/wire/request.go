package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Errors from DecodeRequest, matched with errors.Is. Each means the driver closes the
// connection (logging the error), as Kafka does, except ErrUnsupportedVersion on ApiVersions:
// the broker answers that with UnsupportedApiVersionsResponse (KIP-511).
var (
	// ErrMalformed: the frame is not a request: a short or bad header, or a body that is
	// truncated, has trailing bytes or does not decode.
	ErrMalformed = errors.New("wire: malformed request")
	// ErrUnknownAPIKey: an api key that is not Kafka's or that the version table does not list.
	ErrUnknownAPIKey = errors.New("wire: unknown or unadvertised api key")
	// ErrUnsupportedVersion: a listed api key at a version outside the advertised range.
	ErrUnsupportedVersion = errors.New("wire: unsupported api version")
)

// Request is a decoded request. Body aliases the frame it was decoded from (record batches are
// not copied), so the frame must stay untouched while the Request is in use.
type Request struct {
	Header         RequestHeader
	Body           kmsg.Request // nil when DecodeRequest fails
	FrameSizeBytes int          // the frame's size without its prefix, for byte budgets
}

// DecodeRequest decodes a frame (the bytes after the size prefix) into a Request, accepting
// only the keys and versions in versions. On error the returned Request still carries what
// of the header could be read (at least api key, version and correlation id once the frame
// holds them) for logging and for answering ApiVersions. It never panics on any input: kmsg's
// decoder does not panic by design, and a panic from it would be caught and returned as
// ErrMalformed.
//
// Upstream kmsg v1.15 keeps looping over a tagged-field count after its reader has run out of
// bytes (a few bytes declaring 2^32-1 tagged fields cost a minute of CPU); the kmsg this module
// builds with, third_party/kmsg, stops there. See TestDecodeRequestHugeTagCount.
func DecodeRequest(frame []byte, versions *VersionTable) (req Request, err error) {
	req.FrameSizeBytes = len(frame)
	defer func() {
		// Untrusted bytes: a decoder bug must cost one connection, not the process.
		if r := recover(); r != nil {
			req.Body = nil
			err = fmt.Errorf("%w: %s v%d: decoder panicked: %v", ErrMalformed, kmsg.NameForKey(req.Header.APIKey), req.Header.APIVersion, r)
		}
	}()
	if len(frame) < RequestHeaderMinBytes {
		return req, fmt.Errorf("%w: frame of %d bytes is shorter than a request header (%d)", ErrMalformed, len(frame), RequestHeaderMinBytes)
	}
	req.Header.APIKey = int16(binary.BigEndian.Uint16(frame[0:]))
	req.Header.APIVersion = int16(binary.BigEndian.Uint16(frame[2:]))
	req.Header.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
	key, version := req.Header.APIKey, req.Header.APIVersion

	body := kmsg.RequestForKey(key)
	advertised, listed := versions.Lookup(key)
	if body == nil || !listed {
		return req, fmt.Errorf("%w: api key %d (%s) version %d", ErrUnknownAPIKey, key, kmsg.NameForKey(key), version)
	}
	// Header v2 goes with flexible versions; kmsg answers by version threshold, so it is right
	// for versions beyond its own maximum too, as Kafka's requestHeaderVersion is.
	body.SetVersion(version)
	header, rest, err := parseRequestHeader(frame, version >= 0 && body.IsFlexible())
	if err != nil {
		return req, fmt.Errorf("%s v%d: %w", kmsg.NameForKey(key), version, err)
	}
	req.Header = header
	if version < advertised.MinVersion || version > advertised.MaxVersion {
		return req, fmt.Errorf("%w: %s version %d, advertised %d to %d", ErrUnsupportedVersion, kmsg.NameForKey(key), version, advertised.MinVersion, advertised.MaxVersion)
	}
	if err := body.ReadFrom(rest); err != nil {
		return req, fmt.Errorf("%w: %s v%d body of %d bytes: %v", ErrMalformed, kmsg.NameForKey(key), version, len(rest), err)
	}
	if err := checkConsumed(key, version, rest); err != nil {
		return req, err
	}
	req.Body = body
	return req, nil
}

// checkConsumed fails if decoding body stopped before its end. kmsg does not report how many
// bytes it read, but decoding reads sequentially and fails when the bytes run out, so a body
// decoded whole (already checked) was consumed exactly when it fails without its last byte.
// A valid body is never rejected: its decoder needs that last byte. The check could only miss
// trailing bytes if an array's elements took no bytes (kmsg compares a declared array length
// with the bytes left); every Kafka array element takes at least one.
func checkConsumed(key, version int16, body []byte) error {
	if len(body) == 0 {
		return nil
	}
	probe := kmsg.RequestForKey(key)
	probe.SetVersion(version)
	if probe.ReadFrom(body[:len(body)-1]) == nil {
		return fmt.Errorf("%w: %s v%d body of %d bytes has trailing bytes", ErrMalformed, kmsg.NameForKey(key), version, len(body))
	}
	return nil
}

// AppendRequest appends req as a client sends it: size prefix, request header (v2 on flexible
// versions) and body at header.APIVersion, which it sets on req. The header's key must be
// req's.
func AppendRequest(dst []byte, header RequestHeader, req kmsg.Request) []byte {
	if req.Key() != header.APIKey {
		panic(fmt.Sprintf("wire: request header key %d does not match body key %d", header.APIKey, req.Key()))
	}
	req.SetVersion(header.APIVersion)
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = appendRequestHeader(dst, header, req.IsFlexible())
	dst = req.AppendTo(dst)
	return putSizePrefix(dst, start)
}

// putSizePrefix fills the 4 bytes at dst[start:] with the size of what follows them.
func putSizePrefix(dst []byte, start int) []byte {
	size := len(dst) - start - SizePrefixBytes
	if size > math.MaxInt32 {
		panic(fmt.Sprintf("wire: encoded frame of %d bytes exceeds the int32 size prefix", size))
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(size))
	return dst
}
