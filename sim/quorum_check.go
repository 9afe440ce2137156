package sim

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/record"
)

// quorumViolationsMax bounds the violations a checker keeps: the first fails the run.
const quorumViolationsMax = 20

// quorumChecker checks the quorum's invariants while the run goes (after every Ready a node
// executed to its end, and at every restart) and at its end. Each violation names its
// invariant.
type quorumChecker struct {
	w *World
	// leaders is each epoch's leader as any node saw it (a leader's role, or a follower's
	// state naming it).
	leaders map[record.Epoch]int32
	// durable is each node's last quorum state seen after a Ready that did not fail: the
	// state file was written before the Ready was handed out.
	durable map[int32]quorum.State
	// progress is each node's high watermark and applied offset in its current incarnation.
	progress map[int32]nodeProgress
	// imageAt is the first committed image seen applied up to each offset; lastImage each
	// node's image and offset compared last (images are immutable: the same pointer is the
	// same image).
	imageAt   map[record.Offset]*metadata.Image
	lastImage map[int32]appliedImage
	// repl is what the replication checks remember (replication_check.go).
	repl replicationState

	violations []string
}

type appliedImage struct {
	img     *metadata.Image
	applied record.Offset
}

type nodeProgress struct {
	incarnation int
	hw, applied record.Offset
}

func newQuorumChecker(w *World) *quorumChecker {
	return &quorumChecker{
		w: w, leaders: map[record.Epoch]int32{}, durable: map[int32]quorum.State{}, progress: map[int32]nodeProgress{},
		imageAt: map[record.Offset]*metadata.Image{}, lastImage: map[int32]appliedImage{},
	}
}

func (k *quorumChecker) violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	k.w.Tracef("VIOLATION %s", msg)
	if len(k.violations) < quorumViolationsMax {
		k.violations = append(k.violations, msg)
	}
}

// failure is the first violation, or "".
func (k *quorumChecker) failure() string {
	if len(k.violations) == 0 {
		return ""
	}
	if len(k.violations) == 1 {
		return k.violations[0]
	}
	return fmt.Sprintf("%s (and %d more)", k.violations[0], len(k.violations)-1)
}

// noteLeader records that id led epoch.
func (k *quorumChecker) noteLeader(epoch record.Epoch, id int32, by int32) {
	if prev, ok := k.leaders[epoch]; ok && prev != id {
		k.violate("one leader per epoch: epoch %d led by node %d and by node %d (seen by node %d)", epoch, prev, id, by)
		return
	}
	k.leaders[epoch] = id
}

// quorumMember is a process of the metadata quorum, as the checker sees it: a controller-only
// ControllerNode, or a broker Node of a cluster (a voter or an observer).
type quorumMember interface {
	ID() int32
	Up() bool
	Incarnation() int
	controllerNode() *controller.Node
	quorumLog() *metadata.QuorumLog
}

func (n *ControllerNode) controllerNode() *controller.Node { return n.Node() }
func (n *ControllerNode) quorumLog() *metadata.QuorumLog   { return n.Log() }

// observe checks one node after a Ready it executed to its end.
func (k *quorumChecker) observe(n quorumMember) {
	node := n.controllerNode()
	id := n.ID()
	st := node.QuorumState()
	if node.Role() == quorum.RoleLeader {
		k.noteLeader(st.Epoch, id, id)
	}
	if st.LeaderID != quorum.NoNode {
		k.noteLeader(st.Epoch, int32(st.LeaderID), id)
	}
	if prev, ok := k.durable[id]; ok {
		if st.Epoch < prev.Epoch {
			k.violate("quorum-state epoch never goes back: node %d went from epoch %d to %d", id, prev.Epoch, st.Epoch)
		} else if st.Epoch == prev.Epoch && prev.VotedFor != quorum.NoNode && st.VotedFor != prev.VotedFor {
			k.violate("one vote per epoch: node %d voted for %d then %d in epoch %d", id, prev.VotedFor, st.VotedFor, st.Epoch)
		}
	}
	k.durable[id] = st

	img, applied := node.Image()
	hw := node.HighWatermark()
	p, ok := k.progress[id]
	if ok && p.incarnation == n.Incarnation() {
		if hw < p.hw {
			k.violate("high watermark never goes back: node %d (incarnation %d) from %d to %d", id, p.incarnation, p.hw, hw)
		}
		if applied < p.applied {
			k.violate("applied offset never goes back: node %d (incarnation %d) from %d to %d", id, p.incarnation, p.applied, applied)
		}
	}
	k.progress[id] = nodeProgress{incarnation: n.Incarnation(), hw: hw, applied: applied}
	k.checkImage(id, img, applied)
}

