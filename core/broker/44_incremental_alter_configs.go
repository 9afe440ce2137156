package broker

// IncrementalAlterConfigs, versions 0-1.
//
// Behaviour: controller.IncrementalAlterConfigs decides (TOPIC resources, and BROKER resources
// for the broker keys Weir changes at runtime). The ConfigRecords are appended as one
// proposal; once durable the logs of the topics concerned (every topic, for a dynamic broker
// config of this node or the cluster) take the new config (log.SetConfig) and the answer goes
// out (within cfg.MetadataWaitMs, else REQUEST_TIMED_OUT).
//
// Left out: BROKER_LOGGER resources (INVALID_REQUEST), AlterConfigPolicy.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleIncrementalAlterConfigs(cs *conn, s *slot, req *kmsg.IncrementalAlterConfigsRequest) {
	n.forwardAdmin(cs, s, req, n.adminTimeoutMs(0), nil)
}
