package controller

import (
	"fmt"
	"slices"

	"github.com/weirdata/weir/core/metadata"
)

// This file is leader election and ISR change for broker-lifecycle events, as Kafka's
// ReplicationControlManager.generateLeaderAndIsrUpdates and PartitionChangeBuilder do them.

// metadata.version levels that change what the controller writes.
const (
	// mvLeaderEpochBumpOnIsrShrinkBefore: before 3.6-IV0 an ISR shrink also bumps the leader
	// epoch (KAFKA-15021).
	mvLeaderEpochBumpOnIsrShrinkBefore int16 = 12
	// mvMigration: 3.4-IV0, RegisterBrokerRecord v2.
	mvMigration int16 = 8
	// mvDirectoryAssignment: 3.7-IV2, RegisterBrokerRecord v3 with log dirs and
	// PartitionChangeRecord v1 (KIP-858).
	mvDirectoryAssignment int16 = 17
)

// uncleanLeaderElectionKey is the topic (and broker) config that allows electing a leader
// outside the ISR.
const uncleanLeaderElectionKey = "unclean.leader.election.enable"

// proposal collects the records of one command while keeping an image with them applied, so
// each decision sees the ones before it (fencing two brokers never elects the first as leader
// for the second's partitions). Every record is replayed as it is added: a record that does not
// replay is a controller bug.
type proposal struct {
	builder *metadata.Builder
	img     *metadata.Image // nil when records were added since it was built
	records []metadata.Record
}

func newProposal(img *metadata.Image) *proposal {
	return &proposal{builder: img.NewBuilder(), img: img}
}

func (p *proposal) add(r metadata.Record) {
	if err := p.builder.Replay(r); err != nil {
		panic(fmt.Sprintf("controller: invariant broken: a generated record does not replay: %v", err))
	}
	p.records = append(p.records, r)
	p.img = nil
}

// image returns the image with every record added so far applied.
func (p *proposal) image() *metadata.Image {
	if p.img == nil {
		p.img = p.builder.Build()
	}
	return p.img
}

// isActive is Kafka's ClusterControlManager.isActive: registered, unfenced and not in
// controlled shutdown. Only an active broker is elected leader.
func isActive(img *metadata.Image, id int32) bool {
	b, ok := img.Broker(id)
	return ok && !b.Fenced && !b.InControlledShutdown
}

// uncleanElectionEnabled is unclean.leader.election.enable for a topic: the topic's override,
// else the cluster-wide dynamic broker default, else server.properties.
func (c *Controller) uncleanElectionEnabled(img *metadata.Image, topic string) bool {
	if v, ok := img.ConfigValue(metadata.ResourceTopic, topic, uncleanLeaderElectionKey); ok {
		return v == "true"
	}
	if v, ok := img.ConfigValue(metadata.ResourceBroker, "", uncleanLeaderElectionKey); ok {
		return v == "true"
	}
	return c.cfg.Broker.UncleanLeaderElectionEnable
}

// minInsyncReplicas is a topic's effective min.insync.replicas, as the controller resolves
// topic configs (Kafka's getTopicEffectiveMinIsr); Kafka's default when the overrides do not
// parse, which their validation on the way in rules out.
func (c *Controller) minInsyncReplicas(img *metadata.Image, topic string) int32 {
	tc, err := EffectiveTopicConfig(&c.cfg.Broker, img, c.cfg.NodeID, img.Config(metadata.ResourceTopic, topic))
	if err != nil {
		return 1
	}
	return tc.MinInsyncReplicas
}

