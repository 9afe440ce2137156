package broker

import (
	"errors"
	"fmt"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/producer"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/wire"
	"github.com/weirdata/weir/diskio"
)

// Config configures a Node.
type Config struct {
	// Broker is the broker's configuration: node.id, num.partitions,
	// auto.create.topics.enable, message.max.bytes and every topic default come from it.
	Broker config.BrokerConfig
	// AdvertisedHost and AdvertisedPort are the listener Metadata answers with.
	AdvertisedHost string
	AdvertisedPort int32
	// Versions is what ApiVersions advertises and the driver's decoder accepts: only keys the
	// Node serves (ServedVersions).
	Versions wire.VersionTable
	// LogBase supplies the log settings that are not Kafka topic keys (open segments, read
	// plan bound); topic configs fill in the rest (config.TopicConfig.LogConfig).
	LogBase log.Config
	// ConnRequestsMax bounds the requests of one connection awaiting their response (the
	// driver's max in-flight per connection should be at most this). A connection past it is
	// closed: the driver broke its own bound.
	ConnRequestsMax int
	// WaitingRequestsMax bounds the requests parked across all connections (long-poll
	// fetches, produces waiting for their sync, topic creations waiting for the metadata log).
	// A fetch past it is answered at once; a produce or create past it is answered with
	// REQUEST_TIMED_OUT rather than queued, so memory stays bounded.
	WaitingRequestsMax int
	// FetchWaitMsMax caps a fetch's max wait (Kafka has no cap; a bound keeps timers sane).
	FetchWaitMsMax int32
	// DecompressedBytesMax bounds a produced batch once decompressed (zip bombs).
	DecompressedBytesMax int64
	// MetadataWaitMs bounds how long a request without a timeout of its own (AlterConfigs,
	// IncrementalAlterConfigs) waits for its metadata records to be durable.
	MetadataWaitMs int32
	// CheckpointIntervalMs is how often the offset checkpoints are handed out
	// (log.flush.offset.checkpoint.interval.ms, Kafka's default 60000); 0 turns it off.
	CheckpointIntervalMs int64
	// TopicsCreateMax bounds the topics one CreateTopics or auto-creating Metadata may create.
	TopicsCreateMax int
	// Buggify turns on rare legal paths (broker/... sites, and log/... through LogBase) in
	// the simulator; nil in production.
	Buggify *buggify.B
	// FS is the file system of the log directories (the one storage.Manager was opened on):
	// the Node reads and writes the partitions' producer snapshots through it.
	FS diskio.FS
	// Producer bounds each partition's idempotent-producer state (producer.id.expiration.ms
	// and the per-partition producer bound).
	Producer producer.Config
	// ProducerExpirationCheckIntervalMs is producer.id.expiration.check.interval.ms (Kafka's
	// default 600000): how often idle producers are forgotten.
	ProducerExpirationCheckIntervalMs int64
}

// ConfigFromBroker derives a Node config from server.properties: the advertised listener is
// the first of advertised.listeners (a missing host is "localhost"), and the bounds take
// their defaults. The caller sets FS.
func ConfigFromBroker(b config.BrokerConfig) (Config, error) {
	if len(b.AdvertisedListeners) == 0 {
		return Config{}, errors.New("broker config: no advertised listener")
	}
	l := b.AdvertisedListeners[0]
	host := l.Host
	if host == "" {
		host = "localhost"
	}
	versions, err := ServedVersions(wire.DefaultVersions())
	if err != nil {
		return Config{}, fmt.Errorf("broker config: %w", err)
	}
	return Config{
		Broker:               b,
		AdvertisedHost:       host,
		AdvertisedPort:       int32(l.Port),
		Versions:             versions,
		LogBase:              log.DefaultConfig(),
		ConnRequestsMax:      100,
		WaitingRequestsMax:   10000,
		FetchWaitMsMax:       60_000,
		DecompressedBytesMax: record.DefaultDecompressedBytesMax,
		TopicsCreateMax:      1000,
		MetadataWaitMs:       30_000,
		CheckpointIntervalMs: 60_000,
		Producer:             producer.DefaultConfig(),

		ProducerExpirationCheckIntervalMs: 600_000,
	}, nil
}

// Validate reports the first setting out of range.
func (c *Config) Validate() error {
	switch {
	case c.Broker.NodeID < 0:
		return fmt.Errorf("broker config: node.id %d must be set", c.Broker.NodeID)
	case c.AdvertisedPort <= 0 || c.AdvertisedPort > 65535:
		return fmt.Errorf("broker config: advertised port %d out of range", c.AdvertisedPort)
	case c.ConnRequestsMax < 1:
		return fmt.Errorf("broker config: ConnRequestsMax %d must be at least 1", c.ConnRequestsMax)
	case c.WaitingRequestsMax < 1:
		return fmt.Errorf("broker config: WaitingRequestsMax %d must be at least 1", c.WaitingRequestsMax)
	case c.FetchWaitMsMax < 0:
		return fmt.Errorf("broker config: FetchWaitMsMax %d must not be negative", c.FetchWaitMsMax)
	case c.DecompressedBytesMax < 1:
		return fmt.Errorf("broker config: DecompressedBytesMax %d must be positive", c.DecompressedBytesMax)
	case c.CheckpointIntervalMs < 0:
		return fmt.Errorf("broker config: CheckpointIntervalMs %d must not be negative", c.CheckpointIntervalMs)
	case c.MetadataWaitMs < 1:
		return fmt.Errorf("broker config: MetadataWaitMs %d must be positive", c.MetadataWaitMs)
	case c.TopicsCreateMax < 1:
		return fmt.Errorf("broker config: TopicsCreateMax %d must be at least 1", c.TopicsCreateMax)
	case c.FS == nil:
		return errors.New("broker config: FS must be the file system of the log directories")
	case c.Broker.Replication.QuotaWindowNum < 1 || c.Broker.Replication.QuotaWindowSizeSeconds < 1:
		return fmt.Errorf("broker config: replication.quota.window.num %d and replication.quota.window.size.seconds %d must be at least 1",
			c.Broker.Replication.QuotaWindowNum, c.Broker.Replication.QuotaWindowSizeSeconds)
	case c.ProducerExpirationCheckIntervalMs < 1:
		return fmt.Errorf("broker config: ProducerExpirationCheckIntervalMs %d must be positive", c.ProducerExpirationCheckIntervalMs)
	}
	if err := c.Producer.Validate(); err != nil {
		return fmt.Errorf("broker config: %w", err)
	}
	if err := checkServed(&c.Versions); err != nil {
		return err
	}
	if err := c.LogBase.Validate(); err != nil {
		return fmt.Errorf("broker config: %w", err)
	}
	return nil
}
