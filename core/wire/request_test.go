package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func strPtr(s string) *string { return &s }

// encodeRequest builds a frame as a client sends it, without the size prefix, with the
// header written by hand (not by this package) so that a shared mistake cannot hide.
func encodeRequest(req kmsg.Request, version int16, correlationID int32, clientID *string) []byte {
	req.SetVersion(version)
	var frame []byte
	frame = binary.BigEndian.AppendUint16(frame, uint16(req.Key()))
	frame = binary.BigEndian.AppendUint16(frame, uint16(version))
	frame = binary.BigEndian.AppendUint32(frame, uint32(correlationID))
	if clientID == nil {
		frame = append(frame, 0xff, 0xff)
	} else {
		frame = binary.BigEndian.AppendUint16(frame, uint16(len(*clientID)))
		frame = append(frame, *clientID...)
	}
	if req.IsFlexible() {
		frame = append(frame, 0) // header v2: no tagged fields
	}
	return req.AppendTo(frame)
}

// TestDecodeRequestRoundTrip encodes every advertised key at every advertised version, with
// every field filled, as a client would, and checks DecodeRequest gives back the header and a
// body that encodes to the same bytes.
func TestDecodeRequestRoundTrip(t *testing.T) {
	versions := DefaultVersions()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, r := range versions.Ranges() {
		for version := r.MinVersion; version <= r.MaxVersion; version++ {
			for trial := range 4 {
				req := kmsg.RequestForKey(r.APIKey)
				if trial > 0 { // trial 0 keeps kmsg's defaults: empty arrays, null strings
					fill(rng, req)
				}
				clientID := strPtr("client-1")
				if trial == 2 {
					clientID = nil
				}
				correlationID := int32(rng.Uint32())
				frame := encodeRequest(req, version, correlationID, clientID)
				body := req.AppendTo(nil)

				got, err := DecodeRequest(frame, &versions)
				require.NoError(t, err, "%s v%d trial %d", kmsg.NameForKey(r.APIKey), version, trial)
				require.Equal(t, RequestHeader{APIKey: r.APIKey, APIVersion: version, CorrelationID: correlationID, ClientID: clientID}, got.Header)
				require.Equal(t, len(frame), got.FrameSizeBytes)
				require.Equal(t, version, got.Body.GetVersion())
				require.Equal(t, body, got.Body.AppendTo(nil), "%s v%d trial %d: re-encoded body differs", kmsg.NameForKey(r.APIKey), version, trial)

				// The same request through AppendRequest, the client-side encoder, is the
				// same bytes behind a size prefix.
				fresh := kmsg.RequestForKey(r.APIKey)
				fresh.SetVersion(version)
				require.NoError(t, fresh.ReadFrom(body[:len(body):len(body)]))
				encoded := AppendRequest(nil, got.Header, fresh)
				require.Equal(t, uint32(len(frame)), binary.BigEndian.Uint32(encoded))
				require.Equal(t, frame, encoded[SizePrefixBytes:])
			}
		}
	}
}

func TestDecodeRequestHeaderFlexibility(t *testing.T) {
	versions := DefaultVersions()
	// Metadata v8 uses header v1; v9 header v2 (tagged fields after the client id).
	nonFlexible := encodeRequest(kmsg.NewPtrMetadataRequest(), 8, 7, strPtr("c"))
	require.Equal(t, []byte{0, 3, 0, 8, 0, 0, 0, 7, 0, 1, 'c'}, nonFlexible[:11])
	got, err := DecodeRequest(nonFlexible, &versions)
	require.NoError(t, err)
	require.Equal(t, int16(8), got.Header.APIVersion)

	flexible := encodeRequest(kmsg.NewPtrMetadataRequest(), 9, 7, strPtr("c"))
	require.Equal(t, []byte{0, 3, 0, 9, 0, 0, 0, 7, 0, 1, 'c', 0}, flexible[:12])
	_, err = DecodeRequest(flexible, &versions)
	require.NoError(t, err)

	// Unknown header tagged fields are skipped, in any order, as Kafka's reader does.
	body := flexible[12:]
	withTags := append(append([]byte{}, flexible[:11]...), 2, 5, 2, 'x', 'y', 1, 0)
	withTags = append(withTags, body...)
	got, err = DecodeRequest(withTags, &versions)
	require.NoError(t, err)
	require.Equal(t, "c", *got.Header.ClientID)

	// The client id is a non-compact string even in header v2; an empty one is not null.
	empty := encodeRequest(kmsg.NewPtrMetadataRequest(), 12, 1, strPtr(""))
	got, err = DecodeRequest(empty, &versions)
	require.NoError(t, err)
	require.NotNil(t, got.Header.ClientID)
	require.Equal(t, "", *got.Header.ClientID)
}

