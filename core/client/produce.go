package client

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/core/record"
)

// partitionProducer is the produce queue of one partition. Each batch is one operation and goes
// out in its own request to the partition's leader. Without idempotence batches are independent:
// each is retried on its own. With it they form a sequence chain the broker accepts only in
// order, so they are sent in order (drainIdx), at most five in flight, all on one connection,
// and an error on any of them rewinds the chain: once nothing is in flight, it is resent from
// the first batch, each batch keeping its sequence (as kgo's sink does).
type partitionProducer struct {
	tp      topicPartition
	batches []*batch // in Produce order

	drainIdx     int    // idempotent: batches[:drainIdx] went out this round
	inflight     int    // idempotent: batches of this partition awaiting an answer
	inflightConn ConnID // idempotent: the connection they went out on
	rewinding    bool   // idempotent: an attempt failed; resend from batches[0] once inflight is 0
	// probing (idempotent): since the last failure, only the first batch goes out, alone,
	// until it is acknowledged. Its first attempt may have been appended with the answer lost,
	// and the broker remembers only its producer's last five batches: were more batches
	// appended behind it first, its retry would no longer be recognised as a duplicate (it
	// would be refused as out of order, and the epoch bump would append it twice). Java's
	// producer and kgo's okOnSink gate do the same.
	probing        bool
	backoffUntilNs int64 // idempotent: no batch goes out before this

	needSeqReset bool  // the producer's id or epoch changed: renumber from 0 at the first unpinned batch
	nextSeq      int32 // the sequence of the next batch to pin

	staleMark int64 // metadata generation at a stale-leader error; see metadata.staleMark
}

// batch is one produce operation: its records, encoded as one record batch.
type batch struct {
	op         check.Op
	pp         *partitionProducer
	deadlineNs int64 // delivery timeout

	records          []record.Record
	firstTimestampMs int64
	encoded          []byte

	// pinned: the batch went out with this producer id, epoch and sequence, and every retry
	// resends exactly that, so the broker can tell a retry from a new write. Idempotent only.
	pinned     bool
	producerID int64
	epoch      int16
	seq        int32

	inflight      bool
	retryNs       int64 // without idempotence: not resent before this
	maybeAppended bool  // an attempt may have been appended: giving up is an unknown outcome
	lastErr       string
}

// Produce sends records to one partition as one batch; the operation completes in a later
// Ready's Completed (OK with offsets, Failed, or Unknown), exactly once. Keys "" are sent as
// null keys.
func (c *Client) Produce(topic string, partition int32, records []check.Record, nowNs int64) (OpID, Ready) {
	c.begin(nowNs)
	id := c.newOpID()
	op := check.Op{
		Client:         c.cfg.ClientIndex,
		Seq:            int64(id),
		Kind:           check.OpProduce,
		Topic:          topic,
		Partition:      partition,
		InvokeNs:       c.nowNs,
		Idempotent:     c.cfg.Idempotent,
		FetchOffset:    -1,
		HighWatermark:  -1,
		LogStartOffset: -1,
		Records:        make([]check.Record, len(records)),
	}
	for i, r := range records {
		op.Records[i] = check.Record{Offset: -1, Key: r.Key, Value: r.Value}
	}
	c.pending++
	if reason := c.admit(topic, partition); reason != "" {
		c.complete(&op, check.OutcomeFailed, reason)
		return id, c.finish()
	}
	b := &batch{op: op, deadlineNs: c.nowNs + c.cfg.DeliveryTimeoutNs, firstTimestampMs: c.wallClockMs()}
	for i := range b.op.Records {
		b.op.Records[i].TimestampMs = b.firstTimestampMs // every record of the batch: delta 0
	}
	b.records = make([]record.Record, len(records))
	// The keys and values are copied into one array, each capped at its end.
	sizeBytes := 0
	for _, r := range records {
		sizeBytes += len(r.Key) + len(r.Value)
	}
	text := make([]byte, 0, sizeBytes) // never nil: an empty value is not a null one
	for i, r := range records {
		b.records[i] = record.Record{OffsetDelta: int32(i)}
		if r.Key != "" {
			start := len(text)
			text = append(text, r.Key...)
			b.records[i].Key = text[start:len(text):len(text)]
		}
		start := len(text)
		text = append(text, r.Value...)
		b.records[i].Value = text[start:len(text):len(text)]
	}
	if len(records) == 0 {
		c.complete(&b.op, check.OutcomeFailed, "INVALID_RECORD: a batch needs at least one record")
		return id, c.finish()
	}
	// Encoded now to check its size; an idempotent batch is encoded again when it gets its
	// sequence (the header is fixed-size, so the size does not change).
	if err := c.encode(b, record.NoProducerID, -1, record.NoSequence); err != nil {
		c.complete(&b.op, check.OutcomeFailed, "INVALID_RECORD: "+err.Error())
		return id, c.finish()
	}
	if len(b.encoded) > c.cfg.BatchBytesMax {
		c.complete(&b.op, check.OutcomeFailed, fmt.Sprintf("MESSAGE_TOO_LARGE: batch of %d bytes, limit %d", len(b.encoded), c.cfg.BatchBytesMax))
		return id, c.finish()
	}
	pp := c.partitionProducer(topicPartition{topic, partition})
	if pp == nil {
		c.complete(&b.op, check.OutcomeFailed, fmt.Sprintf("client: more than %d partitions produced to", c.cfg.PartitionsMax))
		return id, c.finish()
	}
	b.pp = pp
	pp.batches = append(pp.batches, b)
	return id, c.finish()
}

