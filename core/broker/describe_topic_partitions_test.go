package broker

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/uuid"
	"github.com/weirdata/weir/core/wire"
)

// createTopicsQuiet creates each topic with its partition count (replication 1) and runs the
// syncs until the creation is applied.
func createTopicsQuiet(t *testing.T, h *harness, partitions map[string]int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 1000
	for _, name := range slices.Sorted(maps.Keys(partitions)) {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions[name], 1
		req.Topics = append(req.Topics, rt)
	}
	h.request(1, 7, req)
	h.syncAll()
	h.take()
	for name, count := range partitions {
		if tp, ok := h.node.img.TopicByName(name); !ok || tp.PartitionCount() != int(count) {
			t.Fatalf("topic %s not created with %d partitions", name, count)
		}
	}
}

func dtpRequest(limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor, topics ...string) *kmsg.DescribeTopicPartitionsRequest {
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	req.ResponsePartitionLimit = limit
	req.Cursor = cursor
	for _, name := range topics {
		rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
		rt.Topic = name
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// roundTrip encodes an answer as netio would and decodes it as a client would.
func roundTrip[R kmsg.Response](t *testing.T, r Response) R {
	t.Helper()
	frame := wire.AppendResponse(nil, r.Header, r.Body)
	_, decoded, err := wire.DecodeResponse(frame[wire.SizePrefixBytes:], r.Header.APIKey, r.Header.APIVersion)
	if err != nil {
		t.Fatalf("%s answer does not round-trip: %v", kmsg.NameForKey(r.Header.APIKey), err)
	}
	got, ok := decoded.(R)
	if !ok {
		t.Fatalf("answer is %T", decoded)
	}
	return got
}

// describeTopicPartitionsOn asks the single node, through the wire codec both ways.
func describeTopicPartitionsOn(t *testing.T, h *harness, req *kmsg.DescribeTopicPartitionsRequest) *kmsg.DescribeTopicPartitionsResponse {
	t.Helper()
	rd := sendQuiet(t, h, 1, 0, req)
	if len(rd.Responses) != 1 {
		t.Fatalf("DescribeTopicPartitions: %d answers, closes %v", len(rd.Responses), rd.Closes)
	}
	return roundTrip[*kmsg.DescribeTopicPartitionsResponse](t, rd.Responses[0])
}

// checkTopicAgainstImage checks an answered topic's id and partitions [from, from+n) against
// the image.
func checkTopicAgainstImage(t *testing.T, img *metadata.Image, rt kmsg.DescribeTopicPartitionsResponseTopic, from int32) {
	t.Helper()
	name := deref(rt.Topic)
	tp, ok := img.TopicByName(name)
	if !ok {
		t.Fatalf("answered topic %q is not in the image", name)
	}
	if rt.ErrorCode != errNone || rt.TopicID != tp.ID || rt.IsInternal || rt.AuthorizedOperations != topicOperationsAll {
		t.Fatalf("topic %s: error %s id %v internal %v operations %d", name, errName(rt.ErrorCode), rt.TopicID, rt.IsInternal, rt.AuthorizedOperations)
	}
	for i, rp := range rt.Partitions {
		want := from + int32(i)
		p, ok := tp.Partition(want)
		if !ok || rp.Partition != want {
			t.Fatalf("topic %s: answer %d is partition %d, want %d", name, i, rp.Partition, want)
		}
		if rp.ErrorCode != errNone || rp.LeaderID != p.Leader || rp.LeaderEpoch != p.LeaderEpoch ||
			!slices.Equal(rp.Replicas, p.Replicas) || !slices.Equal(rp.ISR, p.ISR) ||
			!slices.Equal(rp.EligibleLeaderReplicas, p.EligibleLeaderReplicas) || !slices.Equal(rp.LastKnownELR, p.LastKnownELR) {
			t.Fatalf("%s/%d answered %+v, image %+v", name, want, rp, *p)
		}
		// Kafka never answers these lists null.
		if rp.EligibleLeaderReplicas == nil || rp.LastKnownELR == nil {
			t.Fatalf("%s/%d: ELR lists answered null", name, want)
		}
	}
}

func TestDescribeTopicPartitionsAllTopics(t *testing.T) {
	h := newTopicHarness(t, nil)
	createTopicsQuiet(t, h, map[string]int32{"c": 2, "b": 3})
	resp := describeTopicPartitionsOn(t, h, dtpRequest(2000, nil))
	var names []string
	for _, rt := range resp.Topics {
		names = append(names, deref(rt.Topic))
		checkTopicAgainstImage(t, h.node.img, rt, 0)
		tp, _ := h.node.img.TopicByName(deref(rt.Topic))
		if len(rt.Partitions) != tp.PartitionCount() {
			t.Fatalf("topic %s: %d partitions answered of %d", deref(rt.Topic), len(rt.Partitions), tp.PartitionCount())
		}
		for _, rp := range rt.Partitions {
			if rp.LeaderID != 1 || len(rp.OfflineReplicas) != 0 {
				t.Fatalf("%s/%d: leader %d offline %v on a live single node", deref(rt.Topic), rp.Partition, rp.LeaderID, rp.OfflineReplicas)
			}
		}
	}
	if !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Fatalf("topics %v, want a b c sorted", names)
	}
	if resp.NextCursor != nil || resp.ThrottleMillis != 0 {
		t.Fatalf("cursor %+v throttle %d: the whole answer fit", resp.NextCursor, resp.ThrottleMillis)
	}
}

func TestDescribeTopicPartitionsNamedTopics(t *testing.T) {
	h := newTopicHarness(t, nil)
	createTopicsQuiet(t, h, map[string]int32{"c": 2, "b": 3})
	resp := describeTopicPartitionsOn(t, h, dtpRequest(2000, nil, "c", "missing", "a", "a", "bad/name", "__consumer_offsets"))
	type want struct {
		name string
		code int16
	}
	wants := []want{{"__consumer_offsets", errUnknownTopicOrPartition}, {"a", errNone}, {"bad/name", errInvalidTopic}, {"c", errNone}, {"missing", errUnknownTopicOrPartition}}
	if len(resp.Topics) != len(wants) {
		t.Fatalf("%d topics answered, want %d (sorted, each once): %+v", len(resp.Topics), len(wants), resp.Topics)
	}
	for i, w := range wants {
		rt := resp.Topics[i]
		if deref(rt.Topic) != w.name || rt.ErrorCode != w.code {
			t.Fatalf("topic %d: %s %s, want %s %s", i, deref(rt.Topic), errName(rt.ErrorCode), w.name, errName(w.code))
		}
		if w.code == errNone {
			checkTopicAgainstImage(t, h.node.img, rt, 0)
			continue
		}
		if rt.TopicID != uuid.Zero || len(rt.Partitions) != 0 || rt.IsInternal != (w.name == "__consumer_offsets") {
			t.Fatalf("missing topic %s: id %v partitions %d internal %v", w.name, rt.TopicID, len(rt.Partitions), rt.IsInternal)
		}
	}
	if resp.NextCursor != nil {
		t.Fatalf("cursor %+v: the whole answer fit", resp.NextCursor)
	}
}

// Walking with a limit below the partition count, from cursor to cursor, answers every
// partition exactly once, in order, and ends with a null cursor.
func TestDescribeTopicPartitionsPaginates(t *testing.T) {
	h := newTopicHarness(t, nil)
	createTopicsQuiet(t, h, map[string]int32{"b": 5, "c": 3, "d": 1})
	const total = 1 + 5 + 3 + 1
	for _, tc := range []struct {
		topics []string
		limit  int32
	}{
		{nil, 2}, {nil, 1}, {nil, 3}, {nil, 4},
		{[]string{"d", "b", "c", "a", "gone"}, 2},
		{[]string{"c", "b"}, 3},
	} {
		t.Run(fmt.Sprintf("topics=%v/limit=%d", tc.topics, tc.limit), func(t *testing.T) {
			var seen []string
			var cursor *kmsg.DescribeTopicPartitionsRequestCursor
			pages := 0
			for {
				pages++
				if pages > total+2 {
					t.Fatalf("no end after %d pages: %v", pages, seen)
				}
				resp := describeTopicPartitionsOn(t, h, dtpRequest(tc.limit, cursor, tc.topics...))
				answered := 0
				for _, rt := range resp.Topics {
					if rt.ErrorCode != errNone {
						continue
					}
					from := int32(0)
					if cursor != nil && cursor.Topic == deref(rt.Topic) {
						from = cursor.Partition
					}
					checkTopicAgainstImage(t, h.node.img, rt, from)
					for _, rp := range rt.Partitions {
						seen = append(seen, fmt.Sprintf("%s/%d", deref(rt.Topic), rp.Partition))
						answered++
					}
				}
				if int32(answered) > tc.limit {
					t.Fatalf("page %d holds %d partitions, limit %d", pages, answered, tc.limit)
				}
				if resp.NextCursor == nil {
					break
				}
				cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: resp.NextCursor.Topic, Partition: resp.NextCursor.Partition}
			}
			var want []string
			img := h.node.img
			for _, tp := range img.Topics() {
				if tc.topics != nil && !slices.Contains(tc.topics, tp.Name) {
					continue
				}
				for _, p := range tp.Partitions() {
					want = append(want, fmt.Sprintf("%s/%d", tp.Name, p.ID))
				}
			}
			if !slices.Equal(seen, want) {
				t.Fatalf("walked %v, want each partition once in order: %v", seen, want)
			}
			if tc.topics == nil && len(seen) != total {
				t.Fatalf("walked %d partitions, want %d", len(seen), total)
			}
		})
	}

	// A limit used up exactly at the end of a topic points the cursor at the next one's start.
	resp := describeTopicPartitionsOn(t, h, dtpRequest(1, nil))
	if c := resp.NextCursor; len(resp.Topics) != 1 || c == nil || c.Topic != "b" || c.Partition != 0 {
		t.Fatalf("limit 1 over a/0: topics %d cursor %+v, want b/0", len(resp.Topics), c)
	}
	// The limit is capped at the broker's maximum.
	resp = describeTopicPartitionsOn(t, h, dtpRequest(1_000_000, nil))
	if resp.NextCursor != nil || len(resp.Topics) != 4 {
		t.Fatalf("a large limit: %d topics cursor %+v", len(resp.Topics), resp.NextCursor)
	}
	capped := describeTopicPartitions(h.node.img, dtpRequest(1_000_000, nil), 3)
	if c := capped.NextCursor; c == nil || c.Topic != "b" || c.Partition != 2 {
		t.Fatalf("limit capped at 3: cursor %+v, want b/2", c)
	}
}

