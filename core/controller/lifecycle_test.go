package controller

import (
	"math"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
)

const (
	registerType = metadata.RegisterBrokerRecordType
	changeType   = metadata.BrokerRegistrationChangeRecordType
	pcrType      = metadata.PartitionChangeRecordType
)

func TestRegisterBroker(t *testing.T) {
	h := newLifecycleHarness(t, metadata.MetadataVersionDefault)
	req := registrationRequest(3, 1)
	rack := "rack-a"
	req.Rack = &rack
	at := h.next
	res, resp := h.registerWith(req)
	if resp.ErrorCode != 0 || resp.BrokerEpoch != int64(at) {
		t.Fatalf("response %+v, want epoch %d", resp, at)
	}
	if !sameTypes(res.Records, registerType) {
		t.Fatalf("records %v", recordTypes(res.Records))
	}
	b := h.broker(3)
	want := &metadata.Broker{
		ID: 3, Epoch: int64(at), IncarnationID: metadata.UUID(req.IncarnationID),
		EndPoints: []metadata.BrokerEndpoint{{Name: "PLAINTEXT", Host: req.Listeners[0].Host, Port: 9092}},
		Features:  metadata.SupportedFeatures(),
		Rack:      &rack, Fenced: true, LogDirs: []metadata.UUID{metadata.UUID(req.LogDirs[0])},
	}
	if !reflect.DeepEqual(b, want) {
		t.Fatalf("registration\n got %+v\nwant %+v", b, want)
	}
	if r := res.Records[0].(*metadata.RegisterBrokerRecord); r.Version != 3 {
		t.Fatalf("RegisterBrokerRecord v%d at metadata.version %d", r.Version, metadata.MetadataVersionDefault)
	}
	// A retry by the same incarnation, lease still valid, registers again at a new epoch.
	h.nowMs += 100
	at = h.next
	if _, resp := h.registerWith(req); resp.ErrorCode != 0 || resp.BrokerEpoch != int64(at) || h.broker(3).Epoch != int64(at) {
		t.Fatalf("re-registration: %+v", resp)
	}
}

// TestFencedRegistrationIsTakenOver: a fenced registration has no valid session (Kafka's
// BrokerHeartbeatManager.hasValidSession), so another incarnation registers at once, as a
// broker restarting after its controlled shutdown does.
func TestFencedRegistrationIsTakenOver(t *testing.T) {
	h := newLifecycleHarness(t, metadata.MetadataVersionDefault)
	h.register(1, 7) // registered fenced, its lease fresh
	res, resp := h.register(1, 8)
	if resp.ErrorCode != 0 || len(res.Records) == 0 {
		t.Fatalf("error %d, %d records: a fenced registration must be taken over", resp.ErrorCode, len(res.Records))
	}
	if b := h.broker(1); b.IncarnationID != (metadata.UUID{0: 1, 1: 8, 15: 1}) {
		t.Fatalf("incarnation %v after the takeover", b.IncarnationID)
	}
}

// TestColocatedBrokerReregistersAfterACrash: the broker of the controller's own process (same
// node id) takes its live registration over at once: its other incarnation died with the
// process the controller restarted from. Another broker id waits out the lease.
func TestColocatedBrokerReregistersAfterACrash(t *testing.T) {
	h := newLifecycleHarness(t, metadata.MetadataVersionDefault)
	h.c.cfg.NodeID = 1
	h.register(1, 7)
	h.heartbeat(1, h.caughtUp(), false, false)
	h.register(2, 7)
	h.heartbeat(2, h.caughtUp(), false, false)
	h.c.Activate(h.img, h.nowMs) // the controller restarted: every lease is fresh again
	if _, resp := h.register(1, 8); resp.ErrorCode != 0 {
		t.Fatalf("co-located broker: error %d, want its registration taken over", resp.ErrorCode)
	}
	if _, resp := h.register(2, 8); resp.ErrorCode != errDuplicateBrokerRegistration {
		t.Fatalf("another broker: error %d, want DUPLICATE_BROKER_REGISTRATION while its lease lives", resp.ErrorCode)
	}
}

func TestRegisterBrokerErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(h *lifecycleHarness)
		edit  func(req *kmsg.BrokerRegistrationRequest)
		want  int16
	}{
		{"inactive controller", func(h *lifecycleHarness) { h.c.Deactivate() }, nil, errNotController},
		{"other cluster", nil, func(r *kmsg.BrokerRegistrationRequest) { r.ClusterID = "other" }, errInconsistentClusterID},
		{"negative broker id", nil, func(r *kmsg.BrokerRegistrationRequest) { r.BrokerID = -1 }, errInvalidRegistration},
		{"live registration of another incarnation", func(h *lifecycleHarness) {
			h.register(1, 7)
			h.heartbeat(1, h.caughtUp(), false, false) // unfenced: a valid session
		}, nil, errDuplicateBrokerRegistration},
		{"registration the controller did not write counts as live", func(h *lifecycleHarness) {
			h.append([]metadata.Record{metadata.NewRegisterBrokerRecord(1, int64(h.next), metadata.UUID{9: 9}, nil, nil, []metadata.UUID{{0: 0xee}}, false)})
		}, nil, errDuplicateBrokerRegistration},
		{"zookeeper broker", nil, func(r *kmsg.BrokerRegistrationRequest) { r.IsMigratingZkBroker = true }, errBrokerIDNotRegistered},
		{"metadata.version out of range", nil, func(r *kmsg.BrokerRegistrationRequest) { r.Features[0].MaxSupportedVersion = 20 }, errUnsupportedVersion},
		{"no metadata.version", nil, func(r *kmsg.BrokerRegistrationRequest) { r.Features[0].Name = "other.feature" }, errInvalidRegistration},
		{"finalized feature not declared", func(h *lifecycleHarness) {
			h.append([]metadata.Record{&metadata.FeatureLevelRecord{Name: "transaction.version", FeatureLevel: 2}})
		}, nil, errUnsupportedVersion},
		{"finalized feature level out of range", func(h *lifecycleHarness) {
			h.append([]metadata.Record{&metadata.FeatureLevelRecord{Name: "transaction.version", FeatureLevel: 2}})
		}, func(r *kmsg.BrokerRegistrationRequest) {
			r.Features = append(r.Features, kmsg.BrokerRegistrationRequestFeature{Name: "transaction.version", MinSupportedVersion: 0, MaxSupportedVersion: 1})
		}, errUnsupportedVersion},
		{"no log dirs", nil, func(r *kmsg.BrokerRegistrationRequest) { r.LogDirs = nil }, errInvalidRegistration},
		{"reserved log dir", nil, func(r *kmsg.BrokerRegistrationRequest) { r.LogDirs = [][16]byte{{15: 1}} }, errInvalidRegistration},
		{"duplicate log dir", nil, func(r *kmsg.BrokerRegistrationRequest) { r.LogDirs = append(r.LogDirs, r.LogDirs[0]) }, errInvalidRegistration},
		{"log dir of another broker", func(h *lifecycleHarness) { h.register(2, 1) }, func(r *kmsg.BrokerRegistrationRequest) {
			r.LogDirs = registrationRequest(2, 1).LogDirs
		}, errInvalidRegistration},
		{"host too long", nil, func(r *kmsg.BrokerRegistrationRequest) { r.Listeners[0].Host = string(make([]byte, 1<<15)) }, errInvalidRegistration},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newLifecycleHarness(t, metadata.MetadataVersionDefault)
			if c.setup != nil {
				c.setup(h)
			}
			req := registrationRequest(1, 1)
			if c.edit != nil {
				c.edit(req)
			}
			before := h.img
			res, resp := h.registerWith(req)
			if resp.ErrorCode != c.want || len(res.Records) != 0 || resp.BrokerEpoch != -1 {
				t.Fatalf("error %d, %d records, epoch %d; want error %d and nothing else", resp.ErrorCode, len(res.Records), resp.BrokerEpoch, c.want)
			}
			if h.img != before {
				t.Fatal("a refused registration changed the image")
			}
		})
	}
}

