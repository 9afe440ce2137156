package broker

// DescribeTopicPartitions, version 0 (KIP-966).
//
// Behaviour (Kafka's DescribeTopicPartitionsRequestHandler and KRaftMetadataCache): the
// topics asked for, or every topic when the list is empty, each once, sorted by name, from
// the committed metadata image, with each partition's leader, leader epoch, replicas, ISR,
// eligible leader replicas, last known ELR and offline replicas. The answer holds at most
// ResponsePartitionLimit partitions (capped at Kafka's max.request.partition.size.limit,
// 2000); when the limit cuts it, NextCursor names the first topic and partition left out, and
// a client asks again from there. Topics named before the cursor's are skipped, the cursor's
// starts at the cursor's partition and every later one at partition 0. A topic asked for that
// does not exist is UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION for a bad name) and
// takes none of the limit; with every topic asked for, none is answered in error. A cursor
// naming a topic the list does not hold makes the whole answer INVALID_REQUEST (each topic
// asked for, in error, as Kafka's getErrorResponse).
//
// As Kafka's, the leader is answered while its broker is registered with an endpoint (fenced
// or not: the ISR tells), partitions carry no error, ELR lists are empty (never null) where
// the image has none, and a replica is offline when its broker is not registered, fenced,
// has no endpoint, or its directory is not among the broker's online log directories.
//
// Authorized operations: Weir has no authorizer, so every topic operation is allowed, and
// like Kafka without one the answer says so (the handler always fills the field; there is no
// "include" flag in this request).
//
// Left out: a configurable max.request.partition.size.limit (Kafka's default is used).

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/uuid"
)

// describeTopicPartitionsLimitMax is Kafka's max.request.partition.size.limit default: the
// most partitions one DescribeTopicPartitions answer holds, whatever the request asks.
const describeTopicPartitionsLimitMax = 2000

// topicOperationsAll is the authorized-operations bitfield of a topic when nothing is denied
// (Kafka with no authorizer): bit n set for AclOperation code n, over the operations a topic
// supports: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, DESCRIBE_CONFIGS 10,
// ALTER_CONFIGS 11.
const topicOperationsAll int32 = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<11

// Kafka's DirectoryId markers (UNASSIGNED is metadata.DirectoryUnassigned): a replica in a
// lost directory is offline; one whose directory is still migrating (or unassigned) is not.
var (
	directoryLost      = uuid.UUID{15: 1}
	directoryMigrating = uuid.UUID{15: 2}
)

func (n *Node) handleDescribeTopicPartitions(cs *conn, s *slot, req *kmsg.DescribeTopicPartitionsRequest) {
	n.finish(cs, s, describeTopicPartitions(n.img, req, describeTopicPartitionsLimitMax), nil)
}

// describeTopicPartitions answers req from img, with at most limitMax partitions.
func describeTopicPartitions(img *metadata.Image, req *kmsg.DescribeTopicPartitionsRequest, limitMax int32) *kmsg.DescribeTopicPartitionsResponse {
	resp := kmsg.NewPtrDescribeTopicPartitionsResponse()
	cursorTopic := ""
	if req.Cursor != nil {
		cursorTopic = req.Cursor.Topic
	}
	all := len(req.Topics) == 0
	var names []string
	if all {
		for _, t := range img.Topics() { // sorted by name
			if t.Name >= cursorTopic {
				names = append(names, t.Name)
			}
		}
	} else {
		for _, rt := range req.Topics {
			if rt.Topic >= cursorTopic {
				names = append(names, rt.Topic)
			}
		}
		slices.Sort(names)
		names = slices.Compact(names)
		if req.Cursor != nil {
			if _, found := slices.BinarySearch(names, req.Cursor.Topic); !found {
				return describeTopicPartitionsError(req, errInvalidRequest)
			}
		}
	}

	// int64: a start index plus the limit must not overflow.
	remaining := int64(min(limitMax, req.ResponsePartitionLimit))
	for _, name := range names {
		if remaining <= 0 {
			// Kafka points the cursor at the next topic's start when the limit is used up
			// exactly; a limit asked for below zero answers nothing and no cursor, as Kafka's.
			if remaining == 0 {
				resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: 0}
			}
			break
		}
		t, ok := img.TopicByName(name)
		if !ok {
			if !all {
				resp.Topics = append(resp.Topics, describeMissingTopic(name))
			}
			continue
		}
		start := int64(0)
		if req.Cursor != nil && name == req.Cursor.Topic {
			start = int64(req.Cursor.Partition)
		}
		count := int64(t.PartitionCount())
		upper := min(count, start+remaining)
		rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
		rt.Topic = strp(t.Name)
		rt.TopicID = t.ID
		rt.IsInternal = slices.Contains(controller.InternalTopics, t.Name)
		rt.AuthorizedOperations = topicOperationsAll
		rt.Partitions = []kmsg.DescribeTopicPartitionsResponseTopicPartition{}
		for id := start; id < upper; id++ {
			if p, ok := t.Partition(int32(id)); ok {
				rt.Partitions = append(rt.Partitions, describePartition(img, p))
			}
		}
		resp.Topics = append(resp.Topics, rt)
		if upper < count {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: t.Name, Partition: int32(upper)}
			break
		}
		remaining -= int64(len(rt.Partitions))
	}
	return resp
}

