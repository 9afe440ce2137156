package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/core/uuid"
	"github.com/weirdata/weir/diskio/memfs"
	"github.com/weirdata/weir/diskio/osfs"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// seededRandom is a reproducible byte source for ids in tests.
func seededRandom(seed uint64) io.Reader { return rand.NewChaCha8([32]byte{byte(seed)}) }

func parseConfig(t *testing.T, properties string) config.BrokerConfig {
	t.Helper()
	cfg, _, err := config.ParseServerProperties([]byte(properties))
	require.NoError(t, err)
	return cfg
}

// TestFirstStartFormats: the embedded default formats its empty log dir on first start; a
// restart (here after a crash that lost everything unsynced) keeps the cluster id.
func TestFirstStartFormats(t *testing.T) {
	fsys := memfs.New()
	cfg := parseConfig(t, strings.Replace(singleNodeProperties, "./weir-data", "./data", 1))

	ns, err := openNodeStorage(fsys, cfg, seededRandom(1), 1000, quietLogger())
	require.NoError(t, err)
	clusterID := ns.clusterID
	require.NotEmpty(t, clusterID)
	meta, found, err := storage.ReadMetaProperties(fsys, "data")
	require.NoError(t, err)
	require.True(t, found, "./data is formatted as data")
	require.Equal(t, clusterID, meta.ClusterID)
	require.NoError(t, ns.syncAll())
	require.NoError(t, ns.close())

	crashed := fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
	ns, err = openNodeStorage(crashed, cfg, seededRandom(2), 2000, quietLogger())
	require.NoError(t, err)
	require.Equal(t, clusterID, ns.clusterID, "a restart keeps the cluster")
	require.NoError(t, ns.close())
}

// TestStartRefusesAnotherClustersLogDir: two log dirs formatted for different clusters must not
// be opened together.
func TestStartRefusesAnotherClustersLogDir(t *testing.T) {
	fsys := memfs.New()
	random := seededRandom(3)
	for _, dir := range []string{"a", "b"} {
		id, err := uuid.Random(random)
		require.NoError(t, err)
		_, err = storage.Format(fsys, []string{dir}, id.String(), 1, random, storage.FormatOptions{})
		require.NoError(t, err)
	}
	cfg := parseConfig(t, strings.Replace(singleNodeProperties, "./weir-data", "a,b", 1))
	_, err := openNodeStorage(fsys, cfg, random, 1000, quietLogger())
	require.Error(t, err)
	require.Contains(t, err.Error(), "cluster")
}

// TestBrokerCommandOnDisk runs `weir broker --config` twice against a real directory: it
// serves until its context ends, then stops cleanly (exit 0), and each start registers the
// broker at the port it listens on.
func TestBrokerCommandOnDisk(t *testing.T) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "data")
	props := strings.Replace(singleNodeProperties, "./weir-data", logDir, 1)
	props = strings.Replace(props, "127.0.0.1:9092", "127.0.0.1:0", 1)
	props = strings.Replace(props, "CONTROLLER://127.0.0.1:9093", "CONTROLLER://127.0.0.1:0", 1) // a sole voter never dials itself
	configPath := writeFile(t, filepath.Join(dir, "server.properties"), []byte(props))
	for start := 1; start <= 2; start++ {
		stderr := &syncBuffer{}
		ctx, cancel := context.WithCancel(context.Background())
		exit := make(chan int, 1)
		go func() {
			exit <- run(ctx, []string{"broker", "--config", configPath, "--log-format", "json"}, strings.NewReader(""), io.Discard, stderr)
		}()
		deadline := time.After(e2eTimeout)
		for !strings.Contains(stderr.String(), `"msg":"listening"`) {
			select {
			case code := <-exit:
				t.Fatalf("broker exited with %d before listening; stderr: %s", code, stderr)
			case <-deadline:
				t.Fatalf("broker not listening within %v; stderr: %s", e2eTimeout, stderr)
			case <-time.After(10 * time.Millisecond):
			}
		}
		cancel()
		select {
		case code := <-exit:
			require.Equal(t, exitOK, code, "stderr: %s", stderr)
		case <-time.After(e2eTimeout):
			t.Fatalf("broker did not stop; stderr: %s", stderr)
		}
		require.Contains(t, stderr.String(), `"msg":"stopped"`)

		// The broker registered itself at the address it listened on.
		var line struct{ Addr string }
		for _, l := range strings.Split(stderr.String(), "\n") {
			if strings.Contains(l, `"msg":"listening"`) {
				require.NoError(t, json.Unmarshal([]byte(l), &line))
			}
		}
		cfg := parseConfig(t, props)
		ns, err := openNodeStorage(osfs.New(), cfg, seededRandom(uint64(start)), 1000, quietLogger())
		require.NoError(t, err)
		require.NoError(t, ns.syncAll(), "records recovered past the recovery point are committed once synced")
		broker, ok := replayQuorumLog(t, ns.metadata).Broker(1)
		require.True(t, ok, "broker 1 is registered")
		require.Len(t, broker.EndPoints, 1)
		require.Equal(t, line.Addr, net.JoinHostPort(broker.EndPoints[0].Host, strconv.Itoa(int(broker.EndPoints[0].Port))))
		require.NoError(t, ns.close())
	}
	meta, found, err := storage.ReadMetaProperties(osfs.New(), logDir)
	require.NoError(t, err)
	require.True(t, found)
	require.EqualValues(t, 1, meta.NodeID)
}

// TestBrokerCommandBadConfig: a bad value stops the start with a message naming the key; a bad
// --log-format is a usage error.
func TestBrokerCommandBadConfig(t *testing.T) {
	dir := t.TempDir()
	props := strings.Replace(singleNodeProperties, "./weir-data", filepath.Join(dir, "data"), 1) + "num.partitions=zero\n"
	configPath := writeFile(t, filepath.Join(dir, "server.properties"), []byte(props))
	code, _, stderr := runWeir(t, "broker", "--config", configPath)
	require.Equal(t, exitError, code)
	require.Contains(t, stderr, "num.partitions")
	code, _, stderr = runWeir(t, "broker", "--config", configPath, "--log-format", "yaml")
	require.Equal(t, exitUsage, code, stderr)
}

// replayQuorumLog is the image of every record a stopped node's metadata log holds: its newest
// snapshot, then the entries after it.
func replayQuorumLog(t *testing.T, qlog *metadata.QuorumLog) *metadata.Image {
	t.Helper()
	img := metadata.EmptyImage()
	start := qlog.Start()
	if id, ok := qlog.LatestSnapshot(); ok && id.EndOffset == start.EndOffset {
		var err error
		img, _, err = qlog.LoadSnapshot(metadata.SnapshotID{EndOffset: id.EndOffset, Epoch: id.Epoch})
		require.NoError(t, err)
	}
	for next := start.EndOffset; next < qlog.EndOffset(); {
		entries, err := qlog.Read(next, 1024)
		require.NoError(t, err)
		var records []metadata.Record
		for _, e := range entries {
			if !e.Control {
				r, err := metadata.DecodeRecord(e.Data)
				require.NoError(t, err)
				records = append(records, r)
			}
		}
		img, err = img.Apply(records)
		require.NoError(t, err)
		next += record.Offset(len(entries))
	}
	return img
}
