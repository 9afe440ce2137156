package sim

import (
	"fmt"
	"math/rand/v2"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/wire"
)

// AckedRegistration is a BrokerRegistration a controller answered without error: the record
// registering BrokerID with Epoch committed, so every node's committed image must keep it (or
// a later registration of the same id).
type AckedRegistration struct {
	BrokerID    int32
	Epoch       int64
	Incarnation [16]byte
	AckNs       int64
}

// AckedProducerIDs is an AllocateProducerIds a controller answered without error: the block
// [Start, Start+Len) is this broker's alone, and its ProducerIdsRecord committed.
type AckedProducerIDs struct {
	BrokerID   int32
	Start, Len int64
	AckNs      int64
}

// QuorumHistory is what the admin clients saw answered.
type QuorumHistory struct {
	Registrations []AckedRegistration
	ProducerIDs   []AckedProducerIDs
	// Counts of answers: heartbeats without error, NOT_CONTROLLER re-routes, other errors,
	// requests whose connection broke or timed out (outcome unknown).
	Heartbeats, NotController, Errors, Unknown int64
}

// Kafka error codes the admin client acts on.
const (
	errCodeNotController    int16 = 41
	errCodeStaleBrokerEpoch int16 = 77
)

// adminClient plays a few brokers' lifecycles against the controllers over the simulated
// network, as a broker's BrokerLifecycleManager does: BrokerRegistration with a fresh
// incarnation, then BrokerHeartbeat every interval, sometimes a restart (a new incarnation,
// registered again); each request to the controller it last found active, re-routed to
// another at random on NOT_CONTROLLER or a broken connection. One request at a time, for the
// brokers in turn.
type adminClient struct {
	w       *World
	net     *Network
	host    string
	rng     *rand.Rand
	history *QuorumHistory

	brokers     []fakeBroker
	cur         int // the broker whose turn it is (or whose request is in flight)
	controllers []string
	target      int
	intervalNs  int64
	timeoutNs   int64
	reregPct    int
	clusterID   string
	conn        *Conn
	connected   bool
	fr          *wire.FrameReader
	nextCorr    int32
	inflight    *adminRequest
	queued      []byte
	tick        EventID
	stopped     bool
}

// fakeBroker is one broker id an admin client registers.
type fakeBroker struct {
	id          int32
	logDir      [16]byte // the broker's one log directory, kept across its restarts
	incarnation [16]byte
	epoch       int64 // the registered epoch; -1 until a registration is acknowledged
	prevEpoch   int64
}

type adminRequest struct {
	corr    int32
	key     int16
	version int16
	sentNs  int64
	conn    *Conn
}

func newAdminClient(w *World, network *Network, host string, brokerIDs []int32, controllers []string, k QuorumKnobs, clusterID string, history *QuorumHistory) *adminClient {
	a := &adminClient{
		w: w, net: network, host: host, rng: w.Rand("admin/" + host), history: history,
		controllers: controllers, intervalNs: k.HeartbeatMs * 1e6 / int64(len(brokerIDs)), timeoutNs: 5e9,
		reregPct: k.ReregisterPct, clusterID: clusterID,
	}
	for _, id := range brokerIDs {
		b := fakeBroker{id: id, prevEpoch: -1}
		a.fillUUID(&b.logDir)
		a.brokers = append(a.brokers, b)
		a.newIncarnation(&a.brokers[len(a.brokers)-1])
	}
	a.target = a.rng.IntN(len(controllers))
	return a
}

// fillUUID draws a random UUID above Kafka's reserved directory ids.
func (a *adminClient) fillUUID(u *[16]byte) {
	for i := range u {
		u[i] = byte(a.rng.IntN(256))
	}
	u[0] |= 0x80
}

func (a *adminClient) newIncarnation(b *fakeBroker) {
	a.fillUUID(&b.incarnation)
	b.epoch = -1
}

// start begins the lifecycle at atNs.
func (a *adminClient) start(atNs int64) {
	a.tick = a.w.At(atNs, "admin "+a.host+" tick", a.onTick)
}

