package controller

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
)

// This file is broker registration and heartbeats (KIP-631), as Kafka's ClusterControlManager,
// BrokerHeartbeatManager and ReplicationControlManager.processBrokerHeartbeat decide them.
//
// Where Weir differs from Kafka:
//   - A registration replacing an earlier one of the same broker id first moves the broker off
//     every ISR and leadership (PartitionChangeRecords before the RegisterBrokerRecord), so a
//     fenced broker never leads; Kafka (without eligible leader replicas) leaves the partitions
//     to the old incarnation until the new one is unfenced.
//   - An unclean restart (KIP-966) is PreviousBrokerEpoch -1 or an epoch never issued, not any
//     epoch but the registered one: the broker records its epoch when it registers, not when it
//     shuts down cleanly, since its logs lose nothing acknowledged to a power loss; a broker
//     whose recovery cut synced (corrupt) records removes its record (uncleanRestart).
//   - A negative broker id or a string too long for the metadata record is INVALID_REGISTRATION.

// stringBytesMax is the longest string a metadata record carries (Kafka's Short.MAX_VALUE).
const stringBytesMax = 1<<15 - 1

// reservedDirectoryIDsMax bounds Kafka's reserved directory ids (DirectoryId.reserved): the
// first 100 ids, UNASSIGNED, LOST and MIGRATING among them.
const reservedDirectoryIDsMax = 100

// RegisterBroker handles BrokerRegistration. The broker's epoch is the offset its
// RegisterBrokerRecord gets: nextOffset is the offset the first record of the Result will get,
// and the registration record is the Result's last. The broker is registered fenced, with a
// lease from nowMs; it is unfenced by a heartbeat once it has caught up to that offset.
func (c *Controller) RegisterBroker(img *metadata.Image, nextOffset record.Offset, nowMs int64, req *kmsg.BrokerRegistrationRequest) Result {
	resp := req.ResponseKind().(*kmsg.BrokerRegistrationResponse)
	fail := func(code int16) Result {
		resp.ErrorCode = code
		return Result{Response: resp}
	}
	h := &c.brokers
	if !h.active {
		return fail(errNotController)
	}
	if req.ClusterID != c.cfg.ClusterID {
		return fail(errInconsistentClusterID)
	}
	if req.BrokerID < 0 {
		return fail(errInvalidRegistration)
	}
	existing, registered := img.Broker(req.BrokerID)
	// Another incarnation may take over a registration that has no valid session: a fenced one
	// (Kafka's BrokerHeartbeatManager.hasValidSession is false for a fenced broker, so a broker
	// restarting after its controlled shutdown registers at once) or one whose lease lapsed. A
	// registration this controller has no session for yet (one it did not write) counts as
	// heard from now, as Tick would count it.
	//
	// The broker of this controller's own process is the exception: its other incarnation
	// lived in an earlier process (the two start and die together), so its lease, renewed by
	// Activate rather than by any heartbeat, proves nothing. Without this a combined node
	// restarting after a crash would wait out broker.session.timeout.ms.
	coLocated := req.BrokerID == c.cfg.NodeID
	if registered && !coLocated && !existing.Fenced && !h.expired(h.session(existing, nowMs), nowMs) && existing.IncarnationID != metadata.UUID(req.IncarnationID) {
		return fail(errDuplicateBrokerRegistration)
	}
	if req.IsMigratingZkBroker {
		// Kafka 4's answer: there is no ZooKeeper migration.
		return fail(errBrokerIDNotRegistered)
	}
	mv := img.MetadataVersion()
	var logDirs []metadata.UUID
	if mv >= mvDirectoryAssignment {
		if code := checkLogDirs(img, req); code != 0 {
			return fail(code)
		}
		for _, d := range req.LogDirs {
			logDirs = append(logDirs, metadata.UUID(d))
		}
	}
	features, code := checkFeatures(img, req)
	if code != 0 {
		return fail(code)
	}
	endPoints := make([]metadata.BrokerEndpoint, 0, len(req.Listeners))
	for _, l := range req.Listeners {
		if len(l.Name) > stringBytesMax || len(l.Host) > stringBytesMax {
			return fail(errInvalidRegistration)
		}
		endPoints = append(endPoints, metadata.BrokerEndpoint{Name: l.Name, Host: l.Host, Port: l.Port, SecurityProtocol: l.SecurityProtocol})
	}
	if req.Rack != nil && len(*req.Rack) > stringBytesMax {
		return fail(errInvalidRegistration)
	}

	p := newProposal(img)
	if registered {
		// PreviousBrokerEpoch is the epoch the broker's disk recorded for its last
		// registration; -1 says the disk does not hold the log it registered with before.
		if uncleanRestart(existing, req.PreviousBrokerEpoch) && !c.cfg.Buggify.Planted(buggify.BugIgnoreUncleanRestart) {
			c.dropUncleanBroker(p, req.BrokerID)
		} else {
			c.moveOffBroker(p, req.BrokerID)
		}
	}
	epoch := int64(nextOffset) + int64(len(p.records))
	var rack *string
	if req.Rack != nil {
		r := *req.Rack
		rack = &r
	}
	p.add(&metadata.RegisterBrokerRecord{
		Version:       registerBrokerRecordVersion(mv),
		BrokerID:      req.BrokerID,
		IncarnationID: metadata.UUID(req.IncarnationID),
		BrokerEpoch:   epoch,
		EndPoints:     endPoints,
		Features:      features,
		Rack:          rack,
		Fenced:        true,
		LogDirs:       logDirs,
	})
	h.sessions[req.BrokerID] = newSession(epoch, nowMs)
	resp.BrokerEpoch = epoch
	return Result{Records: p.records, Response: resp}
}

