// Package wire turns Kafka protocol bytes into decoded requests and responses into bytes. It is
// pure: netio drives it over TCP and the simulator over its simulated network, so simulated
// clients and brokers exchange the same bytes real ones do.
//
//   - frame.go: the 4-byte size prefix; ReadFrameSize and FrameReader, an incremental splitter
//     that bounds every frame by socket.request.max.bytes.
//   - header.go: request header v1/v2 (v2 adds tagged fields on flexible versions) and
//     response header v0/v1.
//   - versions.go: VersionTable, the API keys and version ranges the broker advertises.
//   - request.go: DecodeRequest, a whole frame to a Request (header plus kmsg body), and
//     AppendRequest, its inverse for clients.
//   - response.go: AppendResponse, with ApiVersions' special rules, and DecodeResponse.
//   - produce.go: ValidateProduce, the per-partition batch checks Kafka makes on a produce
//     request before it reaches a log.
//   - errorcodes.go: the Kafka error codes this package returns.
//
// Nothing here panics on input: bad bytes are an error and the driver closes the connection
// with the error as the logged reason. kmsg decodes in place, so a decoded Request aliases its
// frame (record batches are not copied): a frame belongs to its Request once decoded.
package wire
