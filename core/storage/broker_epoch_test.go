package storage

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weirdata/weir/diskio"
)

func writeCheckpoints(t *testing.T, fsys diskio.FS, files []CheckpointFile) {
	t.Helper()
	for _, c := range files {
		require.NoError(t, diskio.WriteFileAtomic(fsys, c.Dir, c.Name, c.Data))
	}
}

// A disk that never recorded an epoch reads -1; once recorded in every directory, the next open
// reads it back; one directory replaced (no file) or disagreeing reads -1 again.
func TestPreviousBrokerEpochFromEveryLogDir(t *testing.T) {
	fsys := newFormatted(t, threeDirs)
	m := openManager(t, fsys, threeDirs, 1)
	require.Equal(t, int64(-1), m.PreviousBrokerEpoch())
	require.Nil(t, m.BrokerEpochCheckpoints(), "nothing to record before a registration")
	m.RecordBrokerEpoch(42)
	files := m.BrokerEpochCheckpoints()
	require.Len(t, files, len(threeDirs))
	writeCheckpoints(t, fsys, files)
	require.NoError(t, m.Close())

	m = openManager(t, fsys, threeDirs, 2)
	require.Equal(t, int64(42), m.PreviousBrokerEpoch())
	require.NotContains(t, checkpointNames(m.Checkpoints()), BrokerEpochFile, "not recorded this run yet: the file stays as it is")
	require.NoError(t, m.Close())

	require.NoError(t, fsys.Remove(diskio.Join(threeDirs[1], BrokerEpochFile)))
	m = openManager(t, fsys, threeDirs, 3)
	require.Equal(t, int64(-1), m.PreviousBrokerEpoch(), "a replaced directory")
	require.NoError(t, m.Close())

	writeCheckpoints(t, fsys, []CheckpointFile{{Dir: threeDirs[1], Name: BrokerEpochFile, Data: EncodeBrokerEpoch(7)}})
	m = openManager(t, fsys, threeDirs, 4)
	require.Equal(t, int64(-1), m.PreviousBrokerEpoch(), "directories disagree")
	require.NoError(t, m.Close())

	writeCheckpoints(t, fsys, []CheckpointFile{{Dir: threeDirs[1], Name: BrokerEpochFile, Data: []byte("0\nseven\n")}})
	m = openManager(t, fsys, threeDirs, 5)
	require.Equal(t, int64(-1), m.PreviousBrokerEpoch(), "a corrupt file")
	require.NotEmpty(t, m.Warnings())
	require.NoError(t, m.Close())
}

func TestDecodeBrokerEpoch(t *testing.T) {
	epoch, err := DecodeBrokerEpoch("f", EncodeBrokerEpoch(1<<40))
	require.NoError(t, err)
	require.Equal(t, int64(1<<40), epoch)
	for _, bad := range []string{"", "0\n", "1\n5\n", "0\n-3\n", "0\n5\n6\n", "x\n5\n"} {
		_, err := DecodeBrokerEpoch("f", []byte(bad))
		require.Error(t, err, "%q", bad)
	}
}

func checkpointNames(files []CheckpointFile) []string {
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	return names
}