func TestDescribeTopicPartitionsCursor(t *testing.T) {
	h := newTopicHarness(t, nil)
	createTopicsQuiet(t, h, map[string]int32{"b": 5, "c": 3})

	// Topics before the cursor's are skipped; later ones start at 0.
	resp := describeTopicPartitionsOn(t, h, dtpRequest(2000, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "b", Partition: 3}))
	if len(resp.Topics) != 2 || deref(resp.Topics[0].Topic) != "b" || deref(resp.Topics[1].Topic) != "c" {
		t.Fatalf("from b/3: %+v", resp.Topics)
	}
	checkTopicAgainstImage(t, h.node.img, resp.Topics[0], 3)
	checkTopicAgainstImage(t, h.node.img, resp.Topics[1], 0)
	if len(resp.Topics[0].Partitions) != 2 || len(resp.Topics[1].Partitions) != 3 || resp.NextCursor != nil {
		t.Fatalf("from b/3: %d and %d partitions, cursor %+v", len(resp.Topics[0].Partitions), len(resp.Topics[1].Partitions), resp.NextCursor)
	}

	// A cursor naming a topic the list lacks is INVALID_REQUEST for every topic asked for.
	resp = describeTopicPartitionsOn(t, h, dtpRequest(2000, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "b"}, "c", "a"))
	if len(resp.Topics) != 2 || resp.NextCursor != nil {
		t.Fatalf("cursor outside the list: %+v", resp)
	}
	for i, name := range []string{"c", "a"} {
		rt := resp.Topics[i]
		if deref(rt.Topic) != name || rt.ErrorCode != errInvalidRequest || len(rt.Partitions) != 0 || rt.TopicID != uuid.Zero {
			t.Fatalf("cursor outside the list, topic %d: %s %s %d partitions", i, deref(rt.Topic), errName(rt.ErrorCode), len(rt.Partitions))
		}
	}
	// A cursor past a topic's end answers the topic with no partitions, as Kafka's.
	resp = describeTopicPartitionsOn(t, h, dtpRequest(2000, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "c", Partition: 7}, "c"))
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != errNone || len(resp.Topics[0].Partitions) != 0 || resp.NextCursor != nil {
		t.Fatalf("cursor past the end: %+v", resp)
	}
}