// uncleanRestart reports whether a registering broker comes back from an unclean restart:
// Kafka's test (KIP-966) is that PreviousBrokerEpoch is not the broker's registered epoch,
// the epoch a clean shutdown records. Weir's brokers record their epoch on disk when they
// register, not when they stop: a replica counts only what it holds durably, so a power loss
// does not make its log lack a committed record, but an empty or replaced disk does, and so
// does a recovery that found synced records corrupt (the broker then removes its record). So
// any epoch of this broker's up to the registered one proves the disk it registered with,
// intact; -1 (no record: a new, wiped or replaced disk, or synced records cut by recovery) or
// an epoch the controller never issued it does not.
func uncleanRestart(existing *metadata.Broker, previousBrokerEpoch int64) bool {
	return previousBrokerEpoch < 0 || previousBrokerEpoch > existing.Epoch
}

// checkLogDirs applies Kafka's rules once directories are assigned (metadata.version 3.7-IV2):
// at least one, none reserved, no duplicate, none registered by another broker.
func checkLogDirs(img *metadata.Image, req *kmsg.BrokerRegistrationRequest) int16 {
	if len(req.LogDirs) == 0 {
		return errInvalidRegistration
	}
	for i, d := range req.LogDirs {
		if binary.BigEndian.Uint64(d[:8]) == 0 && binary.BigEndian.Uint64(d[8:]) < reservedDirectoryIDsMax {
			return errInvalidRegistration
		}
		if slices.Contains(req.LogDirs[:i], d) {
			return errInvalidRegistration
		}
	}
	for _, b := range img.Brokers() {
		if b.ID == req.BrokerID {
			continue
		}
		for _, d := range req.LogDirs {
			if slices.Contains(b.LogDirs, metadata.UUID(d)) {
				return errInvalidRegistration
			}
		}
	}
	return 0
}

// checkFeatures is Kafka's registration feature check: the broker must declare metadata.version,
// every feature it declares that is finalized must have its finalized level within the broker's
// range, and every finalized feature must be declared (UNSUPPORTED_VERSION otherwise).
func checkFeatures(img *metadata.Image, req *kmsg.BrokerRegistrationRequest) ([]metadata.BrokerFeature, int16) {
	features := make([]metadata.BrokerFeature, 0, len(req.Features))
	declared := false
	for _, f := range req.Features {
		if len(f.Name) > stringBytesMax {
			return nil, errInvalidRegistration
		}
		if level, ok := img.FeatureLevel(f.Name); ok && (level < f.MinSupportedVersion || level > f.MaxSupportedVersion) {
			return nil, errUnsupportedVersion
		}
		declared = declared || f.Name == metadata.MetadataVersionFeature
		features = append(features, metadata.BrokerFeature{Name: f.Name, MinSupportedVersion: f.MinSupportedVersion, MaxSupportedVersion: f.MaxSupportedVersion})
	}
	if !declared {
		return nil, errInvalidRegistration
	}
	for _, name := range img.FeatureNames() {
		if !slices.ContainsFunc(req.Features, func(f kmsg.BrokerRegistrationRequestFeature) bool { return f.Name == name }) {
			return nil, errUnsupportedVersion
		}
	}
	return features, 0
}

// brokerState is Kafka's BrokerControlState.
type brokerState int

const (
	stateFenced brokerState = iota
	stateUnfenced
	stateControlledShutdown
	stateShutdownNow
)

func (s brokerState) fenced() bool { return s == stateFenced || s == stateShutdownNow }

func (s brokerState) String() string {
	return [...]string{"FENCED", "UNFENCED", "CONTROLLED_SHUTDOWN", "SHUTDOWN_NOW"}[s]
}

