package metadata

import "fmt"

// RecordType is a metadata record's api key, as in Kafka's MetadataRecordType.
type RecordType int16

// The record types Weir writes and replays (Kafka's api keys).
const (
	RegisterBrokerRecordType           RecordType = 0
	UnregisterBrokerRecordType         RecordType = 1
	TopicRecordType                    RecordType = 2
	PartitionRecordType                RecordType = 3
	ConfigRecordType                   RecordType = 4
	PartitionChangeRecordType          RecordType = 5
	FenceBrokerRecordType              RecordType = 7
	UnfenceBrokerRecordType            RecordType = 8
	RemoveTopicRecordType              RecordType = 9
	FeatureLevelRecordType             RecordType = 12
	ProducerIdsRecordType              RecordType = 15
	BrokerRegistrationChangeRecordType RecordType = 17
)

// String is the name kafka-dump-log prints (MetadataRecordType's enum constant).
func (t RecordType) String() string {
	switch t {
	case RegisterBrokerRecordType:
		return "REGISTER_BROKER_RECORD"
	case UnregisterBrokerRecordType:
		return "UNREGISTER_BROKER_RECORD"
	case TopicRecordType:
		return "TOPIC_RECORD"
	case PartitionRecordType:
		return "PARTITION_RECORD"
	case ConfigRecordType:
		return "CONFIG_RECORD"
	case PartitionChangeRecordType:
		return "PARTITION_CHANGE_RECORD"
	case FenceBrokerRecordType:
		return "FENCE_BROKER_RECORD"
	case UnfenceBrokerRecordType:
		return "UNFENCE_BROKER_RECORD"
	case RemoveTopicRecordType:
		return "REMOVE_TOPIC_RECORD"
	case FeatureLevelRecordType:
		return "FEATURE_LEVEL_RECORD"
	case ProducerIdsRecordType:
		return "PRODUCER_IDS_RECORD"
	case BrokerRegistrationChangeRecordType:
		return "BROKER_REGISTRATION_CHANGE_RECORD"
	}
	return fmt.Sprintf("RECORD_TYPE_%d", int16(t))
}

// Record is one metadata record: one of the *...Record types of this package. Each carries the
// schema version it is written at (Version); constructors set the version Weir writes.
type Record interface {
	Type() RecordType
	// recordVersion is the schema version of the record.
	recordVersion() int16
	// appendBody appends the message body (no frame) at the record's version, or fails if a
	// field holds a value that version cannot carry.
	appendBody(w *writer) error
	// readBody decodes the message body of the given (valid) version.
	readBody(r *reader, version int16)
}

// versionRange is a record type's valid versions, as in the schema's validVersions.
type versionRange struct{ min, max int16 }

// validVersions are the versions of each type Weir reads and writes: those of Kafka 3.7 to 4.1
// (schemas in metadata/src/main/resources/common/metadata in apache/kafka). A newer version
// (RegisterBrokerRecord 4+, PartitionChangeRecord 3+ on Kafka's trunk) is refused as corrupt
// rather than half-read.
var validVersions = map[RecordType]versionRange{
	RegisterBrokerRecordType:           {0, 3},
	UnregisterBrokerRecordType:         {0, 0},
	TopicRecordType:                    {0, 0},
	PartitionRecordType:                {0, 2},
	ConfigRecordType:                   {0, 0},
	PartitionChangeRecordType:          {0, 2},
	FenceBrokerRecordType:              {0, 0},
	UnfenceBrokerRecordType:            {0, 0},
	RemoveTopicRecordType:              {0, 0},
	FeatureLevelRecordType:             {0, 0},
	ProducerIdsRecordType:              {0, 0},
	BrokerRegistrationChangeRecordType: {0, brokerRegistrationChangeRecordVersionMax},
}

