package metadata

import (
	"encoding/json"
	"strconv"
)

// DecodeForDump decodes a metadata-log record value into one line of JSON in the shape
// kafka-dump-log's metadata decoder prints:
//
//	{"type":"TOPIC_RECORD","version":0,"data":{"name":"t","topicId":"xOxBrcYuSRWgtFuZIBiXIA"}}
//
// Every field of the record's version is printed in schema order, tagged ones included, with
// Kafka's camelCase names; UUIDs print as Kafka's base64 strings.
func DecodeForDump(value []byte) (string, error) {
	r, err := DecodeRecord(value)
	if err != nil {
		return "", err
	}
	return dumpRecord(r), nil
}

func dumpRecord(r Record) string {
	var o jsonObject
	o.str("type", r.Type().String())
	o.num("version", int64(r.recordVersion()))
	var d jsonObject
	switch r := r.(type) {
	case *RegisterBrokerRecord:
		d.num("brokerId", int64(r.BrokerID))
		if r.Version >= 2 {
			d.boolean("isMigratingZkBroker", r.IsMigratingZkBroker)
		}
		d.str("incarnationId", r.IncarnationID.String())
		d.num("brokerEpoch", r.BrokerEpoch)
		endPoints := make([]string, len(r.EndPoints))
		for i, e := range r.EndPoints {
			var eo jsonObject
			eo.str("name", e.Name)
			eo.str("host", e.Host)
			eo.num("port", int64(e.Port))
			eo.num("securityProtocol", int64(e.SecurityProtocol))
			endPoints[i] = eo.String()
		}
		d.raw("endPoints", jsonArray(endPoints))
		features := make([]string, len(r.Features))
		for i, f := range r.Features {
			var fo jsonObject
			fo.str("name", f.Name)
			fo.num("minSupportedVersion", int64(f.MinSupportedVersion))
			fo.num("maxSupportedVersion", int64(f.MaxSupportedVersion))
			features[i] = fo.String()
		}
		d.raw("features", jsonArray(features))
		d.nullableStr("rack", r.Rack)
		d.boolean("fenced", r.Fenced)
		if r.Version >= 1 {
			d.boolean("inControlledShutdown", r.InControlledShutdown)
		}
		if r.Version >= 3 {
			d.raw("logDirs", uuids(r.LogDirs, false))
		}
	case *UnregisterBrokerRecord:
		d.num("brokerId", int64(r.BrokerID))
		d.num("brokerEpoch", r.BrokerEpoch)
	case *FenceBrokerRecord:
		d.num("id", int64(r.ID))
		d.num("epoch", r.Epoch)
	case *UnfenceBrokerRecord:
		d.num("id", int64(r.ID))
		d.num("epoch", r.Epoch)
	case *BrokerRegistrationChangeRecord:
		d.num("brokerId", int64(r.BrokerID))
		d.num("brokerEpoch", r.BrokerEpoch)
		d.num("fenced", int64(r.Fenced))
		if r.Version >= 1 {
			d.num("inControlledShutdown", int64(r.InControlledShutdown))
		}
		if r.Version >= 2 {
			d.raw("logDirs", uuids(r.LogDirs, false))
		}
	case *TopicRecord:
		d.str("name", r.Name)
		d.str("topicId", r.TopicID.String())
	case *PartitionRecord:
		d.num("partitionId", int64(r.PartitionID))
		d.str("topicId", r.TopicID.String())
		d.raw("replicas", int32s(r.Replicas, false))
		d.raw("isr", int32s(r.ISR, false))
		d.raw("removingReplicas", int32s(r.RemovingReplicas, false))
		d.raw("addingReplicas", int32s(r.AddingReplicas, false))
		d.num("leader", int64(r.Leader))
		d.num("leaderRecoveryState", int64(r.LeaderRecoveryState))
		d.num("leaderEpoch", int64(r.LeaderEpoch))
		d.num("partitionEpoch", int64(r.PartitionEpoch))
		if r.Version >= 1 {
			d.raw("directories", uuids(r.Directories, false))
		}
		if r.Version >= 2 {
			d.raw("eligibleLeaderReplicas", int32s(r.EligibleLeaderReplicas, true))
			d.raw("lastKnownElr", int32s(r.LastKnownELR, true))
		}
	case *ConfigRecord:
		d.num("resourceType", int64(r.ResourceType))
		d.str("resourceName", r.ResourceName)
		d.str("name", r.Name)
		d.nullableStr("value", r.Value)
	case *PartitionChangeRecord:
		d.num("partitionId", int64(r.PartitionID))
		d.str("topicId", r.TopicID.String())
		d.raw("isr", int32s(r.ISR, true))
		d.num("leader", int64(r.Leader))
		d.raw("replicas", int32s(r.Replicas, true))
		d.raw("removingReplicas", int32s(r.RemovingReplicas, true))
		d.raw("addingReplicas", int32s(r.AddingReplicas, true))
		d.num("leaderRecoveryState", int64(r.LeaderRecoveryState))
		if r.Version >= 1 {
			d.raw("directories", uuids(r.Directories, true))
		}
		if r.Version >= 2 {
			d.raw("eligibleLeaderReplicas", int32s(r.EligibleLeaderReplicas, true))
			d.raw("lastKnownElr", int32s(r.LastKnownELR, true))
		}
	case *RemoveTopicRecord:
		d.str("topicId", r.TopicID.String())
	case *FeatureLevelRecord:
		d.str("name", r.Name)
		d.num("featureLevel", int64(r.FeatureLevel))
	case *ProducerIdsRecord:
		d.num("brokerId", int64(r.BrokerID))
		d.num("brokerEpoch", r.BrokerEpoch)
		d.num("nextProducerId", r.NextProducerID)
	}
	o.raw("data", d.String())
	return o.String()
}

// jsonObject builds a JSON object with keys in insertion order.
type jsonObject struct{ b []byte }

func (o *jsonObject) key(k string) {
	if len(o.b) == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.b = strconv.AppendQuote(o.b, k)
	o.b = append(o.b, ':')
}

func (o *jsonObject) raw(k, v string) { o.key(k); o.b = append(o.b, v...) }
func (o *jsonObject) num(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}
func (o *jsonObject) boolean(k string, v bool) { o.key(k); o.b = strconv.AppendBool(o.b, v) }
func (o *jsonObject) str(k, v string)          { o.raw(k, jsonString(v)) }

func (o *jsonObject) nullableStr(k string, v *string) {
	if v == nil {
		o.raw(k, "null")
		return
	}
	o.str(k, *v)
}

func (o *jsonObject) String() string {
	if len(o.b) == 0 {
		return "{}"
	}
	return string(o.b) + "}"
}

// jsonString quotes s as JSON (strconv.Quote's escapes are Go's, not JSON's).
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic("metadata: json.Marshal of a string failed: " + err.Error())
	}
	return string(b)
}

func jsonArray(items []string) string {
	b := []byte{'['}
	for i, item := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, item...)
	}
	return string(append(b, ']'))
}

func int32s(a []int32, nullable bool) string {
	if a == nil && nullable {
		return "null"
	}
	items := make([]string, len(a))
	for i, v := range a {
		items[i] = strconv.FormatInt(int64(v), 10)
	}
	return jsonArray(items)
}

func uuids(a []UUID, nullable bool) string {
	if a == nil && nullable {
		return "null"
	}
	items := make([]string, len(a))
	for i, u := range a {
		items[i] = jsonString(u.String())
	}
	return jsonArray(items)
}
