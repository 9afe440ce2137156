// Command benchcompare measures `weir broker` against franz-go's kfake in the same run, with
// the same client (`weir bench produce|consume`): produce 1 KiB and 100 B records with
// acks=all to 1 and 8 partitions, then consume them back. It prints, per scenario, the median
// over -runs of MB/s, p99 latency and the broker's CPU per GB produced (from /proc/PID/stat),
// and the ratio weir/kfake. With -rss-gib it also produces that much into one weir broker and
// consumes it back, sampling the broker's RSS.
//
//	go run ./scripts/benchcompare -runs 3
//	go run ./scripts/benchcompare -runs 0 -rss-gib 10
//	go run ./scripts/benchcompare -replication -runs 3 -produce-mib 64
//
// -replication measures replication instead, on three combined weir processes: acks=all
// produce to an RF=3, min.insync.replicas=2 topic against an RF=1 topic (medians, p50/p99,
// the ratio), and the leader failover time after kill -9 (see replication.go).
//
// Numbers vary with the machine; compare ratios measured in one run, never across machines.
// kfake keeps its log in memory and never syncs; weir acknowledges acks=all after fdatasync.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// scenario is one produce-then-consume measurement.
type scenario struct {
	recordBytes int
	partitions  int
}

func (s scenario) String() string {
	return fmt.Sprintf("%dB x %dp", s.recordBytes, s.partitions)
}

var scenarios = []scenario{{1024, 1}, {1024, 8}, {100, 1}, {100, 8}}

// result is one scenario's measurement against one broker.
type result struct {
	produceMBps, produceP99Ms float64
	consumeMBps               float64
	cpuSecondsPerGB           float64
}

func main() {
	serveKfake := flag.Int("serve-kfake", 0, "internal: serve kfake on this 127.0.0.1 port until SIGTERM")
	runs := flag.Int("runs", 3, "runs of every scenario on each broker (medians are reported)")
	produceMiB := flag.Int("produce-mib", 256, "MiB of record values produced per scenario and run")
	rssGiB := flag.Int("rss-gib", 0, "if > 0: produce this many GiB into weir, consume them back, report the broker's peak RSS")
	workDir := flag.String("dir", "", "directory for the weir binary and data (default: a temporary one, removed after)")
	replication := flag.Bool("replication", false, "measure RF=3 against RF=1 and leader failover on a three-node cluster instead")
	flag.Parse()
	if *replication {
		if err := runReplication(*runs, *produceMiB, *workDir); err != nil {
			fmt.Fprintln(os.Stderr, "benchcompare:", err)
			os.Exit(1)
		}
		return
	}
	if *serveKfake != 0 {
		if err := runKfake(*serveKfake); err != nil {
			fmt.Fprintln(os.Stderr, "kfake:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*runs, *produceMiB, *rssGiB, *workDir); err != nil {
		fmt.Fprintln(os.Stderr, "benchcompare:", err)
		os.Exit(1)
	}
}

// runKfake serves a one-broker kfake cluster until SIGTERM or SIGINT.
func runKfake(port int) error {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.AllowAutoTopicCreation())
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	<-ctx.Done()
	return nil
}

// buildInto builds weir into workDir, a temporary directory when empty (cleanup removes it).
func buildInto(workDir string) (dir, weirBin string, cleanup func(), err error) {
	cleanup = func() {}
	if workDir == "" {
		tmp, err := os.MkdirTemp("", "weir-benchcompare-")
		if err != nil {
			return "", "", cleanup, err
		}
		cleanup = func() { os.RemoveAll(tmp) }
		workDir = tmp
	}
	weirBin = filepath.Join(workDir, "weir")
	build := exec.Command("go", "build", "-o", weirBin, "./cmd/weir")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return workDir, weirBin, cleanup, fmt.Errorf("building weir: %w", err)
	}
	return workDir, weirBin, cleanup, nil
}