func TestRegisterAfterLeaseLapses(t *testing.T) {
	h := newLifecycleHarness(t, metadata.MetadataVersionDefault)
	h.registerUnfenced(1)
	timeoutMs := int64(h.c.cfg.Broker.BrokerSessionTimeoutMs)
	h.nowMs += timeoutMs
	if _, resp := h.register(1, 2); resp.ErrorCode != errDuplicateBrokerRegistration {
		t.Fatalf("lease still valid at exactly the timeout: error %d", resp.ErrorCode)
	}
	h.nowMs++
	if _, resp := h.register(1, 2); resp.ErrorCode != 0 {
		t.Fatalf("lapsed lease: error %d", resp.ErrorCode)
	}
	if b := h.broker(1); !b.Fenced || b.IncarnationID != metadata.UUID(registrationRequest(1, 2).IncarnationID) {
		t.Fatalf("new incarnation: %+v", b)
	}
}

// A new registration of a broker that leads moves its partitions first: a fenced broker never
// leads, and its epoch is still the offset of its RegisterBrokerRecord.
func TestReRegistrationMovesLeadership(t *testing.T) {
	forELRModes(t, func(t *testing.T, mv int16) {
		h := newLifecycleHarness(t, mv)
		h.registerUnfenced(1, 2)
		topic := h.createTopic("t", 1, []int32{1, 2}, []int32{1})
		h.nowMs += 20_000 // both leases lapse; no Tick ran
		at := h.next
		res, resp := h.register(1, 2)
		if resp.ErrorCode != 0 || !sameTypes(res.Records, pcrType, pcrType, registerType) {
			t.Fatalf("error %d, records %v", resp.ErrorCode, recordTypes(res.Records))
		}
		if resp.BrokerEpoch != int64(at)+2 || h.broker(1).Epoch != int64(at)+2 {
			t.Fatalf("epoch %d, want %d (the registration record's offset)", resp.BrokerEpoch, int64(at)+2)
		}
		if p := h.partition(topic, 0); p.Leader != 2 || !reflect.DeepEqual(p.ISR, []int32{2}) || p.LeaderEpoch != 1 {
			t.Fatalf("partition 0: %+v", p)
		}
		if p := h.partition(topic, 1); p.Leader != metadata.NoLeader || !keptLast(h.img, p, 1) {
			t.Fatalf("partition 1 (only replica re-registered): %+v", p)
		}
	})
}

func TestHeartbeatErrors(t *testing.T) {
	h := newLifecycleHarness(t, metadata.MetadataVersionDefault)
	_, reg := h.register(1, 1)
	cases := []struct {
		name  string
		req   *kmsg.BrokerHeartbeatRequest
		setup func()
		want  int16
	}{
		{"stale epoch", heartbeatRequest(1, reg.BrokerEpoch-1, 100, false, false), nil, errStaleBrokerEpoch},
		{"future epoch", heartbeatRequest(1, reg.BrokerEpoch+1, 100, false, false), nil, errStaleBrokerEpoch},
		{"unknown broker", heartbeatRequest(9, reg.BrokerEpoch, 100, false, false), nil, errStaleBrokerEpoch},
		{"inactive controller", heartbeatRequest(1, reg.BrokerEpoch, 100, false, false), h.c.Deactivate, errNotController},
	}
	for _, c := range cases {
		if c.setup != nil {
			c.setup()
		}
		res := h.c.Heartbeat(h.img, h.next, h.nowMs, c.req)
		resp := res.Response.(*kmsg.BrokerHeartbeatResponse)
		if resp.ErrorCode != c.want || len(res.Records) != 0 || !resp.IsFenced || resp.ShouldShutdown {
			t.Errorf("%s: %+v with %d records, want error %d", c.name, resp, len(res.Records), c.want)
		}
	}
}