// newRecord returns an empty record of type t, or nil for a type Weir does not know.
func newRecord(t RecordType) Record {
	switch t {
	case RegisterBrokerRecordType:
		return &RegisterBrokerRecord{}
	case UnregisterBrokerRecordType:
		return &UnregisterBrokerRecord{}
	case TopicRecordType:
		return &TopicRecord{}
	case PartitionRecordType:
		return &PartitionRecord{}
	case ConfigRecordType:
		return &ConfigRecord{}
	case PartitionChangeRecordType:
		return &PartitionChangeRecord{}
	case FenceBrokerRecordType:
		return &FenceBrokerRecord{}
	case UnfenceBrokerRecordType:
		return &UnfenceBrokerRecord{}
	case RemoveTopicRecordType:
		return &RemoveTopicRecord{}
	case FeatureLevelRecordType:
		return &FeatureLevelRecord{}
	case ProducerIdsRecordType:
		return &ProducerIdsRecord{}
	case BrokerRegistrationChangeRecordType:
		return &BrokerRegistrationChangeRecord{}
	}
	return nil
}

// A tag that a record type defines but not at the version being read is corrupt, as in Kafka's
// generated readers ("Tag N is not valid for version V"); a tag the type does not define is
// skipped.

// Versions Weir writes by default: those of metadata.version 4.0-IV1 (MetadataVersionDefault),
// with directory assignment (KIP-858) and eligible leader replicas (KIP-966). A new partition
// has no eligible leader replicas, so its record stays at v1, which any reader takes.
const (
	registerBrokerRecordVersion  = 3
	partitionRecordVersion       = 1
	partitionChangeRecordVersion = 2
)

func unrepresentable(t RecordType, version int16, field string) error {
	return fmt.Errorf("metadata: %s version %d cannot carry a non-default %s", t, version, field)
}

func checkString(t RecordType, field, s string) error {
	if len(s) > stringBytesMax {
		return fmt.Errorf("metadata: %s field %s is %d bytes, longer than %d", t, field, len(s), stringBytesMax)
	}
	return nil
}

// --- RegisterBrokerRecord (api key 0) ---

// RegisterBrokerRecord registers a broker (or re-registers a new incarnation). Versions:
// 1 adds InControlledShutdown, 2 IsMigratingZkBroker, 3 LogDirs (tag 0).
type RegisterBrokerRecord struct {
	Version              int16
	BrokerID             int32
	IsMigratingZkBroker  bool // v2+
	IncarnationID        UUID
	BrokerEpoch          int64
	EndPoints            []BrokerEndpoint
	Features             []BrokerFeature
	Rack                 *string // nullable
	Fenced               bool    // default true
	InControlledShutdown bool    // v1+
	LogDirs              []UUID  // v3+, tagged (tag 0)
}

// BrokerEndpoint is one listener of a registered broker.
type BrokerEndpoint struct {
	Name             string
	Host             string
	Port             uint16
	SecurityProtocol int16
}

// BrokerFeature is a feature's level range a broker supports.
type BrokerFeature struct {
	Name                string
	MinSupportedVersion int16
	MaxSupportedVersion int16
}

func (*RegisterBrokerRecord) Type() RecordType       { return RegisterBrokerRecordType }
func (r *RegisterBrokerRecord) recordVersion() int16 { return r.Version }

func (r *RegisterBrokerRecord) appendBody(w *writer) error {
	t, v := r.Type(), r.Version
	if v < 2 && r.IsMigratingZkBroker {
		return unrepresentable(t, v, "IsMigratingZkBroker")
	}
	if v < 1 && r.InControlledShutdown {
		return unrepresentable(t, v, "InControlledShutdown")
	}
	if v < 3 && len(r.LogDirs) > 0 {
		return unrepresentable(t, v, "LogDirs")
	}
	for _, e := range r.EndPoints {
		if err := checkString(t, "EndPoints.Name", e.Name); err != nil {
			return err
		}
		if err := checkString(t, "EndPoints.Host", e.Host); err != nil {
			return err
		}
	}
	for _, f := range r.Features {
		if err := checkString(t, "Features.Name", f.Name); err != nil {
			return err
		}
	}
	if r.Rack != nil {
		if err := checkString(t, "Rack", *r.Rack); err != nil {
			return err
		}
	}
	w.int32(r.BrokerID)
	if v >= 2 {
		w.bool(r.IsMigratingZkBroker)
	}
	w.uuid(r.IncarnationID)
	w.int64(r.BrokerEpoch)
	w.uvarint(uint64(len(r.EndPoints)) + 1)
	for _, e := range r.EndPoints {
		w.compactString(e.Name)
		w.compactString(e.Host)
		w.uint16(e.Port)
		w.int16(e.SecurityProtocol)
		w.tagged()
	}
	w.uvarint(uint64(len(r.Features)) + 1)
	for _, f := range r.Features {
		w.compactString(f.Name)
		w.int16(f.MinSupportedVersion)
		w.int16(f.MaxSupportedVersion)
		w.tagged()
	}
	w.compactNullableString(r.Rack)
	w.bool(r.Fenced)
	if v >= 1 {
		w.bool(r.InControlledShutdown)
	}
	var tags []taggedField
	if v >= 3 && len(r.LogDirs) > 0 {
		tags = append(tags, taggedField{0, func(w *writer) { w.compactUUIDs(r.LogDirs) }})
	}
	w.tagged(tags...)
	return nil
}