func TestDecodeRequestUnsupported(t *testing.T) {
	versions := DefaultVersions()
	for _, tc := range []struct {
		name    string
		frame   []byte
		wantErr error
	}{
		{"produce v12 above range", encodeRequest(kmsg.NewPtrProduceRequest(), 12, 1, nil), ErrUnsupportedVersion},
		{"fetch v3 below range", encodeRequest(kmsg.NewPtrFetchRequest(), 3, 1, nil), ErrUnsupportedVersion},
		{"api versions v5", encodeRequest(kmsg.NewPtrApiVersionsRequest(), 5, 1, nil), ErrUnsupportedVersion},
		{"negative version", encodeRequest(kmsg.NewPtrMetadataRequest(), -1, 1, nil), ErrUnsupportedVersion},
		{"join group, not advertised", encodeRequest(kmsg.NewPtrJoinGroupRequest(), 5, 1, nil), ErrUnknownAPIKey},
		{"vote, KRaft only", encodeRequest(kmsg.NewPtrVoteRequest(), 0, 1, nil), ErrUnknownAPIKey},
		{"no such key", []byte{0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff}, ErrUnknownAPIKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeRequest(tc.frame, &versions)
			require.ErrorIs(t, err, tc.wantErr)
			require.Nil(t, got.Body)
			require.Equal(t, int32(binary.BigEndian.Uint32(tc.frame[4:])), got.Header.CorrelationID)
			require.Equal(t, int16(binary.BigEndian.Uint16(tc.frame[0:])), got.Header.APIKey)
			require.Equal(t, int16(binary.BigEndian.Uint16(tc.frame[2:])), got.Header.APIVersion)
		})
	}

	// An ApiVersions version newer than kmsg knows still has its header read (v2, by the
	// version threshold) so the broker can answer it.
	future := []byte{0, 18, 0, 99, 0, 0, 0, 42, 0, 2, 'i', 'd', 0, 0xde, 0xad}
	got, err := DecodeRequest(future, &versions)
	require.ErrorIs(t, err, ErrUnsupportedVersion)
	require.Equal(t, RequestHeader{APIKey: 18, APIVersion: 99, CorrelationID: 42, ClientID: strPtr("id")}, got.Header)
}

func TestDecodeRequestMalformed(t *testing.T) {
	versions := DefaultVersions()
	metadata := encodeRequest(kmsg.NewPtrMetadataRequest(), 12, 9, strPtr("client"))
	fetchReq := kmsg.NewPtrFetchRequest()
	fill(rand.New(rand.NewPCG(3, 4)), fetchReq)
	fetch := encodeRequest(fetchReq, 4, 9, strPtr("client"))
	apiVersions := encodeRequest(kmsg.NewPtrApiVersionsRequest(), 0, 9, nil)

	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"empty", nil},
		{"shorter than a header", metadata[:9]},
		{"client id longer than the frame", []byte{0, 3, 0, 1, 0, 0, 0, 1, 0, 50, 'a'}},
		{"client id length -2", []byte{0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xfe, 0, 0, 0, 0}},
		{"header tagged fields missing", metadata[:18]},
		{"header tag count too large", append(append([]byte{}, metadata[:16]...), 0x7f)},
		{"header tag size beyond the frame", append(append([]byte{}, metadata[:16]...), 1, 0, 9)},
		{"header tag varint too long", append(append([]byte{}, metadata[:16]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{"body truncated by one byte", fetch[:len(fetch)-1]},
		{"body truncated to nothing", fetch[:18]},
		{"body with a trailing byte", append(append([]byte{}, fetch...), 0)},
		{"flexible body with a trailing byte", append(append([]byte{}, metadata...), 0)},
		{"empty body with a trailing byte", append(append([]byte{}, apiVersions...), 0)},
		{"array length beyond the frame", append(append([]byte{}, fetch[:18+12]...), 0x7f, 0xff, 0xff, 0xff)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeRequest(tc.frame, &versions)
			require.ErrorIs(t, err, ErrMalformed)
			require.False(t, errors.Is(err, ErrUnsupportedVersion))
			require.Nil(t, got.Body)
		})
	}
}

