package sim

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/diskio"
)

// Replication invariants (DESIGN §5), checked by the quorum checker while a cluster run goes
// (after every broker Ready, from what each broker holds) and at its end (the replicas' logs
// compared byte for byte). The no-loss guarantee itself is the history checkers': every
// acknowledged record is read back by the final reads.

// partitionEpoch names one leadership of one partition.
type partitionEpoch struct {
	tp    storage.TopicPartition
	epoch int32
}

// replicationState is what the checker remembers of the brokers' replicas.
type replicationState struct {
	// damaged reports whether a node's disk destroyed or changed stored bytes so far in the
	// run (a lost replica); nil: none ever does.
	damaged func(id int32) bool
	// leaders is the broker that led each partition at each leader epoch.
	leaders map[partitionEpoch]int32
	// shownHW is the highest high watermark an established leader of each partition had at
	// each leader epoch: what clients may have seen from it.
	shownHW map[partitionEpoch]record.Offset
}

// observeBroker checks one broker's replicas after a Ready it executed to its end: at most
// one leader per partition and leader epoch; a high watermark between the log start and end;
// an established leader's high watermark never below one a leader of the same or an earlier
// epoch showed (a new leader hides its high watermark until it reached its epoch start, so
// clients never see it go back). A deposed leader that has not yet heard of its successor may
// still show a lower one: clients that met the successor send its epoch (KIP-320) and the
// deposed leader refuses them with UNKNOWN_LEADER_EPOCH.
func (k *quorumChecker) observeBroker(n *Node) {
	b := n.Broker()
	if b == nil {
		return
	}
	if k.repl.leaders == nil {
		k.repl.leaders, k.repl.shownHW = map[partitionEpoch]int32{}, map[partitionEpoch]record.Offset{}
	}
	for _, v := range b.Replicas() {
		if v.HighWatermark > v.LogEndOffset {
			k.violate("a high watermark is within the log: node %d %s high watermark %d past its log end %d", n.ID(), v.TopicPartition, v.HighWatermark, v.LogEndOffset)
		}
		if !v.Leader {
			continue
		}
		pe := partitionEpoch{v.TopicPartition, v.LeaderEpoch}
		prev, ok := k.repl.leaders[pe]
		if ok && prev != n.ID() {
			k.violate("one leader per partition epoch: %s epoch %d led by node %d and by node %d", v.TopicPartition, v.LeaderEpoch, prev, n.ID())
		}
		if !ok {
			k.w.Tracef("replication: %s epoch %d led by node %d: high watermark %d, log end %d, ISR %v", v.TopicPartition, v.LeaderEpoch, n.ID(), v.HighWatermark, v.LogEndOffset, v.ISR)
		}
		k.repl.leaders[pe] = n.ID()
		if !v.Established {
			continue
		}
		for e := v.LeaderEpoch; e >= 0; e-- {
			if shown, ok := k.repl.shownHW[partitionEpoch{v.TopicPartition, e}]; ok && v.HighWatermark < shown && !k.replicaLost(n.ID()) {
				k.violate("a high watermark once shown never goes back: %s leader node %d (epoch %d) shows %d after %d was shown at epoch %d",
					v.TopicPartition, n.ID(), v.LeaderEpoch, v.HighWatermark, shown, e)
				break
			}
		}
		k.repl.shownHW[pe] = max(k.repl.shownHW[pe], v.HighWatermark)
	}
}

// replicaLost reports whether node id's disk destroyed stored records during the run. Such a
// replica may still be in an ISR or the ELR (its registration and standing outlive the damage
// until it is fenced, falls behind or restarts; a recovery that cuts records above the recovery
// point it last checkpointed cannot tell synced from torn ones, so that restart reads as clean)
// and be elected: the records it lost are lost. That is one lost replica costing committed
// records, which the high watermark check excuses for exactly that leader, as the durability
// checker excuses the offsets a disk destroyed.
func (k *quorumChecker) replicaLost(id int32) bool {
	return k.repl.damaged != nil && k.repl.damaged(id)
}

