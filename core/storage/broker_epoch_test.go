package storage

import (
	"io/fs"
	"path"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
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

// A recovery that cuts synced records (corrupt below the recovery point) makes the restart
// unclean: -1 now, a warning, and the epoch files gone so that a crash before the next
// registration does not read as clean either. A cut of only an unsynced tail keeps the epoch.
func TestRecoveryCutOfSyncedRecordsMakesTheRestartUnclean(t *testing.T) {
	dirs := threeDirs[:2]
	tp := TopicPartition{"a", 0}
	setUp := func(t *testing.T) (*memfs.FS, string) {
		fsys := newFormatted(t, dirs)
		m := openManager(t, fsys, dirs, 1)
		l, err := m.CreateLog(tp, topicID(t, 0), smallConfig())
		require.NoError(t, err)
		appendValues(t, l, 5)
		syncAll(t, fsys, m)
		m.RecordBrokerEpoch(42)
		writeCheckpoints(t, fsys, m.Checkpoints())
		entries, err := ReadOffsetCheckpoint(fsys, dirs[0], RecoveryPointCheckpointFile)
		require.NoError(t, err)
		require.Equal(t, []CheckpointEntry{{TopicPartition: tp, Offset: 5}}, entries)
		seg := diskio.Join(m.logs[tp].dir, "00000000000000000000.log")
		require.NoError(t, m.Close())
		return fsys, seg
	}
	t.Run("synced batch corrupt", func(t *testing.T) {
		fsys, seg := setUp(t)
		data, err := diskio.ReadFile(fsys, seg)
		require.NoError(t, err)
		data[len(data)-2] ^= 0x10 // the last batch's value: its CRC fails
		require.NoError(t, diskio.WriteFileAtomic(fsys, path.Dir(seg), path.Base(seg), data))
		m := openManager(t, fsys, dirs, 2)
		require.Equal(t, int64(-1), m.PreviousBrokerEpoch())
		require.NotEmpty(t, m.Warnings())
		for _, d := range dirs {
			_, err := fsys.Stat(diskio.Join(d, BrokerEpochFile))
			require.ErrorIs(t, err, fs.ErrNotExist, "%s keeps its epoch file", d)
		}
		require.NoError(t, m.Close())
		m = openManager(t, fsys, dirs, 3)
		require.Equal(t, int64(-1), m.PreviousBrokerEpoch(), "the next start, before any registration")
		require.NoError(t, m.Close())
	})
	t.Run("unsynced tail torn", func(t *testing.T) {
		fsys, seg := setUp(t)
		f, err := fsys.OpenReadWrite(seg)
		require.NoError(t, err)
		info, err := f.Stat()
		require.NoError(t, err)
		_, err = f.WriteAt([]byte{0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 1}, info.Size()) // a torn batch past the synced ones
		require.NoError(t, err)
		require.NoError(t, f.Close())
		m := openManager(t, fsys, dirs, 2)
		require.Equal(t, int64(42), m.PreviousBrokerEpoch())
		require.NoError(t, m.Close())
	})
}