// Heartbeat handles BrokerHeartbeat: it renews the broker's lease and moves it between fenced,
// unfenced, controlled shutdown and shutdown as Kafka's BrokerHeartbeatManager does:
//   - fenced: WantShutdown shuts it down at once; otherwise it is unfenced once its
//     CurrentMetadataOffset reaches its registration record's offset (its epoch) and it does not
//     WantFence, and the partitions without a leader whose ISR holds it elect it;
//   - unfenced: WantFence fences it (and shuts it down with WantShutdown); WantShutdown starts a
//     controlled shutdown when it leads a partition (it is marked InControlledShutdown, leaves
//     every ISR and its leaderships move to another ISR member or to no leader), else shuts it
//     down at once;
//   - controlled shutdown: it may shut down once it leads nothing and every active broker has
//     applied the records that moved its partitions; it is then fenced.
//
// nextOffset is the offset the first record of the Result will get: the records of a controlled
// shutdown end at nextOffset+len(Records)-1, the offset the other brokers must reach.
func (c *Controller) Heartbeat(img *metadata.Image, nextOffset record.Offset, nowMs int64, req *kmsg.BrokerHeartbeatRequest) Result {
	resp := req.ResponseKind().(*kmsg.BrokerHeartbeatResponse)
	h := &c.brokers
	if !h.active {
		resp.ErrorCode = errNotController
		return Result{Response: resp}
	}
	b, ok := img.Broker(req.BrokerID)
	if !ok || b.Epoch != req.BrokerEpoch {
		// Kafka answers an unknown broker the same way (checkBrokerEpoch).
		resp.ErrorCode = errStaleBrokerEpoch
		return Result{Response: resp}
	}
	s := h.session(b, nowMs)
	s.lastContactMs = max(s.lastContactMs, nowMs)

	current := stateUnfenced
	switch {
	case b.Fenced:
		current = stateFenced
	case s.controlledShutdownOffset >= 0:
		current = stateControlledShutdown
	}
	next := h.nextState(img, b, s, current, req)

	p := newProposal(img)
	if next != current {
		switch next {
		case stateFenced, stateShutdownNow:
			c.fenceBroker(p, b.ID)
		case stateUnfenced:
			c.unfenceBroker(p, b.ID, b.Epoch)
		case stateControlledShutdown:
			if !b.InControlledShutdown {
				p.add(metadata.NewBrokerControlledShutdownRecord(b.ID, b.Epoch))
			}
			c.moveOffBroker(p, b.ID)
		}
	}
	s.metadataOffset = req.CurrentMetadataOffset
	if next.fenced() {
		s.controlledShutdownOffset = -1
	} else if next == stateControlledShutdown && s.controlledShutdownOffset < 0 {
		s.controlledShutdownOffset = int64(nextOffset) + int64(len(p.records)) - 1
	}
	if next == stateShutdownNow && leadsAny(p.image(), b.ID) {
		panic(fmt.Sprintf("controller: invariant broken: broker %d told to shut down while leading a partition", b.ID))
	}
	resp.IsCaughtUp = req.CurrentMetadataOffset >= b.Epoch
	resp.IsFenced = next.fenced()
	resp.ShouldShutdown = next == stateShutdownNow
	return Result{Records: p.records, Response: resp}
}

// nextState is Kafka's BrokerHeartbeatManager.calculateNextBrokerState.
func (h *brokerHeartbeats) nextState(img *metadata.Image, b *metadata.Broker, s *brokerSession, current brokerState, req *kmsg.BrokerHeartbeatRequest) brokerState {
	switch current {
	case stateFenced:
		if req.WantShutdown {
			return stateShutdownNow
		}
		if !req.WantFence && req.CurrentMetadataOffset >= b.Epoch {
			return stateUnfenced
		}
		return stateFenced
	case stateUnfenced:
		switch {
		case req.WantFence && req.WantShutdown:
			return stateShutdownNow
		case req.WantFence:
			return stateFenced
		case req.WantShutdown && leadsAny(img, b.ID):
			return stateControlledShutdown
		case req.WantShutdown:
			return stateShutdownNow
		}
		return stateUnfenced
	case stateControlledShutdown:
		if leadsAny(img, b.ID) || s.controlledShutdownOffset > h.lowestActiveOffset(img) {
			return stateControlledShutdown
		}
		return stateShutdownNow
	}
	panic(fmt.Sprintf("controller: invariant broken: broker state %d", current))
}

// UnregisterBroker handles UnregisterBroker (KIP-500's decommissioning): the broker leaves every
// ISR and its leaderships move, then an UnregisterBrokerRecord removes its registration (Kafka's
// handleBrokerUnregistered). A broker id that is not registered gets BROKER_ID_NOT_REGISTERED.
func (c *Controller) UnregisterBroker(img *metadata.Image, nowMs int64, req *kmsg.UnregisterBrokerRequest) Result {
	resp := req.ResponseKind().(*kmsg.UnregisterBrokerResponse)
	if !c.brokers.active {
		resp.ErrorCode = errNotController
		return Result{Response: resp}
	}
	b, ok := img.Broker(req.BrokerID)
	if !ok {
		resp.ErrorCode = errBrokerIDNotRegistered
		msg := fmt.Sprintf("Broker ID %d is not currently registered", req.BrokerID)
		resp.ErrorMessage = &msg
		return Result{Response: resp}
	}
	p := newProposal(img)
	c.moveOffBroker(p, b.ID)
	p.add(metadata.NewUnregisterBrokerRecord(b.ID, b.Epoch))
	delete(c.brokers.sessions, b.ID)
	return Result{Records: p.records, Response: resp}
}
