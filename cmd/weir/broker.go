package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/diskio/osfs"
)

func (a *app) brokerCommand() *cobra.Command {
	var configPath, logFormat, cpuProfile string
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run a broker: serve Kafka clients from durable storage",
		Long: `Run a broker. With no flags it is the embedded single-node default: node 1, broker and
controller in one process, 127.0.0.1:9092, data in ./weir-data, formatted on first start.
--config reads a server.properties with Kafka's key names instead; unknown keys are warned
about, bad values stop the start with a message naming the key.

It recovers the log directories and the metadata log, registers the broker, and serves Kafka
clients on the PLAINTEXT listener. A produce with acks=1 or all is answered once it is
fsynced. SIGTERM or SIGINT stops it cleanly: no new connections, requests already read are
answered, pending syncs run, checkpoints are written, exit 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setLogFormat(logFormat); err != nil {
				return err
			}
			cfg, err := a.loadBrokerConfig(configPath)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return fmt.Errorf("--cpu-profile: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("--cpu-profile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			opts := driverOptions{fsys: osfs.New(), cfg: cfg, logger: a.logger}
			if isControllerOnly(cfg) {
				return runController(ctx, opts)
			}
			return runBroker(ctx, opts)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "server.properties with Kafka's key names (default: the embedded single-node config)")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format on stderr: text or json")
	cmd.Flags().StringVar(&cpuProfile, "cpu-profile", "", "write a Go CPU profile (pprof) of the whole run to this file, for performance work")
	return cmd
}

// setLogFormat rebuilds the logger as JSON lines for --log-format json, at the same level.
func (a *app) setLogFormat(format string) error {
	switch format {
	case "text":
		return nil
	case "json":
		var level slog.Level
		if err := level.UnmarshalText([]byte(strings.ToUpper(a.logLevel))); err != nil {
			return usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", a.logLevel)}
		}
		a.logger = slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: level}))
		return nil
	}
	return usageError{fmt.Errorf("--log-format %q: want text or json", format)}
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
	for _, w := range warnings {
		a.logger.Warn("config key not acted on", "key", w.Key, "line", w.Line, "reason", w.Message)
	}
	if err != nil {
		if path != "" {
			return config.BrokerConfig{}, fmt.Errorf("%s: %w", path, err)
		}
		return config.BrokerConfig{}, err
	}
	return cfg, nil
}
