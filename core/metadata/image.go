package metadata

import (
	"maps"
	"slices"
	"strings"
)

// ResourceType is a config resource's type, as Kafka's ConfigResource.Type ids.
type ResourceType int8

// Config resource types.
const (
	ResourceTopic         ResourceType = 2
	ResourceBroker        ResourceType = 4 // name "" is the cluster-wide broker default
	ResourceBrokerLogger  ResourceType = 8
	ResourceClientMetrics ResourceType = 16
	ResourceGroup         ResourceType = 32
)

func (t ResourceType) valid() bool {
	switch t {
	case ResourceTopic, ResourceBroker, ResourceBrokerLogger, ResourceClientMetrics, ResourceGroup:
		return true
	}
	return false
}

// ConfigResource names the resource a config belongs to.
type ConfigResource struct {
	Type ResourceType
	Name string
}

// MetadataVersionFeature is the feature whose level says which record versions the log uses.
const MetadataVersionFeature = "metadata.version"

// MetadataVersionDefault is the metadata.version a new Weir cluster is formatted with: Kafka
// 4.0-IV1 (level 23), whose record versions Weir writes (RegisterBrokerRecord v3, PartitionRecord
// v1 for a new partition, PartitionChangeRecord v2 with eligible leader replicas).
const MetadataVersionDefault int16 = 23

// MetadataVersionELR is Kafka's 4.0-IV1, the first metadata.version whose partition records
// carry eligible leader replicas (KIP-966).
const MetadataVersionELR int16 = 23

// EligibleLeaderReplicasFeature is Kafka's eligible.leader.replicas.version: at level 1 the
// controller keeps eligible leader replicas and leaders hold the high watermark while the ISR
// is below min.insync.replicas (KIP-966). A new Weir cluster finalizes it at 1, as Kafka 4.1
// does for new clusters.
const EligibleLeaderReplicasFeature = "eligible.leader.replicas.version"

// SupportedFeatures are the feature ranges a Weir broker declares (registration, ApiVersions).
func SupportedFeatures() []BrokerFeature {
	return []BrokerFeature{
		{Name: MetadataVersionFeature, MinSupportedVersion: MetadataVersionMinimum, MaxSupportedVersion: MetadataVersionDefault},
		{Name: EligibleLeaderReplicasFeature, MinSupportedVersion: 0, MaxSupportedVersion: 1},
	}
}

// MetadataVersionMinimum is the oldest metadata.version Weir's brokers declare they support:
// Kafka 3.3-IV3 (level 7), the oldest Kafka 4 reads.
const MetadataVersionMinimum int16 = 7

// Broker is a registered broker, as its last RegisterBrokerRecord stated it.
type Broker struct {
	ID                   int32
	Epoch                int64
	IncarnationID        UUID
	EndPoints            []BrokerEndpoint
	Features             []BrokerFeature
	Rack                 *string
	Fenced               bool
	InControlledShutdown bool
	IsMigratingZkBroker  bool
	LogDirs              []UUID
}

// Partition is one partition's replica assignment and leadership.
type Partition struct {
	ID                     int32
	Replicas               []int32
	ISR                    []int32
	RemovingReplicas       []int32
	AddingReplicas         []int32
	Leader                 int32 // NoLeader (-1) when none
	LeaderRecoveryState    int8  // 0 recovered, 1 recovering from an unclean election
	LeaderEpoch            int32
	PartitionEpoch         int32
	Directories            []UUID  // per replica, or empty before directory assignment
	EligibleLeaderReplicas []int32 // nil when eligible leader replicas are not in use
	LastKnownELR           []int32
}

// Topic is a topic with its partitions.
type Topic struct {
	Name       string
	ID         UUID
	partitions map[int32]*Partition
}

// Partition returns partition p of the topic.
func (t *Topic) Partition(p int32) (*Partition, bool) {
	part, ok := t.partitions[p]
	return part, ok
}

// PartitionCount is the number of partitions the topic has.
func (t *Topic) PartitionCount() int { return len(t.partitions) }

// Partitions returns the topic's partitions in partition order.
func (t *Topic) Partitions() []*Partition {
	out := make([]*Partition, 0, len(t.partitions))
	for _, id := range slices.Sorted(maps.Keys(t.partitions)) {
		out = append(out, t.partitions[id])
	}
	return out
}

