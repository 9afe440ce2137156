package quorum

import "fmt"

// checkInvariants panics, naming the invariant, when the node's state is inconsistent. It runs
// at the end of every call.
func (n *Node) checkInvariants() {
	fail := func(format string, args ...any) {
		panic(fmt.Sprintf("quorum: invariant: node %d (%v, %v): ", n.cfg.ID, n.role, n.state) + fmt.Sprintf(format, args...))
	}
	end := n.log.EndOffset()
	if start := n.log.Start().EndOffset; n.hw < start || n.hw > end {
		// Below the start would mean a snapshot of uncommitted entries.
		fail("high watermark %d outside [log start %d, log end %d]", n.hw, start, end)
	}
	if !n.voter && (n.state.VotedFor != NoNode || n.role != RoleUnattached && n.role != RoleFollower) {
		fail("an observer votes or runs")
	}
	switch n.role {
	case RoleLeader:
		if n.state.LeaderID != n.cfg.ID || n.state.VotedFor != n.cfg.ID || n.progress == nil {
			fail("a leader that did not vote for itself")
		}
		if n.progress.HighWatermark() != n.hw {
			fail("leader high watermark %d differs from its progress's %d", n.hw, n.progress.HighWatermark())
		}
		if end <= n.progress.EpochStart() && n.failure == nil {
			fail("leader log end %d at or below its epoch start %d", end, n.progress.EpochStart())
		}
		// The leader appended every batch above its epoch start, so it knows where each
		// uncommitted one ends, the last at its log end; the HW is past all the others.
		ends := n.progress.batchEnds
		switch {
		case n.failure != nil:
		case len(ends) > 0 && (ends[len(ends)-1] != end || ends[0] <= n.hw):
			fail("leader batch ends %v do not fit its high watermark %d and log end %d", ends, n.hw, end)
		case len(ends) == 0 && n.hw > n.progress.EpochStart() && n.hw != end:
			fail("leader high watermark %d below its log end %d with no batch end recorded", n.hw, end)
		}
	case RoleCandidate:
		if n.state.VotedFor != n.cfg.ID || n.state.LeaderID != NoNode {
			fail("a candidate that did not vote for itself")
		}
	case RoleFollower:
		if n.state.LeaderID == NoNode || n.state.LeaderID == n.cfg.ID {
			fail("a follower without another leader")
		}
	case RoleResigned:
		if n.state.LeaderID != n.cfg.ID {
			fail("a resigned node that was not the leader")
		}
	}
}
