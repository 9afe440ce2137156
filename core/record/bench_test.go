package record

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchRecords returns 16 records with 1 KiB values of word-like text (compressible about as
// much as typical JSON payloads), 16 KiB in all.
func benchRecords() []Record {
	rng := rand.New(rand.NewPCG(1, 1))
	words := []string{"order", "id", "customer", "amount", "currency", "EUR", "status", "shipped", "true", "false", "{", "}", ":", ","}
	records := make([]Record, 16)
	for i := range records {
		value := make([]byte, 0, 1024)
		for len(value) < 1024 {
			value = append(value, words[rng.IntN(len(words))]...)
			value = append(value, fmt.Sprint(rng.IntN(100000))...)
		}
		records[i] = Record{OffsetDelta: int32(i), TimestampDelta: int64(i), Key: []byte(fmt.Sprintf("key-%d", i)), Value: value[:1024]}
	}
	return records
}

func benchBatch(b *testing.B, codec Codec) []byte {
	batch, err := AppendBatch(nil, BatchOptions{Codec: codec, FirstTimestamp: 1_700_000_000_000, ProducerID: 1, ProducerEpoch: 0, BaseSequence: 0}, benchRecords())
	if err != nil {
		b.Fatal(err)
	}
	return batch
}

// BenchmarkValidate is the per-produce header and CRC check on a 16 KiB batch.
func BenchmarkValidate(b *testing.B) {
	batch := benchBatch(b, CodecNone)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNextBatch walks 64 concatenated 16 KiB batches, as a fetch read plan check does.
func BenchmarkNextBatch(b *testing.B) {
	one := benchBatch(b, CodecNone)
	var chunk []byte
	for range 64 {
		chunk = append(chunk, one...)
	}
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		it := NewBatchIterator(chunk)
		for it.Next() {
		}
		if it.Err() != nil {
			b.Fatal(it.Err())
		}
	}
}

func BenchmarkAppendBatch(b *testing.B) {
	records := benchRecords()
	for _, codec := range allCodecs {
		b.Run(codec.String(), func(b *testing.B) {
			c := NewCompressor()
			opts := BatchOptions{Codec: codec, FirstTimestamp: 1_700_000_000_000, ProducerID: 1, BaseSequence: 0}
			dst, err := c.AppendBatch(nil, opts, records)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(encodeRecords(records...))))
			b.ReportAllocs()
			for b.Loop() {
				if dst, err = c.AppendBatch(dst[:0], opts, records); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkForEachRecord(b *testing.B) {
	for _, codec := range allCodecs {
		b.Run(codec.String(), func(b *testing.B) {
			batch := benchBatch(b, codec)
			d := NewDecompressor(DefaultDecompressedBytesMax)
			b.SetBytes(int64(len(encodeRecords(benchRecords()...))))
			b.ReportAllocs()
			var n int
			count := func(r *Record) error { n += len(r.Value); return nil }
			for b.Loop() {
				if err := d.ForEachRecord(batch, count); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkValidateRecords is the deep produce check (decompress, walk every record).
func BenchmarkValidateRecords(b *testing.B) {
	for _, codec := range allCodecs {
		b.Run(codec.String(), func(b *testing.B) {
			batch := benchBatch(b, codec)
			d := NewDecompressor(DefaultDecompressedBytesMax)
			b.SetBytes(int64(len(encodeRecords(benchRecords()...))))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.ValidateRecords(batch, ProducedRecords); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