// checkImage compares a node's committed image with the first image seen at the same offset
// (a control record moves the offset and not the image, so one image may stand at several).
func (k *quorumChecker) checkImage(id int32, img *metadata.Image, applied record.Offset) {
	if last := k.lastImage[id]; last.img == img && last.applied == applied {
		return // compared already
	}
	k.lastImage[id] = appliedImage{img, applied}
	first, ok := k.imageAt[applied]
	if !ok {
		k.imageAt[applied] = img
		k.checkLeaders(img, applied)
		k.checkPartitionStates(img, applied)
		return
	}
	if first != img && !first.Equal(img) {
		k.violate("same committed image at the same offset: node %d's image applied up to %d differs from another node's", id, applied)
	}
}

// checkLeaders: a partition's leader is a registered, unfenced broker (or none): a fenced
// broker leads nothing.
func (k *quorumChecker) checkLeaders(img *metadata.Image, applied record.Offset) {
	for _, t := range img.Topics() {
		for _, p := range t.Partitions() {
			if p.Leader == metadata.NoLeader {
				continue
			}
			b, ok := img.Broker(p.Leader)
			switch {
			case !ok:
				k.violate("a partition's leader is a registered broker: %s-%d led by unknown broker %d in the image at %d", t.Name, p.ID, p.Leader, applied)
			case b.Fenced:
				k.violate("a fenced broker leads nothing: %s-%d led by fenced broker %d in the image at %d", t.Name, p.ID, p.Leader, applied)
			case !slices.Contains(p.ISR, p.Leader):
				k.violate("a partition's leader is in its ISR: %s-%d led by %d, ISR %v, in the image at %d", t.Name, p.ID, p.Leader, p.ISR, applied)
			}
		}
	}
}

// restarted checks the quorum state a restart read from disk against the last one the node
// made durable.
func (k *quorumChecker) restarted(n quorumMember, recovered quorum.State) {
	id := n.ID()
	prev, ok := k.durable[id]
	if !ok {
		return
	}
	if recovered.Epoch < prev.Epoch {
		k.violate("quorum-state epoch never goes back across a crash: node %d had epoch %d, read epoch %d after restart", id, prev.Epoch, recovered.Epoch)
	} else if recovered.Epoch == prev.Epoch && prev.VotedFor != quorum.NoNode && recovered.VotedFor != prev.VotedFor {
		k.violate("one vote per epoch across a crash: node %d voted for %d in epoch %d, read vote %d after restart", id, prev.VotedFor, prev.Epoch, recovered.VotedFor)
	}
}

// wiped forgets the quorum state a node made durable: its disk was replaced by an empty one, so
// it starts over as a new member (an observer: only a broker-only node's disk is wiped) that
// promised nothing.
func (k *quorumChecker) wiped(id int32) { delete(k.durable, id) }

// logEntries reads a node's whole quorum log: its start and its entries.
func logEntries(n quorumMember) (record.Offset, []quorum.Entry, error) {
	qlog := n.quorumLog()
	start, end := qlog.Start().EndOffset, qlog.EndOffset()
	var out []quorum.Entry
	for next := start; next < end; {
		entries, err := qlog.Read(next, 4096)
		if err != nil {
			return start, out, fmt.Errorf("node %d: read its quorum log at %d: %w", n.ID(), next, err)
		}
		if len(entries) == 0 {
			return start, out, fmt.Errorf("node %d: read its quorum log at %d: no entry below its end %d", n.ID(), next, end)
		}
		out = append(out, entries...)
		next += record.Offset(len(entries))
	}
	return start, out, nil
}

// checkLogMatching: where two nodes' logs hold an entry of the same epoch at the same offset,
// they hold the same entries at every offset below it that both still have.
func (k *quorumChecker) checkLogMatching(nodes []quorumMember) {
	type nodeLog struct {
		id      int32
		start   record.Offset
		entries []quorum.Entry
	}
	var logs []nodeLog
	for _, n := range nodes {
		if !n.Up() {
			continue
		}
		start, entries, err := logEntries(n)
		if err != nil {
			k.violate("log readable: %v", err)
			continue
		}
		logs = append(logs, nodeLog{n.ID(), start, entries})
	}
	for i := range logs {
		for j := i + 1; j < len(logs); j++ {
			a, b := logs[i], logs[j]
			lo := max(a.start, b.start)
			hi := min(a.start+record.Offset(len(a.entries)), b.start+record.Offset(len(b.entries)))
			match := record.Offset(-1)
			for o := hi - 1; o >= lo; o-- {
				if a.entries[o-a.start].Epoch == b.entries[o-b.start].Epoch {
					match = o
					break
				}
			}
			for o := lo; o <= match; o++ {
				ea, eb := a.entries[o-a.start], b.entries[o-b.start]
				if ea.Epoch != eb.Epoch || ea.Control != eb.Control || !bytes.Equal(ea.Data, eb.Data) {
					k.violate("log matching: nodes %d and %d agree on epoch %d at offset %d but differ at offset %d (epochs %d and %d)",
						a.id, b.id, a.entries[match-a.start].Epoch, match, o, ea.Epoch, eb.Epoch)
					break
				}
			}
		}
	}
}

