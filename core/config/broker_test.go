package config

import (
	"reflect"
	"strings"
	"testing"
)

// kafkaSample is Kafka's config/server.properties for KRaft combined mode (comments trimmed).
const kafkaSample = `
############################# Server Basics #############################
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:9093

############################# Socket Server Settings #############################
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600

############################# Log Basics #############################
log.dirs=/tmp/kraft-combined-logs
num.partitions=1
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
`

// minimal is the smallest valid KRaft combined config.
const minimal = "process.roles=broker,controller\nnode.id=1\n" +
	"listeners=PLAINTEXT://:9092,CONTROLLER://:9093\ncontroller.listener.names=CONTROLLER\n" +
	"controller.quorum.voters=1@localhost:9093\n"

func TestParseKafkaSampleServerProperties(t *testing.T) {
	c, warnings, err := ParseServerProperties([]byte(kafkaSample))
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeID != 1 || !reflect.DeepEqual(c.ProcessRoles, []string{"broker", "controller"}) {
		t.Errorf("node %d roles %v", c.NodeID, c.ProcessRoles)
	}
	if !reflect.DeepEqual(c.LogDirs, []string{"/tmp/kraft-combined-logs"}) {
		t.Errorf("LogDirs = %v", c.LogDirs)
	}
	wantListeners := []Listener{{"PLAINTEXT", "", 9092}, {"CONTROLLER", "", 9093}}
	if !reflect.DeepEqual(c.Listeners, wantListeners) {
		t.Errorf("Listeners = %v", c.Listeners)
	}
	if c.LogRetentionMs != 168*hourMs || c.LogSegmentBytes != gib || c.OffsetsTopicReplicationFactor != 1 {
		t.Errorf("retention %d segment %d offsets rf %d", c.LogRetentionMs, c.LogSegmentBytes, c.OffsetsTopicReplicationFactor)
	}
	var keys []string
	for _, w := range warnings {
		keys = append(keys, w.Key)
		if !strings.Contains(w.Message, "ignored") || w.Line == 0 {
			t.Errorf("warning %v lacks a line or says nothing", w)
		}
	}
	want := []string{"num.io.threads", "num.network.threads", "num.recovery.threads.per.data.dir",
		"share.coordinator.state.topic.min.isr", "share.coordinator.state.topic.replication.factor",
		"socket.receive.buffer.bytes", "socket.send.buffer.bytes",
		"transaction.state.log.min.isr", "transaction.state.log.replication.factor"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("warnings for %v, want %v", keys, want)
	}
}

