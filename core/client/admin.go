package client

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// AdminKind is what an admin operation does.
type AdminKind uint8

const (
	AdminCreateTopic AdminKind = iota + 1
	AdminMetadata
	AdminListOffsets
	AdminElectLeaders
	AdminReassign
)

func (k AdminKind) String() string {
	switch k {
	case AdminCreateTopic:
		return "create-topic"
	case AdminMetadata:
		return "metadata"
	case AdminListOffsets:
		return "list-offsets"
	case AdminElectLeaders:
		return "elect-leaders"
	case AdminReassign:
		return "alter-partition-reassignments"
	}
	return "unknown-admin"
}

// ListOffsets timestamps with special meaning (Kafka's ListOffsetsRequest).
const (
	ListOffsetsLatest   int64 = -1 // the log end offset (the high watermark, read uncommitted)
	ListOffsetsEarliest int64 = -2 // the log start offset
)

// TopicSpec is a topic to create.
type TopicSpec struct {
	Name              string
	Partitions        int32 // -1: the broker's num.partitions
	ReplicationFactor int16 // -1: the broker's default.replication.factor
	Configs           []TopicConfig
}

// TopicConfig is one topic config ("cleanup.policy" = "compact").
type TopicConfig struct {
	Name  string
	Value string
}

// AdminResult is how an admin operation ended.
type AdminResult struct {
	ID         OpID
	Kind       AdminKind
	InvokeNs   int64
	CompleteNs int64
	// ErrorCode is Kafka's error code, 0 on success; a timeout is REQUEST_TIMED_OUT.
	ErrorCode int16
	// Err is "" on success, else the error's name with the broker's message or the reason.
	Err string
	// TopicID is the created topic's id (CreateTopics v7+).
	TopicID [16]byte
	// Metadata is the broker's answer to an AdminMetadata operation.
	Metadata *kmsg.MetadataResponse
	// Offset, Timestamp and LeaderEpoch answer an AdminListOffsets operation.
	Offset      int64
	Timestamp   int64
	LeaderEpoch int32
	// PartitionErrors answer AdminElectLeaders and AdminReassign: each partition's error code
	// (ELECTION_NOT_NEEDED and the like are answers, not failures of the operation).
	PartitionErrors []PartitionError
}

// PartitionError is one partition's error code in an admin answer.
type PartitionError struct {
	Partition int32
	ErrorCode int16
}

// Election types of ElectLeaders (KIP-460).
const (
	ElectPreferred int8 = 0
	ElectUnclean   int8 = 1
)

// adminOp is an admin operation in progress.
type adminOp struct {
	result     AdminResult
	deadlineNs int64
	inflight   bool
	retryNs    int64
	lastErr    string
	sentOnce   bool // an attempt reached a connection: a lost one may have taken effect
	done       bool
	staleMark  int64 // see metadata.staleMark

	create    TopicSpec
	topics    []string // AdminMetadata; nil asks for every topic
	topic     string   // AdminListOffsets
	partition int32
	timestamp int64

	partitions   []int32 // AdminElectLeaders, AdminReassign: partitions of topic
	electionType int8
	replicas     [][]int32 // AdminReassign: each partition's target replicas (nil cancels)
}

// CreateTopic creates a topic; the result comes in a later Ready's AdminCompleted. A retry
// after a lost request may answer TOPIC_ALREADY_EXISTS for the topic the first attempt created,
// as with Kafka's admin client.
func (c *Client) CreateTopic(spec TopicSpec, nowNs int64) (OpID, Ready) {
	a := c.newAdmin(AdminCreateTopic, nowNs)
	a.create = spec
	a.create.Configs = slices.Clone(spec.Configs)
	if err := validTopic(spec.Name); err != "" {
		c.finishAdmin(a, 17, "INVALID_TOPIC_EXCEPTION: "+err) // INVALID_TOPIC_EXCEPTION
		return a.result.ID, c.finish()
	}
	return c.admitAdmin(a)
}

// Metadata asks a broker for the cluster's metadata for topics (nil: every topic).
func (c *Client) Metadata(topics []string, nowNs int64) (OpID, Ready) {
	a := c.newAdmin(AdminMetadata, nowNs)
	if topics != nil {
		a.topics = slices.Clone(topics)
	}
	return c.admitAdmin(a)
}

