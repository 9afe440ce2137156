package broker

// DescribeCluster, versions 0-1.
//
// Behaviour: the unfenced brokers of the committed metadata image with their first endpoint
// and rack, the cluster id, and as controller id a live broker (as Metadata answers: clients
// cannot reach the controllers, brokers forward to the active one). v1 asks for broker
// endpoints (EndpointType 1); controller endpoints (2) are UNSUPPORTED_ENDPOINT_TYPE, as a
// Kafka broker answers them.
//
// Left out: authorized operations (Kafka's "not requested" value).

import "github.com/twmb/franz-go/pkg/kmsg"

const (
	errUnsupportedEndpointType int16 = 115
	endpointTypeBrokers        int8  = 1
)

func (n *Node) handleDescribeCluster(cs *conn, s *slot, req *kmsg.DescribeClusterRequest) {
	resp := kmsg.NewPtrDescribeClusterResponse()
	resp.EndpointType = endpointTypeBrokers
	if req.Version >= 1 && req.EndpointType != endpointTypeBrokers {
		resp.EndpointType = req.EndpointType
		resp.ErrorCode = errUnsupportedEndpointType
		resp.ErrorMessage = strp("Only brokers are described by a broker")
		n.finish(cs, s, resp, nil)
		return
	}
	resp.ClusterID = n.logs.ClusterID()
	resp.ControllerID = n.clientControllerID(n.img)
	for _, b := range n.img.Brokers() {
		if b.Fenced || len(b.EndPoints) == 0 {
			continue
		}
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.Rack = b.ID, b.EndPoints[0].Host, int32(b.EndPoints[0].Port), b.Rack
		resp.Brokers = append(resp.Brokers, rb)
	}
	n.finish(cs, s, resp, nil)
}
