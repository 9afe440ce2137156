package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/sim"
)

// errSimFailed is a failing seed: the summary says why; the exit code is 1.
var errSimFailed = errors.New("the run failed")

// simOptions are the flags a run and a sweep share.
type simOptions struct {
	duration time.Duration
	plant    string
	faults   string
	// quorum runs metadata quorums (sim.RunQuorum) instead of the broker; voters is their size.
	quorum bool
	voters int
	// nodes, above 1, runs a cluster of that many brokers (voters of them in the quorum).
	nodes int
	roles string
	// replicationFactor is the cluster workload topic's (1 or 3).
	replicationFactor int
	// operator: preferred elections and reassignments during replicated runs.
	operator bool
	// wipes: one broker-only node's disk replaced by an empty one during replicated runs.
	wipes bool
}

func (o *simOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&o.duration, "duration", 20*time.Second, "virtual time the workload and faults run, before faults heal and the checkers run")
	cmd.Flags().StringVar(&o.plant, "plant", "", "plant deliberate bugs (comma-separated: "+bugNames()+"), to see the simulator catch them")
	cmd.Flags().BoolVar(&o.quorum, "quorum", false, "simulate a metadata quorum (controllers and observers, admin clients registering brokers) instead of the broker")
	cmd.Flags().IntVar(&o.voters, "voters", 0, "the quorum's voters: with --quorum 3 or 5, with --nodes 1, 3 or 5 (default: drawn from the seed)")
	cmd.Flags().IntVar(&o.nodes, "nodes", 1, "brokers in the simulated cluster: 1 (the embedded single-node default) or 3 to 5 (the first --voters of them also controllers)")
	cmd.Flags().StringVar(&o.roles, "roles", "", "with --nodes: combined (the first voters are also brokers) or separate (controller-only processes) (default: drawn from the seed)")
	cmd.Flags().IntVar(&o.replicationFactor, "replication-factor", 1, "with --nodes: the workload topic's replication factor, 1 or 3 (3: min.insync.replicas=2, acks=all)")
	cmd.Flags().BoolVar(&o.operator, "operator", false, "with --replication-factor 3: an operator runs preferred leader elections and reassignments during the workload")
	cmd.Flags().BoolVar(&o.wipes, "wipes", false, "with --replication-factor 3 and crash faults: one crash of a broker-only node may come back with an empty disk (a replaced drive)")
	cmd.Flags().StringVar(&o.faults, "faults", "", "inject exactly these fault classes (comma-separated: net, disk, crash, pause, clock, corrupt, full, slowsync, clog; or all, none); default: drawn from the seed")
}

// quorumOptions builds a quorum run of seed from the flags.
func (o *simOptions) quorumOptions(seed uint64) (sim.QuorumOptions, error) {
	opts := sim.DefaultQuorumOptions(seed)
	if _, err := o.runOptions(seed); err != nil {
		return opts, err
	}
	if o.plant != "" {
		return opts, usageError{errors.New("--plant applies to broker runs, not --quorum")}
	}
	if o.voters != 0 && o.voters != 3 && o.voters != 5 {
		return opts, usageError{fmt.Errorf("--voters %d: want 3 or 5", o.voters)}
	}
	if o.nodes != 1 || o.roles != "" {
		return opts, usageError{errors.New("--nodes and --roles apply to broker runs, not --quorum")}
	}
	opts.DurationNs, opts.Faults, opts.Voters = o.duration.Nanoseconds(), o.faults, o.voters
	return opts, nil
}

// runOptions builds a run of seed from the flags.
func (o *simOptions) runOptions(seed uint64) (sim.RunOptions, error) {
	opts := sim.DefaultRunOptions(seed)
	if o.duration <= 0 {
		return opts, usageError{fmt.Errorf("--duration %v: must be positive", o.duration)}
	}
	opts.DurationNs = o.duration.Nanoseconds()
	if !o.quorum {
		opts.Nodes, opts.Voters, opts.Roles, opts.ReplicationFactor = o.nodes, o.voters, o.roles, o.replicationFactor
		opts.Operator, opts.Wipes = o.operator, o.wipes
		if err := opts.Validate(); err != nil {
			return opts, usageError{fmt.Errorf("--nodes/--voters: %w", err)}
		}
	}
	planted, err := buggify.ParseBugs(o.plant)
	if err != nil {
		return opts, usageError{fmt.Errorf("--plant: %w", err)}
	}
	opts.Planted = planted
	if o.faults != "" {
		if _, err := sim.ParseFaults(o.faults); err != nil {
			return opts, usageError{fmt.Errorf("--faults: %w", err)}
		}
		opts.Faults = o.faults
	}
	return opts, nil
}