// ListOffsets asks a partition's leader for the offset at timestamp (ListOffsetsLatest,
// ListOffsetsEarliest, or a time in Unix milliseconds).
func (c *Client) ListOffsets(topic string, partition int32, timestamp int64, nowNs int64) (OpID, Ready) {
	a := c.newAdmin(AdminListOffsets, nowNs)
	a.topic, a.partition, a.timestamp = topic, partition, timestamp
	if reason := c.admit(topic, partition); reason != "" {
		c.finishAdmin(a, errUnknownTopicOrPartition, reason)
		return a.result.ID, c.finish()
	}
	c.admins = append(c.admins, a)
	return a.result.ID, c.finish()
}

// ElectLeaders asks the controller to elect leaders (ElectPreferred or ElectUnclean) for
// partitions of topic; each partition's answer is in the result's PartitionErrors.
func (c *Client) ElectLeaders(topic string, partitions []int32, electionType int8, nowNs int64) (OpID, Ready) {
	a := c.newAdmin(AdminElectLeaders, nowNs)
	a.topic, a.partitions, a.electionType = topic, slices.Clone(partitions), electionType
	return c.admitAdmin(a)
}

// Reassign asks the controller to move partitions of topic to replicas (one list per
// partition, the first the preferred leader; nil cancels a reassignment in progress), as
// AlterPartitionReassignments (KIP-455); each partition's answer is in PartitionErrors.
func (c *Client) Reassign(topic string, partitions []int32, replicas [][]int32, nowNs int64) (OpID, Ready) {
	a := c.newAdmin(AdminReassign, nowNs)
	a.topic, a.partitions = topic, slices.Clone(partitions)
	for _, r := range replicas {
		a.replicas = append(a.replicas, slices.Clone(r))
	}
	return c.admitAdmin(a)
}

// controllerConn is where controller requests go: the controller Metadata names when it is
// known (KRaft brokers forward them anyway), else the least loaded broker.
func (c *Client) controllerConn() *conn {
	if _, ok := c.meta.brokerAddr(c.meta.controller); ok {
		return c.nodeConn(c.meta.controller)
	}
	return c.anyConn()
}

// newAdmin starts an admin operation, counted as pending.
func (c *Client) newAdmin(kind AdminKind, nowNs int64) *adminOp {
	c.begin(nowNs)
	c.pending++
	return &adminOp{
		result:     AdminResult{ID: c.newOpID(), Kind: kind, InvokeNs: c.nowNs, Offset: -1, Timestamp: -1, LeaderEpoch: -1},
		deadlineNs: c.nowNs + c.cfg.APITimeoutNs,
		staleMark:  -1,
	}
}

// admitAdmin queues a, unless the pending limit is reached.
func (c *Client) admitAdmin(a *adminOp) (OpID, Ready) {
	if c.pending > c.cfg.PendingOpsMax {
		c.finishAdmin(a, errRequestTimedOut, fmt.Sprintf("client: %d operations pending, the limit", c.cfg.PendingOpsMax))
		return a.result.ID, c.finish()
	}
	c.admins = append(c.admins, a)
	return a.result.ID, c.finish()
}

// sendAdmins sends every admin operation that is due and has a connection.
func (c *Client) sendAdmins() {
	for _, a := range c.admins {
		if a.done || a.inflight || a.retryNs > c.nowNs || !c.meta.fresh(a.staleMark) {
			continue
		}
		c.trySendAdmin(a)
	}
	c.admins = slices.DeleteFunc(c.admins, func(a *adminOp) bool { return a.done })
}

