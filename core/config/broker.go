package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kafka's size constants, named as Kafka documents them.
const (
	kib = 1024
	mib = 1024 * kib
	gib = 1024 * mib

	hourMs   = int64(60 * 60 * 1000)
	minuteMs = int64(60 * 1000)

	// recordOverheadV0Bytes is Kafka's LegacyRecord.RECORD_OVERHEAD_V0, the smallest segment.
	recordOverheadV0Bytes = 14
)

// Listener is one entry of listeners or advertised.listeners: NAME://host:port.
type Listener struct {
	Name string // upper-cased, as Kafka normalises listener names
	Host string // empty means every interface (or, advertised, the canonical host name)
	Port int
}

func (l Listener) String() string {
	host := l.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return l.Name + "://" + host + ":" + strconv.Itoa(l.Port)
}

// QuorumVoter is one entry of controller.quorum.voters: id@host:port.
type QuorumVoter struct {
	ID   int32
	Host string
	Port int
}

// Roles a node may play (process.roles).
const (
	RoleBroker     = "broker"
	RoleController = "controller"
)

// BrokerConfig is server.properties, typed. Field comments name the Kafka key; defaults are
// Kafka's (see DefaultBrokerConfig).
type BrokerConfig struct {
	NodeID                           int32         // node.id (broker.id is an alias); required
	ProcessRoles                     []string      // process.roles: broker, controller; required
	Listeners                        []Listener    // listeners
	AdvertisedListeners              []Listener    // advertised.listeners (or listeners) minus controller listeners
	AdvertisedControllerListeners    []Listener    // the controller listeners of advertised.listeners (or listeners)
	ControllerListenerNames          []string      // controller.listener.names
	ControllerQuorumVoters           []QuorumVoter // controller.quorum.voters
	ControllerQuorumBootstrapServers []string      // controller.quorum.bootstrap.servers (host:port)
	InterBrokerListenerName          string        // inter.broker.listener.name
	ListenerSecurityProtocolMap      map[string]string

	LogDirs                        []string // log.dirs, else log.dir
	MetadataLogDir                 string   // metadata.log.dir, else the first of LogDirs
	NumPartitions                  int32    // num.partitions
	DefaultReplicationFactor       int16    // default.replication.factor
	MessageMaxBytes                int32    // message.max.bytes
	LogSegmentBytes                int32    // log.segment.bytes
	LogRollMs                      int64    // log.roll.ms, else log.roll.hours
	LogRollJitterMs                int64    // log.roll.jitter.ms, else log.roll.jitter.hours
	LogRetentionMs                 int64    // log.retention.ms > minutes > hours; -1 unbounded
	LogRetentionBytes              int64    // log.retention.bytes; -1 unbounded
	LogRetentionCheckIntervalMs    int64    // log.retention.check.interval.ms
	LogIndexIntervalBytes          int32    // log.index.interval.bytes
	LogIndexSizeMaxBytes           int32    // log.index.size.max.bytes
	LogFlushIntervalMessages       int64    // log.flush.interval.messages
	LogFlushIntervalMs             int64    // log.flush.interval.ms, else log.flush.scheduler.interval.ms
	LogSegmentDeleteDelayMs        int64    // log.segment.delete.delay.ms
	LogPreallocate                 bool     // log.preallocate
	LogCleanupPolicy               []string // log.cleanup.policy
	LogMessageTimestampType        string   // log.message.timestamp.type
	LogMessageTimestampBeforeMaxMs int64    // log.message.timestamp.before.max.ms
	LogMessageTimestampAfterMaxMs  int64    // log.message.timestamp.after.max.ms
	LogCleanerDeleteRetentionMs    int64    // log.cleaner.delete.retention.ms
	LogCleanerMinCompactionLagMs   int64    // log.cleaner.min.compaction.lag.ms
	LogCleanerMaxCompactionLagMs   int64    // log.cleaner.max.compaction.lag.ms
	LogCleanerMinCleanableRatioPpm int64    // log.cleaner.min.cleanable.ratio, parts per million
	CompressionType                string   // compression.type
	AutoCreateTopicsEnable         bool     // auto.create.topics.enable
	MinInsyncReplicas              int32    // min.insync.replicas
	UncleanLeaderElectionEnable    bool     // unclean.leader.election.enable
	// AutoLeaderRebalanceEnable and LeaderImbalanceCheckIntervalSeconds drive the active
	// controller's preferred leader elections. LeaderImbalancePerBrokerPercentage is read and
	// checked but, as in Kafka's KRaft controller, not used: every partition not led by its
	// preferred replica is rebalanced.
	AutoLeaderRebalanceEnable           bool   // auto.leader.rebalance.enable
	LeaderImbalanceCheckIntervalSeconds int64  // leader.imbalance.check.interval.seconds
	LeaderImbalancePerBrokerPercentage  int32  // leader.imbalance.per.broker.percentage
	SocketRequestMaxBytes               int32  // socket.request.max.bytes
	OffsetsTopicNumPartitions           int32  // offsets.topic.num.partitions
	OffsetsTopicReplicationFactor       int16  // offsets.topic.replication.factor
	GroupInitialRebalanceDelayMs        int32  // group.initial.rebalance.delay.ms
	BrokerHeartbeatIntervalMs           int32  // broker.heartbeat.interval.ms
	BrokerSessionTimeoutMs              int32  // broker.session.timeout.ms
	BrokerRack                          string // broker.rack; "" for none
	Replication                         ReplicationConfig

	// Raw is every key as read, including those Weir does not interpret.
	Raw *Properties
}