// admit checks a new operation on topic/partition against the client's bounds, returning why it
// is refused ("" when admitted). The operation is already counted in c.pending.
func (c *Client) admit(topic string, partition int32) string {
	if c.pending > c.cfg.PendingOpsMax {
		return fmt.Sprintf("client: %d operations pending, the limit", c.cfg.PendingOpsMax)
	}
	if err := validTopic(topic); err != "" {
		return "INVALID_TOPIC_EXCEPTION: " + err
	}
	if partition < 0 || int(partition) >= c.cfg.PartitionsPerTopicMax {
		return fmt.Sprintf("UNKNOWN_TOPIC_OR_PARTITION: partition %d", partition)
	}
	if !c.trackTopic(topic) {
		return fmt.Sprintf("client: more than %d topics in use", c.cfg.TopicsMax)
	}
	return ""
}

// validTopic checks a topic name as Kafka does (1 to 249 of [a-zA-Z0-9._-], not "." or "..").
func validTopic(topic string) string {
	if topic == "" || len(topic) > 249 || topic == "." || topic == ".." {
		return fmt.Sprintf("topic name %q", topic)
	}
	for _, ch := range []byte(topic) {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == '-') {
			return fmt.Sprintf("topic name %q has character %q", topic, ch)
		}
	}
	return ""
}

// partitionProducer returns tp's queue, creating it; nil when cfg.PartitionsMax queues exist.
// Queues are kept once created: an idempotent partition's sequence must survive an empty queue.
func (c *Client) partitionProducer(tp topicPartition) *partitionProducer {
	if pp, ok := c.ppIndex[tp]; ok {
		return pp
	}
	if len(c.partitions) >= c.cfg.PartitionsMax {
		return nil
	}
	pp := &partitionProducer{tp: tp, staleMark: -1}
	c.partitions = append(c.partitions, pp)
	c.ppIndex[tp] = pp
	return pp
}

// encode (re)builds b's record batch with the producer fields given.
func (c *Client) encode(b *batch, producerID int64, epoch int16, seq int32) error {
	opts := record.BatchOptions{
		PartitionLeaderEpoch: record.NoPartitionLeaderEpoch,
		Codec:                c.cfg.Codec,
		FirstTimestamp:       b.firstTimestampMs,
		ProducerID:           producerID,
		ProducerEpoch:        epoch,
		BaseSequence:         seq,
	}
	encoded, err := c.compressor.AppendBatch(b.encoded[:0], opts, b.records)
	if err != nil {
		return err
	}
	b.encoded = encoded
	return nil
}

