package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The crash tests run `weir broker` as a real process, built from this package, on a free
// loopback port: kill -9 in the middle of an acks=all stream, and SIGTERM.

// brokerProcess is one `weir broker --config` process.
type brokerProcess struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

// buildWeir builds the weir binary into dir.
func buildWeir(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "weir")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeLoopbackPort returns a port nothing listens on now; the broker keeps it across restarts
// so that a client's connections find the restarted broker.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeBrokerConfig writes a server.properties listening on 127.0.0.1:port with data in dataDir.
func writeBrokerConfig(t *testing.T, dir, dataDir string, port int) string {
	t.Helper()
	props := strings.Replace(singleNodeProperties, "./weir-data", filepath.ToSlash(dataDir), 1)
	props = strings.Replace(props, "127.0.0.1:9092", "127.0.0.1:"+strconv.Itoa(port), 1)
	props = strings.Replace(props, "CONTROLLER://127.0.0.1:9093", "CONTROLLER://127.0.0.1:0", 1) // a sole voter never dials itself
	path := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(path, []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startBrokerProcess starts the broker and waits until it listens. Cleanup kills it if the test
// did not stop it.
func startBrokerProcess(t *testing.T, bin, configPath string) *brokerProcess {
	t.Helper()
	p := launchWeirBroker(t, bin, configPath, "broker process")
	p.waitForLine(t, "broker", "msg=listening")
	return p
}

// launchWeirBroker starts `weir broker --config configPath`; cleanup kills it if the test did
// not stop it, and prints its stderr (as name) if the test failed.
func launchWeirBroker(t *testing.T, bin, configPath, name string) *brokerProcess {
	t.Helper()
	p := &brokerProcess{stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "broker", "--config", configPath)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, p.stderr)
		}
	})
	return p
}

