package config

import "math"

// ReplicationConfig is the follower and ISR side of server.properties (Kafka's replica.*
// keys), with Kafka's defaults.
type ReplicationConfig struct {
	LagTimeMaxMs          int64 // replica.lag.time.max.ms: an ISR follower not caught up for longer leaves
	FetchWaitMaxMs        int32 // replica.fetch.wait.max.ms: a follower fetch's long poll
	FetchMinBytes         int32 // replica.fetch.min.bytes
	FetchMaxBytes         int32 // replica.fetch.max.bytes: per partition
	FetchResponseMaxBytes int32 // replica.fetch.response.max.bytes: per fetch
	FetchBackoffMs        int32 // replica.fetch.backoff.ms: after a failed fetch
}

func defaultReplicationConfig() ReplicationConfig {
	return ReplicationConfig{
		LagTimeMaxMs:          30_000,
		FetchWaitMaxMs:        500,
		FetchMinBytes:         1,
		FetchMaxBytes:         mib,
		FetchResponseMaxBytes: 10 * mib,
		FetchBackoffMs:        1000,
	}
}

func init() {
	for k, set := range map[string]brokerSetter{ //purity:allow-map-range registering setters is order-free
		"replica.lag.time.max.ms": func(c *BrokerConfig, k, v string) (err error) {
			c.Replication.LagTimeMaxMs, err = parseInt64(k, v, 1, maxInt64)
			return err
		},
		"replica.fetch.wait.max.ms": func(c *BrokerConfig, k, v string) (err error) {
			c.Replication.FetchWaitMaxMs, err = parseInt32(k, v, 0, math.MaxInt32)
			return err
		},
		"replica.fetch.min.bytes": func(c *BrokerConfig, k, v string) (err error) {
			c.Replication.FetchMinBytes, err = parseInt32(k, v, 1, math.MaxInt32)
			return err
		},
		"replica.fetch.max.bytes": func(c *BrokerConfig, k, v string) (err error) {
			c.Replication.FetchMaxBytes, err = parseInt32(k, v, 0, math.MaxInt32)
			return err
		},
		"replica.fetch.response.max.bytes": func(c *BrokerConfig, k, v string) (err error) {
			c.Replication.FetchResponseMaxBytes, err = parseInt32(k, v, 0, math.MaxInt32)
			return err
		},
		"replica.fetch.backoff.ms": func(c *BrokerConfig, k, v string) (err error) {
			c.Replication.FetchBackoffMs, err = parseInt32(k, v, 0, math.MaxInt32)
			return err
		},
	} {
		brokerKeys[k] = set
	}
}