// Warning is a key Weir accepted but does not act on.
type Warning struct {
	Key     string
	Line    int // 0 if unknown
	Message string
}

func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", w.Line, w.Key, w.Message)
	}
	return w.Key + ": " + w.Message
}

const maxInt64 = math.MaxInt64

// DefaultBrokerConfig returns Kafka's defaults. NodeID is -1 and ProcessRoles empty: both are
// required and have no default.
func DefaultBrokerConfig() BrokerConfig {
	c := BrokerConfig{
		NodeID:                              -1,
		Listeners:                           []Listener{{Name: "PLAINTEXT", Port: 9092}},
		InterBrokerListenerName:             "PLAINTEXT",
		ListenerSecurityProtocolMap:         defaultSecurityProtocolMap(),
		LogDirs:                             []string{"/tmp/kafka-logs"},
		MetadataLogDir:                      "/tmp/kafka-logs",
		NumPartitions:                       1,
		DefaultReplicationFactor:            1,
		MessageMaxBytes:                     1024*1024 + 12,
		LogSegmentBytes:                     gib,
		LogRollMs:                           168 * hourMs,
		LogRetentionMs:                      168 * hourMs,
		LogRetentionBytes:                   -1,
		LogRetentionCheckIntervalMs:         5 * minuteMs,
		LogIndexIntervalBytes:               4096,
		LogIndexSizeMaxBytes:                10 * mib,
		LogFlushIntervalMessages:            maxInt64,
		LogFlushIntervalMs:                  maxInt64,
		LogSegmentDeleteDelayMs:             minuteMs,
		LogCleanupPolicy:                    []string{"delete"},
		LogMessageTimestampType:             "CreateTime",
		LogMessageTimestampBeforeMaxMs:      maxInt64,
		LogMessageTimestampAfterMaxMs:       maxInt64,
		LogCleanerDeleteRetentionMs:         24 * hourMs,
		LogCleanerMaxCompactionLagMs:        maxInt64,
		LogCleanerMinCleanableRatioPpm:      500000,
		CompressionType:                     "producer",
		AutoCreateTopicsEnable:              true,
		MinInsyncReplicas:                   1,
		AutoLeaderRebalanceEnable:           true,
		LeaderImbalanceCheckIntervalSeconds: 300,
		LeaderImbalancePerBrokerPercentage:  10,
		SocketRequestMaxBytes:               100 * mib,
		OffsetsTopicNumPartitions:           50,
		OffsetsTopicReplicationFactor:       3,
		GroupInitialRebalanceDelayMs:        3000,
		BrokerHeartbeatIntervalMs:           2000,
		BrokerSessionTimeoutMs:              9000,
		Raw:                                 NewProperties(),
	}
	c.Replication = defaultReplicationConfig()
	c.AdvertisedListeners = append([]Listener(nil), c.Listeners...)
	return c
}