func (r *RegisterBrokerRecord) readBody(rd *reader, v int16) {
	*r = RegisterBrokerRecord{Version: v, Fenced: true}
	r.BrokerID = rd.int32()
	if v >= 2 {
		r.IsMigratingZkBroker = rd.bool()
	}
	r.IncarnationID = rd.uuid()
	r.BrokerEpoch = rd.int64()
	if n := rd.compactLength(4); n < 0 {
		rd.fail("non-nullable field EndPoints was null")
	} else if n > 0 {
		r.EndPoints = make([]BrokerEndpoint, n)
		for i := range r.EndPoints {
			e := &r.EndPoints[i]
			e.Name = rd.compactString("EndPoints.Name")
			e.Host = rd.compactString("EndPoints.Host")
			e.Port = rd.uint16()
			e.SecurityProtocol = rd.int16()
			rd.noTags()
		}
	}
	if n := rd.compactLength(6); n < 0 {
		rd.fail("non-nullable field Features was null")
	} else if n > 0 {
		r.Features = make([]BrokerFeature, n)
		for i := range r.Features {
			f := &r.Features[i]
			f.Name = rd.compactString("Features.Name")
			f.MinSupportedVersion = rd.int16()
			f.MaxSupportedVersion = rd.int16()
			rd.noTags()
		}
	}
	r.Rack = rd.compactNullableString("Rack")
	r.Fenced = rd.bool()
	if v >= 1 {
		r.InControlledShutdown = rd.bool()
	}
	rd.tagged(func(tag uint32, f *reader) bool {
		if tag == 0 && v < 3 {
			f.fail("tag %d is not valid for version %d", tag, v)
			return true
		}
		if tag == 0 {
			r.LogDirs = f.compactUUIDs("LogDirs")
			return true
		}
		return false
	})
}

// --- TopicRecord (api key 2) ---

// TopicRecord creates a topic; its partitions follow as PartitionRecords.
type TopicRecord struct {
	Version int16
	Name    string
	TopicID UUID
}

func (*TopicRecord) Type() RecordType       { return TopicRecordType }
func (r *TopicRecord) recordVersion() int16 { return r.Version }

func (r *TopicRecord) appendBody(w *writer) error {
	if err := checkString(r.Type(), "Name", r.Name); err != nil {
		return err
	}
	w.compactString(r.Name)
	w.uuid(r.TopicID)
	w.tagged()
	return nil
}

func (r *TopicRecord) readBody(rd *reader, v int16) {
	*r = TopicRecord{Version: v}
	r.Name = rd.compactString("Name")
	r.TopicID = rd.uuid()
	rd.noTags()
}

// --- PartitionRecord (api key 3) ---

// PartitionRecord creates a partition (or, in a snapshot, states it whole). Versions: 1 adds
// Directories (KIP-858), 2 EligibleLeaderReplicas and LastKnownELR (KIP-966, tags 1 and 2).
type PartitionRecord struct {
	Version                int16
	PartitionID            int32 // default -1
	TopicID                UUID
	Replicas               []int32
	ISR                    []int32
	RemovingReplicas       []int32
	AddingReplicas         []int32
	Leader                 int32   // default -1: no leader
	LeaderRecoveryState    int8    // tagged (tag 0), default 0
	LeaderEpoch            int32   // default -1
	PartitionEpoch         int32   // default -1
	Directories            []UUID  // v1+
	EligibleLeaderReplicas []int32 // v2+, nullable, tagged (tag 1)
	LastKnownELR           []int32 // v2+, nullable, tagged (tag 2)
}