// stop issues no more requests (in-flight ones still complete).
func (a *adminClient) stop() {
	a.stopped = true
	if a.tick != 0 {
		a.w.Cancel(a.tick)
		a.tick = 0
	}
}

func (a *adminClient) onTick() {
	a.tick = 0
	if a.stopped {
		return
	}
	next := a.intervalNs
	if a.inflight != nil {
		if a.w.NowNs()-a.inflight.sentNs > a.timeoutNs {
			a.w.Tracef("admin %s: request %d timed out", a.host, a.inflight.corr)
			a.history.Unknown++
			a.reroute()
		}
		a.tick = a.w.After(next/4, "admin "+a.host+" tick", a.onTick)
		return
	}
	a.cur = (a.cur + 1) % len(a.brokers)
	b := &a.brokers[a.cur]
	switch {
	case b.epoch < 0:
		a.register(b)
	case a.rng.IntN(100) < a.reregPct:
		// The broker restarts: a new incarnation registers (while the old lease may live on,
		// so DUPLICATE_BROKER_REGISTRATION until it lapses, as with Kafka).
		b.prevEpoch = b.epoch
		a.newIncarnation(b)
		a.register(b)
	case a.rng.IntN(100) < 30:
		a.allocateProducerIDs(b)
	default:
		a.heartbeat(b)
	}
	a.tick = a.w.After(next, "admin "+a.host+" tick", a.onTick)
}

func (a *adminClient) register(b *fakeBroker) {
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.SetVersion(3)
	req.BrokerID = b.id
	req.ClusterID = a.clusterID
	req.IncarnationID = b.incarnation
	l := kmsg.NewBrokerRegistrationRequestListener()
	l.Name, l.Host, l.Port, l.SecurityProtocol = "PLAINTEXT", fmt.Sprintf("broker%d", b.id), 9092, 0
	req.Listeners = append(req.Listeners, l)
	for _, sf := range metadata.SupportedFeatures() {
		f := kmsg.NewBrokerRegistrationRequestFeature()
		f.Name, f.MinSupportedVersion, f.MaxSupportedVersion = sf.Name, sf.MinSupportedVersion, sf.MaxSupportedVersion
		req.Features = append(req.Features, f)
	}
	req.LogDirs = [][16]byte{b.logDir}
	req.PreviousBrokerEpoch = b.prevEpoch
	a.sendRequest(req)
}

func (a *adminClient) heartbeat(b *fakeBroker) {
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.SetVersion(1)
	req.BrokerID = b.id
	req.BrokerEpoch = b.epoch
	// The broker has caught up to its own registration (its epoch is that record's offset).
	req.CurrentMetadataOffset = b.epoch
	a.sendRequest(req)
}

func (a *adminClient) allocateProducerIDs(b *fakeBroker) {
	req := kmsg.NewPtrAllocateProducerIDsRequest()
	req.SetVersion(0)
	req.BrokerID = b.id
	req.BrokerEpoch = b.epoch
	a.sendRequest(req)
}

func (a *adminClient) sendRequest(req kmsg.Request) {
	if a.conn == nil {
		a.conn = a.net.Dial(a.host, a.controllers[a.target], a)
		a.connected = false
		a.fr = wire.NewResponseFrameReader(wire.DefaultRequestBytesMax)
		a.queued = nil
	}
	a.nextCorr++
	h := wire.RequestHeader{APIKey: req.Key(), APIVersion: req.GetVersion(), CorrelationID: a.nextCorr}
	a.inflight = &adminRequest{corr: a.nextCorr, key: req.Key(), version: req.GetVersion(), sentNs: a.w.NowNs(), conn: a.conn}
	frame := wire.AppendRequest(nil, h, req)
	a.w.Tracef("admin %s: send key=%d corr=%d to %s", a.host, req.Key(), a.nextCorr, a.controllers[a.target])
	if !a.connected {
		a.queued = append(a.queued, frame...)
		return
	}
	if err := a.conn.SendOwned(frame); err != nil { // a fresh buffer, never reused
		a.history.Unknown++
		a.reroute()
	}
}

