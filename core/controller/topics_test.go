package controller

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/uuid"
)

func TestCreateTopicsErrors(t *testing.T) {
	three := imageWith(t, testBroker{id: 1}, testBroker{id: 2}, testBroker{id: 3, fenced: true})
	c := newTestController(t, 1)
	base := createdTopics(t, c, three, map[string]int32{"exists": 1, "a_b": 1})
	bad := "abc"
	long := strings.Repeat("x", 250)
	for _, tc := range []struct {
		name  string
		topic kmsg.CreateTopicsRequestTopic
		want  errOf
	}{
		{"illegal name", newTopic("bad/name", 1, 1), errOf{errInvalidTopic, `topic name "bad/name" holds character '/' outside [a-zA-Z0-9._-]`}},
		{"long name", newTopic(long, 1, 1), errOf{errInvalidTopic, "topic name is 250 characters, longer than 249"}},
		{"internal", newTopic("__consumer_offsets", 1, 1), errOf{errInvalidRequest, "Creation of internal topic __consumer_offsets is not allowed."}},
		{"exists", newTopic("exists", 1, 1), errOf{errTopicAlreadyExists, "Topic 'exists' already exists."}},
		{"collision", newTopic("a.b", 1, 1), errOf{errInvalidTopic, "Topic 'a.b' collides with existing topic: a_b"}},
		{"null config", withConfig(newTopic("n", 1, 1), "retention.ms", nil), errOf{errInvalidConfig, "Null value not supported for topic configs: retention.ms"}},
		{"bad config", withConfig(newTopic("n", 1, 1), "retention.ms", &bad), errOf{errInvalidConfig,
			`Invalid config value for resource ConfigResource(type=TOPIC, name='n'): invalid value "abc" for configuration retention.ms: not a number of type LONG`}},
		{"unknown config", withConfig(newTopic("n", 1, 1), "no.such.key", &bad), errOf{errInvalidConfig,
			"Invalid config value for resource ConfigResource(type=TOPIC, name='n'): unknown topic config name: no.such.key"}},
		{"zero partitions", newTopic("n", 0, 1), errOf{errInvalidPartitions, "Number of partitions was set to an invalid non-positive value."}},
		{"negative partitions", newTopic("n", -2, 1), errOf{errInvalidPartitions, "Number of partitions was set to an invalid non-positive value."}},
		{"zero rf", newTopic("n", 1, 0), errOf{errInvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value."}},
		{"rf above active brokers", newTopic("n", 1, 3), errOf{errInvalidReplicationFactor,
			"Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached because only 2 broker(s) are registered."}},
		{"assignment with counts", func() kmsg.CreateTopicsRequestTopic {
			rt := withAssignment(newTopic("n", 0, 0), []int32{1})
			rt.NumPartitions = 1
			return rt
		}(), errOf{errInvalidRequest, "A manual partition assignment was specified, but numPartitions was not set to -1."}},
		{"assignment with rf", func() kmsg.CreateTopicsRequestTopic {
			rt := withAssignment(newTopic("n", 0, 0), []int32{1})
			rt.ReplicationFactor = 1
			return rt
		}(), errOf{errInvalidRequest, "A manual partition assignment was specified, but replication factor was not set to -1."}},
		{"assignment gap", func() kmsg.CreateTopicsRequestTopic {
			rt := withAssignment(newTopic("n", 0, 0), []int32{1}, []int32{2})
			rt.ReplicaAssignment[1].Partition = 2
			return rt
		}(), errOf{errInvalidReplicaAssignment, "partitions should be a consecutive 0-based integer sequence"}},
		{"assignment twice", func() kmsg.CreateTopicsRequestTopic {
			rt := withAssignment(newTopic("n", 0, 0), []int32{1}, []int32{2})
			rt.ReplicaAssignment[1].Partition = 0
			return rt
		}(), errOf{errInvalidReplicaAssignment, "Found multiple manual partition assignments for partition 0"}},
		{"assignment empty", withAssignment(newTopic("n", 0, 0), []int32{}), errOf{errInvalidReplicaAssignment,
			"The manual partition assignment includes an empty replica list."}},
		{"assignment unregistered", withAssignment(newTopic("n", 0, 0), []int32{1, 9}), errOf{errInvalidReplicaAssignment,
			"The manual partition assignment includes broker 9, but no such broker is registered."}},
		{"assignment repeats", withAssignment(newTopic("n", 0, 0), []int32{2, 1, 2}), errOf{errInvalidReplicaAssignment,
			"The manual partition assignment includes the broker 2 more than once."}},
		{"assignment rf differs", withAssignment(newTopic("n", 0, 0), []int32{1, 2}, []int32{1}), errOf{errInvalidReplicaAssignment,
			"The manual partition assignment includes a partition with 1 replica(s), but this is not consistent with previous partitions, which have 2 replica(s)."}},
		{"assignment all fenced", withAssignment(newTopic("n", 0, 0), []int32{1}, []int32{3}), errOf{errInvalidReplicaAssignment,
			"All brokers specified in the manual partition assignment for partition 1 are fenced or in controlled shutdown."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.CreateTopics(base, 0, createTopicsRequest(tc.topic))
			require.Empty(t, res.Records)
			topics := res.Response.(*kmsg.CreateTopicsResponse).Topics
			require.Len(t, topics, 1)
			require.Equal(t, tc.want, errFrom(topics[0].ErrorCode, topics[0].ErrorMessage))
			require.Equal(t, int32(-1), topics[0].NumPartitions)
			require.Equal(t, uuid.Zero, uuid.UUID(topics[0].TopicID))
		})
	}
}

// One request: duplicates answered once, failures next to successes, the successes' records
// together, and names created earlier in the request collide with later ones.
func TestCreateTopicsMixed(t *testing.T) {
	img := imageWith(t, brokersN(3)...)
	c := newTestController(t, 2)
	req := createTopicsRequest(newTopic("dup", 1, 1), newTopic("x.y", 3, 2), newTopic("dup", 1, 1),
		newTopic("bad/", 1, 1), newTopic("x_y", 1, 1), newTopic("z", -1, -1))
	res := c.CreateTopics(img, 0, req)
	topics := res.Response.(*kmsg.CreateTopicsResponse).Topics
	var got []errOf
	for _, rt := range topics {
		got = append(got, errFrom(rt.ErrorCode, rt.ErrorMessage))
	}
	require.Equal(t, []errOf{
		{errInvalidRequest, "Found multiple entries for this topic."},
		{},
		{errInvalidTopic, `topic name "bad/" holds character '/' outside [a-zA-Z0-9._-]`},
		{errInvalidTopic, "Topic 'x_y' collides with existing topic: x.y"},
		{},
	}, got)
	after := apply(t, img, res)
	require.Equal(t, 2, after.TopicCount())
	xy, ok := after.TopicByName("x.y")
	require.True(t, ok)
	require.Equal(t, uuid.UUID(topics[1].TopicID), xy.ID)
	require.Equal(t, int32(3), topics[1].NumPartitions)
	require.Equal(t, int16(2), topics[1].ReplicationFactor)
	for _, p := range xy.Partitions() {
		require.Len(t, p.Replicas, 2)
		require.Equal(t, p.Replicas, p.ISR)
		require.Equal(t, p.Replicas[0], p.Leader)
	}
	z, _ := after.TopicByName("z")
	require.Equal(t, 1, z.PartitionCount(), "num.partitions")
	require.NotEqual(t, xy.ID, z.ID)
}

func TestCreateTopicsAnswerFields(t *testing.T) {
	img := imageWith(t, brokersN(2)...)
	c := newTestController(t, 3)
	compact := "compact"
	rt := withConfig(newTopic("t", 2, 2), "cleanup.policy", &compact)

	res := c.CreateTopics(img, 0, createTopicsRequest(rt))
	out := res.Response.(*kmsg.CreateTopicsResponse).Topics[0]
	require.Zero(t, out.ErrorCode)
	require.NotEqual(t, uuid.Zero, uuid.UUID(out.TopicID))
	require.Equal(t, int32(2), out.NumPartitions)
	require.Equal(t, int16(2), out.ReplicationFactor)
	var policy *kmsg.CreateTopicsResponseTopicConfig
	for i := range out.Configs {
		if out.Configs[i].Name == "cleanup.policy" {
			policy = &out.Configs[i]
		}
	}
	require.NotNil(t, policy)
	require.Equal(t, "compact", *policy.Value)
	require.Equal(t, ConfigSourceDynamicTopic, policy.Source)
	after := apply(t, img, res)
	v, ok := after.ConfigValue(metadata.ResourceTopic, "t", "cleanup.policy")
	require.True(t, ok)
	require.Equal(t, "compact", v)

	// ValidateOnly: the same answer without records or an id.
	req := createTopicsRequest(rt)
	req.ValidateOnly = true
	res = c.CreateTopics(img, 0, req)
	require.Empty(t, res.Records)
	out = res.Response.(*kmsg.CreateTopicsResponse).Topics[0]
	require.Zero(t, out.ErrorCode)
	require.Equal(t, uuid.Zero, uuid.UUID(out.TopicID))
	require.Equal(t, int32(2), out.NumPartitions)

	// Below v5 the answer has no counts or configs.
	req = createTopicsRequest(newTopic("old", 1, 1))
	req.Version = 4
	res = c.CreateTopics(img, 0, req)
	out = res.Response.(*kmsg.CreateTopicsResponse).Topics[0]
	require.Zero(t, out.ErrorCode)
	require.Equal(t, int32(-1), out.NumPartitions)
	require.Empty(t, out.Configs)
}

// A manual assignment naming a fenced broker: the partition's ISR holds its active replicas
// and the first of them leads, as Kafka's buildPartitionRegistration.
func TestCreateTopicsManualAssignmentWithFencedReplica(t *testing.T) {
	img := imageWith(t, testBroker{id: 1, fenced: true}, testBroker{id: 2}, testBroker{id: 3})
	c := newTestController(t, 4)
	res := c.CreateTopics(img, 0, createTopicsRequest(withAssignment(newTopic("m", 0, 0), []int32{1, 2, 3}, []int32{3, 1, 2})))
	require.Zero(t, res.Response.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode)
	after := apply(t, img, res)
	m, _ := after.TopicByName("m")
	p0, _ := m.Partition(0)
	require.Equal(t, []int32{1, 2, 3}, p0.Replicas)
	require.Equal(t, []int32{2, 3}, p0.ISR)
	require.Equal(t, int32(2), p0.Leader)
	p1, _ := m.Partition(1)
	require.Equal(t, []int32{3, 2}, p1.ISR)
	require.Equal(t, int32(3), p1.Leader)
}

// More than Kafka's MAX_PARTITIONS_PER_BATCH partitions fail the whole request.
func TestCreateTopicsPartitionBound(t *testing.T) {
	img := imageWith(t, brokersN(1)...)
	c := newTestController(t, 5)
	res := c.CreateTopics(img, 0, createTopicsRequest(newTopic("a", 6000, 1), newTopic("b", 5000, 1)))
	require.Empty(t, res.Records)
	for _, rt := range res.Response.(*kmsg.CreateTopicsResponse).Topics {
		require.Equal(t, errOf{errPolicyViolation, "Excessively large number of partitions per request."}, errFrom(rt.ErrorCode, rt.ErrorMessage))
	}
}

func TestAutoCreateRequestUsesDefaults(t *testing.T) {
	img := imageWith(t, brokersN(3)...)
	c := newTestController(t, 6)
	c.cfg.Broker.NumPartitions, c.cfg.Broker.DefaultReplicationFactor = 4, 3
	res := c.CreateTopics(img, 0, AutoCreateRequest([]string{"auto"}))
	after := apply(t, img, res)
	auto, ok := after.TopicByName("auto")
	require.True(t, ok)
	require.Equal(t, 4, auto.PartitionCount())
	p, _ := auto.Partition(0)
	require.Len(t, p.Replicas, 3)
}

func TestDeleteTopics(t *testing.T) {
	img := imageWith(t, brokersN(1)...)
	c := newTestController(t, 7)
	img = createdTopics(t, c, img, map[string]int32{"a": 2, "b": 1})
	a, _ := img.TopicByName("a")
	b, _ := img.TopicByName("b")
	img = apply(t, img, Result{Records: []metadata.Record{&metadata.TopicRecord{Name: "__consumer_offsets", TopicID: uuid.UUID{0: 7, 15: 7}}}})

	byName := func(name string) kmsg.DeleteTopicsRequestTopic {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = &name
		return rt
	}
	byID := func(id uuid.UUID) kmsg.DeleteTopicsRequestTopic {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.TopicID = id
		return rt
	}
	both := byName("a")
	both.TopicID = a.ID
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version = 6
	req.Topics = []kmsg.DeleteTopicsRequestTopic{byName("a"), byID(b.ID), byName("nope"), byID(uuid.UUID{0: 3}),
		both, kmsg.NewDeleteTopicsRequestTopic(), byID(a.ID), byName("__consumer_offsets")}
	res := c.DeleteTopics(img, 0, req)
	var got []errOf
	for _, rt := range res.Response.(*kmsg.DeleteTopicsResponse).Topics {
		got = append(got, errFrom(rt.ErrorCode, rt.ErrorMessage))
	}
	require.Equal(t, []errOf{
		{},
		{},
		{errUnknownTopicOrPartition, "This server does not host this topic-partition."},
		{errUnknownTopicID, "This server does not host this topic ID."},
		{errInvalidRequest, "Only one of topic name and topic id may be given"},
		{errInvalidRequest, "A topic name or id is required"},
		{errInvalidRequest, "Duplicate topic in request."},
		{errInvalidRequest, "Deletion of internal topic __consumer_offsets is not allowed."},
	}, got)
	topics := res.Response.(*kmsg.DeleteTopicsResponse).Topics
	require.Equal(t, "b", *topics[1].Topic, "a topic deleted by id is answered with its name")
	after := apply(t, img, res)
	require.Equal(t, 1, after.TopicCount())

	// Before v6 the topics are names.
	old := kmsg.NewPtrDeleteTopicsRequest()
	old.Version = 5
	old.TopicNames = []string{"b"}
	res = c.DeleteTopics(img, 0, old)
	require.Zero(t, res.Response.(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode)
	require.Equal(t, metadata.NewRemoveTopicRecords(b.ID), res.Records)
}
