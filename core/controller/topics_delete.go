package controller

// DeleteTopics, as Kafka's ReplicationControlManager.deleteTopics decides it.
//
// Topics are named (v0-5) or named or by id (v6+). An unknown name is
// UNKNOWN_TOPIC_OR_PARTITION, an unknown id UNKNOWN_TOPIC_ID; a name and an id together,
// neither, a topic twice (by name or id) or an internal topic is INVALID_REQUEST. Each deleted
// topic is one RemoveTopicRecord (its partitions and configs go with it on replay); the records
// of every deleted topic form one Result.
//
// Left out: delete.topic.enable (always on, Kafka's default), controller mutation quotas.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/uuid"
)

// DeleteTopics decides a DeleteTopics request on img, the latest image.
func (c *Controller) DeleteTopics(img *metadata.Image, nowMs int64, req *kmsg.DeleteTopicsRequest) Result {
	resp := kmsg.NewPtrDeleteTopicsResponse()
	resp.Version = req.Version
	requests := req.Topics
	if req.Version < 6 {
		requests = nil
		for _, name := range req.TopicNames {
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.Topic = strp(name)
			requests = append(requests, rt)
		}
	}
	var records []metadata.Record
	seen := make(map[uuid.UUID]bool, len(requests))
	for _, rt := range requests {
		out := kmsg.NewDeleteTopicsResponseTopic()
		out.Topic, out.TopicID = rt.Topic, rt.TopicID
		t, aerr := findTopicToDelete(img, rt)
		if aerr == nil {
			out.Topic, out.TopicID = strp(t.Name), t.ID
			switch {
			case seen[t.ID]:
				aerr = errorf(errInvalidRequest, "Duplicate topic in request.")
			case slices.Contains(InternalTopics, t.Name):
				aerr = errorf(errInvalidRequest, "Deletion of internal topic %s is not allowed.", t.Name)
			}
		}
		if aerr != nil {
			out.ErrorCode, out.ErrorMessage = aerr.code, strp(aerr.msg)
			resp.Topics = append(resp.Topics, out)
			continue
		}
		seen[t.ID] = true
		records = append(records, metadata.NewRemoveTopicRecords(t.ID)...)
		resp.Topics = append(resp.Topics, out)
	}
	return Result{Records: records, Response: resp}
}

func findTopicToDelete(img *metadata.Image, rt kmsg.DeleteTopicsRequestTopic) (*metadata.Topic, *apiError) {
	byName := rt.Topic != nil && *rt.Topic != ""
	byID := uuid.UUID(rt.TopicID) != uuid.Zero
	switch {
	case byName && byID:
		return nil, errorf(errInvalidRequest, "Only one of topic name and topic id may be given")
	case byName:
		if t, ok := img.TopicByName(*rt.Topic); ok {
			return t, nil
		}
		return nil, errorf(errUnknownTopicOrPartition, "This server does not host this topic-partition.")
	case byID:
		if t, ok := img.TopicByID(uuid.UUID(rt.TopicID)); ok {
			return t, nil
		}
		return nil, errorf(errUnknownTopicID, "This server does not host this topic ID.")
	}
	return nil, errorf(errInvalidRequest, "A topic name or id is required")
}
