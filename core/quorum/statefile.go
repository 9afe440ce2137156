package quorum

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// The quorum-state file is Kafka's (FileQuorumStateStore): one line of JSON, QuorumStateData
// with a data_version field, in the metadata log's partition directory. Weir writes version 0,
// what Kafka writes for a static voter set (kraft.version 0):
//
//	{"clusterId":"","leaderId":1,"leaderEpoch":2,"votedId":-1,"appliedOffset":0,"currentVoters":[{"voterId":1}],"data_version":0}
//
// and reads versions 0 and 1 (KIP-853's, without clusterId, appliedOffset and currentVoters,
// with votedDirectoryId). It lives here, beside State, because it is the quorum's own durable
// state, as Kafka keeps it in its raft module; the driver writes it when a Ready carries a State.

// StateFileName is the quorum-state file's name in the metadata log's partition directory.
const StateFileName = "quorum-state"

// stateFileBytesMax bounds what ReadStateFile loads: a voter set of thousands fits easily.
const stateFileBytesMax = 1 << 20

// ErrCorruptStateFile is what a quorum-state file that does not parse wraps.
var ErrCorruptStateFile = errors.New("quorum: corrupt quorum-state file")

// StateFile is the content of the quorum-state file.
type StateFile struct {
	State State
	// ClusterID is Kafka's version-0 clusterId; Kafka writes "" and never checks it.
	ClusterID string
	// AppliedOffset is Kafka's version-0 appliedOffset, always 0 there.
	AppliedOffset int64
	// Voters is the static voter set the state was written under (currentVoters), sorted.
	Voters []NodeID
}

type stateFileVoter struct {
	VoterID *int32 `json:"voterId"`
}

// stateFileJSON is QuorumStateData as JSON; pointers tell a missing field from a zero one.
type stateFileJSON struct {
	ClusterID        *string           `json:"clusterId,omitempty"`
	LeaderID         *int32            `json:"leaderId"`
	LeaderEpoch      *int32            `json:"leaderEpoch"`
	VotedID          *int32            `json:"votedId"`
	VotedDirectoryID *string           `json:"votedDirectoryId,omitempty"`
	AppliedOffset    *int64            `json:"appliedOffset,omitempty"`
	CurrentVoters    *[]stateFileVoter `json:"currentVoters,omitempty"`
	DataVersion      *int16            `json:"data_version"`
}

// EncodeStateFile returns the file's bytes: version 0, one line, Kafka's field order.
func EncodeStateFile(f StateFile) ([]byte, error) {
	if err := checkState(f.State); err != nil {
		return nil, err
	}
	leader, epoch, voted := int32(f.State.LeaderID), int32(f.State.Epoch), int32(f.State.VotedFor)
	voters := make([]stateFileVoter, len(f.Voters))
	for i, v := range f.Voters {
		id := int32(v)
		voters[i].VoterID = &id
	}
	version := int16(0)
	out := stateFileJSON{
		ClusterID: &f.ClusterID, LeaderID: &leader, LeaderEpoch: &epoch, VotedID: &voted,
		AppliedOffset: &f.AppliedOffset, CurrentVoters: &voters, DataVersion: &version,
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("quorum: encode quorum state: %w", err)
	}
	return data, nil
}

// checkState refuses a state no node writes: a negative epoch or an id below NoNode.
func checkState(s State) error {
	if s.Epoch < 0 || s.LeaderID < NoNode || s.VotedFor < NoNode {
		return fmt.Errorf("quorum: invalid quorum state %v", s)
	}
	return nil
}

