package client_test

import (
	"strings"
	"testing"

	"github.com/weirdata/weir/core/client"
)

// TestConfigValidate: the settings Kafka refuses are refused.
func TestConfigValidate(t *testing.T) {
	ok := client.DefaultConfig("localhost:9092", "[::1]:9093")
	if err := ok.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(*client.Config)
		want string
	}{
		{"no bootstrap", func(c *client.Config) { c.BootstrapAddrs = nil }, "no bootstrap"},
		{"no port", func(c *client.Config) { c.BootstrapAddrs = []string{"localhost"} }, "missing port"},
		{"bad port", func(c *client.Config) { c.BootstrapAddrs = []string{"h:70000"} }, "port"},
		{"bare ipv6", func(c *client.Config) { c.BootstrapAddrs = []string{"::1:9092"} }, "brackets"},
		{"idempotent acks=1", func(c *client.Config) { c.Acks = client.AcksLeader }, "acks=-1"},
		{"idempotent in flight", func(c *client.Config) { c.InFlightPerConnectionMax = 6 }, "at most 5"},
		{"acks=2", func(c *client.Config) { c.Idempotent = false; c.Acks = 2 }, "acks 2"},
		{"delivery < request", func(c *client.Config) { c.DeliveryTimeoutNs = c.RequestTimeoutNs - 1 }, "delivery timeout"},
		{"zero bound", func(c *client.Config) { c.PendingOpsMax = 0 }, "PendingOpsMax"},
	} {
		cfg := client.DefaultConfig("localhost:9092")
		c.edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}
