package broker

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/weirdata/weir/core/storage"
)

// Flush policy. By default Weir acknowledges acks=1/-1 produces only after an fsync covering
// them, and a consumer sees only synced records: the high watermark is the durable offset.
// A topic that sets flush.messages or flush.ms (as an override, or through
// log.flush.interval.messages / log.flush.interval.ms / log.flush.scheduler.interval.ms in
// server.properties) asks for Kafka's behaviour instead: produces are acknowledged after the
// page-cache write, consumers see everything appended (high watermark = log end), and the log
// is fsynced once flush.messages records are unflushed or flush.ms after its last flush.

// relaxedTopicKeys and relaxedBrokerKeys are the keys whose presence selects Kafka's flush behaviour.
var (
	relaxedTopicKeys  = []string{"flush.messages", "flush.ms"}
	relaxedBrokerKeys = []string{"log.flush.interval.messages", "log.flush.interval.ms", "log.flush.scheduler.interval.ms"}
)

// flushState is a relaxed log's flush bookkeeping.
type flushState struct {
	unflushedMessages int64
	lastFlushMs       int64 // monotonic time the last sync was issued (or the log was first seen)
}

// relaxedFlush reports whether a topic with these overrides uses Kafka's flush behaviour.
func (n *Node) relaxedFlush(overrides map[string]string) bool {
	for _, k := range relaxedTopicKeys {
		if _, ok := overrides[k]; ok {
			return true
		}
	}
	if n.cfg.Broker.Raw != nil {
		for _, k := range relaxedBrokerKeys {
			if _, ok := n.cfg.Broker.Raw.Get(k); ok {
				return true
			}
		}
	}
	return false
}

// flushFor returns tp's flush state, creating it.
func (n *Node) flushFor(tp storage.TopicPartition) *flushState {
	fs, ok := n.flushes[tp]
	if !ok {
		fs = &flushState{lastFlushMs: n.now.MonotonicMs}
		n.flushes[tp] = fs
	}
	return fs
}

// flushDue reports whether a relaxed log should be synced now.
func (n *Node) flushDue(ts *topicState, tp storage.TopicPartition) bool {
	fs := n.flushFor(tp)
	if fs.unflushedMessages >= ts.cfg.FlushMessages {
		return true
	}
	return fs.unflushedMessages > 0 && ts.cfg.FlushMs < math.MaxInt64-fs.lastFlushMs &&
		n.now.MonotonicMs >= fs.lastFlushMs+ts.cfg.FlushMs
}

// partitionSyncs issues the sync of every dirty log that wants one: at once for the default
// policy (group commit: one in flight per log, later appends ride the next), when its flush
// is due for a relaxed topic.
func (n *Node) partitionSyncs() {
	tps := n.syncScratch[:0]
	if n.syncCheckAll {
		tps = append(tps, n.logs.Partitions()...)
	} else {
		//purity:allow-map-range the candidates are sorted below
		for tp := range n.syncCandidates {
			tps = append(tps, tp)
		}
		slices.SortFunc(tps, compareTopicPartitions)
	}
	n.syncCheckAll = false
	clear(n.syncCandidates)
	n.syncScratch = tps
	for _, tp := range tps {
		ts, ok := n.topics[tp.Topic]
		relaxed := ok && ts.relaxed
		if relaxed && !n.flushDue(ts, tp) {
			continue
		}
		if ps, ok := n.logs.PendingSync(tp); ok {
			n.addSync(pendingSync{partition: ps, req: ps.Request})
			if relaxed {
				fs := n.flushFor(tp)
				fs.unflushedMessages, fs.lastFlushMs = 0, n.now.MonotonicMs
			}
		}
	}
}

// compareTopicPartitions orders partitions by topic, then partition.
func compareTopicPartitions(a, b storage.TopicPartition) int {
	return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// mayNeedSync makes tp a candidate for a sync at the next ready().
func (n *Node) mayNeedSync(tp storage.TopicPartition) {
	n.syncCandidates[tp] = struct{}{}
}

// nextFlushMs is the earliest flush.ms deadline of a relaxed log with unflushed records.
func (n *Node) nextFlushMs() int64 {
	var next int64
	//purity:allow-map-range the minimum does not depend on the order
	for tp, fs := range n.flushes {
		ts, ok := n.topics[tp.Topic]
		if !ok || !ts.relaxed || fs.unflushedMessages == 0 || ts.cfg.FlushMs >= math.MaxInt64-fs.lastFlushMs {
			continue
		}
		if d := fs.lastFlushMs + ts.cfg.FlushMs; next == 0 || d < next {
			next = d
		}
	}
	return next
}
