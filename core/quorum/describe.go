package quorum

import (
	"cmp"
	"slices"

	"github.com/weirdata/weir/core/record"
)

// observerSessionMs is how long a leader keeps describing an observer that stopped fetching
// (Kafka's LeaderState.OBSERVER_SESSION_TIMEOUT_MS, 5 minutes).
const observerSessionMs = 5 * 60 * 1000

// ReplicaView is what the leader knows of one replica, as DescribeQuorum reports it. Times are
// on the node's monotonic clock; -1 when unknown.
type ReplicaView struct {
	ID             NodeID
	LogEndOffset   record.Offset // its last fetch offset; -1 before its first fetch in this epoch
	LastFetchMs    int64
	LastCaughtUpMs int64 // the last fetch at which it had everything the leader had
}

// Description is the quorum as its leader sees it (kafka-metadata-quorum describe).
type Description struct {
	LeaderID      NodeID
	LeaderEpoch   record.Epoch
	HighWatermark record.Offset
	Voters        []ReplicaView // by id
	Observers     []ReplicaView // by id; observers heard from within observerSessionMs
}

// Describe returns the leader's view of the quorum; false when this node does not lead.
func (n *Node) Describe(nowMs int64) (Description, bool) {
	if n.role != RoleLeader {
		return Description{}, false
	}
	d := Description{LeaderID: n.cfg.ID, LeaderEpoch: n.state.Epoch, HighWatermark: n.hw}
	for _, id := range n.voters {
		if id == n.cfg.ID {
			end := n.log.EndOffset()
			d.Voters = append(d.Voters, ReplicaView{ID: id, LogEndOffset: end, LastFetchMs: nowMs, LastCaughtUpMs: nowMs})
			continue
		}
		v := ReplicaView{ID: id, LogEndOffset: -1, LastFetchMs: -1, LastCaughtUpMs: -1}
		if i := n.findView(id); i >= 0 {
			v = n.views[i]
		}
		d.Voters = append(d.Voters, v)
	}
	for _, v := range n.views {
		if !n.isVoter(v.ID) && v.LastFetchMs+observerSessionMs > nowMs {
			d.Observers = append(d.Observers, v)
		}
	}
	return d, true
}

func (n *Node) findView(id NodeID) int {
	i, found := slices.BinarySearchFunc(n.views, id, func(v ReplicaView, id NodeID) int { return cmp.Compare(v.ID, id) })
	if !found {
		return -1
	}
	return i
}

// viewFetch records a valid fetch on the leader for Describe. Observers beyond ObserversMax
// replace the one heard from least recently.
func (n *Node) viewFetch(id NodeID, fetchOffset record.Offset, nowMs int64) {
	i, found := slices.BinarySearchFunc(n.views, id, func(v ReplicaView, id NodeID) int { return cmp.Compare(v.ID, id) })
	if !found {
		if !n.isVoter(id) && len(n.views)-(len(n.voters)-1) >= n.cfg.ObserversMax {
			n.forgetStalestObserver()
			i, _ = slices.BinarySearchFunc(n.views, id, func(v ReplicaView, id NodeID) int { return cmp.Compare(v.ID, id) })
		}
		n.views = slices.Insert(n.views, i, ReplicaView{ID: id, LastCaughtUpMs: -1})
	}
	v := &n.views[i]
	v.LogEndOffset, v.LastFetchMs = fetchOffset, nowMs
	if fetchOffset >= n.log.EndOffset() {
		v.LastCaughtUpMs = nowMs
	}
}

func (n *Node) forgetStalestObserver() {
	stalest := -1
	for i, v := range n.views {
		if !n.isVoter(v.ID) && (stalest < 0 || v.LastFetchMs < n.views[stalest].LastFetchMs) {
			stalest = i
		}
	}
	if stalest >= 0 {
		n.views = slices.Delete(n.views, stalest, stalest+1)
	}
}
