package metadata

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/weirdata/weir/core/record"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata golden files")

// TestDumpGolden pins DecodeForDump's output for one record of every type and version, as
// `weir dump-log` prints it. Regenerate with `go test ./core/metadata -run DumpGolden -update`
// and review the diff.
func TestDumpGolden(t *testing.T) {
	var lines []string
	for _, r := range sampleRecords(t) {
		value, err := EncodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		line, err := DecodeForDump(value)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
	}
	got := strings.Join(lines, "\n") + "\n"
	const path = "testdata/dump.golden"
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("dump output changed; run with -update and review the diff.\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func TestDecodeControlForDump(t *testing.T) {
	data, err := EncodeSnapshot(EmptyImage(), SnapshotID{EndOffset: 3, Epoch: 1}, 1700)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	it := record.NewBatchIterator(data)
	for it.Next() {
		if err := record.ForEachRecord(it.Batch(), func(r *record.Record) error {
			line, err := DecodeControlForDump(r.Key, r.Value)
			lines = append(lines, line)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		`{"type":"SNAPSHOT_HEADER","data":{"version":0,"lastContainedLogTimestamp":1700}}`,
		`{"type":"SNAPSHOT_FOOTER","data":{"version":0}}`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s", strings.Join(lines, "\n"))
	}
	leaderChange := []byte{0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 1, 0, 2, 0, 0, 0, 1, 0, 0}
	line, err := DecodeControlForDump(appendControlKey(nil, controlLeaderChange), leaderChange)
	if err != nil || line != `{"type":"LEADER_CHANGE","data":{"version":0,"leaderId":1,"voters":[{"voterId":1}],"grantingVoters":[{"voterId":1}]}}` {
		t.Fatalf("%s %v", line, err)
	}
	if _, err := DecodeControlForDump([]byte{0}, nil); err == nil {
		t.Fatal("short key accepted")
	}
	if _, err := DecodeControlForDump(appendControlKey(nil, controlSnapshotFooter), []byte{0, 0, 0, 9}); err == nil {
		t.Fatal("footer with trailing bytes accepted")
	}
}
