package storage

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/weirdata/weir/core/uuid"

	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

func testRandom(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return rand.NewChaCha8(s)
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestUUIDText(t *testing.T) {
	for _, s := range []string{"J8E2cxmpTvGXaDTs5zt9aQ", "tfIO-Ab4PdddYjiU3pEWqw", "AAAAAAAAAAAAAAAAAAAAAQ"} {
		u, err := uuid.Parse(s)
		if err != nil || u.String() != s {
			t.Errorf("uuid.Parse(%q) = %v, %v; String() = %q", s, u, err, u.String())
		}
	}
	if uuid.One.String() != "AAAAAAAAAAAAAAAAAAAAAQ" || uuid.Zero.String() != "AAAAAAAAAAAAAAAAAAAAAA" {
		t.Errorf("reserved uuids print as %s %s", uuid.One, uuid.Zero)
	}
	// Java's decoder accepts padding and non-zero trailing bits (Kafka's Docker docs use such an id).
	for _, s := range []string{"J8E2cxmpTvGXaDTs5zt9aQ==", "MkU3OEVBNTcwNTJENDM2Qk"} {
		if _, err := uuid.Parse(s); err != nil {
			t.Errorf("uuid.Parse(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "short", "J8E2cxmpTvGXaDTs5zt9a", "J8E2cxmpTvGXaDTs5zt9aQAA", "J8E2cxmpTvGXaDTs5zt9a+", "J8E2cxmpTvGXaDTs5zt9aQ===="} {
		if _, err := uuid.Parse(s); err == nil {
			t.Errorf("uuid.Parse(%q) accepted", s)
		}
	}
}

func TestRandomUUIDRules(t *testing.T) {
	r := testRandom(1)
	seen := map[UUID]bool{}
	for range 20000 {
		u, err := uuid.Random(r)
		if err != nil {
			t.Fatal(err)
		}
		s := u.String()
		if len(s) != 22 || strings.HasPrefix(s, "-") || u == uuid.Zero || u == uuid.One {
			t.Fatalf("RandomUUID gave %s", s)
		}
		if u[6]>>4 != 4 || u[8]>>6 != 2 {
			t.Fatalf("RandomUUID %x is not version 4 variant 2", u)
		}
		if seen[u] {
			t.Fatalf("RandomUUID repeated %s", s)
		}
		seen[u] = true
	}
	// A source that would give an id starting with '-' (0xf8 → '-' as first char) is redrawn.
	dash := bytes.Repeat([]byte{0xf8}, 16)
	next := bytes.Repeat([]byte{0x11}, 16)
	u, err := uuid.Random(bytes.NewReader(append(dash, next...)))
	if err != nil || strings.HasPrefix(u.String(), "-") || u[0] != 0x11 {
		t.Fatalf("RandomUUID with a dash-first draw = %s, %v", u, err)
	}
	if _, err := uuid.Random(bytes.NewReader(nil)); err == nil {
		t.Fatal("RandomUUID with an empty source succeeded")
	}
	if !IsReservedDirectoryID(UUID{15: 99}) || IsReservedDirectoryID(UUID{15: 100}) || IsReservedDirectoryID(UUID{0: 1}) {
		t.Fatal("IsReservedDirectoryID disagrees with Kafka's DirectoryId.reserved")
	}
}

func TestMetaPropertiesKafkaSamples(t *testing.T) {
	v1 := MetaProperties{Version: 1, ClusterID: "MkU3OEVBNTcwNTJENDM2Qk", NodeID: 1,
		DirectoryID: mustUUID(t, "J8E2cxmpTvGXaDTs5zt9aQ")}
	tests := []struct {
		file string
		want MetaProperties
	}{
		{"meta.properties.kafka-v0", MetaProperties{Version: 0, ClusterID: "tfIO-Ab4PdddYjiU3pEWqw", NodeID: 2}},
		{"meta.properties.kafka-v1-jdk17", v1},
		{"meta.properties.kafka-v1-jdk21", v1},
	}
	for _, tt := range tests {
		got, err := DecodeMetaProperties(tt.file, readTestdata(t, tt.file))
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v, %v; want %+v", tt.file, got, err, tt.want)
		}
	}
	// Weir writes what Kafka on Java 18+ writes, byte for byte.
	writtenAt := time.Date(2024, 3, 12, 9, 41, 7, 0, time.UTC).UnixMilli()
	data, err := EncodeMetaProperties(v1, writtenAt)
	if err != nil {
		t.Fatal(err)
	}
	if want := readTestdata(t, "meta.properties.kafka-v1-jdk21"); !bytes.Equal(data, want) {
		t.Errorf("EncodeMetaProperties:\n%s\nwant:\n%s", data, want)
	}
	data, _ = EncodeMetaProperties(v1, 0)
	if !strings.HasPrefix(string(data), "#\ncluster.id=") {
		t.Errorf("undated file starts %q", data)
	}
	v0, _ := EncodeMetaProperties(MetaProperties{Version: 0, ClusterID: "c", NodeID: 3}, 0)
	if string(v0) != "#\nbroker.id=3\ncluster.id=c\nversion=0\n" {
		t.Errorf("v0 encoding %q", v0)
	}
}

func mustUUID(t *testing.T, s string) UUID {
	t.Helper()
	u, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestMetaPropertiesRejected(t *testing.T) {
	tests := []struct{ name, data, wantErr string }{
		{"unknown version", "version=2\ncluster.id=c\nnode.id=1\n", "version"},
		{"v1 without node id", "version=1\ncluster.id=c\n", "node.id was not found"},
		{"v1 without cluster id", "version=1\nnode.id=1\n", "cluster.id was not found"},
		{"bad node id", "version=1\ncluster.id=c\nnode.id=one\n", "base-10"},
		{"bad broker id", "version=0\nbroker.id=x\n", "base-10"},
		{"negative broker id", "broker.id -2", "broker.id -2 is negative"},
		{"negative node id", "version=1\ncluster.id=c\nnode.id=-1\n", "node.id -1 is negative"},
		{"bad directory id", "version=1\ncluster.id=c\nnode.id=1\ndirectory.id=nope\n", "directory.id"},
		{"reserved directory id", "version=1\ncluster.id=c\nnode.id=1\ndirectory.id=AAAAAAAAAAAAAAAAAAAAAQ\n", "reserved"},
		{"bad escape", "version=1\\u00", "line 1"},
	}
	for _, tt := range tests {
		_, err := DecodeMetaProperties("/d/meta.properties", []byte(tt.data))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "/d/meta.properties") {
			t.Errorf("%s: error %v, want one naming the file and %q", tt.name, err, tt.wantErr)
		}
	}
	// Comments, blank lines and other whitespace are tolerated.
	m, err := DecodeMetaProperties("x", []byte("# hi\n\n  ! also\nversion = 1\ncluster.id : c\nnode.id 4\n"))
	if err != nil || m.NodeID != 4 || m.ClusterID != "c" {
		t.Errorf("tolerant read: %+v %v", m, err)
	}
}

func TestFormat(t *testing.T) {
	fsys := memfs.New()
	dirs := []string{"/data/a", "/data/b", "/other/c"}
	clusterID := "MkU3OEVBNTcwNTJENDM2Qk"
	res, err := Format(fsys, dirs, clusterID, 7, testRandom(2), FormatOptions{WrittenAtMs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Formatted) != 3 || len(res.Skipped) != 0 {
		t.Fatalf("result %+v", res)
	}
	// Everything Format wrote is durable: a crash that drops every unsynced byte keeps it.
	after := fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
	ids, gotCluster, err := CheckMetaProperties(after, dirs, clusterID, 7, nil)
	if err != nil || gotCluster != clusterID || len(ids) != 3 {
		t.Fatalf("after crash: %v %q %v", ids, gotCluster, err)
	}
	if ids[0].Meta.DirectoryID == ids[1].Meta.DirectoryID || ids[1].Meta.DirectoryID == ids[2].Meta.DirectoryID {
		t.Fatal("directory ids are not distinct")
	}
	// Again: refused, and nothing changes.
	before, _ := diskio.ReadFile(fsys, "/data/a/meta.properties")
	_, err = Format(fsys, dirs, clusterID, 7, testRandom(3), FormatOptions{})
	if !errors.Is(err, ErrAlreadyFormatted) || !strings.Contains(err.Error(), "/data/a") {
		t.Fatalf("reformat: %v", err)
	}
	now, _ := diskio.ReadFile(fsys, "/data/a/meta.properties")
	if !bytes.Equal(before, now) {
		t.Fatal("refused format changed meta.properties")
	}
	// --ignore-formatted formats only the new directory.
	res, err = Format(fsys, append(dirs, "/data/d"), clusterID, 7, testRandom(4), FormatOptions{IgnoreFormatted: true})
	if err != nil || len(res.Formatted) != 1 || res.Formatted[0] != "/data/d" || len(res.Skipped) != 3 {
		t.Fatalf("ignore formatted: %+v %v", res, err)
	}
	// ... but never mixes clusters or nodes.
	if _, err := Format(fsys, dirs, "tfIO-Ab4PdddYjiU3pEWqw", 7, testRandom(5), FormatOptions{IgnoreFormatted: true}); err == nil {
		t.Fatal("ignore-formatted accepted another cluster's directory")
	}
	if _, err := Format(fsys, dirs, clusterID, 8, testRandom(5), FormatOptions{IgnoreFormatted: true}); err == nil {
		t.Fatal("ignore-formatted accepted another node's directory")
	}
}

func TestFormatRejectsBadInput(t *testing.T) {
	fsys := memfs.New()
	r := testRandom(6)
	if _, err := Format(fsys, []string{"/a"}, "not-a-uuid", 1, r, FormatOptions{}); err == nil || !strings.Contains(err.Error(), "UUID") {
		t.Errorf("bad cluster id: %v", err)
	}
	if _, err := Format(fsys, nil, "MkU3OEVBNTcwNTJENDM2Qk", 1, r, FormatOptions{}); err == nil {
		t.Error("no dirs accepted")
	}
	if _, err := Format(fsys, []string{"/a", "/a/"}, "MkU3OEVBNTcwNTJENDM2Qk", 1, r, FormatOptions{}); err == nil {
		t.Error("duplicate dirs accepted")
	}
	if _, err := Format(fsys, []string{"/a"}, "MkU3OEVBNTcwNTJENDM2Qk", -1, r, FormatOptions{}); err == nil {
		t.Error("negative node id accepted")
	}
}

func TestCheckMetaProperties(t *testing.T) {
	fsys := memfs.New()
	const clusterA, clusterB = "MkU3OEVBNTcwNTJENDM2Qk", "tfIO-Ab4PdddYjiU3pEWqw"
	if _, err := Format(fsys, []string{"/a", "/b"}, clusterA, 1, testRandom(7), FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Format(fsys, []string{"/c"}, clusterB, 1, testRandom(8), FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		dirs     []string
		cluster  string
		node     int32
		wantErrs []string
	}{
		{"ok", []string{"/a", "/b"}, "", 1, nil},
		{"ok with expected cluster", []string{"/a", "/b"}, clusterA, 1, nil},
		{"config expects other cluster", []string{"/a"}, clusterB, 1,
			[]string{"log dir /a is formatted for cluster " + clusterA + ", config expects " + clusterB}},
		{"dirs disagree", []string{"/a", "/c"}, "", 1,
			[]string{"log dir /c is formatted for cluster " + clusterB, "/a", clusterA}},
		{"node mismatch", []string{"/a"}, "", 2, []string{"/a", "node 1", "node.id 2"}},
		{"unformatted", []string{"/a", "/nope"}, "", 1, []string{"/nope", "not formatted", "weir storage format"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := CheckMetaProperties(fsys, tt.dirs, tt.cluster, tt.node, nil)
			if len(tt.wantErrs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

func TestCheckMetaPropertiesAssignsMissingDirectoryID(t *testing.T) {
	fsys := memfs.New()
	if err := fsys.MkdirAll("/old", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := diskio.WriteFileAtomic(fsys, "/old", MetaPropertiesFile, readTestdata(t, "meta.properties.kafka-v0")); err != nil {
		t.Fatal(err)
	}
	ids, cluster, err := CheckMetaProperties(fsys, []string{"/old"}, "", 2, testRandom(9))
	if err != nil || cluster != "tfIO-Ab4PdddYjiU3pEWqw" || ids[0].Meta.DirectoryID == uuid.Zero {
		t.Fatalf("%v %q %v", ids, cluster, err)
	}
	m, _, err := ReadMetaProperties(fsys, "/old")
	if err != nil || m.DirectoryID != ids[0].Meta.DirectoryID || m.Version != 0 || m.NodeID != 2 {
		t.Fatalf("directory id not written back: %+v %v", m, err)
	}
	if _, _, err := CheckMetaProperties(memfs.New(), []string{"/x"}, "", 2, nil); err == nil {
		t.Fatal("unformatted dir accepted")
	}
}

func TestEnsureFormatted(t *testing.T) {
	fsys := memfs.New()
	dirs := []string{"/kafka/a", "/kafka/b"}
	ids, cluster, err := EnsureFormatted(fsys, dirs, 1, testRandom(10))
	if err != nil || len(ids) != 2 || cluster == "" {
		t.Fatalf("first start: %v %q %v", ids, cluster, err)
	}
	// Second start: same cluster, nothing rewritten.
	before, _ := diskio.ReadFile(fsys, "/kafka/a/meta.properties")
	_, cluster2, err := EnsureFormatted(fsys, dirs, 1, testRandom(11))
	after, _ := diskio.ReadFile(fsys, "/kafka/a/meta.properties")
	if err != nil || cluster2 != cluster || !bytes.Equal(before, after) {
		t.Fatalf("second start: %q %v", cluster2, err)
	}
	// A new empty dir joins the existing cluster.
	ids, cluster3, err := EnsureFormatted(fsys, append(dirs, "/kafka/c"), 1, testRandom(12))
	if err != nil || cluster3 != cluster || ids[2].Meta.ClusterID != cluster {
		t.Fatalf("added dir: %v %q %v", ids, cluster3, err)
	}
	// A dir with data but no meta.properties is not adopted.
	if err := fsys.MkdirAll("/kafka/d/orders-0", 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := EnsureFormatted(fsys, append(dirs, "/kafka/d"), 1, testRandom(13)); err == nil || !strings.Contains(err.Error(), "orders-0") {
		t.Fatalf("non-empty unformatted dir: %v", err)
	}
	// Another node's directories refuse to start.
	if _, _, err := EnsureFormatted(fsys, dirs, 2, testRandom(14)); err == nil {
		t.Fatal("node 2 started on node 1's dirs")
	}
}
