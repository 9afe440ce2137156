package metadata

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/weirdata/weir/core/uuid"
)

// ErrInvalidRecord is the root of replay errors: a well-formed record that cannot apply to the
// image (an unknown topic id, a duplicate topic name, an ISR outside the replicas, ...).
//
// Kafka's image (MetadataDelta) trusts the controller and applies almost anything; a broker that
// meets a bad record logs a fault and carries on. Weir's single writer is its own controller, so a
// record that would make the image inconsistent is refused before it is proposed (the active
// controller replays a command's records onto its latest image first), and met in the committed
// log it stops the controller node (core/controller) rather than serving a corrupt image. Where Kafka's rule is a replacement rather than an error it is said below.
var ErrInvalidRecord = errors.New("metadata: record cannot apply")

// Builder replays records onto an image, copy-on-write: it shares every map and value of its
// base until it first changes it, so building an image that differs by one partition copies the
// topic maps and that one topic, not every partition. Build freezes the result; the Builder may go
// on replaying afterwards (it copies again what it changes next).
type Builder struct {
	img Image
	// Which of img's maps this builder owns (already copied since the last Build).
	ownFeatures, ownBrokers, ownTopics, ownConfigs bool
	ownTopic                                       map[*Topic]bool
	ownConfig                                      map[ConfigResource]bool
}

// NewBuilder starts a builder from img.
func (img *Image) NewBuilder() *Builder {
	return &Builder{img: *img, ownTopic: map[*Topic]bool{}, ownConfig: map[ConfigResource]bool{}}
}

// Apply replays records onto img, all or nothing: on error img is untouched and no image is
// returned.
func (img *Image) Apply(records []Record) (*Image, error) {
	b := img.NewBuilder()
	for i, r := range records {
		if err := b.Replay(r); err != nil {
			return nil, fmt.Errorf("record %d of %d: %w", i, len(records), err)
		}
	}
	return b.Build(), nil
}

// Build returns the image built so far. It is immutable: later Replays copy before changing it.
func (b *Builder) Build() *Image {
	out := b.img
	b.ownFeatures, b.ownBrokers, b.ownTopics, b.ownConfigs = false, false, false, false
	clear(b.ownTopic)
	clear(b.ownConfig)
	return &out
}

// Replay applies one record. On error the builder is unchanged by that record.
func (b *Builder) Replay(r Record) error {
	if r == nil {
		return fmt.Errorf("%w: nil record", ErrInvalidRecord)
	}
	var err error
	switch r := r.(type) {
	case *FeatureLevelRecord:
		err = b.replayFeatureLevel(r)
	case *RegisterBrokerRecord:
		err = b.replayRegisterBroker(r)
	case *UnregisterBrokerRecord:
		err = b.replayUnregisterBroker(r)
	case *FenceBrokerRecord:
		err = b.replayRegistrationChange(r.ID, r.Epoch, FencingChangeFence, ControlledShutdownChangeNone, nil)
	case *UnfenceBrokerRecord:
		err = b.replayRegistrationChange(r.ID, r.Epoch, FencingChangeUnfence, ControlledShutdownChangeNone, nil)
	case *BrokerRegistrationChangeRecord:
		err = b.replayRegistrationChange(r.BrokerID, r.BrokerEpoch, r.Fenced, r.InControlledShutdown, r.LogDirs)
	case *TopicRecord:
		err = b.replayTopic(r)
	case *PartitionRecord:
		err = b.replayPartition(r)
	case *PartitionChangeRecord:
		err = b.replayPartitionChange(r)
	case *ConfigRecord:
		err = b.replayConfig(r)
	case *RemoveTopicRecord:
		err = b.replayRemoveTopic(r)
	case *ProducerIdsRecord:
		err = b.replayProducerIDs(r)
	default:
		err = fmt.Errorf("%w: %T", ErrUnknownRecordType, r)
	}
	if err != nil {
		return fmt.Errorf("replay %s: %w", r.Type(), err)
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidRecord, fmt.Sprintf(format, args...))
}

