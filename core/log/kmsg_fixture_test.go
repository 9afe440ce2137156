package log

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
	"github.com/weirdata/weir/diskio/osfs"
)

// franzGoBatch lays out a batch as franz-go's producer does, with kmsg's encoders and
// franz-go's own compressor, so the log is tested against bytes it did not write itself.
func franzGoBatch(t *testing.T, base record.Offset, count int, codec kgo.CompressionCodec, attributes int16) []byte {
	t.Helper()
	var raw []byte
	for i := 0; i < count; i++ {
		r := kmsg.Record{
			TimestampDelta64: int64(i),
			OffsetDelta:      int32(i),
			Key:              []byte(fmt.Sprintf("key-%d", i)),
			Value:            bytes.Repeat([]byte(fmt.Sprintf("v%d-%d;", base, i)), 1+i%40),
			Headers:          []kmsg.Header{{Key: "h", Value: []byte{byte(i)}}},
		}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // the length varint of 0 takes one byte
		raw = r.AppendTo(raw)
	}
	payload := raw
	if attributes != 0 {
		compressor, err := kgo.DefaultCompressor(codec)
		require.NoError(t, err)
		compressed, used := compressor.Compress(bytes.NewBuffer(nil), raw)
		require.Equal(t, attributes, int16(used), "franz-go chose another codec")
		payload = append([]byte(nil), compressed...) // Compress may return a buffer it reuses
	}
	kb := kmsg.RecordBatch{
		FirstOffset:          int64(base),
		PartitionLeaderEpoch: 3,
		Magic:                2,
		Attributes:           attributes,
		LastOffsetDelta:      int32(count - 1),
		FirstTimestamp:       1_700_000_000_000 + int64(base),
		MaxTimestamp:         1_700_000_000_000 + int64(base) + int64(count-1),
		ProducerID:           42,
		ProducerEpoch:        1,
		FirstSequence:        int32(base),
		NumRecords:           int32(count),
		Records:              payload,
	}
	b := kb.AppendTo(nil)
	kb.Length = int32(len(b) - record.LogOverheadBytes)
	b = kb.AppendTo(b[:0])
	kb.CRC = int32(crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return kb.AppendTo(b[:0])
}

// TestFranzGoBatchesReadBackByteForByte appends batches built by franz-go (every codec) as a
// follower would, keeping their offsets, and checks that reads return them byte for byte, before
// and after a crash and recovery, on the in-memory FS and on the OS's.
func TestFranzGoBatchesReadBackByteForByte(t *testing.T) {
	codecs := []struct {
		codec      kgo.CompressionCodec
		attributes int16
	}{
		{kgo.NoCompression(), 0},
		{kgo.GzipCompression(), 1},
		{kgo.SnappyCompression(), 2},
		{kgo.Lz4Compression(), 3},
		{kgo.ZstdCompression(), 4},
	}
	filesystems := map[string]func(t *testing.T) (diskio.FS, string){
		"memfs": func(t *testing.T) (diskio.FS, string) { return newMemFS(), testDir },
		"osfs":  func(t *testing.T) (diskio.FS, string) { return osfs.New(), t.TempDir() + "/topic-0" },
	}
	for _, name := range []string{"memfs", "osfs"} {
		t.Run(name, func(t *testing.T) {
			fsys, dir := filesystems[name](t)
			cfg := testConfig()
			cfg.SegmentBytes = 4 << 10 // several segments
			l, err := Open(fsys, dir, cfg, OpenOptions{NowMs: 1})
			require.NoError(t, err)

			var want [][]byte
			next := record.Offset(0)
			for i := 0; i < 40; i++ {
				c := codecs[i%len(codecs)]
				b := franzGoBatch(t, next, 1+i%17, c.codec, c.attributes)
				_, err := record.ValidateRecords(b, record.ProducedRecords)
				require.NoError(t, err, "franz-go's batch %d must be valid", i)
				want = append(want, append([]byte(nil), b...))
				res, err := l.Append(b, AppendOptions{NowMs: 2})
				require.NoError(t, err)
				require.Equal(t, next, res.BaseOffset, "a follower append keeps the batch's offsets")
				next = res.LastOffset + 1
			}
			require.Greater(t, l.SegmentCount(), 2)
			syncAll(t, l)
			require.Equal(t, want, readAllBatches(t, l))
			require.NoError(t, l.Close())

			if mem, ok := fsys.(*memfs.FS); ok {
				fsys = mem.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
			}
			reopened, err := Open(fsys, dir, cfg, OpenOptions{NowMs: 3})
			require.NoError(t, err)
			defer reopened.Close()
			require.Equal(t, next, reopened.EndOffset())
			require.Equal(t, want, readAllBatches(t, reopened), "recovery must keep every synced batch byte for byte")
		})
	}
}
