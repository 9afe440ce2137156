package broker

// Idempotent-producer state of the partitions this node leads (core/producer), kept as Kafka's
// ProducerStateManager is: loaded when a log is opened or created (newest usable snapshot,
// then the log replayed past it), updated on every append, snapshotted at each segment roll
// and on clean shutdown, its old snapshots deleted with the segments retention removes, and
// its idle producers expired every producer.id.expiration.check.interval.ms.
//
// The Node never truncates a log yet (no follower divergence, no TruncateFullyAndStartAt);
// when it does, the state must be loaded again (loadProducerState) or Reset, as core/producer
// says.

import (
	"errors"
	"fmt"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/producer"
	"github.com/weirdata/weir/core/storage"
)

// loadProducerState builds tp's producer state from its snapshots and log (Load, then
// Rebuild). Load's repairs (corrupt or out-of-range snapshots deleted) and the damaged log
// Rebuild stepped over become warnings.
func (n *Node) loadProducerState(tp storage.TopicPartition, l *log.Log) (*producer.State, error) {
	st, res, err := producer.Load(n.cfg.FS, l.Dir(), n.cfg.Producer, l.StartOffset(), l.EndOffset(), n.now.WallMs)
	if err != nil {
		return nil, fmt.Errorf("broker: loading the producer state of %s: %w", tp, err)
	}
	for _, c := range res.Corrupt {
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: %s: deleted a producer snapshot: %w", tp, c))
	}
	if n.cfg.Buggify.Planted(buggify.BugLoseProducerState) {
		// Planted bug: the state starts empty, as if snapshots and the log replay were lost.
		if st, err = producer.NewState(n.cfg.Producer, l.EndOffset()); err != nil {
			return nil, err
		}
	} else {
		rebuilt, err := producer.Rebuild(n.cfg.FS, l, st)
		if err != nil {
			return nil, fmt.Errorf("broker: rebuilding the producer state of %s: %w", tp, err)
		}
		for _, sk := range rebuilt.Skipped {
			n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: %s: the producer state skipped damaged log offsets [%d, %d): %w", tp, sk.From, sk.To, sk.Err))
		}
		if more := rebuilt.SkippedCount - len(rebuilt.Skipped); more > 0 {
			n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: %s: the producer state skipped %d more damaged stretches of log", tp, more))
		}
	}
	n.producers[tp] = st
	return st, nil
}

// producerState returns tp's producer state, loading it if the log was opened without one.
func (n *Node) producerState(tp storage.TopicPartition, l *log.Log) (*producer.State, error) {
	if st, ok := n.producers[tp]; ok {
		return st, nil
	}
	return n.loadProducerState(tp, l)
}

// loadAllProducerStates loads the state of every open log (NewNode, after recovery).
func (n *Node) loadAllProducerStates() error {
	for _, tp := range n.logs.Partitions() {
		l, ok := n.logs.GetLog(tp)
		if !ok {
			continue
		}
		if _, err := n.loadProducerState(tp, l); err != nil {
			return err
		}
	}
	return nil
}

// snapshotProducerState writes st's snapshot into l's directory. Called at a segment roll,
// before the rolling batch is recorded, so the snapshot is named after the new segment's base
// offset as Kafka's. A failed write costs only a longer replay at the next start: a warning.
func (n *Node) snapshotProducerState(tp storage.TopicPartition, l *log.Log, st *producer.State) {
	if n.cfg.Buggify.Fire("broker/producer-snapshot-skip") {
		return // as if the write failed: recovery rebuilds the state from an older snapshot and the log
	}
	if _, err := st.WriteSnapshot(n.cfg.FS, l.Dir()); err != nil {
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: producer snapshot of %s: %w", tp, err))
	}
}

// retainProducerSnapshots removes the snapshots below l's start offset once retention moved
// it: their records are gone, and Load would drop them anyway. As in Kafka, a restart then
// forgets the producers whose every batch retention removed (Load drops a snapshot at or below
// the log start offset); they are accepted again at any sequence.
func (n *Node) retainProducerSnapshots(tp storage.TopicPartition, l *log.Log) {
	st, ok := n.producers[tp]
	if !ok {
		return // loaded with its snapshots when the partition is next written or opened
	}
	if err := st.DeleteSnapshotsBefore(n.cfg.FS, l.Dir(), l.StartOffset()); err != nil {
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: deleting old producer snapshots of %s: %w", tp, err))
	}
}

// expireProducers forgets, on every partition, the producers idle for producer.id.expiration.ms.
func (n *Node) expireProducers() {
	for _, tp := range n.logs.Partitions() {
		if st, ok := n.producers[tp]; ok {
			st.RemoveExpired(n.now.WallMs)
		}
	}
}

// WriteProducerSnapshots writes every partition's producer state as a snapshot, as Kafka does
// when it closes a log: the driver calls it on clean shutdown, after the last event and
// before closing the logs, so the next start replays nothing. Each write syncs inline.
func (n *Node) WriteProducerSnapshots() error {
	var errs []error
	for _, tp := range n.logs.Partitions() {
		st, okState := n.producers[tp]
		l, okLog := n.logs.GetLog(tp)
		if !okState || !okLog || st.EndOffset() != l.EndOffset() {
			continue // a state behind its log would name a snapshot wrongly
		}
		if _, err := st.WriteSnapshot(n.cfg.FS, l.Dir()); err != nil {
			errs = append(errs, fmt.Errorf("broker: producer snapshot of %s: %w", tp, err))
		}
	}
	return errors.Join(errs...)
}