// trySendAdmin sends a if its broker is reachable.
func (c *Client) trySendAdmin(a *adminOp) {
	var cn *conn
	var key int16
	var body kmsg.Request
	switch a.result.Kind {
	case AdminCreateTopic:
		// Kafka wants CreateTopics at the controller; brokers of KRaft clusters forward it.
		cn = c.controllerConn()
		key, body = keyCreateTopics, c.createTopicsRequest(a)
	case AdminElectLeaders:
		cn = c.controllerConn()
		req := kmsg.NewPtrElectLeadersRequest()
		req.ElectionType = a.electionType
		t := kmsg.NewElectLeadersRequestTopic()
		t.Topic = a.topic
		t.Partitions = slices.Clone(a.partitions)
		req.Topics = append(req.Topics, t)
		req.TimeoutMillis = int32(c.cfg.RequestTimeoutNs / 1_000_000)
		key, body = keyElectLeaders, req
	case AdminReassign:
		cn = c.controllerConn()
		req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
		t := kmsg.NewAlterPartitionAssignmentsRequestTopic()
		t.Topic = a.topic
		for i, p := range a.partitions {
			rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
			rp.Partition, rp.Replicas = p, slices.Clone(a.replicas[i])
			t.Partitions = append(t.Partitions, rp)
		}
		req.Topics = append(req.Topics, t)
		req.TimeoutMillis = int32(c.cfg.RequestTimeoutNs / 1_000_000)
		key, body = keyAlterPartitionReassignments, req
	case AdminMetadata:
		cn = c.anyConn()
		req := kmsg.NewPtrMetadataRequest()
		if a.topics != nil {
			req.Topics = make([]kmsg.MetadataRequestTopic, 0, len(a.topics))
			for _, name := range a.topics {
				t := kmsg.NewMetadataRequestTopic()
				t.Topic = kmsg.StringPtr(name)
				req.Topics = append(req.Topics, t)
			}
		}
		req.AllowAutoTopicCreation = false
		key, body = keyMetadata, req
	case AdminListOffsets:
		rt, code := c.routeFor(a.topic, a.partition)
		if code != errNone {
			a.lastErr = ErrorName(code)
			return
		}
		cn = c.nodeConn(rt.leader)
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		t := kmsg.NewListOffsetsRequestTopic()
		t.Topic = a.topic
		p := kmsg.NewListOffsetsRequestTopicPartition()
		p.Partition = a.partition
		p.CurrentLeaderEpoch = rt.leaderEpoch
		p.Timestamp = a.timestamp
		p.MaxNumOffsets = 1
		t.Partitions = append(t.Partitions, p)
		req.Topics = append(req.Topics, t)
		req.TimeoutMillis = int32(c.cfg.RequestTimeoutNs / 1_000_000)
		key, body = keyListOffsets, req
	default:
		panic(fmt.Sprintf("client: admin kind %d", a.result.Kind))
	}
	if !c.canSend(cn) {
		return
	}
	version, ok := cn.versions.get(key)
	if !ok {
		c.finishAdmin(a, errUnsupportedVersion, fmt.Sprintf("UNSUPPORTED_VERSION: the broker speaks no %s version the client does", kmsg.NameForKey(key)))
		return
	}
	a.inflight = true
	a.sentOnce = true
	c.send(cn, body, version, &request{kind: reqAdmin, admin: a, deadlineNs: c.requestDeadline()}, true)
}

// createTopicsRequest builds a's CreateTopics request.
func (c *Client) createTopicsRequest(a *adminOp) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic = a.create.Name
	t.NumPartitions = a.create.Partitions
	t.ReplicationFactor = a.create.ReplicationFactor
	for _, cfg := range a.create.Configs {
		rc := kmsg.NewCreateTopicsRequestTopicConfig()
		rc.Name = cfg.Name
		rc.Value = kmsg.StringPtr(cfg.Value)
		t.Configs = append(t.Configs, rc)
	}
	req.Topics = append(req.Topics, t)
	req.TimeoutMillis = int32(c.cfg.RequestTimeoutNs / 1_000_000)
	return req
}

