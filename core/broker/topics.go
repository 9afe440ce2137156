package broker

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/core/uuid"
)

// Kafka's internal topics: clients may not create them (the broker does, later issues).
var internalTopics = []string{"__consumer_offsets", "__transaction_state", storage.MetadataTopic}

// topicState is a served topic: its id and effective config.
type topicState struct {
	name          string
	id            uuid.UUID
	cfg           config.TopicConfig
	logCfg        log.Config
	logAppendTime bool // message.timestamp.type=LogAppendTime
	relaxed       bool // Kafka's flush behaviour (flush.go)
}

// metaActionKind is what the Node does to its logs once metadata records commit.
type metaActionKind int

const (
	// actionSyncLogs creates the topic's missing partition logs and applies its config to
	// every log of it (CreateTopics, CreatePartitions, config changes).
	actionSyncLogs metaActionKind = iota + 1
	// actionDeleteLogs deletes the logs of partitions (DeleteTopics).
	actionDeleteLogs
)

// metaAction is log work waiting for metadata records to be durable: logs follow the
// committed metadata, never records a crash could take back.
type metaAction struct {
	kind       metaActionKind
	topic      string
	partitions []storage.TopicPartition // actionDeleteLogs
	upTo       record.Offset            // committed offset that covers the records
}

// createLogs creates (or finds) the logs of the partitions of topic led by this node, as
// img states them, and caches the topic's config.
func (n *Node) createLogs(img *metadata.Image, name string) error {
	t, ok := img.TopicByName(name)
	if !ok {
		return nil // removed again before it committed
	}
	overrides := img.Config(metadata.ResourceTopic, name)
	tc, err := config.EffectiveTopicConfig(&n.cfg.Broker, overrides)
	if err != nil {
		return fmt.Errorf("broker: topic %s: stored config: %w", name, err)
	}
	logCfg, err := tc.LogConfig(n.cfg.LogBase)
	if err != nil {
		return fmt.Errorf("broker: topic %s: %w", name, err)
	}
	n.topics[name] = &topicState{
		name: name, id: t.ID, cfg: tc, logCfg: logCfg,
		logAppendTime: tc.MessageTimestampType == "LogAppendTime",
		relaxed:       n.relaxedFlush(overrides),
	}
	for _, p := range t.Partitions() {
		if !slices.Contains(p.Replicas, n.cfg.Broker.NodeID) {
			continue
		}
		tp := storage.TopicPartition{Topic: name, Partition: p.ID}
		n.mayNeedSync(tp) // a new log's directory entries want a sync
		if l, ok := n.logs.GetLog(tp); ok {
			if l.Config() != logCfg {
				if err := l.SetConfig(logCfg); err != nil {
					return fmt.Errorf("broker: configuring the log of %s: %w", tp, err)
				}
			}
			continue
		}
		l, err := n.logs.CreateLog(tp, t.ID, logCfg)
		if err != nil {
			return fmt.Errorf("broker: creating the log of %s: %w", tp, err)
		}
		if _, err := n.loadProducerState(tp, l); err != nil {
			return err
		}
	}
	return nil
}

// deleteLogs deletes the logs of a deleted topic; the file removals go to the driver.
func (n *Node) deleteLogs(topic string, tps []storage.TopicPartition) error {
	if ts, ok := n.topics[topic]; ok {
		if _, still := n.meta.Committed().TopicByID(ts.id); !still {
			delete(n.topics, topic)
		}
	}
	for _, tp := range tps {
		ops, err := n.logs.DeleteLog(tp)
		if err != nil {
			return fmt.Errorf("broker: deleting the log of %s: %w", tp, err)
		}
		n.addFileOps(ops)
		delete(n.flushes, tp)
		delete(n.producers, tp)
		n.partitionGone(tp)
	}
	return nil
}

// appendMetadata appends records to the metadata log, to be acted on by action once durable,
// and returns the committed offset that will cover them.
func (n *Node) appendMetadata(records []metadata.Record, action metaAction) (record.Offset, *topicError) {
	res, err := n.meta.Append(records, 0, n.now.WallMs)
	if err != nil {
		if errors.Is(err, metadata.ErrTooManyPending) {
			// The metadata log is behind on syncs: a retriable answer lets the client come back.
			return 0, &topicError{errRequestTimedOut, "the metadata log is busy; retry"}
		}
		return 0, &topicError{errPolicyViolation, err.Error()}
	}
	if res.SyncNeeded {
		n.addSync(pendingSync{metadata: true, req: res.Sync})
	}
	action.upTo = res.LastOffset + 1
	n.metaActions = append(n.metaActions, action)
	return action.upTo, nil
}

// topicError is a per-topic failure with Kafka's code and message.
type topicError struct {
	code int16
	msg  string
}

func (e *topicError) Error() string { return e.msg }