// sendProduces sends what each partition's queue allows.
func (c *Client) sendProduces() {
	for _, pp := range c.partitions {
		if len(pp.batches) == 0 {
			continue
		}
		if c.cfg.Idempotent {
			c.drainIdempotent(pp)
		} else {
			c.drainPlain(pp)
		}
	}
}

// produceTarget returns the connection and version to send pp's next batch with; nil when it
// cannot go out now (no fresh leader, no ready connection, or no Produce version the leader and
// the client share: the batches wait, and end failed at their delivery timeout).
func (c *Client) produceTarget(pp *partitionProducer) (*conn, route, int16) {
	if !c.meta.fresh(pp.staleMark) {
		return nil, route{}, 0
	}
	rt, code := c.routeFor(pp.tp.topic, pp.tp.partition)
	if code != errNone {
		c.noteWaiting(pp, ErrorName(code))
		return nil, rt, 0
	}
	cn := c.nodeConn(rt.leader)
	if !c.canSend(cn) {
		return nil, rt, 0
	}
	limit := int16(kmsgMax(keyProduce))
	if rt.topicID == ([16]byte{}) {
		limit = produceTopicIDVersion - 1
	}
	version, ok := cn.versions.pick(keyProduce, limit)
	if !ok {
		c.noteWaiting(pp, fmt.Sprintf("UNSUPPORTED_VERSION: broker %d speaks no Produce version the client can send", rt.leader))
		return nil, rt, 0
	}
	return cn, rt, version
}

// noteWaiting records why pp's waiting batches have not gone out, for their error if they time out.
func (c *Client) noteWaiting(pp *partitionProducer, reason string) {
	for _, b := range pp.batches {
		if !b.inflight {
			b.lastErr = reason
		}
	}
}

// drainPlain sends every batch of pp that is due (no idempotence: no order to keep).
func (c *Client) drainPlain(pp *partitionProducer) {
	for i := 0; i < len(pp.batches); {
		b := pp.batches[i]
		if b.inflight || b.retryNs > c.nowNs {
			i++
			continue
		}
		cn, rt, version := c.produceTarget(pp)
		if cn == nil {
			return
		}
		if !c.sendBatch(cn, rt, version, b) {
			i++
		}
	}
}

// drainIdempotent sends pp's batches in sequence order, as the chain rules allow.
func (c *Client) drainIdempotent(pp *partitionProducer) {
	if !c.producer.ready() {
		return // maybeInitProducerID asks for an id
	}
	if pp.rewinding {
		if pp.inflight > 0 {
			return
		}
		pp.rewinding = false
		pp.drainIdx = 0
		pp.backoffUntilNs = c.nowNs + c.backoff()
	}
	if c.nowNs < pp.backoffUntilNs {
		return
	}
	for pp.drainIdx < len(pp.batches) && pp.inflight < idempotentInFlightMax {
		if pp.needSeqReset && pp.inflight > 0 {
			return // a reset applies to the first batch: it waits until nothing is in flight
		}
		if pp.probing && pp.inflight > 0 {
			return
		}
		cn, rt, version := c.produceTarget(pp)
		if cn == nil || pp.inflight > 0 && cn.id != pp.inflightConn {
			return // the broker orders a chain only within one connection
		}
		b := pp.batches[pp.drainIdx]
		if pp.drainIdx == 0 && pp.needSeqReset && !b.pinned {
			// The broker has none of these batches under the new id or epoch: renumber from 0.
			// Nothing is in flight, so no answer can pin a batch meanwhile.
			pp.needSeqReset = false
			pp.nextSeq = 0
			for _, later := range pp.batches {
				later.pinned = false
			}
		}
		if !b.pinned {
			if err := c.encode(b, c.producer.id, c.producer.epoch, pp.nextSeq); err != nil {
				panic(fmt.Sprintf("client: re-encoding a batch that encoded before: %v", err))
			}
			b.pinned, b.producerID, b.epoch, b.seq = true, c.producer.id, c.producer.epoch, pp.nextSeq
			pp.nextSeq = incrementSequence(pp.nextSeq, int32(len(b.records)))
		}
		pp.drainIdx++
		pp.inflight++
		pp.inflightConn = cn.id
		c.sendBatch(cn, rt, version, b)
	}
}

