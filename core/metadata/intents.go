package metadata

import (
	"fmt"
	"maps"
	"slices"

	"github.com/weirdata/weir/core/uuid"
)

// This file turns intents into records, with no controller logic: no placement, no checks
// against the image beyond a record's own sense. The single-node broker (and later the
// controller) decides; these build the records Kafka's controller would write for the decision.

// BootstrapRecords are the records a new metadata log starts with: the metadata.version, which
// Kafka requires before any other record, then eligible.leader.replicas.version 1 where the
// metadata.version supports it.
func BootstrapRecords(metadataVersion int16) []Record {
	out := []Record{&FeatureLevelRecord{Name: MetadataVersionFeature, FeatureLevel: metadataVersion}}
	if metadataVersion >= MetadataVersionELR {
		out = append(out, &FeatureLevelRecord{Name: EligibleLeaderReplicasFeature, FeatureLevel: 1})
	}
	return out
}

// NewRegisterBrokerRecord registers broker id with the epoch the controller assigns (Kafka uses
// the offset of this record). The broker declares the SupportedFeatures.
func NewRegisterBrokerRecord(id int32, epoch int64, incarnation UUID, endPoints []BrokerEndpoint, rack *string, logDirs []UUID, fenced bool) *RegisterBrokerRecord {
	return &RegisterBrokerRecord{
		Version:       registerBrokerRecordVersion,
		BrokerID:      id,
		IncarnationID: incarnation,
		BrokerEpoch:   epoch,
		EndPoints:     slices.Clone(endPoints),
		Features:      SupportedFeatures(),
		Rack:          cloneString(rack),
		Fenced:        fenced,
		LogDirs:       slices.Clone(logDirs),
	}
}

// NewTopicRecords returns the records that create a topic, in the order Kafka's controller writes
// them: the TopicRecord, the topic's config overrides (sorted by key), then one PartitionRecord per
// partition. replicas[p] lists partition p's replicas, preferred leader first; each partition
// starts with all replicas in sync, the first as leader, epochs 0, and no log directory assigned.
func NewTopicRecords(name string, id UUID, replicas [][]int32, configs map[string]string) ([]Record, error) {
	if err := ValidateTopicName(name); err != nil {
		return nil, fmt.Errorf("metadata: new topic: %w", err)
	}
	if id == uuid.Zero || id == uuid.One {
		return nil, fmt.Errorf("metadata: new topic %s: reserved id %s", name, id)
	}
	if len(replicas) == 0 {
		return nil, fmt.Errorf("metadata: new topic %s: no partitions", name)
	}
	out := []Record{&TopicRecord{Name: name, TopicID: id}}
	for _, key := range slices.Sorted(maps.Keys(configs)) {
		if key == "" {
			return nil, fmt.Errorf("metadata: new topic %s: empty config name", name)
		}
		value := configs[key]
		out = append(out, &ConfigRecord{ResourceType: ResourceTopic, ResourceName: name, Name: key, Value: &value})
	}
	partitions, err := NewPartitionRecords(id, 0, replicas)
	if err != nil {
		return nil, fmt.Errorf("metadata: new topic %s: %w", name, err)
	}
	return append(out, partitions...), nil
}