func (*PartitionRecord) Type() RecordType       { return PartitionRecordType }
func (r *PartitionRecord) recordVersion() int16 { return r.Version }

func (r *PartitionRecord) appendBody(w *writer) error {
	t, v := r.Type(), r.Version
	if v < 1 && len(r.Directories) > 0 {
		return unrepresentable(t, v, "Directories")
	}
	if v < 2 && (r.EligibleLeaderReplicas != nil || r.LastKnownELR != nil) {
		return unrepresentable(t, v, "EligibleLeaderReplicas/LastKnownElr")
	}
	w.int32(r.PartitionID)
	w.uuid(r.TopicID)
	w.compactInt32s(r.Replicas)
	w.compactInt32s(r.ISR)
	w.compactInt32s(r.RemovingReplicas)
	w.compactInt32s(r.AddingReplicas)
	w.int32(r.Leader)
	w.int32(r.LeaderEpoch)
	w.int32(r.PartitionEpoch)
	if v >= 1 {
		w.compactUUIDs(r.Directories)
	}
	var tags []taggedField
	if r.LeaderRecoveryState != 0 {
		tags = append(tags, taggedField{0, func(w *writer) { w.int8(r.LeaderRecoveryState) }})
	}
	if r.EligibleLeaderReplicas != nil {
		tags = append(tags, taggedField{1, func(w *writer) { w.compactInt32s(r.EligibleLeaderReplicas) }})
	}
	if r.LastKnownELR != nil {
		tags = append(tags, taggedField{2, func(w *writer) { w.compactInt32s(r.LastKnownELR) }})
	}
	w.tagged(tags...)
	return nil
}

func (r *PartitionRecord) readBody(rd *reader, v int16) {
	*r = PartitionRecord{Version: v}
	r.PartitionID = rd.int32()
	r.TopicID = rd.uuid()
	r.Replicas = rd.compactInt32s("Replicas")
	r.ISR = rd.compactInt32s("Isr")
	r.RemovingReplicas = rd.compactInt32s("RemovingReplicas")
	r.AddingReplicas = rd.compactInt32s("AddingReplicas")
	r.Leader = rd.int32()
	r.LeaderEpoch = rd.int32()
	r.PartitionEpoch = rd.int32()
	if v >= 1 {
		r.Directories = rd.compactUUIDs("Directories")
	}
	rd.tagged(func(tag uint32, f *reader) bool {
		switch {
		case tag == 0:
			r.LeaderRecoveryState = f.int8()
		case (tag == 1 || tag == 2) && v < 2:
			f.fail("tag %d is not valid for version %d", tag, v)
		case tag == 1 && v >= 2:
			r.EligibleLeaderReplicas = f.compactNullableInt32s("EligibleLeaderReplicas")
		case tag == 2 && v >= 2:
			r.LastKnownELR = f.compactNullableInt32s("LastKnownElr")
		default:
			return false
		}
		return true
	})
}

// --- ConfigRecord (api key 4) ---

// ConfigRecord sets (or, with a nil Value, deletes) one config of a resource.
type ConfigRecord struct {
	Version      int16
	ResourceType ResourceType
	ResourceName string
	Name         string
	Value        *string // nil deletes the key
}

func (*ConfigRecord) Type() RecordType       { return ConfigRecordType }
func (r *ConfigRecord) recordVersion() int16 { return r.Version }

func (r *ConfigRecord) appendBody(w *writer) error {
	t := r.Type()
	if err := checkString(t, "ResourceName", r.ResourceName); err != nil {
		return err
	}
	if err := checkString(t, "Name", r.Name); err != nil {
		return err
	}
	if r.Value != nil {
		if err := checkString(t, "Value", *r.Value); err != nil {
			return err
		}
	}
	w.int8(int8(r.ResourceType))
	w.compactString(r.ResourceName)
	w.compactString(r.Name)
	w.compactNullableString(r.Value)
	w.tagged()
	return nil
}