func defaultSecurityProtocolMap() map[string]string {
	return map[string]string{
		"PLAINTEXT": "PLAINTEXT", "SSL": "SSL", "SASL_PLAINTEXT": "SASL_PLAINTEXT", "SASL_SSL": "SASL_SSL",
	}
}

// ParseServerProperties reads a server.properties file: ParseProperties then
// BrokerConfigFromProperties.
func ParseServerProperties(data []byte) (BrokerConfig, []Warning, error) {
	props, err := ParseProperties(data)
	if err != nil {
		return BrokerConfig{}, nil, fmt.Errorf("server.properties: %w", err)
	}
	return BrokerConfigFromProperties(props)
}

// brokerSetter parses one key's value into the config.
type brokerSetter func(c *BrokerConfig, key, value string) error

// brokerKeys are the keys Weir interprets. Keys whose meaning depends on others (retention,
// roll, flush interval, log dirs, listeners, node id) are handled in resolve.
var brokerKeys = map[string]brokerSetter{
	"num.partitions": func(c *BrokerConfig, k, v string) (err error) {
		c.NumPartitions, err = parseInt32(k, v, 1, math.MaxInt32)
		return err
	},
	"default.replication.factor": func(c *BrokerConfig, k, v string) error {
		n, err := parseInt32(k, v, 1, math.MaxInt16)
		c.DefaultReplicationFactor = int16(n)
		return err
	},
	"message.max.bytes": func(c *BrokerConfig, k, v string) (err error) {
		c.MessageMaxBytes, err = parseInt32(k, v, 0, math.MaxInt32)
		return err
	},
	"log.segment.bytes": func(c *BrokerConfig, k, v string) (err error) {
		c.LogSegmentBytes, err = parseInt32(k, v, recordOverheadV0Bytes, math.MaxInt32)
		return err
	},
	"log.retention.bytes": func(c *BrokerConfig, k, v string) (err error) {
		c.LogRetentionBytes, err = parseInt64(k, v, math.MinInt64, maxInt64)
		return err
	},
	"log.retention.check.interval.ms": func(c *BrokerConfig, k, v string) (err error) {
		c.LogRetentionCheckIntervalMs, err = parseInt64(k, v, 1, maxInt64)
		return err
	},
	"log.index.interval.bytes": func(c *BrokerConfig, k, v string) (err error) {
		c.LogIndexIntervalBytes, err = parseInt32(k, v, 0, math.MaxInt32)
		return err
	},
	"log.index.size.max.bytes": func(c *BrokerConfig, k, v string) (err error) {
		c.LogIndexSizeMaxBytes, err = parseInt32(k, v, 4, math.MaxInt32)
		return err
	},
	"log.flush.interval.messages": func(c *BrokerConfig, k, v string) (err error) {
		c.LogFlushIntervalMessages, err = parseInt64(k, v, 1, maxInt64)
		return err
	},
	"log.segment.delete.delay.ms": func(c *BrokerConfig, k, v string) (err error) {
		c.LogSegmentDeleteDelayMs, err = parseInt64(k, v, 0, maxInt64)
		return err
	},
	"log.preallocate": func(c *BrokerConfig, k, v string) (err error) {
		c.LogPreallocate, err = parseBool(k, v)
		return err
	},
	"log.cleanup.policy": func(c *BrokerConfig, k, v string) (err error) {
		c.LogCleanupPolicy, err = parseListOf(k, v, true, "compact", "delete")
		return err
	},
	"log.message.timestamp.type": func(c *BrokerConfig, k, v string) (err error) {
		c.LogMessageTimestampType, err = parseOneOf(k, v, "CreateTime", "LogAppendTime")
		return err
	},
	"log.message.timestamp.before.max.ms": func(c *BrokerConfig, k, v string) (err error) {
		c.LogMessageTimestampBeforeMaxMs, err = parseInt64(k, v, 0, maxInt64)
		return err
	},
	"log.message.timestamp.after.max.ms": func(c *BrokerConfig, k, v string) (err error) {
		c.LogMessageTimestampAfterMaxMs, err = parseInt64(k, v, 0, maxInt64)
		return err
	},
	"log.cleaner.delete.retention.ms": func(c *BrokerConfig, k, v string) (err error) {
		c.LogCleanerDeleteRetentionMs, err = parseInt64(k, v, 0, maxInt64)
		return err
	},
	"log.cleaner.min.compaction.lag.ms": func(c *BrokerConfig, k, v string) (err error) {
		c.LogCleanerMinCompactionLagMs, err = parseInt64(k, v, 0, maxInt64)
		return err
	},
	"log.cleaner.max.compaction.lag.ms": func(c *BrokerConfig, k, v string) (err error) {
		c.LogCleanerMaxCompactionLagMs, err = parseInt64(k, v, 1, maxInt64)
		return err
	},
	"log.cleaner.min.cleanable.ratio": func(c *BrokerConfig, k, v string) (err error) {
		c.LogCleanerMinCleanableRatioPpm, err = parseRatioPpm(k, v)
		return err
	},
	"compression.type": func(c *BrokerConfig, k, v string) (err error) {
		c.CompressionType, err = parseOneOf(k, v, compressionTypes...)
		return err
	},
	"auto.create.topics.enable": func(c *BrokerConfig, k, v string) (err error) {
		c.AutoCreateTopicsEnable, err = parseBool(k, v)
		return err
	},
	"min.insync.replicas": func(c *BrokerConfig, k, v string) (err error) {
		c.MinInsyncReplicas, err = parseInt32(k, v, 1, math.MaxInt32)
		return err
	},
	"unclean.leader.election.enable": func(c *BrokerConfig, k, v string) (err error) {
		c.UncleanLeaderElectionEnable, err = parseBool(k, v)
		return err
	},
	"auto.leader.rebalance.enable": func(c *BrokerConfig, k, v string) (err error) {
		c.AutoLeaderRebalanceEnable, err = parseBool(k, v)
		return err
	},
	// Kafka's validator: at least 1. The upper bound keeps the interval in milliseconds
	// representable.
	"leader.imbalance.check.interval.seconds": func(c *BrokerConfig, k, v string) (err error) {
		c.LeaderImbalanceCheckIntervalSeconds, err = parseInt64(k, v, 1, maxInt64/1000)
		return err
	},
	// Kafka takes any int; a ratio is a percentage from 0 to 100.
	"leader.imbalance.per.broker.percentage": func(c *BrokerConfig, k, v string) (err error) {
		c.LeaderImbalancePerBrokerPercentage, err = parseInt32(k, v, 0, 100)
		return err
	},
	"socket.request.max.bytes": func(c *BrokerConfig, k, v string) (err error) {
		c.SocketRequestMaxBytes, err = parseInt32(k, v, 1, math.MaxInt32)
		return err
	},
	"offsets.topic.num.partitions": func(c *BrokerConfig, k, v string) (err error) {
		c.OffsetsTopicNumPartitions, err = parseInt32(k, v, 1, math.MaxInt32)
		return err
	},
	"offsets.topic.replication.factor": func(c *BrokerConfig, k, v string) error {
		n, err := parseInt32(k, v, 1, math.MaxInt16)
		c.OffsetsTopicReplicationFactor = int16(n)
		return err
	},
	"group.initial.rebalance.delay.ms": func(c *BrokerConfig, k, v string) (err error) {
		c.GroupInitialRebalanceDelayMs, err = parseInt32(k, v, 0, math.MaxInt32)
		return err
	},
	// Kafka takes any int for the two lease keys; a zero or negative interval or session is
	// refused here, since neither can work.
	"broker.heartbeat.interval.ms": func(c *BrokerConfig, k, v string) (err error) {
		c.BrokerHeartbeatIntervalMs, err = parseInt32(k, v, 1, math.MaxInt32)
		return err
	},
	"broker.rack": func(c *BrokerConfig, k, v string) error {
		c.BrokerRack = strings.TrimSpace(v)
		return nil
	},
	"broker.session.timeout.ms": func(c *BrokerConfig, k, v string) (err error) {
		c.BrokerSessionTimeoutMs, err = parseInt32(k, v, 1, math.MaxInt32)
		return err
	},
	"controller.listener.names": func(c *BrokerConfig, k, v string) error {
		c.ControllerListenerNames = nil
		for _, name := range parseList(v) {
			c.ControllerListenerNames = append(c.ControllerListenerNames, strings.ToUpper(name))
		}
		return nil
	},
	"controller.quorum.bootstrap.servers": func(c *BrokerConfig, k, v string) error {
		c.ControllerQuorumBootstrapServers = parseList(v)
		for _, s := range c.ControllerQuorumBootstrapServers {
			if _, _, err := splitHostPort(s); err != nil {
				return invalid(k, v, "%q: %v", s, err)
			}
		}
		return nil
	},
	"controller.quorum.voters": func(c *BrokerConfig, k, v string) (err error) {
		c.ControllerQuorumVoters, err = parseQuorumVoters(k, v)
		return err
	},
	"inter.broker.listener.name": func(c *BrokerConfig, k, v string) error {
		c.InterBrokerListenerName = strings.ToUpper(strings.TrimSpace(v))
		return nil
	},
	"listener.security.protocol.map": func(c *BrokerConfig, k, v string) error {
		m := map[string]string{}
		for _, entry := range parseList(v) {
			name, protocol, ok := strings.Cut(entry, ":")
			name, protocol = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(protocol))
			if !ok || name == "" {
				return invalid(k, v, "entry %q is not NAME:PROTOCOL", entry)
			}
			if _, err := parseOneOf(k, protocol, "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"); err != nil {
				return invalid(k, v, "unknown security protocol %q", protocol)
			}
			if _, dup := m[name]; dup {
				return invalid(k, v, "listener %q is mapped twice", name)
			}
			m[name] = protocol
		}
		c.ListenerSecurityProtocolMap = m
		return nil
	},
}

