package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	// SizePrefixBytes is the big-endian int32 that precedes every request and response.
	SizePrefixBytes = 4
	// RequestHeaderMinBytes is the smallest request header v1: api key (2), api version (2),
	// correlation id (4) and a client id length (2). Header v0 (ControlledShutdown v0 only) is
	// not accepted: that key is never advertised.
	RequestHeaderMinBytes = 10
	// ResponseHeaderMinBytes is the smallest response header: the correlation id.
	ResponseHeaderMinBytes = 4
	// DefaultRequestBytesMax is Kafka's default socket.request.max.bytes (100 MiB).
	DefaultRequestBytesMax = 100 << 20
)

// ErrFrameSize is a size prefix that cannot start a frame: negative, below the header minimum
// or over the limit. Kafka closes the connection (InvalidReceiveException); so does the driver.
var ErrFrameSize = errors.New("wire: invalid frame size")

// ReadFrameSize decodes a request's size prefix and checks it against socket.request.max.bytes
// (maxBytes) and the smallest request header.
func ReadFrameSize(prefix [SizePrefixBytes]byte, maxBytes int32) (int32, error) {
	return readFrameSize(prefix, RequestHeaderMinBytes, maxBytes)
}

// ReadResponseFrameSize decodes a response's size prefix, as a client reads it.
func ReadResponseFrameSize(prefix [SizePrefixBytes]byte, maxBytes int32) (int32, error) {
	return readFrameSize(prefix, ResponseHeaderMinBytes, maxBytes)
}

func readFrameSize(prefix [SizePrefixBytes]byte, minBytes, maxBytes int32) (int32, error) {
	size := int32(binary.BigEndian.Uint32(prefix[:]))
	if size < minBytes || size > maxBytes {
		return 0, fmt.Errorf("%w: size %d bytes, want %d to %d", ErrFrameSize, size, minBytes, maxBytes)
	}
	return size, nil
}

// frameChunkBytes is how much of a frame's buffer FrameReader allocates before its bytes
// arrive: a peer that declares a large frame and sends nothing holds at most this much, and a
// frame that does arrive grows its buffer by appending, never past its declared size.
const frameChunkBytes = 64 << 10

// FrameReader splits a byte stream into frames incrementally, for a TCP connection (netio) or
// a simulated one. It holds at most one partial frame, no larger than its declared size. Each
// frame it returns is a fresh slice owned by the caller: a decoded Request aliases its frame,
// so frames must not share a reused buffer. Not safe for concurrent use; one per connection.
type FrameReader struct {
	sizeBytesMin int32
	sizeBytesMax int32

	prefix    [SizePrefixBytes]byte
	prefixLen int
	frame     []byte // the frame being filled; nil while reading a prefix
	frameSize int32
	err       error // sticky: a stream with a bad prefix has lost its framing
}

// NewRequestFrameReader returns a FrameReader for requests, as a broker reads them, bounded by
// socket.request.max.bytes (maxBytes).
func NewRequestFrameReader(maxBytes int32) *FrameReader {
	return newFrameReader(RequestHeaderMinBytes, maxBytes)
}

// NewResponseFrameReader returns a FrameReader for responses, as a client reads them.
func NewResponseFrameReader(maxBytes int32) *FrameReader {
	return newFrameReader(ResponseHeaderMinBytes, maxBytes)
}

func newFrameReader(minBytes, maxBytes int32) *FrameReader {
	if maxBytes < minBytes {
		panic(fmt.Sprintf("wire: frame size limit %d bytes is below the header minimum %d", maxBytes, minBytes))
	}
	return &FrameReader{sizeBytesMin: minBytes, sizeBytesMax: maxBytes}
}

// Feed consumes bytes from p up to the end of at most one frame. It returns how many bytes it
// consumed and, when a frame ended, the frame (without its size prefix). The caller loops:
//
//	for len(p) > 0 {
//		n, frame, err := fr.Feed(p)
//		if err != nil { close the connection, logging err }
//		p = p[n:]
//		if frame != nil { handle(frame) }
//	}
//
// After an error every call returns it again: the stream's framing is lost.
func (r *FrameReader) Feed(p []byte) (consumed int, frame []byte, err error) {
	if r.err != nil {
		return 0, nil, r.err
	}
	if r.frame == nil {
		n := copy(r.prefix[r.prefixLen:], p)
		consumed += n
		r.prefixLen += n
		if r.prefixLen < SizePrefixBytes {
			return consumed, nil, nil
		}
		size, err := readFrameSize(r.prefix, r.sizeBytesMin, r.sizeBytesMax)
		if err != nil {
			r.err = err
			return consumed, nil, err
		}
		r.frameSize = size
		r.frame = make([]byte, 0, min(int(size), frameChunkBytes))
		p = p[n:]
	}
	want := int(r.frameSize) - len(r.frame)
	take := min(want, len(p))
	if needed := len(r.frame) + take; needed > cap(r.frame) {
		// Grow by doubling, but never past the declared size: append's own growth could
		// hold up to twice a 100 MiB frame.
		grown := make([]byte, len(r.frame), min(int(r.frameSize), max(2*cap(r.frame), needed)))
		copy(grown, r.frame)
		r.frame = grown
	}
	r.frame = append(r.frame, p[:take]...)
	consumed += take
	if len(r.frame) < int(r.frameSize) {
		return consumed, nil, nil
	}
	frame = r.frame
	r.frame = nil
	r.prefixLen = 0
	return consumed, frame, nil
}

// FeedOwned is Feed for a caller that hands p over: neither it nor anyone else reads or writes
// p's bytes after the call (a simulated network's delivered chunk). A frame that lies wholly
// in p, starting a frame boundary, is then returned as a subslice of p, its capacity capped at
// its end, instead of a copy; anything else goes through Feed. The results are Feed's.
func (r *FrameReader) FeedOwned(p []byte) (consumed int, frame []byte, err error) {
	if r.err != nil || r.frame != nil || r.prefixLen != 0 || len(p) < SizePrefixBytes {
		return r.Feed(p)
	}
	size, err := readFrameSize([SizePrefixBytes]byte(p), r.sizeBytesMin, r.sizeBytesMax)
	if err != nil {
		r.err = err
		return SizePrefixBytes, nil, err
	}
	end := SizePrefixBytes + int(size)
	if len(p) < end {
		return r.Feed(p)
	}
	return end, p[SizePrefixBytes:end:end], nil
}

// BufferedBytes is how many bytes of an unfinished frame (prefix included) r holds.
func (r *FrameReader) BufferedBytes() int {
	if r.frame == nil {
		return r.prefixLen
	}
	return SizePrefixBytes + len(r.frame)
}

// Detach hands the pending frame to the caller, who reads its PendingFrameBytes itself (into a
// buffer of that size, straight from the socket, saving a copy): the reader forgets it and
// expects the next size prefix. It returns the frame bytes already fed, which the caller's
// frame starts with. Call it only after the prefix is complete (PendingFrameBytes > 0).
func (r *FrameReader) Detach() (fed []byte) {
	if r.frame == nil {
		panic("wire: invariant: Detach without a pending frame")
	}
	fed = r.frame
	r.frame = nil
	r.prefixLen = 0
	return fed
}

// PendingFrameBytes is the declared size of the frame being read, 0 while reading a prefix; a
// driver may use it to charge a connection's byte budget before the frame arrives.
func (r *FrameReader) PendingFrameBytes() int32 {
	if r.frame == nil {
		return 0
	}
	return r.frameSize
}
