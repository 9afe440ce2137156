package broker

import (
	"fmt"
	"slices"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
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
		if _, still := n.img.TopicByID(ts.id); !still {
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
		n.forgetReplica(tp)
		n.partitionGone(tp)
	}
	return nil
}
