// Package netio is the production network driver (DESIGN.md §1, §3): the Kafka TCP server
// that frames and decodes requests off the state machine's loop, hands them to the loop
// through one bounded queue with backpressure, and writes the loop's responses back strictly
// in request order, executing fetch read plans (pread now, sendfile later) on the way out;
// and the outbound inter-node transport (PeerClient) that carries a node's own requests to
// the other nodes and brings their responses back to the loop.
//
//   - config.go: Config, with Kafka's key names where Kafka has the setting.
//   - server.go: Server: Listen, the accept loop, Events, Respond, RespondNext, Close,
//     Shutdown.
//   - conn.go: one connection: the reader goroutine (frames → wire.DecodeRequest → Events)
//     and the writer goroutine (responses reordered by sequence, encoded, written).
//   - budget.go: byteBudget, for QueuedBytesMax (requests) and FetchReadBytesMax (fetch
//     records read and not yet written), shared by every connection.
//   - readplan.go: PlanReader, a thin wrapper over core/log's AppendPlan (pread, then every
//     batch checked, cut at the last whole valid batch), which the simulator runs too.
//   - peer.go: PeerClient (SetAddress, Send, Events, Close) and PeerEvent, the outbound
//     transport for inter-node RPCs (quorum Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch,
//     FetchSnapshot; broker registration and heartbeats; forwarded admin requests).
//   - peer_conn.go: one destination: its bounded queue, the goroutine that dials (lazily,
//     with backoff), writes pipelined requests and enforces request.timeout.ms, and the
//     connection's reader (frames → wire.DecodeResponse by the oldest request in flight).
//   - peer_config.go: PeerConfig, with the Kafka clients' key names.
//   - peer_backoff.go: reconnectBackoff, Kafka's exponential backoff with jitter.
//
// Backpressure. A connection stops reading its socket (so TCP pushes back on the client)
// while it has InFlightPerConnMax requests read but not yet answered, or while the requests
// of all connections waiting for or held by the loop reach QueuedBytesMax. Kafka itself mutes
// a connection while one request is being processed; franz-go and the Java client pipeline up
// to five (max.in.flight.requests.per.connection), so the default here is 5 and responses are
// still written in request order.
//
// Contract with the loop. Every EventRequest gets exactly one answer: Respond (by the event's
// Seq) or RespondNext (the connection's oldest unanswered request, for a loop that answers
// in order, as core/broker's Node does); a nil body writes nothing and frees the slot. Each
// answer's header is checked against its request's (api key, correlation id): a mismatch is
// a bug in the loop and panics there. EventClosed comes after a connection's last
// EventRequest; answers for it afterwards are ignored. Close closes a connection after the
// answers already given for it. After Shutdown the Events channel closes.
//
// Contract with the loop, outbound. Send never blocks: it queues the request (with the
// caller's correlation id) on its destination's bounded queue or returns false, and a false is
// a lost message, which the protocols retry on their own timers. Every accepted request gets
// exactly one PeerEvent: its response decoded at the request's version, or an Err
// (ErrPeerDisconnected when the connection failed or could not be opened, so the state
// machine may retry before its own timeout; ErrPeerRequestTimeout after RequestTimeout). A
// response the peer should not have sent (a correlation id other than the oldest in flight,
// an oversized frame, a body that does not decode) closes that connection with a logged
// reason. Messages a node sends to itself never reach the PeerClient: the driver loops them
// back. netio.Server does not accept the inter-node keys yet (wire.VersionTable refuses to
// advertise them), so a controller listener needs its own table.
//
// netio never imports core/broker: the driver in cmd/weir glues Events to Node.Request and
// Node.ConnClosed, and the Node's Responses to RespondNext (netio.PartitionRead has the
// fields of broker.PartitionRead, so one converts to the other) and Closes to Close.
package netio
