package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed, or found bad data
	exitUsage = 2 // the command line was wrong
)

// usageError marks a mistake in the command line, as opposed to a failure of the command.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// commandError carries the path of the command that failed ("weir broker"), so the message
// says which one did.
type commandError struct {
	path string
	err  error
}

func (e commandError) Error() string { return e.path + ": " + e.err.Error() }
func (e commandError) Unwrap() error { return e.err }

// run executes the command line args, reading stdin, writing results to stdout and errors and
// logs to stderr, and returns the process exit code. ctx bounds client commands (tests pass a
// deadline).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetIn(stdin)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, err)
	var usage usageError
	if errors.As(err, &usage) {
		fmt.Fprintln(stderr, "Run 'weir --help' for usage.")
		return exitUsage
	}
	return exitError
}