func run(runs, produceMiB, rssGiB int, workDir string) error {
	workDir, weirBin, cleanup, err := buildInto(workDir)
	defer cleanup()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	results := map[string]map[scenario][]result{"weir": {}, "kfake": {}}
	for r := range runs {
		// Alternate which broker goes first, so drift in the machine's load hits both alike.
		order := []string{"weir", "kfake"}
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, name := range order {
			b, err := startBroker(name, weirBin, self, filepath.Join(workDir, fmt.Sprintf("data-%d", r)))
			if err != nil {
				return err
			}
			for _, sc := range scenarios {
				res, err := measure(weirBin, b, sc, produceMiB, r)
				if err != nil {
					b.stop()
					return fmt.Errorf("%s %s run %d: %w", name, sc, r, err)
				}
				fmt.Fprintf(os.Stderr, "run %d %-5s %-10s produce %7.1f MB/s p99 %6.1f ms, consume %7.1f MB/s, cpu %.2f core-s/GB\n",
					r, name, sc, res.produceMBps, res.produceP99Ms, res.consumeMBps, res.cpuSecondsPerGB)
				results[name][sc] = append(results[name][sc], res)
			}
			if err := b.stop(); err != nil {
				return fmt.Errorf("stopping %s: %w", name, err)
			}
			os.RemoveAll(filepath.Join(workDir, fmt.Sprintf("data-%d", r)))
		}
	}
	if runs > 0 {
		printTable(results, runs)
	}
	if rssGiB > 0 {
		return measureRSS(weirBin, self, workDir, rssGiB)
	}
	return nil
}