func TestHeartbeatUnfencesOnceCaughtUp(t *testing.T) {
	h := newLifecycleHarness(t, metadata.MetadataVersionDefault)
	_, reg := h.register(1, 1)
	res, resp := h.heartbeat(1, reg.BrokerEpoch-1, false, false)
	if len(res.Records) != 0 || !resp.IsFenced || resp.IsCaughtUp || resp.ShouldShutdown {
		t.Fatalf("behind its registration: %+v, %v", resp, recordTypes(res.Records))
	}
	// Caught up but asking to stay fenced.
	res, resp = h.heartbeat(1, reg.BrokerEpoch, true, false)
	if len(res.Records) != 0 || !resp.IsFenced || !resp.IsCaughtUp {
		t.Fatalf("want fence: %+v, %v", resp, recordTypes(res.Records))
	}
	res, resp = h.heartbeat(1, reg.BrokerEpoch, false, false)
	if !sameTypes(res.Records, changeType) || resp.IsFenced || !resp.IsCaughtUp || h.broker(1).Fenced {
		t.Fatalf("caught up: %+v, %v", resp, recordTypes(res.Records))
	}
	if r := res.Records[0].(*metadata.BrokerRegistrationChangeRecord); r.Fenced != metadata.FencingChangeUnfence || r.BrokerEpoch != reg.BrokerEpoch {
		t.Fatalf("unfence record %+v", r)
	}
	// Unfenced and staying so: nothing to write.
	if res, resp := h.heartbeat(1, h.caughtUp(), false, false); len(res.Records) != 0 || resp.IsFenced {
		t.Fatalf("steady heartbeat: %+v, %v", resp, recordTypes(res.Records))
	}
	// Asking to be fenced.
	res, resp = h.heartbeat(1, h.caughtUp(), true, false)
	if !sameTypes(res.Records, changeType) || !resp.IsFenced || resp.ShouldShutdown || !h.broker(1).Fenced {
		t.Fatalf("want fence: %+v, %v", resp, recordTypes(res.Records))
	}
	// A fenced broker asking to shut down may, at once.
	_, resp = h.heartbeat(1, h.caughtUp(), false, true)
	if !resp.IsFenced || !resp.ShouldShutdown {
		t.Fatalf("fenced shutdown: %+v", resp)
	}
}

func TestUnfenceElectsLeaderlessPartitions(t *testing.T) {
	forELRModes(t, func(t *testing.T, mv int16) {
		h := newLifecycleHarness(t, mv)
		h.registerUnfenced(1, 2)
		topic := h.createTopic("t", 1, []int32{1, 2}, []int32{2, 1})
		h.heartbeat(1, h.caughtUp(), true, false) // 1 leaves: both partitions led by 2
		h.heartbeat(2, h.caughtUp(), true, false) // 2 leaves: no leader, 2 the last in each ISR
		for p := int32(0); p < 2; p++ {
			if part := h.partition(topic, p); part.Leader != metadata.NoLeader || !keptLast(h.img, part, 2) {
				t.Fatalf("partition %d after both fenced: %+v", p, part)
			}
		}
		epochsBefore := []int32{h.partition(topic, 0).LeaderEpoch, h.partition(topic, 1).LeaderEpoch}
		// Broker 1 is not in an ISR: unfencing it elects nothing.
		if res, _ := h.heartbeat(1, h.caughtUp(), false, false); !sameTypes(res.Records, changeType) {
			t.Fatalf("unfencing 1: %v", recordTypes(res.Records))
		}
		res, _ := h.heartbeat(2, h.caughtUp(), false, false)
		if !sameTypes(res.Records, changeType, pcrType, pcrType) {
			t.Fatalf("unfencing 2: %v", recordTypes(res.Records))
		}
		for p := int32(0); p < 2; p++ {
			if part := h.partition(topic, p); part.Leader != 2 || part.LeaderEpoch != epochsBefore[p]+1 {
				t.Fatalf("partition %d after 2 unfenced: %+v", p, part)
			}
		}
	})
}

