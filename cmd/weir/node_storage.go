package main

import (
	"errors"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/diskio"
)

// singleNodeProperties is the embedded single-node default: one process that is broker and
// controller, listening on loopback, with its data in ./weir-data.
const singleNodeProperties = `node.id=1
process.roles=broker,controller
listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093
controller.listener.names=CONTROLLER
controller.quorum.voters=1@127.0.0.1:9093
log.dirs=./weir-data
`

// nodeStorage is what a node opens before it serves: its log directories with every partition
// log recovered, and the metadata quorum's log recovered. Replaying the metadata is the
// controller.Node's, registering the broker the broker.Node's.
type nodeStorage struct {
	fsys      diskio.FS
	clusterID string
	manager   *storage.Manager
	metadata  *metadata.QuorumLog
}

// openNodeStorage checks the log directories' format (the embedded single-voter default
// formats missing or empty ones itself on first start; a node of a multi-voter quorum must be
// formatted with `weir storage format`, so that every node has the cluster's id), refuses
// directories of another cluster, opens every partition log, removes what an interrupted
// deletion left behind and recovers the metadata log.
func openNodeStorage(fsys diskio.FS, cfg config.BrokerConfig, random io.Reader, nowMs int64, logger *slog.Logger) (*nodeStorage, error) {
	cfg = withCleanPaths(cfg)
	var clusterID string
	var err error
	if len(cfg.ControllerQuorumVoters) <= 1 {
		_, clusterID, err = storage.EnsureFormatted(fsys, cfg.AllLogDirs(), cfg.NodeID, random)
	} else {
		_, clusterID, err = storage.CheckMetaProperties(fsys, cfg.AllLogDirs(), "", cfg.NodeID, random)
	}
	if err != nil {
		return nil, err
	}
	manager, err := storage.OpenManager(fsys, storage.ManagerOptions{
		LogDirs: cfg.LogDirs, NodeID: cfg.NodeID, ClusterID: clusterID, NowMs: nowMs, Random: random,
	})
	if err != nil {
		return nil, err
	}
	for _, w := range manager.Warnings() {
		logger.Warn("log dir", "err", w)
	}
	if err := log.RunFileOps(fsys, manager.StartupFileOps()); err != nil {
		manager.Close()
		return nil, err
	}
	qlog, err := metadata.OpenQuorumLog(fsys, cfg.MetadataLogDir, metadata.DefaultQuorumLogConfig(), nowMs)
	if err != nil {
		manager.Close()
		return nil, err
	}
	return &nodeStorage{fsys: fsys, clusterID: clusterID, manager: manager, metadata: qlog}, nil
}

// withCleanPaths returns cfg with its log directories as diskio wants paths: clean and
// slash-separated ("./weir-data" becomes "weir-data").
func withCleanPaths(cfg config.BrokerConfig) config.BrokerConfig {
	dirs := make([]string, len(cfg.LogDirs))
	for i, dir := range cfg.LogDirs {
		dirs[i] = filepath.ToSlash(filepath.Clean(dir))
	}
	cfg.LogDirs = dirs
	if cfg.MetadataLogDir != "" {
		cfg.MetadataLogDir = filepath.ToSlash(filepath.Clean(cfg.MetadataLogDir))
	}
	return cfg
}

// syncAll makes everything appended durable: the partition logs' pending syncs (those of
// topics with Kafka's flush behaviour, which the Node syncs only on their schedule) and the
// metadata log's. The driver calls it on a clean shutdown, once no sync is in flight.
func (ns *nodeStorage) syncAll() error {
	var errs []error
	for _, ps := range ns.manager.PendingSyncs() {
		err := ps.Request.Run(ns.fsys)
		ns.manager.Synced(ps, err)
		errs = append(errs, err)
	}
	for {
		req, ok := ns.metadata.PendingSync()
		if !ok {
			break
		}
		err := req.Run(ns.fsys)
		ns.metadata.Synced(req, err)
		if err != nil {
			errs = append(errs, err)
			break
		}
	}
	return errors.Join(errs...)
}

// close writes the recovery-point and log-start checkpoints (a clean shutdown: call syncAll
// first so that they cover everything) and closes every log.
func (ns *nodeStorage) close() error {
	err := ns.manager.WriteCheckpoints()
	return errors.Join(err, ns.closeWithoutCheckpoints())
}

// closeWithoutCheckpoints closes every log and releases the directory locks, leaving the
// checkpoints as they were: after a storage failure nothing unsynced may be vouched for.
func (ns *nodeStorage) closeWithoutCheckpoints() error {
	return errors.Join(ns.metadata.Close(), ns.manager.Close())
}