// describeMissingTopic is the answer for a topic asked for by name that the image lacks.
func describeMissingTopic(name string) kmsg.DescribeTopicPartitionsResponseTopic {
	rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
	rt.Topic = strp(name)
	rt.ErrorCode = errUnknownTopicOrPartition
	if metadata.ValidateTopicName(name) != nil {
		rt.ErrorCode = errInvalidTopic
	}
	rt.IsInternal = slices.Contains(controller.InternalTopics, name)
	rt.AuthorizedOperations = topicOperationsAll
	return rt
}

// describeTopicPartitionsError is Kafka's error answer to the whole request: every topic asked
// for, as asked, with code and nothing else.
func describeTopicPartitionsError(req *kmsg.DescribeTopicPartitionsRequest, code int16) *kmsg.DescribeTopicPartitionsResponse {
	resp := kmsg.NewPtrDescribeTopicPartitionsResponse()
	for _, t := range req.Topics {
		rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
		rt.Topic = strp(t.Topic)
		rt.ErrorCode = code
		rt.Partitions = []kmsg.DescribeTopicPartitionsResponseTopicPartition{}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func describePartition(img *metadata.Image, p *metadata.Partition) kmsg.DescribeTopicPartitionsResponseTopicPartition {
	rp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
	rp.Partition = p.ID
	rp.LeaderID = -1
	if b, ok := img.Broker(p.Leader); ok && len(b.EndPoints) > 0 {
		rp.LeaderID = p.Leader
	}
	rp.LeaderEpoch = p.LeaderEpoch
	rp.Replicas = append([]int32{}, p.Replicas...)
	rp.ISR = append([]int32{}, p.ISR...)
	// Kafka's PartitionRegistration holds empty lists where the records had none.
	rp.EligibleLeaderReplicas = append([]int32{}, p.EligibleLeaderReplicas...)
	rp.LastKnownELR = append([]int32{}, p.LastKnownELR...)
	rp.OfflineReplicas = offlineReplicas(img, p)
	return rp
}

// offlineReplicas are the replicas of p that cannot serve it (Kafka's getOfflineReplicas):
// their broker is not registered, is fenced, has no endpoint, or does not have the replica's
// directory online.
func offlineReplicas(img *metadata.Image, p *metadata.Partition) []int32 {
	out := []int32{}
	for i, id := range p.Replicas {
		b, ok := img.Broker(id)
		if !ok || b.Fenced || len(b.EndPoints) == 0 {
			out = append(out, id)
			continue
		}
		dir := directoryMigrating // no directories: assigned before KIP-858, assumed online
		if i < len(p.Directories) {
			dir = p.Directories[i]
		}
		if !directoryOnline(dir, b.LogDirs) {
			out = append(out, id)
		}
	}
	return out
}

// directoryOnline is Kafka's DirectoryId.isOnline: unassigned and migrating replicas count as
// online, lost ones not, and a broker that registered no directories is assumed to have them
// all (it would have stopped with none left).
func directoryOnline(dir uuid.UUID, onlineDirs []uuid.UUID) bool {
	switch {
	case dir == metadata.DirectoryUnassigned || dir == directoryMigrating:
		return true
	case dir == directoryLost:
		return false
	case len(onlineDirs) == 0:
		return true
	}
	return slices.Contains(onlineDirs, dir)
}
