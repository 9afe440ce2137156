package sim

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path"
	"strings"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/diskio"
)

// nodeStorage is what a simulated node opens before it serves, exactly as cmd/weir's
// openNodeStorage opens it: log directories formatted if new, every partition log recovered,
// leftovers of interrupted deletions removed, the metadata log recovered.
type nodeStorage struct {
	clusterID string
	manager   *storage.Manager
	metadata  *metadata.QuorumLog
	warnings  []error
}

// openNodeStorage mirrors cmd/weir/node_storage.go's openNodeStorage step for step; random
// is the node's seeded stream instead of crypto/rand, and warnings are returned for the
// trace instead of logged.
func openNodeStorage(fsys diskio.FS, cfg config.BrokerConfig, random io.Reader, nowMs int64, bug *buggify.B) (*nodeStorage, error) {
	cfg = withCleanPaths(cfg)
	_, clusterID, err := storage.EnsureFormatted(fsys, cfg.AllLogDirs(), cfg.NodeID, random)
	if err != nil {
		return nil, err
	}
	opts := storage.ManagerOptions{LogDirs: cfg.LogDirs, NodeID: cfg.NodeID, ClusterID: clusterID, NowMs: nowMs, Random: random}
	if bug != nil {
		// Recovery runs before the Node configures the logs: its buggify sites and planted
		// bugs need the node's B from the start.
		opts.ConfigFor = func(storage.TopicPartition) log.Config {
			c := log.DefaultConfig()
			c.Buggify = bug
			return c
		}
	}
	manager, err := storage.OpenManager(fsys, opts)
	if err != nil {
		return nil, err
	}
	warnings := manager.Warnings()
	if err := log.RunFileOps(fsys, manager.StartupFileOps()); err != nil {
		manager.Close()
		return nil, err
	}
	qlog, err := metadata.OpenQuorumLog(fsys, cfg.MetadataLogDir, metadata.DefaultQuorumLogConfig(), nowMs)
	if err != nil {
		manager.Close()
		return nil, err
	}
	return &nodeStorage{clusterID: clusterID, manager: manager, metadata: qlog, warnings: warnings}, nil
}

// withCleanPaths cleans the log directories as diskio wants them (cmd/weir's withCleanPaths;
// simulated paths are already slash-separated).
func withCleanPaths(cfg config.BrokerConfig) config.BrokerConfig {
	dirs := make([]string, len(cfg.LogDirs))
	for i, dir := range cfg.LogDirs {
		dirs[i] = path.Clean(dir)
	}
	cfg.LogDirs = dirs
	if cfg.MetadataLogDir != "" {
		cfg.MetadataLogDir = path.Clean(cfg.MetadataLogDir)
	}
	return cfg
}

// close closes every log without writing checkpoints (a start that failed half-way).
func (ns *nodeStorage) close() error {
	return errors.Join(ns.metadata.Close(), ns.manager.Close())
}

// brokerListenAddress is the first listener that is not a controller listener, as cmd/weir
// picks it; the simulator serves it on the simulated network.
func brokerListenAddress(cfg config.BrokerConfig) (config.Listener, error) {
	for _, l := range cfg.Listeners {
		controller := false
		for _, name := range cfg.ControllerListenerNames {
			if strings.EqualFold(l.Name, name) {
				controller = true
			}
		}
		if !controller {
			return l, nil
		}
	}
	return config.Listener{}, fmt.Errorf("listeners: no broker listener (only controller listeners are configured)")
}

// randReader reads bytes from a seeded PRNG: storage formatting draws cluster and directory
// ids from it, where production uses crypto/rand.
type randReader struct{ r *rand.Rand }

func (rr randReader) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 8 {
		v := rr.r.Uint64()
		for j := 0; j < 8 && i+j < len(p); j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	return len(p), nil
}
