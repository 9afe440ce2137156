package broker

// Metadata, versions 0-12.
//
// Behaviour: brokers from the committed metadata image (unfenced ones, with their first
// endpoint), the cluster id of the log directories and, as controller id, a live broker:
// clients cannot reach the controllers, and brokers forward what is sent to "the controller"
// (Kafka's KRaft brokers answer a random alive broker; this one answers itself while it is
// alive, else the lowest live broker). Topics come from the
// committed image with their ids (v10+) and partitions: leader, leader epoch, replicas and
// ISR as the image states them. All topics when Topics is null (v1+) or empty (v0).
//
// A requested topic that does not exist is auto-created, as Kafka does, when the request
// allows it (v4+ AllowAutoTopicCreation; always below v4) and auto.create.topics.enable is
// set: the request goes to the controller (num.partitions and default.replication.factor) and
// the topic is answered LEADER_NOT_AVAILABLE (a retriable error: the client asks again once
// this broker has applied the topic). A topic being created answers the same. A bad name is INVALID_TOPIC_EXCEPTION; a topic requested by
// id (v10+) that does not exist is UNKNOWN_TOPIC_ID.
//
// Left out: authorized operations (left at Kafka's "not requested" value), racks, offline
// replicas (a single node has none), internal topics' auto-creation (groups come later).

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/uuid"
)

func (n *Node) handleMetadata(cs *conn, s *slot, req *kmsg.MetadataRequest) {
	img := n.img
	resp := kmsg.NewPtrMetadataResponse()
	for _, b := range img.Brokers() {
		if b.Fenced || len(b.EndPoints) == 0 {
			continue
		}
		rb := kmsg.NewMetadataResponseBroker()
		rb.NodeID = b.ID
		rb.Host = b.EndPoints[0].Host
		rb.Port = int32(b.EndPoints[0].Port)
		rb.Rack = b.Rack
		resp.Brokers = append(resp.Brokers, rb)
	}
	resp.ClusterID = strp(n.logs.ClusterID())
	resp.ControllerID = n.clientControllerID(img)

	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		for _, t := range img.Topics() {
			resp.Topics = append(resp.Topics, n.metadataTopic(img, t))
		}
		n.finish(cs, s, resp, nil)
		return
	}
	autoCreate := n.cfg.Broker.AutoCreateTopicsEnable && (req.Version < 4 || req.AllowAutoTopicCreation)
	var creating []string // names to auto-create, answered at indexes creatingAt
	var creatingAt []int
	creatingSet := make(map[string]bool)
	for _, rt := range req.Topics {
		if rt.Topic == nil || *rt.Topic == "" {
			id := uuid.UUID(rt.TopicID)
			if t, ok := img.TopicByID(id); ok && id != uuid.Zero {
				resp.Topics = append(resp.Topics, n.metadataTopic(img, t))
				continue
			}
			mt := kmsg.NewMetadataResponseTopic()
			mt.TopicID = rt.TopicID
			mt.ErrorCode = errUnknownTopicID
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		name := *rt.Topic
		if t, ok := img.TopicByName(name); ok {
			resp.Topics = append(resp.Topics, n.metadataTopic(img, t))
			continue
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic = strp(name)
		mt.IsInternal = slices.Contains(controller.InternalTopics, name)
		switch {
		case metadata.ValidateTopicName(name) != nil:
			mt.ErrorCode = errInvalidTopic
		case n.beingCreated(name):
			mt.ErrorCode = errLeaderNotAvailable
		case !autoCreate || mt.IsInternal:
			mt.ErrorCode = errUnknownTopicOrPartition
		case len(creating) >= n.cfg.TopicsCreateMax:
			mt.ErrorCode = errUnknownTopicOrPartition
		case creatingSet[name]:
			mt.ErrorCode = errLeaderNotAvailable // asked twice in one request
		default:
			creatingSet[name] = true
			creating = append(creating, name)
			creatingAt = append(creatingAt, len(resp.Topics))
		}
		resp.Topics = append(resp.Topics, mt)
	}
	for i, code := range n.autoCreate(creating) {
		resp.Topics[creatingAt[i]].ErrorCode = code
	}
	n.finish(cs, s, resp, nil)
}

// beingCreated reports whether an auto-creation of name was sent to the controller and not
// yet answered.
func (n *Node) beingCreated(name string) bool { return n.autoCreating[name] }

// autoCreate asks the controller to create names with the broker defaults, as Kafka's
// AutoTopicCreationManager does, without waiting for the answer; the Metadata answer carries
// LEADER_NOT_AVAILABLE for each (retriable: the client asks again, and finds the topic once
// this broker has applied its records, or asks to create it again if it was refused).
func (n *Node) autoCreate(names []string) []int16 {
	if len(names) == 0 {
		return nil
	}
	out := make([]int16, len(names))
	for i, name := range names {
		n.autoCreating[name] = true
		out[i] = errLeaderNotAvailable
	}
	n.forwardAdmin(nil, nil, controller.AutoCreateRequest(names), int64(n.cfg.MetadataWaitMs), func(r kmsg.Response) {
		for _, name := range names {
			delete(n.autoCreating, name)
		}
		for _, t := range r.(*kmsg.CreateTopicsResponse).Topics {
			if t.ErrorCode != errNone && t.ErrorCode != errTopicAlreadyExists && t.ErrorCode != errRequestTimedOut {
				n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: auto-creating topic %s: %s", t.Topic, codeName(t.ErrorCode)))
			}
		}
	})
	return out
}

func (n *Node) metadataTopic(img *metadata.Image, t *metadata.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = strp(t.Name)
	mt.TopicID = t.ID
	mt.IsInternal = slices.Contains(controller.InternalTopics, t.Name)
	for _, p := range t.Partitions() {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.ID
		mp.Leader = p.Leader
		mp.LeaderEpoch = p.LeaderEpoch
		mp.Replicas = slices.Clone(p.Replicas)
		mp.ISR = slices.Clone(p.ISR)
		if b, ok := img.Broker(p.Leader); !ok || b.Fenced {
			mp.ErrorCode = errLeaderNotAvailable
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

// clientControllerID is the controller id Metadata and DescribeCluster tell clients: a live
// broker, which forwards admin requests to the active controller.
func (n *Node) clientControllerID(img *metadata.Image) int32 {
	if b, ok := img.Broker(n.cfg.Broker.NodeID); ok && !b.Fenced {
		return n.cfg.Broker.NodeID
	}
	for _, b := range img.Brokers() {
		if !b.Fenced {
			return b.ID
		}
	}
	return -1
}
