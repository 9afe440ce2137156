package record

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// forgeBatch writes a batch with exactly the header fields of h (BatchLength and CRC are
// computed unless keepLength/keepCRC) around the given records section, valid or not.
func forgeBatch(h Header, records []byte) []byte {
	b := make([]byte, HeaderSizeBytes, HeaderSizeBytes+len(records))
	binary.BigEndian.PutUint64(b[baseOffsetPos:], uint64(h.BaseOffset))
	binary.BigEndian.PutUint32(b[partitionLeaderEpochPos:], uint32(h.PartitionLeaderEpoch))
	b[magicPos] = byte(h.Magic)
	binary.BigEndian.PutUint16(b[attributesPos:], uint16(h.Attributes))
	binary.BigEndian.PutUint32(b[lastOffsetDeltaPos:], uint32(h.LastOffsetDelta))
	binary.BigEndian.PutUint64(b[firstTimestampPos:], uint64(h.FirstTimestamp))
	binary.BigEndian.PutUint64(b[maxTimestampPos:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint64(b[producerIDPos:], uint64(h.ProducerID))
	binary.BigEndian.PutUint16(b[producerEpochPos:], uint16(h.ProducerEpoch))
	binary.BigEndian.PutUint32(b[baseSequencePos:], uint32(h.BaseSequence))
	binary.BigEndian.PutUint32(b[recordCountPos:], uint32(h.RecordCount))
	b = append(b, records...)
	binary.BigEndian.PutUint32(b[batchLengthPos:], uint32(len(b)-LogOverheadBytes))
	binary.BigEndian.PutUint32(b[crcPos:], ComputeCRC(b))
	return b
}

// encodeRecords encodes records without any checks, for forging batches.
func encodeRecords(records ...Record) []byte {
	var b []byte
	for i := range records {
		b = appendRecord(b, &records[i])
	}
	return b
}

func validHeader(count int32) Header {
	return Header{
		BaseOffset: 100, PartitionLeaderEpoch: 3, Magic: MagicV2, LastOffsetDelta: count - 1,
		FirstTimestamp: 1000, MaxTimestamp: 1000, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		RecordCount: count,
	}
}

func twoRecords() []byte {
	return encodeRecords(Record{OffsetDelta: 0, Value: []byte("a")}, Record{OffsetDelta: 1, Value: []byte("b")})
}

func TestValidateHeaderChecks(t *testing.T) {
	valid := forgeBatch(validHeader(2), twoRecords())
	if _, err := Validate(valid); err != nil {
		t.Fatalf("valid batch rejected: %v", err)
	}
	with := func(mutate func(h *Header)) []byte {
		h := validHeader(2)
		mutate(&h)
		return forgeBatch(h, twoRecords())
	}
	// corrupt flips bytes after the CRC was computed.
	corrupt := func(pos int) []byte {
		b := append([]byte{}, valid...)
		b[pos] ^= 0x40
		return b
	}
	setLength := func(n int32) []byte {
		b := append([]byte{}, valid...)
		binary.BigEndian.PutUint32(b[batchLengthPos:], uint32(n))
		return b
	}
	tests := []struct {
		name  string
		batch []byte
		want  error
	}{
		{"empty", nil, ErrShortBatch},
		{"header truncated", valid[:HeaderSizeBytes-1], ErrShortBatch},
		{"records truncated", valid[:len(valid)-1], ErrShortBatch},
		{"trailing byte", append(append([]byte{}, valid...), 0), ErrCorruptBatch},
		{"length shorter than a header", setLength(HeaderSizeBytes - LogOverheadBytes - 1), ErrCorruptBatch},
		{"negative length", setLength(-1), ErrCorruptBatch},
		{"length past the bytes", setLength(int32(len(valid))), ErrShortBatch},
		{"magic 1", with(func(h *Header) { h.Magic = 1 }), ErrUnsupportedMagic},
		{"magic 0", with(func(h *Header) { h.Magic = 0 }), ErrUnsupportedMagic},
		{"magic 3", with(func(h *Header) { h.Magic = 3 }), ErrUnsupportedMagic},
		{"negative base offset", with(func(h *Header) { h.BaseOffset = -1 }), ErrCorruptBatch},
		{"negative last offset delta", with(func(h *Header) { h.LastOffsetDelta = -1 }), ErrInvalidRecord},
		{"negative record count", with(func(h *Header) { h.RecordCount = -1 }), ErrInvalidRecord},
		{"codec 5", with(func(h *Header) { h.Attributes = 5 }), ErrInvalidRecord},
		{"codec 7", with(func(h *Header) { h.Attributes = 7 }), ErrInvalidRecord},
		{"offset overflow", with(func(h *Header) { h.BaseOffset = math.MaxInt64 }), ErrCorruptBatch},
		{"more records than offsets", with(func(h *Header) { h.LastOffsetDelta = 0 }), ErrInvalidRecord},
		{"count exceeds uncompressed bytes", with(func(h *Header) { h.RecordCount = 1000; h.LastOffsetDelta = 999 }), ErrInvalidRecord},
		{"crc field damaged", corrupt(crcPos), ErrCorruptBatch},
		{"attributes damaged", corrupt(attributesPos + 1), ErrCorruptBatch},
		{"record count damaged", corrupt(recordCountPos + 3), ErrCorruptBatch},
		{"max timestamp damaged", corrupt(maxTimestampPos), ErrCorruptBatch},
		{"producer id damaged", corrupt(producerIDPos + 7), ErrCorruptBatch},
		{"record bytes damaged", corrupt(len(valid) - 1), ErrCorruptBatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Validate(tt.batch)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Validate: %v, want %v", err, tt.want)
			}
			for _, other := range []error{ErrShortBatch, ErrCorruptBatch, ErrUnsupportedMagic, ErrInvalidRecord} {
				if other != tt.want && errors.Is(err, other) {
					t.Fatalf("Validate: %v also matches %v", err, other)
				}
			}
			if err := ForEachRecord(tt.batch, func(*Record) error { return nil }); !errors.Is(err, tt.want) {
				t.Fatalf("ForEachRecord: %v, want %v", err, tt.want)
			}
			if _, err := ValidateRecords(tt.batch, StoredRecords); !errors.Is(err, tt.want) {
				t.Fatalf("ValidateRecords: %v, want %v", err, tt.want)
			}
		})
	}
}