// NewPartitionRecords returns PartitionRecords for new partitions first, first+1, ... of a topic
// (CreateTopics, CreatePartitions), each as NewTopicRecords describes.
func NewPartitionRecords(topicID UUID, first int32, replicas [][]int32) ([]Record, error) {
	out := make([]Record, 0, len(replicas))
	for i, assignment := range replicas {
		if len(assignment) == 0 {
			return nil, fmt.Errorf("partition %d has no replicas", first+int32(i))
		}
		directories := make([]UUID, len(assignment))
		for j := range directories {
			directories[j] = DirectoryUnassigned
		}
		r := &PartitionRecord{
			Version:        partitionRecordVersion,
			PartitionID:    first + int32(i),
			TopicID:        topicID,
			Replicas:       slices.Clone(assignment),
			ISR:            slices.Clone(assignment),
			Leader:         assignment[0],
			LeaderEpoch:    0,
			PartitionEpoch: 0,
			Directories:    directories,
		}
		p := &Partition{Replicas: r.Replicas, ISR: r.ISR, Leader: r.Leader, Directories: r.Directories}
		if err := validatePartition(p); err != nil {
			return nil, fmt.Errorf("partition %d: %w", r.PartitionID, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// NewRemoveTopicRecords returns the record that deletes a topic with its partitions and configs.
func NewRemoveTopicRecords(topicID UUID) []Record {
	return []Record{&RemoveTopicRecord{TopicID: topicID}}
}

// NewConfigRecords returns records that set keys and delete others on one resource
// (IncrementalAlterConfigs), sets first, each group sorted by key.
func NewConfigRecords(resourceType ResourceType, resourceName string, set map[string]string, deletes []string) ([]Record, error) {
	if !resourceType.valid() {
		return nil, fmt.Errorf("metadata: config resource type %d", resourceType)
	}
	var out []Record
	for _, key := range slices.Sorted(maps.Keys(set)) {
		if key == "" {
			return nil, fmt.Errorf("metadata: empty config name for %q", resourceName)
		}
		value := set[key]
		out = append(out, &ConfigRecord{ResourceType: resourceType, ResourceName: resourceName, Name: key, Value: &value})
	}
	for _, key := range slices.Sorted(slices.Values(deletes)) {
		if key == "" {
			return nil, fmt.Errorf("metadata: empty config name for %q", resourceName)
		}
		out = append(out, &ConfigRecord{ResourceType: resourceType, ResourceName: resourceName, Name: key})
	}
	return out, nil
}

// NewProducerIdsRecord hands broker brokerID (at brokerEpoch) the block of producer ids below
// nextProducerID, starting at the image's NextProducerID.
func NewProducerIdsRecord(brokerID int32, brokerEpoch, nextProducerID int64) *ProducerIdsRecord {
	return &ProducerIdsRecord{BrokerID: brokerID, BrokerEpoch: brokerEpoch, NextProducerID: nextProducerID}
}

// NewLeaderChangeRecord elects leader (NoLeader for none) with the given ISR (nil keeps it); the
// leader epoch bumps on replay.
func NewLeaderChangeRecord(topicID UUID, partition, leader int32, isr []int32) *PartitionChangeRecord {
	r := NewPartitionChangeRecord(topicID, partition)
	r.Leader = leader
	r.ISR = slices.Clone(isr)
	return r
}

// NewUnregisterBrokerRecord removes broker id's registration at epoch.
func NewUnregisterBrokerRecord(id int32, epoch int64) *UnregisterBrokerRecord {
	return &UnregisterBrokerRecord{BrokerID: id, BrokerEpoch: epoch}
}

// NewBrokerFenceRecord fences broker id at epoch: a BrokerRegistrationChangeRecord v0, as
// Kafka's controller writes from metadata.version 3.3-IV2 on.
func NewBrokerFenceRecord(id int32, epoch int64) *BrokerRegistrationChangeRecord {
	return &BrokerRegistrationChangeRecord{BrokerID: id, BrokerEpoch: epoch, Fenced: FencingChangeFence}
}

// NewBrokerUnfenceRecord unfences broker id at epoch (BrokerRegistrationChangeRecord v0).
func NewBrokerUnfenceRecord(id int32, epoch int64) *BrokerRegistrationChangeRecord {
	return &BrokerRegistrationChangeRecord{BrokerID: id, BrokerEpoch: epoch, Fenced: FencingChangeUnfence}
}

// NewBrokerControlledShutdownRecord marks broker id at epoch as in controlled shutdown
// (BrokerRegistrationChangeRecord v1, the first version that carries the field).
func NewBrokerControlledShutdownRecord(id int32, epoch int64) *BrokerRegistrationChangeRecord {
	return &BrokerRegistrationChangeRecord{Version: 1, BrokerID: id, BrokerEpoch: epoch, InControlledShutdown: ControlledShutdownChangeEnter}
}
