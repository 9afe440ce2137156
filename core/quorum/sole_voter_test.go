package quorum

import (
	"math/rand/v2"
	"testing"
)

// TestSoleVoterLeadsAtOnce: a single-voter quorum elects itself at its first Tick, on a first
// start and on a restart, without waiting out an election timeout.
func TestSoleVoterLeadsAtOnce(t *testing.T) {
	for _, persisted := range []State{InitialState(), {Epoch: 4, VotedFor: 1, LeaderID: 1}} {
		n, err := New(DefaultConfig(1, []NodeID{1}), newMemLog(), persisted, rand.New(rand.NewPCG(1, 2)), 100)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Tick(100); err != nil {
			t.Fatal(err)
		}
		if n.Role() != RoleLeader || n.State().Epoch <= persisted.Epoch {
			t.Fatalf("from %v: role %v, state %v after the first Tick; want the leader of a later epoch", persisted, n.Role(), n.State())
		}
	}
}
