package broker

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/replica"
	"github.com/weirdata/weir/core/storage"
)

// The follower side of replication (Kafka's ReplicaFetcherThread, one per leader broker): a
// fetchSession fetches every partition this broker follows from one leader, one Fetch in
// flight at a time. It appends the leader's batches byte for byte, and sends the next fetch
// only once what it appended is durable: the fetch offset is then what this broker has
// durably, which is what the leader counts toward the high watermark. A diverged partition is
// truncated where the leader's answer says (replica.TruncationOffset) and fetched again. A
// partition under the follower replication throttle that is not caught up is left out of the
// fetch while the follower quota is exceeded (replication_quota.go); when that leaves nothing
// to fetch, the session backs off replica.fetch.backoff.ms, as Kafka's fetcher does.

// replicaFetchVersion is the Fetch version followers send: topic ids, ReplicaState with the
// broker epoch (KIP-903) and the last fetched epoch (KIP-320/KIP-595).
const replicaFetchVersion int16 = 15

// replicaRequestTimeoutMs bounds the wait for a fetch's answer (Kafka's
// replica.socket.timeout.ms, 30 s).
const replicaRequestTimeoutMs = 30_000

// fetchSession is the fetching of the partitions one leader broker leads.
type fetchSession struct {
	leader  int32
	corr    int32 // the fetch in flight; 0 none
	sentMs  int64
	retryMs int64 // no fetch before (after a failed one)
	parts   []fetchPart
}

// fetchPart is one partition of the fetch in flight, as it was asked for.
type fetchPart struct {
	tp          storage.TopicPartition
	leaderEpoch int32
	fetchOffset record.Offset
}

// fetchStep sends the next fetch of every session that may send one: none in flight, not
// backing off, and every partition it follows durable up to its log end.
func (n *Node) fetchStep() {
	self := n.cfg.Broker.NodeID
	byLeader := map[int32][]*partitionReplica{}
	var leaders []int32
	for _, tp := range n.sortedReplicas() {
		r := n.replicaStates[tp]
		if !r.following(self) {
			continue
		}
		if _, ok := byLeader[r.part.Leader]; !ok {
			leaders = append(leaders, r.part.Leader)
		}
		byLeader[r.part.Leader] = append(byLeader[r.part.Leader], r)
	}
	slices.Sort(leaders)
	// Sessions of brokers that lead nothing here any more end.
	n.fetchers = slices.DeleteFunc(n.fetchers, func(s *fetchSession) bool {
		if _, ok := byLeader[s.leader]; ok {
			return false
		}
		if s.corr != 0 {
			delete(n.peerWaits, s.corr)
		}
		return true
	})
	for _, leader := range leaders {
		s := n.fetchSessionFor(leader)
		if s.corr != 0 {
			if n.now.MonotonicMs < s.sentMs+replicaRequestTimeoutMs {
				continue
			}
			delete(n.peerWaits, s.corr) // lost: fetch again
			s.corr = 0
		}
		if n.now.MonotonicMs < s.retryMs {
			continue
		}
		n.sendFetch(s, byLeader[leader])
	}
}

func (n *Node) fetchSessionFor(leader int32) *fetchSession {
	for _, s := range n.fetchers {
		if s.leader == leader {
			return s
		}
	}
	s := &fetchSession{leader: leader}
	n.fetchers = append(n.fetchers, s)
	slices.SortFunc(n.fetchers, func(a, b *fetchSession) int { return int(a.leader) - int(b.leader) })
	return s
}

// brokerAddr is the host:port of broker id's inter-broker listener, from its registration.
func (n *Node) brokerAddr(id int32) (string, bool) {
	b, ok := n.img.Broker(id)
	if !ok || len(b.EndPoints) == 0 {
		return "", false
	}
	e := b.EndPoints[0]
	for _, ep := range b.EndPoints {
		if ep.Name == n.cfg.Broker.InterBrokerListenerName {
			e = ep
			break
		}
	}
	host := e.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // an IPv6 literal, as net.JoinHostPort writes it
	}
	return host + ":" + strconv.Itoa(int(e.Port)), true
}