func TestApiVersionsListsDescribeTopicPartitions(t *testing.T) {
	h := newTopicHarness(t, nil)
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "weir-test", "1.0"
	rd := sendQuiet(t, h, 1, 4, req)
	if len(rd.Responses) != 1 {
		t.Fatalf("%d answers", len(rd.Responses))
	}
	resp := roundTrip[*kmsg.ApiVersionsResponse](t, rd.Responses[0])
	if resp.ErrorCode != errNone {
		t.Fatalf("ApiVersions: %s", errName(resp.ErrorCode))
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == kmsg.DescribeTopicPartitions.Int16() {
			if k.MinVersion != 0 || k.MaxVersion != 0 {
				t.Fatalf("DescribeTopicPartitions advertised as %d-%d, want 0-0", k.MinVersion, k.MaxVersion)
			}
			return
		}
	}
	t.Fatalf("ApiVersions does not list DescribeTopicPartitions: %+v", resp.ApiKeys)
}

// With eligible leader replicas on and an ISR shrunk below min.insync.replicas, the answer
// carries the image's ELR, and the fenced brokers as offline replicas.
func TestDescribeTopicPartitionsCarriesELR(t *testing.T) {
	c := newReplicaCluster(t, 3)
	if !c.image().ELREnabled() {
		t.Fatal("the cluster does not use eligible leader replicas")
	}
	c.createAssigned("e", []int32{1, 2, 3}, "min.insync.replicas", "2")
	partition := func() *metadata.Partition {
		tp, ok := c.image().TopicByName("e")
		if !ok {
			t.Fatal("topic e is gone")
		}
		p, _ := tp.Partition(0)
		return p
	}
	c.advanceUntil(5000, "every replica in the ISR", func() bool { return len(partition().ISR) == 3 })
	c.broker(3).stopped = true
	c.advanceUntil(60_000, "broker 3 out of the ISR", func() bool { return len(partition().ISR) == 2 })
	c.broker(2).stopped = true
	c.advanceUntil(60_000, "broker 2 in the ELR", func() bool { return len(partition().EligibleLeaderReplicas) > 0 })
	p := partition()

	dr := kmsg.NewPtrDescribeTopicPartitionsRequest()
	resp, ok := c.answer(c.request(1, 0, dr), 1000).(*kmsg.DescribeTopicPartitionsResponse)
	if !ok || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("DescribeTopicPartitions: %+v", resp)
	}
	checkTopicAgainstImage(t, c.image(), resp.Topics[0], 0)
	rp := resp.Topics[0].Partitions[0]
	if !slices.Equal(rp.EligibleLeaderReplicas, []int32{2}) || !slices.Equal(rp.ISR, []int32{1}) || rp.LeaderID != 1 {
		t.Fatalf("answer %+v (image %+v): want ISR [1], ELR [2], leader 1", rp, *p)
	}
	if !slices.Equal(rp.OfflineReplicas, []int32{2, 3}) {
		t.Fatalf("offline replicas %v, want the fenced brokers 2 and 3", rp.OfflineReplicas)
	}
}
