package sim

import (
	"testing"
	"time"
)

// BenchmarkRun is the simulator's speed: one single-node seed per iteration, the workload
// offered at 200 produce+fetch operations per virtual second, with every fault class on
// ("all": the broker is impaired nearly all the time, so far fewer operations complete) and
// with none (the workload runs steadily). It reports virtual seconds per wall second (the
// goal is ≥ 1000) and checked operations per wall second; run it with -cpu 1 so wall time
// is one core's time.
func BenchmarkRun(b *testing.B) { benchmarkRuns(b, 1) }

// BenchmarkClusterRun is BenchmarkRun on a cluster of three brokers (the layout and voters
// drawn from each seed); the goal is ≥ 500 virtual seconds per wall second.
func BenchmarkClusterRun(b *testing.B) { benchmarkRuns(b, 3) }

func benchmarkRuns(b *testing.B, nodes int) {
	for _, faults := range []string{"all", "none"} {
		b.Run("faults="+faults, func(b *testing.B) {
			var virtualNs, ops int64
			began := time.Now()
			seed := uint64(0)
			for b.Loop() {
				seed++
				opts := DefaultRunOptions(seed)
				opts.Faults, opts.Nodes = faults, nodes
				res := Run(opts)
				if !res.Passed() {
					b.Fatalf("seed %d failed: %s", seed, res.Failure)
				}
				virtualNs += res.VirtualNs
				ops += int64(res.Ops)
			}
			wall := time.Since(began).Seconds()
			b.ReportMetric(float64(virtualNs)/1e9/wall, "virtual-s/s")
			b.ReportMetric(float64(ops)/wall, "checked-ops/s")
			b.ReportMetric(float64(ops)*1e9/float64(virtualNs), "ops/virtual-s")
		})
	}
}