// resolvedKeys are interpreted by resolve, after the simple keys.
var resolvedKeys = map[string]bool{
	"node.id": true, "broker.id": true, "process.roles": true,
	"listeners": true, "advertised.listeners": true,
	"log.dirs": true, "log.dir": true, "metadata.log.dir": true,
	"log.roll.ms": true, "log.roll.hours": true, "log.roll.jitter.ms": true, "log.roll.jitter.hours": true,
	"log.retention.ms": true, "log.retention.minutes": true, "log.retention.hours": true,
	"log.flush.interval.ms": true, "log.flush.scheduler.interval.ms": true,
}

// ignoredKafkaKeys are real Kafka broker keys (most of them in Kafka's sample
// server.properties) that Weir accepts without acting on them.
var ignoredKafkaKeys = map[string]bool{
	"num.network.threads": true, "num.io.threads": true, "num.replica.fetchers": true,
	"socket.send.buffer.bytes": true, "socket.receive.buffer.bytes": true,
	"num.recovery.threads.per.data.dir": true, "log.cleaner.enable": true, "log.cleaner.threads": true,
	"transaction.state.log.replication.factor": true, "transaction.state.log.min.isr": true,
	"transaction.state.log.num.partitions":             true,
	"share.coordinator.state.topic.replication.factor": true, "share.coordinator.state.topic.min.isr": true,
	"security.inter.broker.protocol": true, "sasl.enabled.mechanisms": true,
	"sasl.mechanism.inter.broker.protocol": true, "sasl.mechanism.controller.protocol": true,
	"delete.topic.enable": true, "queued.max.requests": true,
}

