package main

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestReassignThrottleOnWeir: against a real Weir broker, execute --throttle sets Kafka's
// throttle configs and the broker takes them (DescribeConfigs shows them as dynamic configs);
// verify, once the reassignment is done, removes them all and the defaults come back.
func TestReassignThrottleOnWeir(t *testing.T) {
	b := startTestBroker(t, t.TempDir())
	client := newTestClient(t, b.addr)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	create := kmsg.NewPtrCreateTopicsRequest()
	topic := kmsg.NewCreateTopicsRequestTopic()
	topic.Topic, topic.NumPartitions, topic.ReplicationFactor = "t", 2, 1
	create.Topics, create.TimeoutMillis = append(create.Topics, topic), 10_000
	resp, err := create.RequestWith(ctx, client)
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create topic t: %v %+v", err, resp)
	}

	describe := func(resourceType kmsg.ConfigResourceType, name string, keys ...string) map[string]string {
		t.Helper()
		req := kmsg.NewPtrDescribeConfigsRequest()
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName, rr.ConfigNames = resourceType, name, keys
		req.Resources = append(req.Resources, rr)
		resp, err := req.RequestWith(ctx, client)
		if err != nil || len(resp.Resources) != 1 || resp.Resources[0].ErrorCode != 0 {
			t.Fatalf("describe %s %s: %v %+v", resourceType, name, err, resp)
		}
		got := map[string]string{}
		for _, c := range resp.Resources[0].Configs {
			value := "<null>"
			if c.Value != nil {
				value = *c.Value
			}
			got[c.Name] = value + " " + c.Source.String()
		}
		return got
	}
	equal := func(what string, got, want map[string]string) {
		t.Helper()
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q (all: %v)", what, k, got[k], v, got)
			}
		}
	}

	file := writeTemp(t, "move.json", `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1]},{"topic":"t","partition":1,"replicas":[1]}]}`)
	code, stdout, stderr := runWeir(t, "cluster", "reassign", "execute", "--reassignment-json-file", file, "--throttle", "4096", "--bootstrap-server", b.addr)
	if code != 0 || !strings.Contains(stdout, "The inter-broker throttle limit was set to 4096 B/s") {
		t.Fatalf("execute --throttle: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	equal("broker 1 after execute", describe(kmsg.ConfigResourceTypeBroker, "1", leaderThrottledRateConfig, followerThrottledRateConfig), map[string]string{
		leaderThrottledRateConfig:   "4096 DYNAMIC_BROKER_CONFIG",
		followerThrottledRateConfig: "4096 DYNAMIC_BROKER_CONFIG",
	})
	equal("topic t after execute", describe(kmsg.ConfigResourceTypeTopic, "t", leaderThrottledReplicasConfig, followerThrottledReplicasConfig), map[string]string{
		leaderThrottledReplicasConfig:   "0:1,1:1 DYNAMIC_TOPIC_CONFIG",
		followerThrottledReplicasConfig: " DYNAMIC_TOPIC_CONFIG",
	})

	code, stdout, stderr = runWeir(t, "cluster", "reassign", "verify", "--reassignment-json-file", file, "--bootstrap-server", b.addr)
	want := "Status of partition reassignment:\nReassignment of partition t-0 is completed.\nReassignment of partition t-1 is completed.\n" +
		"Clearing broker-level throttles on broker 1\nClearing topic-level throttles on topic t\n"
	if code != 0 || stdout != want {
		t.Fatalf("verify: exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, stdout, want, stderr)
	}
	equal("broker 1 after verify", describe(kmsg.ConfigResourceTypeBroker, "1", leaderThrottledRateConfig, followerThrottledRateConfig), map[string]string{
		leaderThrottledRateConfig:   "9223372036854775807 DEFAULT_CONFIG",
		followerThrottledRateConfig: "9223372036854775807 DEFAULT_CONFIG",
	})
	equal("topic t after verify", describe(kmsg.ConfigResourceTypeTopic, "t", leaderThrottledReplicasConfig, followerThrottledReplicasConfig), map[string]string{
		leaderThrottledReplicasConfig:   " DEFAULT_CONFIG",
		followerThrottledReplicasConfig: " DEFAULT_CONFIG",
	})
}
