package client_test

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/core/client"
)

// createTopicsResponse answers a CreateTopics request for one topic.
func createTopicsResponse(req *kmsg.CreateTopicsRequest, code int16) *kmsg.CreateTopicsResponse {
	resp := kmsg.NewPtrCreateTopicsResponse()
	t := kmsg.NewCreateTopicsResponseTopic()
	t.Topic = req.Topics[0].Topic
	t.ErrorCode = code
	t.TopicID = topicID
	resp.Topics = append(resp.Topics, t)
	return resp
}

// TestCreateTopic: the request carries the spec and goes to the controller; NOT_CONTROLLER is
// retried after a metadata refresh; TOPIC_ALREADY_EXISTS ends the operation with its name.
func TestCreateTopic(t *testing.T) {
	cfg := testConfig("seed:9092")
	s := newScript(t, cfg)
	id, r := s.c.CreateTopic(client.TopicSpec{Name: "orders", Partitions: 3, ReplicationFactor: 1,
		Configs: []client.TopicConfig{{Name: "cleanup.policy", Value: "compact"}}}, s.nowNs)
	s.take(r)
	seed := s.connect("seed:9092")
	s.handshake(seed, brokerVersions())
	// No metadata yet: any broker will do.
	req := s.next(seed, 19)
	body := req.Body.(*kmsg.CreateTopicsRequest)
	if got := body.Topics[0]; got.Topic != "orders" || got.NumPartitions != 3 || got.ReplicationFactor != 1 ||
		len(got.Configs) != 1 || got.Configs[0].Name != "cleanup.policy" || *got.Configs[0].Value != "compact" {
		t.Fatalf("create topics request %+v", got)
	}
	s.answer(seed, req, createTopicsResponse(body, 41)) // NOT_CONTROLLER
	if len(s.admin) != 0 {
		t.Fatalf("NOT_CONTROLLER ended the operation: %+v", s.admin)
	}
	s.advance(cfg.RetryBackoffNs * 2)
	md := s.next(seed, 3)
	s.answer(seed, md, metadataResponse(map[int32]string{2: "b2:9092"}, "", [16]byte{}))
	s.advance(cfg.RetryBackoffNs * 2)
	controller := s.connect("b2:9092")
	s.handshake(controller, brokerVersions())
	req = s.next(controller, 19)
	s.answer(controller, req, createTopicsResponse(req.Body.(*kmsg.CreateTopicsRequest), 0))
	if len(s.admin) != 1 || s.admin[0].ID != id || s.admin[0].ErrorCode != 0 || s.admin[0].TopicID != topicID || s.admin[0].Kind != client.AdminCreateTopic {
		t.Fatalf("create: %+v", s.admin)
	}

	_, r = s.c.CreateTopic(client.TopicSpec{Name: "orders", Partitions: 3, ReplicationFactor: 1}, s.nowNs)
	s.take(r)
	req = s.next(controller, 19)
	s.answer(controller, req, createTopicsResponse(req.Body.(*kmsg.CreateTopicsRequest), 36))
	if got := s.admin[1]; got.ErrorCode != 36 || got.Err != "TOPIC_ALREADY_EXISTS" {
		t.Fatalf("second create: %+v", got)
	}
	if s.c.Pending() != 0 {
		t.Fatalf("%d pending", s.c.Pending())
	}
}

// TestRequestTimeoutClosesConnection: a request unanswered for the request timeout closes its
// connection, as Kafka's NetworkClient does; the produce on it may have been appended, so
// giving up on it later is an unknown outcome.
func TestRequestTimeoutClosesConnection(t *testing.T) {
	cfg := testConfig("b0:9092")
	cfg.Idempotent = false
	cfg.Acks = client.AcksLeader
	cfg.DeliveryTimeoutNs = cfg.RequestTimeoutNs
	s := newScript(t, cfg)
	op := s.produce("t", 0, "v")
	s.bootstrapped("b0:9092", metadataResponse(map[int32]string{0: "b0:9092"}, "t", topicID, partitionLeader{0, 0, 1}))
	leader := s.connect("b0:9092")
	s.handshake(leader, brokerVersions())
	s.next(leader, 0)
	s.advance(cfg.RequestTimeoutNs)
	if len(s.closes) == 0 || s.closes[0] != leader {
		t.Fatalf("closes %v, want the leader's connection %d", s.closes, leader)
	}
	got := s.op(op)
	if got.Outcome != check.OutcomeUnknown || !strings.Contains(got.Err, "Produce request timed out") {
		t.Fatalf("produce: %v %q", got.Outcome, got.Err)
	}
}