var compressionTypes = []string{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}

// BrokerConfigFromProperties types and validates server.properties. Unknown keys (and Kafka
// keys Weir ignores) come back as warnings; every bad value is an error naming the key and the
// value (all of them, joined, in key order).
func BrokerConfigFromProperties(props *Properties) (BrokerConfig, []Warning, error) {
	c := DefaultBrokerConfig()
	c.Raw = props
	var warnings []Warning
	var errs []error
	for _, key := range props.Keys() {
		value, _ := props.Get(key)
		if set, ok := brokerKeys[key]; ok {
			if err := set(&c, key, value); err != nil {
				errs = append(errs, withLine(props, key, err))
			}
			continue
		}
		switch {
		case resolvedKeys[key]:
		case key == "cluster.id":
			warnings = append(warnings, Warning{Key: key, Line: props.Line(key),
				Message: "not a server setting: the cluster id comes from meta.properties (weir storage format --cluster-id); ignored"})
		case key == "zookeeper.connect":
			warnings = append(warnings, Warning{Key: key, Line: props.Line(key),
				Message: "ZooKeeper mode is not supported (Weir runs KRaft only); ignored"})
		case ignoredKafkaKeys[key]:
			warnings = append(warnings, Warning{Key: key, Line: props.Line(key),
				Message: "Kafka setting Weir does not implement; ignored"})
		default:
			warnings = append(warnings, Warning{Key: key, Line: props.Line(key),
				Message: "unknown configuration; ignored"})
		}
	}
	if err := c.resolve(props); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return BrokerConfig{}, warnings, err
	}
	return c, warnings, nil
}

