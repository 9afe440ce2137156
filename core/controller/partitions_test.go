package controller

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weirdata/weir/core/metadata"
)

func createPartitionsRequest(topics ...kmsg.CreatePartitionsRequestTopic) *kmsg.CreatePartitionsRequest {
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.Version = 3
	req.Topics = topics
	return req
}

func growTo(name string, count int32, assignment ...[]int32) kmsg.CreatePartitionsRequestTopic {
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = name, count
	for _, rs := range assignment {
		a := kmsg.NewCreatePartitionsRequestTopicAssignment()
		a.Replicas = rs
		rt.Assignment = append(rt.Assignment, a)
	}
	return rt
}

func TestCreatePartitionsErrors(t *testing.T) {
	img := imageWith(t, testBroker{id: 1}, testBroker{id: 2}, testBroker{id: 3, fenced: true})
	c := newTestController(t, 11)
	req := createTopicsRequest(newTopic("t", 2, 2), newTopic("one", 1, 1))
	img = apply(t, img, c.CreateTopics(img, 0, req))
	for _, tc := range []struct {
		name  string
		topic kmsg.CreatePartitionsRequestTopic
		want  errOf
	}{
		{"unknown", growTo("nope", 3), errOf{errUnknownTopicOrPartition, "This server does not host this topic-partition."}},
		{"same", growTo("t", 2), errOf{errInvalidPartitions, "Topic already has 2 partitions."}},
		{"fewer", growTo("t", 1), errOf{errInvalidPartitions, "Topic currently has 2 partitions, which is higher than the requested 1."}},
		{"assignment count", growTo("t", 4, []int32{1, 2}), errOf{errInvalidReplicaAssignment,
			"Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified."}},
		{"assignment rf", growTo("t", 3, []int32{1}), errOf{errInvalidReplicaAssignment,
			"The manual partition assignment includes a partition with 1 replica(s), but this is not consistent with previous partitions, which have 2 replica(s)."}},
		{"assignment unregistered", growTo("t", 3, []int32{1, 7}), errOf{errInvalidReplicaAssignment,
			"The manual partition assignment includes broker 7, but no such broker is registered."}},
		{"assignment repeats", growTo("t", 3, []int32{2, 2}), errOf{errInvalidReplicaAssignment,
			"The manual partition assignment includes the broker 2 more than once."}},
		{"assignment empty", growTo("t", 3, []int32{}), errOf{errInvalidReplicaAssignment,
			"The manual partition assignment includes an empty replica list."}},
		{"assignment fenced", growTo("one", 2, []int32{3}), errOf{errInvalidReplicaAssignment,
			"All brokers specified in the manual partition assignment for partition 1 are fenced or in controlled shutdown."}},
		{"too many", growTo("t", 20_000), errOf{errPolicyViolation, "Excessively large number of partitions per request."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.CreatePartitions(img, 0, createPartitionsRequest(tc.topic))
			require.Empty(t, res.Records)
			topics := res.Response.(*kmsg.CreatePartitionsResponse).Topics
			require.Len(t, topics, 1)
			require.Equal(t, tc.want, errFrom(topics[0].ErrorCode, topics[0].ErrorMessage))
		})
	}

	// rf 2 with one active broker left: placement refuses.
	fenced := imageWith(t, testBroker{id: 1}, testBroker{id: 2, fenced: true})
	fenced = apply(t, fenced, Result{Records: mustRecords(t, img, "t")})
	res := c.CreatePartitions(fenced, 0, createPartitionsRequest(growTo("t", 3)))
	out := res.Response.(*kmsg.CreatePartitionsResponse).Topics[0]
	require.Equal(t, errOf{errInvalidReplicationFactor,
		"Unable to replicate the partition 2 time(s): The target replication factor of 2 cannot be reached because only 1 broker(s) are registered."},
		errFrom(out.ErrorCode, out.ErrorMessage))
}

func TestCreatePartitionsGrows(t *testing.T) {
	img := imageWith(t, brokersN(4)...)
	c := newTestController(t, 12)
	img = apply(t, img, c.CreateTopics(img, 0, createTopicsRequest(newTopic("t", 2, 3), newTopic("m", 1, 1))))
	dup := createPartitionsRequest(growTo("t", 5), growTo("m", 2, []int32{3}), growTo("x", 2), growTo("x", 3))
	res := c.CreatePartitions(img, 0, dup)
	var got []errOf
	for _, rt := range res.Response.(*kmsg.CreatePartitionsResponse).Topics {
		got = append(got, errFrom(rt.ErrorCode, rt.ErrorMessage))
	}
	require.Equal(t, []errOf{{}, {}, {errInvalidRequest, "Duplicate topic in request."}}, got)
	after := apply(t, img, res)
	tt, _ := after.TopicByName("t")
	require.Equal(t, 5, tt.PartitionCount())
	for _, p := range tt.Partitions() {
		require.Len(t, p.Replicas, 3)
		require.Equal(t, p.Replicas[0], p.Leader)
		require.Equal(t, int32(0), p.LeaderEpoch)
	}
	m, _ := after.TopicByName("m")
	p1, _ := m.Partition(1)
	require.Equal(t, []int32{3}, p1.Replicas)

	// ValidateOnly: the answer without the records.
	v := createPartitionsRequest(growTo("t", 6))
	v.ValidateOnly = true
	res = c.CreatePartitions(after, 0, v)
	require.Empty(t, res.Records)
	require.Zero(t, res.Response.(*kmsg.CreatePartitionsResponse).Topics[0].ErrorCode)
}

// mustRecords returns the records that recreate topic name of img (topic and partitions).
func mustRecords(t testingT, img *metadata.Image, name string) []metadata.Record {
	t.Helper()
	topic, ok := img.TopicByName(name)
	require.True(t, ok)
	var out []metadata.Record
	for _, r := range img.Records() {
		switch r := r.(type) {
		case *metadata.TopicRecord:
			if r.TopicID == topic.ID {
				out = append(out, r)
			}
		case *metadata.PartitionRecord:
			if r.TopicID == topic.ID {
				out = append(out, r)
			}
		}
	}
	return out
}
