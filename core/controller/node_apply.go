package controller

import (
	"fmt"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
)

// applyEntriesMax bounds the entries read from the log per step of applyCommitted.
const applyEntriesMax = 1024

// applyCommitted replays the records the high watermark has passed into the committed image.
// A follower whose log now starts past what it applied (it installed the leader's snapshot)
// restarts its image from that snapshot. It reports whether anything was applied.
func (n *Node) applyCommitted() bool {
	hw := n.q.HighWatermark()
	moved := false
	if start := n.log.Start(); n.applied < start.EndOffset {
		sid := metadata.SnapshotID{EndOffset: start.EndOffset, Epoch: start.Epoch}
		img, _, err := n.log.LoadSnapshot(sid)
		if err != nil {
			n.fail(fmt.Errorf("controller: node %d: restart the image at the log start: %w", n.cfg.Quorum.ID, err))
			return false
		}
		n.image, n.applied = img, start.EndOffset
		n.snapshots.lastEnd = max(n.snapshots.lastEnd, start.EndOffset)
		moved = true
	}
	var records []metadata.Record
	for n.applied < hw {
		entries, err := n.log.Read(n.applied, int(min(int64(applyEntriesMax), int64(hw-n.applied))))
		if err != nil {
			n.fail(fmt.Errorf("controller: node %d: read committed entries at %d: %w", n.cfg.Quorum.ID, n.applied, err))
			return moved
		}
		if len(entries) == 0 {
			panic(fmt.Sprintf("controller: invariant: the quorum log returned no entry at %d below the high watermark %d", n.applied, hw))
		}
		records = records[:0]
		for i := range entries {
			if n.applied+record.Offset(i) >= hw {
				entries = entries[:i]
				break
			}
			if entries[i].Control {
				continue
			}
			r, err := metadata.DecodeRecord(entries[i].Data)
			if err != nil {
				n.fail(fmt.Errorf("controller: node %d: committed entry %d: %w", n.cfg.Quorum.ID, n.applied+record.Offset(i), err))
				return moved
			}
			records = append(records, r)
			n.snapshots.bytesSince += int64(len(entries[i].Data))
		}
		img, err := n.image.Apply(records)
		if err != nil {
			// Committed records every node replays identically: one that does not replay is a
			// controller bug or a corrupt log, and no image can be trusted after it.
			n.fail(fmt.Errorf("controller: node %d: replay committed entries [%d, %d): %w", n.cfg.Quorum.ID, n.applied, n.applied+record.Offset(len(entries)), err))
			return moved
		}
		n.image = img
		n.applied += record.Offset(len(entries))
		moved = true
	}
	return moved
}
