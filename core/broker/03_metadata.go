package broker

// Metadata, versions 0-12.
//
// Behaviour: brokers from the committed metadata image (unfenced ones, with their first
// endpoint), the cluster id of the log directories and this node as controller id (clients
// need some live node there; there is no separate controller yet). Topics come from the
// committed image with their ids (v10+) and partitions: leader, leader epoch, replicas and
// ISR as the image states them. All topics when Topics is null (v1+) or empty (v0).
//
// A requested topic that does not exist is auto-created, as Kafka does, when the request
// allows it (v4+ AllowAutoTopicCreation; always below v4) and auto.create.topics.enable is
// set: with num.partitions and default.replication.factor, answered LEADER_NOT_AVAILABLE
// (a retriable error: the client asks again once the metadata log committed it). A topic
// being created answers the same. A bad name is INVALID_TOPIC_EXCEPTION; a topic requested by
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
	img := n.meta.Committed()
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
	resp.ControllerID = n.cfg.Broker.NodeID

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

// beingCreated reports whether name is in the latest image but not yet committed.
func (n *Node) beingCreated(name string) bool {
	_, ok := n.meta.Latest().TopicByName(name)
	return ok
}

// autoCreate creates names with the broker defaults, as Kafka's AutoTopicCreationManager asks
// the controller, and returns the code the Metadata answer carries for each: a topic created
// (or that exists by now) is LEADER_NOT_AVAILABLE, retriable until it has committed.
func (n *Node) autoCreate(names []string) []int16 {
	if len(names) == 0 {
		return nil
	}
	res := n.ctl.CreateTopics(n.meta.Latest(), n.now.WallMs, controller.AutoCreateRequest(names))
	appendCode := errNone
	if len(res.Records) > 0 {
		_, appendCode, _ = n.proposeRecords(res.Records)
		if appendCode == errRequestTimedOut {
			appendCode = errLeaderNotAvailable // the metadata log is busy: retriable
		}
	}
	topics := res.Response.(*kmsg.CreateTopicsResponse).Topics
	if len(topics) != len(names) {
		panic(fmt.Sprintf("broker: invariant: %d answers to the auto-creation of %d distinct topics", len(topics), len(names)))
	}
	out := make([]int16, len(names))
	for i, t := range topics {
		code := t.ErrorCode
		switch {
		case code == errNone && appendCode != errNone:
			code = appendCode
		case code == errNone || code == errTopicAlreadyExists:
			code = errLeaderNotAvailable
		}
		out[i] = code
	}
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
