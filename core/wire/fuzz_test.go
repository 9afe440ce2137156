package wire

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/record"
)

// FuzzDecodeRequest: any frame decodes or fails with one of the package's errors, never
// panicking (DecodeRequest recovers, so a panic inside kmsg would show as an ErrMalformed
// naming it, which the test also rejects); a decoded request re-encodes and decodes to the
// same bytes; a produce request's batches validate without panicking.
//
// Until kmsg stops at an exhausted reader in its tagged-field loops (see
// TestDecodeRequestHugeTagCount) the fuzzer can find inputs that take a minute each.
func FuzzDecodeRequest(f *testing.F) {
	versions := DefaultVersions()
	for _, r := range versions.Ranges() {
		for _, version := range []int16{r.MinVersion, r.MaxVersion} {
			f.Add(encodeRequest(kmsg.RequestForKey(r.APIKey), version, 1, strPtr("fuzz")))
		}
	}
	produce := produceRequest(9, batchOf(f, record.CodecNone, "a", "b"))
	f.Add(encodeRequest(produce, 9, 2, nil))
	decompressor := record.NewDecompressor(1 << 20)

	f.Fuzz(func(t *testing.T, frame []byte) {
		req, err := DecodeRequest(frame, &versions)
		if err != nil {
			require.Nil(t, req.Body)
			require.NotContains(t, err.Error(), "panicked")
			return
		}
		require.Equal(t, len(frame), req.FrameSizeBytes)
		encoded := AppendRequest(nil, req.Header, req.Body)
		again, err := DecodeRequest(encoded[SizePrefixBytes:], &versions)
		require.NoError(t, err)
		require.Equal(t, req.Body.AppendTo(nil), again.Body.AppendTo(nil))
		if p, ok := req.Body.(*kmsg.ProduceRequest); ok {
			for _, result := range ValidateProduce(p, decompressor, nil) {
				require.Equal(t, result.ErrorCode == NoError, result.Err == nil)
			}
		}
	})
}
