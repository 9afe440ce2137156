package broker

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/wire"
)

// servedKeys are the API keys the Node has a handler for (one file each). Advertising a key
// the Node cannot answer would make clients use it and lose their connection; a client that
// finds a key missing falls back (franz-go, for one, produces without a producer id when
// InitProducerId is not offered).
var servedKeys = []kmsg.Key{
	kmsg.Produce, kmsg.Fetch, kmsg.ListOffsets, kmsg.Metadata, kmsg.ApiVersions,
	kmsg.CreateTopics, kmsg.DeleteTopics, kmsg.DeleteRecords, kmsg.OffsetForLeaderEpoch,
	kmsg.DescribeConfigs, kmsg.AlterConfigs, kmsg.CreatePartitions,
	kmsg.IncrementalAlterConfigs, kmsg.DescribeCluster, kmsg.InitProducerID,
	kmsg.ElectLeaders, kmsg.AlterPartitionAssignments, kmsg.ListPartitionReassignments,
	kmsg.DescribeTopicPartitions,
}

// ServedVersions returns t without the keys the Node does not serve: the table to advertise
// and to decode with.
func ServedVersions(t wire.VersionTable) (wire.VersionTable, error) {
	var ranges []wire.VersionRange
	for _, r := range t.Ranges() {
		if slices.Contains(servedKeys, kmsg.Key(r.APIKey)) {
			ranges = append(ranges, r)
		}
	}
	return wire.NewVersionTable(ranges...)
}

// checkServed reports a key t lists that the Node has no handler for.
func checkServed(t *wire.VersionTable) error {
	for _, r := range t.Ranges() {
		if !slices.Contains(servedKeys, kmsg.Key(r.APIKey)) {
			return fmt.Errorf("broker config: versions list %s (key %d), which the Node does not serve", kmsg.NameForKey(r.APIKey), r.APIKey)
		}
	}
	if _, ok := t.Lookup(kmsg.ApiVersions.Int16()); !ok {
		return fmt.Errorf("broker config: versions must list ApiVersions")
	}
	return nil
}
