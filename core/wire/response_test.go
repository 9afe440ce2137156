package wire

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAppendResponseRoundTrip encodes a filled response of every advertised key at every
// advertised version and reads it back as a client would.
func TestAppendResponseRoundTrip(t *testing.T) {
	versions := DefaultVersions()
	rng := rand.New(rand.NewPCG(7, 8))
	for _, r := range versions.Ranges() {
		for version := r.MinVersion; version <= r.MaxVersion; version++ {
			resp := kmsg.ResponseForKey(r.APIKey)
			fill(rng, resp)
			if av, ok := resp.(*kmsg.ApiVersionsResponse); ok {
				av.ErrorCode = 0 // 35 has its own v0 rule, tested below
			}
			header := RequestHeader{APIKey: r.APIKey, APIVersion: version, CorrelationID: int32(rng.Uint32())}
			out := AppendResponse([]byte("prefix"), header, resp)
			require.Equal(t, []byte("prefix"), out[:6], "dst is appended to")
			out = out[6:]
			require.Equal(t, uint32(len(out)-SizePrefixBytes), binary.BigEndian.Uint32(out))
			require.Equal(t, uint32(header.CorrelationID), binary.BigEndian.Uint32(out[4:]))
			body := resp.AppendTo(nil)
			headerBytes := ResponseHeaderMinBytes
			if resp.IsFlexible() && r.APIKey != 18 {
				headerBytes++ // header v1: an empty tagged-field section
				require.Equal(t, byte(0), out[8])
			}
			require.Equal(t, body, out[SizePrefixBytes+headerBytes:], "%s v%d", kmsg.NameForKey(r.APIKey), version)

			correlationID, decoded, err := DecodeResponse(out[SizePrefixBytes:], r.APIKey, version)
			require.NoError(t, err, "%s v%d", kmsg.NameForKey(r.APIKey), version)
			require.Equal(t, header.CorrelationID, correlationID)
			require.Equal(t, body, decoded.AppendTo(nil))
		}
	}
}

func TestApiVersionsResponseHeaderIsAlwaysV0(t *testing.T) {
	versions := DefaultVersions()
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.ApiKeys = versions.APIKeys()
	out := AppendResponse(nil, RequestHeader{APIKey: 18, APIVersion: 3, CorrelationID: 5}, resp)
	require.True(t, resp.IsFlexible(), "v3 is a flexible version")
	// size, correlation id, then straight into the body's error code: no tagged fields.
	require.Equal(t, []byte{0, 0, 0, 5, 0, 0}, out[4:10])

	metadata := kmsg.NewPtrMetadataResponse()
	out = AppendResponse(nil, RequestHeader{APIKey: 3, APIVersion: 9, CorrelationID: 5}, metadata)
	require.Equal(t, []byte{0, 0, 0, 5, 0}, out[4:9], "a flexible Metadata response has header v1")
	require.Equal(t, metadata.AppendTo(nil), out[9:])
	out = AppendResponse(nil, RequestHeader{APIKey: 3, APIVersion: 8, CorrelationID: 5}, metadata)
	require.Equal(t, metadata.AppendTo(nil), out[8:], "a non-flexible Metadata response has header v0")
}

// TestUnsupportedApiVersions walks KIP-511: a client asks ApiVersions at a version the broker
// does not speak; the broker answers v0 with UNSUPPORTED_VERSION and its ApiVersions range;
// the client, reading at the version it asked, falls back to v0.
func TestUnsupportedApiVersions(t *testing.T) {
	versions := DefaultVersions()
	for _, askedVersion := range []int16{5, 99} {
		frame := []byte{0, 18, 0, byte(askedVersion), 0, 0, 0, 77, 0, 3, 'c', 'l', 'i', 0}
		frame = append(frame, 0, 0, 0) // a v3+ body: two null compact strings and no tags
		got, err := DecodeRequest(frame, &versions)
		require.ErrorIs(t, err, ErrUnsupportedVersion)

		out := AppendResponse(nil, got.Header, UnsupportedApiVersionsResponse(&versions))
		// Header v0, then a v0 body: error code, api keys (int32 count), and nothing more.
		want := []byte{0, 0, 0, 77, 0, 35, 0, 0, 0, 1, 0, 18, 0, 0, 0, 4}
		require.Equal(t, want, out[SizePrefixBytes:])

		correlationID, resp, err := DecodeResponse(out[SizePrefixBytes:], 18, askedVersion)
		require.NoError(t, err)
		require.Equal(t, int32(77), correlationID)
		av := resp.(*kmsg.ApiVersionsResponse)
		require.Equal(t, int16(0), av.GetVersion())
		require.Equal(t, kerr.UnsupportedVersion.Code, av.ErrorCode)
		require.Len(t, av.ApiKeys, 1)
		require.Equal(t, kmsg.ApiVersionsResponseApiKey{ApiKey: 18, MinVersion: 0, MaxVersion: 4}, av.ApiKeys[0])
	}
}

func TestDecodeResponseMalformed(t *testing.T) {
	good := AppendResponse(nil, RequestHeader{APIKey: 3, APIVersion: 12, CorrelationID: 1}, kmsg.NewPtrMetadataResponse())[SizePrefixBytes:]
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"short", good[:3]},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(append([]byte{}, good...), 0)},
		{"bad header tags", append(append([]byte{}, good[:4]...), 0x7f)},
	} {
		_, _, err := DecodeResponse(tc.frame, 3, 12)
		require.ErrorIs(t, err, ErrMalformed, tc.name)
	}
	_, _, err := DecodeResponse(good, 9999, 0)
	require.ErrorIs(t, err, ErrUnknownAPIKey)
}

func TestAppendResponsePanicsOnKeyMismatch(t *testing.T) {
	require.Panics(t, func() {
		AppendResponse(nil, RequestHeader{APIKey: 3}, kmsg.NewPtrProduceResponse())
	})
}

// TestErrorCodesAreKafkas pins the package's codes to franz-go's table.
func TestErrorCodesAreKafkas(t *testing.T) {
	require.Equal(t, int16(0), NoError)
	require.Equal(t, kerr.CorruptMessage.Code, CorruptMessage)
	require.Equal(t, kerr.UnsupportedVersion.Code, UnsupportedVersion)
	require.Equal(t, kerr.UnsupportedForMessageFormat.Code, UnsupportedForMessageFormat)
	require.Equal(t, kerr.UnsupportedCompressionType.Code, UnsupportedCompressionType)
	require.Equal(t, kerr.InvalidRecord.Code, InvalidRecord)
}
