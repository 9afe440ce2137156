package broker

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weirdata/weir/diskio/memfs"
)

// alterConfig sends one IncrementalAlterConfigs op and runs the syncs it needs.
func alterConfig(t *testing.T, h *harness, resourceType kmsg.ConfigResourceType, name, key string, op kmsg.IncrementalAlterConfigOp, value string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = resourceType, name
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Op, c.Value = key, op, strp(value)
	rr.Configs = append(rr.Configs, c)
	req.Resources = append(req.Resources, rr)
	h.request(1, 1, req)
	h.syncAll()
	if got := h.take(); !containsAll(got, "IncrementalAlterConfigs v1", "err=NONE") {
		t.Fatalf("altering %s of %q:\n%s", key, name, got)
	}
}

// A dynamic broker config reaches the logs of topics without an override of their own, for the
// cluster default and this node's own value alike, and survives a restart.
func TestDynamicBrokerConfigReachesLogs(t *testing.T) {
	h := newTopicHarness(t, noRetention)
	retentionMs := func(h *harness) int64 {
		t.Helper()
		l, ok := h.logs.GetLog(tpA)
		if !ok {
			t.Fatal("topic a has no log")
		}
		return l.Config().RetentionMs
	}
	alterConfig(t, h, resourceTypeBroker, "", "log.retention.ms", kmsg.IncrementalAlterConfigOpSet, "7000")
	if got := retentionMs(h); got != 7000 {
		t.Fatalf("after the cluster default: retention %d, want 7000", got)
	}
	alterConfig(t, h, resourceTypeBroker, "1", "log.retention.ms", kmsg.IncrementalAlterConfigOpSet, "5000")
	if got := retentionMs(h); got != 5000 {
		t.Fatalf("after this node's value: retention %d, want 5000", got)
	}
	alterConfig(t, h, resourceTypeTopic, "a", "retention.ms", kmsg.IncrementalAlterConfigOpSet, "1000")
	alterConfig(t, h, resourceTypeBroker, "1", "log.retention.ms", kmsg.IncrementalAlterConfigOpDelete, "")
	if got := retentionMs(h); got != 1000 {
		t.Fatalf("the topic's override: retention %d, want 1000", got)
	}
	alterConfig(t, h, resourceTypeTopic, "a", "retention.ms", kmsg.IncrementalAlterConfigOpDelete, "")
	if got := retentionMs(h); got != 7000 {
		t.Fatalf("back to the cluster default: retention %d, want 7000", got)
	}
	h2 := h.restart(true)
	h2.syncAll() // the recovered metadata records commit
	if got := retentionMs(h2); got != 7000 {
		t.Fatalf("after a restart: retention %d, want 7000", got)
	}
}

// A config change made after the last metadata snapshot is recovered past the metadata log's
// recovery point on restart, while the topic itself is in the snapshot: once the recovered
// records commit, the topic's logs take the change.
func TestRecoveredConfigChangeReachesLogs(t *testing.T) {
	for _, resource := range []struct {
		resourceType kmsg.ConfigResourceType
		name, key    string
	}{
		{resourceTypeTopic, "a", "retention.ms"},
		{resourceTypeBroker, "", "log.retention.ms"},
	} {
		h := newTopicHarness(t, noRetention)
		written := false
		for i := 0; i < 200 && !written; i++ {
			req := kmsg.NewPtrCreateTopicsRequest()
			req.TimeoutMillis = 1000
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = fmt.Sprintf("filler-%d", i), 1, 1
			req.Topics = append(req.Topics, rt)
			h.request(1, 7, req)
			h.syncAll()
			written = containsAll(h.take(), "metadata snapshot", "err=<nil>")
		}
		if !written {
			t.Fatal("no metadata snapshot was taken")
		}
		alterConfig(t, h, resource.resourceType, resource.name, resource.key, kmsg.IncrementalAlterConfigOpSet, "3000")
		h2 := openHarness(t, h.fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced}), noRetention)
		if _, ok := h2.image().TopicByName("a"); !ok {
			t.Fatal("topic a is not in the snapshot: the test does not cover recovery past it")
		}
		h2.syncAll()
		l, ok := h2.logs.GetLog(tpA)
		if !ok {
			t.Fatal("topic a has no log after the restart")
		}
		if got := l.Config().RetentionMs; got != 3000 {
			t.Fatalf("%s %q: retention %d after the recovered change committed, want 3000", resource.key, resource.name, got)
		}
	}
}
