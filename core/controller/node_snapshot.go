package controller

import (
	"fmt"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
)

// snapshotState is the bookkeeping of the snapshots this node takes of its committed image.
type snapshotState struct {
	lastEnd    record.Offset // end offset of the newest snapshot taken or loaded
	lastMs     int64         // monotonic time of the newest snapshot taken (or of the start)
	bytesSince int64         // record bytes applied since
	inFlight   *metadata.SnapshotWrite
}

// maybeSnapshot starts a snapshot of the committed image when enough was applied since the
// last (metadata.log.max.record.bytes.between.snapshots) or enough time passed with something
// new (metadata.log.max.snapshot.interval.ms), as Kafka's snapshot generator does.
func (n *Node) maybeSnapshot() {
	s := &n.snapshots
	if s.inFlight != nil || n.fatal != nil || n.applied <= s.lastEnd {
		return
	}
	due := s.bytesSince >= n.cfg.SnapshotBytesBetween ||
		n.cfg.SnapshotIntervalMs > 0 && n.now.MonotonicMs >= s.lastMs+n.cfg.SnapshotIntervalMs
	if !due {
		return
	}
	w, err := n.log.PrepareSnapshot(n.image, n.applied, n.now.WallMs)
	if err != nil {
		n.fail(fmt.Errorf("controller: node %d: %w", n.cfg.Quorum.ID, err))
		return
	}
	s.inFlight, s.bytesSince, s.lastMs = w, 0, n.now.MonotonicMs
	n.out.Snapshot = w
}

// SnapshotWritten reports the outcome of a Ready's Snapshot. A written snapshot is recorded,
// and the log is cut below the snapshot before it: the log keeps the records between the two
// newest snapshots, so a follower one snapshot interval behind still fetches records rather
// than a whole snapshot. A failed write is logged and tried again later.
func (n *Node) SnapshotWritten(now Clocks, w *metadata.SnapshotWrite, err error) Ready {
	if n.snapshots.inFlight != w {
		panic(fmt.Sprintf("controller: invariant: SnapshotWritten for %s, not the snapshot in flight", w.ID))
	}
	n.snapshots.inFlight = nil
	if !n.begin(now) {
		return n.ready()
	}
	if err != nil {
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("controller: snapshot %s: %w", w.ID, err))
		return n.ready()
	}
	if w.ID.EndOffset < n.log.Start().EndOffset {
		// A newer snapshot from the leader was installed meanwhile: this one is not needed.
		n.nextOpID++
		n.out.FileOps = append(n.out.FileOps, FileOp{ID: n.nextOpID, Ops: []log.FileOp{{Kind: log.FileOpRemove, Path: w.Path}}})
		return n.ready()
	}
	if err := n.log.RecordSnapshot(w.ID); err != nil {
		n.fail(fmt.Errorf("controller: node %d: %w", n.cfg.Quorum.ID, err))
		return n.ready()
	}
	n.snapshots.lastEnd = max(n.snapshots.lastEnd, w.ID.EndOffset)
	if snaps := n.log.Snapshots(); len(snaps) >= 2 {
		ops, err := n.log.DeleteBefore(snaps[len(snaps)-2], now.WallMs)
		if len(ops) > 0 {
			n.nextOpID++
			n.out.FileOps = append(n.out.FileOps, FileOp{ID: n.nextOpID, Ops: ops})
		}
		if err != nil {
			n.fail(fmt.Errorf("controller: node %d: %w", n.cfg.Quorum.ID, err))
		}
	}
	return n.ready()
}