// sendFetch sends session s's next fetch over parts, unless one of them still has appended
// records to sync (the fetch offset must be durable) or none is ready.
func (n *Node) sendFetch(s *fetchSession, parts []*partitionReplica) {
	addr, ok := n.brokerAddr(s.leader)
	if !ok {
		return // the image will say where it is
	}
	bc := &n.cfg.Broker.Replication
	req := kmsg.NewPtrFetchRequest()
	req.Version = replicaFetchVersion
	req.ReplicaID = -1
	req.ReplicaState.ID, req.ReplicaState.Epoch = n.cfg.Broker.NodeID, n.life.epoch
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = bc.FetchWaitMaxMs, bc.FetchMinBytes, bc.FetchResponseMaxBytes
	req.SessionID, req.SessionEpoch = 0, fetchSessionEpochFinal
	var asked []fetchPart
	throttled := false
	for _, r := range parts {
		l, ok := n.logs.GetLog(r.tp)
		if !ok {
			continue
		}
		if l.DurableOffset() < l.EndOffset() && !n.relaxed(r.tp) {
			return // its appends are syncing: the next fetch waits for them
		}
		if n.now.MonotonicMs < r.fetchRetryMs {
			continue
		}
		if n.followerThrottled(r) {
			throttled = true // the follower quota is spent: not fetched for now
			continue
		}
		last := int32(-1)
		if e, ok := l.LatestEpoch(); ok {
			last = int32(e)
		}
		p := kmsg.NewFetchRequestTopicPartition()
		p.Partition, p.CurrentLeaderEpoch = r.tp.Partition, r.part.LeaderEpoch
		p.FetchOffset, p.LastFetchedEpoch = int64(l.EndOffset()), last
		p.LogStartOffset, p.PartitionMaxBytes = int64(l.StartOffset()), bc.FetchMaxBytes
		if len(req.Topics) == 0 || req.Topics[len(req.Topics)-1].Topic != r.tp.Topic {
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = r.tp.Topic, r.topicID
			req.Topics = append(req.Topics, t)
		}
		t := &req.Topics[len(req.Topics)-1]
		t.Partitions = append(t.Partitions, p)
		asked = append(asked, fetchPart{tp: r.tp, leaderEpoch: r.part.LeaderEpoch, fetchOffset: l.EndOffset()})
	}
	if len(asked) == 0 {
		if throttled {
			// Kafka's fetcher backs off when every partition is held back.
			s.retryMs = n.now.MonotonicMs + max(int64(bc.FetchBackoffMs), 1)
		}
		return
	}
	n.nextCorrelation++
	if n.nextCorrelation <= 0 {
		n.nextCorrelation = 1
	}
	s.corr, s.sentMs, s.parts = n.nextCorrelation, n.now.MonotonicMs, asked
	n.peerWaits[s.corr] = peerWait{fetch: s}
	n.out.Sends = append(n.out.Sends, PeerSend{To: s.leader, CorrelationID: s.corr, Request: req, Broker: true, Addr: addr})
}

// fetchAnswered takes a leader's answer to session s's fetch (or the failure to get one).
func (n *Node) fetchAnswered(s *fetchSession, resp kmsg.Response, err error) {
	s.corr = 0
	parts := s.parts
	s.parts = nil
	backoff := n.now.MonotonicMs + int64(n.cfg.Broker.Replication.FetchBackoffMs)
	fr, ok := resp.(*kmsg.FetchResponse)
	if err != nil || !ok || fr.ErrorCode != errNone {
		s.retryMs = backoff
		return
	}
	for _, rt := range fr.Topics {
		t, ok := n.img.TopicByID(metadata.UUID(rt.TopicID))
		if !ok {
			continue
		}
		for i := range rt.Partitions {
			rp := &rt.Partitions[i]
			tp := storage.TopicPartition{Topic: t.Name, Partition: rp.Partition}
			k := slices.IndexFunc(parts, func(p fetchPart) bool { return p.tp == tp })
			if k < 0 {
				continue
			}
			n.fetchedPartition(s.leader, parts[k], rp, backoff)
			if n.fatal != nil {
				return
			}
		}
	}
}

