package wire

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// VersionRange is the versions of one API key a broker accepts and advertises in ApiVersions.
type VersionRange struct {
	APIKey     int16
	MinVersion int16
	MaxVersion int16
}

// VersionTable is the set of API keys and versions a broker advertises and accepts. It is a
// value: With returns a new table and never changes the one it was called on, so a table can
// be shared. The zero table accepts nothing.
type VersionTable struct {
	ranges []VersionRange // sorted by APIKey, one per key
}

// internalAPIKeys are inter-broker and KRaft keys, never advertised to clients: Kafka scopes
// them to the controller or inter-broker listener (ApiMessageType listeners).
var internalAPIKeys = []int16{
	4,  // LeaderAndIsr (ZooKeeper era)
	5,  // StopReplica (ZooKeeper era)
	6,  // UpdateMetadata (ZooKeeper era)
	7,  // ControlledShutdown (ZooKeeper era)
	27, // WriteTxnMarkers: transaction coordinator to partition leaders
	52, // Vote
	53, // BeginQuorumEpoch
	54, // EndQuorumEpoch
	56, // AlterPartition: broker to controller
	58, // Envelope: forwarding between brokers and controller
	59, // FetchSnapshot
	62, // BrokerRegistration
	63, // BrokerHeartbeat
	67, // AllocateProducerIds
	70, // ControllerRegistration
	73, // AssignReplicasToDirs
	82, // UpdateRaftVoter
}

// DefaultVersions is what the single-node broker advertises (Kafka 4.x-like). Every maximum
// is within what kmsg v1.15 decodes, so none is clamped; NewVersionTable would clamp and the
// tests pin that none is. Produce 0-2 are advertised and refused by the broker itself.
func DefaultVersions() VersionTable {
	t, err := NewVersionTable(
		VersionRange{APIKey: 0, MinVersion: 0, MaxVersion: 11}, // Produce
		VersionRange{APIKey: 1, MinVersion: 4, MaxVersion: 16}, // Fetch
		VersionRange{APIKey: 2, MinVersion: 1, MaxVersion: 10}, // ListOffsets
		VersionRange{APIKey: 3, MinVersion: 0, MaxVersion: 12}, // Metadata
		VersionRange{APIKey: 18, MinVersion: 0, MaxVersion: 4}, // ApiVersions
		VersionRange{APIKey: 19, MinVersion: 2, MaxVersion: 7}, // CreateTopics
		VersionRange{APIKey: 20, MinVersion: 1, MaxVersion: 6}, // DeleteTopics
		VersionRange{APIKey: 21, MinVersion: 0, MaxVersion: 2}, // DeleteRecords
		VersionRange{APIKey: 22, MinVersion: 0, MaxVersion: 5}, // InitProducerId
		VersionRange{APIKey: 23, MinVersion: 2, MaxVersion: 4}, // OffsetForLeaderEpoch
		VersionRange{APIKey: 32, MinVersion: 1, MaxVersion: 4}, // DescribeConfigs
		VersionRange{APIKey: 33, MinVersion: 0, MaxVersion: 2}, // AlterConfigs
		VersionRange{APIKey: 37, MinVersion: 0, MaxVersion: 3}, // CreatePartitions
		VersionRange{APIKey: 43, MinVersion: 0, MaxVersion: 2}, // ElectLeaders
		VersionRange{APIKey: 44, MinVersion: 0, MaxVersion: 1}, // IncrementalAlterConfigs
		VersionRange{APIKey: 45, MinVersion: 0, MaxVersion: 0}, // AlterPartitionReassignments
		VersionRange{APIKey: 46, MinVersion: 0, MaxVersion: 0}, // ListPartitionReassignments
		VersionRange{APIKey: 60, MinVersion: 0, MaxVersion: 1}, // DescribeCluster
		VersionRange{APIKey: 75, MinVersion: 0, MaxVersion: 0}, // DescribeTopicPartitions
	)
	if err != nil {
		panic(fmt.Sprintf("wire: the default version table is invalid: %v", err))
	}
	return t
}

// NewVersionTable builds a table from ranges. Each key must be a client-facing key kmsg knows,
// at most once, with 0 <= MinVersion <= MaxVersion. A MaxVersion above what kmsg can decode is
// clamped to kmsg's maximum (a range left empty by the clamp is an error).
func NewVersionTable(ranges ...VersionRange) (VersionTable, error) {
	var t VersionTable
	for _, r := range ranges {
		var err error
		if t, err = t.With(r); err != nil {
			return VersionTable{}, err
		}
	}
	return t, nil
}

// With returns a copy of t that also accepts r, replacing any range t has for r's key. The
// rules and the clamp are NewVersionTable's.
func (t VersionTable) With(r VersionRange) (VersionTable, error) { return t.with(r, false) }

func (t VersionTable) with(r VersionRange, internal bool) (VersionTable, error) {
	req := kmsg.RequestForKey(r.APIKey)
	if req == nil {
		return VersionTable{}, fmt.Errorf("wire: api key %d is unknown to kmsg", r.APIKey)
	}
	if !internal && slices.Contains(internalAPIKeys, r.APIKey) {
		return VersionTable{}, fmt.Errorf("wire: api key %d (%s) is inter-broker or KRaft only, never advertised", r.APIKey, kmsg.NameForKey(r.APIKey))
	}
	r.MaxVersion = min(r.MaxVersion, req.MaxVersion())
	if r.MinVersion < 0 || r.MaxVersion < r.MinVersion {
		return VersionTable{}, fmt.Errorf("wire: %s versions %d to %d (max clamped to kmsg's %d) are not a range", kmsg.NameForKey(r.APIKey), r.MinVersion, r.MaxVersion, req.MaxVersion())
	}
	ranges := make([]VersionRange, 0, len(t.ranges)+1)
	for _, existing := range t.ranges {
		if existing.APIKey != r.APIKey {
			ranges = append(ranges, existing)
		}
	}
	ranges = append(ranges, r)
	slices.SortFunc(ranges, func(a, b VersionRange) int { return int(a.APIKey) - int(b.APIKey) })
	return VersionTable{ranges: ranges}, nil
}

// Lookup returns the range t accepts for key.
func (t *VersionTable) Lookup(key int16) (VersionRange, bool) {
	i, found := slices.BinarySearchFunc(t.ranges, key, func(r VersionRange, k int16) int { return int(r.APIKey) - int(k) })
	if !found {
		return VersionRange{}, false
	}
	return t.ranges[i], true
}

// Supports reports whether t accepts version of key.
func (t *VersionTable) Supports(key, version int16) bool {
	r, ok := t.Lookup(key)
	return ok && version >= r.MinVersion && version <= r.MaxVersion
}

// Ranges returns t's ranges sorted by key; the slice is a copy.
func (t *VersionTable) Ranges() []VersionRange {
	return slices.Clone(t.ranges)
}

// APIKeys returns t's ranges as ApiVersions response entries, sorted by key.
func (t *VersionTable) APIKeys() []kmsg.ApiVersionsResponseApiKey {
	keys := make([]kmsg.ApiVersionsResponseApiKey, len(t.ranges))
	for i, r := range t.ranges {
		keys[i] = kmsg.NewApiVersionsResponseApiKey()
		keys[i].ApiKey = r.APIKey
		keys[i].MinVersion = r.MinVersion
		keys[i].MaxVersion = r.MaxVersion
	}
	return keys
}
