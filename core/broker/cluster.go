package broker

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/core/uuid"
)

// The broker in a cluster (DESIGN §6): it learns metadata only from the committed image its
// process's controller.Node hands it (Metadata), registers with the active controller and
// keeps its lease with heartbeats, and forwards the admin requests the controller decides.
// Requests to the controller are PeerSends to the quorum leader; their answers come back with
// PeerResponse.

// Kafka error codes of the broker-to-controller RPCs (kerr).
const (
	errNotControllerCode       int16 = 41
	errStaleBrokerEpoch        int16 = 77
	errBrokerIDNotRegistered   int16 = 102
	errInvalidRegistrationCode int16 = 119
)

// lifecycle is the broker's registration with the controller (KIP-631).
type lifecycle struct {
	incarnation uuid.UUID
	// epoch is the broker epoch of the registration the controller answered; -1 before.
	epoch int64
	// registeredOffset is the offset of that registration's record: the broker is caught up
	// once it has applied it (epoch = the offset, so the same number).
	inFlight        int32 // correlation id of the registration or heartbeat in flight; 0 none
	inFlightSentMs  int64
	nextMs          int64 // when to send the next registration or heartbeat
	fenced          bool  // as the last heartbeat answer said
	shouldShutDown  bool  // the controller let a controlled shutdown finish
	registrationErr int16 // the last registration refusal, for the logs
}

// forward is an admin request sent on to the active controller, answered with its answer.
type forward struct {
	conn       ConnID
	slot       *slot
	req        kmsg.Request
	deadlineMs int64
	sentTo     int32 // the controller it went to; -1 while waiting for a leader
	corr       int32 // its correlation id while in flight; 0 when not sent
	// retryMs is when to send it again after a failure (a refused or lost send); 0 to send
	// as soon as a controller is known.
	retryMs int64
	// onAnswer, when set, sees the controller's answer before it is relayed (auto-creation).
	onAnswer func(kmsg.Response)
}

func (f *forward) connID() ConnID { return f.conn }

// controllerRetryBackoffMs is how long a failed request to the controller waits before it is
// sent again (retry.backoff.ms).
const controllerRetryBackoffMs = 100

// controllerRequestTimeoutMs bounds an answer from the controller (Kafka's
// controller.socket.timeout.ms / request.timeout.ms, 30 s); the request is sent again after.
const controllerRequestTimeoutMs = 30_000

// Metadata hands the Node the committed metadata image of its process's controller.Node: the
// image after every record below c.Offset, and the quorum's leader. Logs follow it: a
// partition assigned to this broker gets a log, a removed one loses it, a changed config is
// applied. Metadata never goes back (a restarted controller.Node starts a new Node too).
func (n *Node) Metadata(now Clocks, c controller.Committed) Ready {
	n.begin(now)
	if c.Offset < n.imgOffset {
		panic(fmt.Sprintf("broker: invariant: committed metadata went back from %d to %d", n.imgOffset, c.Offset))
	}
	leaderChanged := c.LeaderID != n.controllerID
	n.controllerID = c.LeaderID
	if c.Image != n.img {
		before := n.img
		n.img, n.imgOffset = c.Image, c.Offset
		if !n.following {
			// Logs follow the image only once it holds this broker's registration: then it
			// holds everything committed before, so a log it does not assign here really is
			// gone (a topic deleted while this broker was down), and not merely not yet
			// replayed.
			if b, ok := c.Image.Broker(n.cfg.Broker.NodeID); ok && n.life.epoch >= 0 && b.Epoch == n.life.epoch {
				n.following, before = true, metadata.EmptyImage()
			}
		}
		if n.following {
			if err := n.followImage(before, c.Image); err != nil {
				n.fail(err)
				return n.ready()
			}
		}
	}
	if leaderChanged {
		n.controllerChanged()
	}
	n.lifecycleStep()
	return n.ready()
}

