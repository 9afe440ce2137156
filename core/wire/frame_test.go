package wire

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadFrameSize(t *testing.T) {
	const maxBytes = 1 << 20
	for _, tc := range []struct {
		size    int32
		wantErr bool
	}{
		{-1, true},
		{-1 << 31, true},
		{0, true},
		{RequestHeaderMinBytes - 1, true},
		{RequestHeaderMinBytes, false},
		{maxBytes, false},
		{maxBytes + 1, true},
	} {
		var prefix [SizePrefixBytes]byte
		binary.BigEndian.PutUint32(prefix[:], uint32(tc.size))
		got, err := ReadFrameSize(prefix, maxBytes)
		if tc.wantErr {
			require.ErrorIs(t, err, ErrFrameSize, "size %d", tc.size)
			require.Contains(t, err.Error(), "size "+strconv.Itoa(int(tc.size))+" bytes")
			continue
		}
		require.NoError(t, err, "size %d", tc.size)
		require.Equal(t, tc.size, got)
	}
	// A response may be as small as its correlation id.
	_, err := ReadResponseFrameSize([SizePrefixBytes]byte{0, 0, 0, 4}, maxBytes)
	require.NoError(t, err)
	_, err = ReadResponseFrameSize([SizePrefixBytes]byte{0, 0, 0, 3}, maxBytes)
	require.ErrorIs(t, err, ErrFrameSize)
}

// stream returns frames of the given sizes (filled with their index) behind size prefixes.
func stream(sizes ...int) ([]byte, [][]byte) {
	var out []byte
	var frames [][]byte
	for i, size := range sizes {
		frame := bytes.Repeat([]byte{byte(i)}, size)
		out = binary.BigEndian.AppendUint32(out, uint32(size))
		out = append(out, frame...)
		frames = append(frames, frame)
	}
	return out, frames
}

func TestFrameReaderSplitsAnyChunking(t *testing.T) {
	input, want := stream(10, 200000, 11, 10, 70000)
	for _, chunk := range []int{1, 3, 4, 5, 13, 4096, 65536, len(input)} {
		fr := NewRequestFrameReader(1 << 20)
		var got [][]byte
		for p := input; len(p) > 0; {
			n := min(chunk, len(p))
			piece := p[:n]
			for len(piece) > 0 {
				consumed, frame, err := fr.Feed(piece)
				require.NoError(t, err)
				require.Positive(t, consumed)
				piece = piece[consumed:]
				if frame != nil {
					got = append(got, frame)
				}
			}
			p = p[n:]
		}
		require.Equal(t, want, got, "chunk %d", chunk)
		for i, frame := range got {
			require.Equal(t, len(want[i]), cap(frame), "a frame's buffer is exactly its size")
		}
		require.Zero(t, fr.BufferedBytes())
	}
}

func TestFrameReaderFramesAreTheCallers(t *testing.T) {
	input, _ := stream(10, 10)
	fr := NewRequestFrameReader(100)
	buf := append([]byte{}, input...)
	n, first, err := fr.Feed(buf)
	require.NoError(t, err)
	_, second, err := fr.Feed(buf[n:])
	require.NoError(t, err)
	for i := range buf {
		buf[i] = 0xee // the caller reuses its read buffer
	}
	require.Equal(t, bytes.Repeat([]byte{0}, 10), first)
	require.Equal(t, bytes.Repeat([]byte{1}, 10), second)
}

func TestFrameReaderBadSizes(t *testing.T) {
	for _, size := range []int32{-1, 0, 9, 101} {
		fr := NewRequestFrameReader(100)
		prefix := binary.BigEndian.AppendUint32(nil, uint32(size))
		n, frame, err := fr.Feed(append(prefix, make([]byte, 200)...))
		require.ErrorIs(t, err, ErrFrameSize, "size %d", size)
		require.Nil(t, frame)
		require.Equal(t, SizePrefixBytes, n)
		// The stream has lost its framing: the error sticks.
		_, _, err = fr.Feed(make([]byte, 20))
		require.ErrorIs(t, err, ErrFrameSize)
	}
}

