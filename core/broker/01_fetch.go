package broker

// Fetch, versions 4-16.
//
// Behaviour: each partition is read up to its high watermark, which on a single node is the
// log's durable offset: nothing unsynced is ever visible, so a consumer never sees a record
// a crash could take back. The answer is read plans (log.Read) the driver executes outside
// the loop. MaxBytes bounds the whole answer and PartitionMaxBytes each partition, except
// that the first partition with data gets at least one whole batch (KIP-74). A fetch offset
// outside [log start, log end] is OFFSET_OUT_OF_RANGE; one between the high watermark and the
// log end reads nothing yet. v13+ names topics by id: an unknown id is UNKNOWN_TOPIC_ID. The
// current leader epoch, when given, must be the partition's (FENCED_LEADER_EPOCH below,
// UNKNOWN_LEADER_EPOCH above). The last stable offset is the high watermark (no transactions).
//
// Long poll: when fewer than MinBytes are available and no partition has an error, the fetch
// waits up to MaxWaitMillis (capped by cfg.FetchWaitMsMax), re-evaluated whenever a log's
// durable offset advances, and answered with what there is at its deadline. Parked fetches
// are bounded by cfg.WaitingRequestsMax; past it a fetch is answered at once. Once the Node
// drains for shutdown (Drain) nothing parks: a clean stop never waits out a long poll.
//
// Sessions are declined (KIP-227 allows it): session id 0 in every answer, so clients send
// full fetches; a session id we never gave is FETCH_SESSION_ID_NOT_FOUND, a session epoch
// above 0 without one INVALID_FETCH_SESSION_EPOCH.
//
// Replication (replication.go): a fetch from a broker (ReplicaID, or ReplicaState from v15) is a
// follower's. It reads up to the log end, not the high watermark. Its last fetched epoch is
// checked against this leader's epochs first: a follower whose log diverged gets the diverging
// epoch and its end offset (and no records) and truncates; a fetch that passes tells the
// leader, once, that the follower durably has every record below its fetch offset, which may
// move the high watermark and the ISR. A consumer fetch from a leader whose high watermark
// has not yet reached its epoch start is OFFSET_NOT_AVAILABLE (the high watermark it could
// show might be below one an earlier leader showed; clients retry).
//
// Replication throttling (replication_quota.go): while the leader quota is exceeded, a
// follower not in the ISR gets no records for a partition throttled on this leader (its
// offsets and errors as usual); such a partition does not count toward the fetch's MinBytes,
// so a parked fetch waits on. The bytes an answer to a follower carries for throttled
// partitions (in sync or not) are recorded as it goes out: record bytes only, not the
// response's framing.
//
// Left out: preferred read replicas (KIP-392), aborted transactions, client quotas
// (throttle_time_ms is always 0), down-conversion (there is none: v4+ only).

import (
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/core/uuid"
)

const (
	errFetchSessionIDNotFound   int16 = 70
	errInvalidFetchSessionEpoch int16 = 71
	errFencedLeaderEpoch        int16 = 74
	errUnknownLeaderEpoch       int16 = 75
	fetchSessionEpochFinal      int32 = -1
	fetchSessionEpochInitial    int32 = 0
)

// fetchWait is a long-polling fetch.
type fetchWait struct {
	conn       ConnID
	slot       *slot
	req        *kmsg.FetchRequest
	deadlineMs int64
	// partitions are the partitions the fetch reads, resolved when it parked: only a durable
	// advance on one of them can change its answer.
	partitions []storage.TopicPartition
}

func (w *fetchWait) connID() ConnID { return w.conn }

func (n *Node) handleFetch(cs *conn, s *slot, req *kmsg.FetchRequest) {
	if req.SessionID != 0 || req.SessionEpoch > fetchSessionEpochInitial {
		resp := kmsg.NewPtrFetchResponse()
		resp.ErrorCode = errInvalidFetchSessionEpoch
		if req.SessionID != 0 {
			resp.ErrorCode = errFetchSessionIDNotFound
		}
		n.finish(cs, s, resp, nil)
		return
	}
	if id, epoch := fetchReplica(req); id >= 0 {
		n.noteFollowerFetch(req, id, epoch)
	}
	resp, reads, sizeBytes, throttledBytes, hasError := n.evaluateFetch(req)
	waitMs := min(req.MaxWaitMillis, n.cfg.FetchWaitMsMax)
	if hasError || sizeBytes >= int64(req.MinBytes) || waitMs <= 0 || n.draining || n.waitingCount >= n.cfg.WaitingRequestsMax {
		n.finishFetch(cs, s, req, resp, reads, throttledBytes)
		return
	}
	n.waitingCount++
	n.fetchWaits = append(n.fetchWaits, &fetchWait{
		conn: cs.id, slot: s, req: req, deadlineMs: n.now.MonotonicMs + int64(waitMs),
		partitions: n.fetchPartitions(req),
	})
}

