package broker

// ListPartitionReassignments, version 0.
//
// Behaviour: forwarded to the active controller, as Kafka's brokers do in KRaft mode: it
// answers from its latest image once that is committed (controller.ListPartitionReassignments),
// so a reassignment just started is listed. TimeoutMillis bounds the wait.
//
// Left out: authorization (DESCRIBE on the cluster).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleListPartitionReassignments(cs *conn, s *slot, req *kmsg.ListPartitionReassignmentsRequest) {
	n.forwardAdmin(cs, s, req, n.adminTimeoutMs(req.TimeoutMillis), nil)
}
