package wire

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// AppendResponse appends resp as the answer to the request with header: size prefix, response
// header (the correlation id, plus tagged fields — header v1 — when the version is flexible,
// except for ApiVersions, whose response header is always v0) and the body at the request's
// version, which it sets on resp. An ApiVersions response carrying UNSUPPORTED_VERSION is
// written as v0 instead: the request's version is one the broker does not speak, and clients
// read that answer as v0 (KIP-511; Kafka's RequestContext.apiVersion). resp must be the
// response kind of header's key.
func AppendResponse(dst []byte, header RequestHeader, resp kmsg.Response) []byte {
	if resp.Key() != header.APIKey {
		panic(fmt.Sprintf("wire: response key %d answers a request with key %d", resp.Key(), header.APIKey))
	}
	version := header.APIVersion
	if av, ok := resp.(*kmsg.ApiVersionsResponse); ok && av.ErrorCode == UnsupportedVersion {
		version = 0
	}
	resp.SetVersion(version)
	if fetch, ok := resp.(*kmsg.FetchResponse); ok {
		emptyRecordsNotNull(fetch)
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(header.CorrelationID))
	if responseHeaderFlexible(header.APIKey, resp.IsFlexible()) {
		dst = append(dst, 0) // no tagged fields
	}
	dst = resp.AppendTo(dst)
	return putSizePrefix(dst, start)
}

// emptyRecordsNotNull gives every fetch partition without data empty records rather than null:
// Kafka's schema allows null, but Kafka's broker always sends empty records and librdkafka
// rejects null ("invalid MessageSetSize -1"), so no fetch response of ours may carry one.
func emptyRecordsNotNull(fetch *kmsg.FetchResponse) {
	for t := range fetch.Topics {
		partitions := fetch.Topics[t].Partitions
		for p := range partitions {
			if partitions[p].RecordBatches == nil {
				partitions[p].RecordBatches = []byte{}
			}
		}
	}
}

// UnsupportedApiVersionsResponse is the answer to an ApiVersions request whose version is
// outside versions' range (DecodeRequest's ErrUnsupportedVersion): UNSUPPORTED_VERSION in a v0
// body listing only ApiVersions' own range, so the client can retry with a version the broker
// speaks. This is Kafka's ApiVersionsRequest.getErrorResponse (KIP-511).
func UnsupportedApiVersionsResponse(versions *VersionTable) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = UnsupportedVersion
	if r, ok := versions.Lookup(apiVersionsKey); ok {
		key := kmsg.NewApiVersionsResponseApiKey()
		key.ApiKey = r.APIKey
		key.MinVersion = r.MinVersion
		key.MaxVersion = r.MaxVersion
		resp.ApiKeys = append(resp.ApiKeys, key)
	}
	return resp
}

// DecodeResponse decodes a response frame (the bytes after the size prefix), as a client does,
// for a request of key at version. It returns the correlation id and the body. Like Kafka's
// client, it reads an ApiVersions response that does not decode at version as v0: a broker
// answers a too-new ApiVersions request in v0. The body aliases frame.
func DecodeResponse(frame []byte, key, version int16) (correlationID int32, resp kmsg.Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp = nil
			err = fmt.Errorf("%w: %s v%d response: decoder panicked: %v", ErrMalformed, kmsg.NameForKey(key), version, r)
		}
	}()
	resp = kmsg.ResponseForKey(key)
	if resp == nil {
		return 0, nil, fmt.Errorf("%w: api key %d", ErrUnknownAPIKey, key)
	}
	if len(frame) < ResponseHeaderMinBytes {
		return 0, nil, fmt.Errorf("%w: response frame of %d bytes is shorter than its header", ErrMalformed, len(frame))
	}
	correlationID = int32(binary.BigEndian.Uint32(frame))
	rest := frame[ResponseHeaderMinBytes:]
	resp.SetVersion(version)
	if responseHeaderFlexible(key, resp.IsFlexible()) {
		if rest, err = skipTaggedFields(rest); err != nil {
			return correlationID, nil, fmt.Errorf("%s v%d response header tagged fields: %w", kmsg.NameForKey(key), version, err)
		}
	}
	err = decodeResponseBody(resp, rest)
	if err != nil && key == apiVersionsKey && version != 0 {
		resp.SetVersion(0)
		if decodeResponseBody(resp, rest) == nil {
			return correlationID, resp, nil
		}
	}
	if err != nil {
		return correlationID, nil, err
	}
	return correlationID, resp, nil
}

// decodeResponseBody decodes body into resp at resp's version, requiring every byte to be
// used (see checkConsumed).
func decodeResponseBody(resp kmsg.Response, body []byte) error {
	key, version := resp.Key(), resp.GetVersion()
	if err := resp.ReadFrom(body); err != nil {
		return fmt.Errorf("%w: %s v%d response body of %d bytes: %v", ErrMalformed, kmsg.NameForKey(key), version, len(body), err)
	}
	if len(body) == 0 {
		return nil
	}
	probe := kmsg.ResponseForKey(key)
	probe.SetVersion(version)
	if probe.ReadFrom(body[:len(body)-1]) == nil {
		return fmt.Errorf("%w: %s v%d response body of %d bytes has trailing bytes", ErrMalformed, kmsg.NameForKey(key), version, len(body))
	}
	return nil
}
