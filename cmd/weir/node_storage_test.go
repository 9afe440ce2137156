package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weirdata/weir/core/config"
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

// TestFirstStartFormatsAndRegisters: the embedded default formats its empty log dir, bootstraps
// the metadata log and registers the broker; a restart keeps the cluster id and registers again
// with a new broker epoch; a crash keeps every committed registration.
func TestFirstStartFormatsAndRegisters(t *testing.T) {
	fsys := memfs.New()
	cfg := parseConfig(t, strings.Replace(singleNodeProperties, "./weir-data", "data", 1))

	ns, err := openNodeStorage(fsys, cfg, seededRandom(1), 1000, quietLogger())
	require.NoError(t, err)
	clusterID := ns.clusterID
	require.NotEmpty(t, clusterID)
	image := ns.metadata.Committed()
	broker, ok := image.Broker(1)
	require.True(t, ok, "broker 1 is registered")
	require.EqualValues(t, 1, broker.Epoch, "the broker epoch is the registration record's offset")
	require.EqualValues(t, 2, ns.metadata.CommittedOffset())
	require.NoError(t, ns.close())

	// Crash with nothing unsynced kept: the registration was committed, so it is durable.
	crashed := fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
	ns, err = openNodeStorage(crashed, cfg, seededRandom(2), 2000, quietLogger())
	require.NoError(t, err)
	require.Equal(t, clusterID, ns.clusterID, "a restart keeps the cluster")
	broker, ok = ns.metadata.Committed().Broker(1)
	require.True(t, ok)
	require.EqualValues(t, 2, broker.Epoch, "each start registers with a new epoch")
	require.EqualValues(t, 3, ns.metadata.CommittedOffset())
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

// TestBrokerCommandOnDisk runs `weir broker --config` twice against a real directory.
func TestBrokerCommandOnDisk(t *testing.T) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "data")
	configPath := writeFile(t, filepath.Join(dir, "server.properties"),
		[]byte(strings.Replace(singleNodeProperties, "./weir-data", logDir, 1)))
	for start := 1; start <= 2; start++ {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"broker", "--config", configPath}, strings.NewReader(""), &stdout, &stderr)
		require.Equal(t, exitError, code, "the listener is not there yet: %s", stderr.String())
		require.Contains(t, stderr.String(), "storage ready")
		require.Contains(t, stderr.String(), "not yet implemented")
	}
	meta, found, err := storage.ReadMetaProperties(osfs.New(), logDir)
	require.NoError(t, err)
	require.True(t, found)
	require.EqualValues(t, 1, meta.NodeID)
}
