package broker

// AlterPartitionReassignments, version 0 (kmsg's AlterPartitionAssignments).
//
// Behaviour: forwarded to the active controller, which decides (controller.
// AlterPartitionReassignments: starting, replacing and cancelling reassignments, KIP-455) and
// answers once the records are committed. TimeoutMillis bounds the wait (REQUEST_TIMED_OUT
// after it; the changes still commit).
//
// Left out: authorization (ALTER on the cluster); version 1 (KIP-860's
// AllowReplicationFactorChange).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleAlterPartitionReassignments(cs *conn, s *slot, req *kmsg.AlterPartitionAssignmentsRequest) {
	n.forwardAdmin(cs, s, req, n.adminTimeoutMs(req.TimeoutMillis), nil)
}
