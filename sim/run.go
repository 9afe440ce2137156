package sim

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"time"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/core/client"
)

// RunOptions describe one simulated run; everything else is drawn from the seed.
type RunOptions struct {
	Seed uint64
	// DurationNs is the virtual time the workload (and faults) run; then faults heal, every
	// operation must complete within LivenessNs, and final reads check the result.
	DurationNs int64
	LivenessNs int64
	// OpsPerSecond is the workload's rate across all clients, in virtual time.
	OpsPerSecond int
	// Trace, when set, receives every trace line with its virtual time.
	Trace io.Writer
	// Planted are deliberate bugs (core/buggify), for the tests that show each is caught.
	Planted []buggify.Bug
	// LinearizabilityTimeout bounds porcupine per partition (0: 10 s).
	LinearizabilityTimeout time.Duration
}

// DefaultRunOptions is a run of seed: 20 virtual seconds at 200 operations per second.
func DefaultRunOptions(seed uint64) RunOptions {
	return RunOptions{Seed: seed, DurationNs: 20 * int64(time.Second), LivenessNs: 120 * int64(time.Second), OpsPerSecond: 200}
}

// RunResult is what a run did and found.
type RunResult struct {
	Seed      uint64
	Knobs     Knobs
	TraceHash string
	Events    int64
	VirtualNs int64
	Ops       int
	Produced  int64
	// Buggify names the buggify sites that fired, with counts.
	Buggify string
	Report  check.Report
	// Failure is "" for a passing run, else one line saying why it failed (an invariant
	// panic, an operation unanswered after the faults healed, a checker's anomalies).
	Failure string
	// History is the run's history, for saving a failing run.
	History check.History
}

// Passed reports whether the run found nothing wrong.
func (r RunResult) Passed() bool { return r.Failure == "" }

// Summary is the run in a few lines: seed, knobs, counts, verdict.
func (r RunResult) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %s\n", r.Seed, verdict(r))
	fmt.Fprintf(&b, "  knobs: %s\n", r.Knobs)
	fmt.Fprintf(&b, "  %d events, %.1f virtual s, %d operations (%d records produced), trace %s\n",
		r.Events, float64(r.VirtualNs)/1e9, r.Ops, r.Produced, r.TraceHash[:16])
	fmt.Fprintf(&b, "  %s\n", r.Buggify)
	fmt.Fprintf(&b, "  checker: %s", r.Report)
	return b.String()
}

func verdict(r RunResult) string {
	if r.Passed() {
		return "pass"
	}
	return "FAIL: " + r.Failure
}

// runNode is the one broker's id; runs are single-node until the quorum exists.
const runNode = 1

// Run runs one seed to completion. It never panics: a panic in core (a broken invariant) or
// in the simulator ends the run as a failure naming it.
func Run(opts RunOptions) (res RunResult) {
	res.Seed = opts.Seed
	w := NewWorld(opts.Seed)
	if opts.Trace != nil {
		w.SetTraceWriter(opts.Trace)
	}
	var history check.History
	defer func() {
		res.TraceHash, res.Events, res.VirtualNs = w.TraceHash(), w.Executed(), w.NowNs()
		res.Ops, res.History = len(history.Ops), history
		if p := recover(); p != nil {
			res.Failure = fmt.Sprintf("panic: %v", p)
			w.Tracef("panic: %v\n%s", p, debug.Stack())
		}
	}()
	res.Knobs = drawKnobs(w.Rand("knobs"))
	w.Tracef("run seed %d knobs %s", opts.Seed, res.Knobs)

	network := NewNetwork(w, DefaultNetworkConfig())
	nodeCfg := DefaultNodeConfig(runNode)
	nodeCfg.Adjust = res.Knobs.adjust
	bugOpts := buggify.DefaultOptions()
	bugOpts.Planted = opts.Planted
	bug := buggify.New(w.Rand("buggify"), bugOpts)
	nodeCfg.Buggify = bug
	defer func() { res.Buggify = bug.String() }()
	node, err := NewNode(w, network, nodeCfg)
	if err != nil {
		res.Failure = fmt.Sprintf("setup: %v", err)
		return res
	}

	// The topic, created by an admin client before the workload starts.
	var adminHistory check.History
	admin, err := NewClientHost(w, network, "admin", runClientConfig(node.Addr(), 0, false, res.Knobs), &adminHistory)
	if err != nil {
		res.Failure = fmt.Sprintf("setup: %v", err)
		return res
	}
	admin.CreateTopic(client.TopicSpec{Name: workloadTopic, Partitions: res.Knobs.Partitions, ReplicationFactor: 1})
	if !w.RunUntilTrue(func() bool { return admin.Pending() == 0 }, w.NowNs()+opts.LivenessNs) {
		res.Failure = "setup: topic creation did not complete"
		return res
	}
	if r := admin.AdminResults(); len(r) != 1 || r[0].ErrorCode != 0 {
		res.Failure = fmt.Sprintf("setup: topic creation: %+v", r)
		return res
	}

	r := w.Rand("run")
	var clients []*ClientHost
	for i := 1; i <= res.Knobs.Clients; i++ {
		idempotent := r.IntN(100) < res.Knobs.IdempotentPct
		c, err := NewClientHost(w, network, fmt.Sprintf("client%d", i), runClientConfig(node.Addr(), i, idempotent, res.Knobs), &history)
		if err != nil {
			res.Failure = fmt.Sprintf("setup: %v", err)
			return res
		}
		clients = append(clients, c)
	}
	stopNs := w.NowNs() + opts.DurationNs
	wl := newWorkload(w, &history, res.Knobs, clients, opts.OpsPerSecond, stopNs)
	wl.start()
	w.RunUntil(stopNs)

	// Liveness: once faults stop, every operation completes in bounded virtual time.
	pending := func() int {
		n := 0
		for _, c := range clients {
			n += c.Pending()
		}
		return n
	}
	if !w.RunUntilTrue(func() bool { return pending() == 0 }, w.NowNs()+opts.LivenessNs) {
		res.Failure = fmt.Sprintf("liveness: %d operations unanswered %.0f s after the faults stopped", pending(), float64(opts.LivenessNs)/1e9)
		return res
	}
	res.Produced = wl.produced

	if failure := finalReads(w, network, node.Addr(), res.Knobs, len(clients)+1, &history, opts.LivenessNs); failure != "" {
		res.Failure = failure
		return res
	}
	timeout := opts.LinearizabilityTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	res.Report = check.Check(history, check.Options{LinearizabilityTimeout: timeout, RequireFinalReads: true})
	if !res.Report.Valid() {
		res.Failure = "checker: " + res.Report.String()
	}
	return res
}