func (r *ConfigRecord) readBody(rd *reader, v int16) {
	*r = ConfigRecord{Version: v}
	r.ResourceType = ResourceType(rd.int8())
	r.ResourceName = rd.compactString("ResourceName")
	r.Name = rd.compactString("Name")
	r.Value = rd.compactNullableString("Value")
	rd.noTags()
}

// --- PartitionChangeRecord (api key 5) ---

// Defaults of PartitionChangeRecord's "did not change" fields.
const (
	NoLeaderChange              int32 = -2 // PartitionChangeRecord.Leader: leader unchanged
	NoLeader                    int32 = -1 // no leader
	NoLeaderRecoveryStateChange int8  = -1
)

// PartitionChangeRecord changes a partition; every field but the ids is tagged and defaults to
// "unchanged" (nil slices, Leader NoLeaderChange, LeaderRecoveryState -1). Build it with
// NewPartitionChangeRecord: a zero-value Leader of 0 means "broker 0 is now leader". Versions:
// 1 adds Directories (tag 8), 2 EligibleLeaderReplicas (tag 6) and LastKnownELR (tag 7).
type PartitionChangeRecord struct {
	Version                int16
	PartitionID            int32
	TopicID                UUID
	ISR                    []int32 // tag 0
	Leader                 int32   // tag 1, default NoLeaderChange
	Replicas               []int32 // tag 2
	RemovingReplicas       []int32 // tag 3
	AddingReplicas         []int32 // tag 4
	LeaderRecoveryState    int8    // tag 5, default NoLeaderRecoveryStateChange
	EligibleLeaderReplicas []int32 // tag 6, v2+
	LastKnownELR           []int32 // tag 7, v2+
	Directories            []UUID  // tag 8, v1+
}

// NewPartitionChangeRecord returns a change of topicID's partition that changes nothing yet.
func NewPartitionChangeRecord(topicID UUID, partition int32) *PartitionChangeRecord {
	return &PartitionChangeRecord{
		Version:             partitionChangeRecordVersion,
		PartitionID:         partition,
		TopicID:             topicID,
		Leader:              NoLeaderChange,
		LeaderRecoveryState: NoLeaderRecoveryStateChange,
	}
}

func (*PartitionChangeRecord) Type() RecordType       { return PartitionChangeRecordType }
func (r *PartitionChangeRecord) recordVersion() int16 { return r.Version }

func (r *PartitionChangeRecord) appendBody(w *writer) error {
	t, v := r.Type(), r.Version
	if v < 1 && r.Directories != nil {
		return unrepresentable(t, v, "Directories")
	}
	if v < 2 && (r.EligibleLeaderReplicas != nil || r.LastKnownELR != nil) {
		return unrepresentable(t, v, "EligibleLeaderReplicas/LastKnownElr")
	}
	w.int32(r.PartitionID)
	w.uuid(r.TopicID)
	var tags []taggedField
	if r.ISR != nil {
		tags = append(tags, taggedField{0, func(w *writer) { w.compactInt32s(r.ISR) }})
	}
	if r.Leader != NoLeaderChange {
		tags = append(tags, taggedField{1, func(w *writer) { w.int32(r.Leader) }})
	}
	if r.Replicas != nil {
		tags = append(tags, taggedField{2, func(w *writer) { w.compactInt32s(r.Replicas) }})
	}
	if r.RemovingReplicas != nil {
		tags = append(tags, taggedField{3, func(w *writer) { w.compactInt32s(r.RemovingReplicas) }})
	}
	if r.AddingReplicas != nil {
		tags = append(tags, taggedField{4, func(w *writer) { w.compactInt32s(r.AddingReplicas) }})
	}
	if r.LeaderRecoveryState != NoLeaderRecoveryStateChange {
		tags = append(tags, taggedField{5, func(w *writer) { w.int8(r.LeaderRecoveryState) }})
	}
	if r.EligibleLeaderReplicas != nil {
		tags = append(tags, taggedField{6, func(w *writer) { w.compactInt32s(r.EligibleLeaderReplicas) }})
	}
	if r.LastKnownELR != nil {
		tags = append(tags, taggedField{7, func(w *writer) { w.compactInt32s(r.LastKnownELR) }})
	}
	if r.Directories != nil {
		tags = append(tags, taggedField{8, func(w *writer) { w.compactUUIDs(r.Directories) }})
	}
	w.tagged(tags...)
	return nil
}