// fetchPartitions resolves the partitions a fetch names (by id from v13).
func (n *Node) fetchPartitions(req *kmsg.FetchRequest) []storage.TopicPartition {
	img := n.img
	var tps []storage.TopicPartition
	for _, rt := range req.Topics {
		name := rt.Topic
		if req.Version >= 13 {
			if mt, ok := img.TopicByID(uuid.UUID(rt.TopicID)); ok {
				name = mt.Name
			}
		}
		for _, rp := range rt.Partitions {
			tps = append(tps, storage.TopicPartition{Topic: name, Partition: rp.Partition})
		}
	}
	return tps
}

// finishFetch sends a fetch's answer; for a follower's, the bytes of its partitions throttled
// here count toward the leader quota.
func (n *Node) finishFetch(cs *conn, s *slot, req *kmsg.FetchRequest, resp *kmsg.FetchResponse, reads []PartitionRead, throttledBytes int64) {
	if id, _ := fetchReplica(req); id >= 0 {
		n.recordLeaderThrottled(throttledBytes)
	}
	n.finish(cs, s, resp, reads)
}

// evaluateFetch builds the answer a fetch would get now: the response with every partition's
// offsets and errors, the read plans, their total size, the part of it for partitions under
// the leader throttle here (a follower's fetch only) and whether a partition failed.
func (n *Node) evaluateFetch(req *kmsg.FetchRequest) (*kmsg.FetchResponse, []PartitionRead, int64, int64, bool) {
	resp := kmsg.NewPtrFetchResponse()
	img := n.img
	remainingBytes := int64(req.MaxBytes) // v3+; the Node serves v4+
	follower, _ := fetchReplica(req)
	var reads []PartitionRead
	var totalBytes, throttledBytes int64
	hasError := false
	for ti, rt := range req.Topics {
		t := kmsg.NewFetchResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		name := rt.Topic
		topicCode := errNone
		if req.Version >= 13 {
			if mt, ok := img.TopicByID(uuid.UUID(rt.TopicID)); ok {
				name = mt.Name
			} else {
				topicCode = errUnknownTopicID
			}
		}
		for pi, rp := range rt.Partitions {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition = rp.Partition
			code, plan := n.fetchPartition(img, name, topicCode, follower, &rp, &p, remainingBytes, totalBytes == 0)
			p.ErrorCode = code
			if code != errNone {
				hasError = true
			}
			if plan.SizeBytes > 0 {
				reads = append(reads, PartitionRead{TopicIndex: ti, PartitionIndex: pi, Plan: plan, Partition: storage.TopicPartition{Topic: name, Partition: rp.Partition}})
				totalBytes += plan.SizeBytes
				remainingBytes -= plan.SizeBytes
				if follower >= 0 && n.leaderThrottles(storage.TopicPartition{Topic: name, Partition: rp.Partition}) {
					throttledBytes += plan.SizeBytes
				}
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp, reads, totalBytes, throttledBytes, hasError
}

// fetchPartition fills one partition's offsets and plans its read; follower is the fetching
// broker, -1 for a client.
func (n *Node) fetchPartition(img *metadata.Image, name string, topicCode int16, follower int32, rp *kmsg.FetchRequestTopicPartition,
	p *kmsg.FetchResponseTopicPartition, remainingBytes int64, first bool) (int16, log.ReadPlan) {
	// Kafka's answer for a partition in error: offsets unknown.
	p.HighWatermark, p.LastStableOffset, p.LogStartOffset = -1, -1, -1
	if topicCode != errNone {
		return topicCode, log.ReadPlan{}
	}
	mt, ok := img.TopicByName(name)
	if !ok {
		return errUnknownTopicOrPartition, log.ReadPlan{}
	}
	if code := n.leaderCode(name, rp.Partition); code != errNone {
		return code, log.ReadPlan{}
	}
	mp, okPart := mt.Partition(rp.Partition)
	tp := storage.TopicPartition{Topic: name, Partition: rp.Partition}
	l, okLog := n.logs.GetLog(tp)
	if !okPart || !okLog {
		return errUnknownTopicOrPartition, log.ReadPlan{}
	}
	if rp.CurrentLeaderEpoch >= 0 {
		switch {
		case rp.CurrentLeaderEpoch < mp.LeaderEpoch:
			return errFencedLeaderEpoch, log.ReadPlan{}
		case rp.CurrentLeaderEpoch > mp.LeaderEpoch:
			return errUnknownLeaderEpoch, log.ReadPlan{}
		}
	}
	r, leads := n.leading(tp)
	if !leads {
		return errNotLeaderOrFollower, log.ReadPlan{}
	}
	if follower < 0 && !n.hwShown(r) {
		return errOffsetNotAvailable, log.ReadPlan{}
	}
	if follower >= 0 && !r.leader.IsReplica(follower) {
		return errNotLeaderOrFollower, log.ReadPlan{}
	}
	hw := n.highWatermark(tp, l)
	p.HighWatermark = int64(hw)
	p.LastStableOffset = int64(hw)
	p.LogStartOffset = int64(l.StartOffset())
	from := record.Offset(rp.FetchOffset)
	readTo := hw
	if follower >= 0 {
		if div, diverged := n.divergence(l, from, rp.LastFetchedEpoch); diverged {
			p.DivergingEpoch.Epoch, p.DivergingEpoch.EndOffset = int32(div.Epoch), int64(div.EndOffset)
			return errNone, log.ReadPlan{}
		}
		readTo = l.EndOffset()
	}
	if from < l.StartOffset() || from > l.EndOffset() {
		return errOffsetOutOfRange, log.ReadPlan{}
	}
	if follower >= 0 && n.leaderThrottled(r, follower) {
		return errNone, log.ReadPlan{} // the leader quota is spent: no records for now
	}
	if n.cfg.Buggify.Planted(buggify.BugServeAboveHW) {
		readTo = l.EndOffset() // planted bug: unsynced records served, hw still reported
	}
	if from >= readTo || (remainingBytes <= 0 && !first) {
		return errNone, log.ReadPlan{}
	}
	limit := max(min(int64(rp.PartitionMaxBytes), remainingBytes), 0)
	plan, err := l.Read(from, limit, readTo, first)
	switch {
	case err == nil:
		return errNone, plan
	case errors.Is(err, log.ErrOffsetOutOfRange):
		return errOffsetOutOfRange, log.ReadPlan{}
	case errors.Is(err, log.ErrCorruptLog):
		n.suspectDamage(tp, from)
		return errKafkaStorageError, log.ReadPlan{}
	default:
		return errKafkaStorageError, log.ReadPlan{}
	}
}

// wakeFetches answers the parked fetches reading tp that now have MinBytes or an error.
func (n *Node) wakeFetches(tp storage.TopicPartition) {
	kept := n.fetchWaits[:0]
	for _, w := range n.fetchWaits {
		if !slices.Contains(w.partitions, tp) {
			kept = append(kept, w)
			continue
		}
		resp, reads, sizeBytes, throttledBytes, hasError := n.evaluateFetch(w.req)
		if !hasError && sizeBytes < int64(w.req.MinBytes) && !n.cfg.Buggify.Fire("broker/fetch-wake-early") {
			kept = append(kept, w)
			continue
		}
		n.waitingCount--
		n.finishFetch(n.conns[w.conn], w.slot, w.req, resp, reads, throttledBytes)
	}
	clear(n.fetchWaits[len(kept):])
	n.fetchWaits = kept
}

// expireFetches answers the parked fetches whose max wait passed, with what there is.
func (n *Node) expireFetches() {
	kept := n.fetchWaits[:0]
	for _, w := range n.fetchWaits {
		if w.deadlineMs > n.now.MonotonicMs {
			kept = append(kept, w)
			continue
		}
		resp, reads, _, throttledBytes, _ := n.evaluateFetch(w.req)
		n.waitingCount--
		n.finishFetch(n.conns[w.conn], w.slot, w.req, resp, reads, throttledBytes)
	}
	clear(n.fetchWaits[len(kept):])
	n.fetchWaits = kept
}
