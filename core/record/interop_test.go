package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/snappy/xerial"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kgoCodec maps our codec to franz-go's.
func kgoCodec(c Codec) kgo.CompressionCodec {
	switch c {
	case CodecGzip:
		return kgo.GzipCompression()
	case CodecSnappy:
		return kgo.SnappyCompression()
	case CodecLZ4:
		return kgo.Lz4Compression()
	case CodecZstd:
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

// kmsgBatch builds a batch the way franz-go's producer lays it out, with kmsg's own encoders
// and franz-go's compressor (compress, when set, replaces the records section's compression).
func kmsgBatch(t testing.TB, opts BatchOptions, records []Record, compress func(raw []byte) []byte) []byte {
	t.Helper()
	var raw []byte
	maxTimestampDelta := int64(0)
	for _, r := range records {
		kr := kmsg.Record{
			Attributes:       r.Attributes,
			TimestampDelta64: r.TimestampDelta,
			OffsetDelta:      r.OffsetDelta,
			Key:              r.Key,
			Value:            r.Value,
		}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		// Length is everything after the length varint: encode once with 0 (one byte) to size it.
		kr.Length = int32(len(kr.AppendTo(nil)) - 1)
		raw = kr.AppendTo(raw)
		maxTimestampDelta = max(maxTimestampDelta, r.TimestampDelta)
	}
	payload := raw
	if opts.Codec != CodecNone {
		payload = compress(raw)
	}
	kb := kmsg.RecordBatch{
		FirstOffset:          int64(opts.BaseOffset),
		PartitionLeaderEpoch: int32(opts.PartitionLeaderEpoch),
		Magic:                2,
		Attributes:           int16(opts.Codec),
		LastOffsetDelta:      int32(len(records) - 1),
		FirstTimestamp:       opts.FirstTimestamp,
		MaxTimestamp:         opts.FirstTimestamp + maxTimestampDelta,
		ProducerID:           opts.ProducerID,
		ProducerEpoch:        opts.ProducerEpoch,
		FirstSequence:        opts.BaseSequence,
		NumRecords:           int32(len(records)),
		Records:              payload,
	}
	if opts.Transactional {
		kb.Attributes |= transactionalBit
	}
	b := kb.AppendTo(nil)
	kb.Length = int32(len(b) - LogOverheadBytes)
	b = kb.AppendTo(b[:0])
	kb.CRC = int32(crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return kb.AppendTo(b[:0])
}

func fixtureRecords(n int) []Record {
	records := make([]Record, n)
	for i := range records {
		records[i] = Record{
			OffsetDelta:    int32(i),
			TimestampDelta: int64(i * 3),
			Key:            []byte(fmt.Sprintf("key-%d", i%7)),
			Value:          bytes.Repeat([]byte(fmt.Sprintf("value %d;", i)), 1+i%50),
		}
		if i%5 == 0 {
			records[i].Headers = []RecordHeader{{Key: "trace", Value: []byte{byte(i)}}, {Key: "null", Value: nil}}
		}
		if i%11 == 0 {
			records[i].Key = nil
		}
	}
	return records
}

// TestFranzGoBatches checks that batches franz-go would produce validate, decode to the same
// records, and (uncompressed) match AppendBatch byte for byte; and that franz-go decompresses
// what we compress.
func TestFranzGoBatches(t *testing.T) {
	records := fixtureRecords(2000) // ~700 KiB: several xerial and lz4 blocks
	opts := BatchOptions{BaseOffset: 0, PartitionLeaderEpoch: -1, FirstTimestamp: 1_700_000_000_000, ProducerID: 1234, ProducerEpoch: 3, BaseSequence: 77}
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			opts := opts
			opts.Codec = codec
			kc, err := kgo.DefaultCompressor(kgoCodec(codec))
			if err != nil {
				t.Fatal(err)
			}
			franz := kmsgBatch(t, opts, records, func(raw []byte) []byte {
				out, used := kc.Compress(new(bytes.Buffer), raw)
				if int(used) != int(codec) {
					t.Fatalf("franz-go compressed with %d, want %v", used, codec)
				}
				return append([]byte{}, out...)
			})
			s, err := ValidateRecords(franz, ProducedRecords)
			if err != nil {
				t.Fatalf("franz-go batch rejected: %v", err)
			}
			if s.Header.RecordCount != int32(len(records)) || s.TimestampMaxMs != s.Header.MaxTimestamp {
				t.Fatalf("summary %+v", s)
			}
			if err := equalRecords(collect(t, franz), records); err != nil {
				t.Fatal(err)
			}
			ours, err := AppendBatch(nil, opts, records)
			if err != nil {
				t.Fatal(err)
			}
			if codec == CodecNone && !bytes.Equal(ours, franz) {
				t.Fatalf("AppendBatch differs from franz-go's batch (%d vs %d bytes)", len(ours), len(franz))
			}
			// What we compress, franz-go reads.
			raw, err := kgo.DefaultDecompressor().Decompress(ours[HeaderSizeBytes:], kgo.CompressionCodecType(codec))
			if err != nil {
				t.Fatalf("franz-go cannot decompress our %v: %v", codec, err)
			}
			if !bytes.Equal(raw, encodeRecords(records...)) {
				t.Fatalf("franz-go decompressed our %v to different bytes", codec)
			}
		})
	}
}

