package broker

// Produce, versions 3-11 (0-2 are advertised, for librdkafka's compression check, and
// refused: the connection is closed, as Kafka 4 does since KAFKA-18659).
//
// Behaviour, in Kafka's order per partition: the batch checks of wire.ValidateProduce
// (CORRUPT_MESSAGE, INVALID_RECORD, UNSUPPORTED_COMPRESSION_TYPE); internal topics refuse
// client writes (INVALID_TOPIC_EXCEPTION); an unknown topic or partition is
// UNKNOWN_TOPIC_OR_PARTITION; a batch over the topic's max.message.bytes is MESSAGE_TOO_LARGE;
// CreateTime timestamps outside message.timestamp.before/after.max.ms are INVALID_TIMESTAMP;
// a keyless record on a compacted topic is INVALID_RECORD. Then the leader append assigns
// offsets and the leader epoch and, for message.timestamp.type=LogAppendTime, stamps the wall
// clock (log.Append). Acks must be 0, 1 or -1 (else INVALID_REQUIRED_ACKS).
//
// Durability and replication: acks=1 is answered once a sync covering the batch completed on
// this leader; acks=-1 once the high watermark passed the batch (replication.go: every ISR
// member has it durably), and only while the ISR has min.insync.replicas members:
// NOT_ENOUGH_REPLICAS before the append when it has fewer, NOT_ENOUGH_REPLICAS_AFTER_APPEND
// when it shrank below while the produce waited. Syncs are group commits: one per log in
// flight; appends made meanwhile ride the next. acks=-1 waits at most TimeoutMillis
// (REQUEST_TIMED_OUT after, the data stays), and is answered NOT_LEADER_OR_FOLLOWER if the
// leadership moves meanwhile; acks=1 waits for its sync. acks=0 gets no response; if any
// partition failed the connection is closed, as Kafka does, so the client notices. The
// response carries the base offset, the log append time (-1 for CreateTime) and the log
// start offset.
//
// A topic with Kafka's flush behaviour (flush.messages / flush.ms set, see flush.go) answers
// acks=1 right after the append instead, as Kafka does, and counts the leader's log end, not
// its durable offset, toward the high watermark.
//
// Idempotence (core/producer, producers.go): a batch with a producer id is judged against the
// partition's producer state before the append. A retry of one of the producer's last five
// batches is not appended again: it is answered NONE with the original base offset and, as
// Kafka's UnifiedLog.append does, the original batch's max timestamp as log_append_time —
// under acks=1/-1 only once the original is durable. An older epoch is
// INVALID_PRODUCER_EPOCH, a sequence gap (or a new epoch not starting at 0)
// OUT_OF_ORDER_SEQUENCE_NUMBER, a non-transactional batch inside an open transaction
// INVALID_TXN_STATE. A new producer id on a partition already holding the configured maximum
// of producers (Config.Producer.ProducersMax; Kafka has no bound) is
// THROTTLING_QUOTA_EXCEEDED: retriable, so the producer succeeds once idle producers expire.
// Every appended batch, with a producer id or not, is recorded in the state, and a segment
// roll writes the state's snapshot (inline, two syncs, as Kafka's roll does).
//
// Left out: transactions, throttling, record-level ErrorRecords, compression.type
// recompression (batches are stored as sent).

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/producer"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/core/wire"
)

// produceWait is a produce waiting for its partitions' syncs.
type produceWait struct {
	conn       ConnID
	slot       *slot
	resp       *kmsg.ProduceResponse
	parts      []producePending
	deadlineMs int64 // 0 = none (acks=1)
}

// producePending is one partition of a waiting produce.
type producePending struct {
	tp                         storage.TopicPartition
	upTo                       record.Offset // the offset that covers the batch: durable, or the high watermark
	needHW                     bool          // acks=-1: waits for the high watermark
	topicIndex, partitionIndex int
	done                       bool
}

func (w *produceWait) connID() ConnID { return w.conn }

