package broker

// AlterConfigs, versions 0-2.
//
// Behaviour: the legacy, non-incremental form, decided by controller.AlterConfigs: the configs
// given become the resource's whole set (TOPIC overrides, or a BROKER resource's dynamic
// configs), committed as IncrementalAlterConfigs is.
//
// Left out: BROKER_LOGGER resources (INVALID_REQUEST), AlterConfigPolicy.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleAlterConfigs(cs *conn, s *slot, req *kmsg.AlterConfigsRequest) {
	n.forwardAdmin(cs, s, req, n.adminTimeoutMs(0), nil)
}
