package broker

import (
	"fmt"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/storage"
)

// Housekeeping the Node schedules on the monotonic clock, as Kafka's log manager does:
//   - retention every log.retention.check.interval.ms: each log drops the oldest segments
//     that retention.ms / retention.bytes or a DeleteRecords allow to go, never one holding
//     records at or above the high watermark. Segments are renamed away inline; their unlinks
//     go to the driver as FileOps once file.delete.delay.ms has passed;
//   - offset checkpoints every cfg.CheckpointIntervalMs (Kafka's
//     log.flush.offset.checkpoint.interval.ms): recovery points and log start offsets, so a
//     restart scans little and keeps deleted records deleted;
//   - idle producers forgotten every producer.id.expiration.check.interval.ms (producers.go).
//
// Metadata snapshots are not the broker's: core/controller's Node takes them.

// housekeeping runs whatever is due and schedules the first passes.
func (n *Node) housekeeping() {
	now := n.now.MonotonicMs
	if interval := n.cfg.Broker.LogRetentionCheckIntervalMs; interval > 0 {
		switch {
		case n.retentionNextMs == 0:
			n.retentionNextMs = now + interval
		case now >= n.retentionNextMs || n.cfg.Buggify.Fire("broker/retention-now"):
			n.retentionNextMs = now + interval
			n.applyRetention()
		}
	}
	if interval := n.cfg.CheckpointIntervalMs; interval > 0 {
		switch {
		case n.checkpointNextMs == 0:
			n.checkpointNextMs = now + interval
		case now >= n.checkpointNextMs || n.cfg.Buggify.Fire("broker/checkpoint-now"):
			n.checkpointNextMs = now + interval
			n.out.Checkpoints = n.logs.Checkpoints()
		}
	}
	if interval := n.cfg.ProducerExpirationCheckIntervalMs; interval > 0 {
		switch {
		case n.expireNextMs == 0:
			n.expireNextMs = now + interval
		case now >= n.expireNextMs || n.cfg.Buggify.Fire("broker/producer-expire-now"):
			n.expireNextMs = now + interval
			n.expireProducers()
		}
	}
	n.releaseDeletes(now)
}

func (n *Node) applyRetention() {
	for _, tp := range n.logs.Partitions() {
		l, ok := n.logs.GetLog(tp)
		if !ok {
			continue
		}
		n.mayNeedSync(tp) // retention may roll the active segment
		ops, err := l.ApplyRetentionBelow(n.now.WallMs, n.highWatermark(tp, l))
		if err != nil {
			n.fail(fmt.Errorf("broker: retention of %s: %w", tp, err))
			return
		}
		if len(ops) > 0 {
			n.retainProducerSnapshots(tp, l)
		}
		n.deleteLater(tp, ops)
	}
}

// pendingDelete is one retention pass's unlinks of one partition, due at dueMs (monotonic).
type pendingDelete struct {
	dueMs int64
	ops   []log.FileOp
}

// deleteLater hands the unlinks of segments retention renamed to *.deleted to the driver once
// the topic's file.delete.delay.ms has passed, as Kafka's asyncDelete does: a fetch planned
// before the rename reads the renamed file meanwhile. A crash before then leaves the files to
// the next start's recovery, which removes *.deleted files.
func (n *Node) deleteLater(tp storage.TopicPartition, ops []log.FileOp) {
	if len(ops) == 0 {
		return
	}
	delayMs := n.cfg.Broker.LogSegmentDeleteDelayMs
	if t, ok := n.topics[tp.Topic]; ok {
		delayMs = t.cfg.FileDeleteDelayMs
	}
	if delayMs <= 0 {
		n.addFileOps(ops)
		return
	}
	n.pendingDeletes = append(n.pendingDeletes, pendingDelete{dueMs: n.now.MonotonicMs + delayMs, ops: ops})
}

// releaseDeletes hands the driver every pending delete due at nowMs, in the order retention
// made them.
func (n *Node) releaseDeletes(nowMs int64) {
	kept := n.pendingDeletes[:0]
	for _, d := range n.pendingDeletes {
		if d.dueMs <= nowMs {
			n.addFileOps(d.ops)
		} else {
			kept = append(kept, d)
		}
	}
	clear(n.pendingDeletes[len(kept):])
	n.pendingDeletes = kept
}
