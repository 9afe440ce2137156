package record

import (
	"errors"
	"testing"
)

func TestBatchIterator(t *testing.T) {
	var chunk []byte
	var ends []int
	for i := range 4 {
		var err error
		opts := BatchOptions{BaseOffset: Offset(i * 10), Codec: allCodecs[i], ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
		if chunk, err = AppendBatch(chunk, opts, fixtureRecords(i+1)); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, len(chunk))
	}
	walk := func(b []byte) (bases []Offset, it BatchIterator) {
		it = NewBatchIterator(b)
		for it.Next() {
			if it.Position()+len(it.Batch()) > len(b) || &it.Batch()[0] != &b[it.Position()] {
				t.Fatalf("batch at %d does not alias the input", it.Position())
			}
			bases = append(bases, it.Header().BaseOffset)
		}
		return bases, it
	}

	bases, it := walk(chunk)
	if it.Err() != nil || len(bases) != 4 || bases[3] != 30 || it.Position() != len(chunk) || len(it.Rest()) != 0 {
		t.Fatalf("whole chunk: bases %v err %v position %d", bases, it.Err(), it.Position())
	}

	// Every truncation stops cleanly at the last whole batch with ErrShortBatch.
	for cut := 1; cut < len(chunk); cut += 7 {
		bases, it := walk(chunk[:cut])
		whole := 0
		for whole < len(ends) && ends[whole] <= cut {
			whole++
		}
		goodEnd := 0
		if whole > 0 {
			goodEnd = ends[whole-1]
		}
		if len(bases) != whole || it.Position() != goodEnd {
			t.Fatalf("cut %d: %d batches ending at %d, want %d ending at %d", cut, len(bases), it.Position(), whole, goodEnd)
		}
		if goodEnd == cut {
			if it.Err() != nil {
				t.Fatalf("cut %d at a batch boundary: %v", cut, it.Err())
			}
		} else if !errors.Is(it.Err(), ErrShortBatch) || len(it.Rest()) != cut-goodEnd {
			t.Fatalf("cut %d: err %v rest %d", cut, it.Err(), len(it.Rest()))
		}
	}

	// A damaged second batch stops the walk there with ErrCorruptBatch.
	damaged := append([]byte{}, chunk...)
	damaged[ends[0]+HeaderSizeBytes] ^= 1
	bases, it = walk(damaged)
	if len(bases) != 1 || !errors.Is(it.Err(), ErrCorruptBatch) || it.Position() != ends[0] {
		t.Fatalf("damaged: bases %v err %v position %d", bases, it.Err(), it.Position())
	}
	if it.Next() {
		t.Fatal("Next after an error")
	}

	// NextBatch directly.
	h, batch, rest, err := NextBatch(chunk)
	if err != nil || h.BaseOffset != 0 || len(batch) != ends[0] || len(rest) != len(chunk)-ends[0] {
		t.Fatalf("NextBatch: %+v %d %d %v", h, len(batch), len(rest), err)
	}
	if _, _, rest, err := NextBatch(nil); !errors.Is(err, ErrShortBatch) || len(rest) != 0 {
		t.Fatalf("NextBatch(nil): %v", err)
	}
}
