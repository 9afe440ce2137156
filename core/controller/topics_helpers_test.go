package controller

import (
	"math/rand/v2"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/uuid"
)

// testingT is what the helpers need of a *testing.T or a *rapid.T.
type testingT interface {
	require.TestingT
	Helper()
}

// testBroker is a broker to register in a test image.
type testBroker struct {
	id     int32
	rack   string // "" for none
	fenced bool
}

// imageWith returns an image with metadata.version and the brokers registered.
func imageWith(t testingT, brokers ...testBroker) *metadata.Image {
	t.Helper()
	records := metadata.BootstrapRecords(metadata.MetadataVersionDefault)
	for i, b := range brokers {
		var rack *string
		if b.rack != "" {
			rack = &b.rack
		}
		endpoint := metadata.BrokerEndpoint{Name: "PLAINTEXT", Host: "localhost", Port: uint16(9092 + i)}
		records = append(records, metadata.NewRegisterBrokerRecord(b.id, int64(i+1), uuid.UUID{0: 1, 15: byte(i + 2)},
			[]metadata.BrokerEndpoint{endpoint}, rack, nil, b.fenced))
	}
	img, err := metadata.EmptyImage().Apply(records)
	require.NoError(t, err)
	return img
}

// brokersN returns n unfenced brokers 0..n-1 without racks.
func brokersN(n int) []testBroker {
	out := make([]testBroker, n)
	for i := range out {
		out[i] = testBroker{id: int32(i)}
	}
	return out
}

// newTestController returns a Controller with Kafka's defaults (num.partitions 1,
// default.replication.factor 1) and a seeded PRNG.
func newTestController(t testingT, seed uint64) *Controller {
	t.Helper()
	b := config.DefaultBrokerConfig()
	b.NodeID = 0
	c, err := New(Config{NodeID: 0, Broker: b}, rand.New(rand.NewPCG(seed, seed)))
	require.NoError(t, err)
	return c
}

// apply replays a Result's records onto img; they must apply.
func apply(t testingT, img *metadata.Image, res Result) *metadata.Image {
	t.Helper()
	next, err := img.Apply(res.Records)
	require.NoError(t, err)
	return next
}

func createTopicsRequest(topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.Topics = topics
	return req
}

func newTopic(name string, partitions int32, rf int16) kmsg.CreateTopicsRequestTopic {
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
	return rt
}

func withAssignment(rt kmsg.CreateTopicsRequestTopic, replicas ...[]int32) kmsg.CreateTopicsRequestTopic {
	rt.NumPartitions, rt.ReplicationFactor = -1, -1
	for p, rs := range replicas {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = int32(p), rs
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	}
	return rt
}

func withConfig(rt kmsg.CreateTopicsRequestTopic, key string, value *string) kmsg.CreateTopicsRequestTopic {
	c := kmsg.NewCreateTopicsRequestTopicConfig()
	c.Name, c.Value = key, value
	rt.Configs = append(rt.Configs, c)
	return rt
}

// createdTopics creates topics (name → partitions, rf -1) and returns the image after.
func createdTopics(t testingT, c *Controller, img *metadata.Image, topics map[string]int32) *metadata.Image {
	t.Helper()
	req := createTopicsRequest()
	for _, name := range sortedKeysInt(topics) {
		req.Topics = append(req.Topics, newTopic(name, topics[name], -1))
	}
	res := c.CreateTopics(img, 0, req)
	for _, rt := range res.Response.(*kmsg.CreateTopicsResponse).Topics {
		require.Zero(t, rt.ErrorCode, "topic %s: %v", rt.Topic, rt.ErrorMessage)
	}
	return apply(t, img, res)
}

func sortedKeysInt(m map[string]int32) []string {
	s := make(map[string]string, len(m))
	for k := range m {
		s[k] = ""
	}
	return sortedKeys(s)
}

// errOf renders a code and message for table comparisons.
type errOf struct {
	Code int16
	Msg  string
}

func errFrom(code int16, msg *string) errOf {
	e := errOf{Code: code}
	if msg != nil && code != 0 {
		e.Msg = *msg
	}
	return e
}