// Image is the cluster metadata at one point of the log. An Image is never modified once built:
// replaying records (Builder, Apply) makes a new one sharing what did not change, so an Image may
// be held and read while newer ones are built. Values returned by accessors (Broker, Topic,
// Partition and their slices) are shared and must be treated as read-only.
type Image struct {
	features       map[string]int16
	brokers        map[int32]*Broker
	topicsByID     map[UUID]*Topic
	topicsByName   map[string]*Topic
	configs        map[ConfigResource]map[string]string
	nextProducerID int64
}

// EmptyImage is the image of an empty metadata log.
func EmptyImage() *Image { return &Image{} }

// FeatureLevel returns a finalized feature's level; a feature that is not set has level 0.
func (img *Image) FeatureLevel(name string) (int16, bool) {
	level, ok := img.features[name]
	return level, ok
}

// FeatureNames returns the names of the finalized features, sorted.
func (img *Image) FeatureNames() []string { return slices.Sorted(maps.Keys(img.features)) }

// MetadataVersion is the metadata.version feature level, 0 if not yet set.
func (img *Image) MetadataVersion() int16 { return img.features[MetadataVersionFeature] }

// ELREnabled reports whether eligible leader replicas are in use (Kafka's
// FeatureControlManager.isElrFeatureEnabled): eligible.leader.replicas.version 1 at a
// metadata.version whose records carry them.
func (img *Image) ELREnabled() bool {
	return img.features[EligibleLeaderReplicasFeature] >= 1 && img.MetadataVersion() >= MetadataVersionELR
}

// Broker returns the registration of broker id.
func (img *Image) Broker(id int32) (*Broker, bool) {
	b, ok := img.brokers[id]
	return b, ok
}

// Brokers returns every registered broker, by id.
func (img *Image) Brokers() []*Broker {
	out := make([]*Broker, 0, len(img.brokers))
	for _, id := range slices.Sorted(maps.Keys(img.brokers)) {
		out = append(out, img.brokers[id])
	}
	return out
}

// TopicByName returns the topic named name.
func (img *Image) TopicByName(name string) (*Topic, bool) {
	t, ok := img.topicsByName[name]
	return t, ok
}

// TopicByID returns the topic with id.
func (img *Image) TopicByID(id UUID) (*Topic, bool) {
	t, ok := img.topicsByID[id]
	return t, ok
}

// TopicCount is the number of topics.
func (img *Image) TopicCount() int { return len(img.topicsByID) }

// Topics returns every topic, sorted by name.
func (img *Image) Topics() []*Topic {
	out := make([]*Topic, 0, len(img.topicsByName))
	for _, name := range slices.Sorted(maps.Keys(img.topicsByName)) {
		out = append(out, img.topicsByName[name])
	}
	return out
}

// Partition returns partition p of the topic with id topicID.
func (img *Image) Partition(topicID UUID, p int32) (*Partition, bool) {
	t, ok := img.topicsByID[topicID]
	if !ok {
		return nil, false
	}
	return t.Partition(p)
}

// Config returns a copy of the configs set on a resource (empty, not nil, when none): only the
// keys set in the metadata log, not defaults. Range over it in sorted key order where order
// matters.
func (img *Image) Config(resourceType ResourceType, name string) map[string]string {
	out := maps.Clone(img.configs[ConfigResource{resourceType, name}])
	if out == nil {
		out = map[string]string{}
	}
	return out
}

// ConfigValue returns one config key of a resource.
func (img *Image) ConfigValue(resourceType ResourceType, name, key string) (string, bool) {
	v, ok := img.configs[ConfigResource{resourceType, name}][key]
	return v, ok
}

// ConfigResources returns every resource with configs, sorted by type then name.
func (img *Image) ConfigResources() []ConfigResource {
	return slices.SortedFunc(maps.Keys(img.configs), compareConfigResource)
}

func compareConfigResource(a, b ConfigResource) int {
	if a.Type != b.Type {
		return int(a.Type) - int(b.Type)
	}
	return strings.Compare(a.Name, b.Name)
}

// NextProducerID is the first producer id not yet handed out in a block.
func (img *Image) NextProducerID() int64 { return img.nextProducerID }