func TestBrokerDefaults(t *testing.T) {
	c, warnings, err := ParseServerProperties([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"num.partitions", c.NumPartitions, int32(1)},
		{"default.replication.factor", c.DefaultReplicationFactor, int16(1)},
		{"message.max.bytes", c.MessageMaxBytes, int32(1048588)},
		{"log.segment.bytes", c.LogSegmentBytes, int32(1 << 30)},
		{"log.roll.ms", c.LogRollMs, int64(168 * 3600 * 1000)},
		{"log.retention.ms", c.LogRetentionMs, int64(168 * 3600 * 1000)},
		{"log.retention.bytes", c.LogRetentionBytes, int64(-1)},
		{"log.index.interval.bytes", c.LogIndexIntervalBytes, int32(4096)},
		{"log.index.size.max.bytes", c.LogIndexSizeMaxBytes, int32(10 << 20)},
		{"log.flush.interval.messages", c.LogFlushIntervalMessages, int64(9223372036854775807)},
		{"log.flush.interval.ms", c.LogFlushIntervalMs, int64(9223372036854775807)},
		{"auto.create.topics.enable", c.AutoCreateTopicsEnable, true},
		{"min.insync.replicas", c.MinInsyncReplicas, int32(1)},
		{"socket.request.max.bytes", c.SocketRequestMaxBytes, int32(100 << 20)},
		{"log.dirs", c.LogDirs, []string{"/tmp/kafka-logs"}},
		{"advertised.listeners", c.AdvertisedListeners, []Listener{{"PLAINTEXT", "", 9092}}},
		{"voters", c.ControllerQuorumVoters, []QuorumVoter{{1, "localhost", 9093}}},
		{"broker.heartbeat.interval.ms", c.BrokerHeartbeatIntervalMs, int32(2000)},
		{"broker.session.timeout.ms", c.BrokerSessionTimeoutMs, int32(9000)},
		{"auto.leader.rebalance.enable", c.AutoLeaderRebalanceEnable, true},
		{"leader.imbalance.check.interval.seconds", c.LeaderImbalanceCheckIntervalSeconds, int64(300)},
		{"leader.imbalance.per.broker.percentage", c.LeaderImbalancePerBrokerPercentage, int32(10)},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

// TestLeaderRebalanceKeys: the three keys are read as Kafka's, 0 and 100 being the percentage's
// bounds.
func TestLeaderRebalanceKeys(t *testing.T) {
	c, warnings, err := ParseServerProperties([]byte(minimal + "auto.leader.rebalance.enable=false\n" +
		"leader.imbalance.check.interval.seconds=1\nleader.imbalance.per.broker.percentage=0\n"))
	if err != nil || len(warnings) != 0 {
		t.Fatalf("err %v, warnings %v", err, warnings)
	}
	if c.AutoLeaderRebalanceEnable || c.LeaderImbalanceCheckIntervalSeconds != 1 || c.LeaderImbalancePerBrokerPercentage != 0 {
		t.Fatalf("got %v %d %d", c.AutoLeaderRebalanceEnable, c.LeaderImbalanceCheckIntervalSeconds, c.LeaderImbalancePerBrokerPercentage)
	}
	if c, _, err := ParseServerProperties([]byte(minimal + "leader.imbalance.per.broker.percentage=100\n")); err != nil || c.LeaderImbalancePerBrokerPercentage != 100 {
		t.Fatalf("100%%: %v, %d", err, c.LeaderImbalancePerBrokerPercentage)
	}
}

func TestBrokerPrecedence(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		field func(c *BrokerConfig) any
		want  any
	}{
		{"retention hours", "log.retention.hours=1", func(c *BrokerConfig) any { return c.LogRetentionMs }, int64(3600000)},
		{"retention minutes over hours", "log.retention.hours=1\nlog.retention.minutes=2", func(c *BrokerConfig) any { return c.LogRetentionMs }, int64(120000)},
		{"retention ms over minutes", "log.retention.ms=5\nlog.retention.minutes=2\nlog.retention.hours=1", func(c *BrokerConfig) any { return c.LogRetentionMs }, int64(5)},
		{"retention negative means unbounded", "log.retention.hours=-5", func(c *BrokerConfig) any { return c.LogRetentionMs }, int64(-1)},
		{"retention ms -1", "log.retention.ms=-1", func(c *BrokerConfig) any { return c.LogRetentionMs }, int64(-1)},
		{"roll hours", "log.roll.hours=2", func(c *BrokerConfig) any { return c.LogRollMs }, int64(7200000)},
		{"roll ms over hours", "log.roll.hours=2\nlog.roll.ms=10", func(c *BrokerConfig) any { return c.LogRollMs }, int64(10)},
		{"log.dirs over log.dir", "log.dir=/a\nlog.dirs=/b, /c", func(c *BrokerConfig) any { return c.LogDirs }, []string{"/b", "/c"}},
		{"log.dir alone", "log.dir=/a", func(c *BrokerConfig) any { return c.LogDirs }, []string{"/a"}},
		{"flush ms from scheduler", "log.flush.scheduler.interval.ms=7", func(c *BrokerConfig) any { return c.LogFlushIntervalMs }, int64(7)},
		{"flush ms over scheduler", "log.flush.scheduler.interval.ms=7\nlog.flush.interval.ms=3", func(c *BrokerConfig) any { return c.LogFlushIntervalMs }, int64(3)},
		{"boolean any case", "auto.create.topics.enable=FALSE", func(c *BrokerConfig) any { return c.AutoCreateTopicsEnable }, false},
		{"trimmed int", "num.partitions=  3  ", func(c *BrokerConfig) any { return c.NumPartitions }, int32(3)},
		{"cleanup policy list", "log.cleanup.policy=compact, delete", func(c *BrokerConfig) any { return c.LogCleanupPolicy }, []string{"compact", "delete"}},
		{"heartbeat interval", "broker.heartbeat.interval.ms=500", func(c *BrokerConfig) any { return c.BrokerHeartbeatIntervalMs }, int32(500)},
		{"session timeout", "broker.session.timeout.ms=18000", func(c *BrokerConfig) any { return c.BrokerSessionTimeoutMs }, int32(18000)},
		{"rack", "broker.rack=us-east-1a", func(c *BrokerConfig) any { return c.BrokerRack }, "us-east-1a"},
		{"ipv6 listener", "listeners=PLAINTEXT://[::1]:9092,CONTROLLER://:9093", func(c *BrokerConfig) any { return c.Listeners[0] }, Listener{"PLAINTEXT", "::1", 9092}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := ParseServerProperties([]byte(minimal + tt.extra + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.field(&c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBrokerIDAlias(t *testing.T) {
	base := strings.Replace(minimal, "node.id=1\n", "", 1)
	c, _, err := ParseServerProperties([]byte(base + "broker.id=1\n"))
	if err != nil || c.NodeID != 1 {
		t.Fatalf("broker.id alias: node %d, %v", c.NodeID, err)
	}
	if _, _, err := ParseServerProperties([]byte(minimal + "broker.id=2\n")); err == nil {
		t.Fatal("node.id=1 and broker.id=2 accepted")
	}
}

func TestBrokerErrors(t *testing.T) {
	tests := []struct {
		name, props string
		wantErr     []string
	}{
		{"bad int", minimal + "num.partitions=abc", []string{"num.partitions", `"abc"`, "line 6"}},
		{"below minimum", minimal + "num.partitions=0", []string{"num.partitions", `"0"`, "at least 1"}},
		{"int overflow", minimal + "message.max.bytes=3000000000", []string{"message.max.bytes", "INT"}},
		{"bad bool", minimal + "auto.create.topics.enable=yes", []string{"auto.create.topics.enable", `"yes"`}},
		{"bad timestamp type", minimal + "log.message.timestamp.type=Now", []string{"log.message.timestamp.type", "CreateTime"}},
		{"bad cleanup policy", minimal + "log.cleanup.policy=delete,forever", []string{"log.cleanup.policy", "forever"}},
		{"segment too small", minimal + "log.segment.bytes=13", []string{"log.segment.bytes", "at least 14"}},
		{"index size too small", minimal + "log.index.size.max.bytes=3", []string{"log.index.size.max.bytes"}},
		{"bad retention hours", minimal + "log.retention.hours=1.5", []string{"log.retention.hours", `"1.5"`}},
		{"two errors reported", minimal + "num.partitions=x\nmin.insync.replicas=0", []string{"num.partitions", "min.insync.replicas"}},
		{"missing node id", strings.Replace(minimal, "node.id=1\n", "", 1), []string{"node.id"}},
		{"missing roles", strings.Replace(minimal, "process.roles=broker,controller\n", "", 1), []string{"process.roles"}},
		{"bad role", minimal + "process.roles=broker,leader", []string{"process.roles", "leader"}},
		{"missing voters", strings.Replace(minimal, "controller.quorum.voters=1@localhost:9093\n", "", 1), []string{"controller.quorum"}},
		{"bad voter", minimal + "controller.quorum.voters=x@h:1", []string{"controller.quorum.voters"}},
		{"bad listener", minimal + "listeners=PLAINTEXT:9092", []string{"listeners", "NAME://host:port"}},
		{"bad port", minimal + "listeners=PLAINTEXT://:99999,CONTROLLER://:9093", []string{"listeners", "99999"}},
		{"same port", minimal + "listeners=PLAINTEXT://:9092,CONTROLLER://:9092", []string{"same port"}},
		{"controller listener missing", minimal + "listeners=PLAINTEXT://:9092", []string{"CONTROLLER", "controller.listener.names"}},
		{"duplicate log dir", minimal + "log.dirs=/a,/a", []string{"log.dirs", "duplicate"}},
		{"empty log dirs", minimal + "log.dirs= , ", []string{"log.dirs", "at least one"}},
		{"inter broker listener absent", minimal + "inter.broker.listener.name=INTERNAL", []string{"inter.broker.listener.name"}},
		{"advertise meta address", minimal + "advertised.listeners=PLAINTEXT://0.0.0.0:9092", []string{"meta-address"}},
		{"zero session timeout", minimal + "broker.session.timeout.ms=0", []string{"broker.session.timeout.ms", "at least 1"}},
		{"bad heartbeat interval", minimal + "broker.heartbeat.interval.ms=2s", []string{"broker.heartbeat.interval.ms", `"2s"`}},
		{"bad rebalance flag", minimal + "auto.leader.rebalance.enable=on", []string{"auto.leader.rebalance.enable", `"on"`}},
		{"zero imbalance check interval", minimal + "leader.imbalance.check.interval.seconds=0", []string{"leader.imbalance.check.interval.seconds", "at least 1"}},
		{"imbalance interval overflows ms", minimal + "leader.imbalance.check.interval.seconds=9223372036854776", []string{"leader.imbalance.check.interval.seconds"}},
		{"imbalance percentage above 100", minimal + "leader.imbalance.per.broker.percentage=101", []string{"leader.imbalance.per.broker.percentage", `"101"`}},
		{"negative imbalance percentage", minimal + "leader.imbalance.per.broker.percentage=-1", []string{"leader.imbalance.per.broker.percentage"}},
		{"bad unicode escape", minimal + "a=\\u00", []string{"line 6", "uxxxx"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseServerProperties([]byte(tt.props))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestUnknownKeysAreWarnings(t *testing.T) {
	_, warnings, err := ParseServerProperties([]byte(minimal + "log.retention.hourz=5\nzookeeper.connect=localhost:2181\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 2 || warnings[0].Key != "log.retention.hourz" || warnings[1].Key != "zookeeper.connect" {
		t.Fatalf("warnings = %v", warnings)
	}
	if !strings.Contains(warnings[0].String(), "line 6") {
		t.Errorf("warning %q lacks its line", warnings[0])
	}
}

func TestClusterIDIsNotAServerKey(t *testing.T) {
	_, warnings, err := ParseServerProperties([]byte(minimal + "cluster.id=MkU3OEVBNTcwNTJENDM2Qk\n"))
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0].Message, "meta.properties") {
		t.Fatalf("warnings %v, err %v", warnings, err)
	}
}

func TestBrokerOnlyNode(t *testing.T) {
	brokerOnly := "process.roles=broker\nnode.id=4\nlisteners=PLAINTEXT://:9092\n" +
		"controller.listener.names=CONTROLLER\ncontroller.quorum.bootstrap.servers=c1:9093,c2:9093\n"
	c, _, err := ParseServerProperties([]byte(brokerOnly))
	if err != nil {
		t.Fatal(err)
	}
	if c.HasRole(RoleController) || !c.HasRole(RoleBroker) || len(c.ControllerQuorumBootstrapServers) != 2 {
		t.Fatalf("%+v", c)
	}
	for _, bad := range []string{
		"listeners=PLAINTEXT://:9092,CONTROLLER://:9093", // a broker-only node does not listen as controller
		"advertised.listeners=CONTROLLER://host:9093",    // nor advertise one
		"controller.quorum.bootstrap.servers=c1",         // host:port
	} {
		if _, _, err := ParseServerProperties([]byte(brokerOnly + bad + "\n")); err == nil {
			t.Errorf("%s accepted on a broker-only node", bad)
		}
	}
}

func TestMetadataLogDir(t *testing.T) {
	c, _, err := ParseServerProperties([]byte(minimal + "log.dirs=/a,/b\n"))
	if err != nil || c.MetadataLogDir != "/a" || !reflect.DeepEqual(c.AllLogDirs(), []string{"/a", "/b"}) {
		t.Fatalf("default metadata.log.dir: %q %v %v", c.MetadataLogDir, c.AllLogDirs(), err)
	}
	c, _, err = ParseServerProperties([]byte(minimal + "log.dirs=/a,/b\nmetadata.log.dir=/m\n"))
	if err != nil || c.MetadataLogDir != "/m" || !reflect.DeepEqual(c.AllLogDirs(), []string{"/a", "/b", "/m"}) {
		t.Fatalf("metadata.log.dir: %q %v %v", c.MetadataLogDir, c.AllLogDirs(), err)
	}
}

// FuzzParseServerProperties: any file gives a config, warnings or an error, never a panic.
func FuzzParseServerProperties(f *testing.F) {
	f.Add([]byte(kafkaSample))
	f.Add([]byte(minimal + "log.dirs=,\nlog.retention.minutes=-1\nlisteners=A://[::1]:1,B://:2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, err := ParseServerProperties(data)
		if err == nil && (c.NodeID < 0 || len(c.LogDirs) == 0 || c.MetadataLogDir == "") {
			t.Fatalf("accepted an incomplete config: %+v", c)
		}
	})
}
