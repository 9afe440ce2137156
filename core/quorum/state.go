package quorum

import (
	"fmt"

	"github.com/weirdata/weir/core/record"
)

// State is the durable quorum state (Kafka's quorum-state file): the epoch, the vote cast in
// it and the leader known for it. It must be durable before any message that depends on it is
// sent, and it never goes back: the epoch only grows, and within one epoch a vote once cast
// never changes.
type State struct {
	Epoch    record.Epoch
	VotedFor NodeID
	LeaderID NodeID
}

// InitialState is the state of a node that has never run: epoch 0, no vote, no leader.
func InitialState() State { return State{Epoch: 0, VotedFor: NoNode, LeaderID: NoNode} }

func (s State) String() string {
	return fmt.Sprintf("epoch=%d voted=%d leader=%d", s.Epoch, s.VotedFor, s.LeaderID)
}

// Role is a member's role in its current epoch (Kafka's EpochState subclasses).
type Role uint8

const (
	// RoleUnattached: no leader known; a voter waits out its election timeout.
	RoleUnattached Role = iota
	// RoleProspective: a voter asking for pre-votes (KIP-996) without bumping the epoch.
	RoleProspective
	// RoleCandidate: a voter that bumped the epoch, voted for itself and asks for votes.
	RoleCandidate
	// RoleLeader: the elected leader of the epoch.
	RoleLeader
	// RoleFollower: a voter or observer that knows the epoch's leader and fetches from it.
	RoleFollower
	// RoleResigned: a leader that gave up its epoch (shutdown or lost quorum).
	RoleResigned
)

func (r Role) String() string {
	switch r {
	case RoleUnattached:
		return "unattached"
	case RoleProspective:
		return "prospective"
	case RoleCandidate:
		return "candidate"
	case RoleLeader:
		return "leader"
	case RoleFollower:
		return "follower"
	case RoleResigned:
		return "resigned"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}
