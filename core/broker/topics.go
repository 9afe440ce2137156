package broker

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/core/uuid"
)

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
	tc, err := controller.EffectiveTopicConfig(&n.cfg.Broker, img, n.cfg.Broker.NodeID, overrides)
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
		relaxed:       n.relaxedFlush(controller.MergedTopicOverrides(img, n.cfg.Broker.NodeID, overrides)),
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

// proposeRecords appends a controller Result's records to the metadata log as one proposal
// and schedules the log work they imply for when they are committed. It returns the committed
// offset that will cover them, or the code and message to answer instead when they cannot be
// appended.
func (n *Node) proposeRecords(records []metadata.Record) (record.Offset, int16, string) {
	before := n.meta.Latest()
	res, err := n.meta.Append(records, 0, n.now.WallMs)
	if err != nil {
		if errors.Is(err, metadata.ErrTooManyPending) {
			// The metadata log is behind on syncs: a retriable answer lets the client come back.
			return 0, errRequestTimedOut, "the metadata log is busy; retry"
		}
		// The controller decided on the latest image, so a refused record is a bug; the
		// client gets the error rather than the node stopping.
		return 0, errUnknownServerError, err.Error()
	}
	if res.SyncNeeded {
		n.addSync(pendingSync{metadata: true, req: res.Sync})
	}
	upTo := res.LastOffset + 1
	n.metaActions = append(n.metaActions, logActions(before, n.meta.Latest(), records, n.cfg.Broker.NodeID, upTo)...)
	return upTo, errNone, ""
}

// logActions lists what the Node does to its logs once records (appended onto before, giving
// after) commit: a topic created, grown or reconfigured has its logs synced, a removed one
// deleted, and a dynamic broker config of this node or of the cluster resyncs every topic.
func logActions(before, after *metadata.Image, records []metadata.Record, nodeID int32, upTo record.Offset) []metaAction {
	var out []metaAction
	var synced []string
	syncTopic := func(name string) {
		if !slices.Contains(synced, name) {
			synced = append(synced, name)
			out = append(out, metaAction{kind: actionSyncLogs, topic: name, upTo: upTo})
		}
	}
	nameOf := func(id uuid.UUID) (string, bool) {
		if t, ok := after.TopicByID(id); ok {
			return t.Name, true
		}
		return "", false
	}
	for _, r := range records {
		switch r := r.(type) {
		case *metadata.TopicRecord:
			syncTopic(r.Name)
		case *metadata.PartitionRecord:
			if name, ok := nameOf(r.TopicID); ok {
				syncTopic(name)
			}
		case *metadata.ConfigRecord:
			switch {
			case r.ResourceType == metadata.ResourceTopic:
				syncTopic(r.ResourceName)
			case r.ResourceType == metadata.ResourceBroker && (r.ResourceName == "" || r.ResourceName == strconv.Itoa(int(nodeID))):
				for _, t := range after.Topics() {
					syncTopic(t.Name)
				}
			}
		case *metadata.RemoveTopicRecord:
			t, ok := before.TopicByID(r.TopicID)
			if !ok {
				continue
			}
			var tps []storage.TopicPartition
			for _, p := range t.Partitions() {
				tps = append(tps, storage.TopicPartition{Topic: t.Name, Partition: p.ID})
			}
			out = append(out, metaAction{kind: actionDeleteLogs, topic: t.Name, partitions: tps, upTo: upTo})
		}
	}
	return out
}

// commitResult proposes a controller Result and answers its Response once the records are
// durable, or at once when there are none. When they cannot be appended, or are not durable
// within timeoutMs (≤ 0: no wait, as Kafka), the entries that succeeded carry the error instead
// (timedOutMsg for a timeout); the records may still commit.
func (n *Node) commitResult(cs *conn, s *slot, res controller.Result, timeoutMs int32, timedOutMsg string) {
	if len(res.Records) == 0 {
		n.finish(cs, s, res.Response, nil)
		return
	}
	upTo, code, msg := n.proposeRecords(res.Records)
	if code != errNone {
		failSucceeded(res.Response, code, msg)
		n.finish(cs, s, res.Response, nil)
		return
	}
	n.answerWhenCommitted(cs, s, res.Response, true, upTo, timeoutMs, func() {
		failSucceeded(res.Response, errRequestTimedOut, timedOutMsg)
	})
}

// failSucceeded gives every entry of an admin response that succeeded the error code and
// message: its records did not become durable in time.
func failSucceeded(resp kmsg.Response, code int16, msg string) {
	set := func(errorCode *int16, errorMessage **string) {
		if *errorCode == errNone {
			*errorCode, *errorMessage = code, strp(msg)
		}
	}
	switch r := resp.(type) {
	case *kmsg.CreateTopicsResponse:
		for i := range r.Topics {
			set(&r.Topics[i].ErrorCode, &r.Topics[i].ErrorMessage)
		}
	case *kmsg.DeleteTopicsResponse:
		for i := range r.Topics {
			set(&r.Topics[i].ErrorCode, &r.Topics[i].ErrorMessage)
		}
	case *kmsg.CreatePartitionsResponse:
		for i := range r.Topics {
			set(&r.Topics[i].ErrorCode, &r.Topics[i].ErrorMessage)
		}
	case *kmsg.AlterConfigsResponse:
		for i := range r.Resources {
			set(&r.Resources[i].ErrorCode, &r.Resources[i].ErrorMessage)
		}
	case *kmsg.IncrementalAlterConfigsResponse:
		for i := range r.Resources {
			set(&r.Resources[i].ErrorCode, &r.Resources[i].ErrorMessage)
		}
	default:
		panic(fmt.Sprintf("broker: invariant: failSucceeded on a %T", resp))
	}
}
