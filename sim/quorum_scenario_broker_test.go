package sim

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/wire"
)

// scriptBroker is a fake broker a quorum scenario drives step by step (the admin clients'
// brokers act at random): it registers, heartbeats on a schedule the scenario sets, asks for a
// controlled shutdown when told, and stops heartbeating once told to shut down, as Kafka's
// BrokerLifecycleManager does. It sends to the active controller of the moment (a broker learns
// it from the quorum), one request at a time, again after NOT_CONTROLLER, a broken connection
// or no answer within its request timeout. It reports as its metadata offset the last offset of
// the active controller's committed image: a broker fed promptly by its metadata log.
type scriptBroker struct {
	c    *quorumCluster
	id   int32
	host string

	logDir      [16]byte
	incarnation [16]byte
	// epoch is the acknowledged registration's broker epoch, -1 before one.
	epoch     int64
	prevEpoch int64

	conn      *Conn
	connTo    string
	connected bool
	fr        *wire.FrameReader
	queued    []byte
	nextCorr  int32
	inflight  *adminRequest
	timeoutNs int64

	// heartbeating is set between `heartbeats every=` and `heartbeats stop` or a shutdown;
	// wantShutdown makes every heartbeat ask for a controlled shutdown.
	heartbeating bool
	everyNs      int64
	tick         EventID
	wantShutdown bool
	shutDown     bool

	// oneShot is a scenario command's request (a registration, a topic's creation) sent until
	// answered with anything but NOT_CONTROLLER; result is that answer, for the command.
	oneShot kmsg.Request
	result  string
	// lastHeartbeat is the last heartbeat answer (nil before one); heartbeatsAnswered counts
	// them.
	lastHeartbeat      *kmsg.BrokerHeartbeatResponse
	heartbeatsAnswered int
	// lastAnsweredSentNs is when the last answered heartbeat was sent.
	lastAnsweredSentNs int64
}

func newScriptBroker(c *quorumCluster, id int32) *scriptBroker {
	b := &scriptBroker{c: c, id: id, host: fmt.Sprintf("broker%d", id), epoch: -1, prevEpoch: -1, timeoutNs: 3e9}
	r := c.w.Rand(fmt.Sprintf("script-broker/%d", id))
	for _, u := range []*[16]byte{&b.logDir, &b.incarnation} {
		for i := range u {
			u[i] = byte(r.IntN(256))
		}
		u[0] |= 0x80
	}
	return b
}

// metadataOffset is the last offset of the active controller's committed image, -1 if none.
func (b *scriptBroker) metadataOffset() int64 {
	l := b.c.leader()
	if l == nil {
		return -1
	}
	_, applied := l.Node().Image()
	return int64(applied) - 1
}

// call sends req until an answer other than NOT_CONTROLLER arrives; the caller runs the world
// until b.oneShot is nil, then reads b.result.
func (b *scriptBroker) call(req kmsg.Request) {
	b.oneShot, b.result = req, ""
	b.pump()
}

func (b *scriptBroker) registrationRequest() kmsg.Request {
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.SetVersion(3)
	req.BrokerID = b.id
	req.ClusterID = "weir-sim-quorum"
	req.IncarnationID = b.incarnation
	l := kmsg.NewBrokerRegistrationRequestListener()
	l.Name, l.Host, l.Port, l.SecurityProtocol = "PLAINTEXT", b.host, 9092, 0
	req.Listeners = append(req.Listeners, l)
	for _, sf := range metadata.SupportedFeatures() {
		f := kmsg.NewBrokerRegistrationRequestFeature()
		f.Name, f.MinSupportedVersion, f.MaxSupportedVersion = sf.Name, sf.MinSupportedVersion, sf.MaxSupportedVersion
		req.Features = append(req.Features, f)
	}
	req.LogDirs = [][16]byte{b.logDir}
	req.PreviousBrokerEpoch = b.prevEpoch
	return req
}

// startHeartbeats heartbeats every everyNs from now on.
func (b *scriptBroker) startHeartbeats(everyNs int64) {
	b.stopHeartbeats()
	b.heartbeating, b.everyNs = true, everyNs
	b.onTick()
}

func (b *scriptBroker) stopHeartbeats() {
	b.heartbeating = false
	if b.tick != 0 {
		b.c.w.Cancel(b.tick)
		b.tick = 0
	}
}

