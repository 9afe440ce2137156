package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/diskio/osfs"
)

type formatOptions struct {
	clusterID       string
	configPath      string
	ignoreFormatted bool
}

func (a *app) storageFormatCommand() *cobra.Command {
	var opts formatOptions
	cmd := &cobra.Command{
		Use:   "format --cluster-id ID --config FILE",
		Short: "Format a broker's log directories: write meta.properties in each",
		Long: `Format every directory in the config's log.dirs (or log.dir), as kafka-storage.sh format
does: create it if needed and write a meta.properties with the cluster id, the config's node.id
and a fresh directory id. A directory that is already formatted is an error, unless
--ignore-formatted, which skips it if it belongs to the same cluster and node. Nothing is
written unless every directory can be formatted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.clusterID == "" || opts.configPath == "" {
				return usageError{fmt.Errorf("%s: --cluster-id and --config are required", cmd.CommandPath())}
			}
			return a.storageFormat(opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.clusterID, "cluster-id", "t", "", "the cluster id (make one with `weir storage random-uuid`)")
	flags.StringVarP(&opts.configPath, "config", "c", "", "the broker's server.properties")
	flags.BoolVarP(&opts.ignoreFormatted, "ignore-formatted", "g", false, "skip directories already formatted for this cluster and node")
	return cmd
}

func (a *app) storageFormat(opts formatOptions) error {
	data, err := os.ReadFile(opts.configPath)
	if err != nil {
		return err
	}
	cfg, warnings, err := config.ParseServerProperties(data)
	for _, w := range warnings {
		a.logger.Warn("config key not acted on", "file", opts.configPath, "key", w.Key, "line", w.Line, "reason", w.Message)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", opts.configPath, err)
	}
	// diskio paths are clean and slash-separated.
	dirs := make([]string, len(cfg.LogDirs))
	for i, dir := range cfg.LogDirs {
		dirs[i] = filepath.ToSlash(filepath.Clean(dir))
	}
	result, err := storage.Format(osfs.New(), dirs, opts.clusterID, cfg.NodeID, rand.Reader, storage.FormatOptions{
		IgnoreFormatted: opts.ignoreFormatted,
		WrittenAtMs:     time.Now().UnixMilli(),
	})
	if err != nil {
		return err
	}
	for _, dir := range result.Skipped {
		fmt.Fprintf(a.stdout, "Log directory %s is already formatted for cluster %s, node %d: skipped.\n", dir, opts.clusterID, cfg.NodeID)
	}
	for _, dir := range result.Formatted {
		fmt.Fprintf(a.stdout, "Formatted log directory %s for cluster %s, node %d.\n", dir, opts.clusterID, cfg.NodeID)
	}
	if len(result.Formatted) == 0 {
		_, err = fmt.Fprintln(a.stdout, "All of the log directories are already formatted.")
	}
	return err
}
