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
	// QuotaWindowNum and QuotaWindowSizeSeconds shape the replication throttles' rate: the
	// bytes of the last QuotaWindowNum windows of QuotaWindowSizeSeconds each.
	QuotaWindowNum         int32 // replication.quota.window.num
	QuotaWindowSizeSeconds int32 // replication.quota.window.size.seconds
}

// replicationQuotaWindowNumMax bounds replication.quota.window.num (Kafka takes any int of
// at least 1): each window is kept in memory.
const replicationQuotaWindowNumMax = 10_000

func defaultReplicationConfig() ReplicationConfig {
	return ReplicationConfig{
		LagTimeMaxMs:          30_000,
		FetchWaitMaxMs:        500,
		FetchMinBytes:         1,
		FetchMaxBytes:         mib,
		FetchResponseMaxBytes: 10 * mib,
		FetchBackoffMs:        1000,

		QuotaWindowNum:         11,
		QuotaWindowSizeSeconds: 1,
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
		// Kafka's validators: at least 1. The window count bounds the rate's memory; the upper
		// bounds keep it small and the window in milliseconds representable.
		"replication.quota.window.num": func(c *BrokerConfig, k, v string) (err error) {
			c.Replication.QuotaWindowNum, err = parseInt32(k, v, 1, replicationQuotaWindowNumMax)
			return err
		},
		"replication.quota.window.size.seconds": func(c *BrokerConfig, k, v string) (err error) {
			c.Replication.QuotaWindowSizeSeconds, err = parseInt32(k, v, 1, math.MaxInt32)
			return err
		},
	} {
		brokerKeys[k] = set
	}
}
