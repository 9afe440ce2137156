package controller

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/metadata"
)

var propBrokerIDs = []int32{0, 1, 2, 3}

// lifecycleModel drives a controller with random registrations, heartbeats, time, ticks,
// failovers and producer-id allocations, applies each Result's records (replay checks them),
// and checks the lifecycle invariants after every step. A twin controller gets the same inputs
// and must decide the same records, byte for byte.
type lifecycleModel struct {
	h    *lifecycleHarness
	twin *Controller
	// lastContactMs is when each broker's current registration last got a successful answer
	// (or the controller was activated): its lease, as the test sees it.
	lastContactMs map[int32]int64
	// registrationOffset is the offset of each broker's last RegisterBrokerRecord.
	registrationOffset map[int32]int64
	leaderEpochs       map[string]int32
	timeoutMs          int64
	// partitions is each partition as the last check saw it.
	partitions map[string]*metadata.Partition
	// allowUncleanISR is set while a reassignment is cancelled on a topic that allows unclean
	// elections: the revert may put a fenced broker alone in the ISR.
	allowUncleanISR bool
	// cancelling is set while a reassignment is cancelled.
	cancelling bool
}

func TestPropertyBrokerLifecycle(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &lifecycleModel{
			h:                  newLifecycleHarness(t, rapid.SampledFrom([]int16{21, metadata.MetadataVersionDefault}).Draw(t, "metadata.version")),
			lastContactMs:      map[int32]int64{},
			registrationOffset: map[int32]int64{},
			leaderEpochs:       map[string]int32{},
			partitions:         map[string]*metadata.Partition{},
		}
		twin, err := New(Config{NodeID: 100, Broker: config.DefaultBrokerConfig(), ClusterID: testClusterID}, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		m.twin = twin
		m.twin.Activate(m.h.img, m.h.nowMs)
		m.timeoutMs = int64(m.h.c.cfg.Broker.BrokerSessionTimeoutMs)
		for _, id := range propBrokerIDs {
			m.register(t, id, 1)
		}
		for _, id := range propBrokerIDs {
			m.heartbeat(t, id, m.h.caughtUp(), false, false, true)
		}
		for topic := byte(0); topic < 2; topic++ {
			var assignment [][]int32
			for p := rapid.IntRange(1, 3).Draw(t, "partitions"); p > 0; p-- {
				perm := rapid.Permutation(propBrokerIDs).Draw(t, "replicas")
				assignment = append(assignment, perm[:rapid.IntRange(1, 3).Draw(t, "rf")])
			}
			if rapid.Bool().Draw(t, "unclean") {
				m.h.createTopic(fmt.Sprintf("t%d", topic), topic, assignment...)
				set := "true"
				m.h.append([]metadata.Record{&metadata.ConfigRecord{ResourceType: metadata.ResourceTopic, ResourceName: fmt.Sprintf("t%d", topic), Name: uncleanLeaderElectionKey, Value: &set}})
			} else {
				m.h.createTopic(fmt.Sprintf("t%d", topic), topic, assignment...)
			}
		}
		m.check(t)
		for step := rapid.IntRange(1, 80).Draw(t, "steps"); step > 0; step-- {
			ops := append([]string{"heartbeat", "heartbeat", "heartbeat", "heartbeat", "time", "time", "tick", "tick", "register", "shutdown", "failover", "producer-ids", "unregister"}, replicationOps...)
			switch op := rapid.SampledFrom(ops).Draw(t, "op"); op {
			case "alter-partition", "elect", "reassign":
				m.replicationStep(t, op)
			case "heartbeat":
				id := rapid.SampledFrom(propBrokerIDs).Draw(t, "broker")
				offset := rapid.Int64Range(-1, m.h.caughtUp()).Draw(t, "offset")
				m.heartbeat(t, id, offset, rapid.IntRange(0, 9).Draw(t, "want-fence") == 0, false, rapid.IntRange(0, 9).Draw(t, "stale") != 0)
			case "shutdown":
				id := rapid.SampledFrom(propBrokerIDs).Draw(t, "broker")
				m.heartbeat(t, id, rapid.Int64Range(-1, m.h.caughtUp()).Draw(t, "offset"), false, true, true)
			case "time":
				// Now and then exactly to a lease's last valid millisecond, or one past it.
				m.h.nowMs += rapid.OneOf(rapid.Int64Range(0, m.timeoutMs+3000), rapid.SampledFrom([]int64{1, m.timeoutMs, m.timeoutMs + 1})).Draw(t, "advance-ms")
			case "tick":
				m.tick(t)
			case "register":
				m.register(t, rapid.SampledFrom(propBrokerIDs).Draw(t, "broker"), byte(rapid.IntRange(1, 3).Draw(t, "incarnation")))
			case "failover":
				m.h.c.Deactivate()
				m.twin.Deactivate()
				m.h.nowMs += rapid.Int64Range(0, 2*m.timeoutMs).Draw(t, "failover-ms")
				m.h.c.Activate(m.h.img, m.h.nowMs)
				m.twin.Activate(m.h.img, m.h.nowMs)
				for _, b := range m.h.img.Brokers() {
					m.lastContactMs[b.ID] = m.h.nowMs
				}
			case "unregister":
				req := kmsg.NewPtrUnregisterBrokerRequest()
				req.BrokerID = rapid.SampledFrom(propBrokerIDs).Draw(t, "broker")
				_, registered := m.h.img.Broker(req.BrokerID)
				res := m.decide(t, func(c *Controller) Result { return c.UnregisterBroker(m.h.img, m.h.nowMs, req) })
				if code := res.Response.(*kmsg.UnregisterBrokerResponse).ErrorCode; (code == 0) != registered {
					t.Fatalf("unregister %d (registered %v): error %d", req.BrokerID, registered, code)
				}
			case "producer-ids":
				id := rapid.SampledFrom(propBrokerIDs).Draw(t, "broker")
				req := kmsg.NewPtrAllocateProducerIDsRequest()
				req.BrokerID, req.BrokerEpoch = id, m.epoch(id)
				before := m.h.img.NextProducerID()
				res := m.decide(t, func(c *Controller) Result { return c.AllocateProducerIds(m.h.img, m.h.nowMs, req) })
				if resp := res.Response.(*kmsg.AllocateProducerIDsResponse); resp.ErrorCode == 0 && (resp.ProducerIDStart != before || m.h.img.NextProducerID() != before+1000) {
					t.Fatalf("producer ids %+v from %d", resp, before)
				}
			}
			m.check(t)
		}
	})
}