func TestTickFencesLapsedBrokers(t *testing.T) {
	forELRModes(t, func(t *testing.T, mv int16) {
		h := newLifecycleHarness(t, mv)
		h.registerUnfenced(1, 2, 3)
		timeoutMs := int64(h.c.cfg.Broker.BrokerSessionTimeoutMs)
		topic := h.createTopic("t", 1, []int32{1, 2, 3}, []int32{1}, []int32{2, 1})
		start := h.nowMs
		if records, deadline := h.c.Tick(h.img, h.nowMs); len(records) != 0 || deadline != start+timeoutMs+1 {
			t.Fatalf("fresh leases: %v, deadline %d", recordTypes(records), deadline)
		}
		// Brokers 2 and 3 keep heartbeating; 1 stops.
		h.nowMs = start + timeoutMs
		h.heartbeat(2, h.caughtUp(), false, false)
		h.heartbeat(3, h.caughtUp(), false, false)
		if records := h.tick(); len(records) != 0 {
			t.Fatalf("a lease at exactly the timeout was fenced: %v", recordTypes(records))
		}
		h.nowMs++
		records, deadline := h.c.Tick(h.img, h.nowMs)
		h.append(records)
		// Kafka's order: the partitions, then the registration change.
		if !sameTypes(records, pcrType, pcrType, pcrType, changeType) {
			t.Fatalf("fencing 1: %v", recordTypes(records))
		}
		if deadline != start+2*timeoutMs+1 {
			t.Fatalf("deadline %d, want %d", deadline, start+2*timeoutMs+1)
		}
		if !h.broker(1).Fenced || h.broker(2).Fenced || h.broker(3).Fenced {
			t.Fatal("fenced the wrong brokers")
		}
		if p := h.partition(topic, 0); p.Leader != 2 || !reflect.DeepEqual(p.ISR, []int32{2, 3}) || p.LeaderEpoch != 1 || p.PartitionEpoch != 1 {
			t.Fatalf("partition 0: %+v", p)
		}
		// RF 1: no leader; the ISR keeps its last member, or it moves to the ELR.
		if p := h.partition(topic, 1); p.Leader != metadata.NoLeader || !keptLast(h.img, p, 1) || p.LeaderEpoch != 1 {
			t.Fatalf("partition 1: %+v", p)
		}
		// 1 was a follower: it leaves the ISR, the leader and its epoch stay.
		if p := h.partition(topic, 2); p.Leader != 2 || !reflect.DeepEqual(p.ISR, []int32{2}) || p.LeaderEpoch != 0 {
			t.Fatalf("partition 2: %+v", p)
		}
		// Nothing more to fence; an inactive controller does nothing.
		if records := h.tick(); len(records) != 0 {
			t.Fatalf("second tick: %v", recordTypes(records))
		}
		h.c.Deactivate()
		h.nowMs += 10 * timeoutMs
		if records, deadline := h.c.Tick(h.img, h.nowMs); records != nil || deadline != NoDeadline {
			t.Fatalf("inactive tick: %v, %d", records, deadline)
		}
	})
}

