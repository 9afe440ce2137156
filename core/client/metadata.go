package client

import (
	"cmp"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// metadata is what the client knows of the cluster: brokers, and the leader of each partition
// of the topics it uses. It is refreshed on demand (an unknown or moved leader, a lost
// connection), at most once per retry backoff.
type metadata struct {
	brokers    []brokerInfo // sorted by node id, at most cfg.BrokersMax
	controller int32
	topics     map[string]*topicMeta // the topics the client uses, at most cfg.TopicsMax
	topicNames []string              // topics' keys, sorted: the order requests list them in

	wanted   bool  // a refresh is needed
	inflight bool  // a Metadata request is in flight
	nextNs   int64 // no refresh starts before this
	// generation counts the answers applied. A request answered with stale-metadata errors
	// is not retried before the generation passes the one it failed at: resending to the
	// same wrong leader would only fail again.
	generation int64
	appliedNs  int64 // when the last answer was applied
}

type brokerInfo struct {
	node int32
	addr string
}

// topicMeta is one topic as the last Metadata answer described it.
type topicMeta struct {
	known      bool // a Metadata answer has described the topic
	id         [16]byte
	errorCode  int16 // the topic's error in the last answer
	partitions []partitionMeta
}

type partitionMeta struct {
	leader      int32
	leaderEpoch int32 // -1 when unknown (Metadata before v7)
	errorCode   int16
}

func (m *metadata) init() {
	m.controller = -1
	m.topics = make(map[string]*topicMeta)
}

// want asks for a refresh.
func (m *metadata) want() { m.wanted = true }

// staleMark is what an operation that failed on stale metadata records: it waits until
// fresh(mark) before its retry.
func (m *metadata) staleMark() int64 {
	m.want()
	return m.generation
}

// fresh reports whether an answer was applied after mark was taken (-1: never stale).
func (m *metadata) fresh(mark int64) bool { return m.generation > mark }

// brokerAddr returns node's address.
func (m *metadata) brokerAddr(node int32) (string, bool) {
	i, ok := slices.BinarySearchFunc(m.brokers, node, func(b brokerInfo, n int32) int { return cmp.Compare(b.node, n) })
	if !ok {
		return "", false
	}
	return m.brokers[i].addr, true
}

// track starts following topic; false if the topic limit is reached.
func (c *Client) trackTopic(topic string) bool {
	if _, ok := c.meta.topics[topic]; ok {
		return true
	}
	if len(c.meta.topicNames) >= c.cfg.TopicsMax {
		return false
	}
	c.meta.topics[topic] = &topicMeta{}
	i, _ := slices.BinarySearch(c.meta.topicNames, topic)
	c.meta.topicNames = slices.Insert(c.meta.topicNames, i, topic)
	c.meta.want()
	return true
}

// route is where a partition's requests go.
type route struct {
	leader      int32
	leaderEpoch int32
	topicID     [16]byte
}

// routeFor returns the partition's leader; when it is not known, the Kafka error code that says
// why, and a refresh is requested.
func (c *Client) routeFor(topic string, partition int32) (route, int16) {
	t := c.meta.topics[topic]
	switch {
	case t == nil || !t.known:
		c.meta.want()
		return route{}, errLeaderNotAvailable
	case t.errorCode != errNone:
		c.meta.want()
		return route{}, t.errorCode
	case int(partition) >= len(t.partitions):
		c.meta.want()
		return route{}, errUnknownTopicOrPartition
	}
	p := t.partitions[partition]
	if p.leader < 0 {
		c.meta.want()
		if p.errorCode != errNone {
			return route{}, p.errorCode
		}
		return route{}, errLeaderNotAvailable
	}
	return route{leader: p.leader, leaderEpoch: p.leaderEpoch, topicID: t.id}, errNone
}

// topicByID returns the name of the topic with id, "" if none is known.
func (m *metadata) topicByID(id [16]byte) string {
	for _, name := range m.topicNames {
		if t := m.topics[name]; t.known && t.id == id {
			return name
		}
	}
	return ""
}

// maybeRefreshMetadata sends a Metadata request for the tracked topics when one is wanted.
func (c *Client) maybeRefreshMetadata() {
	if c.pending > 0 && c.meta.generation > 0 && c.nowNs-c.meta.appliedNs >= c.cfg.MetadataMaxAgeNs {
		c.meta.want()
	}
	if !c.meta.wanted || c.meta.inflight || c.nowNs < c.meta.nextNs {
		return
	}
	cn := c.anyConn()
	if !c.canSend(cn) {
		return
	}
	version, ok := cn.versions.get(keyMetadata)
	if !ok {
		c.dropConn(cn, "the broker speaks no Metadata version the client does", true)
		return
	}
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = make([]kmsg.MetadataRequestTopic, 0, len(c.meta.topicNames)) // empty, not null: no topics
	for _, name := range c.meta.topicNames {
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, t)
	}
	req.AllowAutoTopicCreation = false
	c.meta.wanted = false
	c.meta.inflight = true
	c.send(cn, req, version, &request{kind: reqMetadata, deadlineNs: c.requestDeadline()}, true)
}

