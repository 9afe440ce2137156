package broker

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// CreateTopics and auto-creating Metadata requests create at most TopicsCreateMax topics; the
// names past it are refused (CreateTopics: POLICY_VIOLATION, Metadata:
// UNKNOWN_TOPIC_OR_PARTITION), the others created in one proposal.
func TestTopicsCreateMax(t *testing.T) {
	h := newHarness(t, nil)
	h.syncAll()
	h.take()
	h.node.cfg.TopicsCreateMax = 2
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 1000
	for _, name := range []string{"a", "b", "a", "c", "d"} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		req.Topics = append(req.Topics, rt)
	}
	h.request(1, 7, req)
	h.syncAll()
	got := h.take()
	for _, want := range []string{
		`topic a err=INVALID_REQUEST msg="Found multiple entries for this topic."`,
		"topic b err=NONE",
		`topic c err=POLICY_VIOLATION msg="at most 2 topics per request"`,
		`topic d err=POLICY_VIOLATION msg="at most 2 topics per request"`,
	} {
		if !containsAll(got, want) {
			t.Fatalf("CreateTopics answer lacks %q:\n%s", want, got)
		}
	}
	if img := h.image(); img.TopicCount() != 1 {
		t.Fatalf("%d topics created, want 1 (b)", img.TopicCount())
	}

	meta := kmsg.NewPtrMetadataRequest()
	meta.AllowAutoTopicCreation = true
	for i := range 3 {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = strp(fmt.Sprintf("auto-%d", i))
		meta.Topics = append(meta.Topics, rt)
	}
	h.request(1, 12, meta)
	h.syncAll()
	got = h.take()
	for _, want := range []string{"topic auto-0 err=LEADER_NOT_AVAILABLE", "topic auto-1 err=LEADER_NOT_AVAILABLE", "topic auto-2 err=UNKNOWN_TOPIC_OR_PARTITION"} {
		if !containsAll(got, want) {
			t.Fatalf("Metadata answer lacks %q:\n%s", want, got)
		}
	}
	if img := h.image(); img.TopicCount() != 3 {
		t.Fatalf("%d topics after auto-creation, want 3", img.TopicCount())
	}
}