func withLine(props *Properties, key string, err error) error {
	if line := props.Line(key); line > 0 {
		return fmt.Errorf("line %d: %w", line, err)
	}
	return err
}

// resolve applies the keys that depend on one another, then checks the whole (Kafka's
// KafkaConfig.validateValues for KRaft).
func (c *BrokerConfig) resolve(props *Properties) error {
	var errs []error
	fail := func(err error) { errs = append(errs, err) }
	get := func(key string) (string, bool) { return props.Get(key) }

	// node.id, with broker.id as an alias that must agree.
	nodeID, brokerID := int32(-1), int32(-1)
	if v, ok := get("node.id"); ok {
		n, err := parseInt32("node.id", v, 0, math.MaxInt32)
		if err != nil {
			fail(withLine(props, "node.id", err))
		}
		nodeID = n
	}
	if v, ok := get("broker.id"); ok {
		n, err := parseInt32("broker.id", v, -1, math.MaxInt32)
		if err != nil {
			fail(withLine(props, "broker.id", err))
		}
		brokerID = n
	}
	switch {
	case nodeID >= 0 && brokerID >= 0 && nodeID != brokerID:
		fail(fmt.Errorf("node.id (%d) and broker.id (%d) must be equal when both are set", nodeID, brokerID))
	case nodeID >= 0:
		c.NodeID = nodeID
	case brokerID >= 0:
		c.NodeID = brokerID
	default:
		fail(errors.New("missing required configuration node.id, which has no default value"))
	}

	if v, ok := get("process.roles"); ok {
		roles, err := parseListOf("process.roles", v, false, RoleBroker, RoleController)
		if err != nil {
			fail(withLine(props, "process.roles", err))
		}
		c.ProcessRoles = roles
	} else {
		fail(errors.New("missing required configuration process.roles, which has no default value (Weir runs KRaft only)"))
	}

	if v, ok := get("listeners"); ok {
		ls, err := parseListeners("listeners", v)
		if err != nil {
			fail(withLine(props, "listeners", err))
		}
		c.Listeners = ls
	}
	advertised := c.Listeners
	if v, ok := get("advertised.listeners"); ok {
		ls, err := parseListeners("advertised.listeners", v)
		if err != nil {
			fail(withLine(props, "advertised.listeners", err))
		}
		advertised = ls
		if !c.HasRole(RoleController) {
			for _, l := range ls {
				if c.isControllerListener(l.Name) {
					fail(fmt.Errorf("advertised.listeners must not contain the controller listener %s on a broker-only node", l.Name))
				}
			}
		}
	}
	// Kafka's effectiveAdvertisedBrokerListeners / effectiveAdvertisedControllerListeners.
	c.AdvertisedListeners, c.AdvertisedControllerListeners = nil, nil
	for _, l := range advertised {
		if c.isControllerListener(l.Name) {
			c.AdvertisedControllerListeners = append(c.AdvertisedControllerListeners, l)
		} else {
			c.AdvertisedListeners = append(c.AdvertisedListeners, l)
		}
	}

	dirsKey := "log.dirs"
	dirsValue, ok := get(dirsKey)
	if !ok {
		dirsKey = "log.dir"
		dirsValue, ok = get(dirsKey)
	}
	if ok {
		dirs := parseList(dirsValue)
		seen := map[string]bool{}
		for _, d := range dirs {
			if seen[d] {
				fail(withLine(props, dirsKey, invalid(dirsKey, dirsValue, "duplicate log dir %q", d)))
			}
			seen[d] = true
		}
		if len(dirs) == 0 {
			fail(withLine(props, dirsKey, invalid(dirsKey, dirsValue, "at least one log dir is required")))
		}
		c.LogDirs = dirs
	}

	c.MetadataLogDir = ""
	if len(c.LogDirs) > 0 {
		c.MetadataLogDir = c.LogDirs[0]
	}
	if v, ok := get("metadata.log.dir"); ok {
		if v = strings.TrimSpace(v); v == "" {
			fail(withLine(props, "metadata.log.dir", invalid("metadata.log.dir", v, "must not be empty")))
		} else {
			c.MetadataLogDir = v
		}
	}

	// Kafka's precedence: a finer unit wins over a coarser one.
	pick := func(msKey, coarseKey string, coarseMs int64, minimum int64, dst *int64) {
		if v, ok := get(msKey); ok {
			n, err := parseInt64(msKey, v, minimum, maxInt64)
			if err != nil {
				fail(withLine(props, msKey, err))
			}
			*dst = n
		} else if v, ok := get(coarseKey); ok {
			n, err := parseInt32(coarseKey, v, minimum, math.MaxInt32)
			if err != nil {
				fail(withLine(props, coarseKey, err))
			}
			*dst = int64(n) * coarseMs
		}
	}
	pick("log.roll.ms", "log.roll.hours", hourMs, 1, &c.LogRollMs)
	pick("log.roll.jitter.ms", "log.roll.jitter.hours", hourMs, 0, &c.LogRollJitterMs)

	retentionMs := c.LogRetentionMs
	switch {
	case has(props, "log.retention.ms"):
		v, _ := get("log.retention.ms")
		n, err := parseInt64("log.retention.ms", v, math.MinInt64, maxInt64)
		if err != nil {
			fail(withLine(props, "log.retention.ms", err))
		}
		retentionMs = n
	case has(props, "log.retention.minutes"):
		v, _ := get("log.retention.minutes")
		n, err := parseInt32("log.retention.minutes", v, math.MinInt32, math.MaxInt32)
		if err != nil {
			fail(withLine(props, "log.retention.minutes", err))
		}
		retentionMs = int64(n) * minuteMs
	case has(props, "log.retention.hours"):
		v, _ := get("log.retention.hours")
		n, err := parseInt32("log.retention.hours", v, math.MinInt32, math.MaxInt32)
		if err != nil {
			fail(withLine(props, "log.retention.hours", err))
		}
		retentionMs = int64(n) * hourMs
	}
	if retentionMs < 0 {
		retentionMs = -1 // Kafka: any negative retention means unbounded
	}
	c.LogRetentionMs = retentionMs

	// log.flush.interval.ms falls back to log.flush.scheduler.interval.ms.
	if v, ok := get("log.flush.interval.ms"); ok {
		n, err := parseInt64("log.flush.interval.ms", v, 0, maxInt64)
		if err != nil {
			fail(withLine(props, "log.flush.interval.ms", err))
		}
		c.LogFlushIntervalMs = n
	} else {
		if v, ok := get("log.flush.scheduler.interval.ms"); ok {
			n, err := parseInt64("log.flush.scheduler.interval.ms", v, 0, maxInt64)
			if err != nil {
				fail(withLine(props, "log.flush.scheduler.interval.ms", err))
			}
			c.LogFlushIntervalMs = n
		}
	}

	if len(errs) == 0 {
		if err := c.Validate(); err != nil {
			fail(err)
		}
	}
	return errors.Join(errs...)
}