func (m *lifecycleModel) epoch(id int32) int64 {
	if b, ok := m.h.img.Broker(id); ok {
		return b.Epoch
	}
	return -1
}

// decide runs one command on both controllers, checks they agree, and applies the records.
func (m *lifecycleModel) decide(t *rapid.T, command func(c *Controller) Result) Result {
	res := command(m.h.c)
	twin := command(m.twin)
	m.sameRecords(t, res.Records, twin.Records)
	m.apply(t, res.Records)
	return res
}

func (m *lifecycleModel) sameRecords(t *rapid.T, a, b []metadata.Record) {
	if len(a) != len(b) {
		t.Fatalf("twin controllers decided %d and %d records", len(a), len(b))
	}
	for i := range a {
		ea, errA := metadata.EncodeRecord(a[i])
		eb, errB := metadata.EncodeRecord(b[i])
		if errA != nil || errB != nil || !bytes.Equal(ea, eb) {
			t.Fatalf("twin controllers differ at record %d: %x vs %x (%v, %v)", i, ea, eb, errA, errB)
		}
	}
}

// apply appends records at the next offsets, noting where each registration lands.
func (m *lifecycleModel) apply(t *rapid.T, records []metadata.Record) {
	checkISRAdditions(t, m.h.img, records, m.allowUncleanISR, m.cancelling)
	for i, r := range records {
		if reg, ok := r.(*metadata.RegisterBrokerRecord); ok {
			m.registrationOffset[reg.BrokerID] = int64(m.h.next) + int64(i)
		}
	}
	m.h.append(records)
}