func (b *scriptBroker) onTick() {
	b.tick = 0
	if !b.heartbeating || b.shutDown {
		return
	}
	b.pump()
	b.tick = b.c.w.After(b.everyNs, fmt.Sprintf("broker%d tick", b.id), b.onTick)
}

// pump sends the next request if none is in flight: a pending registration first, else a
// heartbeat when heartbeating. A request past its timeout is given up (its connection dropped).
func (b *scriptBroker) pump() {
	w := b.c.w
	if b.inflight != nil {
		if w.NowNs()-b.inflight.sentNs <= b.timeoutNs {
			return
		}
		w.Tracef("broker%d: request %d timed out", b.id, b.inflight.corr)
		b.dropConn()
	}
	var req kmsg.Request
	switch {
	case b.oneShot != nil:
		req = b.oneShot
	case b.heartbeating && b.epoch >= 0 && !b.shutDown:
		hb := kmsg.NewPtrBrokerHeartbeatRequest()
		hb.SetVersion(1)
		hb.BrokerID, hb.BrokerEpoch = b.id, b.epoch
		hb.CurrentMetadataOffset = b.metadataOffset()
		hb.WantShutdown = b.wantShutdown
		req = hb
	default:
		return
	}
	l := b.c.leader()
	if l == nil {
		// No active controller: try again shortly (a registration) or at the next tick.
		if b.oneShot != nil {
			w.After(100e6, fmt.Sprintf("broker%d retry", b.id), b.pump)
		}
		return
	}
	if b.conn != nil && b.connTo != l.Addr() {
		b.dropConn()
	}
	if b.conn == nil {
		b.connTo = l.Addr()
		b.conn = b.c.network.Dial(b.host, b.connTo, b)
		b.connected, b.queued = false, nil
		b.fr = wire.NewResponseFrameReader(wire.DefaultRequestBytesMax)
	}
	b.nextCorr++
	h := wire.RequestHeader{APIKey: req.Key(), APIVersion: req.GetVersion(), CorrelationID: b.nextCorr}
	b.inflight = &adminRequest{corr: b.nextCorr, key: req.Key(), version: req.GetVersion(), sentNs: w.NowNs(), conn: b.conn}
	frame := wire.AppendRequest(nil, h, req)
	w.Tracef("broker%d: send key=%d corr=%d to %s", b.id, req.Key(), b.nextCorr, b.connTo)
	if b.oneShot != nil {
		// Watch the request's deadline even when no heartbeat tick runs.
		w.After(b.timeoutNs+1, fmt.Sprintf("broker%d request timeout", b.id), b.pump)
	}
	if !b.connected {
		b.queued = append(b.queued, frame...)
		return
	}
	if err := b.conn.Send(frame); err != nil {
		b.dropConn()
	}
}

func (b *scriptBroker) dropConn() {
	if b.conn != nil {
		b.conn.Abort()
		b.conn = nil
	}
	b.inflight, b.queued, b.connected = nil, nil, false
}

// Connected implements Handler.
func (b *scriptBroker) Connected(c *Conn) {
	if c != b.conn {
		return
	}
	b.connected = true
	if len(b.queued) > 0 {
		data := b.queued
		b.queued = nil
		if err := c.Send(data); err != nil {
			b.dropConn()
		}
	}
}

// Closed implements Handler.
func (b *scriptBroker) Closed(c *Conn, err error) {
	if c != b.conn {
		return
	}
	b.c.w.Tracef("broker%d: connection closed: %v", b.id, err)
	b.conn = nil
	b.dropConn()
	if b.oneShot != nil {
		b.c.w.After(100e6, fmt.Sprintf("broker%d retry", b.id), b.pump)
	}
}

// Received implements Handler.
func (b *scriptBroker) Received(c *Conn, data []byte) {
	for len(data) > 0 && c == b.conn {
		used, frame, err := b.fr.Feed(data)
		data = data[used:]
		if err != nil {
			panic(fmt.Sprintf("sim: broker%d: a controller's answer does not frame: %v", b.id, err))
		}
		if frame == nil {
			continue
		}
		r := b.inflight
		if r == nil {
			panic(fmt.Sprintf("sim: broker%d: an answer with no request in flight", b.id))
		}
		corr, resp, err := wire.DecodeResponse(frame, r.key, r.version)
		if err != nil || corr != r.corr {
			panic(fmt.Sprintf("sim: broker%d: answer to %d: correlation %d, %v", b.id, r.corr, corr, err))
		}
		b.inflight = nil
		b.answer(r, resp)
	}
	if c == b.conn && b.inflight == nil && b.oneShot != nil {
		b.pump() // a command's request waited for the answer
	}
}

