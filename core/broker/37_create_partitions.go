package broker

// CreatePartitions, versions 0-3.
//
// Behaviour: the controller decides (controller.CreatePartitions: counts, assignments,
// placement). The PartitionRecords are appended as one proposal, the new logs are created once
// they are durable, and the answer waits for that up to TimeoutMillis (REQUEST_TIMED_OUT
// after; the partitions still commit).
//
// Left out: throttling quotas, CreateTopicPolicy.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleCreatePartitions(cs *conn, s *slot, req *kmsg.CreatePartitionsRequest) {
	n.forwardAdmin(cs, s, req, n.adminTimeoutMs(req.TimeoutMillis), nil)
}
