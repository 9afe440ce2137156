package record

import (
	"encoding/binary"
	"fmt"

	"github.com/klauspost/compress/s2"
)

// xerialMagic starts snappy data framed as Java's snappy-java SnappyOutputStream writes it
// (and librdkafka and franz-go's streaming producer copy): magic, int32 version, int32 minimum
// compatible version, then chunks of [int32 length][raw snappy block].
const xerialMagic = "\x82SNAPPY\x00"

const (
	xerialHeaderSizeBytes = 16
	// xerialBlockSizeBytes is snappy-java's default block size; Java's reader accepts any.
	xerialBlockSizeBytes = 32 << 10
	// xerialVersion is written as both the version and the minimum compatible version, as
	// snappy-java does; its reader rejects a lower version.
	xerialVersion = 1
)

// appendXerial appends src as xerial-framed snappy, the framing Java's producer and broker use.
func appendXerial(dst, src []byte) []byte {
	dst = append(dst, xerialMagic...)
	dst = binary.BigEndian.AppendUint32(dst, xerialVersion)
	dst = binary.BigEndian.AppendUint32(dst, xerialVersion)
	for len(src) > 0 {
		n := min(len(src), xerialBlockSizeBytes)
		at := len(dst)
		dst = append(dst, make([]byte, 4+s2.MaxEncodedLen(n))...)
		block := s2.EncodeSnappy(dst[at+4:], src[:n])
		binary.BigEndian.PutUint32(dst[at:], uint32(len(block)))
		dst = dst[:at+4+len(block)]
		src = src[n:]
	}
	return dst
}

func (d *Decompressor) decodeXerial(dst, src []byte) ([]byte, error) {
	if len(src) < xerialHeaderSizeBytes {
		return dst, fmt.Errorf("%w: xerial header truncated", ErrCorruptBatch)
	}
	src = src[xerialHeaderSizeBytes:]
	for len(src) > 0 {
		if len(src) < 4 {
			return dst, fmt.Errorf("%w: xerial chunk length truncated", ErrCorruptBatch)
		}
		n := binary.BigEndian.Uint32(src)
		src = src[4:]
		if uint64(n) > uint64(len(src)) {
			return dst, fmt.Errorf("%w: xerial chunk of %d bytes with %d left", ErrCorruptBatch, n, len(src))
		}
		var err error
		if dst, err = d.decodeSnappyBlock(dst, src[:n]); err != nil {
			return dst, err
		}
		src = src[n:]
	}
	return dst, nil
}