// Two brokers lapse at once: the second's partitions do not elect the first, even uncleanly.
func TestTickFencesSeveralInOrder(t *testing.T) {
	h := newLifecycleHarness(t, metadata.MetadataVersionDefault)
	h.registerUnfenced(1, 2, 3)
	topic := h.createTopic("t", 1, []int32{2, 1, 3})
	shrink := metadata.NewPartitionChangeRecord(topic, 0)
	shrink.ISR = []int32{2}
	set := "true"
	h.append([]metadata.Record{shrink, &metadata.ConfigRecord{ResourceType: metadata.ResourceTopic, ResourceName: "t", Name: uncleanLeaderElectionKey, Value: &set}})
	h.nowMs += 5000
	h.heartbeat(3, h.caughtUp(), false, false)
	h.nowMs += 5000
	if records := h.tick(); !sameTypes(records, changeType, pcrType, changeType) {
		t.Fatalf("fencing 1 then 2: %v", recordTypes(records))
	}
	if p := h.partition(topic, 0); p.Leader != 3 || !reflect.DeepEqual(p.ISR, []int32{3}) || p.LeaderEpoch != 1 {
		t.Fatalf("partition: %+v", p)
	}
	if records, deadline := h.c.Tick(h.img, h.nowMs); len(records) != 0 || deadline != h.nowMs-5000+9001 {
		t.Fatalf("after fencing: %v, deadline %d", recordTypes(records), deadline)
	}
}

func TestControlledShutdown(t *testing.T) {
	forELRModes(t, func(t *testing.T, mv int16) {
		h := newLifecycleHarness(t, mv)
		h.registerUnfenced(1, 2, 3)
		topic := h.createTopic("t", 1, []int32{1, 2}, []int32{1}, []int32{2, 1})
		// Every broker has applied the topic.
		for _, id := range []int32{1, 2, 3} {
			h.heartbeat(id, h.caughtUp(), false, false)
		}
		res, resp := h.heartbeat(1, h.caughtUp(), false, true)
		if !sameTypes(res.Records, changeType, pcrType, pcrType, pcrType) || resp.IsFenced || resp.ShouldShutdown {
			t.Fatalf("entering controlled shutdown: %+v, %v", resp, recordTypes(res.Records))
		}
		if r := res.Records[0].(*metadata.BrokerRegistrationChangeRecord); r.Version != 1 || r.InControlledShutdown != metadata.ControlledShutdownChangeEnter || r.Fenced != 0 {
			t.Fatalf("change record %+v", r)
		}
		shutdownOffset := h.caughtUp()
		if b := h.broker(1); !b.InControlledShutdown || b.Fenced {
			t.Fatalf("broker 1: %+v", b)
		}
		if p := h.partition(topic, 0); p.Leader != 2 || !reflect.DeepEqual(p.ISR, []int32{2}) {
			t.Fatalf("partition 0: %+v", p)
		}
		if p := h.partition(topic, 1); p.Leader != metadata.NoLeader || !keptLast(h.img, p, 1) {
			t.Fatalf("partition 1 (RF 1): %+v", p)
		}
		// Broker 1 leads nothing, but 2 and 3 have not applied the new leaders yet.
		if res, resp := h.heartbeat(1, h.caughtUp(), false, true); len(res.Records) != 0 || resp.ShouldShutdown || resp.IsFenced {
			t.Fatalf("before the others caught up: %+v", resp)
		}
		h.heartbeat(2, shutdownOffset, false, false)
		h.heartbeat(3, shutdownOffset-1, false, false)
		if _, resp := h.heartbeat(1, h.caughtUp(), false, true); resp.ShouldShutdown {
			t.Fatal("shut down before broker 3 caught up")
		}
		h.heartbeat(3, shutdownOffset, false, false)
		res, resp = h.heartbeat(1, h.caughtUp(), false, true)
		if !resp.ShouldShutdown || !resp.IsFenced || !sameTypes(res.Records, changeType) || !h.broker(1).Fenced {
			t.Fatalf("after the others caught up: %+v, %v", resp, recordTypes(res.Records))
		}
		// A broker that leads nothing shuts down at once.
		res, resp = h.heartbeat(3, h.caughtUp(), false, true)
		if !resp.ShouldShutdown || !resp.IsFenced || !sameTypes(res.Records, changeType) {
			t.Fatalf("broker 3: %+v, %v", resp, recordTypes(res.Records))
		}
	})
}