func TestFrameReaderBoundsItsBuffer(t *testing.T) {
	// A peer declares 100 MiB and sends a few bytes: the reader holds a bounded buffer.
	fr := NewRequestFrameReader(DefaultRequestBytesMax)
	prefix := binary.BigEndian.AppendUint32(nil, DefaultRequestBytesMax)
	allocated := measureAllocatedBytes(func() {
		_, frame, err := fr.Feed(append(prefix, 1, 2, 3))
		require.NoError(t, err)
		require.Nil(t, frame)
	})
	require.Less(t, allocated, uint64(2*frameChunkBytes))
	require.Equal(t, int32(DefaultRequestBytesMax), fr.PendingFrameBytes())
	require.Equal(t, SizePrefixBytes+3, fr.BufferedBytes())
	require.Panics(t, func() { NewRequestFrameReader(RequestHeaderMinBytes - 1) })
}

// TestFrameReaderDetach: after Detach the caller owns the pending frame and the reader reads
// the next prefix.
func TestFrameReaderDetach(t *testing.T) {
	fr := NewRequestFrameReader(1 << 20)
	stream := []byte{0, 0, 0, 20}
	stream = append(stream, bytes.Repeat([]byte{7}, 20)...)
	stream = append(stream, 0, 0, 0, 12)
	stream = append(stream, bytes.Repeat([]byte{9}, 12)...)
	n, frame, err := fr.Feed(stream[:7]) // the prefix and 3 bytes of the first frame
	if err != nil || frame != nil || n != 7 || fr.PendingFrameBytes() != 20 {
		t.Fatalf("Feed: %d, %v, %v, pending %d", n, frame, err, fr.PendingFrameBytes())
	}
	if fed := fr.Detach(); !bytes.Equal(fed, []byte{7, 7, 7}) {
		t.Fatalf("Detach returned %v", fed)
	}
	if fr.PendingFrameBytes() != 0 || fr.BufferedBytes() != 0 {
		t.Fatalf("after Detach: pending %d, buffered %d", fr.PendingFrameBytes(), fr.BufferedBytes())
	}
	// The caller read the other 17 bytes itself; the next frame comes through Feed.
	rest := stream[24:]
	for len(rest) > 0 {
		n, f, err := fr.Feed(rest)
		if err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
		frame = f
	}
	if !bytes.Equal(frame, bytes.Repeat([]byte{9}, 12)) {
		t.Fatalf("next frame %v", frame)
	}
}

// TestFrameReaderFeedOwned: FeedOwned frames what Feed frames, from any chunking, and a frame
// wholly inside an owned chunk is that chunk's bytes (no copy), capped so that appending to it
// cannot overwrite the next frame.
func TestFrameReaderFeedOwned(t *testing.T) {
	input, want := stream(10, 200000, 11, 10, 70000)
	for _, chunk := range []int{1, 3, 4, 5, 13, 4096, 65536, len(input)} {
		fr := NewRequestFrameReader(1 << 20)
		var got [][]byte
		aliased := 0
		for p := input; len(p) > 0; {
			n := min(chunk, len(p))
			piece := append([]byte(nil), p[:n]...) // each chunk is handed over
			for len(piece) > 0 {
				consumed, frame, err := fr.FeedOwned(piece)
				require.NoError(t, err)
				require.Positive(t, consumed)
				if frame != nil {
					got = append(got, frame)
					require.Equal(t, len(frame), cap(frame), "a frame's capacity ends at its end")
					if len(piece) > SizePrefixBytes && &frame[0] == &piece[SizePrefixBytes] {
						aliased++
					}
				}
				piece = piece[consumed:]
			}
			p = p[n:]
		}
		require.Equal(t, want, got, "chunk %d", chunk)
		require.Zero(t, fr.BufferedBytes())
		if chunk == len(input) {
			require.Equal(t, len(want), aliased, "every frame of one whole chunk is aliased")
		}
	}
	for _, size := range []int32{-1, 0, 9, 101} {
		fr := NewRequestFrameReader(100)
		prefix := binary.BigEndian.AppendUint32(nil, uint32(size))
		n, frame, err := fr.FeedOwned(append(prefix, make([]byte, 200)...))
		require.ErrorIs(t, err, ErrFrameSize, "size %d", size)
		require.Nil(t, frame)
		require.Equal(t, SizePrefixBytes, n)
		_, _, err = fr.FeedOwned(make([]byte, 20))
		require.ErrorIs(t, err, ErrFrameSize)
	}
}