func (b *scriptBroker) answer(req *adminRequest, resp kmsg.Response) {
	w := b.c.w
	switch r := resp.(type) {
	case *kmsg.BrokerRegistrationResponse:
		switch r.ErrorCode {
		case 0:
			b.epoch = r.BrokerEpoch
			b.oneShot, b.result = nil, "registered"
			b.c.history.Registrations = append(b.c.history.Registrations, AckedRegistration{BrokerID: b.id, Epoch: r.BrokerEpoch, Incarnation: b.incarnation, AckNs: w.NowNs()})
			w.Tracef("broker%d: registered with epoch %d", b.id, r.BrokerEpoch)
		case errCodeNotController:
			w.After(100e6, fmt.Sprintf("broker%d retry", b.id), b.pump)
		default:
			b.oneShot, b.result = nil, fmt.Sprintf("error %d", r.ErrorCode)
		}
	case *kmsg.BrokerHeartbeatResponse:
		if r.ErrorCode == errCodeNotController {
			return // the next tick finds the new active controller
		}
		b.lastHeartbeat = r
		b.heartbeatsAnswered++
		b.lastAnsweredSentNs = req.sentNs
		w.Tracef("broker%d: heartbeat answered: error %d fenced %v caught-up %v should-shutdown %v", b.id, r.ErrorCode, r.IsFenced, r.IsCaughtUp, r.ShouldShutdown)
		if r.ErrorCode == 0 && r.ShouldShutdown {
			// The broker stops: no more heartbeats (its lease lapses while it is fenced).
			b.shutDown = true
			b.stopHeartbeats()
		}
	case *kmsg.CreateTopicsResponse:
		if len(r.Topics) == 1 && r.Topics[0].ErrorCode == errCodeNotController {
			w.After(100e6, fmt.Sprintf("broker%d retry", b.id), b.pump)
			return
		}
		var parts []string
		for _, t := range r.Topics {
			parts = append(parts, fmt.Sprintf("%s error %d", t.Topic, t.ErrorCode))
		}
		b.oneShot, b.result = nil, strings.Join(parts, ", ")
	default:
		panic(fmt.Sprintf("sim: broker%d: unexpected answer %T", b.id, resp))
	}
}

// heartbeatStatus is what the broker's last heartbeat answer said.
func (b *scriptBroker) heartbeatStatus() string {
	r := b.lastHeartbeat
	if r == nil {
		return "no heartbeat answered"
	}
	if r.ErrorCode != 0 {
		return fmt.Sprintf("error %d", r.ErrorCode)
	}
	return fmt.Sprintf("fenced=%v caught-up=%v should-shutdown=%v", r.IsFenced, r.IsCaughtUp, r.ShouldShutdown)
}

// registration is the broker's registration in img, against the broker's own view of it.
func (b *scriptBroker) registration(img *metadata.Image) string {
	reg, ok := img.Broker(b.id)
	if !ok {
		return "not registered"
	}
	epoch := "acknowledged"
	if reg.Epoch != b.epoch {
		epoch = fmt.Sprintf("%d (acknowledged %d)", reg.Epoch, b.epoch)
	}
	return fmt.Sprintf("epoch=%s fenced=%v in-controlled-shutdown=%v", epoch, reg.Fenced, reg.InControlledShutdown)
}

// partitionState is a topic's partitions' leaders and ISRs in img.
func partitionState(img *metadata.Image, topic string) string {
	t, ok := img.TopicByName(topic)
	if !ok {
		return "no topic " + topic
	}
	var lines []string
	for _, p := range t.Partitions() {
		line := fmt.Sprintf("partition %d: leader=%d isr=%v", p.ID, p.Leader, p.ISR)
		if len(p.EligibleLeaderReplicas) > 0 {
			line += fmt.Sprintf(" elr=%v", p.EligibleLeaderReplicas)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// createTopicRequest creates topic with one partition on replicas, the first its preferred
// leader.
func createTopicRequest(topic string, replicas []int32) kmsg.Request {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.SetVersion(7)
	req.TimeoutMillis = 30000
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = topic, -1, -1
	a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	a.Partition, a.Replicas = 0, replicas
	t.ReplicaAssignment = append(t.ReplicaAssignment, a)
	req.Topics = append(req.Topics, t)
	return req
}
