package broker

// DeleteTopics, versions 1-6.
//
// Behaviour: topics named (v0-5) or named or by id (v6) are removed from the metadata log
// (metadata.NewRemoveTopicRecords); once that is durable their logs are deleted (renamed
// away at once, files removed by the driver as FileOps) and the answer goes out. An unknown
// name is UNKNOWN_TOPIC_OR_PARTITION, an unknown id UNKNOWN_TOPIC_ID; a name and an id
// together, a topic twice or an internal topic is INVALID_REQUEST. TimeoutMillis bounds the wait
// (REQUEST_TIMED_OUT after it; the deletion still commits).
//
// Left out: delete.topic.enable (always on, Kafka's default).

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/core/uuid"
)

func (n *Node) handleDeleteTopics(cs *conn, s *slot, req *kmsg.DeleteTopicsRequest) {
	resp := kmsg.NewPtrDeleteTopicsResponse()
	requests := req.Topics
	if req.Version < 6 {
		requests = nil
		for _, name := range req.TopicNames {
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.Topic = strp(name)
			requests = append(requests, rt)
		}
	}
	img := n.meta.Latest()
	var upTo record.Offset
	var deleted []int
	var seen []uuid.UUID
	for _, rt := range requests {
		out := kmsg.NewDeleteTopicsResponseTopic()
		out.Topic, out.TopicID = rt.Topic, rt.TopicID
		fail := func(code int16, msg string) {
			out.ErrorCode, out.ErrorMessage = code, strp(msg)
			resp.Topics = append(resp.Topics, out)
		}
		byName := rt.Topic != nil && *rt.Topic != ""
		byID := uuid.UUID(rt.TopicID) != uuid.Zero
		var t *metadata.Topic
		var ok bool
		switch {
		case byName && byID:
			fail(errInvalidRequest, "Only one of topic name and topic id may be given")
			continue
		case byName:
			if t, ok = img.TopicByName(*rt.Topic); !ok {
				fail(errUnknownTopicOrPartition, "This server does not host this topic-partition.")
				continue
			}
		case byID:
			if t, ok = img.TopicByID(uuid.UUID(rt.TopicID)); !ok {
				fail(errUnknownTopicID, "This server does not host this topic ID.")
				continue
			}
		default:
			fail(errInvalidRequest, "A topic name or id is required")
			continue
		}
		out.Topic, out.TopicID = strp(t.Name), t.ID
		if slices.Contains(seen, t.ID) {
			fail(errInvalidRequest, "Duplicate topic in request.")
			continue
		}
		seen = append(seen, t.ID)
		if slices.Contains(internalTopics, t.Name) {
			fail(errInvalidRequest, fmt.Sprintf("Deletion of internal topic %s is not allowed.", t.Name))
			continue
		}
		var tps []storage.TopicPartition
		for _, p := range t.Partitions() {
			tps = append(tps, storage.TopicPartition{Topic: t.Name, Partition: p.ID})
		}
		offset, terr := n.appendMetadata(metadata.NewRemoveTopicRecords(t.ID), metaAction{kind: actionDeleteLogs, topic: t.Name, partitions: tps})
		if terr != nil {
			fail(terr.code, terr.msg)
			continue
		}
		img = n.meta.Latest()
		upTo = max(upTo, offset)
		deleted = append(deleted, len(resp.Topics))
		resp.Topics = append(resp.Topics, out)
	}
	n.answerWhenCommitted(cs, s, resp, len(deleted) > 0, upTo, req.TimeoutMillis, func() {
		for _, i := range deleted {
			t := &resp.Topics[i]
			t.ErrorCode, t.ErrorMessage = errRequestTimedOut, strp("Timed out waiting for the deletion to be durable.")
		}
	})
}