// followImage brings the logs in line with a new committed image: the topics whose metadata
// changed (or all, when dynamic broker configs changed) have their logs created or
// reconfigured, and partitions gone from it, or no longer assigned here, lose their logs.
func (n *Node) followImage(before, after *metadata.Image) error {
	brokerConfigsChanged := !mapsEqual(before.Config(metadata.ResourceBroker, ""), after.Config(metadata.ResourceBroker, "")) ||
		!mapsEqual(before.Config(metadata.ResourceBroker, n.nodeIDString()), after.Config(metadata.ResourceBroker, n.nodeIDString()))
	for _, t := range after.Topics() {
		old, ok := before.TopicByID(t.ID)
		if ok && old == t && !brokerConfigsChanged && mapsEqual(before.Config(metadata.ResourceTopic, t.Name), after.Config(metadata.ResourceTopic, t.Name)) {
			continue
		}
		if err := n.createLogs(after, t.Name); err != nil {
			return err
		}
		n.updateReplicas(t)
	}
	// Logs of partitions the image no longer assigns here (deleted topics, or a topic deleted
	// and created again under the same name).
	for _, tp := range n.logs.Partitions() {
		id, _ := n.logs.TopicID(tp)
		if t, ok := after.TopicByName(tp.Topic); ok && t.ID == id {
			if p, ok := t.Partition(tp.Partition); ok && slices.Contains(p.Replicas, n.cfg.Broker.NodeID) {
				continue
			}
		}
		if id == uuid.Zero {
			if before.TopicCount() == 0 {
				n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: the log of %s has no topic id and no topic in the metadata; it is kept but not served", tp))
			}
			continue
		}
		if err := n.deleteLogs(tp.Topic, []storage.TopicPartition{tp}); err != nil {
			return err
		}
	}
	return nil
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a { //purity:allow-map-range comparing two maps for equality is order-free
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func (n *Node) nodeIDString() string { return fmt.Sprint(n.cfg.Broker.NodeID) }

// Serving reports whether the broker serves clients: registered, unfenced in the image it has
// applied, as Kafka's broker starts serving only once unfenced.
func (n *Node) Serving() bool {
	b, ok := n.img.Broker(n.cfg.Broker.NodeID)
	return ok && b.Epoch == n.life.epoch && !b.Fenced
}

// BrokerEpoch is the epoch of the broker's registration; -1 before the controller answered.
func (n *Node) BrokerEpoch() int64 { return n.life.epoch }

// controllerChanged resends what was waiting for, or sent to, an old controller.
func (n *Node) controllerChanged() {
	if n.life.inFlight != 0 {
		delete(n.peerWaits, n.life.inFlight)
		n.life.inFlight, n.life.nextMs = 0, n.now.MonotonicMs
	}
	for _, f := range n.forwards {
		if f.corr != 0 && f.sentTo != n.controllerID {
			delete(n.peerWaits, f.corr)
			f.corr, f.retryMs = 0, 0
		}
	}
	n.sendForwards()
}

// peerWait is what a request sent to another node was for: a forward, a follower fetch, an
// AlterPartition, or (none set) the lifecycle's own requests.
type peerWait struct {
	forward *forward
	fetch   *fetchSession
	alter   bool
}

// send sends req to the active controller and returns its correlation id; 0 when no
// controller is known.
func (n *Node) send(req kmsg.Request) int32 {
	if n.controllerID < 0 {
		return 0
	}
	n.nextCorrelation++
	if n.nextCorrelation <= 0 {
		n.nextCorrelation = 1
	}
	n.out.Sends = append(n.out.Sends, PeerSend{To: n.controllerID, CorrelationID: n.nextCorrelation, Request: req})
	return n.nextCorrelation
}

// lifecycleStep sends the registration or the next heartbeat when it is due.
func (n *Node) lifecycleStep() {
	l := &n.life
	now := n.now.MonotonicMs
	if l.inFlight != 0 {
		if now < l.inFlightSentMs+controllerRequestTimeoutMs {
			return
		}
		delete(n.peerWaits, l.inFlight) // lost: ask again
		l.inFlight = 0
	}
	if now < l.nextMs {
		return
	}
	if l.epoch < 0 && n.img.MetadataVersion() == 0 {
		// The cluster's bootstrap records are not committed yet: no controller is active to
		// register with. The next committed image says when one is.
		return
	}
	var req kmsg.Request
	if l.epoch < 0 {
		req = n.registrationRequest()
	} else {
		req = n.heartbeatRequest()
	}
	corr := n.send(req)
	if corr == 0 {
		return // no controller known: Metadata will say when one is
	}
	l.inFlight, l.inFlightSentMs = corr, now
	n.peerWaits[corr] = peerWait{}
}

func (n *Node) registrationRequest() *kmsg.BrokerRegistrationRequest {
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.Version = 3
	req.BrokerID = n.cfg.Broker.NodeID
	req.ClusterID = n.clusterID
	req.IncarnationID = n.life.incarnation
	e := n.endpoint()
	req.Listeners = []kmsg.BrokerRegistrationRequestListener{{Name: e.Name, Host: e.Host, Port: e.Port, SecurityProtocol: e.SecurityProtocol}}
	for _, f := range metadata.SupportedFeatures() {
		req.Features = append(req.Features, kmsg.BrokerRegistrationRequestFeature{Name: f.Name, MinSupportedVersion: f.MinSupportedVersion, MaxSupportedVersion: f.MaxSupportedVersion})
	}
	if rack := n.cfg.Broker.BrokerRack; rack != "" {
		req.Rack = &rack
	}
	for _, id := range n.logDirIDs() {
		req.LogDirs = append(req.LogDirs, id)
	}
	// The epoch the disk recorded at the last registration (storage.BrokerEpochFile): -1
	// from a disk that holds none, which the controller takes as an unclean restart.
	req.PreviousBrokerEpoch = n.logs.PreviousBrokerEpoch()
	return req
}

func (n *Node) heartbeatRequest() *kmsg.BrokerHeartbeatRequest {
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.Version = 1
	req.BrokerID, req.BrokerEpoch = n.cfg.Broker.NodeID, n.life.epoch
	// The offset of the last record applied (Kafka's currentMetadataOffset).
	req.CurrentMetadataOffset = int64(n.imgOffset) - 1
	req.WantShutdown = n.draining
	return req
}

// PeerResponse delivers the controller's answer to a request this Node sent (a PeerSend), or
// the failure to get one (err: the connection broke or the request timed out).
func (n *Node) PeerResponse(now Clocks, correlationID int32, resp kmsg.Response, err error) Ready {
	n.begin(now)
	w, ok := n.peerWaits[correlationID]
	if !ok {
		return n.ready() // answered already, or given up on
	}
	delete(n.peerWaits, correlationID)
	switch {
	case w.forward != nil:
		n.forwardAnswered(w.forward, resp, err)
		return n.ready()
	case w.fetch != nil:
		n.fetchAnswered(w.fetch, resp, err)
		return n.ready()
	case w.alter:
		n.alterAnswered(resp, err)
		return n.ready()
	}
	n.life.inFlight = 0
	retry := n.now.MonotonicMs + controllerRetryBackoffMs
	switch r := resp.(type) {
	case nil:
		n.life.nextMs = retry
	case *kmsg.BrokerRegistrationResponse:
		if r.ErrorCode != errNone {
			// NOT_CONTROLLER is the usual answer of a controller still catching up after its
			// election: retried quietly.
			if r.ErrorCode != n.life.registrationErr && r.ErrorCode != errNotControllerCode {
				n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: registration refused by the controller: %s", codeName(r.ErrorCode)))
			}
			n.life.registrationErr = r.ErrorCode
			n.life.nextMs = retry
			break
		}
		n.life.epoch, n.life.registrationErr = r.BrokerEpoch, errNone
		n.life.nextMs = n.now.MonotonicMs // the first heartbeat at once: it unfences
		// Recorded at once: until the file holds this epoch, a restart counts as unclean.
		n.logs.RecordBrokerEpoch(r.BrokerEpoch)
		n.out.Checkpoints = append(n.out.Checkpoints, n.logs.BrokerEpochCheckpoints()...)
	case *kmsg.BrokerHeartbeatResponse:
		switch r.ErrorCode {
		case errNone:
		case errStaleBrokerEpoch, errBrokerIDNotRegistered:
			// The controller no longer knows this registration: register again.
			n.life.epoch, n.life.nextMs = -1, retry
			return n.ready()
		default:
			n.life.nextMs = retry
			return n.ready()
		}
		n.life.fenced, n.life.shouldShutDown = r.IsFenced, r.ShouldShutdown
		n.life.nextMs = n.now.MonotonicMs + int64(n.cfg.Broker.BrokerHeartbeatIntervalMs)
		if r.IsFenced && !n.draining {
			// Fenced until caught up: heartbeat again soon rather than at the interval.
			n.life.nextMs = n.now.MonotonicMs + controllerRetryBackoffMs
		}
	default:
		panic(fmt.Sprintf("broker: invariant: answer %T to a lifecycle request", resp))
	}
	return n.ready()
}

// LifecycleState describes the registration and heartbeat state, for a log line.
func (n *Node) LifecycleState() string {
	l := &n.life
	return fmt.Sprintf("epoch=%d fenced=%v in-flight=%d next-ms=%d controller=%d applied=%d draining=%v",
		l.epoch, l.fenced, l.inFlight, l.nextMs, n.controllerID, n.imgOffset, n.draining)
}

// ShouldShutDown reports whether the controller let this broker's controlled shutdown finish
// (it leads nothing any more).
func (n *Node) ShouldShutDown() bool { return n.life.shouldShutDown }

// forwardAdmin sends an admin request to the active controller; its answer is relayed on cs
// (nil for a request of the broker's own, e.g. auto-creation: onAnswer sees the answer). The
// wait is bounded by timeoutMs (REQUEST_TIMED_OUT on every entry after it, though the command
// may still commit).
func (n *Node) forwardAdmin(cs *conn, s *slot, req kmsg.Request, timeoutMs int64, onAnswer func(kmsg.Response)) {
	if n.waitingCount >= n.cfg.WaitingRequestsMax {
		resp := controller.ErrorResponse(req, errRequestTimedOut)
		if onAnswer != nil {
			onAnswer(resp)
		}
		if cs != nil {
			n.finish(cs, s, resp, nil)
		}
		return
	}
	n.waitingCount++
	f := &forward{conn: noConn, slot: s, req: req, deadlineMs: n.now.MonotonicMs + timeoutMs, sentTo: -1, onAnswer: onAnswer}
	if cs != nil {
		f.conn = cs.id
	}
	n.forwards = append(n.forwards, f)
	n.sendForwards()
}

// noConn is the connection of a forward the broker sent for itself.
const noConn = ^ConnID(0)

// sendForwards sends every forward not in flight whose retry time came, if a controller is
// known.
func (n *Node) sendForwards() {
	for _, f := range n.forwards {
		if f.corr != 0 || f.retryMs > n.now.MonotonicMs {
			continue
		}
		corr := n.send(f.req)
		if corr == 0 {
			return
		}
		f.corr, f.sentTo = corr, n.controllerID
		n.peerWaits[corr] = peerWait{forward: f}
	}
}

// forwardAnswered relays the controller's answer, or retries a request that got none or
// reached a node that is no longer the controller.
func (n *Node) forwardAnswered(f *forward, resp kmsg.Response, err error) {
	if !slices.Contains(n.forwards, f) {
		return // its connection closed meanwhile
	}
	f.corr = 0
	if err != nil || notController(resp) {
		f.retryMs = n.now.MonotonicMs + controllerRetryBackoffMs
		return
	}
	n.forwards = slices.DeleteFunc(n.forwards, func(g *forward) bool { return g == f })
	n.waitingCount--
	if f.onAnswer != nil {
		f.onAnswer(resp)
	}
	if cs, ok := n.conns[f.conn]; ok && f.slot != nil {
		n.finish(cs, f.slot, resp, nil)
	}
}

// notController reports whether an answer says its receiver is not the active controller.
func notController(resp kmsg.Response) bool {
	switch r := resp.(type) {
	case *kmsg.CreateTopicsResponse:
		return len(r.Topics) > 0 && r.Topics[0].ErrorCode == errNotControllerCode
	case *kmsg.DeleteTopicsResponse:
		return len(r.Topics) > 0 && r.Topics[0].ErrorCode == errNotControllerCode
	case *kmsg.CreatePartitionsResponse:
		return len(r.Topics) > 0 && r.Topics[0].ErrorCode == errNotControllerCode
	case *kmsg.IncrementalAlterConfigsResponse:
		return len(r.Resources) > 0 && r.Resources[0].ErrorCode == errNotControllerCode
	case *kmsg.AlterConfigsResponse:
		return len(r.Resources) > 0 && r.Resources[0].ErrorCode == errNotControllerCode
	case *kmsg.AllocateProducerIDsResponse:
		return r.ErrorCode == errNotControllerCode
	case *kmsg.ElectLeadersResponse:
		// v0 has no top-level code: the named partitions carry it.
		return r.ErrorCode == errNotControllerCode ||
			len(r.Topics) > 0 && len(r.Topics[0].Partitions) > 0 && r.Topics[0].Partitions[0].ErrorCode == errNotControllerCode
	case *kmsg.AlterPartitionAssignmentsResponse:
		return r.ErrorCode == errNotControllerCode
	case *kmsg.ListPartitionReassignmentsResponse:
		return r.ErrorCode == errNotControllerCode
	}
	return false
}

// expireForwards answers the forwards whose wait ran out with REQUEST_TIMED_OUT, and sends
// those whose retry time came.
func (n *Node) expireForwards() {
	kept := n.forwards[:0]
	for _, f := range n.forwards {
		if f.deadlineMs > n.now.MonotonicMs {
			kept = append(kept, f)
			continue
		}
		if f.corr != 0 {
			delete(n.peerWaits, f.corr)
		}
		n.waitingCount--
		resp := controller.ErrorResponse(f.req, errRequestTimedOut)
		if f.onAnswer != nil {
			f.onAnswer(resp)
		}
		if cs, ok := n.conns[f.conn]; ok && f.slot != nil {
			n.finish(cs, f.slot, resp, nil)
		}
	}
	clear(n.forwards[len(kept):])
	n.forwards = kept
	n.sendForwards()
}

// nextClusterDeadlineMs is the earliest time the lifecycle or a forward wants the timer.
func (n *Node) nextClusterDeadlineMs() int64 {
	var next int64
	consider := func(d int64) {
		if d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	switch {
	case n.life.inFlight != 0:
		consider(n.life.inFlightSentMs + controllerRequestTimeoutMs)
	case n.controllerID < 0, n.life.epoch < 0 && n.img.MetadataVersion() == 0:
		// Nothing to send before a Metadata event says there is someone to send it to: no
		// timer (one due at once would fire again and again).
	default:
		consider(max(n.life.nextMs, 1))
	}
	for _, f := range n.forwards {
		if f.corr == 0 && f.retryMs > 0 && n.controllerID >= 0 {
			consider(f.retryMs)
		}
	}
	return next
}

// leaderCode is the error of a client request for a partition on this broker, as Kafka's
// ReplicaManager answers it: UNKNOWN_TOPIC_OR_PARTITION when the committed image has no such
// partition, NOT_LEADER_OR_FOLLOWER when this broker does not lead it (or has no log of it
// yet), else none. Clients refresh their metadata on either and go to the leader.
func (n *Node) leaderCode(topic string, partition int32) int16 {
	t, ok := n.img.TopicByName(topic)
	if !ok {
		return errUnknownTopicOrPartition
	}
	p, ok := t.Partition(partition)
	if !ok {
		return errUnknownTopicOrPartition
	}
	if p.Leader != n.cfg.Broker.NodeID {
		return errNotLeaderOrFollower
	}
	if _, ok := n.logs.GetLog(storage.TopicPartition{Topic: topic, Partition: partition}); !ok {
		return errNotLeaderOrFollower
	}
	return errNone
}
