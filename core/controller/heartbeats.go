package controller

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/weirdata/weir/core/metadata"
)

// brokerHeartbeats is the active controller's soft state about brokers, Kafka's
// BrokerHeartbeatManager: when each was last heard from (its lease), the metadata offset it last
// reported, and where its controlled shutdown completes. None of it is in the metadata log: a
// new active controller starts every registered broker on a fresh lease (Activate), so a
// failover delays fencing by at most one session timeout, as in Kafka.
//
// The map holds one session per registered broker of the image it was last reconciled with, so
// it is bounded by the registrations in the metadata log.
type brokerHeartbeats struct {
	active           bool
	sessionTimeoutMs int64
	sessions         map[int32]*brokerSession
}

// brokerSession is one registration's soft state.
type brokerSession struct {
	// epoch is the broker epoch of the registration this session belongs to; a session of an
	// older registration is discarded.
	epoch         int64
	lastContactMs int64
	// metadataOffset is the offset the broker last reported having applied, -1 before its
	// first heartbeat.
	metadataOffset int64
	// controlledShutdownOffset is the offset of the last record of the command that moved the
	// broker's partitions away, -1 when it is not in controlled shutdown. The broker may stop
	// once every active broker has applied it (Kafka's lowestActiveOffset rule).
	controlledShutdownOffset int64
}

func newBrokerHeartbeats(sessionTimeoutMs int64) brokerHeartbeats {
	if sessionTimeoutMs <= 0 {
		panic(fmt.Sprintf("controller: invariant broken: broker session timeout %d ms", sessionTimeoutMs))
	}
	return brokerHeartbeats{sessionTimeoutMs: sessionTimeoutMs}
}

func newSession(epoch, nowMs int64) *brokerSession {
	return &brokerSession{epoch: epoch, lastContactMs: nowMs, metadataOffset: -1, controlledShutdownOffset: -1}
}

// expired is Kafka's BrokerHeartbeatTracker rule: a lease lapses once more than the session
// timeout has passed since the last contact.
func (h *brokerHeartbeats) expired(s *brokerSession, nowMs int64) bool {
	return s.lastContactMs+h.sessionTimeoutMs < nowMs
}

// session returns broker b's session, starting one on a fresh lease from nowMs if it has none or
// only one of an older registration (a registration the controller did not write itself, such
// as the single-node broker's own, is seen this way).
func (h *brokerHeartbeats) session(b *metadata.Broker, nowMs int64) *brokerSession {
	s, ok := h.sessions[b.ID]
	if !ok || s.epoch != b.Epoch {
		s = newSession(b.Epoch, nowMs)
		h.sessions[b.ID] = s
	}
	return s
}

// reconcile drops the sessions of brokers that are no longer registered and starts one for each
// registered broker without one.
func (h *brokerHeartbeats) reconcile(img *metadata.Image, nowMs int64) {
	for _, id := range slices.Sorted(maps.Keys(h.sessions)) {
		if _, ok := img.Broker(id); !ok {
			delete(h.sessions, id)
		}
	}
	for _, b := range img.Brokers() {
		h.session(b, nowMs)
	}
}

// lowestActiveOffset is the lowest metadata offset reported by an active broker (unfenced, not
// in controlled shutdown), math.MaxInt64 when there is none.
func (h *brokerHeartbeats) lowestActiveOffset(img *metadata.Image) int64 {
	lowest := int64(math.MaxInt64)
	for _, b := range img.Brokers() {
		s, ok := h.sessions[b.ID]
		if b.Fenced || !ok || s.epoch != b.Epoch || s.controlledShutdownOffset >= 0 {
			continue
		}
		lowest = min(lowest, s.metadataOffset)
	}
	return lowest
}

// Activate makes this controller the active one (it became the quorum leader) deciding on img:
// every registered broker gets a fresh lease from nowMs and no controlled shutdown in progress,
// as Kafka's controller rebuilds its heartbeat manager on failover. A broker that was shutting
// down asks again in its next heartbeat.
func (c *Controller) Activate(img *metadata.Image, nowMs int64) {
	c.brokers.active = true
	c.brokers.sessions = map[int32]*brokerSession{}
	c.brokers.reconcile(img, nowMs)
	c.balance.activate(nowMs)
}

// Deactivate drops the soft state: this node is no longer the quorum leader. Commands then
// answer NOT_CONTROLLER and Tick does nothing until the next Activate.
func (c *Controller) Deactivate() {
	c.brokers.active = false
	c.brokers.sessions = nil
}

// Active reports whether the controller is active (between Activate and Deactivate).
func (c *Controller) Active() bool { return c.brokers.active }

// NoDeadline is the deadline Tick returns when no lease can lapse.
const NoDeadline int64 = math.MaxInt64

// Tick fences every unfenced broker whose lease lapsed by nowMs, in broker id order: its
// partitions get new leaders from their ISRs (or none) and it leaves every ISR, then a
// BrokerRegistrationChangeRecord fences it (Kafka's maybeFenceOneStaleBroker, for all of them
// at once; each fencing sees the ones before it). Then, when a leader balance pass is due
// (leader_balance.go), it elects preferred leaders. The records form one proposal, appended
// like a command's.
//
// nextDeadlineMs is the first time a lease not yet lapsed will have lapsed or the next balance
// pass is due (NoDeadline if neither): call Tick again then, and after a command, since a
// heartbeat may unfence a broker and so start a lease to watch. An inactive controller returns
// nothing.
func (c *Controller) Tick(img *metadata.Image, nowMs int64) (records []metadata.Record, nextDeadlineMs int64) {
	h := &c.brokers
	if !h.active {
		return nil, NoDeadline
	}
	h.reconcile(img, nowMs)
	p := newProposal(img)
	for _, b := range img.Brokers() {
		s := h.sessions[b.ID]
		if b.Fenced || !h.expired(s, nowMs) {
			continue
		}
		c.fenceBroker(p, b.ID)
		s.controlledShutdownOffset = -1
	}
	c.balanceLeaders(p, nowMs)
	nextDeadlineMs = c.balance.deadline()
	for _, b := range p.image().Brokers() {
		if !b.Fenced {
			s := h.sessions[b.ID]
			if h.expired(s, nowMs) {
				panic(fmt.Sprintf("controller: invariant broken: broker %d is unfenced with a lease lapsed at %d ms", b.ID, nowMs))
			}
			nextDeadlineMs = min(nextDeadlineMs, s.lastContactMs+h.sessionTimeoutMs+1)
		}
	}
	return p.records, nextDeadlineMs
}
