package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/core/uuid"
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

// metadataLeaderEpoch stamps the single node's metadata batches; the quorum issue replaces it
// with the Raft epoch.
const metadataLeaderEpoch = 1

// nodeStorage is what a node opens before it serves: its log directories with every partition
// log recovered, and the metadata log replayed into the image.
type nodeStorage struct {
	fsys      diskio.FS
	clusterID string
	manager   *storage.Manager
	metadata  *metadata.Store
}

// openNodeStorage formats missing or empty log directories (the embedded default formats itself
// on first start), refuses directories of another cluster, opens every partition log, replays
// the metadata log and registers this broker in it, durably.
func openNodeStorage(fsys diskio.FS, cfg config.BrokerConfig, random io.Reader, nowMs int64, logger *slog.Logger) (*nodeStorage, error) {
	dirs, clusterID, err := storage.EnsureFormatted(fsys, cfg.AllLogDirs(), cfg.NodeID, random)
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
	store, err := metadata.OpenStore(fsys, cfg.MetadataLogDir, metadata.DefaultStoreConfig(), nowMs)
	if err != nil {
		manager.Close()
		return nil, err
	}
	ns := &nodeStorage{fsys: fsys, clusterID: clusterID, manager: manager, metadata: store}
	if err := ns.register(cfg, dirs, random, nowMs); err != nil {
		ns.close()
		return nil, err
	}
	return ns, nil
}

// register appends what a first start bootstraps (metadata.version) and this start's broker
// registration, and waits until they are durable: the single node is its own controller, and a
// controller acknowledges a registration only once it is committed.
func (ns *nodeStorage) register(cfg config.BrokerConfig, dirs []storage.LogDirIdentity, random io.Reader, nowMs int64) error {
	// Records recovered past the recovery point become committed once synced.
	if err := ns.syncMetadata(); err != nil {
		return err
	}
	var records []metadata.Record
	if ns.metadata.LatestOffset() == 0 {
		records = append(records, metadata.BootstrapRecords(metadata.MetadataVersionDefault)...)
	}
	incarnation, err := uuid.Random(random)
	if err != nil {
		return err
	}
	var endpoints []metadata.BrokerEndpoint
	for _, l := range cfg.AdvertisedListeners {
		endpoints = append(endpoints, metadata.BrokerEndpoint{Name: l.Name, Host: l.Host, Port: uint16(l.Port), SecurityProtocol: securityProtocolPlaintext})
	}
	var dirIDs []metadata.UUID
	for _, d := range dirs {
		dirIDs = append(dirIDs, d.Meta.DirectoryID)
	}
	// Kafka's broker epoch is the offset of the registration record.
	epoch := int64(ns.metadata.LatestOffset()) + int64(len(records))
	records = append(records, metadata.NewRegisterBrokerRecord(cfg.NodeID, epoch, incarnation, endpoints, nil, dirIDs, false))
	res, err := ns.metadata.Append(records, metadataLeaderEpoch, nowMs)
	if err != nil {
		return err
	}
	if res.SyncNeeded {
		err := res.Sync.Run(ns.fsys)
		ns.metadata.Synced(res.Sync, err)
		if err != nil {
			return fmt.Errorf("sync metadata log: %w", err)
		}
	}
	if err := ns.syncMetadata(); err != nil {
		return err
	}
	if ns.metadata.CommittedOffset() != ns.metadata.LatestOffset() {
		return fmt.Errorf("metadata log: registration not committed (committed %d, appended %d)", ns.metadata.CommittedOffset(), ns.metadata.LatestOffset())
	}
	return nil
}

// securityProtocolPlaintext is Kafka's SecurityProtocol id for PLAINTEXT, the only one Weir has.
const securityProtocolPlaintext = 0

// syncMetadata runs the metadata log's pending syncs until everything appended is committed.
func (ns *nodeStorage) syncMetadata() error {
	for {
		req, ok := ns.metadata.PendingSync()
		if !ok {
			return nil
		}
		err := req.Run(ns.fsys)
		ns.metadata.Synced(req, err)
		if err != nil {
			return fmt.Errorf("sync metadata log: %w", err)
		}
	}
}

// close writes the recovery-point and log-start checkpoints (a clean shutdown) and closes
// every log.
func (ns *nodeStorage) close() error {
	err := ns.manager.WriteCheckpoints()
	return errors.Join(err, ns.metadata.Close(), ns.manager.Close())
}
