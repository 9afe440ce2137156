package record

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// sliceWriter is an io.Writer appending to a byte slice.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// Compressor compresses batches, reusing its encoders and buffers across calls. The zero value
// is ready to use. A Compressor is not safe for concurrent use; each state machine owns one.
// Output is deterministic: the same records and options give the same bytes. Levels are
// fixed: gzip's default (6, Kafka's default), lz4's fast mode in 64 KiB independent blocks (the
// frame Kafka's Java reader expects), zstd's default (about level 3, Kafka's default), and
// snappy in xerial framing; KIP-390's per-topic levels are not offered yet.
type Compressor struct {
	raw  []byte // uncompressed records of the batch being built
	sink sliceWriter
	gz   *gzip.Writer
	lz   *lz4.Writer
	zstd *zstd.Encoder
}

// NewCompressor returns a Compressor.
func NewCompressor() *Compressor { return &Compressor{} }

// AppendBatch is the package's AppendBatch, reusing c's encoders and buffers.
func (c *Compressor) AppendBatch(dst []byte, opts BatchOptions, records []Record) ([]byte, error) {
	return appendBatch(dst, opts, records, c)
}

// compress appends src compressed with codec to dst.
func (c *Compressor) compress(dst []byte, codec Codec, src []byte) ([]byte, error) {
	switch codec {
	case CodecGzip:
		c.sink.b = dst
		if c.gz == nil {
			c.gz = gzip.NewWriter(&c.sink)
		} else {
			c.gz.Reset(&c.sink)
		}
		return c.finishStream(c.gz, src)
	case CodecSnappy:
		return appendXerial(dst, src), nil
	case CodecLZ4:
		c.sink.b = dst
		if c.lz == nil {
			// Kafka's KafkaLZ4BlockOutputStream writes 64 KiB independent blocks.
			c.lz = lz4.NewWriter(&c.sink)
			if err := c.lz.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.ConcurrencyOption(1)); err != nil {
				panic(fmt.Sprintf("record: lz4 options rejected: %v", err))
			}
		} else {
			c.lz.Reset(&c.sink)
		}
		return c.finishStream(c.lz, src)
	case CodecZstd:
		if c.zstd == nil {
			enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true))
			if err != nil {
				panic(fmt.Sprintf("record: zstd encoder options rejected: %v", err))
			}
			c.zstd = enc
		}
		return c.zstd.EncodeAll(src, dst), nil
	}
	panic(fmt.Sprintf("record: compress called with codec %v", codec))
}

// finishStream writes src through a stream encoder writing to c.sink and closes it.
func (c *Compressor) finishStream(w io.WriteCloser, src []byte) ([]byte, error) {
	if _, err := w.Write(src); err != nil {
		return c.sink.b, fmt.Errorf("record: compress: %w", err)
	}
	if err := w.Close(); err != nil {
		return c.sink.b, fmt.Errorf("record: compress: %w", err)
	}
	dst := c.sink.b
	c.sink.b = nil // do not keep the caller's buffer alive
	return dst, nil
}