// DecodeStateFile parses the file's bytes (the first line, as Kafka reads it). Every field
// Kafka's JSON converter requires in the version must be present; anything else wraps
// ErrCorruptStateFile.
func DecodeStateFile(data []byte) (StateFile, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	}
	var in stateFileJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&in); err != nil {
		return StateFile{}, fmt.Errorf("%w: %w", ErrCorruptStateFile, err)
	}
	if dec.More() {
		return StateFile{}, fmt.Errorf("%w: data after the JSON object", ErrCorruptStateFile)
	}
	if in.DataVersion == nil {
		return StateFile{}, fmt.Errorf("%w: no data_version", ErrCorruptStateFile)
	}
	version := *in.DataVersion
	if version < 0 || version > 1 {
		return StateFile{}, fmt.Errorf("%w: data_version %d outside [0, 1]", ErrCorruptStateFile, version)
	}
	missing := func(name string) error {
		return fmt.Errorf("%w: no %s in version %d", ErrCorruptStateFile, name, version)
	}
	switch {
	case in.LeaderID == nil:
		return StateFile{}, missing("leaderId")
	case in.LeaderEpoch == nil:
		return StateFile{}, missing("leaderEpoch")
	case in.VotedID == nil:
		return StateFile{}, missing("votedId")
	case version == 0 && in.ClusterID == nil:
		return StateFile{}, missing("clusterId")
	case version == 0 && in.AppliedOffset == nil:
		return StateFile{}, missing("appliedOffset")
	}
	f := StateFile{State: State{Epoch: record.Epoch(*in.LeaderEpoch), VotedFor: NodeID(*in.VotedID), LeaderID: NodeID(*in.LeaderID)}}
	if err := checkState(f.State); err != nil {
		return StateFile{}, fmt.Errorf("%w: %w", ErrCorruptStateFile, err)
	}
	if in.ClusterID != nil {
		f.ClusterID = *in.ClusterID
	}
	if in.AppliedOffset != nil {
		f.AppliedOffset = *in.AppliedOffset
	}
	if in.CurrentVoters != nil {
		for _, v := range *in.CurrentVoters {
			if v.VoterID == nil || *v.VoterID < 0 {
				return StateFile{}, fmt.Errorf("%w: a current voter without a valid voterId", ErrCorruptStateFile)
			}
			f.Voters = append(f.Voters, NodeID(*v.VoterID))
		}
	}
	return f, nil
}

// WriteStateFile writes the quorum-state file in dir durably (diskio.WriteFileAtomic: the
// temporary file synced, renamed, the directory synced), as Kafka writes it before acting on
// a new state.
func WriteStateFile(fsys diskio.FS, dir string, f StateFile) error {
	data, err := EncodeStateFile(f)
	if err != nil {
		return err
	}
	if err := diskio.WriteFileAtomic(fsys, dir, StateFileName, data); err != nil {
		return fmt.Errorf("quorum: write %s: %w", diskio.Join(dir, StateFileName), err)
	}
	return nil
}

// ReadStateFile reads the quorum-state file in dir; a missing file is a node that never ran
// (InitialState, no voters). A file that does not parse is an error naming it: the state must
// not be guessed, since a forgotten vote could let a voter vote twice in one epoch.
func ReadStateFile(fsys diskio.FS, dir string) (StateFile, error) {
	path := diskio.Join(dir, StateFileName)
	info, err := fsys.Stat(path)
	if errors.Is(err, diskio.ErrNotExist) {
		return StateFile{State: InitialState()}, nil
	}
	if err != nil {
		return StateFile{}, fmt.Errorf("quorum: stat %s: %w", path, err)
	}
	if info.Size() > stateFileBytesMax {
		return StateFile{}, fmt.Errorf("quorum: %s: %w: %d bytes, more than %d", path, ErrCorruptStateFile, info.Size(), stateFileBytesMax)
	}
	data, err := diskio.ReadFile(fsys, path)
	if err != nil {
		return StateFile{}, fmt.Errorf("quorum: read %s: %w", path, err)
	}
	f, err := DecodeStateFile(data)
	if err != nil {
		return StateFile{}, fmt.Errorf("quorum: %s: %w", path, err)
	}
	return f, nil
}
