package record

import (
	"bytes"
	"errors"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Producers frame their compressed data in ways our own compressor never does; each must
// decode to the same records section.
func TestDecompressProducerVariants(t *testing.T) {
	raw := encodeRecords(fixtureRecords(300)...)
	half := len(raw) / 2
	lz4Frame := func(src []byte, opts ...lz4.Option) []byte {
		var out bytes.Buffer
		w := lz4.NewWriter(&out)
		if err := w.Apply(opts...); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(src); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	gzipMember := func(src []byte, name string) []byte {
		var out bytes.Buffer
		w := gzip.NewWriter(&out)
		w.Name = name
		w.Write(src)
		w.Close()
		return out.Bytes()
	}
	zstdStream := func(src []byte) []byte {
		// A streaming encoder (as zstd-jni's ZstdOutputStream in Java) writes no content size.
		var out bytes.Buffer
		w, err := zstd.NewWriter(&out, zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(src)
		w.Close()
		return out.Bytes()
	}
	zstdAll := func(src []byte) []byte {
		enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		return enc.EncodeAll(src, nil)
	}
	variants := []struct {
		name    string
		codec   Codec
		payload []byte
	}{
		{"lz4 4MiB blocks with content checksum", CodecLZ4, lz4Frame(raw)},
		{"lz4 block checksums and content size", CodecLZ4, lz4Frame(raw, lz4.BlockChecksumOption(true), lz4.SizeOption(uint64(len(raw))), lz4.BlockSizeOption(lz4.Block64Kb))},
		{"lz4 no content checksum, high compression", CodecLZ4, lz4Frame(raw, lz4.ChecksumOption(false), lz4.CompressionLevelOption(lz4.Level9))},
		{"gzip with a file name", CodecGzip, gzipMember(raw, "records")},
		{"gzip in two members", CodecGzip, append(gzipMember(raw[:half], ""), gzipMember(raw[half:], "")...)},
		{"zstd stream without content size", CodecZstd, zstdStream(raw)},
		{"zstd in two frames", CodecZstd, append(zstdAll(raw[:half]), zstdAll(raw[half:])...)},
	}
	d := NewDecompressor(int64(len(raw)))
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			got, err := d.Decompress(v.codec, v.payload)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, raw) {
				t.Fatalf("decoded %d bytes, want %d", len(got), len(raw))
			}
			// The whole bound counts, across frames and members.
			small := NewDecompressor(int64(len(raw) - 1))
			if _, err := small.Decompress(v.codec, v.payload); !errors.Is(err, ErrCorruptBatch) {
				t.Fatalf("one byte over the bound: %v", err)
			}
		})
	}
}

func TestMalformedXerial(t *testing.T) {
	header := append([]byte(xerialMagic), 0, 0, 0, 1, 0, 0, 0, 1)
	block := snappyBlock([]byte("hello hello hello"))
	cases := map[string][]byte{
		"header truncated":       header[:12],
		"chunk length truncated": append(append([]byte{}, header...), 0, 0),
		"chunk past the end":     append(append(append([]byte{}, header...), 0, 0, 0, 99), block...),
		"chunk not snappy":       append(append([]byte{}, header...), 0, 0, 0, 3, 0xff, 0xff, 0xff),
		"empty chunk":            append(append([]byte{}, header...), 0, 0, 0, 0),
		"huge chunk length":      append(append([]byte{}, header...), 0xff, 0xff, 0xff, 0xff),
	}
	d := NewDecompressor(1 << 20)
	for name, payload := range cases {
		if _, err := d.Decompress(CodecSnappy, payload); !errors.Is(err, ErrCorruptBatch) {
			t.Errorf("%s: %v, want ErrCorruptBatch", name, err)
		}
	}
	if _, err := d.Decompress(Codec(6), []byte("x")); !errors.Is(err, ErrCorruptBatch) {
		t.Errorf("unknown codec: %v, want ErrCorruptBatch", err)
	}
	if got, err := d.Decompress(CodecNone, block); err != nil || &got[0] != &block[0] {
		t.Errorf("CodecNone must return its input: %v", err)
	}
}

func TestDecompressorNeedsABound(t *testing.T) {
	for name, f := range map[string]func(){
		"zero value":       func() { var d Decompressor; d.Decompress(CodecGzip, nil) },
		"zero bound":       func() { NewDecompressor(0) },
		"negative bound":   func() { NewDecompressor(-1) },
		"unknown rule":     func() { ValidateRecords(forgeBatch(validHeader(2), twoRecords()), RecordsRule(9)) },
		"compress unknown": func() { var c Compressor; c.compress(nil, CodecNone, nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestAppendBatchOptions(t *testing.T) {
	records := []Record{{Value: []byte("a")}, {OffsetDelta: 1, TimestampDelta: 50, Value: []byte("b")}}
	for name, opts := range map[string]BatchOptions{
		"unknown codec":        {Codec: 5},
		"negative codec":       {Codec: -1},
		"negative base offset": {BaseOffset: -1},
		"offset overflow":      {BaseOffset: 1<<63 - 1},
	} {
		if out, err := AppendBatch([]byte("x"), opts, records); !errors.Is(err, ErrInvalidRecord) || string(out) != "x" {
			t.Errorf("%s: %v, output %q", name, err, out)
		}
	}
	b, err := AppendBatch(nil, BatchOptions{FirstTimestamp: 1000, LogAppendTime: true, Control: true, Transactional: true, ProducerID: 3}, records)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Validate(b)
	if err != nil {
		t.Fatal(err)
	}
	// LogAppendTime: the broker's time is the batch's, whatever the records carry.
	if !h.LogAppendTime() || !h.Control() || !h.Transactional() || h.MaxTimestamp != 1000 || h.Codec() != CodecNone {
		t.Fatalf("header %+v", h)
	}
	empty, err := AppendBatch(nil, BatchOptions{BaseOffset: 10, EmptyLastOffsetDelta: 4, FirstTimestamp: NoTimestamp}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h, err = Validate(empty); err != nil || h.RecordCount != 0 || h.LastOffset() != 14 || h.MaxTimestamp != NoTimestamp {
		t.Fatalf("empty batch %+v: %v", h, err)
	}
	if _, err := ValidateRecords(empty, StoredRecords); err != nil {
		t.Fatalf("stored empty batch: %v", err)
	}
	if _, err := AppendBatch(nil, BatchOptions{EmptyLastOffsetDelta: -1}, nil); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("negative EmptyLastOffsetDelta: %v", err)
	}
}
