package netio

import (
	"testing"

	"github.com/weirdata/weir/core/record"
)

// FuzzWalkBatches: on any bytes the walk never panics, and the prefix it keeps walks again
// whole, without error.
func FuzzWalkBatches(f *testing.F) {
	var seed []byte
	for i := range 3 {
		var err error
		seed, err = record.AppendBatch(seed, record.BatchOptions{BaseOffset: record.Offset(2 * i), ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1},
			[]record.Record{{Value: []byte("v")}, {OffsetDelta: 1, Value: []byte("w")}})
		if err != nil {
			f.Fatal(err)
		}
	}
	f.Add(seed, int64(0), int64(6))
	f.Add(seed[:len(seed)-1], int64(0), int64(6))
	f.Add([]byte{}, int64(0), int64(0))
	f.Fuzz(func(t *testing.T, data []byte, first, nextMax int64) {
		next := record.Offset(first)
		n, err := walkBatches(data, &next, record.Offset(nextMax), true)
		if n < 0 || n > len(data) || (err == nil && n != len(data)) {
			t.Fatalf("kept %d of %d bytes, err %v", n, len(data), err)
		}
		again := record.Offset(first)
		if m, err := walkBatches(data[:n], &again, record.Offset(nextMax), true); err != nil || m != n || again != next {
			t.Fatalf("the kept prefix of %d bytes walks to %d bytes, err %v", n, m, err)
		}
	})
}
