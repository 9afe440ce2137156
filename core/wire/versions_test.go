package wire

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDefaultVersions(t *testing.T) {
	versions := DefaultVersions()
	// The table, exactly: none is clamped by kmsg v1.15.
	require.Equal(t, []VersionRange{
		{0, 0, 11}, {1, 4, 16}, {2, 1, 10}, {3, 0, 12}, {18, 0, 4}, {19, 2, 7}, {20, 1, 6},
		{21, 0, 2}, {22, 0, 5}, {23, 2, 4}, {32, 1, 4}, {33, 0, 2}, {37, 0, 3}, {43, 0, 2}, {44, 0, 1},
		{45, 0, 0}, {46, 0, 0}, {60, 0, 1}, {75, 0, 0},
	}, versions.Ranges())
	for _, r := range versions.Ranges() {
		require.NotContains(t, internalAPIKeys, r.APIKey)
		require.LessOrEqual(t, r.MaxVersion, kmsg.RequestForKey(r.APIKey).MaxVersion())
	}
	keys := versions.APIKeys()
	require.Len(t, keys, 19)
	require.Equal(t, int16(18), keys[4].ApiKey)
	require.Equal(t, int16(4), keys[4].MaxVersion)

	require.True(t, versions.Supports(1, 4))
	require.True(t, versions.Supports(1, 16))
	require.False(t, versions.Supports(1, 3))
	require.False(t, versions.Supports(1, 17))
	require.False(t, versions.Supports(11, 0)) // JoinGroup: a later issue adds it
}

func TestVersionTableWith(t *testing.T) {
	base := DefaultVersions()
	withGroups, err := base.With(VersionRange{APIKey: 11, MinVersion: 0, MaxVersion: 9})
	require.NoError(t, err)
	require.True(t, withGroups.Supports(11, 9))
	require.False(t, base.Supports(11, 9), "With must not change the table it was called on")
	require.Len(t, base.Ranges(), 19)
	require.Len(t, withGroups.Ranges(), 20)

	replaced, err := withGroups.With(VersionRange{APIKey: 0, MinVersion: 3, MaxVersion: 11})
	require.NoError(t, err)
	require.False(t, replaced.Supports(0, 2))
	require.True(t, withGroups.Supports(0, 2))
	require.Len(t, replaced.Ranges(), 20)

	// A maximum beyond kmsg's is clamped to it.
	clamped, err := NewVersionTable(VersionRange{APIKey: 18, MinVersion: 0, MaxVersion: 99})
	require.NoError(t, err)
	r, ok := clamped.Lookup(18)
	require.True(t, ok)
	require.Equal(t, kmsg.NewPtrApiVersionsRequest().MaxVersion(), r.MaxVersion)

	for _, bad := range []VersionRange{
		{APIKey: 52, MinVersion: 0, MaxVersion: 1},   // Vote: KRaft only
		{APIKey: 4, MinVersion: 0, MaxVersion: 1},    // LeaderAndIsr
		{APIKey: 9999, MinVersion: 0, MaxVersion: 0}, // not a key
		{APIKey: 3, MinVersion: 5, MaxVersion: 4},    // empty
		{APIKey: 3, MinVersion: -1, MaxVersion: 4},   // negative
		{APIKey: 18, MinVersion: 50, MaxVersion: 99}, // empty once clamped
	} {
		_, err := NewVersionTable(bad)
		require.Error(t, err, "%+v", bad)
	}

	var zero VersionTable
	require.False(t, zero.Supports(18, 0))
}
