package broker

// ElectLeaders, versions 0-2.
//
// Behaviour: forwarded to the active controller, which decides (controller.ElectLeaders:
// preferred and unclean elections, Kafka's errors per partition) and answers once the
// elections are committed; the brokers learn the new leaders from the metadata log.
// TimeoutMillis bounds the wait (REQUEST_TIMED_OUT after it; the elections still commit).
//
// Left out: authorization (ALTER on the cluster).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleElectLeaders(cs *conn, s *slot, req *kmsg.ElectLeadersRequest) {
	n.forwardAdmin(cs, s, req, n.adminTimeoutMs(req.TimeoutMillis), nil)
}