func (r *PartitionChangeRecord) readBody(rd *reader, v int16) {
	*r = PartitionChangeRecord{Version: v, Leader: NoLeaderChange, LeaderRecoveryState: NoLeaderRecoveryStateChange}
	r.PartitionID = rd.int32()
	r.TopicID = rd.uuid()
	rd.tagged(func(tag uint32, f *reader) bool {
		switch {
		case tag == 0:
			r.ISR = f.compactNullableInt32s("Isr")
		case tag == 1:
			r.Leader = f.int32()
		case tag == 2:
			r.Replicas = f.compactNullableInt32s("Replicas")
		case tag == 3:
			r.RemovingReplicas = f.compactNullableInt32s("RemovingReplicas")
		case tag == 4:
			r.AddingReplicas = f.compactNullableInt32s("AddingReplicas")
		case tag == 5:
			r.LeaderRecoveryState = f.int8()
		case (tag == 6 || tag == 7) && v < 2, tag == 8 && v < 1:
			f.fail("tag %d is not valid for version %d", tag, v)
		case tag == 6 && v >= 2:
			r.EligibleLeaderReplicas = f.compactNullableInt32s("EligibleLeaderReplicas")
		case tag == 7 && v >= 2:
			r.LastKnownELR = f.compactNullableInt32s("LastKnownElr")
		case tag == 8 && v >= 1:
			r.Directories = f.compactNullableUUIDs("Directories")
		default:
			return false
		}
		return true
	})
}

// --- RemoveTopicRecord (api key 9) ---

// RemoveTopicRecord deletes a topic, its partitions and its configs.
type RemoveTopicRecord struct {
	Version int16
	TopicID UUID
}

func (*RemoveTopicRecord) Type() RecordType       { return RemoveTopicRecordType }
func (r *RemoveTopicRecord) recordVersion() int16 { return r.Version }

func (r *RemoveTopicRecord) appendBody(w *writer) error {
	w.uuid(r.TopicID)
	w.tagged()
	return nil
}

func (r *RemoveTopicRecord) readBody(rd *reader, v int16) {
	*r = RemoveTopicRecord{Version: v}
	r.TopicID = rd.uuid()
	rd.noTags()
}

// --- FeatureLevelRecord (api key 12) ---

// FeatureLevelRecord finalizes a feature's level; level 0 removes the feature.
type FeatureLevelRecord struct {
	Version      int16
	Name         string
	FeatureLevel int16
}

func (*FeatureLevelRecord) Type() RecordType       { return FeatureLevelRecordType }
func (r *FeatureLevelRecord) recordVersion() int16 { return r.Version }

func (r *FeatureLevelRecord) appendBody(w *writer) error {
	if err := checkString(r.Type(), "Name", r.Name); err != nil {
		return err
	}
	w.compactString(r.Name)
	w.int16(r.FeatureLevel)
	w.tagged()
	return nil
}

func (r *FeatureLevelRecord) readBody(rd *reader, v int16) {
	*r = FeatureLevelRecord{Version: v}
	r.Name = rd.compactString("Name")
	r.FeatureLevel = rd.int16()
	rd.noTags()
}

// --- ProducerIdsRecord (api key 15) ---

// ProducerIdsRecord hands a block of producer ids to a broker: ids below NextProducerID are
// allocated.
type ProducerIdsRecord struct {
	Version        int16
	BrokerID       int32
	BrokerEpoch    int64 // default -1
	NextProducerID int64
}

func (*ProducerIdsRecord) Type() RecordType       { return ProducerIdsRecordType }
func (r *ProducerIdsRecord) recordVersion() int16 { return r.Version }

func (r *ProducerIdsRecord) appendBody(w *writer) error {
	w.int32(r.BrokerID)
	w.int64(r.BrokerEpoch)
	w.int64(r.NextProducerID)
	w.tagged()
	return nil
}

func (r *ProducerIdsRecord) readBody(rd *reader, v int16) {
	*r = ProducerIdsRecord{Version: v}
	r.BrokerID = rd.int32()
	r.BrokerEpoch = rd.int64()
	r.NextProducerID = rd.int64()
	rd.noTags()
}