// TestDecodeRequestHugeDeclaredLengths puts a huge declared length (array, string or bytes)
// at every position of small requests of every advertised key and version: decoding fails or
// succeeds, but allocates in proportion to the frame, never to the declared length. kmsg
// checks each array length against the bytes left (and each element takes at least a byte),
// so no guard is needed here; the bound below is what that check yields.
func TestDecodeRequestHugeDeclaredLengths(t *testing.T) {
	versions := DefaultVersions()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, r := range versions.Ranges() {
		for _, version := range []int16{r.MinVersion, r.MaxVersion} {
			req := kmsg.RequestForKey(r.APIKey)
			fill(rng, req)
			frame := encodeRequest(req, version, 1, strPtr("c"))
			for _, huge := range [][]byte{
				{0x7f, 0xff, 0xff, 0xff},       // int32 array or bytes length
				{0x7f, 0xff},                   // int16 string length
				{0x80, 0x80, 0x01},             // a uvarint compact length of 2^14
				{0xff, 0xff, 0xff, 0xff, 0x0f}, // a uvarint of 2^32-1, also as a tagged-field count
			} {
				for pos := RequestHeaderMinBytes; pos+len(huge) <= len(frame); pos++ {
					mutated := append([]byte{}, frame...)
					copy(mutated[pos:], huge)
					bytesAllocated := measureAllocatedBytes(func() { _, _ = DecodeRequest(mutated, &versions) })
					require.Less(t, bytesAllocated, uint64(64<<10)+uint64(len(frame))*512,
						"%s v%d huge length at %d: %d bytes allocated for a %d-byte frame", kmsg.NameForKey(r.APIKey), version, pos, bytesAllocated, len(frame))
				}
			}
		}
	}
}

func TestAppendRequestPanicsOnKeyMismatch(t *testing.T) {
	require.Panics(t, func() {
		AppendRequest(nil, RequestHeader{APIKey: 3}, kmsg.NewPtrProduceRequest())
	})
}

func TestDecodeRequestAliasesFrame(t *testing.T) {
	versions := DefaultVersions()
	req := kmsg.NewPtrProduceRequest()
	topic := kmsg.NewProduceRequestTopic()
	topic.Topic = "t"
	partition := kmsg.NewProduceRequestTopicPartition()
	partition.Records = []byte("records")
	topic.Partitions = append(topic.Partitions, partition)
	req.Topics = append(req.Topics, topic)
	frame := encodeRequest(req, 9, 1, nil)
	got, err := DecodeRequest(frame, &versions)
	require.NoError(t, err)
	records := got.Body.(*kmsg.ProduceRequest).Topics[0].Partitions[0].Records
	require.Equal(t, []byte("records"), records)
	// Documented: the records alias the frame rather than being copied.
	i := bytes.Index(frame, []byte("records"))
	frame[i] = 'R'
	require.Equal(t, []byte("Records"), records)
}

// TestDecodeRequestHugeTagCount: a flexible request whose tagged-field count is 2^32-1.
// Upstream kmsg v1.15 keeps looping over such a count after its reader runs out of bytes, so this
// 25-byte Produce frame cost about 70 s of CPU; third_party/kmsg carries the fix (PATCHES.md),
// and without it this test runs for a minute instead of milliseconds.
func TestDecodeRequestHugeTagCount(t *testing.T) {
	versions := DefaultVersions()
	// Produce v9: null transactional id, acks, timeout, one topic "" with one partition 0 and
	// null records, then the partition's tagged fields: a count of 2^32-1 and nothing more.
	frame := []byte{0, 0, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 0}
	frame = append(frame, 0, 0, 1, 0, 0, 0, 1, 2, 1, 2, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f)
	_, err := DecodeRequest(frame, &versions)
	require.ErrorIs(t, err, ErrMalformed)
}
