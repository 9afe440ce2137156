package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"
)

// benchCommand is the noun of the load generators, like kafka-producer-perf-test and
// kafka-consumer-perf-test.
func (a *app) benchCommand() *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure produce and consume throughput and latency (like kafka-*-perf-test)",
		Args:  cobra.ArbitraryArgs,
		RunE:  requireSubcommand,
	}
	o.addClientFlags(cmd)
	cmd.AddCommand(a.benchProduceCommand(&o), a.benchConsumeCommand(&o))
	nameUsageErrors(cmd)
	return cmd
}

// bytesPerMB is the "MB" of the perf tools' MB/sec: Kafka's tools divide by 1024×1024.
const bytesPerMB = 1024 * 1024

// perSecond is n per second of d, 0 for no time.
func perSecond(n float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return n / d.Seconds()
}

// microsToMillis converts a latency in µs to ms for printing.
func microsToMillis(us int64) float64 { return float64(us) / 1000 }

// checkReportInterval validates --report-interval.
func checkReportInterval(d time.Duration) error {
	if d <= 0 {
		return usageError{fmt.Errorf("--report-interval %v: must be positive", d)}
	}
	return nil
}

// startTicker calls report every interval on its own goroutine until stop is called, which
// waits for it to end; stop may be called more than once.
func startTicker(interval time.Duration, report func(now time.Time)) (stop func()) {
	t := time.NewTicker(interval)
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for {
			select {
			case now := <-t.C:
				report(now)
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			t.Stop()
			close(done)
			<-ended
		})
	}
}

// printLine prints a text line or a JSON object, whichever --format asks for.
func printLine(w io.Writer, format string, text string, v any) error {
	if format == formatJSON {
		return writeJSON(w, v)
	}
	_, err := fmt.Fprintln(w, text)
	return err
}
