package wire

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestInternalVersionTableAllowsKRaftKeys(t *testing.T) {
	vote := VersionRange{APIKey: 52, MinVersion: 0, MaxVersion: 2}
	_, err := NewVersionTable(vote)
	require.Error(t, err, "a client-facing table must refuse Vote")
	tbl, err := NewInternalVersionTable(vote, VersionRange{APIKey: 18, MinVersion: 0, MaxVersion: 4})
	require.NoError(t, err)
	require.True(t, tbl.Supports(52, 2))
	require.False(t, tbl.Supports(52, 3))
	_, err = NewInternalVersionTable(VersionRange{APIKey: 9999, MinVersion: 0, MaxVersion: 0})
	require.Error(t, err, "an unknown key stays refused")
}