// checkBrokerEpochs: a registered broker's epoch is the offset of its registration record, on
// every node whose log still holds that offset (older ones are in a snapshot).
func (k *quorumChecker) checkBrokerEpochs(nodes []quorumMember) {
	for _, n := range nodes {
		if !n.Up() {
			continue
		}
		start, entries, err := logEntries(n)
		if err != nil {
			k.violate("log readable: %v", err)
			continue
		}
		img, applied := n.controllerNode().Image()
		k.checkBrokerEpochsIn(n.ID(), img, applied, start, entries)
	}
}

// checkBrokerEpochsIn checks img's brokers against the log entries (from start) it was applied
// from, up to applied.
func (k *quorumChecker) checkBrokerEpochsIn(id int32, img *metadata.Image, applied, start record.Offset, entries []quorum.Entry) {
	for _, b := range img.Brokers() {
		at := record.Offset(b.Epoch)
		if at < start || at >= applied || at >= start+record.Offset(len(entries)) {
			continue
		}
		r, err := metadata.DecodeRecord(entries[at-start].Data)
		reg, ok := r.(*metadata.RegisterBrokerRecord)
		if err != nil || !ok || reg.BrokerID != b.ID || reg.BrokerEpoch != b.Epoch {
			k.violate("broker epoch = offset of its registration record: broker %d has epoch %d, node %d's log holds %T there (%v)", b.ID, b.Epoch, id, r, err)
		}
	}
}

// checkRegistrations: every acknowledged registration is in every node's committed image,
// with its epoch and incarnation, or replaced by a later registration of the same broker.
func (k *quorumChecker) checkRegistrations(nodes []quorumMember, h *QuorumHistory) {
	// An epoch is the offset of a committed registration record: no two share one, and a
	// broker's registrations (sent one after another) get growing epochs.
	byEpoch := map[int64]AckedRegistration{}
	latest := map[int32]AckedRegistration{}
	for _, r := range h.Registrations {
		if other, ok := byEpoch[r.Epoch]; ok {
			k.violate("broker epochs are unique: brokers %d and %d were both acknowledged with epoch %d", other.BrokerID, r.BrokerID, r.Epoch)
		}
		byEpoch[r.Epoch] = r
		if prev, ok := latest[r.BrokerID]; ok && prev.Epoch >= r.Epoch {
			k.violate("a broker's epochs grow: broker %d was acknowledged epoch %d at %dms, then epoch %d at %dms",
				r.BrokerID, prev.Epoch, prev.AckNs/1e6, r.Epoch, r.AckNs/1e6)
		}
		latest[r.BrokerID] = r
	}
	for _, n := range nodes {
		if !n.Up() {
			continue
		}
		img, applied := n.controllerNode().Image()
		for _, r := range h.Registrations {
			b, ok := img.Broker(r.BrokerID)
			switch {
			case !ok:
				k.violate("committed entries are never lost: broker %d registered with epoch %d (acknowledged at %dms) is not in node %d's image at %d",
					r.BrokerID, r.Epoch, r.AckNs/1e6, n.ID(), applied)
			case b.Epoch < r.Epoch || b.Epoch == r.Epoch && b.IncarnationID != metadata.UUID(r.Incarnation):
				k.violate("committed entries are never lost: broker %d registered with epoch %d (acknowledged at %dms) has epoch %d in node %d's image at %d",
					r.BrokerID, r.Epoch, r.AckNs/1e6, b.Epoch, n.ID(), applied)
			}
		}
	}
}

// checkProducerIDs: acknowledged producer id blocks never overlap (each id belongs to one
// broker), and every node's committed image hands out ids only above every acknowledged block.
func (k *quorumChecker) checkProducerIDs(nodes []quorumMember, h *QuorumHistory) {
	blocks := slices.Clone(h.ProducerIDs)
	slices.SortFunc(blocks, func(a, b AckedProducerIDs) int { return cmp.Compare(a.Start, b.Start) })
	for i := 1; i < len(blocks); i++ {
		if prev := blocks[i-1]; prev.Start+prev.Len > blocks[i].Start {
			k.violate("producer id blocks are unique: broker %d got [%d, %d) at %dms and broker %d got [%d, %d) at %dms",
				prev.BrokerID, prev.Start, prev.Start+prev.Len, prev.AckNs/1e6, blocks[i].BrokerID, blocks[i].Start, blocks[i].Start+blocks[i].Len, blocks[i].AckNs/1e6)
		}
	}
	if len(blocks) == 0 {
		return
	}
	last := blocks[len(blocks)-1]
	for _, n := range nodes {
		if !n.Up() {
			continue
		}
		img, applied := n.controllerNode().Image()
		if next := img.NextProducerID(); next < last.Start+last.Len {
			k.violate("committed entries are never lost: producer ids [%d, %d) acknowledged at %dms, but node %d's image at %d hands out from %d",
				last.Start, last.Start+last.Len, last.AckNs/1e6, n.ID(), applied, next)
		}
	}
}
