package metadata

import (
	"bytes"
	"maps"
	"slices"
)

// Records returns records that recreate the image when replayed onto an empty one: what a
// snapshot holds. The order is Kafka's (MetadataImage.write): metadata.version first, then the
// other features, brokers, topics each followed by its partitions, configs, the producer-id
// block; within each, sorted, so one image always gives the same records.
func (img *Image) Records() []Record {
	var out []Record
	if level, ok := img.features[MetadataVersionFeature]; ok {
		out = append(out, &FeatureLevelRecord{Name: MetadataVersionFeature, FeatureLevel: level})
	}
	for _, name := range img.FeatureNames() {
		if name != MetadataVersionFeature {
			out = append(out, &FeatureLevelRecord{Name: name, FeatureLevel: img.features[name]})
		}
	}
	for _, b := range img.Brokers() {
		out = append(out, &RegisterBrokerRecord{
			Version:              registerBrokerRecordVersion,
			BrokerID:             b.ID,
			IsMigratingZkBroker:  b.IsMigratingZkBroker,
			IncarnationID:        b.IncarnationID,
			BrokerEpoch:          b.Epoch,
			EndPoints:            b.EndPoints,
			Features:             b.Features,
			Rack:                 b.Rack,
			Fenced:               b.Fenced,
			InControlledShutdown: b.InControlledShutdown,
			LogDirs:              b.LogDirs,
		})
	}
	for _, t := range img.Topics() {
		out = append(out, &TopicRecord{Name: t.Name, TopicID: t.ID})
		for _, p := range t.Partitions() {
			version := int16(partitionRecordVersion)
			if p.EligibleLeaderReplicas != nil || p.LastKnownELR != nil {
				version = 2
			}
			out = append(out, &PartitionRecord{
				Version:                version,
				PartitionID:            p.ID,
				TopicID:                t.ID,
				Replicas:               p.Replicas,
				ISR:                    p.ISR,
				RemovingReplicas:       p.RemovingReplicas,
				AddingReplicas:         p.AddingReplicas,
				Leader:                 p.Leader,
				LeaderRecoveryState:    p.LeaderRecoveryState,
				LeaderEpoch:            p.LeaderEpoch,
				PartitionEpoch:         p.PartitionEpoch,
				Directories:            p.Directories,
				EligibleLeaderReplicas: p.EligibleLeaderReplicas,
				LastKnownELR:           p.LastKnownELR,
			})
		}
	}
	for _, res := range img.ConfigResources() {
		configs := img.configs[res]
		for _, key := range slices.Sorted(maps.Keys(configs)) {
			value := configs[key]
			out = append(out, &ConfigRecord{ResourceType: res.Type, ResourceName: res.Name, Name: key, Value: &value})
		}
	}
	if img.nextProducerID > 0 {
		// As Kafka's ProducerIdsImage.write: the block's owner is not part of the image.
		out = append(out, &ProducerIdsRecord{BrokerID: -1, BrokerEpoch: -1, NextProducerID: img.nextProducerID})
	}
	return out
}

// Equal reports whether two images hold the same metadata: their canonical records encode to the
// same bytes.
func (img *Image) Equal(other *Image) bool {
	a, b := img.Records(), other.Records()
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		ea, errA := EncodeRecord(a[i])
		eb, errB := EncodeRecord(b[i])
		if errA != nil || errB != nil || !bytes.Equal(ea, eb) {
			return false
		}
	}
	return true
}