func (m *lifecycleModel) register(t *rapid.T, id int32, incarnation byte) {
	req := registrationRequest(id, incarnation)
	// A broker back with its disk sends the epoch its disk recorded (the registered one, or
	// an earlier); one with an empty disk sends -1: an unclean restart.
	b, registered := m.h.img.Broker(id)
	if registered {
		switch rapid.IntRange(0, 2).Draw(t, "previous-epoch") {
		case 0:
			req.PreviousBrokerEpoch = b.Epoch
		case 1:
			req.PreviousBrokerEpoch = rapid.Int64Range(0, b.Epoch).Draw(t, "earlier-epoch")
		}
	}
	res := m.decide(t, func(c *Controller) Result { return c.RegisterBroker(m.h.img, m.h.next, m.h.nowMs, req) })
	resp := res.Response.(*kmsg.BrokerRegistrationResponse)
	if resp.ErrorCode == 0 {
		m.lastContactMs[id] = m.h.nowMs
		if resp.BrokerEpoch != m.registrationOffset[id] {
			t.Fatalf("broker %d epoch %d, its registration record is at %d", id, resp.BrokerEpoch, m.registrationOffset[id])
		}
		if registered && req.PreviousBrokerEpoch < 0 && m.h.img.ELREnabled() {
			for _, topic := range m.h.img.Topics() {
				for _, p := range topic.Partitions() {
					if slices.Contains(p.ISR, id) || slices.Contains(p.EligibleLeaderReplicas, id) {
						t.Fatalf("broker %d back from an unclean restart stays in %s-%d: ISR %v, ELR %v", id, topic.Name, p.ID, p.ISR, p.EligibleLeaderReplicas)
					}
				}
			}
		}
		return
	}
	if resp.ErrorCode != errDuplicateBrokerRegistration || len(res.Records) != 0 {
		t.Fatalf("register %d: error %d with %d records", id, resp.ErrorCode, len(res.Records))
	}
}

func (m *lifecycleModel) heartbeat(t *rapid.T, id int32, offset int64, wantFence, wantShutdown, currentEpoch bool) {
	epoch := m.epoch(id)
	if !currentEpoch {
		epoch--
	}
	req := heartbeatRequest(id, epoch, offset, wantFence, wantShutdown)
	before := m.h.img
	next := m.h.next
	res := m.decide(t, func(c *Controller) Result { return c.Heartbeat(before, next, m.h.nowMs, req) })
	resp := res.Response.(*kmsg.BrokerHeartbeatResponse)
	if resp.ErrorCode != 0 {
		if resp.ErrorCode != errStaleBrokerEpoch || len(res.Records) != 0 {
			t.Fatalf("heartbeat %d: error %d with %d records", id, resp.ErrorCode, len(res.Records))
		}
		return
	}
	m.lastContactMs[id] = m.h.nowMs
	b, _ := m.h.img.Broker(id)
	if resp.IsCaughtUp != (offset >= b.Epoch) {
		t.Fatalf("broker %d at %d, epoch %d: IsCaughtUp %v", id, offset, b.Epoch, resp.IsCaughtUp)
	}
	if resp.IsFenced != b.Fenced {
		t.Fatalf("broker %d: IsFenced %v, image fenced %v", id, resp.IsFenced, b.Fenced)
	}
	if resp.ShouldShutdown && (!b.Fenced || leadsAny(m.h.img, id)) {
		t.Fatalf("broker %d told to shut down while unfenced or leading", id)
	}
	old, _ := before.Broker(id)
	wasFenced := old.Fenced
	// A broker in controlled shutdown is let go (fenced) by any heartbeat once it may, as Kafka.
	if !wasFenced && b.Fenced && !wantFence && !wantShutdown && !old.InControlledShutdown {
		t.Fatalf("broker %d fenced by a heartbeat that did not ask", id)
	}
	if wasFenced && !b.Fenced && (wantFence || wantShutdown || offset < b.Epoch) {
		t.Fatalf("broker %d unfenced at offset %d (epoch %d, want fence %v, shutdown %v)", id, offset, b.Epoch, wantFence, wantShutdown)
	}
}

