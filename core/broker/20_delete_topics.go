package broker

// DeleteTopics, versions 1-6.
//
// Behaviour: the controller decides (controller.DeleteTopics: by name v0-5, by name or id v6;
// unknown, duplicate and internal topics). The removals are appended as one proposal; once it
// is durable the topics' logs are deleted (renamed away at once, files removed by the driver
// as FileOps) and the answer goes out. TimeoutMillis bounds the wait (REQUEST_TIMED_OUT after
// it; the deletion still commits).
//
// Left out: delete.topic.enable (always on, Kafka's default).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleDeleteTopics(cs *conn, s *slot, req *kmsg.DeleteTopicsRequest) {
	n.forwardAdmin(cs, s, req, n.adminTimeoutMs(req.TimeoutMillis), nil)
}
