package client

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/weirdata/weir/core/buggify"

	"github.com/weirdata/weir/core/record"
)

// Acks values of a produce request (Kafka's acks).
const (
	AcksNone   int16 = 0  // no response; every produce completes with an unknown outcome
	AcksLeader int16 = 1  // the leader's answer
	AcksAll    int16 = -1 // the in-sync replicas' answer; required by idempotence
)

// Config is a Client's configuration. Durations are nanoseconds of the driver's monotonic clock.
// DefaultConfig gives Kafka's defaults; every queue and map the client keeps is bounded by one of
// the *Max fields.
type Config struct {
	// BootstrapAddrs are "host:port" addresses to ask for metadata before brokers are known.
	BootstrapAddrs []string
	// ClientID is the request header's client id (Kafka's client.id).
	ClientID string
	// ClientIndex is written into every check.Op's Client field.
	ClientIndex int
	// WallClockBaseMs is the wall clock, in Unix milliseconds, at monotonic time 0: record
	// timestamps (CreateTime) are WallClockBaseMs + nowNs/1e6. The client never reads a clock.
	WallClockBaseMs int64
	// WallClockMs, when set, replaces that: record timestamps are WallClockMs(nowNs), a wall
	// clock that may jump and drift apart from the monotonic one (the simulator's clock faults
	// on client hosts). It must be deterministic.
	WallClockMs func(nowNs int64) int64

	// RequestTimeoutNs bounds how long a request waits for its response (request.timeout.ms);
	// when it passes, the connection is closed, as Kafka's NetworkClient does.
	RequestTimeoutNs int64
	// DialTimeoutNs bounds a connection attempt (socket.connection.setup.timeout.ms).
	DialTimeoutNs int64
	// RetryBackoffNs is the wait before a retry and between metadata refreshes (retry.backoff.ms).
	RetryBackoffNs int64
	// ReconnectBackoffNs is the wait before dialing an address that just failed
	// (reconnect.backoff.ms).
	ReconnectBackoffNs int64
	// DeliveryTimeoutNs bounds a produce from its invocation to its completion
	// (delivery.timeout.ms); an attempt in flight when it passes is waited for, at most
	// RequestTimeoutNs more.
	DeliveryTimeoutNs int64
	// MetadataMaxAgeNs is how old metadata may get while operations are pending before it is
	// refreshed anyway (metadata.max.age.ms).
	MetadataMaxAgeNs int64
	// APITimeoutNs bounds a fetch or admin operation, retries included (default.api.timeout.ms).
	APITimeoutNs int64
	// ProduceTimeoutMs is a produce request's timeout field: how long the broker may wait for
	// the in-sync replicas (kgo's ProduceRequestTimeout).
	ProduceTimeoutMs int32

	// InFlightPerConnectionMax bounds the requests awaiting a response on one connection
	// (max.in.flight.requests.per.connection); idempotence needs at most 5.
	InFlightPerConnectionMax int
	// Acks is AcksNone, AcksLeader or AcksAll.
	Acks int16
	// Idempotent enables the idempotent producer (enable.idempotence); it needs AcksAll.
	Idempotent bool
	// Codec compresses produced batches.
	Codec record.Codec

	// FetchMaxWaitMs, FetchMinBytes, FetchMaxBytes and FetchPartitionMaxBytes are the fetch
	// request's fields (fetch.max.wait.ms, fetch.min.bytes, fetch.max.bytes,
	// max.partition.fetch.bytes).
	FetchMaxWaitMs         int32
	FetchMinBytes          int32
	FetchMaxBytes          int32
	FetchPartitionMaxBytes int32

	// PendingOpsMax bounds the operations (produce, fetch, admin) not yet completed; an
	// operation over the bound completes at once as failed.
	PendingOpsMax int
	// BatchBytesMax bounds one produced batch, encoded (max.request.size).
	BatchBytesMax int
	// ConnectionsMax bounds open and dialing connections.
	ConnectionsMax int
	// BrokersMax, TopicsMax and PartitionsPerTopicMax bound the metadata the client keeps.
	BrokersMax            int
	TopicsMax             int
	PartitionsPerTopicMax int
	// PartitionsMax bounds the partitions produced to (each keeps a queue and, with
	// idempotence, its sequence).
	PartitionsMax int
	// ResponseBytesMax bounds one response frame.
	ResponseBytesMax int32
	// DecompressedBytesMax bounds one fetched batch, decompressed.
	DecompressedBytesMax int64
	// RecordsPerFetchMax bounds the records one fetch returns; the rest are left for the next.
	RecordsPerFetchMax int

	// Planted are deliberate bugs (core/buggify) the simulator plants to show its checkers catch
	// them; nil plants none.
	Planted *buggify.B
}

