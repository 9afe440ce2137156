package client

import (
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/wire"
)

// API keys the client sends.
const (
	keyProduce        int16 = 0
	keyFetch          int16 = 1
	keyListOffsets    int16 = 2
	keyMetadata       int16 = 3
	keyAPIVersions    int16 = 18
	keyCreateTopics   int16 = 19
	keyInitProducerID int16 = 22
	// keyOffsetForLeaderEpoch validates a consumer's position after a leader change (KIP-320).
	keyOffsetForLeaderEpoch        int16 = 23
	keyElectLeaders                int16 = 43
	keyAlterPartitionReassignments int16 = 45
	keyCount                             = 46 // one past the largest key the client sends
)

// clientVersions are the versions the client can speak: from the oldest whose fields it relies
// on (record batch v2 needs Produce v3 and Fetch v4; ListOffsets v1 answers a single offset) to
// the newest kmsg encodes.
var clientVersions = []wire.VersionRange{
	{APIKey: keyProduce, MinVersion: 3, MaxVersion: kmsgMax(keyProduce)},
	{APIKey: keyFetch, MinVersion: 4, MaxVersion: kmsgMax(keyFetch)},
	{APIKey: keyListOffsets, MinVersion: 1, MaxVersion: kmsgMax(keyListOffsets)},
	{APIKey: keyMetadata, MinVersion: 1, MaxVersion: kmsgMax(keyMetadata)},
	{APIKey: keyAPIVersions, MinVersion: 0, MaxVersion: kmsgMax(keyAPIVersions)},
	{APIKey: keyCreateTopics, MinVersion: 0, MaxVersion: kmsgMax(keyCreateTopics)},
	{APIKey: keyInitProducerID, MinVersion: 0, MaxVersion: kmsgMax(keyInitProducerID)},
	{APIKey: keyOffsetForLeaderEpoch, MinVersion: offsetForLeaderEpochMinVersion, MaxVersion: kmsgMax(keyOffsetForLeaderEpoch)},
	{APIKey: keyElectLeaders, MinVersion: 1, MaxVersion: kmsgMax(keyElectLeaders)}, // v1: ElectionType
	{APIKey: keyAlterPartitionReassignments, MinVersion: 0, MaxVersion: kmsgMax(keyAlterPartitionReassignments)},
}

// kmsgMax is the newest version of key that kmsg encodes.
func kmsgMax(key int16) int16 {
	req := kmsg.RequestForKey(key)
	if req == nil {
		panic(fmt.Sprintf("client: kmsg does not know api key %d", key))
	}
	return req.MaxVersion()
}

// Versions from which a request or response names topics by id instead of by name.
const (
	produceTopicIDVersion = 13
	fetchTopicIDVersion   = 13
)

// versionSet is, for every key the client sends, the range of versions both the broker and the
// client speak; max < 0 when they share none.
type versionSet [keyCount]struct{ min, max int16 }

// get returns the highest common version of key.
func (v *versionSet) get(key int16) (int16, bool) {
	return v.pick(key, math.MaxInt16)
}

// pick returns the highest common version of key that is at most limit (a request that cannot
// carry what a newer version needs, such as a topic id the client does not know).
func (v *versionSet) pick(key, limit int16) (int16, bool) {
	r := v[key]
	version := min(r.max, limit)
	return version, version >= 0 && version >= r.min
}

// negotiate picks, for every key, the versions both sides speak.
func negotiate(broker []kmsg.ApiVersionsResponseApiKey) versionSet {
	var set versionSet
	for i := range set {
		set[i].min, set[i].max = -1, -1
	}
	for _, mine := range clientVersions {
		for _, theirs := range broker {
			if theirs.ApiKey != mine.APIKey {
				continue
			}
			lo, hi := max(mine.MinVersion, theirs.MinVersion), min(mine.MaxVersion, theirs.MaxVersion)
			if lo <= hi {
				set[mine.APIKey].min, set[mine.APIKey].max = lo, hi
			}
			break
		}
	}
	return set
}

// clientSoftwareName and clientSoftwareVersion identify the client in ApiVersions v3+ (KIP-511).
const (
	clientSoftwareName    = "weir-client"
	clientSoftwareVersion = "0.1.0"
)

// startNegotiation sends ApiVersions on a connection that just opened, at the newest version
// the client speaks: a broker that does not speak it answers in v0 with its own range.
func (c *Client) startNegotiation(cn *conn) {
	cn.state = connNegotiating
	c.sendAPIVersions(cn, kmsgMax(keyAPIVersions))
}

// sendAPIVersions sends an ApiVersions request at version.
func (c *Client) sendAPIVersions(cn *conn, version int16) {
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName = clientSoftwareName
	req.ClientSoftwareVersion = clientSoftwareVersion
	c.send(cn, req, version, &request{kind: reqAPIVersions, deadlineNs: c.requestDeadline()}, true)
}

// handleAPIVersions completes negotiation; false if cn was closed.
func (c *Client) handleAPIVersions(cn *conn, r *request, resp *kmsg.ApiVersionsResponse) bool {
	if resp.ErrorCode == errUnsupportedVersion {
		// KIP-511: the answer lists the ApiVersions range the broker speaks; retry within it.
		for _, k := range resp.ApiKeys {
			if k.ApiKey == keyAPIVersions && k.MaxVersion < r.version && k.MaxVersion >= 0 {
				c.sendAPIVersions(cn, k.MaxVersion)
				return true
			}
		}
		c.dropConn(cn, "the broker speaks no ApiVersions version the client does", true)
		return false
	}
	if resp.ErrorCode != errNone {
		c.dropConn(cn, fmt.Sprintf("ApiVersions: %s", ErrorName(resp.ErrorCode)), true)
		return false
	}
	cn.versions = negotiate(resp.ApiKeys)
	cn.state = connReady
	return true
}