func has(props *Properties, key string) bool {
	_, ok := props.Get(key)
	return ok
}

// AllLogDirs returns the directories `weir storage format` prepares and the node checks on
// start: log.dirs, then metadata.log.dir when it is not one of them (as Kafka's
// KafkaConfig.logDirs plus metadataLogDir).
func (c *BrokerConfig) AllLogDirs() []string {
	dirs := append([]string(nil), c.LogDirs...)
	for _, d := range dirs {
		if d == c.MetadataLogDir {
			return dirs
		}
	}
	return append(dirs, c.MetadataLogDir)
}

// HasRole reports whether process.roles includes role.
func (c *BrokerConfig) HasRole(role string) bool {
	for _, r := range c.ProcessRoles {
		if r == role {
			return true
		}
	}
	return false
}

func (c *BrokerConfig) isControllerListener(name string) bool {
	for _, n := range c.ControllerListenerNames {
		if n == name {
			return true
		}
	}
	return false
}

// Validate checks the relations between keys that Kafka checks at startup in KRaft mode.
func (c *BrokerConfig) Validate() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.NodeID < 0 {
		fail("node.id must be set to a non-negative id")
	}
	if len(c.ProcessRoles) == 0 {
		fail("process.roles must contain broker, controller or both")
	}
	if len(c.LogDirs) == 0 {
		fail("log.dirs must name at least one directory")
	}
	if len(c.ControllerListenerNames) == 0 {
		fail("controller.listener.names must not be empty when running in KRaft mode")
	}
	if len(c.ControllerQuorumVoters) == 0 && len(c.ControllerQuorumBootstrapServers) == 0 {
		fail("either controller.quorum.bootstrap.servers or controller.quorum.voters must be set")
	}
	listenerNames := map[string]bool{}
	ports := map[int]string{}
	for _, l := range c.Listeners {
		if listenerNames[l.Name] {
			fail("listeners: listener name %s is used twice", l.Name)
		}
		listenerNames[l.Name] = true
		if other, dup := ports[l.Port]; dup && l.Port != 0 {
			fail("listeners: listeners %s and %s use the same port %d", other, l.Name, l.Port)
		}
		ports[l.Port] = l.Name
		if _, ok := c.ListenerSecurityProtocolMap[l.Name]; !ok && !c.isControllerListener(l.Name) {
			fail("listeners: no security protocol defined for listener %s in listener.security.protocol.map", l.Name)
		}
	}
	isController := c.HasRole(RoleController)
	for _, name := range c.ControllerListenerNames {
		if isController && !listenerNames[name] {
			fail("controller.listener.names: %s must be one of the listeners of a controller", name)
		}
		if !isController && listenerNames[name] {
			fail("controller.listener.names: %s must not be in listeners of a broker-only node", name)
		}
	}
	if c.HasRole(RoleBroker) {
		advertised := map[string]bool{}
		for _, l := range c.AdvertisedListeners {
			if l.Host == "0.0.0.0" || l.Host == "::" {
				fail("advertised.listeners: %s cannot advertise the meta-address %s", l.Name, l.Host)
			}
			advertised[l.Name] = true
		}
		if !advertised[c.InterBrokerListenerName] {
			fail("inter.broker.listener.name %s must be a listener name defined in advertised.listeners", c.InterBrokerListenerName)
		}
	}
	return errors.Join(errs...)
}