// waitForLine waits until the process logs a line containing marker (name says which process
// in a failure).
func (p *brokerProcess) waitForLine(t *testing.T, name, marker string) {
	t.Helper()
	deadline := time.After(e2eTimeout)
	for !strings.Contains(p.stderr.String(), marker) {
		select {
		case <-p.exited:
			t.Fatalf("%s exited before logging %q (%v):\n%s", name, marker, p.err, p.stderr)
		case <-deadline:
			t.Fatalf("%s did not log %q within %v:\n%s", name, marker, e2eTimeout, p.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// signal sends sig and waits for the process to end, returning its exit code.
func (p *brokerProcess) signal(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(e2eTimeout):
		t.Fatalf("broker did not exit within %v after %v:\n%s", e2eTimeout, sig, p.stderr)
	}
	var exit *exec.ExitError
	if p.err != nil && !errors.As(p.err, &exit) {
		t.Fatalf("wait: %v", p.err)
	}
	return p.cmd.ProcessState.ExitCode()
}

// ackedRecord is a record the broker acknowledged: its sequence number and offset.
type ackedRecord struct {
	seq    int
	offset int64
}

// crashValue is the value of the record with sequence number seq.
func crashValue(seq int) string { return fmt.Sprintf("record-%07d", seq) }

func TestE2ECrash(t *testing.T) {
	bin := buildWeir(t, t.TempDir())

	// kill -9 in the middle of an acks=all stream from an idempotent producer, which goes on
	// across the restart: every acknowledged record is in the log exactly once, at the offset
	// it was acknowledged with, in production order.
	t.Run("kill", func(t *testing.T) {
		dir := t.TempDir()
		port := freeLoopbackPort(t)
		configPath := writeBrokerConfig(t, dir, filepath.Join(dir, "data"), port)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		p := startBrokerProcess(t, bin, configPath)

		producer := newTestClient(t, addr, kgo.DefaultProduceTopic("crash"), kgo.RecordRetries(1000),
			kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))
		var (
			mu     sync.Mutex
			acked  []ackedRecord
			failed int
		)
		ctx, cancel := context.WithTimeout(context.Background(), 2*e2eTimeout)
		defer cancel()
		// The stream goes on until stop: paced, so that the kill lands in its middle.
		stop := make(chan struct{})
		produced := make(chan struct{})
		go func() {
			defer close(produced)
			for seq := 0; ; seq++ {
				if seq%20 == 0 {
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
					}
				}
				r := &kgo.Record{Key: fmt.Appendf(nil, "%d", seq), Value: []byte(crashValue(seq))}
				producer.Produce(ctx, r, func(r *kgo.Record, err error) {
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						failed++
						return
					}
					acked = append(acked, ackedRecord{seq: seq, offset: r.Offset})
				})
			}
		}()
		ackedCount := func() int {
			mu.Lock()
			defer mu.Unlock()
			return len(acked)
		}
		waitAcked := func(n int) {
			for ackedCount() < n {
				select {
				case <-ctx.Done():
					t.Fatalf("%d records acknowledged, waiting for %d", ackedCount(), n)
				case <-time.After(time.Millisecond):
				}
			}
		}
		waitAcked(1000)
		if code := p.signal(t, syscall.SIGKILL); code != -1 {
			t.Fatalf("exit code %d after SIGKILL, want -1 (killed)", code)
		}
		killedAt := ackedCount()
		p = startBrokerProcess(t, bin, configPath)
		waitAcked(killedAt + 1000)
		close(stop)
		<-produced
		if err := producer.Flush(ctx); err != nil {
			t.Fatalf("flush: %v (%d acknowledged)", err, ackedCount())
		}
		mu.Lock()
		t.Logf("acknowledged %d records before the kill, %d in all; %d failed", killedAt, len(acked), failed)
		if len(acked) <= killedAt {
			t.Fatalf("nothing acknowledged after the restart")
		}
		ackedCopy := append([]ackedRecord(nil), acked...)
		mu.Unlock()

		// Everything up to the log end, in offset order.
		end := listEndOffset(t, addr, "crash")
		logRecords := consumeN(t, addr, "crash", int(end))
		seen := map[string]int{}
		for i, r := range logRecords {
			if r.Offset != int64(i) {
				t.Fatalf("offset %d at position %d: the log has a gap", r.Offset, i)
			}
			seen[r.Value]++
		}
		lastSeq := -1
		byOffset := map[int64]int{}
		for _, a := range ackedCopy {
			byOffset[a.offset] = a.seq
		}
		for offset := range end {
			seq, ok := byOffset[offset]
			if !ok {
				continue
			}
			if got := logRecords[offset].Value; got != crashValue(seq) {
				t.Fatalf("offset %d holds %q, but %q was acknowledged there", offset, got, crashValue(seq))
			}
			if n := seen[crashValue(seq)]; n != 1 {
				t.Fatalf("acknowledged record %d is in the log %d times", seq, n)
			}
			if seq <= lastSeq {
				t.Fatalf("acknowledged record %d at offset %d comes after record %d", seq, offset, lastSeq)
			}
			lastSeq = seq
		}
		if len(byOffset) != len(ackedCopy) {
			t.Fatalf("%d records acknowledged at %d distinct offsets", len(ackedCopy), len(byOffset))
		}
		if code := p.signal(t, syscall.SIGTERM); code != 0 {
			t.Fatalf("exit code %d after SIGTERM, want 0", code)
		}
	})

	// SIGTERM: exit 0, and a restart serves every record.
	t.Run("sigterm", func(t *testing.T) {
		dir := t.TempDir()
		port := freeLoopbackPort(t)
		dataDir := filepath.Join(dir, "data")
		configPath := writeBrokerConfig(t, dir, dataDir, port)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		p := startBrokerProcess(t, bin, configPath)
		producer := newTestClient(t, addr)
		acked := produceAll(t, producer, makeRecords("graceful", 2000))
		producer.Close()
		if code := p.signal(t, syscall.SIGTERM); code != 0 {
			t.Fatalf("exit code %d after SIGTERM, want 0:\n%s", code, p.stderr)
		}
		if !strings.Contains(p.stderr.String(), "msg=stopped") {
			t.Fatalf("no clean stop logged:\n%s", p.stderr)
		}
		if _, err := os.Stat(filepath.Join(dataDir, "recovery-point-offset-checkpoint")); err != nil {
			t.Fatalf("clean shutdown wrote no recovery point checkpoint: %v", err)
		}
		p = startBrokerProcess(t, bin, configPath)
		sameRecords(t, consumeN(t, addr, "graceful", len(acked)), acked)
		if code := p.signal(t, syscall.SIGTERM); code != 0 {
			t.Fatalf("exit code %d after the second SIGTERM, want 0", code)
		}
	})
}
