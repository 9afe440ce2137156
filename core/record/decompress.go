package record

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// DefaultDecompressedBytesMax bounds a batch's decompressed records when the caller does not
// choose a bound (the package-level ForEachRecord and ValidateRecords). Kafka bounds it only by
// the JVM heap; 256 MiB is 256 times the default message.max.bytes, room for any real batch at
// any real compression ratio, while a forged one cannot take the process down.
const DefaultDecompressedBytesMax = 256 << 20

// Decompressor decompresses batches, reusing its decoders and output buffer across calls, and
// bounds how large a batch may decompress to (a zip bomb is a corrupt batch, not an
// out-of-memory crash). Not safe for concurrent use; each state machine or driver owns one.
// It keeps its largest output buffer (at most the bound) for reuse. Build it with
// NewDecompressor: the zero value has no bound and panics when used.
type Decompressor struct {
	decompressedBytesMax int64
	out                  []byte
	src                  bytes.Reader
	limit                io.LimitedReader
	gz                   gzip.Reader
	lz                   *lz4.Reader
	zstd                 *zstd.Decoder
	record               Record // scratch for ForEachRecord
}

// NewDecompressor returns a Decompressor that rejects a batch whose records decompress to
// more than decompressedBytesMax bytes.
func NewDecompressor(decompressedBytesMax int64) *Decompressor {
	if decompressedBytesMax <= 0 {
		panic(fmt.Sprintf("record: decompressedBytesMax %d must be positive", decompressedBytesMax))
	}
	return &Decompressor{decompressedBytesMax: decompressedBytesMax}
}

// Decompress returns src decompressed with codec. CodecNone returns src itself. The result is
// valid until the next call on d. Damaged input or output over the bound is ErrCorruptBatch.
func (d *Decompressor) Decompress(codec Codec, src []byte) ([]byte, error) {
	if d.decompressedBytesMax <= 0 {
		panic("record: Decompressor used without NewDecompressor: it has no decompressed size bound")
	}
	var err error
	switch codec {
	case CodecNone:
		return src, nil
	case CodecGzip:
		d.src.Reset(src)
		if err = d.gz.Reset(&d.src); err == nil {
			// Concatenated gzip members are one stream to Java's GZIPInputStream too.
			err = d.readBounded(&d.gz)
		}
	case CodecSnappy:
		d.out, err = d.decodeSnappy(d.out[:0], src)
	case CodecLZ4:
		d.src.Reset(src)
		if d.lz == nil {
			d.lz = lz4.NewReader(&d.src)
			if err := d.lz.Apply(lz4.ConcurrencyOption(1)); err != nil {
				panic(fmt.Sprintf("record: lz4 options rejected: %v", err))
			}
		} else {
			d.lz.Reset(&d.src)
		}
		err = d.readBounded(d.lz)
	case CodecZstd:
		if d.zstd == nil {
			d.zstd, err = zstd.NewReader(nil,
				zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxMemory(uint64(d.decompressedBytesMax)))
			if err != nil {
				panic(fmt.Sprintf("record: zstd decoder options rejected: %v", err))
			}
		}
		d.out, err = d.zstd.DecodeAll(src, d.out[:0])
	default:
		return nil, fmt.Errorf("%w: unknown codec %d", ErrCorruptBatch, codec)
	}
	if err != nil {
		if errors.Is(err, ErrCorruptBatch) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v decompression: %v", ErrCorruptBatch, codec, err)
	}
	if int64(len(d.out)) > d.decompressedBytesMax {
		return nil, fmt.Errorf("%w: decompresses to more than %d bytes", ErrCorruptBatch, d.decompressedBytesMax)
	}
	return d.out, nil
}

// readBounded reads r into d.out, failing past the bound.
func (d *Decompressor) readBounded(r io.Reader) error {
	d.limit.R = r
	d.limit.N = d.decompressedBytesMax + 1
	buf := bytes.NewBuffer(d.out[:0])
	_, err := buf.ReadFrom(&d.limit)
	d.out = buf.Bytes()
	d.limit.R = nil
	if err != nil {
		return err
	}
	if int64(len(d.out)) > d.decompressedBytesMax {
		return fmt.Errorf("%w: decompresses to more than %d bytes", ErrCorruptBatch, d.decompressedBytesMax)
	}
	return nil
}

// decodeSnappy decodes xerial-framed snappy (Java, librdkafka, franz-go's streaming producer)
// or a raw snappy block (franz-go's one-shot compressor, sarama, older clients).
func (d *Decompressor) decodeSnappy(dst, src []byte) ([]byte, error) {
	if len(src) >= len(xerialMagic) && string(src[:len(xerialMagic)]) == xerialMagic {
		return d.decodeXerial(dst, src)
	}
	return d.decodeSnappyBlock(dst, src)
}

// decodeSnappyBlock appends one raw snappy block's contents to dst, checking its declared
// length against the bound before allocating.
func (d *Decompressor) decodeSnappyBlock(dst, block []byte) ([]byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return dst, err
	}
	if int64(len(dst))+int64(n) > d.decompressedBytesMax {
		return dst, fmt.Errorf("%w: decompresses to more than %d bytes", ErrCorruptBatch, d.decompressedBytesMax)
	}
	at := len(dst)
	if cap(dst)-at < n {
		grown := make([]byte, at, at+n)
		copy(grown, dst)
		dst = grown
	}
	if _, err := s2.Decode(dst[at:at+n], block); err != nil {
		return dst, err
	}
	return dst[:at+n], nil
}