// DefaultConfig returns Kafka's client defaults with idempotence on (Kafka 3.0+'s default).
func DefaultConfig(bootstrapAddrs ...string) Config {
	const ms = int64(1_000_000)
	return Config{
		BootstrapAddrs:           bootstrapAddrs,
		ClientID:                 "weir-client",
		RequestTimeoutNs:         30_000 * ms,
		DialTimeoutNs:            10_000 * ms,
		RetryBackoffNs:           100 * ms,
		ReconnectBackoffNs:       50 * ms,
		DeliveryTimeoutNs:        120_000 * ms,
		APITimeoutNs:             60_000 * ms,
		MetadataMaxAgeNs:         300_000 * ms,
		ProduceTimeoutMs:         10_000,
		InFlightPerConnectionMax: 5,
		Acks:                     AcksAll,
		Idempotent:               true,
		Codec:                    record.CodecNone,
		FetchMaxWaitMs:           500,
		FetchMinBytes:            1,
		FetchMaxBytes:            50 << 20,
		FetchPartitionMaxBytes:   1 << 20,
		PendingOpsMax:            10_000,
		BatchBytesMax:            1 << 20,
		ConnectionsMax:           64,
		BrokersMax:               1_000,
		TopicsMax:                1_000,
		PartitionsPerTopicMax:    10_000,
		PartitionsMax:            10_000,
		ResponseBytesMax:         100 << 20,
		DecompressedBytesMax:     record.DefaultDecompressedBytesMax,
		RecordsPerFetchMax:       100_000,
	}
}

// idempotentInFlightMax is Kafka's limit on in-flight produce requests per connection with
// idempotence: brokers keep the last five batches per producer for deduplication.
const idempotentInFlightMax = 5

// Validate reports the first setting that is out of range.
func (c *Config) Validate() error {
	if len(c.BootstrapAddrs) == 0 {
		return errors.New("client: no bootstrap addresses")
	}
	for _, a := range c.BootstrapAddrs {
		if _, _, err := splitAddr(a); err != nil {
			return fmt.Errorf("client: bootstrap address: %w", err)
		}
	}
	if len(c.ClientID) > math.MaxInt16 {
		return fmt.Errorf("client: client id of %d bytes is too long", len(c.ClientID))
	}
	positive := []struct {
		name  string
		value int64
	}{
		{"RequestTimeoutNs", c.RequestTimeoutNs},
		{"DialTimeoutNs", c.DialTimeoutNs},
		{"RetryBackoffNs", c.RetryBackoffNs},
		{"ReconnectBackoffNs", c.ReconnectBackoffNs},
		{"DeliveryTimeoutNs", c.DeliveryTimeoutNs},
		{"APITimeoutNs", c.APITimeoutNs},
		{"MetadataMaxAgeNs", c.MetadataMaxAgeNs},
		{"ProduceTimeoutMs", int64(c.ProduceTimeoutMs)},
		{"InFlightPerConnectionMax", int64(c.InFlightPerConnectionMax)},
		{"FetchMaxBytes", int64(c.FetchMaxBytes)},
		{"FetchPartitionMaxBytes", int64(c.FetchPartitionMaxBytes)},
		{"PendingOpsMax", int64(c.PendingOpsMax)},
		{"BatchBytesMax", int64(c.BatchBytesMax)},
		{"ConnectionsMax", int64(c.ConnectionsMax)},
		{"BrokersMax", int64(c.BrokersMax)},
		{"TopicsMax", int64(c.TopicsMax)},
		{"PartitionsPerTopicMax", int64(c.PartitionsPerTopicMax)},
		{"PartitionsMax", int64(c.PartitionsMax)},
		{"ResponseBytesMax", int64(c.ResponseBytesMax)},
		{"DecompressedBytesMax", c.DecompressedBytesMax},
		{"RecordsPerFetchMax", int64(c.RecordsPerFetchMax)},
	}
	for _, p := range positive {
		if p.value <= 0 {
			return fmt.Errorf("client: %s is %d, must be positive", p.name, p.value)
		}
	}
	if c.FetchMaxWaitMs < 0 || c.FetchMinBytes < 0 {
		return fmt.Errorf("client: fetch max wait %d ms and min bytes %d must not be negative", c.FetchMaxWaitMs, c.FetchMinBytes)
	}
	if c.Acks != AcksNone && c.Acks != AcksLeader && c.Acks != AcksAll {
		return fmt.Errorf("client: acks %d is not 0, 1 or -1", c.Acks)
	}
	if c.Idempotent && c.Acks != AcksAll {
		return fmt.Errorf("client: idempotence needs acks=-1 (all), have %d", c.Acks)
	}
	if c.Idempotent && c.InFlightPerConnectionMax > idempotentInFlightMax {
		return fmt.Errorf("client: idempotence allows at most %d requests in flight per connection, have %d", idempotentInFlightMax, c.InFlightPerConnectionMax)
	}
	if c.Codec < record.CodecNone || c.Codec > record.CodecZstd {
		return fmt.Errorf("client: unknown codec %d", c.Codec)
	}
	if c.DeliveryTimeoutNs < c.RequestTimeoutNs {
		// Kafka requires delivery.timeout.ms >= linger.ms + request.timeout.ms.
		return fmt.Errorf("client: delivery timeout %d ns is shorter than the request timeout %d ns", c.DeliveryTimeoutNs, c.RequestTimeoutNs)
	}
	return nil
}

// splitAddr splits "host:port" (an IPv6 host in brackets), checking the port. The net package
// is not used: core/ does no I/O and imports none of it.
func splitAddr(addr string) (string, int32, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("address %q: missing port", addr)
	}
	host, portText := addr[:i], addr[i+1:]
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	} else if strings.ContainsAny(host, ":[]") {
		return "", 0, fmt.Errorf("address %q: an IPv6 host needs brackets", addr)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 || host == "" {
		return "", 0, fmt.Errorf("address %q: want host:port with a port from 1 to 65535", addr)
	}
	return host, int32(port), nil
}

// joinAddr is the inverse of splitAddr.
func joinAddr(host string, port int32) string {
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(int(port))
}
