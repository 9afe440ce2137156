package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirdata/weir/core/uuid"

	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/diskio/osfs"
)

// writeServerProperties writes a minimal KRaft server.properties with the given log dirs.
func writeServerProperties(t *testing.T, dir string, nodeID int, logDirs ...string) string {
	t.Helper()
	props := fmt.Sprintf("node.id=%d\nprocess.roles=broker,controller\nlog.dirs=%s\n"+
		"controller.quorum.voters=%d@localhost:9093\nlisteners=PLAINTEXT://:9092,CONTROLLER://:9093\n"+
		"controller.listener.names=CONTROLLER\n", nodeID, strings.Join(logDirs, ","), nodeID)
	return writeFile(t, filepath.Join(dir, "server.properties"), []byte(props))
}

func TestStorageFormat(t *testing.T) {
	dir := t.TempDir()
	logDirs := []string{filepath.Join(dir, "data", "a"), filepath.Join(dir, "data", "b")}
	configPath := writeServerProperties(t, dir, 3, logDirs...)
	_, clusterID, _ := runWeir(t, "storage", "random-uuid")
	clusterID = strings.TrimSpace(clusterID)

	code, stdout, stderr := runWeir(t, "storage", "format", "--cluster-id", clusterID, "--config", configPath)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	directoryIDs := map[storage.UUID]bool{}
	for _, logDir := range logDirs {
		if !strings.Contains(stdout, "Formatted log directory "+logDir+" for cluster "+clusterID+", node 3.\n") {
			t.Errorf("stdout does not report %s:\n%s", logDir, stdout)
		}
		m, found, err := storage.ReadMetaProperties(osfs.New(), logDir)
		if err != nil || !found {
			t.Fatalf("meta.properties in %s: found %v, err %v", logDir, found, err)
		}
		if m.ClusterID != clusterID || m.NodeID != 3 || m.Version != 1 || m.DirectoryID == uuid.Zero {
			t.Errorf("%s: %+v", logDir, m)
		}
		directoryIDs[m.DirectoryID] = true
	}
	if len(directoryIDs) != len(logDirs) {
		t.Errorf("directory ids are not distinct: %v", directoryIDs)
	}
	before, err := os.ReadFile(filepath.Join(logDirs[0], "meta.properties"))
	if err != nil {
		t.Fatal(err)
	}

	// Formatting again is refused, and changes nothing.
	code, _, stderr = runWeir(t, "storage", "format", "--cluster-id", clusterID, "--config", configPath)
	if code != exitError || !strings.Contains(stderr, "weir storage format: ") || !strings.Contains(stderr, "--ignore-formatted") {
		t.Errorf("second format: exit %d, stderr %q", code, stderr)
	}
	// With --ignore-formatted it succeeds, skipping both.
	code, stdout, _ = runWeir(t, "storage", "format", "-t", clusterID, "-c", configPath, "--ignore-formatted")
	if code != exitOK || !strings.Contains(stdout, "All of the log directories are already formatted.") {
		t.Errorf("--ignore-formatted: exit %d, stdout %q", code, stdout)
	}
	after, err := os.ReadFile(filepath.Join(logDirs[0], "meta.properties"))
	if err != nil || string(after) != string(before) {
		t.Errorf("meta.properties changed by a refused or skipped format:\n%s\n---\n%s", before, after)
	}
}

func TestStorageFormatErrors(t *testing.T) {
	dir := t.TempDir()
	configPath := writeServerProperties(t, dir, 1, filepath.Join(dir, "logs"))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad cluster id", []string{"--cluster-id", "not-a-uuid!", "--config", configPath}, "does not appear to be a valid UUID"},
		{"missing config", []string{"--cluster-id", "MkU3OEVBNTcwNTJENDM2Qk", "--config", filepath.Join(dir, "nope")}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runWeir(t, append([]string{"storage", "format"}, tc.args...)...)
			if code != exitError || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q, want %q", code, stderr, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "logs")); !os.IsNotExist(err) {
		t.Errorf("a failed format created the log dir: %v", err)
	}
}
