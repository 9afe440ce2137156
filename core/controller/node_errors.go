package controller

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrorResponse answers req with code everywhere Kafka puts a command's error: at the top
// level, or for each topic or resource the request names.
func ErrorResponse(req kmsg.Request, code int16) kmsg.Response {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	switch r := resp.(type) {
	case *kmsg.BrokerRegistrationResponse:
		r.ErrorCode = code
	case *kmsg.BrokerHeartbeatResponse:
		r.ErrorCode = code
		r.IsFenced = true
	case *kmsg.AllocateProducerIDsResponse:
		r.ErrorCode = code
	case *kmsg.UnregisterBrokerResponse:
		r.ErrorCode = code
	case *kmsg.CreateTopicsResponse:
		for _, t := range req.(*kmsg.CreateTopicsRequest).Topics {
			rt := kmsg.NewCreateTopicsResponseTopic()
			rt.Topic, rt.ErrorCode = t.Topic, code
			r.Topics = append(r.Topics, rt)
		}
	case *kmsg.DeleteTopicsResponse:
		q := req.(*kmsg.DeleteTopicsRequest)
		for _, name := range q.TopicNames {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			rt.Topic, rt.ErrorCode = kmsg.StringPtr(name), code
			r.Topics = append(r.Topics, rt)
		}
		for _, t := range q.Topics {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			rt.Topic, rt.TopicID, rt.ErrorCode = t.Topic, t.TopicID, code
			r.Topics = append(r.Topics, rt)
		}
	case *kmsg.CreatePartitionsResponse:
		for _, t := range req.(*kmsg.CreatePartitionsRequest).Topics {
			rt := kmsg.NewCreatePartitionsResponseTopic()
			rt.Topic, rt.ErrorCode = t.Topic, code
			r.Topics = append(r.Topics, rt)
		}
	case *kmsg.IncrementalAlterConfigsResponse:
		for _, c := range req.(*kmsg.IncrementalAlterConfigsRequest).Resources {
			rc := kmsg.NewIncrementalAlterConfigsResponseResource()
			rc.ResourceType, rc.ResourceName, rc.ErrorCode = c.ResourceType, c.ResourceName, code
			r.Resources = append(r.Resources, rc)
		}
	case *kmsg.AlterConfigsResponse:
		for _, c := range req.(*kmsg.AlterConfigsRequest).Resources {
			rc := kmsg.NewAlterConfigsResponseResource()
			rc.ResourceType, rc.ResourceName, rc.ErrorCode = c.ResourceType, c.ResourceName, code
			r.Resources = append(r.Resources, rc)
		}
	case *kmsg.AlterPartitionResponse:
		r.ErrorCode = code
	case *kmsg.ElectLeadersResponse:
		return electLeadersError(req.(*kmsg.ElectLeadersRequest), code, "")
	case *kmsg.AlterPartitionAssignmentsResponse:
		r.ErrorCode = code
	case *kmsg.ListPartitionReassignmentsResponse:
		r.ErrorCode = code
	default:
		panic(fmt.Sprintf("controller: invariant: errorResponse for %T, not a controller command", req))
	}
	return resp
}
