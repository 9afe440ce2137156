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
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

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
	created := 0
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
		mt.IsInternal = slices.Contains(internalTopics, name)
		switch {
		case metadata.ValidateTopicName(name) != nil:
			mt.ErrorCode = errInvalidTopic
		case n.beingCreated(name):
			mt.ErrorCode = errLeaderNotAvailable
		case !autoCreate || mt.IsInternal:
			mt.ErrorCode = errUnknownTopicOrPartition
		case created >= n.cfg.TopicsCreateMax:
			mt.ErrorCode = errUnknownTopicOrPartition
		default:
			created++
			mt.ErrorCode = n.autoCreate(name)
		}
		resp.Topics = append(resp.Topics, mt)
	}
	n.finish(cs, s, resp, nil)
}

// beingCreated reports whether name is in the latest image but not yet committed.
func (n *Node) beingCreated(name string) bool {
	_, ok := n.meta.Latest().TopicByName(name)
	return ok
}

// autoCreate creates name with the broker defaults, as Kafka's AutoTopicCreationManager,
// returning the code the Metadata answer carries for it.
func (n *Node) autoCreate(name string) int16 {
	nt, terr := n.planTopic(n.meta.Latest(), name, -1, -1, nil, nil)
	if terr == nil {
		_, _, terr = n.commitTopic(nt)
	}
	if terr != nil {
		if terr.code == errTopicAlreadyExists {
			return errLeaderNotAvailable
		}
		return terr.code
	}
	return errLeaderNotAvailable
}

func (n *Node) metadataTopic(img *metadata.Image, t *metadata.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = strp(t.Name)
	mt.TopicID = t.ID
	mt.IsInternal = slices.Contains(internalTopics, t.Name)
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