// checkPartitionStates is the image side: every ISR is a set of the partition's replicas,
// never empty but with eligible leader replicas on and the partition offline; the ELR is a
// set of replicas outside the ISR, used only with the feature; adding and removing replicas
// are replicas; a fenced broker is never in an ISR, except without ELR as its last member with
// the partition offline (so the controller knows whose log is newest).
func (k *quorumChecker) checkPartitionStates(img *metadata.Image, applied record.Offset) {
	elr := img.ELREnabled()
	for _, t := range img.Topics() {
		for _, p := range t.Partitions() {
			if len(p.ISR) == 0 && (!elr || p.Leader != metadata.NoLeader) {
				k.violate("an ISR is never empty but offline with eligible leader replicas: %s-%d leader %d, ELR on %v, in the image at %d", t.Name, p.ID, p.Leader, elr, applied)
			}
			if len(p.EligibleLeaderReplicas) > 0 && !elr {
				k.violate("no eligible leader replicas without the feature: %s-%d ELR %v in the image at %d", t.Name, p.ID, p.EligibleLeaderReplicas, applied)
			}
			for i, id := range p.EligibleLeaderReplicas {
				if !slices.Contains(p.Replicas, id) || slices.Contains(p.ISR, id) || slices.Contains(p.EligibleLeaderReplicas[:i], id) {
					k.violate("the ELR is a set of replicas outside the ISR: %s-%d ELR %v ISR %v replicas %v in the image at %d", t.Name, p.ID, p.EligibleLeaderReplicas, p.ISR, p.Replicas, applied)
				}
			}
			for i, id := range p.ISR {
				if !slices.Contains(p.Replicas, id) || slices.Contains(p.ISR[:i], id) {
					k.violate("the ISR is a set of replicas: %s-%d ISR %v replicas %v in the image at %d", t.Name, p.ID, p.ISR, p.Replicas, applied)
				}
				if b, ok := img.Broker(id); (!ok || b.Fenced) && (elr || len(p.ISR) > 1 || p.Leader != metadata.NoLeader) {
					k.violate("a fenced replica is never in an ISR but as its offline last member: %s-%d ISR %v leader %d, broker %d fenced, in the image at %d",
						t.Name, p.ID, p.ISR, p.Leader, id, applied)
				}
			}
			for _, id := range append(slices.Clone(p.AddingReplicas), p.RemovingReplicas...) {
				if !slices.Contains(p.Replicas, id) {
					k.violate("adding and removing replicas are replicas: %s-%d adding %v removing %v replicas %v in the image at %d",
						t.Name, p.ID, p.AddingReplicas, p.RemovingReplicas, p.Replicas, applied)
				}
			}
		}
	}
}

// checkReplicaLogs compares, once the cluster converged, every ISR member's log with its
// leader's below the high watermark, batch bytes and all: committed prefixes are identical on
// every in-sync replica.
func (k *quorumChecker) checkReplicaLogs(nodes []*Node, img *metadata.Image) {
	byID := map[int32]*Node{}
	for _, n := range nodes {
		byID[n.ID()] = n
	}
	for _, t := range img.Topics() {
		for _, p := range t.Partitions() {
			tp := storage.TopicPartition{Topic: t.Name, Partition: p.ID}
			leader, ok := byID[p.Leader]
			if !ok || leader.Broker() == nil {
				continue
			}
			ll, ok := leader.Broker().Log(tp)
			if !ok {
				k.violate("a leader holds its partition's log: node %d has no log of %s", p.Leader, tp)
				continue
			}
			hw := leaderHW(leader, tp)
			for _, id := range p.ISR {
				n, ok := byID[id]
				if id == p.Leader || !ok || n.Broker() == nil {
					continue
				}
				fl, ok := n.Broker().Log(tp)
				if !ok {
					k.violate("an ISR member holds the partition's log: node %d has no log of %s", id, tp)
					continue
				}
				from := max(ll.StartOffset(), fl.StartOffset())
				want, err := readBatches(leader.Disk(), ll, from, hw)
				if err != nil {
					k.violate("replica logs readable: node %d %s: %v", p.Leader, tp, err)
					continue
				}
				got, err := readBatches(n.Disk(), fl, from, hw)
				if err != nil {
					k.violate("replica logs readable: node %d %s: %v", id, tp, err)
					continue
				}
				if !bytes.Equal(want, got) {
					at := 0
					for at < len(want) && at < len(got) && want[at] == got[at] {
						at++
					}
					k.violate("committed prefixes are identical on every ISR replica: %s [%d, %d) differs between leader node %d (%d bytes) and node %d (%d bytes) from byte %d",
						tp, from, hw, p.Leader, len(want), id, len(got), at)
				}
			}
		}
	}
}

func leaderHW(n *Node, tp storage.TopicPartition) record.Offset {
	for _, v := range n.Broker().Replicas() {
		if v.TopicPartition == tp {
			return v.HighWatermark
		}
	}
	return 0
}

// readBatches reads l's batches holding offsets [from, to), whole.
func readBatches(fsys diskio.FS, l *log.Log, from, to record.Offset) ([]byte, error) {
	var out []byte
	for from < to {
		plan, err := l.Read(from, 1<<20, to, true)
		if err != nil {
			return nil, fmt.Errorf("read at %d: %w", from, err)
		}
		if plan.SizeBytes == 0 {
			return nil, fmt.Errorf("read at %d below %d found nothing", from, to)
		}
		if out, err = log.AppendPlan(fsys, out, plan); err != nil {
			return nil, fmt.Errorf("read at %d: %w", from, err)
		}
		from = plan.NextOffset
	}
	return out, nil
}