func (n *Node) handleProduce(cs *conn, s *slot, req *kmsg.ProduceRequest) {
	if req.Version < 3 {
		s.closes = true
		n.finish(cs, s, nil, nil)
		return
	}
	resp := kmsg.NewPtrProduceResponse()
	for _, rt := range req.Topics {
		t := kmsg.NewProduceResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewProduceResponseTopicPartition()
			p.Partition = rp.Partition
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	failAll := func(code int16) {
		for ti := range resp.Topics {
			for pi := range resp.Topics[ti].Partitions {
				p := &resp.Topics[ti].Partitions[pi]
				p.ErrorCode, p.BaseOffset = code, -1
			}
		}
	}
	if req.Acks != 0 && req.Acks != 1 && req.Acks != -1 {
		failAll(errInvalidRequiredAcks)
		n.finish(cs, s, resp, nil)
		return
	}
	if req.Acks != 0 && n.waitingCount >= n.cfg.WaitingRequestsMax {
		// Nothing appended: the retriable answer costs no duplicate.
		failAll(errRequestTimedOut)
		n.finish(cs, s, resp, nil)
		return
	}
	n.produceScratch = wire.ValidateProduce(req, n.decompressor, n.produceScratch[:0])
	results := n.produceScratch
	var pending []producePending
	failed := false
	for i := range results {
		r := &results[i]
		out := &resp.Topics[r.TopicIndex].Partitions[r.PartitionIndex]
		res, l, code, err := n.appendPartition(r, req.Acks)
		if code != errNone {
			failed = true
			out.ErrorCode, out.BaseOffset = code, -1
			if err != nil {
				out.ErrorMessage = strp(err.Error())
			}
			continue
		}
		out.BaseOffset = int64(res.BaseOffset)
		out.LogStartOffset = int64(l.StartOffset())
		ts := n.topics[r.Topic]
		switch {
		case res.duplicate:
			out.LogAppendTime = res.duplicateTimestampMs
		case ts.logAppendTime:
			out.LogAppendTime = n.now.WallMs
		}
		tp := storage.TopicPartition{Topic: r.Topic, Partition: r.Partition}
		if !res.duplicate {
			if ts.relaxed {
				n.flushFor(tp).unflushedMessages += int64(r.Summary.Header.RecordCount)
			}
			// New records for followers' parked fetches (and, with Kafka's flush
			// behaviour, for the high watermark and consumers).
			n.appended(tp, l)
		}
		if n.cfg.Buggify.Planted(buggify.BugAckBeforeFsync) {
			continue // planted bug: answered before the sync covering the batch
		}
		if req.Acks == 1 && (ts.relaxed || l.DurableOffset() > res.LastOffset) {
			// Kafka's flush behaviour: acknowledged after the page-cache write; or a
			// duplicate whose original is already durable.
			continue
		}
		pending = append(pending, producePending{
			tp: tp, upTo: res.LastOffset + 1, needHW: req.Acks == -1, topicIndex: r.TopicIndex, partitionIndex: r.PartitionIndex,
		})
	}
	if req.Acks == 0 {
		s.closes = failed
		n.finish(cs, s, nil, nil)
		return
	}
	if len(pending) == 0 {
		n.finish(cs, s, resp, nil)
		return
	}
	w := &produceWait{conn: cs.id, slot: s, resp: resp, parts: pending}
	if req.Acks == -1 {
		w.deadlineMs = n.now.MonotonicMs + max(int64(req.TimeoutMillis), 0)
	}
	n.waitingCount++
	n.produceWaits = append(n.produceWaits, w)
	// A duplicate may be covered already.
	for _, p := range pending {
		n.settleProducesOn(p.tp)
	}
}

// appended is one partition's append: the batch's offsets, or for a retried duplicate the
// original's offsets and max timestamp.
type appended struct {
	log.AppendResult
	duplicate            bool
	duplicateTimestampMs int64
}

// appendPartition makes the broker's checks on one validated partition and appends its
// batch. A non-zero code is the partition's error.
func (n *Node) appendPartition(r *wire.ProducePartition, acks int16) (appended, *log.Log, int16, error) {
	if r.ErrorCode != wire.NoError {
		return appended{}, nil, r.ErrorCode, r.Err
	}
	if slices.Contains(controller.InternalTopics, r.Topic) {
		return appended{}, nil, errInvalidTopic, fmt.Errorf("Cannot append to internal topic %s", r.Topic)
	}
	tp := storage.TopicPartition{Topic: r.Topic, Partition: r.Partition}
	if code := n.leaderCode(r.Topic, r.Partition); code != errNone {
		return appended{}, nil, code, nil
	}
	ts, ok := n.topics[r.Topic]
	l, okLog := n.logs.GetLog(tp)
	if !ok || !okLog {
		return appended{}, nil, errUnknownTopicOrPartition, nil
	}
	if len(r.Batch) > int(ts.cfg.MaxMessageBytes) {
		return appended{}, nil, errMessageTooLarge, fmt.Errorf(
			"the record batch is %d bytes, larger than the topic's max.message.bytes %d", len(r.Batch), ts.cfg.MaxMessageBytes)
	}
	logAppendTime := ts.logAppendTime
	if !logAppendTime && r.Summary.Header.RecordCount > 0 {
		if err := checkTimestamps(&r.Summary, n.now.WallMs, &ts.cfg.MessageTimestampBeforeMaxMs, &ts.cfg.MessageTimestampAfterMaxMs); err != nil {
			return appended{}, nil, errInvalidTimestamp, err
		}
	}
	if slices.Contains(ts.cfg.CleanupPolicy, "compact") && r.Summary.NullKeyCount > 0 {
		return appended{}, nil, errInvalidRecord, errors.New("Compacted topic cannot accept message without key in topic partition " + r.Topic)
	}
	rs, leads := n.leading(tp)
	if !leads {
		return appended{}, nil, errNotLeaderOrFollower, nil
	}
	if isr := len(rs.leader.ISR()); acks == -1 && int32(isr) < ts.cfg.MinInsyncReplicas {
		return appended{}, nil, errNotEnoughReplicas, fmt.Errorf(
			"The size of the current ISR %d is insufficient to satisfy the min.isr requirement of %d for partition %s", isr, ts.cfg.MinInsyncReplicas, tp)
	}
	st, err := n.producerState(tp, l)
	if err != nil {
		n.fail(err)
		return appended{}, nil, errKafkaStorageError, err
	}
	verdict, code, err := checkProducerState(st, r, n.now.WallMs)
	if code != errNone {
		return appended{}, nil, code, err
	}
	if verdict.Kind == producer.VerdictDuplicate {
		return appended{
			AppendResult:         log.AppendResult{BaseOffset: verdict.BaseOffset, LastOffset: verdict.LastOffset},
			duplicate:            true,
			duplicateTimestampMs: verdict.TimestampMs,
		}, l, errNone, nil
	}
	epoch := record.Epoch(rs.part.LeaderEpoch)
	segments := l.SegmentCount()
	n.mayNeedSync(tp)
	res, err := l.Append(r.Batch, log.AppendOptions{AssignOffsets: true, LeaderEpoch: epoch, LogAppendTime: logAppendTime, NowMs: n.now.WallMs})
	switch {
	case err == nil:
	case errors.Is(err, log.ErrInvalidBatch):
		return appended{}, nil, errCorruptMessage, err
	case errors.Is(err, log.ErrBatchTooLarge):
		return appended{}, nil, errMessageTooLarge, err
	default:
		n.fail(fmt.Errorf("broker: append to %s: %w", tp, err))
		return appended{}, nil, errKafkaStorageError, err
	}
	if l.SegmentCount() > segments {
		// The batch rolled a new segment: snapshot the state at the new segment's base offset
		// (the state does not include the batch yet), as Kafka's roll does.
		n.snapshotProducerState(tp, l, st)
	}
	written, err := record.ParseHeader(r.Batch) // as stamped by the append
	if err != nil {
		panic(fmt.Sprintf("broker: invariant: an appended batch no longer parses: %v", err))
	}
	st.Update(written, res.BaseOffset, n.now.WallMs)
	return appended{AppendResult: res}, l, errNone, nil
}

// checkProducerState judges a batch against the partition's producer state and maps
// core/producer's errors to Kafka's codes.
func checkProducerState(st *producer.State, r *wire.ProducePartition, nowMs int64) (producer.Verdict, int16, error) {
	v, err := st.CheckAppend(r.Summary.Header, nowMs)
	switch {
	case err == nil:
		return v, errNone, nil
	case errors.Is(err, producer.ErrInvalidProducerEpoch):
		return v, errInvalidProducerEpoch, err
	case errors.Is(err, producer.ErrOutOfOrderSequence):
		return v, errOutOfOrderSequenceNumber, err
	case errors.Is(err, producer.ErrInvalidTxnState):
		return v, errInvalidTxnState, err
	case errors.Is(err, producer.ErrTooManyProducers):
		return v, errThrottlingQuotaExceeded, err
	case errors.Is(err, record.ErrInvalidRecord):
		return v, errInvalidRecord, err
	default:
		return v, errUnknownServerError, err
	}
}

// checkTimestamps applies message.timestamp.before.max.ms and after.max.ms (Kafka's
// LogValidator.validateTimestamp) to the batch's earliest and latest record timestamps.
func checkTimestamps(sum *record.RecordsSummary, nowMs int64, beforeMaxMs, afterMaxMs *int64) error {
	if *beforeMaxMs < math.MaxInt64-sum.TimestampMinMs && nowMs-sum.TimestampMinMs > *beforeMaxMs {
		return fmt.Errorf("Timestamp %d of message is before the time tolerated by message.timestamp.before.max.ms %d (now %d)", sum.TimestampMinMs, *beforeMaxMs, nowMs)
	}
	if *afterMaxMs < math.MaxInt64-nowMs && sum.TimestampMaxMs-nowMs > *afterMaxMs {
		return fmt.Errorf("Timestamp %d of message is after the time tolerated by message.timestamp.after.max.ms %d (now %d)", sum.TimestampMaxMs, *afterMaxMs, nowMs)
	}
	return nil
}

// partitionDurable settles the produces waiting on tp after its sync (the high watermark of a
// led partition may move), then wakes fetches.
func (n *Node) partitionDurable(tp storage.TopicPartition, syncErr error) {
	l, ok := n.logs.GetLog(tp)
	if !ok {
		n.partitionGone(tp)
		return
	}
	if syncErr != nil {
		n.settleProduces(tp, func(p *producePending) (bool, int16, error) { return true, errKafkaStorageError, syncErr })
		n.wakeFetches(tp)
		return
	}
	if r, ok := n.leading(tp); ok {
		n.advanceHW(r, l)
	}
	n.settleProducesOn(tp)
	n.wakeFetches(tp)
}

// appended follows a leader append to tp: with Kafka's flush behaviour the high watermark
// may move; followers' parked fetches may read more. A partition without followers and with
// durable writes has nothing to wake: its consumers wait for the sync.
func (n *Node) appended(tp storage.TopicPartition, l *log.Log) {
	if r, ok := n.leading(tp); ok && (n.relaxed(tp) || len(r.part.Replicas) > 1) {
		n.advanceHW(r, l)
		n.wakeFetches(tp)
	}
}

// settleProducesOn answers the produces waiting on tp whose condition holds: acks=1 the
// leader's durable offset, acks=-1 the high watermark (with min.insync.replicas checked).
func (n *Node) settleProducesOn(tp storage.TopicPartition) {
	l, ok := n.logs.GetLog(tp)
	if !ok {
		return
	}
	durable := l.DurableOffset()
	hw, isrSize, minISR := record.Offset(-1), int32(0), int32(1)
	if r, ok := n.leading(tp); ok {
		hw, isrSize = r.leader.HighWatermark(), int32(len(r.leader.ISR()))
	}
	if ts, ok := n.topics[tp.Topic]; ok {
		minISR = ts.cfg.MinInsyncReplicas
	}
	n.settleProduces(tp, func(p *producePending) (bool, int16, error) {
		switch {
		case !p.needHW:
			return durable >= p.upTo, errNone, nil
		case hw < p.upTo:
			return false, errNone, nil
		case isrSize < minISR:
			// The ISR shrank below min.insync.replicas while the produce waited: the records
			// are in the log, but not on enough replicas (Kafka's answer).
			return true, errNotEnoughReplicasAfterAppend, nil
		}
		return true, errNone, nil
	})
}

// partitionGone answers the produces waiting on a partition whose log was deleted: their
// data went with it.
func (n *Node) partitionGone(tp storage.TopicPartition) {
	n.settleProduces(tp, func(*producePending) (bool, int16, error) { return true, errUnknownTopicOrPartition, nil })
	n.wakeFetches(tp)
}

// settleProduces applies verdict to every open part on tp of the waiting produces and
// answers the produces left with no open part.
func (n *Node) settleProduces(tp storage.TopicPartition, verdict func(p *producePending) (done bool, code int16, err error)) {
	n.produceWaits = slices.DeleteFunc(n.produceWaits, func(w *produceWait) bool {
		open := 0
		for i := range w.parts {
			p := &w.parts[i]
			if !p.done && p.tp == tp {
				done, code, err := verdict(p)
				if done {
					p.done = true
					out := &w.resp.Topics[p.topicIndex].Partitions[p.partitionIndex]
					if code != errNone {
						out.ErrorCode = code
						if err != nil {
							out.ErrorMessage = strp(err.Error())
						}
					}
				}
			}
			if !p.done {
				open++
			}
		}
		if open > 0 {
			return false
		}
		n.waitingCount--
		n.finish(n.conns[w.conn], w.slot, w.resp, nil)
		return true
	})
}

// expireProduces answers acks=-1 produces whose timeout passed: REQUEST_TIMED_OUT for the
// partitions not yet durable.
func (n *Node) expireProduces() {
	n.produceWaits = slices.DeleteFunc(n.produceWaits, func(w *produceWait) bool {
		if w.deadlineMs == 0 || w.deadlineMs > n.now.MonotonicMs {
			return false
		}
		for _, p := range w.parts {
			if !p.done {
				w.resp.Topics[p.topicIndex].Partitions[p.partitionIndex].ErrorCode = errRequestTimedOut
			}
		}
		n.waitingCount--
		n.finish(n.conns[w.conn], w.slot, w.resp, nil)
		return true
	})
}