// FeatureLevelRecord: level 0 removes the feature, as in Kafka. metadata.version cannot be removed
// or set below 1 (Kafka has no such level).
func (b *Builder) replayFeatureLevel(r *FeatureLevelRecord) error {
	if r.Name == "" {
		return invalid("empty feature name")
	}
	if r.FeatureLevel < 0 || r.Name == MetadataVersionFeature && r.FeatureLevel < 1 {
		return invalid("feature %s level %d", r.Name, r.FeatureLevel)
	}
	if !b.ownFeatures {
		b.img.features = maps.Clone(b.img.features)
		if b.img.features == nil {
			b.img.features = map[string]int16{}
		}
		b.ownFeatures = true
	}
	if r.FeatureLevel == 0 {
		delete(b.img.features, r.Name)
	} else {
		b.img.features[r.Name] = r.FeatureLevel
	}
	return nil
}

// RegisterBrokerRecord replaces any earlier registration of the broker id, as in Kafka.
func (b *Builder) replayRegisterBroker(r *RegisterBrokerRecord) error {
	if r.BrokerID < 0 {
		return invalid("broker id %d", r.BrokerID)
	}
	if r.BrokerEpoch < 0 {
		return invalid("broker %d epoch %d", r.BrokerID, r.BrokerEpoch)
	}
	b.ownBrokerMap()
	b.img.brokers[r.BrokerID] = &Broker{
		ID:                   r.BrokerID,
		Epoch:                r.BrokerEpoch,
		IncarnationID:        r.IncarnationID,
		EndPoints:            slices.Clone(r.EndPoints),
		Features:             slices.Clone(r.Features),
		Rack:                 cloneString(r.Rack),
		Fenced:               r.Fenced,
		InControlledShutdown: r.InControlledShutdown,
		IsMigratingZkBroker:  r.IsMigratingZkBroker,
		LogDirs:              slices.Clone(r.LogDirs),
	}
	return nil
}

func (b *Builder) ownBrokerMap() {
	if b.ownBrokers {
		return
	}
	b.img.brokers = maps.Clone(b.img.brokers)
	if b.img.brokers == nil {
		b.img.brokers = map[int32]*Broker{}
	}
	b.ownBrokers = true
}

// registration returns broker id's registration if its epoch is epoch. Kafka's
// ClusterControlManager refuses a change of an unknown broker or at another epoch (its image,
// ClusterDelta, does not check); Weir refuses both on replay.
func (b *Builder) registration(what string, id int32, epoch int64) (*Broker, error) {
	broker, ok := b.img.brokers[id]
	if !ok {
		return nil, invalid("%s of unregistered broker %d", what, id)
	}
	if broker.Epoch != epoch {
		return nil, invalid("%s of broker %d at epoch %d, registered at epoch %d", what, id, epoch, broker.Epoch)
	}
	return broker, nil
}

// UnregisterBrokerRecord removes a registration. Partitions may still name the broker, as in
// Kafka: the controller moves them first.
func (b *Builder) replayUnregisterBroker(r *UnregisterBrokerRecord) error {
	if _, err := b.registration("unregister", r.BrokerID, r.BrokerEpoch); err != nil {
		return err
	}
	b.ownBrokerMap()
	delete(b.img.brokers, r.BrokerID)
	return nil
}

// replayRegistrationChange applies FenceBrokerRecord, UnfenceBrokerRecord and
// BrokerRegistrationChangeRecord as Kafka's BrokerRegistration.cloneWith does: each field
// changes only when the record says so, and empty logDirs leave the directories as they are.
// A change that changes nothing is accepted (Kafka logs and ignores it).
func (b *Builder) replayRegistrationChange(id int32, epoch int64, fenced, inControlledShutdown int8, logDirs []UUID) error {
	old, err := b.registration("registration change", id, epoch)
	if err != nil {
		return err
	}
	next := *old
	switch fenced {
	case FencingChangeNone:
	case FencingChangeFence:
		next.Fenced = true
	case FencingChangeUnfence:
		next.Fenced = false
	default:
		return invalid("broker %d fencing change %d", id, fenced)
	}
	switch inControlledShutdown {
	case ControlledShutdownChangeNone:
	case ControlledShutdownChangeEnter:
		next.InControlledShutdown = true
	default:
		return invalid("broker %d controlled shutdown change %d", id, inControlledShutdown)
	}
	if len(logDirs) > 0 {
		next.LogDirs = slices.Clone(logDirs)
	}
	b.ownBrokerMap()
	b.img.brokers[id] = &next
	return nil
}

