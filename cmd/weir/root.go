package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
)

// app is what every subcommand shares: the output streams and the logger.
type app struct {
	stdout, stderr io.Writer
	logLevel       string
	logger         *slog.Logger
}

// newRootCommand builds the command tree writing to stdout and stderr.
func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	a := &app{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "weir",
		Short: "Weir, a Kafka-compatible message broker with a deterministic core",
		// Errors are printed once, by run, with the failing command's name; usage only on
		// usage errors.
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE:          requireSubcommand,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return a.setUpLogger()
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "info", "log level on stderr: debug, info, warn or error")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
	})
	root.AddCommand(
		a.brokerCommand(),
		a.storageCommand(),
		a.dumpLogCommand(),
		a.topicCommand(),
		a.clusterCommand(),
		a.benchCommand(),
		a.simCommand(),
		a.versionCommand(),
	)
	wrapErrors(root)
	return root
}

// setUpLogger builds the slog logger from --log-level: text lines on stderr.
func (a *app) setUpLogger() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(a.logLevel))); err != nil {
		return usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", a.logLevel)}
	}
	a.logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	return nil
}

// wrapErrors makes every command's errors name the command ("weir storage format: ...") and
// turns argument-count errors into usage errors.
func wrapErrors(cmd *cobra.Command) {
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error {
			if err := args(c, a); err != nil {
				return usageError{commandError{c.CommandPath(), err}}
			}
			return nil
		}
	}
	if runE := cmd.RunE; runE != nil {
		cmd.RunE = func(c *cobra.Command, a []string) error {
			if err := runE(c, a); err != nil {
				if _, ok := err.(usageError); ok {
					return err
				}
				return commandError{c.CommandPath(), err}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		wrapErrors(sub)
	}
}

// requireSubcommand is the RunE of a noun ("weir storage") run without a verb.
func requireSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s: unknown command %q", cmd.CommandPath(), args[0])}
	}
	return usageError{fmt.Errorf("%s: missing subcommand (one of: %s)", cmd.CommandPath(), strings.Join(subcommandNames(cmd), ", "))}
}

func subcommandNames(cmd *cobra.Command) []string {
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return names
}