// Snappy arrives framed (xerial: Java, librdkafka, franz-go's streaming producer) or as a raw
// block (franz-go's one-shot compressor, sarama). Both must decode.
func TestSnappyFramings(t *testing.T) {
	records := fixtureRecords(500)
	raw := encodeRecords(records...)
	opts := BatchOptions{PartitionLeaderEpoch: -1, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Codec: CodecSnappy}
	framings := map[string][]byte{
		"xerial (klauspost)": xerial.Encode(nil, raw),
		"raw block":          snappyBlock(raw),
		"xerial one block":   append(append(append([]byte{}, xerialMagic...), 0, 0, 0, 1, 0, 0, 0, 1), xerialChunk(snappyBlock(raw))...),
		"xerial many blocks": xerialBlocks(raw, 1000),
		"xerial no blocks":   append(append([]byte{}, xerialMagic...), 0, 0, 0, 1, 0, 0, 0, 1),
	}
	for name, payload := range framings {
		t.Run(name, func(t *testing.T) {
			want := records
			if name == "xerial no blocks" {
				want = nil
			}
			b := kmsgBatch(t, opts, want, func([]byte) []byte { return payload })
			if len(want) == 0 {
				b = forgeBatch(Header{Magic: 2, Attributes: int16(CodecSnappy), ProducerID: -1, BaseSequence: -1}, payload)
			}
			got := collect(t, b)
			if err := equalRecords(got, want); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Our own snappy output is xerial, which every client reads.
	ours, err := AppendBatch(nil, opts, records)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(ours[HeaderSizeBytes:], []byte(xerialMagic)) {
		t.Fatal("our snappy output is not xerial-framed")
	}
	decoded, err := xerial.Decode(ours[HeaderSizeBytes:])
	if err != nil || !bytes.Equal(decoded, raw) {
		t.Fatalf("klauspost's xerial decoder disagrees: %v", err)
	}
}

func snappyBlock(raw []byte) []byte {
	c, _ := kgo.DefaultCompressor(kgo.SnappyCompression())
	out, _ := c.Compress(new(bytes.Buffer), raw)
	return append([]byte{}, out...)
}

func xerialChunk(block []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(block))), block...)
}

func xerialBlocks(raw []byte, blockBytes int) []byte {
	out := append(append([]byte{}, xerialMagic...), 0, 0, 0, 1, 0, 0, 0, 1)
	for len(raw) > 0 {
		n := min(blockBytes, len(raw))
		out = append(out, xerialChunk(snappyBlock(raw[:n]))...)
		raw = raw[n:]
	}
	return out
}
