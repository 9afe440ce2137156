package quorum

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

func TestStateFileEncodeGolden(t *testing.T) {
	got, err := EncodeStateFile(StateFile{State: State{Epoch: 2, VotedFor: NoNode, LeaderID: 1}, Voters: []NodeID{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	// Kafka's FileQuorumStateStore version 0, field for field.
	want := `{"clusterId":"","leaderId":1,"leaderEpoch":2,"votedId":-1,"appliedOffset":0,"currentVoters":[{"voterId":1},{"voterId":2},{"voterId":3}],"data_version":0}`
	if string(got) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", got, want)
	}
	if _, err := EncodeStateFile(StateFile{State: State{Epoch: -1, VotedFor: NoNode, LeaderID: NoNode}}); err == nil {
		t.Fatal("encoded a negative epoch")
	}
}

func TestStateFileDecodeKafka(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       StateFile
	}{
		{
			"kafka v0 (as Kafka's javadoc, pretty-printed)",
			"{\n  \"clusterId\": \"\",\n  \"leaderId\": 1,\n  \"leaderEpoch\": 2,\n  \"votedId\": -1,\n  \"appliedOffset\": 0,\n  \"currentVoters\": [],\n  \"data_version\": 0\n}",
			StateFile{State: State{Epoch: 2, VotedFor: NoNode, LeaderID: 1}},
		},
		{
			"kafka v0 one line",
			`{"clusterId":"abc","leaderId":-1,"leaderEpoch":7,"votedId":3,"appliedOffset":0,"currentVoters":[{"voterId":3},{"voterId":1}],"data_version":0}` + "\n",
			StateFile{State: State{Epoch: 7, VotedFor: 3, LeaderID: NoNode}, ClusterID: "abc", Voters: []NodeID{3, 1}},
		},
		{
			"kafka v1",
			`{"leaderId":-1,"leaderEpoch":2,"votedId":1,"votedDirectoryId":"J8aAPcfLQt2bqs1JT_rMgQ","data_version":1}`,
			StateFile{State: State{Epoch: 2, VotedFor: 1, LeaderID: NoNode}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data
			if strings.HasPrefix(tc.name, "kafka v0 (") {
				// Kafka reads the first line only, and writes one line: join the pretty form.
				data = strings.ReplaceAll(data, "\n", "")
			}
			got, err := DecodeStateFile([]byte(data))
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tc.want.State || got.ClusterID != tc.want.ClusterID || !slices.Equal(got.Voters, tc.want.Voters) {
				t.Fatalf("decoded %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestStateFileDecodeCorrupt(t *testing.T) {
	for _, data := range []string{
		``,
		`{`,
		`[]`,
		`{"clusterId":"","leaderId":1,"leaderEpoch":2,"votedId":-1,"appliedOffset":0,"currentVoters":[]}`,                     // no data_version
		`{"clusterId":"","leaderId":1,"leaderEpoch":2,"votedId":-1,"appliedOffset":0,"currentVoters":[],"data_version":2}`,    // unknown version
		`{"clusterId":"","leaderId":1,"votedId":-1,"appliedOffset":0,"currentVoters":[],"data_version":0}`,                    // no leaderEpoch
		`{"leaderId":1,"leaderEpoch":2,"votedId":-1,"appliedOffset":0,"currentVoters":[],"data_version":0}`,                   // v0 without clusterId
		`{"clusterId":"","leaderId":1,"leaderEpoch":-3,"votedId":-1,"appliedOffset":0,"currentVoters":[],"data_version":0}`,   // negative epoch
		`{"clusterId":"","leaderId":-2,"leaderEpoch":3,"votedId":-1,"appliedOffset":0,"currentVoters":[],"data_version":0}`,   // leader below -1
		`{"clusterId":"","leaderId":1,"leaderEpoch":2,"votedId":-1,"appliedOffset":0,"currentVoters":[{}],"data_version":0}`,  // voter without id
		`{"clusterId":"","leaderId":1,"leaderEpoch":2,"votedId":-1,"appliedOffset":0,"currentVoters":[],"data_version":0} {}`, // trailing data
		`{"clusterId":"","leaderId":"1","leaderEpoch":2,"votedId":-1,"appliedOffset":0,"currentVoters":[],"data_version":0}`,  // wrong type
		`{"clusterId":"","leaderId":1,"leaderEpoch":2147483648,"votedId":-1,"appliedOffset":0,"currentVoters":[],"data_version":0}`,
	} {
		if got, err := DecodeStateFile([]byte(data)); !errors.Is(err, ErrCorruptStateFile) {
			t.Errorf("DecodeStateFile(%q) = %+v, %v; want ErrCorruptStateFile", data, got, err)
		}
	}
}

func TestStateFileWriteRead(t *testing.T) {
	fsys := memfs.New()
	dir := "/meta/__cluster_metadata-0"
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"/", "/meta"} {
		if err := diskio.SyncDir(fsys, d); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadStateFile(fsys, dir)
	if err != nil || got.State != InitialState() {
		t.Fatalf("missing file read as %+v, %v", got, err)
	}
	want := StateFile{State: State{Epoch: 9, VotedFor: 2, LeaderID: 2}, Voters: []NodeID{1, 2, 3}}
	if err := WriteStateFile(fsys, dir, want); err != nil {
		t.Fatal(err)
	}
	// Durable when WriteStateFile returns: a crash losing everything unsynced keeps it.
	crashed := fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
	got, err = ReadStateFile(crashed, dir)
	if err != nil || got.State != want.State || !slices.Equal(got.Voters, want.Voters) {
		t.Fatalf("after a crash read %+v, %v; want %+v", got, err, want)
	}
	if err := diskio.WriteFileAtomic(fsys, dir, StateFileName, []byte(`{"leaderId":`)); err != nil {
		t.Fatal(err)
	}
	_, err = ReadStateFile(fsys, dir)
	if !errors.Is(err, ErrCorruptStateFile) || !strings.Contains(err.Error(), diskio.Join(dir, StateFileName)) {
		t.Fatalf("corrupt file: %v; want ErrCorruptStateFile naming the file", err)
	}
}

func FuzzDecodeStateFile(f *testing.F) {
	f.Add([]byte(`{"clusterId":"","leaderId":1,"leaderEpoch":2,"votedId":-1,"appliedOffset":0,"currentVoters":[{"voterId":1}],"data_version":0}`))
	f.Add([]byte(`{"leaderId":-1,"leaderEpoch":2,"votedId":1,"votedDirectoryId":"J8aAPcfLQt2bqs1JT_rMgQ","data_version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeStateFile(data)
		if err != nil {
			if !errors.Is(err, ErrCorruptStateFile) {
				t.Fatalf("error not wrapping ErrCorruptStateFile: %v", err)
			}
			return
		}
		enc, err := EncodeStateFile(got)
		if err != nil {
			t.Fatalf("a decoded state does not encode: %v", err)
		}
		again, err := DecodeStateFile(enc)
		if err != nil || again.State != got.State || again.ClusterID != got.ClusterID || !slices.Equal(again.Voters, got.Voters) || again.AppliedOffset != got.AppliedOffset {
			t.Fatalf("round trip %+v → %s → %+v, %v", got, enc, again, err)
		}
	})
}
