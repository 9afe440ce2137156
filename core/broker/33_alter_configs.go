package broker

// AlterConfigs, versions 0-2.
//
// Behaviour: the legacy, non-incremental form: the configs given become the topic's whole
// set of overrides (keys not listed revert to their defaults), checked and committed as
// IncrementalAlterConfigs does. A null value or a key twice is INVALID_REQUEST.
//
// Left out: BROKER and BROKER_LOGGER resources (INVALID_REQUEST), AlterConfigPolicy.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/record"
)

func (n *Node) handleAlterConfigs(cs *conn, s *slot, req *kmsg.AlterConfigsRequest) {
	resp := kmsg.NewPtrAlterConfigsResponse()
	var upTo record.Offset
	var changed []int
	for _, rr := range req.Resources {
		out := kmsg.NewAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		offset, appended, terr := n.alterTopicConfigs(rr.ResourceType, rr.ResourceName, req.ValidateOnly, func(overrides map[string]string) *topicError {
			clear(overrides)
			for _, c := range rr.Configs {
				if _, dup := overrides[c.Name]; dup {
					return &topicError{errInvalidRequest, "Error due to duplicate config keys"}
				}
				if c.Value == nil {
					return &topicError{errInvalidRequest, "Null value not supported for : " + c.Name}
				}
				overrides[c.Name] = *c.Value
			}
			return nil
		})
		if terr != nil {
			out.ErrorCode, out.ErrorMessage = terr.code, strp(terr.msg)
		}
		if appended {
			upTo = max(upTo, offset)
			changed = append(changed, len(resp.Resources))
		}
		resp.Resources = append(resp.Resources, out)
	}
	n.answerWhenCommitted(cs, s, resp, len(changed) > 0, upTo, n.cfg.MetadataWaitMs, func() {
		for _, i := range changed {
			r := &resp.Resources[i]
			r.ErrorCode, r.ErrorMessage = errRequestTimedOut, strp("Timed out waiting for the config change to be durable.")
		}
	})
}