// incrementSequence adds n to a sequence; sequences wrap from MaxInt32 to 0, as Kafka's do.
func incrementSequence(seq, n int32) int32 {
	const maxSeq = int32(^uint32(0) >> 1)
	if seq > maxSeq-n {
		return n - (maxSeq - seq) - 1
	}
	return seq + n
}

// sendBatch sends b to its leader; true if b completed at once (acks=0) and left the queue.
func (c *Client) sendBatch(cn *conn, rt route, version int16, b *batch) bool {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = c.cfg.Acks
	req.TimeoutMillis = c.cfg.ProduceTimeoutMs
	t := kmsg.NewProduceRequestTopic()
	if version >= produceTopicIDVersion {
		t.TopicID = rt.topicID
	} else {
		t.Topic = b.pp.tp.topic
	}
	p := kmsg.NewProduceRequestTopicPartition()
	p.Partition = b.pp.tp.partition
	p.Records = b.encoded
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	if c.cfg.Acks == AcksNone {
		// No answer will come: whether the broker appended the batch is unknowable.
		c.send(cn, req, version, nil, false)
		c.removeBatch(b)
		c.complete(&b.op, check.OutcomeUnknown, "acks=0: no acknowledgement")
		return true
	}
	b.inflight = true
	c.send(cn, req, version, &request{kind: reqProduce, batch: b, deadlineNs: c.requestDeadline()}, true)
	return false
}

// removeBatch takes b out of its queue.
func (c *Client) removeBatch(b *batch) {
	pp := b.pp
	i := slices.Index(pp.batches, b)
	if i < 0 {
		panic("client: removing a batch that is not queued")
	}
	pp.batches = slices.Delete(pp.batches, i, i+1)
	if i < pp.drainIdx {
		pp.drainIdx--
	}
}

// handleProduce handles the answer to b's produce request.
func (c *Client) handleProduce(b *batch, resp *kmsg.ProduceResponse) {
	c.answered(b)
	var part *kmsg.ProduceResponseTopicPartition
	for ti := range resp.Topics {
		t := &resp.Topics[ti]
		name := t.Topic
		if resp.Version >= produceTopicIDVersion {
			name = c.meta.topicByID(t.TopicID)
		}
		if name != b.pp.tp.topic {
			continue
		}
		for pi := range t.Partitions {
			if t.Partitions[pi].Partition == b.pp.tp.partition {
				part = &t.Partitions[pi]
			}
		}
	}
	if part == nil {
		// The broker read the request but did not say what became of the batch.
		c.retryBatch(b, errUnknownServerError, "the produce response does not mention the partition")
		return
	}
	code := part.ErrorCode
	detail := ""
	if part.ErrorMessage != nil {
		detail = *part.ErrorMessage
	}
	isHead := b.pp.batches[0] == b
	switch {
	case code == errNone || code == errDuplicateSequenceNumber && c.cfg.Idempotent:
		// DUPLICATE_SEQUENCE_NUMBER: an earlier attempt was appended (kgo and Java treat it as
		// success); the broker did not say at which offset.
		base := part.BaseOffset
		if code != errNone {
			base = -1
		}
		c.batchDone(b, base)
	case c.cfg.Idempotent && (code == errOutOfOrderSequenceNumber || code == errUnknownProducerID || code == errInvalidProducerEpoch):
		if !isHead {
			// A batch behind one the broker has not appended: it follows the chain's retry.
			c.retryBatch(b, code, detail)
			return
		}
		// The broker rejected the first batch of the chain: its sequence cannot be used.
		if b.maybeAppended {
			// An earlier attempt may have been appended (a broker that restarted remembers only
			// each producer's last batch, so a retry of an older one looks out of order):
			// resent under a new epoch it would be appended again. As Java's producer does,
			// give it up as unknown; giveUp bumps the epoch for the batches behind it.
			c.giveUp(b, check.OutcomeUnknown, errorText(code, detail))
			return
		}
		// No attempt can have landed: as KIP-360 and kgo do, bump the epoch (which resets
		// every partition's sequences) and resend the batch renumbered under it.
		b.pinned = false
		b.pp.needSeqReset = true
		c.bumpEpoch(b.producerID, b.epoch)
		c.retryBatch(b, code, detail)
	case errorRetriable(code) && code != errCorruptMessage:
		c.retryBatch(b, code, detail)
	default:
		// CORRUPT_MESSAGE is retriable in Kafka's table, but resending the same bytes cannot
		// help (kgo fails it too).
		c.failBatch(b, code, detail)
	}
}

