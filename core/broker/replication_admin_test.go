package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/controller"
)

// The replication admin requests (ElectLeaders, AlterPartitionReassignments,
// ListPartitionReassignments) are advertised and forwarded to the active controller, which
// decides them; the broker relays its answer, or REQUEST_TIMED_OUT when none comes in time.

func TestReplicationAdminAdvertised(t *testing.T) {
	h := newHarness(t, nil)
	for _, key := range []kmsg.Key{kmsg.ElectLeaders, kmsg.AlterPartitionAssignments, kmsg.ListPartitionReassignments} {
		if _, ok := h.cfg.Versions.Lookup(key.Int16()); !ok {
			t.Fatalf("%s not served", kmsg.NameForKey(key.Int16()))
		}
	}
}

// createTopicT creates topic "t" with one partition on broker 1 and takes the output.
func createTopicT(t *testing.T, h *harness) {
	t.Helper()
	h.syncAll()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 1000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "t", 1, 1
	req.Topics = append(req.Topics, rt)
	h.request(1, 7, req)
	h.syncAll()
	if got := h.take(); !containsAll(got, "topic t err=NONE") {
		t.Fatalf("create: %s", got)
	}
}

func TestElectLeadersForwarded(t *testing.T) {
	h := newHarness(t, nil)
	createTopicT(t, h)
	for _, electionType := range []int8{0, 1} {
		req := kmsg.NewPtrElectLeadersRequest()
		req.ElectionType, req.TimeoutMillis = electionType, 1000
		for _, name := range []string{"t", "nope"} {
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic, rt.Partitions = name, []int32{0}
			req.Topics = append(req.Topics, rt)
		}
		h.request(1, 2, req)
		h.syncAll()
		got := h.take()
		if !containsAll(got, "ElectLeaders v2: err=NONE", "t/0 err=ELECTION_NOT_NEEDED", "nope/0 err=UNKNOWN_TOPIC_OR_PARTITION") {
			t.Fatalf("election type %d:\n%s", electionType, got)
		}
	}
}

func TestPartitionReassignmentsForwarded(t *testing.T) {
	h := newHarness(t, nil)
	createTopicT(t, h)
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.TimeoutMillis = 1000
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = "t"
	for _, target := range [][]int32{{1}, {1, 2}, nil} {
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Replicas = target
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	h.request(1, 0, req)
	h.syncAll()
	got := h.take()
	if !containsAll(got, "AlterPartitionAssignments v0: err=NONE", "t/0 err=NONE",
		`t/0 err=INVALID_REPLICA_ASSIGNMENT msg="The manual partition assignment includes broker 2, but no such broker is registered."`,
		"t/0 err=NO_REASSIGNMENT_IN_PROGRESS") {
		t.Fatalf("reassign:\n%s", got)
	}
	list := kmsg.NewPtrListPartitionReassignmentsRequest()
	list.TimeoutMillis = 1000
	h.request(1, 0, list)
	h.syncAll()
	if got := h.take(); !containsAll(got, "ListPartitionReassignments v0: err=NONE") || containsAll(got, "replicas=") {
		t.Fatalf("list:\n%s", got)
	}
}

// TestReplicationAdminTimeout: with the controller not answering, each request is answered
// REQUEST_TIMED_OUT once its TimeoutMillis passed.
func TestReplicationAdminTimeout(t *testing.T) {
	h := newHarness(t, nil)
	createTopicT(t, h)
	h.holdController = true
	elect := kmsg.NewPtrElectLeadersRequest()
	elect.TimeoutMillis = 500
	et := kmsg.NewElectLeadersRequestTopic()
	et.Topic, et.Partitions = "t", []int32{0}
	elect.Topics = append(elect.Topics, et)
	h.request(1, 1, elect)
	reassign := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	reassign.TimeoutMillis = 500
	h.request(1, 0, reassign)
	list := kmsg.NewPtrListPartitionReassignmentsRequest()
	list.TimeoutMillis = 500
	h.request(1, 0, list)
	if got := h.take(); containsAll(got, "ElectLeaders v1") {
		t.Fatalf("answered before the timeout:\n%s", got)
	}
	h.advanceQuiet(501)
	got := h.take()
	if !containsAll(got, "ElectLeaders v1: err=REQUEST_TIMED_OUT", "t/0 err=REQUEST_TIMED_OUT",
		"AlterPartitionAssignments v0: err=REQUEST_TIMED_OUT", "ListPartitionReassignments v0: err=REQUEST_TIMED_OUT") {
		t.Fatalf("after the timeout:\n%s", got)
	}
}

// TestReplicationAdminNotController: the controller's NOT_CONTROLLER answer to each is seen
// as such, so the broker retries against the new controller instead of relaying it; ElectLeaders
// v0 carries it only in its partitions.
func TestReplicationAdminNotController(t *testing.T) {
	elect := kmsg.NewPtrElectLeadersRequest()
	et := kmsg.NewElectLeadersRequestTopic()
	et.Topic, et.Partitions = "t", []int32{0}
	elect.Topics = append(elect.Topics, et)
	for _, req := range []kmsg.Request{elect, kmsg.NewPtrAlterPartitionAssignmentsRequest(), kmsg.NewPtrListPartitionReassignmentsRequest()} {
		resp := controller.ErrorResponse(req, errNotControllerCode)
		if !notController(resp) {
			t.Fatalf("%T: NOT_CONTROLLER not seen", resp)
		}
		if notController(controller.ErrorResponse(req, errRequestTimedOut)) {
			t.Fatalf("%T: REQUEST_TIMED_OUT seen as NOT_CONTROLLER", resp)
		}
	}
	v0 := controller.ErrorResponse(elect, errNotControllerCode).(*kmsg.ElectLeadersResponse)
	v0.ErrorCode = 0 // not on the wire at v0
	if !notController(v0) {
		t.Fatal("ElectLeaders v0: NOT_CONTROLLER in the partitions not seen")
	}
}