// parseListeners parses NAME://host:port[,...] as Kafka's listenerListToEndPoints does:
// host may be empty, a name or an address, IPv6 in brackets.
func parseListeners(key, value string) ([]Listener, error) {
	var out []Listener
	for _, item := range parseList(value) {
		name, rest, ok := strings.Cut(item, "://")
		if !ok || name == "" {
			return nil, invalid(key, value, "listener %q is not NAME://host:port", item)
		}
		host, port, err := splitHostPort(rest)
		if err != nil {
			return nil, invalid(key, value, "listener %q: %v", item, err)
		}
		out = append(out, Listener{Name: strings.ToUpper(name), Host: host, Port: port})
	}
	return out, nil
}

// splitHostPort splits host:port, where host may be empty or a bracketed IPv6 address.
func splitHostPort(s string) (string, int, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", 0, errors.New("missing :port")
	}
	host, portText := s[:i], s[i+1:]
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return "", 0, errors.New("unterminated [ in host")
		}
		host = host[1 : len(host)-1]
	}
	for _, r := range host {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-%._:", r)
		if !ok {
			return "", 0, fmt.Errorf("invalid character %q in host", r)
		}
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number in 0..65535", portText)
	}
	return host, port, nil
}

// parseQuorumVoters parses id@host:port[,...]; ids must be distinct.
func parseQuorumVoters(key, value string) ([]QuorumVoter, error) {
	var out []QuorumVoter
	seen := map[int32]bool{}
	for _, item := range parseList(value) {
		idText, addr, ok := strings.Cut(item, "@")
		if !ok {
			return nil, invalid(key, value, "voter %q is not id@host:port", item)
		}
		id, err := strconv.ParseInt(idText, 10, 32)
		if err != nil || id < 0 {
			return nil, invalid(key, value, "voter %q: id %q is not a non-negative int", item, idText)
		}
		host, port, err := splitHostPort(addr)
		if err != nil {
			return nil, invalid(key, value, "voter %q: %v", item, err)
		}
		if seen[int32(id)] {
			return nil, invalid(key, value, "voter id %d appears twice", id)
		}
		seen[int32(id)] = true
		out = append(out, QuorumVoter{ID: int32(id), Host: host, Port: port})
	}
	return out, nil
}
