package controller

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"

	"github.com/weirdata/weir/core/metadata"
)

// The replication commands of the lifecycle property test: AlterPartition from the leader
// (now and then stale or naming ineligible brokers), ElectLeaders, reassignments and their
// cancellation, mixed with the fencing, shutdowns and lease expiries the test already drives.

// replicationOps are the op names replicationStep handles.
var replicationOps = []string{"alter-partition", "alter-partition", "alter-partition", "elect", "reassign", "reassign"}

// pickPartition draws a topic and one of its partitions.
func (m *lifecycleModel) pickPartition(t *rapid.T) (*metadata.Topic, *metadata.Partition) {
	topics := m.h.img.Topics()
	topic := rapid.SampledFrom(topics).Draw(t, "topic")
	return topic, rapid.SampledFrom(topic.Partitions()).Draw(t, "partition")
}

// replicationStep runs one replication op.
func (m *lifecycleModel) replicationStep(t *rapid.T, op string) {
	switch op {
	case "alter-partition":
		m.alterPartition(t)
	case "elect":
		m.elect(t)
	case "reassign":
		m.reassign(t)
	default:
		panic("unknown op " + op)
	}
}

func (m *lifecycleModel) alterPartition(t *rapid.T) {
	topic, part := m.pickPartition(t)
	sender := part.Leader
	if sender == metadata.NoLeader || rapid.IntRange(0, 9).Draw(t, "other-sender") == 0 {
		sender = rapid.SampledFrom(propBrokerIDs).Draw(t, "sender")
	}
	// Mostly the leader and some of the other replicas; now and then any set of brokers.
	var isr []int32
	if rapid.IntRange(0, 9).Draw(t, "wild-isr") == 0 {
		isr = rapid.SliceOfNDistinct(rapid.SampledFrom(propBrokerIDs), 0, 4, rapid.ID[int32]).Draw(t, "isr")
	} else {
		isr = []int32{sender}
		for _, id := range rapid.Permutation(part.Replicas).Draw(t, "order") {
			if id != sender && rapid.Bool().Draw(t, "in-isr") {
				isr = append(isr, id)
			}
		}
	}
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = int16(rapid.IntRange(0, 3).Draw(t, "version"))
	req.BrokerID, req.BrokerEpoch = sender, m.epoch(sender)
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.Topic, rt.TopicID = topic.Name, topic.ID
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch = part.ID, part.LeaderEpoch, part.PartitionEpoch
	if rapid.IntRange(0, 9).Draw(t, "stale-epoch") == 0 {
		rp.PartitionEpoch--
	}
	if req.Version >= 1 && part.LeaderRecoveryState == leaderRecoveryRecovering && rapid.Bool().Draw(t, "still-recovering") {
		rp.LeaderRecoveryState = leaderRecoveryRecovering
	}
	for _, id := range isr {
		rp.NewISR = append(rp.NewISR, id)
		s := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
		s.BrokerID, s.BrokerEpoch = id, m.epoch(id)
		rp.NewEpochISR = append(rp.NewEpochISR, s)
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	before := m.h.img
	res := m.decide(t, func(c *Controller) Result { return c.AlterPartition(before, m.h.nowMs, req) })
	resp := res.Response.(*kmsg.AlterPartitionResponse)
	if resp.ErrorCode != 0 {
		if len(res.Records) != 0 {
			t.Fatalf("AlterPartition failed with %d and wrote records", resp.ErrorCode)
		}
		return
	}
	got := resp.Topics[0].Partitions[0]
	after, _ := m.h.img.Partition(topic.ID, part.ID)
	switch {
	case got.ErrorCode == errNone:
		if len(res.Records) > 1 || got.PartitionEpoch != after.PartitionEpoch || got.LeaderEpoch != after.LeaderEpoch || !slices.Equal(got.ISR, after.ISR) {
			t.Fatalf("AlterPartition answered %+v for %+v", got, after)
		}
		if !reassigning(part) && !slices.Equal(after.ISR, isr) {
			t.Fatalf("AlterPartition to %v accepted, ISR %v", isr, after.ISR)
		}
		for _, id := range isr {
			if b, ok := before.Broker(id); !ok || !isActive(before, id) || req.Version >= 3 && b.Epoch != m.epoch(id) {
				t.Fatalf("AlterPartition accepted ineligible broker %d in %v", id, isr)
			}
		}
	case got.ErrorCode == errNewLeaderElected || got.ErrorCode == errFencedLeaderEpoch && len(res.Records) == 1:
		if !reassigning(part) || reassigning(after) || after.Leader == sender {
			t.Fatalf("leader moved without completing a reassignment: %+v -> %+v", part, after)
		}
	default:
		if len(res.Records) != 0 {
			t.Fatalf("AlterPartition refused with %d and wrote records", got.ErrorCode)
		}
	}
}

func (m *lifecycleModel) elect(t *rapid.T) {
	req := kmsg.NewPtrElectLeadersRequest()
	req.Version = 2
	req.ElectionType = int8(rapid.IntRange(0, 1).Draw(t, "election-type"))
	if rapid.Bool().Draw(t, "named") {
		topic, part := m.pickPartition(t)
		rt := kmsg.NewElectLeadersRequestTopic()
		rt.Topic, rt.Partitions = topic.Name, []int32{part.ID}
		req.Topics = append(req.Topics, rt)
	}
	before := m.h.img
	res := m.decide(t, func(c *Controller) Result { return c.ElectLeaders(before, m.h.nowMs, req) })
	for _, r := range res.Records {
		pcr := r.(*metadata.PartitionChangeRecord)
		part, _ := before.Partition(pcr.TopicID, pcr.PartitionID)
		after, _ := m.h.img.Partition(pcr.TopicID, pcr.PartitionID)
		if req.ElectionType == electionTypeUnclean && part.Leader != metadata.NoLeader {
			t.Fatalf("unclean election for a partition with leader %d", part.Leader)
		}
		if req.ElectionType == electionTypePreferred && after.Leader != metadata.NoLeader && !slices.Contains(part.ISR, after.Leader) {
			t.Fatalf("preferred election elected %d outside ISR %v", after.Leader, part.ISR)
		}
	}
}

func (m *lifecycleModel) reassign(t *rapid.T) {
	topic, part := m.pickPartition(t)
	var target []int32
	if rapid.IntRange(0, 3).Draw(t, "cancel") != 0 {
		perm := rapid.Permutation(propBrokerIDs).Draw(t, "target")
		target = perm[:rapid.IntRange(1, 3).Draw(t, "target-rf")]
	}
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = topic.Name
	rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	rp.Partition, rp.Replicas = part.ID, target
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	before := m.h.img
	m.allowUncleanISR = target == nil && m.h.c.uncleanElectionEnabled(before, topic.Name)
	m.cancelling = target == nil
	res := m.decide(t, func(c *Controller) Result { return c.AlterPartitionReassignments(before, m.h.nowMs, req) })
	m.allowUncleanISR, m.cancelling = false, false
	code := res.Response.(*kmsg.AlterPartitionAssignmentsResponse).Topics[0].Partitions[0].ErrorCode
	if code != errNone && len(res.Records) != 0 {
		t.Fatalf("reassignment refused with %d and wrote records", code)
	}
	if target == nil {
		if code == errNone && !reassigning(part) {
			t.Fatal("cancelled a reassignment that was not running")
		}
		return
	}
	after, _ := m.h.img.Partition(topic.ID, part.ID)
	if code == errNone && !reassigning(after) && !slices.Equal(after.Replicas, target) {
		t.Fatalf("reassignment to %v done with replicas %v", target, after.Replicas)
	}
	// Listing agrees with the image.
	list := m.h.c.ListPartitionReassignments(m.h.img, m.h.nowMs, kmsg.NewPtrListPartitionReassignmentsRequest()).Response.(*kmsg.ListPartitionReassignmentsResponse)
	listed := 0
	for _, lt := range list.Topics {
		listed += len(lt.Partitions)
	}
	want := 0
	for _, tp := range m.h.img.Topics() {
		for _, p := range tp.Partitions() {
			if reassigning(p) {
				want++
			}
		}
	}
	if listed != want {
		t.Fatalf("listed %d reassignments, %d running", listed, want)
	}
}

// checkReplication asserts the replication invariants between the previous image's partitions
// (m.partitions) and the current ones, then remembers the current ones.
func (m *lifecycleModel) checkReplication(t *rapid.T) {
	img := m.h.img
	for _, topic := range img.Topics() {
		for _, p := range topic.Partitions() {
			key := fmt.Sprintf("%s-%d", topic.Name, p.ID)
			for _, set := range [][]int32{p.ISR, p.AddingReplicas, p.RemovingReplicas} {
				if !containsAll(p.Replicas, set) {
					t.Fatalf("%s: %v not within replicas %v", key, set, p.Replicas)
				}
			}
			if p.Leader != metadata.NoLeader && !slices.Contains(p.ISR, p.Leader) {
				t.Fatalf("%s leader %d not in ISR %v", key, p.Leader, p.ISR)
			}
			// A recovering partition's ISR is its leader alone; with eligible leader
			// replicas it empties when that leader is fenced.
			if p.LeaderRecoveryState == leaderRecoveryRecovering && len(p.ISR) != 1 && (len(p.ISR) != 0 || !img.ELREnabled()) {
				t.Fatalf("%s recovering with ISR %v", key, p.ISR)
			}
			prev, ok := m.partitions[key]
			if !ok {
				continue
			}
			changed := !slices.Equal(prev.Replicas, p.Replicas) || !slices.Equal(prev.ISR, p.ISR) || prev.Leader != p.Leader ||
				!slices.Equal(prev.AddingReplicas, p.AddingReplicas) || !slices.Equal(prev.RemovingReplicas, p.RemovingReplicas) ||
				prev.LeaderRecoveryState != p.LeaderRecoveryState
			switch {
			case p.PartitionEpoch < prev.PartitionEpoch || p.LeaderEpoch < prev.LeaderEpoch:
				t.Fatalf("%s epochs went back: %+v -> %+v", key, prev, p)
			case changed && p.PartitionEpoch == prev.PartitionEpoch:
				t.Fatalf("%s changed without a partition epoch bump: %+v -> %+v", key, prev, p)
			case prev.Leader != p.Leader && p.LeaderEpoch == prev.LeaderEpoch:
				t.Fatalf("%s leader changed without a leader epoch bump: %+v -> %+v", key, prev, p)
			}
		}
	}
	m.partitions = map[string]*metadata.Partition{}
	for _, topic := range img.Topics() {
		for _, p := range topic.Partitions() {
			m.partitions[fmt.Sprintf("%s-%d", topic.Name, p.ID)] = p
		}
	}
}

// checkISRAdditions replays records one by one from img and fails when a PartitionChangeRecord
// puts into an ISR a broker that is fenced or in controlled shutdown at that point. Exceptions,
// both Kafka's behaviour: a broker unfenced earlier in the same proposal may be elected even
// while its registration is still in controlled shutdown (handleBrokerUnfenced's brokerToAdd),
// and a reassignment cancelled on a topic that allows unclean elections may put its first
// original replica alone in the ISR whatever its state (allowUnclean).
//
// It also checks each record that ends a reassignment (checkReassignmentEnd); cancelling says
// the records are a cancellation's.
func checkISRAdditions(t *rapid.T, img *metadata.Image, records []metadata.Record, allowUnclean, cancelling bool) {
	unfenced := map[int32]bool{}
	for _, r := range records {
		if c, ok := r.(*metadata.BrokerRegistrationChangeRecord); ok && c.Fenced == metadata.FencingChangeUnfence {
			unfenced[c.BrokerID] = true
		}
		if pcr, ok := r.(*metadata.PartitionChangeRecord); ok && pcr.ISR != nil && !allowUnclean {
			part, _ := img.Partition(pcr.TopicID, pcr.PartitionID)
			for _, id := range pcr.ISR {
				if slices.Contains(part.ISR, id) || isActive(img, id) {
					continue
				}
				if b, ok := img.Broker(id); ok && !b.Fenced && unfenced[id] {
					continue
				}
				t.Fatalf("partition %d: broker %d, fenced or shutting down, added to ISR %v (was %v)", pcr.PartitionID, id, pcr.ISR, part.ISR)
			}
		}
		next, err := img.Apply([]metadata.Record{r})
		if err != nil {
			t.Fatalf("record does not replay: %v", err)
		}
		if pcr, ok := r.(*metadata.PartitionChangeRecord); ok {
			checkReassignmentEnd(t, img, next, pcr, cancelling)
		}
		img = next
	}
}

// checkReassignmentEnd: a record that ends a reassignment either cancels it (the replicas go
// back to those it was not adding) or completes it (maybe one the same record started, when a
// new target replaced the running one), which takes every replica it was adding and keeps into
// the ISR.
func checkReassignmentEnd(t *rapid.T, before, after *metadata.Image, pcr *metadata.PartitionChangeRecord, cancelling bool) {
	prev, _ := before.Partition(pcr.TopicID, pcr.PartitionID)
	next, _ := after.Partition(pcr.TopicID, pcr.PartitionID)
	if !reassigning(prev) || reassigning(next) {
		return
	}
	if cancelling {
		want := slices.DeleteFunc(slices.Clone(prev.Replicas), func(id int32) bool { return slices.Contains(prev.AddingReplicas, id) })
		if !slices.Equal(next.Replicas, want) {
			t.Fatalf("cancelled reassignment %+v left replicas %v, want %v", prev, next.Replicas, want)
		}
		return
	}
	for _, id := range prev.AddingReplicas {
		if slices.Contains(next.Replicas, id) && !slices.Contains(next.ISR, id) {
			t.Fatalf("reassignment %+v completed as %+v: replica %d it was adding not in the ISR", prev, next, id)
		}
	}
}