// handleAdmin handles the answer to a's request.
func (c *Client) handleAdmin(a *adminOp, resp kmsg.Response) {
	a.inflight = false
	switch resp := resp.(type) {
	case *kmsg.CreateTopicsResponse:
		for i := range resp.Topics {
			t := &resp.Topics[i]
			if t.Topic != a.create.Name {
				continue
			}
			if t.ErrorCode != errNone {
				c.adminError(a, t.ErrorCode, derefOr(t.ErrorMessage))
				return
			}
			a.result.TopicID = t.TopicID
			if _, tracked := c.meta.topics[a.create.Name]; tracked {
				c.meta.want()
			}
			c.finishAdmin(a, errNone, "")
			return
		}
		c.retryAdmin(a, errUnknownServerError, "the CreateTopics response does not mention the topic")
	case *kmsg.MetadataResponse:
		if resp.ErrorCode != errNone {
			c.adminError(a, resp.ErrorCode, "")
			return
		}
		c.applyMetadata(resp, false)
		a.result.Metadata = resp
		c.finishAdmin(a, errNone, "")
	case *kmsg.ListOffsetsResponse:
		for ti := range resp.Topics {
			t := &resp.Topics[ti]
			if t.Topic != a.topic {
				continue
			}
			for pi := range t.Partitions {
				p := &t.Partitions[pi]
				if p.Partition != a.partition {
					continue
				}
				if p.ErrorCode != errNone {
					c.adminError(a, p.ErrorCode, "")
					return
				}
				a.result.Offset, a.result.Timestamp, a.result.LeaderEpoch = p.Offset, p.Timestamp, p.LeaderEpoch
				if resp.Version < 4 {
					a.result.LeaderEpoch = -1
				}
				c.finishAdmin(a, errNone, "")
				return
			}
		}
		c.retryAdmin(a, errUnknownServerError, "the ListOffsets response does not mention the partition")
	case *kmsg.ElectLeadersResponse:
		if resp.ErrorCode != errNone {
			c.adminError(a, resp.ErrorCode, "")
			return
		}
		for _, t := range resp.Topics {
			if t.Topic != a.topic {
				continue
			}
			for _, p := range t.Partitions {
				a.result.PartitionErrors = append(a.result.PartitionErrors, PartitionError{Partition: p.Partition, ErrorCode: p.ErrorCode})
			}
		}
		c.finishAdmin(a, errNone, "")
	case *kmsg.AlterPartitionAssignmentsResponse:
		if resp.ErrorCode != errNone {
			c.adminError(a, resp.ErrorCode, derefOr(resp.ErrorMessage))
			return
		}
		for _, t := range resp.Topics {
			if t.Topic != a.topic {
				continue
			}
			for _, p := range t.Partitions {
				a.result.PartitionErrors = append(a.result.PartitionErrors, PartitionError{Partition: p.Partition, ErrorCode: p.ErrorCode})
			}
		}
		c.finishAdmin(a, errNone, "")
	default:
		panic(fmt.Sprintf("client: admin answered with %T", resp))
	}
}

// adminError retries a retriable error and ends a on any other.
func (c *Client) adminError(a *adminOp, code int16, detail string) {
	if errorRetriable(code) {
		c.retryAdmin(a, code, detail)
		return
	}
	c.finishAdmin(a, code, errorText(code, detail))
}

// retryAdmin schedules another attempt.
func (c *Client) retryAdmin(a *adminOp, code int16, detail string) {
	a.inflight = false
	a.lastErr = errorText(code, detail)
	a.retryNs = c.nowNs + c.backoff()
	if errorNeedsMetadata(code) {
		a.staleMark = c.meta.staleMark()
	}
}

// finishAdmin completes a.
func (c *Client) finishAdmin(a *adminOp, code int16, reason string) {
	if c.pending <= 0 {
		panic("client: completing an admin operation with none pending")
	}
	c.pending--
	a.done = true
	a.result.ErrorCode = code
	a.result.Err = reason
	a.result.CompleteNs = c.nowNs
	c.out.AdminCompleted = append(c.out.AdminCompleted, a.result)
}

// expireAdmins ends admin operations past their timeout that are not in flight.
func (c *Client) expireAdmins() {
	for _, a := range c.admins {
		if a.done || a.inflight || a.deadlineNs > c.nowNs {
			continue
		}
		reason := "timeout"
		if a.lastErr != "" {
			reason += ": " + a.lastErr
		}
		if a.sentOnce && a.result.Kind == AdminCreateTopic {
			reason += " (an attempt may have created the topic)"
		}
		c.finishAdmin(a, errRequestTimedOut, reason)
	}
	c.admins = slices.DeleteFunc(c.admins, func(a *adminOp) bool { return a.done })
}

// derefOr returns *s, or "" for nil.
func derefOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