// handleMetadata applies the client's own Metadata answer.
func (c *Client) handleMetadata(resp *kmsg.MetadataResponse) {
	c.meta.inflight = false
	c.meta.nextNs = c.nowNs + c.cfg.RetryBackoffNs
	if resp.ErrorCode != errNone {
		c.meta.want()
		return
	}
	c.applyMetadata(resp, true)
}

// applyMetadata takes brokers and the tracked topics from a Metadata answer (the client's own,
// or an admin call's). complete means the answer was asked for every tracked topic, so one it
// leaves out is unknown.
func (c *Client) applyMetadata(resp *kmsg.MetadataResponse, complete bool) {
	c.meta.generation++
	c.meta.appliedNs = c.nowNs
	brokers := make([]brokerInfo, 0, min(len(resp.Brokers), c.cfg.BrokersMax))
	for _, b := range resp.Brokers {
		if len(brokers) == c.cfg.BrokersMax {
			break
		}
		if b.Port <= 0 || b.Port > 65535 || b.Host == "" || strings.ContainsAny(b.Host, "[]") {
			continue // an address no one can dial
		}
		brokers = append(brokers, brokerInfo{node: b.NodeID, addr: joinAddr(b.Host, b.Port)})
	}
	if len(brokers) > 0 {
		slices.SortFunc(brokers, func(a, b brokerInfo) int { return cmp.Compare(a.node, b.node) })
		brokers = slices.CompactFunc(brokers, func(a, b brokerInfo) bool { return a.node == b.node })
		c.closeMovedBrokers(brokers)
		c.meta.brokers = brokers
	}
	c.meta.controller = resp.ControllerID

	seen := make([]bool, len(c.meta.topicNames))
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		if rt.Topic == nil {
			continue
		}
		idx, ok := slices.BinarySearch(c.meta.topicNames, *rt.Topic)
		if !ok {
			continue // not a topic the client uses
		}
		seen[idx] = true
		t := c.meta.topics[*rt.Topic]
		t.known = true
		t.id = rt.TopicID
		t.errorCode = rt.ErrorCode
		t.partitions = t.partitions[:0]
		if rt.ErrorCode != errNone {
			continue
		}
		for _, rp := range rt.Partitions {
			if rp.Partition < 0 || int(rp.Partition) >= c.cfg.PartitionsPerTopicMax {
				continue
			}
			for int(rp.Partition) >= len(t.partitions) {
				t.partitions = append(t.partitions, partitionMeta{leader: -1, leaderEpoch: -1, errorCode: errLeaderNotAvailable})
			}
			epoch := rp.LeaderEpoch
			if resp.Version < 7 {
				epoch = -1
			}
			t.partitions[rp.Partition] = partitionMeta{leader: rp.Leader, leaderEpoch: epoch, errorCode: rp.ErrorCode}
		}
	}
	if complete {
		for i, name := range c.meta.topicNames {
			if !seen[i] {
				t := c.meta.topics[name]
				t.known = true
				t.errorCode = errUnknownTopicOrPartition
				t.partitions = t.partitions[:0]
			}
		}
	}
}

// closeMovedBrokers closes connections to brokers whose address changed or that left.
func (c *Client) closeMovedBrokers(brokers []brokerInfo) {
	for i := 0; i < len(c.conns); {
		cn := c.conns[i]
		if cn.node == noNode {
			i++
			continue
		}
		j, ok := slices.BinarySearchFunc(brokers, cn.node, func(b brokerInfo, n int32) int { return cmp.Compare(b.node, n) })
		if ok && brokers[j].addr == cn.addr {
			i++
			continue
		}
		c.dropConn(cn, "the broker moved or left the cluster", true)
	}
}