// fetchedPartition applies one partition of a leader's fetch answer, if this broker still
// follows that leader at the epoch it asked with and its log did not move meanwhile.
func (n *Node) fetchedPartition(leader int32, asked fetchPart, rp *kmsg.FetchResponseTopicPartition, backoffMs int64) {
	r, ok := n.replicaStates[asked.tp]
	if !ok || !r.following(n.cfg.Broker.NodeID) || r.part.Leader != leader || r.part.LeaderEpoch != asked.leaderEpoch {
		return
	}
	l, ok := n.logs.GetLog(asked.tp)
	if !ok || l.EndOffset() != asked.fetchOffset {
		return
	}
	switch rp.ErrorCode {
	case errNone:
	case errOffsetOutOfRange:
		n.fetchOutOfRange(r, l, rp)
		return
	default:
		// NOT_LEADER_OR_FOLLOWER, FENCED/UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC...: the leader's
		// image and ours differ for now.
		r.fetchRetryMs = backoffMs
		return
	}
	if rp.DivergingEpoch.EndOffset >= 0 {
		div := replica.EpochEnd{Epoch: record.Epoch(rp.DivergingEpoch.Epoch), EndOffset: record.Offset(rp.DivergingEpoch.EndOffset)}
		to := replica.TruncationOffset(l.EpochEntries(), l.EndOffset(), div)
		if n.cfg.Buggify.Planted(buggify.BugTruncateIgnoresOwnEpochs) {
			to = min(div.EndOffset, l.EndOffset()) // planted bug: Kafka before KIP-279
		}
		n.truncateReplica(r, l, to)
		return
	}
	if err := n.appendFetched(r, l, rp.RecordBatches); err != nil {
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: replicating %s from broker %d: %w", r.tp, leader, err))
		r.fetchRetryMs = backoffMs
	} else {
		n.recordFollowerFetched(r, int64(l.EndOffset()), rp.HighWatermark, int64(len(rp.RecordBatches)))
	}
	if rp.HighWatermark >= 0 {
		r.followerHW = min(record.Offset(rp.HighWatermark), l.EndOffset())
	}
	if lso := record.Offset(rp.LogStartOffset); lso > l.StartOffset() && lso <= r.followerHW {
		// DeleteRecords and retention on the leader move this replica's start too.
		n.mayNeedSync(r.tp)
		if err := l.DeleteRecordsBefore(lso); err != nil {
			n.fail(fmt.Errorf("broker: moving the log start of %s to %d: %w", r.tp, lso, err))
		}
	}
}

// appendFetched appends the leader's batches past this log's end, byte for byte, and records
// them in the producer state (the idempotence state replicated with the log). A batch that
// is cut short ends the data (the fetch's byte limit); a bad one is an error (nothing after
// it is appended: the next fetch asks again).
func (n *Node) appendFetched(r *partitionReplica, l *log.Log, data []byte) error {
	st, err := n.producerState(r.tp, l)
	if err != nil {
		n.fail(err)
		return err
	}
	for len(data) >= record.LogOverheadBytes {
		h, err := record.ParseHeader(data)
		if err != nil {
			return fmt.Errorf("a batch at offset %d: %w", l.EndOffset(), err)
		}
		size := h.SizeBytes()
		if size > int64(len(data)) {
			break // cut at the fetch's byte limit
		}
		batch := data[:size]
		data = data[size:]
		if h.LastOffset() < l.EndOffset() {
			continue
		}
		if h.BaseOffset < l.EndOffset() {
			return fmt.Errorf("a batch at [%d, %d] overlaps the log end %d", h.BaseOffset, h.LastOffset(), l.EndOffset())
		}
		segments := l.SegmentCount()
		n.mayNeedSync(r.tp)
		if _, err := l.Append(batch, log.AppendOptions{NowMs: n.now.WallMs}); err != nil {
			if errors.Is(err, log.ErrInvalidBatch) || errors.Is(err, log.ErrBatchTooLarge) || errors.Is(err, log.ErrNonMonotonicOffset) {
				return err
			}
			n.fail(fmt.Errorf("broker: append to %s: %w", r.tp, err))
			return err
		}
		if l.SegmentCount() > segments {
			n.snapshotProducerState(r.tp, l, st)
		}
		if !n.cfg.Buggify.Planted(buggify.BugFollowerSkipsProducerState) {
			st.ReplayBatch(h)
		}
	}
	return nil
}