// answered marks b's attempt as finished.
func (c *Client) answered(b *batch) {
	if !b.inflight {
		panic("client: an answer for a batch that is not in flight")
	}
	b.inflight = false
	if c.cfg.Idempotent {
		b.pp.inflight--
	}
}

// produceLost handles a produce request whose connection closed before the answer.
func (c *Client) produceLost(b *batch, reason string) {
	c.answered(b)
	b.maybeAppended = true
	c.retryBatch(b, errNetworkException, reason)
}

// retryBatch schedules b for another attempt after a retriable error.
func (c *Client) retryBatch(b *batch, code int16, detail string) {
	b.lastErr = errorText(code, detail)
	if produceErrorMaybeAppended(code) {
		b.maybeAppended = true
	}
	if errorNeedsMetadata(code) {
		b.pp.staleMark = c.meta.staleMark()
	}
	if c.cfg.Idempotent {
		b.pp.rewinding = true
		b.pp.probing = true
	} else {
		b.retryNs = c.nowNs + c.backoff()
	}
}

// batchDone completes b as acknowledged, its records at baseOffset onwards (-1: not known).
func (c *Client) batchDone(b *batch, baseOffset int64) {
	if b.pp.batches[0] == b {
		b.pp.probing = false
	}
	c.removeBatch(b)
	if baseOffset >= 0 {
		for i := range b.op.Records {
			b.op.Records[i].Offset = baseOffset + int64(i)
		}
	}
	c.complete(&b.op, check.OutcomeOK, "")
}

// failBatch completes b after a non-retriable error.
func (c *Client) failBatch(b *batch, code int16, detail string) {
	outcome := check.OutcomeFailed
	if b.maybeAppended || produceErrorMaybeAppended(code) {
		outcome = check.OutcomeUnknown
	}
	c.giveUp(b, outcome, errorText(code, detail))
}

// giveUp completes b unacknowledged. An idempotent batch that had a sequence leaves a gap in
// its partition's chain: bump the epoch so the batches behind it are renumbered (Java's
// producer does so for unresolved sequences).
func (c *Client) giveUp(b *batch, outcome check.Outcome, reason string) {
	c.removeBatch(b)
	if c.cfg.Idempotent && b.pinned {
		c.bumpEpoch(b.producerID, b.epoch)
	}
	c.complete(&b.op, outcome, reason)
}

// expireBatches gives up on batches past their delivery timeout that are not in flight (an
// attempt in flight is waited for; its request timeout bounds the wait).
func (c *Client) expireBatches() {
	for _, pp := range c.partitions {
		for i := 0; i < len(pp.batches); {
			b := pp.batches[i]
			if b.inflight || b.deadlineNs > c.nowNs {
				i++
				continue
			}
			outcome := check.OutcomeFailed
			if b.maybeAppended {
				outcome = check.OutcomeUnknown
			}
			reason := "delivery timeout"
			if b.lastErr != "" {
				reason += ": " + b.lastErr
			}
			c.giveUp(b, outcome, reason)
		}
	}
}

// errorText is an error's name with the broker's message, if any.
func errorText(code int16, detail string) string {
	if detail == "" {
		return ErrorName(code)
	}
	return ErrorName(code) + ": " + detail
}

// wallClockMs is the client's wall clock now, in Unix milliseconds: record timestamps.
func (c *Client) wallClockMs() int64 {
	if c.cfg.WallClockMs != nil {
		return c.cfg.WallClockMs(c.nowNs)
	}
	return c.cfg.WallClockBaseMs + c.nowNs/1_000_000
}