// reroute drops the connection (an in-flight request's outcome stays unknown) and picks
// another controller at random.
func (a *adminClient) reroute() {
	if a.conn != nil {
		a.conn.Abort()
		a.conn = nil
	}
	a.inflight, a.queued, a.connected = nil, nil, false
	if len(a.controllers) > 1 {
		a.target = (a.target + 1 + a.rng.IntN(len(a.controllers)-1)) % len(a.controllers)
	}
}

// Connected implements Handler.
func (a *adminClient) Connected(c *Conn) {
	if c != a.conn {
		return
	}
	a.connected = true
	if len(a.queued) > 0 {
		data := a.queued
		a.queued = nil
		if err := c.SendOwned(data); err != nil { // a fresh buffer, never reused
			a.history.Unknown++
			a.reroute()
		}
	}
}

// Closed implements Handler.
func (a *adminClient) Closed(c *Conn, err error) {
	if c != a.conn {
		return
	}
	a.w.Tracef("admin %s: connection closed: %v", a.host, err)
	a.conn = nil
	if a.inflight != nil {
		a.history.Unknown++
	}
	a.reroute()
}

// Received implements Handler.
func (a *adminClient) Received(c *Conn, data []byte) {
	for len(data) > 0 && c == a.conn {
		used, frame, err := a.fr.FeedOwned(data) // data is the handler's (Handler.Received)
		data = data[used:]
		if err != nil {
			panic(fmt.Sprintf("sim: admin %s: a controller's answer does not frame: %v", a.host, err))
		}
		if frame == nil {
			continue
		}
		r := a.inflight
		if r == nil {
			panic(fmt.Sprintf("sim: admin %s: an answer with no request in flight", a.host))
		}
		corr, resp, err := wire.DecodeResponse(frame, r.key, r.version)
		if err != nil || corr != r.corr {
			panic(fmt.Sprintf("sim: admin %s: answer to %d: correlation %d, %v", a.host, r.corr, corr, err))
		}
		a.inflight = nil
		a.answer(resp)
	}
}

func (a *adminClient) answer(resp kmsg.Response) {
	code := int16(0)
	b := &a.brokers[a.cur]
	switch r := resp.(type) {
	case *kmsg.BrokerRegistrationResponse:
		code = r.ErrorCode
		if code == 0 {
			b.epoch = r.BrokerEpoch
			a.history.Registrations = append(a.history.Registrations, AckedRegistration{BrokerID: b.id, Epoch: r.BrokerEpoch, Incarnation: b.incarnation, AckNs: a.w.NowNs()})
			a.w.Tracef("admin %s: broker %d registered with epoch %d", a.host, b.id, r.BrokerEpoch)
		}
	case *kmsg.BrokerHeartbeatResponse:
		code = r.ErrorCode
		if code == 0 {
			a.history.Heartbeats++
		} else if code == errCodeStaleBrokerEpoch {
			a.newIncarnation(b) // the controller no longer knows this registration: register anew
		}
	case *kmsg.AllocateProducerIDsResponse:
		code = r.ErrorCode
		if code == 0 {
			a.history.ProducerIDs = append(a.history.ProducerIDs, AckedProducerIDs{BrokerID: b.id, Start: r.ProducerIDStart, Len: int64(r.ProducerIDLen), AckNs: a.w.NowNs()})
			a.w.Tracef("admin %s: broker %d got producer ids [%d, +%d)", a.host, b.id, r.ProducerIDStart, r.ProducerIDLen)
		} else if code == errCodeStaleBrokerEpoch {
			a.newIncarnation(b)
		}
	default:
		panic(fmt.Sprintf("sim: admin %s: unexpected answer %T", a.host, resp))
	}
	switch code {
	case 0:
	case errCodeNotController:
		a.history.NotController++
		a.reroute()
	default:
		a.history.Errors++
		a.w.Tracef("admin %s: %s error %d", a.host, kmsg.NameForKey(resp.Key()), code)
	}
}
