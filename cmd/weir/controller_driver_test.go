package main

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/diskio/osfs"
	"github.com/weirdata/weir/netio"
)

// testController is a controller-only process's driver running in-process.
type testController struct {
	id     int32
	addr   string
	logs   *syncBuffer
	cancel context.CancelFunc
	result chan error
}

const testControllerClusterID = "MkU3OEVBNTcwNTJENDM2Qg"

// controllerQuorumProperties is the server.properties of controller id of a quorum whose voters
// listen on ports.
func controllerQuorumProperties(dataDir string, id int32, ports []int) string {
	var voters []string
	for i, p := range ports {
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", i+1, p))
	}
	return strings.Join([]string{
		fmt.Sprintf("node.id=%d", id),
		"process.roles=controller",
		fmt.Sprintf("listeners=CONTROLLER://127.0.0.1:%d", ports[id-1]),
		"controller.listener.names=CONTROLLER",
		"controller.quorum.voters=" + strings.Join(voters, ","),
		"log.dirs=" + filepath.ToSlash(dataDir),
	}, "\n") + "\n"
}

func startTestController(t *testing.T, dataDir string, id int32, ports []int) *testController {
	t.Helper()
	cfg := parseConfig(t, controllerQuorumProperties(dataDir, id, ports))
	c := &testController{id: id, logs: &syncBuffer{}, result: make(chan error, 1)}
	logger := slog.New(slog.NewTextHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	listening := make(chan string, 1)
	go func() {
		c.result <- runController(ctx, driverOptions{fsys: osfs.New(), cfg: cfg, logger: logger,
			listening: func(a net.Addr) { listening <- a.String() }})
	}()
	select {
	case c.addr = <-listening:
	case err := <-c.result:
		cancel()
		t.Fatalf("controller %d did not start: %v\n%s", id, err, c.logs)
	case <-time.After(e2eTimeout):
		cancel()
		t.Fatalf("controller %d not listening within %v", id, e2eTimeout)
	}
	t.Cleanup(func() {
		c.cancel()
		select {
		case <-c.result:
		case <-time.After(e2eTimeout):
			t.Errorf("controller %d did not stop", id)
		}
		if t.Failed() {
			t.Logf("controller %d log:\n%s", id, c.logs)
		}
	})
	return c
}

// registerAnywhere sends a BrokerRegistration for broker id to every controller until one
// accepts it, for up to timeout; it returns the controller that accepted and the epoch.
func registerAnywhere(t *testing.T, peers *netio.PeerClient, controllers []int32, brokerID int32, timeout time.Duration) (int32, int64) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	corr := int32(1000 * brokerID)
	for time.Now().Before(deadline) {
		for _, id := range controllers {
			req := kmsg.NewPtrBrokerRegistrationRequest()
			req.BrokerID, req.ClusterID = brokerID, testControllerClusterID
			req.IncarnationID = [16]byte{0: byte(brokerID), 15: 1}
			req.Listeners = []kmsg.BrokerRegistrationRequestListener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 19092}}
			for _, f := range metadata.SupportedFeatures() {
				req.Features = append(req.Features, kmsg.BrokerRegistrationRequestFeature{Name: f.Name, MinSupportedVersion: f.MinSupportedVersion, MaxSupportedVersion: f.MaxSupportedVersion})
			}
			req.LogDirs = [][16]byte{{0: 0xd1, 1: byte(brokerID)}}
			corr++
			if !peers.Send(id, req, 3, corr) {
				continue
			}
			select {
			case ev := <-peers.Events():
				if ev.Err != nil {
					continue
				}
				resp := ev.Response.(*kmsg.BrokerRegistrationResponse)
				if resp.ErrorCode == 0 {
					return ev.From, resp.BrokerEpoch
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no answer from controller %d", id)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no controller accepted broker %d's registration within %v", brokerID, timeout)
	return 0, 0
}

// TestControllerQuorumProcesses: three controller-only drivers over osfs elect an active
// controller that accepts a broker registration; once it stops (resigning), another is active
// within the election timeout and sees the first registration.
func TestControllerQuorumProcesses(t *testing.T) {
	ports := []int{freeLoopbackPort(t), freeLoopbackPort(t), freeLoopbackPort(t)}
	var cs []*testController
	for id := int32(1); id <= 3; id++ {
		dir := t.TempDir()
		_, err := storage.Format(osfs.New(), []string{dir}, testControllerClusterID, id, crand.Reader, storage.FormatOptions{})
		require.NoError(t, err)
		cs = append(cs, startTestController(t, dir, id, ports))
	}
	peers, err := netio.NewPeerClient(netio.DefaultPeerConfig("test-admin"), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(peers.Close)
	for i, c := range cs {
		require.NoError(t, peers.SetAddress(int32(i+1), c.addr))
	}
	start := time.Now()
	active, epoch := registerAnywhere(t, peers, []int32{1, 2, 3}, 10, 20*time.Second)
	t.Logf("controller %d active after %v; broker 10 registered with epoch %d", active, time.Since(start), epoch)

	// weir cluster quorum finds the leader among the controllers and describes every voter.
	bootstrap := cs[0].addr + "," + cs[1].addr + "," + cs[2].addr
	code, stdout, stderr := runWeir(t, "cluster", "quorum", "--bootstrap-controller", bootstrap, "--format", "json")
	require.Zero(t, code, stderr)
	var q quorumDescription
	require.NoError(t, json.Unmarshal([]byte(stdout), &q))
	require.Equal(t, active, q.LeaderID)
	require.Len(t, q.Voters, 3)
	require.GreaterOrEqual(t, q.HighWatermark, epoch+1, "the registration is committed")
	code, stdout, stderr = runWeir(t, "cluster", "quorum", "--bootstrap-controller", bootstrap, "--replication")
	require.Zero(t, code, stderr)
	require.Contains(t, stdout, "Leader")
	require.Contains(t, stdout, "Follower")
	t.Logf("weir cluster quorum --replication:\n%s", stdout)

	cs[active-1].cancel()
	require.NoError(t, <-cs[active-1].result)
	cs[active-1].result <- nil // for the cleanup
	var rest []int32
	for id := int32(1); id <= 3; id++ {
		if id != active {
			rest = append(rest, id)
		}
	}
	start = time.Now()
	next, epoch2 := registerAnywhere(t, peers, rest, 11, 20*time.Second)
	t.Logf("controller %d active %v after the first stopped; broker 11 registered with epoch %d", next, time.Since(start), epoch2)
	require.Greater(t, epoch2, epoch)
	// The registration the first controller committed survived the failover: broker 10's
	// heartbeat at its epoch is answered by the new controller (an unknown registration or
	// epoch would be STALE_BROKER_EPOCH), and unfences it, caught up.
	hb := kmsg.NewPtrBrokerHeartbeatRequest()
	hb.BrokerID, hb.BrokerEpoch, hb.CurrentMetadataOffset = 10, epoch, epoch2
	require.True(t, peers.Send(next, hb, 1, 99))
	ev := <-peers.Events()
	require.NoError(t, ev.Err)
	hbResp := ev.Response.(*kmsg.BrokerHeartbeatResponse)
	require.Zero(t, hbResp.ErrorCode, "the new controller knows broker 10 at epoch %d", epoch)
	require.False(t, hbResp.IsFenced)
}
