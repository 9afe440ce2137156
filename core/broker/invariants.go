package broker

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/weirdata/weir/core/storage"
)

// ErrInvariant is a broken Node invariant found by CheckInvariants.
var ErrInvariant = errors.New("broker: invariant broken")

// CheckInvariants verifies what must hold between any two events: every log's own invariants
// (log.CheckInvariants) and, per partition, log start ≤ high watermark ≤ log end; the metadata
// log's; the parked requests' count matches the queues, stays within its bound and names
// only open connections; at most one sync per partition is in flight (group commit). The
// simulator calls it after every event and fails the seed on an error; it costs a walk of
// every partition, so production never calls it.
func (n *Node) CheckInvariants() error {
	if n.fatal != nil {
		return nil // the page cache is not trusted: the driver is stopping the node
	}
	for _, tp := range n.logs.Partitions() {
		l, ok := n.logs.GetLog(tp)
		if !ok {
			continue
		}
		if err := l.CheckInvariants(); err != nil {
			return fmt.Errorf("%s: %w", tp, err)
		}
		start, hw, end := l.StartOffset(), n.highWatermark(tp, l), l.EndOffset()
		if start > hw || hw > end {
			return fmt.Errorf("%w: %s: log start %d, high watermark %d, log end %d out of order", ErrInvariant, tp, start, hw, end)
		}
	}
	parked := len(n.fetchWaits) + len(n.produceWaits) + len(n.deleteRecordsWaits) + len(n.forwards)
	if parked != n.waitingCount || n.waitingCount > n.cfg.WaitingRequestsMax {
		return fmt.Errorf("%w: %d requests parked, counted %d, bound %d", ErrInvariant, parked, n.waitingCount, n.cfg.WaitingRequestsMax)
	}
	if err := parkedOfClosed(n, n.fetchWaits); err != nil {
		return err
	}
	if err := parkedOfClosed(n, n.produceWaits); err != nil {
		return err
	}
	if err := parkedOfClosed(n, n.deleteRecordsWaits); err != nil {
		return err
	}
	if err := parkedOfClosed(n, n.forwards); err != nil {
		return err
	}
	inFlight := map[storage.TopicPartition]int{}
	over := false
	//purity:allow-map-range counting only
	for _, ps := range n.syncs {
		inFlight[ps.partition.TopicPartition]++
		over = over || inFlight[ps.partition.TopicPartition] > 1
	}
	if !over {
		return nil // the sort below only picks which partition to report (the driver checks after every event)
	}
	for _, tp := range slices.SortedFunc(maps.Keys(inFlight), compareTopicPartitions) {
		if inFlight[tp] > 1 {
			return fmt.Errorf("%w: %s has %d syncs in flight", ErrInvariant, tp, inFlight[tp])
		}
	}
	return nil
}

// parkedOfClosed reports the first of the parked requests waits whose connection is closed.
func parkedOfClosed[W interface{ connID() ConnID }](n *Node, waits []W) error {
	for _, w := range waits {
		if c := w.connID(); c != noConn {
			if _, ok := n.conns[c]; !ok {
				return fmt.Errorf("%w: a request of closed connection %d is parked", ErrInvariant, c)
			}
		}
	}
	return nil
}
