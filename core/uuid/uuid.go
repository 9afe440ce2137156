// Package uuid is Kafka's Uuid: 16 bytes, written as URL-safe base64 without padding (22
// characters). Cluster ids, directory ids and topic ids are all UUIDs. Randomness comes from the
// caller (crypto/rand in production tools, the node's seeded PRNG in core), never a global source.
package uuid

import (
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// UUID is Kafka's Uuid, most significant long first.
type UUID [16]byte

var (
	// Zero is Kafka's ZERO_UUID: no id.
	Zero = UUID{}
	// One is Kafka's ONE_UUID, which is METADATA_TOPIC_ID, reserved for __cluster_metadata.
	One = UUID{15: 1}
)

// String renders the UUID as Kafka's Uuid.toString does.
func (u UUID) String() string { return base64.RawURLEncoding.EncodeToString(u[:]) }

// Parse parses Kafka's text form of a Uuid (Uuid.fromString). Java's URL decoder accepts the
// optional "==" padding of 16 bytes, so this does too.
func Parse(s string) (UUID, error) {
	var u UUID
	if len(s) > 24 {
		return u, fmt.Errorf("uuid %q is too long to be a base64 UUID", s)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimSuffix(s, "=="))
	if err != nil {
		return u, fmt.Errorf("uuid %q is not URL-safe base64: %w", s, err)
	}
	if len(b) != len(u) {
		return u, fmt.Errorf("uuid %q decodes to %d bytes, want 16", s, len(b))
	}
	copy(u[:], b)
	return u, nil
}

// Random draws a UUID as Kafka's Uuid.randomUuid does, with bytes from random.
func Random(random io.Reader) (UUID, error) {
	for {
		var u UUID
		if _, err := io.ReadFull(random, u[:]); err != nil {
			return Zero, fmt.Errorf("random uuid: %w", err)
		}
		if accept(&u) {
			return u, nil
		}
	}
}

// FromRand draws a UUID as Random does, from a seeded PRNG (the simulator's and core's source).
func FromRand(rng *rand.Rand) UUID {
	for {
		var u UUID
		for i := 0; i < len(u); i += 8 {
			x := rng.Uint64()
			for j := 0; j < 8; j++ {
				u[i+j] = byte(x >> (8 * j))
			}
		}
		if accept(&u) {
			return u
		}
	}
}

// accept stamps the version 4 and IETF variant bits (as java.util.UUID.randomUUID makes) and
// reports whether Kafka would keep the draw: never ZERO_UUID or ONE_UUID, and never one whose
// text starts with '-', which command-line tools would read as a flag.
func accept(u *UUID) bool {
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return *u != Zero && *u != One && !strings.HasPrefix(u.String(), "-")
}