// A broker in controlled shutdown when the controller fails over asks again: the new active
// controller writes no second InControlledShutdown change and lets it go once caught up.
func TestControlledShutdownAcrossFailover(t *testing.T) {
	h := newLifecycleHarness(t, metadata.MetadataVersionDefault)
	h.registerUnfenced(1, 2)
	h.createTopic("t", 1, []int32{1, 2})
	h.heartbeat(1, h.caughtUp(), false, true)
	h.c.Deactivate()
	h.c.Activate(h.img, h.nowMs)
	h.heartbeat(2, h.caughtUp(), false, false)
	res, resp := h.heartbeat(1, h.caughtUp(), false, true)
	if !resp.ShouldShutdown || !sameTypes(res.Records, changeType) {
		t.Fatalf("after failover: %+v, %v", resp, recordTypes(res.Records))
	}
}

func TestActivateGivesFreshLeases(t *testing.T) {
	h := newLifecycleHarness(t, metadata.MetadataVersionDefault)
	h.registerUnfenced(1)
	timeoutMs := int64(h.c.cfg.Broker.BrokerSessionTimeoutMs)
	h.c.Deactivate()
	h.nowMs += 5 * timeoutMs
	h.c.Activate(h.img, h.nowMs)
	records, deadline := h.c.Tick(h.img, h.nowMs+timeoutMs)
	if len(records) != 0 || deadline != h.nowMs+timeoutMs+1 {
		t.Fatalf("after activation: %v, deadline %d", recordTypes(records), deadline)
	}
	h.nowMs += timeoutMs + 1
	if records := h.tick(); !sameTypes(records, changeType) {
		t.Fatalf("lapsed after activation: %v", recordTypes(records))
	}
}

func TestUncleanElection(t *testing.T) {
	h := newLifecycleHarness(t, metadata.MetadataVersionDefault)
	h.registerUnfenced(1, 2)
	topic := h.createTopic("t", 1, []int32{1, 2})
	shrink := metadata.NewPartitionChangeRecord(topic, 0)
	shrink.ISR = []int32{1}
	set := "true"
	h.append([]metadata.Record{shrink, &metadata.ConfigRecord{ResourceType: metadata.ResourceTopic, ResourceName: "t", Name: uncleanLeaderElectionKey, Value: &set}})
	h.heartbeat(1, h.caughtUp(), true, false)
	if p := h.partition(topic, 0); p.Leader != 2 || !reflect.DeepEqual(p.ISR, []int32{2}) || p.LeaderRecoveryState != leaderRecoveryRecovering {
		t.Fatalf("unclean election: %+v", p)
	}
}

// Before 3.6-IV0 an ISR shrink bumps the leader epoch, and records are written at the versions
// that metadata.version knows.
func TestOlderMetadataVersion(t *testing.T) {
	h := newLifecycleHarness(t, 11)
	req := registrationRequest(1, 1)
	req.LogDirs = nil // not required before directory assignment
	if res, resp := h.registerWith(req); resp.ErrorCode != 0 || res.Records[0].(*metadata.RegisterBrokerRecord).Version != 2 {
		t.Fatalf("register: %+v", resp)
	}
	h.registerUnfenced(2)
	h.heartbeat(1, h.caughtUp(), false, false)
	topic := h.createTopic("t", 1, []int32{2, 1})
	res, _ := h.heartbeat(1, h.caughtUp(), true, false)
	if !sameTypes(res.Records, pcrType, changeType) || res.Records[0].(*metadata.PartitionChangeRecord).Version != 0 {
		t.Fatalf("fence: %v", recordTypes(res.Records))
	}
	if p := h.partition(topic, 0); p.Leader != 2 || p.LeaderEpoch != 1 || !reflect.DeepEqual(p.ISR, []int32{2}) {
		t.Fatalf("partition: %+v", p)
	}
}