// runClientConfig is a workload client's configuration: Kafka's defaults with the run's knobs
// and timeouts short enough for a run of seconds.
func runClientConfig(addr string, index int, idempotent bool, k Knobs) client.Config {
	cfg := client.DefaultConfig(addr)
	cfg.ClientID = fmt.Sprintf("sim-%d", index)
	cfg.ClientIndex = index
	cfg.WallClockBaseMs = 1_700_000_000_000
	cfg.Idempotent = idempotent
	cfg.Acks = client.AcksAll
	cfg.InFlightPerConnectionMax = k.InFlightMax
	cfg.RequestTimeoutNs = 5 * int64(time.Second)
	cfg.DeliveryTimeoutNs = 20 * int64(time.Second)
	cfg.APITimeoutNs = 20 * int64(time.Second)
	cfg.ProduceTimeoutMs = 5_000
	cfg.FetchMaxWaitMs = k.FetchMaxWaitMs
	cfg.FetchMaxBytes, cfg.FetchPartitionMaxBytes = k.FetchMaxBytes, k.FetchMaxBytes
	return cfg
}

// finalReads reads every partition from its log start to its high watermark with a fresh
// client once faults have stopped, and adds those fetches to history marked Final.
func finalReads(w *World, network *Network, addr string, k Knobs, index int, history *check.History, limitNs int64) string {
	var reads check.History
	reader, err := NewClientHost(w, network, "final", runClientConfig(addr, index, false, k), &reads)
	if err != nil {
		return fmt.Sprintf("final reads: %v", err)
	}
	deadlineNs := w.NowNs() + limitNs
	for p := int32(0); p < k.Partitions; p++ {
		position := int64(0)
		for {
			reader.Fetch(workloadTopic, p, position)
			if !w.RunUntilTrue(func() bool { return reader.Pending() == 0 }, deadlineNs) {
				return fmt.Sprintf("liveness: final read of partition %d at %d unanswered", p, position)
			}
			op := reads.Ops[len(reads.Ops)-1]
			switch {
			case op.Outcome == check.OutcomeFailed && strings.HasPrefix(op.Err, "OFFSET_OUT_OF_RANGE") && op.LogStartOffset > position:
				position = op.LogStartOffset
				continue
			case op.Outcome != check.OutcomeOK:
				if w.NowNs() >= deadlineNs {
					return fmt.Sprintf("liveness: final read of partition %d at %d: %s %s", p, position, op.Outcome, op.Err)
				}
				continue // a retriable failure: read again
			}
			op.Final = true
			history.Add(op)
			if len(op.Records) > 0 {
				position = op.Records[len(op.Records)-1].Offset + 1
			}
			if position >= op.HighWatermark {
				break
			}
			if len(op.Records) == 0 && w.NowNs() >= deadlineNs {
				return fmt.Sprintf("liveness: final read of partition %d stuck at %d below the high watermark %d", p, position, op.HighWatermark)
			}
		}
	}
	return ""
}
