package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/diskio/osfs"
)

// errBrokerNotYet is what `weir broker` answers once its storage is open, until the Kafka
// listener lands: a clear failure, not a process that pretends to serve.
var errBrokerNotYet = errors.New("storage is ready, but the Kafka listener is not yet implemented (next milestone)")

func (a *app) brokerCommand() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run a broker: opens (formatting on first start) and recovers its storage; serving comes next",
		Long: `Run a broker. With no flags it is the embedded single-node default: node 1, broker and
controller in one process, 127.0.0.1:9092, data in ./weir-data, formatted on first start.
--config reads a server.properties with Kafka's key names instead.

Today it formats and recovers the log directories and the metadata log, registers the broker
in the metadata log, shuts down cleanly and exits 1: the Kafka listener is the next milestone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadBrokerConfig(configPath)
			if err != nil {
				return err
			}
			ns, err := openNodeStorage(osfs.New(), cfg, rand.Reader, time.Now().UnixMilli(), a.logger)
			if err != nil {
				return err
			}
			image := ns.metadata.Committed()
			a.logger.Info("storage ready",
				"cluster_id", ns.clusterID, "node_id", cfg.NodeID, "log_dirs", cfg.LogDirs,
				"partitions", len(ns.manager.Partitions()), "topics", len(image.Topics()),
				"metadata_offset", int64(ns.metadata.CommittedOffset()))
			if err := ns.close(); err != nil {
				return fmt.Errorf("shut down storage: %w", err)
			}
			return errBrokerNotYet
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "server.properties with Kafka's key names (default: the embedded single-node config)")
	return cmd
}

// loadBrokerConfig reads server.properties, or the embedded single-node default.
func (a *app) loadBrokerConfig(path string) (config.BrokerConfig, error) {
	data := []byte(singleNodeProperties)
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return config.BrokerConfig{}, err
		}
	}
	cfg, warnings, err := config.ParseServerProperties(data)
	if err != nil {
		return config.BrokerConfig{}, err
	}
	for _, w := range warnings {
		a.logger.Warn("config", "key", w.Key, "line", w.Line, "msg", w.Message)
	}
	return cfg, nil
}