// validateNewTopicName applies Kafka's rules for a topic to be created: a legal name, not an
// internal one, and no collision with an existing topic once '.' and '_' are treated alike
// (metric names cannot tell them apart).
func validateNewTopicName(img *metadata.Image, name string) *topicError {
	if err := metadata.ValidateTopicName(name); err != nil {
		return &topicError{errInvalidTopic, err.Error()}
	}
	if slices.Contains(internalTopics, name) {
		return &topicError{errInvalidRequest, fmt.Sprintf("Creation of internal topic %s is not allowed.", name)}
	}
	if strings.ContainsAny(name, "._") {
		unified := unifyCollision(name)
		for _, t := range img.Topics() {
			if t.Name != name && unifyCollision(t.Name) == unified {
				return &topicError{errInvalidTopic, fmt.Sprintf("Topic '%s' collides with existing topic: %s", name, t.Name)}
			}
		}
	}
	return nil
}

func unifyCollision(name string) string { return strings.ReplaceAll(name, ".", "_") }

// newTopic is a validated topic creation.
type newTopic struct {
	name     string
	replicas [][]int32
	configs  map[string]string
	tc       config.TopicConfig
}

// planTopic validates one topic creation against img (the latest image, so a topic being
// created is already there): partitions and replication factor (-1 = the broker defaults),
// or an explicit assignment, and the config overrides.
func (n *Node) planTopic(img *metadata.Image, name string, partitions int32, replicationFactor int16,
	assignment [][]int32, configs map[string]string) (newTopic, *topicError) {
	if err := validateNewTopicName(img, name); err != nil {
		return newTopic{}, err
	}
	if _, ok := img.TopicByName(name); ok {
		return newTopic{}, &topicError{errTopicAlreadyExists, fmt.Sprintf("Topic '%s' already exists.", name)}
	}
	brokers := img.Brokers()
	var replicas [][]int32
	if len(assignment) > 0 {
		if partitions != -1 || replicationFactor != -1 {
			return newTopic{}, &topicError{errInvalidRequest, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time."}
		}
		replicas = assignment
		for p, rs := range replicas {
			if len(rs) == 0 {
				return newTopic{}, &topicError{errInvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes an empty replica list for partition %d.", p)}
			}
			for i, r := range rs {
				if _, ok := img.Broker(r); !ok {
					return newTopic{}, &topicError{errInvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes broker %d, but no broker with that id is registered.", r)}
				}
				if slices.Contains(rs[:i], r) {
					return newTopic{}, &topicError{errInvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes the broker %d more than once.", r)}
				}
			}
		}
	} else {
		if partitions == -1 {
			partitions = n.cfg.Broker.NumPartitions
		}
		if replicationFactor == -1 {
			replicationFactor = n.cfg.Broker.DefaultReplicationFactor
		}
		if partitions <= 0 {
			return newTopic{}, &topicError{errInvalidPartitions, "Number of partitions was set to an invalid non-positive value."}
		}
		if replicationFactor <= 0 {
			return newTopic{}, &topicError{errInvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value."}
		}
		if int(replicationFactor) > len(brokers) {
			return newTopic{}, &topicError{errInvalidReplicationFactor, fmt.Sprintf(
				"Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only %d broker(s) are registered.",
				replicationFactor, replicationFactor, len(brokers))}
		}
		replicas = make([][]int32, partitions)
		for p := range replicas {
			// Round-robin from the partition number, as Kafka's StripedReplicaPlacer starts
			// each partition on the next broker (a single node leads them all).
			rs := make([]int32, replicationFactor)
			for i := range rs {
				rs[i] = brokers[(p+i)%len(brokers)].ID
			}
			replicas[p] = rs
		}
	}
	keys := slices.Sorted(maps.Keys(configs))
	for _, k := range keys {
		if err := config.ValidateTopicConfig(k, configs[k]); err != nil {
			return newTopic{}, &topicError{errInvalidConfig, fmt.Sprintf("Invalid config value for resource ConfigResource(type=TOPIC, name='%s'): %v", name, err)}
		}
	}
	tc, err := config.EffectiveTopicConfig(&n.cfg.Broker, configs)
	if err != nil {
		return newTopic{}, &topicError{errInvalidConfig, err.Error()}
	}
	if _, err := tc.LogConfig(n.cfg.LogBase); err != nil {
		return newTopic{}, &topicError{errInvalidConfig, err.Error()}
	}
	return newTopic{name: name, replicas: replicas, configs: configs, tc: tc}, nil
}

// commitTopic appends nt's records to the metadata log; its logs are created once they are
// durable. It returns the committed offset that will cover the records.
func (n *Node) commitTopic(nt newTopic) (uuid.UUID, record.Offset, *topicError) {
	id := uuid.FromRand(n.rng)
	for id == uuid.Zero {
		id = uuid.FromRand(n.rng)
	}
	records, err := metadata.NewTopicRecords(nt.name, id, nt.replicas, nt.configs)
	if err != nil {
		return uuid.Zero, 0, &topicError{errInvalidRequest, err.Error()}
	}
	upTo, terr := n.appendMetadata(records, metaAction{kind: actionSyncLogs, topic: nt.name})
	if terr != nil {
		return uuid.Zero, 0, terr
	}
	return id, upTo, nil
}