func (m *lifecycleModel) tick(t *rapid.T) {
	records, deadline := m.h.c.Tick(m.h.img, m.h.nowMs)
	twinRecords, twinDeadline := m.twin.Tick(m.h.img, m.h.nowMs)
	m.sameRecords(t, records, twinRecords)
	if deadline != twinDeadline {
		t.Fatalf("twin deadlines %d and %d", deadline, twinDeadline)
	}
	for _, r := range records {
		if c, ok := r.(*metadata.BrokerRegistrationChangeRecord); ok {
			if c.Fenced != metadata.FencingChangeFence {
				t.Fatalf("Tick wrote %+v", c)
			}
			if last := m.lastContactMs[c.BrokerID]; m.h.nowMs <= last+m.timeoutMs {
				t.Fatalf("Tick fenced broker %d at %d with a lease valid until %d", c.BrokerID, m.h.nowMs, last+m.timeoutMs)
			}
		}
	}
	m.apply(t, records)
	if deadline <= m.h.nowMs {
		t.Fatalf("deadline %d not after now %d", deadline, m.h.nowMs)
	}
	for _, b := range m.h.img.Brokers() {
		if !b.Fenced && m.h.nowMs > m.lastContactMs[b.ID]+m.timeoutMs {
			t.Fatalf("broker %d unfenced after Tick with a lapsed lease", b.ID)
		}
	}
}

// check asserts the invariants on the current image.
func (m *lifecycleModel) check(t *rapid.T) {
	m.checkReplication(t)
	img := m.h.img
	for _, b := range img.Brokers() {
		if b.Epoch != m.registrationOffset[b.ID] {
			t.Fatalf("broker %d epoch %d, its registration record is at %d", b.ID, b.Epoch, m.registrationOffset[b.ID])
		}
	}
	for _, topic := range img.Topics() {
		for _, p := range topic.Partitions() {
			key := fmt.Sprintf("%s-%d", topic.Name, p.ID)
			if prev, ok := m.leaderEpochs[key]; ok && p.LeaderEpoch < prev {
				t.Fatalf("%s leader epoch went from %d to %d", key, prev, p.LeaderEpoch)
			}
			m.leaderEpochs[key] = p.LeaderEpoch
			// Without eligible leader replicas an ISR keeps its last member; with them it may
			// empty (the partition then has no leader), and the ELR is outside the ISR, within
			// the replicas, and empty while the ISR has min.insync.replicas members.
			if len(p.ISR) == 0 && (!img.ELREnabled() || p.Leader != metadata.NoLeader) {
				t.Fatalf("%s has an empty ISR (leader %d, ELR on %v)", key, p.Leader, img.ELREnabled())
			}
			if !img.ELREnabled() && len(p.EligibleLeaderReplicas) > 0 {
				t.Fatalf("%s has eligible leader replicas %v without the feature", key, p.EligibleLeaderReplicas)
			}
			for _, id := range p.EligibleLeaderReplicas {
				if slices.Contains(p.ISR, id) || !slices.Contains(p.Replicas, id) {
					t.Fatalf("%s ELR %v, ISR %v, replicas %v", key, p.EligibleLeaderReplicas, p.ISR, p.Replicas)
				}
			}
			if minISR := int(m.h.c.minInsyncReplicas(img, topic.Name)); len(p.ISR) >= minISR && len(p.EligibleLeaderReplicas) > 0 {
				t.Fatalf("%s ISR %v has min.insync.replicas %d members, yet ELR %v", key, p.ISR, minISR, p.EligibleLeaderReplicas)
			}
			if p.Leader == metadata.NoLeader {
				continue
			}
			b, ok := img.Broker(p.Leader)
			if !ok || b.Fenced {
				t.Fatalf("%s is led by broker %d, fenced or unregistered", key, p.Leader)
			}
			found := false
			for _, id := range p.ISR {
				found = found || id == p.Leader
			}
			if !found {
				t.Fatalf("%s leader %d not in ISR %v", key, p.Leader, p.ISR)
			}
		}
	}
}
