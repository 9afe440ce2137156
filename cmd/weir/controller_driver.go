package main

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/storage"
)

// The controller-only driver (process.roles=controller): one loop goroutine owns the process's
// controllerHost, the same one the broker driver runs for its co-located controller.Node, and
// serves it until the process stops; this file adds what such a process has of its own: its
// log dirs' formatting check, its metadata log, and its worker pools.

// isControllerOnly reports whether process.roles is exactly controller.
func isControllerOnly(cfg config.BrokerConfig) bool {
	return len(cfg.ProcessRoles) == 1 && cfg.ProcessRoles[0] == config.RoleController
}

// controllerDriver is the controller-only process's loop state; only the loop goroutine touches
// it, except the worker pools and the inbox.
type controllerDriver struct {
	logger *slog.Logger
	qlog   *metadata.QuorumLog
	ctl    controllerHost

	flushers    *workerPool
	background  *workerPool
	done        *inbox
	spare       []completion
	outstanding int
	fatal       error
}

// runController runs a controller-only process until ctx ends (it resigns leadership, answers
// what was read, and closes; nil error) or storage fails (the Node's Fatal).
func runController(ctx context.Context, opts driverOptions) error {
	if opts.flushers <= 0 {
		opts.flushers = defaultFlushers
	}
	cfg := withCleanPaths(opts.cfg)
	// The configuration is checked before the log dirs are formatted.
	if _, err := controllerListener(cfg); err != nil {
		return err
	}
	voters, _, err := quorumVoters(cfg)
	if err != nil {
		return err
	}
	if !slices.Contains(voters, quorum.NodeID(cfg.NodeID)) {
		return fmt.Errorf("node.id %d has the controller role but is not in controller.quorum.voters", cfg.NodeID)
	}
	// A controller of a multi-voter quorum must be formatted with the cluster's id (the voters
	// check each other's); the embedded single-voter default formats itself.
	var clusterID string
	if len(voters) == 1 {
		_, clusterID, err = storage.EnsureFormatted(opts.fsys, cfg.AllLogDirs(), cfg.NodeID, crand.Reader)
	} else {
		_, clusterID, err = storage.CheckMetaProperties(opts.fsys, cfg.AllLogDirs(), "", cfg.NodeID, crand.Reader)
	}
	if err != nil {
		return err
	}
	nowMs := time.Now().UnixMilli()
	qlog, err := metadata.OpenQuorumLog(opts.fsys, cfg.MetadataLogDir, metadata.DefaultQuorumLogConfig(), nowMs)
	if err != nil {
		return err
	}
	d := &controllerDriver{
		logger: opts.logger, qlog: qlog,
		flushers: newWorkerPool(opts.flushers), background: newWorkerPool(1), done: newInbox(),
	}
	d.ctl = controllerHost{
		fsys: opts.fsys, logger: opts.logger, start: time.Now(),
		flushers: d.flushers, background: d.background, done: d.done, outstanding: &d.outstanding,
		failed:      func() bool { return d.fatal != nil },
		fail:        d.fail,
		completions: d.completions,
	}
	ready, err := newControllerHost(cfg, &d.ctl, qlog, clusterID)
	if err != nil {
		d.flushers.close()
		d.background.close()
		return errors.Join(err, qlog.Close())
	}
	d.ctl.execute(ready)
	opts.logger.Info("controller listening", "addr", d.ctl.srv.Addr().String(), "node_id", cfg.NodeID, "cluster_id", clusterID,
		"voters", cfg.ControllerQuorumVoters, "metadata_log_dir", cfg.MetadataLogDir)
	if opts.listening != nil {
		opts.listening(d.ctl.srv.Addr())
	}
	return d.run(ctx)
}

// run serves until ctx ends or storage fails, then steps down (controllerHost.stop) and closes
// the metadata log once every job handed out has completed.
func (d *controllerDriver) run(ctx context.Context) error {
	d.ctl.serve(ctx.Done())
	d.ctl.stop(defaultShutdownTimeout)
	d.flushers.close()
	d.background.close()
	err := d.qlog.Close()
	if d.fatal != nil {
		return errors.Join(d.fatal, err)
	}
	if err != nil {
		return fmt.Errorf("close the metadata log: %w", err)
	}
	d.logger.Info("stopped")
	return nil
}

// completions reports finished jobs to the Node.
func (d *controllerDriver) completions() {
	items := d.done.take(d.spare)
	for i, c := range items {
		items[i] = completion{}
		d.ctl.completion(c)
	}
	d.spare = items
}

// fail stops serving after a metadata log failure (the Node's Fatal).
func (d *controllerDriver) fail(err error) {
	d.fatal = err
	d.logger.Error("metadata log failure: stopping; restart recovers from what is durable", "err", err)
}