func bugNames() string {
	names := ""
	for i, b := range buggify.Bugs {
		if i > 0 {
			names += ", "
		}
		names += string(b)
	}
	return names
}

// simCommand replays one seed: `weir sim --seed N`.
func (a *app) simCommand() *cobra.Command {
	var (
		o       simOptions
		seed    uint64
		trace   bool
		history string
	)
	cmd := &cobra.Command{
		Use:   "sim --seed N",
		Short: "Run the deterministic simulator: one seed, replayed exactly",
		Long: `Run one seed of the simulator: a cluster of the real broker core under virtual time,
clients producing and fetching, faults drawn from the seed, then the checkers (durability,
linearizable produces, Jepsen's queue anomalies) over the history. The same seed on the same
commit replays every event exactly; --trace prints each with its virtual time.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("seed") {
				return usageError{errors.New("--seed is required (or use `weir sim sweep`)")}
			}
			if o.quorum {
				return a.simQuorum(o, seed, trace)
			}
			opts, err := o.runOptions(seed)
			if err != nil {
				return err
			}
			simGC()
			if trace {
				opts.Trace = a.stdout
			}
			fmt.Fprintf(a.stdout, "weir sim: commit %s\n", simCommit())
			res := sim.Run(opts)
			fmt.Fprintln(a.stdout, res.Summary())
			if !res.Passed() {
				fmt.Fprintln(a.stdout, res.Report.Details())
			}
			if history != "" {
				if err := writeHistory(history, res.History); err != nil {
					return err
				}
			}
			if !res.Passed() {
				return errSimFailed
			}
			return nil
		},
	}
	cmd.Flags().Uint64Var(&seed, "seed", 0, "the seed to run")
	cmd.Flags().BoolVar(&trace, "trace", false, "print every event with its virtual time")
	cmd.Flags().StringVar(&history, "history", "", "write the run's history (JSON lines, core/check's format) to this file")
	o.addFlags(cmd)
	cmd.AddCommand(a.simSweepCommand())
	return cmd
}

// simSweepCommand runs many seeds: `weir sim sweep --seeds N --parallel P`.
func (a *app) simSweepCommand() *cobra.Command {
	var (
		o        simOptions
		seeds    uint64
		start    uint64
		parallel int
	)
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Run many seeds in parallel; print each failing seed, why, and how to replay it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if seeds == 0 || parallel < 1 {
				return usageError{errors.New("--seeds and --parallel must be positive")}
			}
			if _, err := o.runOptions(start); err != nil {
				return err
			}
			if _, err := o.quorumOptions(start); o.quorum && err != nil {
				return err
			}
			simGC()
			fmt.Fprintf(a.stdout, "weir sim sweep: commit %s, seeds %d..%d, %d in parallel\n", simCommit(), start, start+seeds-1, parallel)
			failed, err := sweep(a.stdout, o, start, seeds, parallel)
			if err != nil {
				return err
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d seeds failed: %w", failed, seeds, errSimFailed)
			}
			return nil
		},
	}
	cmd.Flags().Uint64Var(&seeds, "seeds", 100, "how many seeds to run")
	cmd.Flags().Uint64Var(&start, "start", 1, "the first seed")
	cmd.Flags().IntVar(&parallel, "parallel", runtime.GOMAXPROCS(0), "runs at a time (each run is one goroutine)")
	o.addFlags(cmd)
	return cmd
}

// sweep runs seeds [start, start+count) on parallel workers, printing failures as they come
// and a summary at the end; it returns how many failed.
func sweep(out io.Writer, o simOptions, start, count uint64, parallel int) (int, error) {
	var (
		mu                   sync.Mutex
		failed               int
		virtualNs, operation int64
		wg                   sync.WaitGroup
	)
	began := time.Now()
	next := make(chan uint64)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range next {
				vns, ops, failure := o.runSeed(seed)
				mu.Lock()
				virtualNs += vns
				operation += ops
				if failure != "" {
					failed++
					replay := fmt.Sprintf("weir sim --seed %d", seed)
					if o.quorum {
						replay = fmt.Sprintf("weir sim --quorum --seed %d", seed)
					}
					if o.nodes > 1 {
						replay += fmt.Sprintf(" --nodes %d", o.nodes)
					}
					if o.replicationFactor > 1 {
						replay += fmt.Sprintf(" --replication-factor %d", o.replicationFactor)
					}
					if o.operator {
						replay += " --operator"
					}
					if o.wipes {
						replay += " --wipes"
					}
					if o.voters != 0 {
						replay += fmt.Sprintf(" --voters %d", o.voters)
					}
					if o.roles != "" {
						replay += " --roles " + o.roles
					}
					if o.duration != 20*time.Second {
						replay += " --duration " + o.duration.String()
					}
					if o.plant != "" {
						replay += " --plant " + o.plant
					}
					if o.faults != "" {
						replay += " --faults " + o.faults
					}
					fmt.Fprintf(out, "FAIL seed %d: %s\n  replay: %s\n", seed, failure, replay)
				}
				mu.Unlock()
			}
		}()
	}
	for seed := start; seed < start+count; seed++ {
		next <- seed
	}
	close(next)
	wg.Wait()
	wall := time.Since(began)
	fmt.Fprintf(out, "%d of %d seeds passed in %v: %.0f virtual s per wall s, %d operations checked\n",
		int(count)-failed, count, wall.Round(time.Millisecond), float64(virtualNs)/float64(wall.Nanoseconds()), operation)
	return failed, nil
}

// runSeed runs one seed of a sweep (options validated before it started): its virtual time,
// the operations checked, and the failure ("" when it passed).
func (o *simOptions) runSeed(seed uint64) (virtualNs, ops int64, failure string) {
	if o.quorum {
		opts, _ := o.quorumOptions(seed)
		res := sim.RunQuorum(opts)
		return res.VirtualNs, int64(len(res.History.Registrations) + len(res.History.ProducerIDs)), res.Failure
	}
	opts, _ := o.runOptions(seed)
	res := sim.Run(opts)
	return res.VirtualNs, int64(res.Ops), res.Failure
}

// simQuorum replays one quorum seed: `weir sim --quorum --seed N`.
func (a *app) simQuorum(o simOptions, seed uint64, trace bool) error {
	opts, err := o.quorumOptions(seed)
	if err != nil {
		return err
	}
	simGC()
	if trace {
		opts.Trace = a.stdout
	}
	fmt.Fprintf(a.stdout, "weir sim: commit %s\n", simCommit())
	res := sim.RunQuorum(opts)
	fmt.Fprintln(a.stdout, res.Summary())
	if !res.Passed() {
		return errSimFailed
	}
	return nil
}

// simCommit names the code a run ran on, for replaying it later: the binary's stamped VCS
// revision, or, under `go run` (which stamps none), the working tree's HEAD as git reports it.
func simCommit() string {
	v := buildVersion()
	if strings.Contains(v, " ") { // a revision was stamped
		return v
	}
	head, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return v + " (no revision: not built from a git checkout)"
	}
	rev := strings.TrimSpace(string(head))
	if dirty, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(dirty) > 0 {
		rev += "+dirty"
	}
	return rev + " (working tree)"
}

// writeHistory saves a run's history as JSON lines.
func writeHistory(path string, h check.History) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--history: %w", err)
	}
	if err := check.Encode(f, h); err != nil {
		f.Close()
		return fmt.Errorf("--history %s: %w", path, err)
	}
	return f.Close()
}

// simGCPercent is the GC target the simulator runs with: a run's live heap is tens of MiB and
// it allocates fast, so collecting a quarter as often buys about a fifth of its speed.
const simGCPercent = 400

// simGC sets simGCPercent unless GOGC says otherwise.
func simGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(simGCPercent)
	}
}
