package controller

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/metadata"
)

// Config configures a Controller.
type Config struct {
	// NodeID is this controller's node.id.
	NodeID int32
	// Broker is this node's server.properties: topic defaults (num.partitions,
	// default.replication.factor, every log.* default), broker.session.timeout.ms and the
	// other controller keys come from it.
	Broker config.BrokerConfig
	// ClusterID is the cluster's id (meta.properties); a broker registering with another one
	// is refused with INCONSISTENT_CLUSTER_ID.
	ClusterID string
	// Buggify, set only by the simulator, plants controller bugs (core/buggify); nil in
	// production.
	Buggify *buggify.B
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.NodeID < 0 {
		return errors.New("controller config: negative node id")
	}
	if c.Broker.AutoLeaderRebalanceEnable && (c.Broker.LeaderImbalanceCheckIntervalSeconds <= 0 || c.Broker.LeaderImbalanceCheckIntervalSeconds > math.MaxInt64/1000) {
		return fmt.Errorf("controller config: leader.imbalance.check.interval.seconds %d is out of range", c.Broker.LeaderImbalanceCheckIntervalSeconds)
	}
	if c.Broker.BrokerSessionTimeoutMs <= 0 {
		return fmt.Errorf("controller config: broker.session.timeout.ms %d is not positive", c.Broker.BrokerSessionTimeoutMs)
	}
	return nil
}

// Result is one command's outcome: Records are appended as one atomic proposal (all commit or
// none do), and Response is sent once they have committed (at once when there are none).
// When the records never commit (the controller lost leadership), the caller answers with
// NOT_CONTROLLER instead.
type Result struct {
	Records  []metadata.Record
	Response kmsg.Response
}

// Controller is the active controller's decision logic. It is not safe for concurrent use.
// Its in-memory state (broker leases) is rebuilt by Activate whenever this node becomes the
// quorum leader, as Kafka's controller does on failover.
type Controller struct {
	cfg Config
	rng *rand.Rand
	// brokers is the broker-lifecycle soft state: leases and heartbeat positions.
	brokers brokerHeartbeats
	// balance is the schedule of automatic preferred leader elections.
	balance leaderBalance
}

// New returns a Controller; rng is this node's PRNG (placement's random start).
func New(cfg Config, rng *rand.Rand) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rng == nil {
		return nil, errors.New("controller: New needs a PRNG")
	}
	return &Controller{cfg: cfg, rng: rng, brokers: newBrokerHeartbeats(int64(cfg.Broker.BrokerSessionTimeoutMs)),
		balance: newLeaderBalance(cfg.Broker.AutoLeaderRebalanceEnable, cfg.Broker.LeaderImbalanceCheckIntervalSeconds)}, nil
}
