package config

import (
	"errors"
	"strings"
	"testing"
)

// The throttled replica lists accept what Kafka's ThrottledReplicaListValidator accepts.
func TestThrottledReplicasValidation(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  string // the value as described; "error" when refused
	}{
		{"", ""},
		{"  ", ""},
		{"*", "*"},
		{" * ", "*"},
		{"*,", "*"},
		{"0:1", "0:1"},
		{"0:1,1:2", "0:1,1:2"},
		{" 0:1 , 1:2 ", "0:1,1:2"},
		{"0:1,", "0:1"}, // Kafka's pattern allows an empty item
		{"0:1,,2:3", "0:1,2:3"},
		{"0:1,*", "error"},
		{"*,*", "error"},
		{"a:1", "error"},
		{"0:", "error"},
		{":1", "error"},
		{"0", "error"},
		{"-1:2", "error"},
		{"0:1:2", "error"},
		{"0:99999999999", "error"},
	} {
		got, err := ParseThrottledReplicas(LeaderReplicationThrottledReplicasKey, tc.value)
		if tc.want == "error" {
			var iv *InvalidValueError
			if !errors.As(err, &iv) || iv.Key != LeaderReplicationThrottledReplicasKey {
				t.Errorf("%q: err %v, want an InvalidValueError", tc.value, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.value, err)
			continue
		}
		if got.String() != tc.want {
			t.Errorf("%q: %q, want %q", tc.value, got.String(), tc.want)
		}
	}
}

func TestThrottledReplicasThrottled(t *testing.T) {
	list, err := ParseThrottledReplicas("k", "0:1,2:3")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		partition, broker int32
		want              bool
	}{{0, 1, true}, {2, 3, true}, {0, 3, false}, {1, 1, false}, {2, 1, false}} {
		if got := list.Throttled(tc.partition, tc.broker); got != tc.want {
			t.Errorf("%d:%d throttled %v, want %v", tc.partition, tc.broker, got, tc.want)
		}
	}
	if all := (ThrottledReplicas{All: true}); !all.Throttled(7, 9) {
		t.Error("* does not throttle 7:9")
	}
	if (ThrottledReplicas{}).Throttled(0, 0) {
		t.Error("the empty list throttles 0:0")
	}
}

// The replica lists are topic keys without a broker synonym, empty by default; the rates are
// dynamic-only broker keys; the windows static broker keys.
func TestReplicationThrottleKeys(t *testing.T) {
	b := DefaultBrokerConfig()
	tc, err := EffectiveTopicConfig(&b, map[string]string{
		FollowerReplicationThrottledReplicasKey: "0:2",
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := tc.Get(FollowerReplicationThrottledReplicasKey); v != "0:2" {
		t.Errorf("follower list %q, want 0:2", v)
	}
	if v, ok := tc.Get(LeaderReplicationThrottledReplicasKey); !ok || v != "" {
		t.Errorf("leader list %q (known %v), want empty", v, ok)
	}
	for _, k := range TopicKeys() {
		if strings.HasSuffix(k.Name, ".replication.throttled.replicas") && k.BrokerSynonym != "" {
			t.Errorf("%s has broker synonym %s", k.Name, k.BrokerSynonym)
		}
	}
	if err := ValidateTopicConfig(LeaderReplicationThrottledReplicasKey, "x"); err == nil {
		t.Error("a bad leader list is accepted")
	}

	for _, key := range []string{LeaderReplicationThrottledRateKey, FollowerReplicationThrottledRateKey} {
		if !IsDynamicBrokerKey(key) {
			t.Errorf("%s is not a dynamic broker key", key)
		}
		if v, err := ParseDynamicBrokerValue(key, " 1048576 "); err != nil || v != 1048576 {
			t.Errorf("%s=1048576: %d, %v", key, v, err)
		}
		for _, bad := range []string{"-1", "1.5", "fast", "9223372036854775808"} {
			if _, err := ParseDynamicBrokerValue(key, bad); err == nil {
				t.Errorf("%s=%s accepted", key, bad)
			}
		}
	}
	if IsDynamicBrokerKey("log.retention.ms") {
		t.Error("log.retention.ms is a dynamic-only key")
	}
	for _, k := range DynamicBrokerKeys() {
		if k.Default != "9223372036854775807" {
			t.Errorf("%s default %s, want Long.MAX_VALUE", k.Name, k.Default)
		}
	}

	if b.Replication.QuotaWindowNum != 11 || b.Replication.QuotaWindowSizeSeconds != 1 {
		t.Errorf("window defaults %d x %d s, want 11 x 1 s", b.Replication.QuotaWindowNum, b.Replication.QuotaWindowSizeSeconds)
	}
	props := "node.id=1\nprocess.roles=broker,controller\ncontroller.listener.names=CONTROLLER\n" +
		"listeners=PLAINTEXT://:9092,CONTROLLER://:9093\ncontroller.quorum.voters=1@localhost:9093\n"
	c, _, err := ParseServerProperties([]byte(props + "replication.quota.window.num=5\nreplication.quota.window.size.seconds=2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Replication.QuotaWindowNum != 5 || c.Replication.QuotaWindowSizeSeconds != 2 {
		t.Errorf("windows %d x %d s, want 5 x 2 s", c.Replication.QuotaWindowNum, c.Replication.QuotaWindowSizeSeconds)
	}
	for _, bad := range []string{"replication.quota.window.num=0\n", "replication.quota.window.size.seconds=0\n", "replication.quota.window.num=10001\n"} {
		if _, _, err := ParseServerProperties([]byte(props + bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