func TestAllocateProducerIds(t *testing.T) {
	h := newLifecycleHarness(t, metadata.MetadataVersionDefault)
	_, reg := h.register(1, 1)
	allocate := func(id int32, epoch int64) (Result, *kmsg.AllocateProducerIDsResponse) {
		req := kmsg.NewPtrAllocateProducerIDsRequest()
		req.BrokerID, req.BrokerEpoch = id, epoch
		res := h.result(h.c.AllocateProducerIds(h.img, h.nowMs, req))
		return res, res.Response.(*kmsg.AllocateProducerIDsResponse)
	}
	for block := int64(0); block < 2; block++ {
		res, resp := allocate(1, reg.BrokerEpoch)
		if resp.ErrorCode != 0 || resp.ProducerIDStart != block*1000 || resp.ProducerIDLen != 1000 || h.img.NextProducerID() != (block+1)*1000 {
			t.Fatalf("block %d: %+v", block, resp)
		}
		if r := res.Records[0].(*metadata.ProducerIdsRecord); r.BrokerID != 1 || r.BrokerEpoch != reg.BrokerEpoch {
			t.Fatalf("record %+v", r)
		}
	}
	for _, c := range []struct {
		name  string
		id    int32
		epoch int64
		want  int16
	}{
		{"stale epoch", 1, reg.BrokerEpoch - 1, errStaleBrokerEpoch},
		{"unknown broker", 5, reg.BrokerEpoch, errStaleBrokerEpoch},
	} {
		if res, resp := allocate(c.id, c.epoch); resp.ErrorCode != c.want || len(res.Records) != 0 {
			t.Errorf("%s: error %d", c.name, resp.ErrorCode)
		}
	}
	h.append([]metadata.Record{metadata.NewProducerIdsRecord(1, reg.BrokerEpoch, math.MaxInt64-999)})
	if res, resp := allocate(1, reg.BrokerEpoch); resp.ErrorCode != errUnknownServerError || len(res.Records) != 0 {
		t.Fatalf("exhausted: error %d", resp.ErrorCode)
	}
	h.c.Deactivate()
	if _, resp := allocate(1, reg.BrokerEpoch); resp.ErrorCode != errNotController {
		t.Fatalf("inactive: error %d", resp.ErrorCode)
	}
}

func TestConfigNeedsSessionTimeout(t *testing.T) {
	if err := (Config{}).Validate(); err == nil {
		t.Fatal("a zero broker.session.timeout.ms validated")
	}
}

func TestUnregisterBroker(t *testing.T) {
	h := newLifecycleHarness(t, metadata.MetadataVersionDefault)
	h.registerUnfenced(1, 2)
	topic := h.createTopic("t", 1, []int32{1, 2})
	unregister := func(id int32) (Result, *kmsg.UnregisterBrokerResponse) {
		req := kmsg.NewPtrUnregisterBrokerRequest()
		req.BrokerID = id
		res := h.result(h.c.UnregisterBroker(h.img, h.nowMs, req))
		return res, res.Response.(*kmsg.UnregisterBrokerResponse)
	}
	if res, resp := unregister(7); resp.ErrorCode != errBrokerIDNotRegistered || resp.ErrorMessage == nil || len(res.Records) != 0 {
		t.Fatalf("unknown broker: %+v", resp)
	}
	res, resp := unregister(1)
	if resp.ErrorCode != 0 || !sameTypes(res.Records, pcrType, metadata.UnregisterBrokerRecordType) {
		t.Fatalf("unregister 1: %+v, %v", resp, recordTypes(res.Records))
	}
	if _, ok := h.img.Broker(1); ok {
		t.Fatal("broker 1 still registered")
	}
	if p := h.partition(topic, 0); p.Leader != 2 || !reflect.DeepEqual(p.ISR, []int32{2}) {
		t.Fatalf("partition: %+v", p)
	}
	// The id is free again: a new incarnation registers at once.
	if _, resp := h.register(1, 2); resp.ErrorCode != 0 {
		t.Fatalf("re-register: error %d", resp.ErrorCode)
	}
	h.c.Deactivate()
	if _, resp := unregister(2); resp.ErrorCode != errNotController {
		t.Fatalf("inactive: %+v", resp)
	}
}