// The CRC does not cover base offset, length, leader epoch and magic: rewriting the offset and
// epoch keeps a batch valid, as the broker relies on when it assigns offsets.
func TestRewritesOutsideCRC(t *testing.T) {
	b := forgeBatch(validHeader(2), twoRecords())
	crc := binary.BigEndian.Uint32(b[crcPos:])
	SetBaseOffset(b, 5000)
	SetPartitionLeaderEpoch(b, 9)
	h, err := Validate(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.BaseOffset != 5000 || h.PartitionLeaderEpoch != 9 || h.CRC != crc {
		t.Fatalf("header after rewrite: %+v", h)
	}
	SetLogAppendTime(b, 777)
	if h, err = Validate(b); err != nil {
		t.Fatal(err)
	}
	if !h.LogAppendTime() || h.MaxTimestamp != 777 {
		t.Fatalf("header after SetLogAppendTime: %+v", h)
	}
	SetMaxTimestamp(b, 888)
	if h, err = Validate(b); err != nil || h.MaxTimestamp != 888 {
		t.Fatalf("after SetMaxTimestamp: %+v, %v", h, err)
	}
}

func TestHeaderAccessors(t *testing.T) {
	h := Header{BaseOffset: 10, BatchLength: 100, LastOffsetDelta: 4, Attributes: int16(CodecZstd) | timestampTypeBit | transactionalBit | controlBit | deleteHorizonBit}
	if h.SizeBytes() != 112 || h.LastOffset() != 14 || h.NextOffset() != 15 || h.Codec() != CodecZstd ||
		!h.LogAppendTime() || !h.Transactional() || !h.Control() || !h.HasDeleteHorizon() {
		t.Fatalf("accessors wrong for %+v", h)
	}
	var zero Header
	if zero.LogAppendTime() || zero.Transactional() || zero.Control() || zero.HasDeleteHorizon() || zero.Codec() != CodecNone {
		t.Fatal("zero header has flags set")
	}
	for c, name := range map[Codec]string{CodecNone: "none", CodecGzip: "gzip", CodecSnappy: "snappy", CodecLZ4: "lz4", CodecZstd: "zstd", 6: "codec(6)"} {
		if c.String() != name {
			t.Errorf("Codec(%d).String() = %q, want %q", c, c.String(), name)
		}
	}
}

func TestValidateAllocatesNothing(t *testing.T) {
	b := forgeBatch(validHeader(2), twoRecords())
	two := append(append([]byte{}, b...), b...)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseHeader(b); err != nil {
			t.Fatal(err)
		}
		if _, err := Validate(b); err != nil {
			t.Fatal(err)
		}
		it := NewBatchIterator(two)
		for it.Next() {
		}
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
		if _, _, _, err := NextBatch(b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
}