// truncateReplica cuts a follower's log at offset to (below its start: the log starts over
// there) and rebuilds its producer state.
func (n *Node) truncateReplica(r *partitionReplica, l *log.Log, to record.Offset) {
	if to >= l.EndOffset() {
		// No record goes, but an epoch this broker started as leader at its log end and never
		// wrote in does: the leader found it diverged there.
		if err := l.TruncateTo(to); err != nil {
			n.fail(fmt.Errorf("broker: truncating %s to %d: %w", r.tp, to, err))
		}
		return
	}
	n.mayNeedSync(r.tp)
	var err error
	if to < l.StartOffset() {
		err = l.TruncateFullyAndStartAt(to)
	} else {
		err = l.TruncateTo(to)
	}
	if err != nil {
		n.fail(fmt.Errorf("broker: truncating %s to %d: %w", r.tp, to, err))
		return
	}
	r.followerHW = min(r.followerHW, l.EndOffset())
	delete(n.producers, r.tp)
	if _, err := n.loadProducerState(r.tp, l); err != nil {
		n.fail(err)
	}
}

// fetchOutOfRange handles a fetch offset the leader does not have (Kafka's
// handleOutOfRangeError): below the leader's log start, the log starts over at it; past the
// leader's end (a log without epochs to check), it is cut back to the high watermark (and
// starts over there when it starts past it).
func (n *Node) fetchOutOfRange(r *partitionReplica, l *log.Log, rp *kmsg.FetchResponseTopicPartition) {
	lso, hw := record.Offset(rp.LogStartOffset), record.Offset(rp.HighWatermark)
	switch {
	case lso >= 0 && l.EndOffset() < lso:
		n.mayNeedSync(r.tp)
		if err := l.TruncateFullyAndStartAt(lso); err != nil {
			n.fail(fmt.Errorf("broker: starting %s over at %d: %w", r.tp, lso, err))
			return
		}
		r.followerHW = lso
		delete(n.producers, r.tp)
		if _, err := n.loadProducerState(r.tp, l); err != nil {
			n.fail(err)
		}
	case hw >= 0 && l.EndOffset() > hw:
		// A log starting past the high watermark (retention took all it had) starts over at
		// it, as Kafka truncates to the leader's end even below its own log start: cutting
		// only to its own start would leave it fetching past the leader's end forever.
		n.truncateReplica(r, l, max(hw, lso))
	default:
		r.fetchRetryMs = n.now.MonotonicMs + int64(n.cfg.Broker.Replication.FetchBackoffMs)
	}
}

// fetchDeadlineMs is the earliest time a fetch session wants the timer.
func (n *Node) fetchDeadlineMs() int64 {
	var next int64
	consider := func(d int64) {
		if d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	for _, s := range n.fetchers {
		if s.corr != 0 {
			consider(s.sentMs + replicaRequestTimeoutMs)
		} else if s.retryMs > n.now.MonotonicMs {
			consider(s.retryMs)
		}
	}
	for _, tp := range n.sortedReplicas() {
		if r := n.replicaStates[tp]; r.fetchRetryMs > n.now.MonotonicMs {
			consider(r.fetchRetryMs)
		}
	}
	return next
}
