package main

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestTopicDescribeKafkaFormat(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(2, "t", "a"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for _, topic := range []string{"t", "a"} {
		for p := range int32(2) {
			if err := c.MoveTopicPartition(topic, p, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	brokers := "--brokers=" + strings.Join(c.ListenAddrs(), ",")
	wantRun(t, "", exitOK, "TOPIC  STATUS\nt      OK\n", "topic", "alter-config", "t", "--set", "retention.ms=5", "--set", "cleanup.policy=compact", brokers)
	topicT := "Topic: t\tTopicId: " + topicID(t, brokers, "t") + "\tPartitionCount: 2\tReplicationFactor: 3\tConfigs: cleanup.policy=compact,retention.ms=5\n" +
		"\tTopic: t\tPartition: 0\tLeader: 0\tReplicas: 0,1,2\tIsr: 0,1,2\tOffline: \n" +
		"\tTopic: t\tPartition: 1\tLeader: 1\tReplicas: 1,2,0\tIsr: 1,2,0\tOffline: \n"
	topicA := "Topic: a\tTopicId: " + topicID(t, brokers, "a") + "\tPartitionCount: 2\tReplicationFactor: 3\tConfigs: \n" +
		"\tTopic: a\tPartition: 0\tLeader: 0\tReplicas: 0,1,2\tIsr: 0,1,2\tOffline: \n" +
		"\tTopic: a\tPartition: 1\tLeader: 1\tReplicas: 1,2,0\tIsr: 1,2,0\tOffline: \n"
	wantRun(t, "", exitOK, topicT, "topic", "describe", "t", "--format", "kafka", brokers)
	// Without topics, all of them, sorted.
	wantRun(t, "", exitOK, topicA+topicT, "topic", "describe", "--format", "kafka", brokers)
	// A topic that does not exist: the others are described, then Kafka's error.
	stderr := wantRun(t, "", exitError, topicT, "topic", "describe", "t", "nope", "--format", "kafka", brokers)
	if stderr != "weir topic describe: Topic 'nope' does not exist as expected\n" {
		t.Errorf("stderr %q", stderr)
	}
	// Only t has configs of its own.
	wantRun(t, "", exitOK, strings.SplitAfter(topicT, "\n")[0], "topic", "describe", "--topics-with-overrides", brokers)
	wantRun(t, "", exitOK, "", "topic", "describe", "a", "--topics-with-overrides", brokers)
	// A healthy cluster has no partition in any filter.
	wantRun(t, "", exitOK, "", "topic", "describe", "--under-replicated-partitions", "--under-min-isr-partitions", "--unavailable-partitions", brokers)
	// min.insync.replicas 3 = the ISR: every partition is at min ISR.
	wantRun(t, "", exitOK, "TOPIC  STATUS\na      OK\n", "topic", "alter-config", "a", "--set", "min.insync.replicas=3", brokers)
	wantRun(t, "", exitOK, "\tTopic: a\tPartition: 0\tLeader: 0\tReplicas: 0,1,2\tIsr: 0,1,2\tOffline: \n"+
		"\tTopic: a\tPartition: 1\tLeader: 1\tReplicas: 1,2,0\tIsr: 1,2,0\tOffline: \n",
		"topic", "describe", "--at-min-isr-partitions", brokers)
	// The filters print Kafka's lines only.
	wantFail(t, exitUsage, "need --format kafka", "topic", "describe", "t", "--under-replicated-partitions", "--format", "json", brokers)
	wantFail(t, exitUsage, `--format "yaml": want text or json or kafka`, "topic", "describe", "t", "--format", "yaml", brokers)
	// The rpk-style formats still want topics named.
	wantFail(t, exitUsage, "weir topic describe: name at least one topic", "topic", "describe", brokers)
}

// TestTopicDescribeKafkaFilters describes a topic whose partitions are in trouble, from a
// Metadata answer made up here since kfake's partitions always have a leader and a full ISR.
func TestTopicDescribeKafkaFilters(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(4, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := "--brokers=" + strings.Join(c.ListenAddrs(), ",")
	wantRun(t, "", exitOK, "TOPIC  STATUS\nt      OK\n", "topic", "alter-config", "t", "--set", "min.insync.replicas=2", brokers)

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	real, err := kmsg.NewPtrMetadataRequest().RequestWith(context.Background(), cl)
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	partition := func(p, leader int32, replicas, isr, offline []int32) kmsg.MetadataResponseTopicPartition {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition, mp.Leader, mp.Replicas, mp.ISR, mp.OfflineReplicas = p, leader, replicas, isr, offline
		return mp
	}
	c.ControlKey(kmsg.Metadata.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mreq := req.(*kmsg.MetadataRequest)
		if len(mreq.Topics) != 1 || mreq.Topics[0].Topic == nil || *mreq.Topics[0].Topic != "t" {
			return nil, nil, false // kgo's own metadata requests
		}
		resp := mreq.ResponseKind().(*kmsg.MetadataResponse)
		resp.Brokers, resp.ClusterID, resp.ControllerID = real.Brokers, real.ClusterID, real.ControllerID
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic = kmsg.StringPtr("t")
		for _, rt := range real.Topics {
			if *rt.Topic == "t" {
				mt.TopicID = rt.TopicID
			}
		}
		mt.Partitions = []kmsg.MetadataResponseTopicPartition{
			partition(0, 0, []int32{0, 1, 2}, []int32{0, 1, 2}, nil),     // healthy, being reassigned
			partition(1, 1, []int32{1, 2, 0}, []int32{1, 2}, []int32{0}), // 0 reported offline
			partition(2, -1, []int32{2, 0, 1}, []int32{}, nil),           // no leader
			partition(3, 9, []int32{9, 0, 1}, []int32{9, 0}, nil),        // led by a broker that is gone
		}
		resp.Topics = append(resp.Topics, mt)
		return resp, nil, true
	})
	// t-0 is moving from 0,1 to 1,2: replicas 0,1,2, adding 2, removing 0.
	c.ControlKey(kmsg.ListPartitionReassignments.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
		rt := kmsg.NewListPartitionReassignmentsResponseTopic()
		rt.Topic = "t"
		rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		rp.Partition, rp.Replicas, rp.AddingReplicas, rp.RemovingReplicas = 0, []int32{0, 1, 2}, []int32{2}, []int32{0}
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true
	})

	p0 := "\tTopic: t\tPartition: 0\tLeader: 0\tReplicas: 0,1,2\tIsr: 0,1,2\tOffline: \tAdding Replicas: 2\tRemoving Replicas: 0\n"
	p1 := "\tTopic: t\tPartition: 1\tLeader: 1\tReplicas: 1,2,0\tIsr: 1,2\tOffline: 0\n"
	p2 := "\tTopic: t\tPartition: 2\tLeader: none\tReplicas: 2,0,1\tIsr: \tOffline: \n"
	p3 := "\tTopic: t\tPartition: 3\tLeader: 9\tReplicas: 9,0,1\tIsr: 9,0\tOffline: 9\n"
	// The replication factor of a topic being reassigned counts the replicas staying: 3 - 1.
	wantRun(t, "", exitOK, "Topic: t\tTopicId: "+topicID(t, brokers, "t")+"\tPartitionCount: 4\tReplicationFactor: 2\tConfigs: min.insync.replicas=2\n"+p0+p1+p2+p3,
		"topic", "describe", "t", "--format", "kafka", brokers)
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--under-replicated-partitions"}, p1 + p2 + p3},
		{[]string{"--under-min-isr-partitions"}, p2},
		{[]string{"--at-min-isr-partitions"}, p1 + p3},
		{[]string{"--unavailable-partitions"}, p2 + p3},
		{[]string{"--under-min-isr-partitions", "--at-min-isr-partitions"}, p1 + p2 + p3},
		{[]string{"--unavailable-partitions", "--format", "kafka"}, p2 + p3},
	} {
		wantRun(t, "", exitOK, c.want, append([]string{"topic", "describe", "t", brokers}, c.flags...)...)
	}
}
