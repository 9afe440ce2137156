package uuid

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStringMatchesKafka(t *testing.T) {
	// Kafka's METADATA_TOPIC_ID prints as AAAAAAAAAAAAAAAAAAAAAQ.
	require.Equal(t, "AAAAAAAAAAAAAAAAAAAAAQ", One.String())
	require.Equal(t, "AAAAAAAAAAAAAAAAAAAAAA", Zero.String())
}

func TestParse(t *testing.T) {
	u, err := Parse("MkU3OEVBNTcwNTJENDM2Qk")
	require.NoError(t, err)
	require.Equal(t, "MkU3OEVBNTcwNTJENDM2Qg", u.String(), "trailing bits are dropped as Java's decoder drops them")
	padded, err := Parse(One.String() + "==")
	require.NoError(t, err)
	require.Equal(t, One, padded)
	for _, bad := range []string{"", "short", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAA+Q", "AAAAAAAAAAAAAAAAAAAAA"} {
		_, err := Parse(bad)
		require.Error(t, err, bad)
	}
}

func TestRandomFollowsKafkasRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10000; i++ {
		u := FromRand(rng)
		require.NotEqual(t, Zero, u)
		require.NotEqual(t, One, u)
		require.False(t, strings.HasPrefix(u.String(), "-"))
		require.Equal(t, byte(0x40), u[6]&0xf0, "version 4")
		require.Equal(t, byte(0x80), u[8]&0xc0, "IETF variant")
		back, err := Parse(u.String())
		require.NoError(t, err)
		require.Equal(t, u, back)
	}
}

func TestRandomRejectsLeadingDash(t *testing.T) {
	// The first draw renders with a leading '-' (0xf8 = 111110 00: '-' is 62); Random must draw again.
	first := append([]byte{0xf8}, bytes.Repeat([]byte{1}, 15)...)
	second := bytes.Repeat([]byte{2}, 16)
	u, err := Random(bytes.NewReader(append(first, second...)))
	require.NoError(t, err)
	require.Equal(t, byte(2), u[0])
	_, err = Random(bytes.NewReader(nil))
	require.Error(t, err)
}
