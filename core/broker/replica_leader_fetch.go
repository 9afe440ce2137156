package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/replica"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/core/uuid"
)

// fetchReplica is the broker a fetch comes from and its broker epoch (KIP-903: ReplicaState
// from v15, ReplicaID before, epoch unknown); id -1 for a client's fetch.
func fetchReplica(req *kmsg.FetchRequest) (id int32, brokerEpoch int64) {
	if req.Version >= 15 {
		return req.ReplicaState.ID, req.ReplicaState.Epoch
	}
	return req.ReplicaID, -1
}

// divergence checks a follower's fetch offset and last fetched epoch against this log.
func (n *Node) divergence(l *log.Log, fetchOffset record.Offset, lastFetchedEpoch int32) (replica.EpochEnd, bool) {
	if lastFetchedEpoch < 0 || n.cfg.Buggify.Planted(buggify.BugSkipDivergenceCheck) {
		return replica.EpochEnd{}, false
	}
	e, o, err := l.EndOffsetForEpoch(record.Epoch(lastFetchedEpoch))
	if err != nil {
		// A poisoned log: the fetch fails on its read instead.
		return replica.EpochEnd{}, false
	}
	return replica.Diverged(fetchOffset, record.Epoch(lastFetchedEpoch), replica.EpochEnd{Epoch: e, EndOffset: o})
}

// noteFollowerFetch records, once per fetch as it arrives, what broker id's fetch says of its
// log (its fetch offset and log start) for every partition this broker leads at the fetch's
// epoch, where the fetch passes the divergence check: then the high watermark, the ISR and
// the low watermark may change.
func (n *Node) noteFollowerFetch(req *kmsg.FetchRequest, id int32, brokerEpoch int64) {
	for _, rt := range req.Topics {
		name := rt.Topic
		if req.Version >= 13 {
			t, ok := n.img.TopicByID(uuid.UUID(rt.TopicID))
			if !ok {
				continue
			}
			name = t.Name
		}
		for _, rp := range rt.Partitions {
			tp := storage.TopicPartition{Topic: name, Partition: rp.Partition}
			r, ok := n.leading(tp)
			if !ok || (rp.CurrentLeaderEpoch >= 0 && rp.CurrentLeaderEpoch != r.part.LeaderEpoch) {
				continue
			}
			l, ok := n.logs.GetLog(tp)
			if !ok {
				continue
			}
			from := record.Offset(rp.FetchOffset)
			if _, diverged := n.divergence(l, from, rp.LastFetchedEpoch); diverged || from < l.StartOffset() || from > l.EndOffset() {
				continue
			}
			if !r.leader.FollowerFetched(id, brokerEpoch, from, record.Offset(rp.LogStartOffset), l.EndOffset(), n.now.MonotonicMs) {
				continue
			}
			n.hwMayAdvance(r, l)
			n.proposeISRChange(r, l)
			n.settleDeleteRecordsOn(tp) // the follower's log start may be what they wait for
		}
	}
}