// updateLeadersAndISRs is Kafka's generateLeaderAndIsrUpdates over the partitions that match:
// brokerToRemove (or metadata.NoLeader) leaves every ISR and is never elected; brokerToAdd (or
// metadata.NoLeader) may be elected even while the image still shows it fenced;
// uncleanShutdown (or metadata.NoLeader), a broker back from an unclean restart, leaves every
// ISR and ELR and is never elected. Partitions are visited in topic-name then partition order.
func (c *Controller) updateLeadersAndISRs(p *proposal, brokerToRemove, brokerToAdd, uncleanShutdown int32, match func(*metadata.Partition) bool) {
	img := p.image()
	acceptable := func(id int32) bool {
		return id != brokerToRemove && id != uncleanShutdown && (id == brokerToAdd || isActive(img, id))
	}
	for _, t := range img.Topics() {
		unclean := c.uncleanElectionEnabled(img, t.Name)
		for _, part := range t.Partitions() {
			if !match(part) {
				continue
			}
			b := c.newPartitionChangeBuilder(img, t, part, acceptable)
			if unclean {
				b.election = electionUnclean
			}
			b.uncleanShutdown = uncleanShutdown
			b.targetISR = slices.DeleteFunc(b.targetISR, func(id int32) bool { return id == brokerToRemove || id == uncleanShutdown })
			if r := b.build(); r != nil {
				p.add(r)
			}
		}
	}
}

// partitionChangeRecordVersion is Kafka's MetadataVersion.partitionChangeRecordVersion.
func partitionChangeRecordVersion(mv int16) int16 {
	if mv >= metadata.MetadataVersionELR {
		return 2
	}
	if mv >= mvDirectoryAssignment {
		return 1
	}
	return 0
}

// registerBrokerRecordVersion is Kafka's MetadataVersion.registerBrokerRecordVersion.
func registerBrokerRecordVersion(mv int16) int16 {
	switch {
	case mv >= mvDirectoryAssignment:
		return 3
	case mv >= mvMigration:
		return 2
	default:
		return 1
	}
}

// leadsAny reports whether broker id leads a partition.
func leadsAny(img *metadata.Image, id int32) bool {
	for _, t := range img.Topics() {
		for _, part := range t.Partitions() {
			if part.Leader == id {
				return true
			}
		}
	}
	return false
}

// moveOffBroker removes broker id from every ISR and moves its leaderships (Kafka's
// handleBrokerFenced and handleBrokerInControlledShutdown, less their registration record).
// With eligible leader replicas an ISR may empty: its last member joins the ELR.
func (c *Controller) moveOffBroker(p *proposal, id int32) {
	c.updateLeadersAndISRs(p, id, metadata.NoLeader, metadata.NoLeader, func(part *metadata.Partition) bool {
		return slices.Contains(part.ISR, id)
	})
}

// dropUncleanBroker removes a broker back from an unclean restart from every ISR and every
// ELR (Kafka's handleBrokerUncleanShutdown): its log may lack records the partition
// committed, so it must not be elected on its earlier standing. Without eligible leader
// replicas it is only moved off, as a fenced broker is.
func (c *Controller) dropUncleanBroker(p *proposal, id int32) {
	if !p.image().ELREnabled() {
		c.moveOffBroker(p, id)
		return
	}
	c.updateLeadersAndISRs(p, metadata.NoLeader, metadata.NoLeader, id, func(part *metadata.Partition) bool {
		return slices.Contains(part.ISR, id) || slices.Contains(part.EligibleLeaderReplicas, id)
	})
}

// fenceBroker writes what fences a broker: its partitions first, then the registration change
// (Kafka's handleBrokerFenced).
func (c *Controller) fenceBroker(p *proposal, id int32) {
	b, ok := p.image().Broker(id)
	if !ok {
		panic(fmt.Sprintf("controller: invariant broken: fencing unregistered broker %d", id))
	}
	c.moveOffBroker(p, id)
	p.add(metadata.NewBrokerFenceRecord(id, b.Epoch))
}

// unfenceBroker writes the registration change, then elects the broker where a partition has no
// leader and it is in the ISR, or in the ELR of an empty ISR (Kafka's handleBrokerUnfenced).
func (c *Controller) unfenceBroker(p *proposal, id int32, epoch int64) {
	p.add(metadata.NewBrokerUnfenceRecord(id, epoch))
	c.updateLeadersAndISRs(p, metadata.NoLeader, id, metadata.NoLeader, func(part *metadata.Partition) bool {
		return part.Leader == metadata.NoLeader
	})
}