func cloneString(s *string) *string {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}

// TopicRecord: Kafka's image would overwrite a topic with the same id and keep two topics of one
// name; Weir refuses both, and names Kafka's controller would refuse.
func (b *Builder) replayTopic(r *TopicRecord) error {
	if err := ValidateTopicName(r.Name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	if r.TopicID == uuid.Zero || r.TopicID == uuid.One {
		return invalid("topic %s has reserved id %s", r.Name, r.TopicID)
	}
	if t, ok := b.img.topicsByID[r.TopicID]; ok {
		return invalid("topic id %s of %s is already topic %s", r.TopicID, r.Name, t.Name)
	}
	if t, ok := b.img.topicsByName[r.Name]; ok {
		return invalid("topic %s already exists with id %s", r.Name, t.ID)
	}
	b.ownTopicMaps()
	t := &Topic{Name: r.Name, ID: r.TopicID, partitions: map[int32]*Partition{}}
	b.ownTopic[t] = true
	b.img.topicsByID[t.ID] = t
	b.img.topicsByName[t.Name] = t
	return nil
}

func (b *Builder) ownTopicMaps() {
	if b.ownTopics {
		return
	}
	b.img.topicsByID = maps.Clone(b.img.topicsByID)
	b.img.topicsByName = maps.Clone(b.img.topicsByName)
	if b.img.topicsByID == nil {
		b.img.topicsByID = map[UUID]*Topic{}
		b.img.topicsByName = map[string]*Topic{}
	}
	b.ownTopics = true
}

// mutableTopic returns the topic with id, copied into this builder if it is still shared.
func (b *Builder) mutableTopic(id UUID) (*Topic, bool) {
	t, ok := b.img.topicsByID[id]
	if !ok {
		return nil, false
	}
	if b.ownTopic[t] {
		return t, true
	}
	b.ownTopicMaps()
	c := &Topic{Name: t.Name, ID: t.ID, partitions: maps.Clone(t.partitions)}
	b.ownTopic[c] = true
	b.img.topicsByID[c.ID] = c
	b.img.topicsByName[c.Name] = c
	return c, true
}

// PartitionRecord creates a partition of a known topic. Kafka's image would replace an existing
// partition; Weir refuses (changes are PartitionChangeRecords).
func (b *Builder) replayPartition(r *PartitionRecord) error {
	t, ok := b.img.topicsByID[r.TopicID]
	if !ok {
		return invalid("partition %d of unknown topic id %s", r.PartitionID, r.TopicID)
	}
	if r.PartitionID < 0 {
		return invalid("topic %s partition id %d", t.Name, r.PartitionID)
	}
	if _, ok := t.partitions[r.PartitionID]; ok {
		return invalid("topic %s partition %d already exists", t.Name, r.PartitionID)
	}
	p := &Partition{
		ID:                     r.PartitionID,
		Replicas:               slices.Clone(r.Replicas),
		ISR:                    slices.Clone(r.ISR),
		RemovingReplicas:       slices.Clone(r.RemovingReplicas),
		AddingReplicas:         slices.Clone(r.AddingReplicas),
		Leader:                 r.Leader,
		LeaderRecoveryState:    r.LeaderRecoveryState,
		LeaderEpoch:            r.LeaderEpoch,
		PartitionEpoch:         r.PartitionEpoch,
		Directories:            slices.Clone(r.Directories),
		EligibleLeaderReplicas: slices.Clone(r.EligibleLeaderReplicas),
		LastKnownELR:           slices.Clone(r.LastKnownELR),
	}
	if err := validatePartition(p); err != nil {
		return fmt.Errorf("topic %s partition %d: %w", t.Name, r.PartitionID, err)
	}
	t, _ = b.mutableTopic(r.TopicID)
	t.partitions[p.ID] = p
	return nil
}

// PartitionChangeRecord merges a change as Kafka's PartitionRegistration.merge does: absent
// fields keep their value, a leader change (even to the same leader) bumps the leader epoch,
// every change bumps the partition epoch, and new replicas without directories get
// DirectoryUnassigned while kept replicas keep theirs.
func (b *Builder) replayPartitionChange(r *PartitionChangeRecord) error {
	t, ok := b.img.topicsByID[r.TopicID]
	if !ok {
		return invalid("change of partition %d of unknown topic id %s", r.PartitionID, r.TopicID)
	}
	old, ok := t.partitions[r.PartitionID]
	if !ok {
		return invalid("change of unknown partition %d of topic %s", r.PartitionID, t.Name)
	}
	p := *old
	if r.Replicas != nil {
		p.Replicas = slices.Clone(r.Replicas)
		if r.Directories == nil && len(old.Directories) > 0 {
			p.Directories = directoriesFor(old.Replicas, old.Directories, p.Replicas)
		}
	}
	if r.Directories != nil {
		p.Directories = slices.Clone(r.Directories)
	}
	if r.ISR != nil {
		p.ISR = slices.Clone(r.ISR)
	}
	if r.RemovingReplicas != nil {
		p.RemovingReplicas = slices.Clone(r.RemovingReplicas)
	}
	if r.AddingReplicas != nil {
		p.AddingReplicas = slices.Clone(r.AddingReplicas)
	}
	if r.Leader != NoLeaderChange {
		p.Leader = r.Leader
		p.LeaderEpoch = old.LeaderEpoch + 1
	}
	if r.LeaderRecoveryState != NoLeaderRecoveryStateChange {
		p.LeaderRecoveryState = r.LeaderRecoveryState
	}
	if r.EligibleLeaderReplicas != nil {
		p.EligibleLeaderReplicas = slices.Clone(r.EligibleLeaderReplicas)
	}
	if r.LastKnownELR != nil {
		p.LastKnownELR = slices.Clone(r.LastKnownELR)
	}
	p.PartitionEpoch = old.PartitionEpoch + 1
	if err := validatePartition(&p); err != nil {
		return fmt.Errorf("topic %s partition %d: %w", t.Name, r.PartitionID, err)
	}
	t, _ = b.mutableTopic(r.TopicID)
	t.partitions[p.ID] = &p
	return nil
}

// DirectoryUnassigned is Kafka's DirectoryId.UNASSIGNED: a replica not yet placed in a log dir.
var DirectoryUnassigned = uuid.Zero

// directoriesFor keeps each kept replica's directory and gives new ones DirectoryUnassigned.
func directoriesFor(oldReplicas []int32, oldDirectories []UUID, newReplicas []int32) []UUID {
	out := make([]UUID, len(newReplicas))
	for i, r := range newReplicas {
		out[i] = DirectoryUnassigned
		if j := slices.Index(oldReplicas, r); j >= 0 && j < len(oldDirectories) {
			out[i] = oldDirectories[j]
		}
	}
	return out
}

// validatePartition checks what every partition state must satisfy. Kafka's controller enforces
// these when it writes; Weir checks them on replay too.
func validatePartition(p *Partition) error {
	if len(p.Replicas) == 0 {
		return invalid("no replicas")
	}
	if err := distinctBrokers("replicas", p.Replicas); err != nil {
		return err
	}
	for _, set := range []struct {
		name    string
		brokers []int32
	}{{"isr", p.ISR}, {"removing replicas", p.RemovingReplicas}, {"adding replicas", p.AddingReplicas}, {"eligible leader replicas", p.EligibleLeaderReplicas}} {
		if err := distinctBrokers(set.name, set.brokers); err != nil {
			return err
		}
		for _, id := range set.brokers {
			if !slices.Contains(p.Replicas, id) {
				return invalid("%s %v not within replicas %v", set.name, set.brokers, p.Replicas)
			}
		}
	}
	for _, id := range p.EligibleLeaderReplicas {
		if slices.Contains(p.ISR, id) {
			return invalid("eligible leader replica %d also in isr %v", id, p.ISR)
		}
	}
	if p.Leader != NoLeader && !slices.Contains(p.ISR, p.Leader) {
		return invalid("leader %d not in isr %v", p.Leader, p.ISR)
	}
	if p.LeaderRecoveryState != 0 && p.LeaderRecoveryState != 1 {
		return invalid("leader recovery state %d", p.LeaderRecoveryState)
	}
	if p.LeaderEpoch < 0 || p.PartitionEpoch < 0 {
		return invalid("leader epoch %d, partition epoch %d", p.LeaderEpoch, p.PartitionEpoch)
	}
	if len(p.Directories) != 0 && len(p.Directories) != len(p.Replicas) {
		return invalid("%d directories for %d replicas", len(p.Directories), len(p.Replicas))
	}
	return nil
}

func distinctBrokers(name string, ids []int32) error {
	for i, id := range ids {
		if id < 0 {
			return invalid("%s %v holds broker id %d", name, ids, id)
		}
		if slices.Contains(ids[:i], id) {
			return invalid("%s %v holds broker %d twice", name, ids, id)
		}
	}
	return nil
}

// ConfigRecord sets a key, or deletes it when Value is nil (deleting an unset key is a no-op, as
// in Kafka). A topic's configs need the topic to exist (Kafka's image does not check).
func (b *Builder) replayConfig(r *ConfigRecord) error {
	if !r.ResourceType.valid() {
		return invalid("config resource type %d", r.ResourceType)
	}
	if r.Name == "" {
		return invalid("empty config name for %d/%q", r.ResourceType, r.ResourceName)
	}
	if r.ResourceType == ResourceTopic {
		if _, ok := b.img.topicsByName[r.ResourceName]; !ok {
			return invalid("config %s of unknown topic %q", r.Name, r.ResourceName)
		}
	}
	res := ConfigResource{r.ResourceType, r.ResourceName}
	if r.Value == nil {
		if _, ok := b.img.configs[res][r.Name]; !ok {
			return nil
		}
	}
	b.ownConfigMap()
	if !b.ownConfig[res] {
		b.img.configs[res] = maps.Clone(b.img.configs[res])
		if b.img.configs[res] == nil {
			b.img.configs[res] = map[string]string{}
		}
		b.ownConfig[res] = true
	}
	if r.Value == nil {
		delete(b.img.configs[res], r.Name)
		if len(b.img.configs[res]) == 0 {
			delete(b.img.configs, res)
			delete(b.ownConfig, res)
		}
		return nil
	}
	b.img.configs[res][r.Name] = *r.Value
	return nil
}

func (b *Builder) ownConfigMap() {
	if b.ownConfigs {
		return
	}
	b.img.configs = maps.Clone(b.img.configs)
	if b.img.configs == nil {
		b.img.configs = map[ConfigResource]map[string]string{}
	}
	b.ownConfigs = true
}

// RemoveTopicRecord removes the topic with its partitions and, as Kafka's MetadataDelta does,
// its configs.
func (b *Builder) replayRemoveTopic(r *RemoveTopicRecord) error {
	t, ok := b.img.topicsByID[r.TopicID]
	if !ok {
		return invalid("remove of unknown topic id %s", r.TopicID)
	}
	b.ownTopicMaps()
	delete(b.img.topicsByID, t.ID)
	delete(b.img.topicsByName, t.Name)
	delete(b.ownTopic, t)
	res := ConfigResource{ResourceTopic, t.Name}
	if _, ok := b.img.configs[res]; ok {
		b.ownConfigMap()
		delete(b.img.configs, res)
		delete(b.ownConfig, res)
	}
	return nil
}

// ProducerIdsRecord moves the next producer id forward; like Kafka, never backward or in place.
func (b *Builder) replayProducerIDs(r *ProducerIdsRecord) error {
	if r.NextProducerID <= b.img.nextProducerID {
		return invalid("next producer id %d is not past the current %d", r.NextProducerID, b.img.nextProducerID)
	}
	b.img.nextProducerID = r.NextProducerID
	return nil
}

// topicNameBytesMax is Kafka's Topic.MAX_NAME_LENGTH.
const topicNameBytesMax = 249

// ValidateTopicName applies Kafka's Topic.validate: 1 to 249 of [a-zA-Z0-9._-], not "." or "..".
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("topic name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is illegal", name)
	case len(name) > topicNameBytesMax:
		return fmt.Errorf("topic name is %d characters, longer than %d", len(name), topicNameBytesMax)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic name %q holds character %q outside [a-zA-Z0-9._-]", name, c)
		}
	}
	return nil
}