// TestRefusedAtOnce: operations that cannot be sent fail at once, without a request.
func TestRefusedAtOnce(t *testing.T) {
	cfg := testConfig("b0:9092")
	cfg.PendingOpsMax = 1
	cfg.BatchBytesMax = 200
	s := newScript(t, cfg)
	bad := s.produce("bad topic!", 0, "v")
	empty := s.produce("t", 0)
	big := s.produce("t", 0, strings.Repeat("x", 300))
	kept := s.produce("t", 0, "v")
	over := s.produce("t", 0, "w")
	for _, c := range []struct {
		id   client.OpID
		want string
	}{{bad, "INVALID_TOPIC_EXCEPTION"}, {empty, "INVALID_RECORD"}, {big, "MESSAGE_TOO_LARGE"}, {over, "client: 1 operations pending"}} {
		if got := s.op(c.id); got.Outcome != check.OutcomeFailed || !strings.HasPrefix(got.Err, c.want) {
			t.Errorf("op %d: %v %q, want failed %s", c.id, got.Outcome, got.Err, c.want)
		}
	}
	s.notDone(kept)
	if s.c.Pending() != 1 {
		t.Fatalf("%d pending, want 1", s.c.Pending())
	}
}

// TestElectLeadersAndReassign: both go to a broker (forwarded to the controller in KRaft),
// carry the partitions asked for, and end with each partition's error code.
func TestElectLeadersAndReassign(t *testing.T) {
	s := newScript(t, testConfig("seed:9092"))
	id, r := s.c.ElectLeaders("orders", []int32{0, 2}, client.ElectPreferred, s.nowNs)
	s.take(r)
	seed := s.connect("seed:9092")
	s.handshake(seed, brokerVersions())
	req := s.next(seed, 43)
	ereq := req.Body.(*kmsg.ElectLeadersRequest)
	if ereq.ElectionType != client.ElectPreferred || len(ereq.Topics) != 1 || ereq.Topics[0].Topic != "orders" || len(ereq.Topics[0].Partitions) != 2 {
		t.Fatalf("elect leaders request %+v", ereq)
	}
	eresp := kmsg.NewPtrElectLeadersResponse()
	et := kmsg.NewElectLeadersResponseTopic()
	et.Topic = "orders"
	for _, p := range []struct {
		id   int32
		code int16
	}{{0, 0}, {2, 84}} { // 84: ELECTION_NOT_NEEDED
		rp := kmsg.NewElectLeadersResponseTopicPartition()
		rp.Partition, rp.ErrorCode = p.id, p.code
		et.Partitions = append(et.Partitions, rp)
	}
	eresp.Topics = append(eresp.Topics, et)
	s.answer(seed, req, eresp)
	got := s.admin[len(s.admin)-1]
	if got.ID != id || got.Kind != client.AdminElectLeaders || got.ErrorCode != 0 ||
		len(got.PartitionErrors) != 2 || got.PartitionErrors[1] != (client.PartitionError{Partition: 2, ErrorCode: 84}) {
		t.Fatalf("elect leaders result %+v", got)
	}

	id, r = s.c.Reassign("orders", []int32{1}, [][]int32{{3, 1, 2}}, s.nowNs)
	s.take(r)
	req = s.next(seed, 45)
	rreq := req.Body.(*kmsg.AlterPartitionAssignmentsRequest)
	if p := rreq.Topics[0].Partitions[0]; rreq.Topics[0].Topic != "orders" || p.Partition != 1 || len(p.Replicas) != 3 || p.Replicas[0] != 3 {
		t.Fatalf("reassignment request %+v", rreq)
	}
	rresp := kmsg.NewPtrAlterPartitionAssignmentsResponse()
	rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
	rt.Topic = "orders"
	rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
	rp.Partition = 1
	rt.Partitions = append(rt.Partitions, rp)
	rresp.Topics = append(rresp.Topics, rt)
	s.answer(seed, req, rresp)
	got = s.admin[len(s.admin)-1]
	if got.ID != id || got.Kind != client.AdminReassign || got.ErrorCode != 0 || len(got.PartitionErrors) != 1 || got.PartitionErrors[0].ErrorCode != 0 {
		t.Fatalf("reassignment result %+v", got)
	}
}