// broker is a running broker process.
type broker struct {
	name string
	addr string
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

func startBroker(name, weirBin, self, dataDir string) (*broker, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var cmd *exec.Cmd
	switch name {
	case "weir":
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return nil, err
		}
		props := fmt.Sprintf("node.id=1\nprocess.roles=broker,controller\nlisteners=PLAINTEXT://%s,CONTROLLER://127.0.0.1:0\n"+
			"controller.listener.names=CONTROLLER\ncontroller.quorum.voters=1@127.0.0.1:0\nlog.dirs=%s\n", addr, dataDir)
		path := dataDir + ".properties"
		if err := os.WriteFile(path, []byte(props), 0o644); err != nil {
			return nil, err
		}
		cmd = exec.Command(weirBin, "broker", "--config", path, "--log-level", "warn")
	case "kfake":
		cmd = exec.Command(self, "-serve-kfake", strconv.Itoa(port))
	default:
		return nil, fmt.Errorf("unknown broker %q", name)
	}
	b := &broker{name: name, addr: addr, cmd: cmd, logs: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = b.logs, b.logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return b, nil
		}
		if time.Now().After(deadline) {
			b.stop()
			return nil, fmt.Errorf("%s not listening on %s after 30s: %v\n%s", name, addr, err, b.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits (a clean shutdown; kill after a minute).
func (b *broker) stop() error {
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- b.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", b.name, err, b.logs)
		}
		return nil
	case <-time.After(time.Minute):
		b.cmd.Process.Kill()
		return fmt.Errorf("%s did not stop within a minute", b.name)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// benchSummary is `weir bench --format json`'s summary line.
type benchSummary struct {
	Type         string  `json:"type"`
	Records      int64   `json:"records"`
	Failed       int64   `json:"failed"`
	Bytes        int64   `json:"bytes"`
	ElapsedMs    float64 `json:"elapsed_ms"`
	MBPerSec     float64 `json:"mb_per_sec"`
	LatencyP50Ms float64 `json:"latency_p50_ms"`
	LatencyP99Ms float64 `json:"latency_p99_ms"`
}

func measure(weirBin string, b *broker, sc scenario, produceMiB, run int) (result, error) {
	records := produceMiB << 20 / sc.recordBytes
	topic := fmt.Sprintf("bench-%d-%d-%d", sc.recordBytes, sc.partitions, run)
	cpuBefore, err := cpuSeconds(b.cmd.Process.Pid)
	if err != nil {
		return result{}, err
	}
	produced, err := bench(weirBin, "produce", "--brokers", b.addr, "--topic", topic, "--records", strconv.Itoa(records),
		"--record-size", strconv.Itoa(sc.recordBytes), "--partitions", strconv.Itoa(sc.partitions), "--acks", "-1")
	if err != nil {
		return result{}, err
	}
	cpuAfter, err := cpuSeconds(b.cmd.Process.Pid)
	if err != nil {
		return result{}, err
	}
	consumed, err := bench(weirBin, "consume", "--brokers", b.addr, "--topic", topic, "--records", strconv.Itoa(records))
	if err != nil {
		return result{}, err
	}
	gb := float64(records*sc.recordBytes) / 1e9
	return result{
		produceMBps: produced.MBPerSec, produceP99Ms: produced.LatencyP99Ms,
		consumeMBps:     consumed.MBPerSec,
		cpuSecondsPerGB: (cpuAfter - cpuBefore) / gb,
	}, nil
}

// bench runs `weir bench` with --format json and returns its summary.
func bench(weirBin string, args ...string) (benchSummary, error) {
	cmd := exec.Command(weirBin, append([]string{"bench"}, append(args, "--format", "json", "--timeout", "2m")...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return benchSummary{}, fmt.Errorf("weir bench %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var s benchSummary
		if json.Unmarshal(sc.Bytes(), &s) == nil && s.Type == "summary" {
			if s.Failed != 0 {
				return s, fmt.Errorf("weir bench %s: %d records failed", args[0], s.Failed)
			}
			return s, nil
		}
	}
	return benchSummary{}, fmt.Errorf("weir bench %s printed no summary:\n%s", args[0], stdout.String())
}

// clockTicksPerSecond is USER_HZ, the unit of /proc/PID/stat's times: 100 on every Linux
// architecture Go supports.
const clockTicksPerSecond = 100

// cpuSeconds is the user plus system CPU time pid has used.
func cpuSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after its closing parenthesis are
	// fixed: state is field 3, utime 14 and stime 15.
	rest := string(data[bytes.LastIndexByte(data, ')')+2:])
	fields := strings.Fields(rest)
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return float64(utime+stime) / clockTicksPerSecond, nil
}

// rssBytes is pid's resident set size.
func rssBytes(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func printTable(results map[string]map[scenario][]result, runs int) {
	fmt.Printf("medians of %d runs; ratio = weir / kfake (for CPU, lower is better)\n", runs)
	fmt.Printf("%-10s | %21s %6s | %21s %6s | %19s | %21s %6s\n", "scenario",
		"produce MB/s weir/kfake", "ratio", "consume MB/s weir/kfake", "ratio", "p99 ms weir/kfake", "CPU core-s/GB w/k", "ratio")
	for _, sc := range scenarios {
		pick := func(name string, f func(result) float64) float64 {
			var xs []float64
			for _, r := range results[name][sc] {
				xs = append(xs, f(r))
			}
			return median(xs)
		}
		wp, kp := pick("weir", func(r result) float64 { return r.produceMBps }), pick("kfake", func(r result) float64 { return r.produceMBps })
		wc, kc := pick("weir", func(r result) float64 { return r.consumeMBps }), pick("kfake", func(r result) float64 { return r.consumeMBps })
		wl, kl := pick("weir", func(r result) float64 { return r.produceP99Ms }), pick("kfake", func(r result) float64 { return r.produceP99Ms })
		wu, ku := pick("weir", func(r result) float64 { return r.cpuSecondsPerGB }), pick("kfake", func(r result) float64 { return r.cpuSecondsPerGB })
		fmt.Printf("%-10s | %10.1f %10.1f %6.2f | %10.1f %10.1f %6.2f | %9.1f %9.1f | %10.2f %10.2f %6.2f\n",
			sc, wp, kp, wp/kp, wc, kc, wc/kc, wl, kl, wu, ku, wu/ku)
	}
}

// sampleRSS samples pid's RSS every 100 ms until the returned function is called, which
// returns the peak.
func sampleRSS(pid int) (stop func() int64) {
	done := make(chan struct{})
	peak := make(chan int64, 1)
	go func() {
		var p int64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				if rss, err := rssBytes(pid); err == nil {
					p = max(p, rss)
				}
				peak <- p
				return
			case <-tick.C:
				if rss, err := rssBytes(pid); err == nil {
					p = max(p, rss)
				}
			}
		}
	}()
	return func() int64 {
		close(done)
		return <-peak
	}
}

// measureRSS produces gib GiB of 1 KiB records into 8 partitions of one weir broker, then
// consumes them all, sampling the broker's RSS throughout.
func measureRSS(weirBin, self, workDir string, gib int) error {
	dataDir := filepath.Join(workDir, "data-rss")
	defer os.RemoveAll(dataDir)
	b, err := startBroker("weir", weirBin, self, dataDir)
	if err != nil {
		return err
	}
	defer b.stop()
	records := gib << 30 / 1024
	stop := sampleRSS(b.cmd.Process.Pid)
	produced, err := bench(weirBin, "produce", "--brokers", b.addr, "--topic", "rss", "--records", strconv.Itoa(records),
		"--record-size", "1024", "--partitions", "8", "--acks", "-1")
	peak := stop()
	if err != nil {
		return err
	}
	fmt.Printf("rss: produced %d GiB (%d records) at %.1f MB/s; broker peak RSS %d MiB\n", gib, records, produced.MBPerSec, peak>>20)
	stop = sampleRSS(b.cmd.Process.Pid)
	consumed, err := bench(weirBin, "consume", "--brokers", b.addr, "--topic", "rss", "--records", strconv.Itoa(records))
	peak = stop()
	if err != nil {
		return err
	}
	fmt.Printf("rss: consumed %d GiB at %.1f MB/s; broker peak RSS %d MiB\n", gib, consumed.MBPerSec, peak>>20)
	return nil
}
