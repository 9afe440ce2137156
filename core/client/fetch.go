package client

import (
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/core/record"
)

// fetchOp is one fetch operation: one partition read from an offset with a single answered Fetch
// request (retried, within the API timeout, when the request is lost or the broker answers with
// a retriable error).
type fetchOp struct {
	op         check.Op
	deadlineNs int64
	inflight   bool
	retryNs    int64
	lastErr    string
	done       bool
	staleMark  int64 // see metadata.staleMark
	// tracked: the fetch continues a consumer position (FetchFrom), kept in pos, which is
	// validated against the leader's epochs before it is read from (KIP-320).
	tracked bool
	pos     check.Position
	// sentLeaderEpoch is the leader epoch the request in flight was sent with.
	sentLeaderEpoch int32
}

// errRecordsLimit stops decoding once a fetch has RecordsPerFetchMax records.
var errRecordsLimit = errors.New("client: fetch record limit reached")

// Fetch reads one partition from offset: the records of the broker's answer (up to the fetch
// size limits, whole batches decoded, a truncated trailing batch dropped), with the partition's
// high watermark and log start offset. It completes in a later Ready's Completed, exactly once.
func (c *Client) Fetch(topic string, partition int32, offset int64, nowNs int64) (OpID, Ready) {
	return c.fetch(topic, partition, check.StartPosition(offset), false, nowNs)
}

// FetchFrom reads one partition from a consumer's position, as Fetch does, first validating the
// position when the partition's leader epoch is not the one it was last valid at (KIP-320, as
// Kafka's consumer does after every leader change): OffsetForLeaderEpoch with the epoch of the
// record before the position. A leader whose log ends that epoch below the position was
// truncated (an unclean election, a lost disk): the fetch reads from the end offset instead,
// the first offset known to diverge, and says so in the op's DivergedFrom. With no end offset
// for that epoch at all it resets to the log start, as auto.offset.reset=earliest. The op's
// Position is where the consumer stands after the fetch.
func (c *Client) FetchFrom(topic string, partition int32, pos check.Position, nowNs int64) (OpID, Ready) {
	return c.fetch(topic, partition, pos, true, nowNs)
}

func (c *Client) fetch(topic string, partition int32, pos check.Position, tracked bool, nowNs int64) (OpID, Ready) {
	offset := pos.Offset
	c.begin(nowNs)
	id := c.newOpID()
	f := &fetchOp{
		op: check.Op{
			Client:         c.cfg.ClientIndex,
			Seq:            int64(id),
			Kind:           check.OpFetch,
			Topic:          topic,
			Partition:      partition,
			InvokeNs:       c.nowNs,
			FetchOffset:    offset,
			HighWatermark:  -1,
			LogStartOffset: -1,
		},
		deadlineNs: c.nowNs + c.cfg.APITimeoutNs,
		staleMark:  -1,
		tracked:    tracked,
		pos:        pos,
	}
	c.pending++
	if reason := c.admit(topic, partition); reason != "" {
		c.complete(&f.op, check.OutcomeFailed, reason)
		return id, c.finish()
	}
	if offset < 0 {
		c.complete(&f.op, check.OutcomeFailed, fmt.Sprintf("OFFSET_OUT_OF_RANGE: negative fetch offset %d", offset))
		return id, c.finish()
	}
	c.fetches = append(c.fetches, f)
	return id, c.finish()
}

// sendFetches sends every fetch that is due and whose leader is reachable.
func (c *Client) sendFetches() {
	for _, f := range c.fetches {
		if f.done || f.inflight || f.retryNs > c.nowNs || !c.meta.fresh(f.staleMark) {
			continue
		}
		rt, code := c.routeFor(f.op.Topic, f.op.Partition)
		if code != errNone {
			f.lastErr = ErrorName(code)
			continue
		}
		cn := c.nodeConn(rt.leader)
		if !c.canSend(cn) {
			continue
		}
		if c.needsValidation(f, rt, cn) {
			c.sendValidation(cn, rt, f)
			continue
		}
		limit := kmsgMax(keyFetch)
		if rt.topicID == ([16]byte{}) {
			limit = fetchTopicIDVersion - 1
		}
		version, ok := cn.versions.pick(keyFetch, limit)
		if !ok {
			f.lastErr = fmt.Sprintf("UNSUPPORTED_VERSION: broker %d speaks no Fetch version the client can send", rt.leader)
			continue
		}
		c.sendFetch(cn, rt, version, f)
	}
	c.fetches = slices.DeleteFunc(c.fetches, func(f *fetchOp) bool { return f.done })
}

// sendFetch sends f's request: a full fetch outside any session (KIP-227), read uncommitted.
func (c *Client) sendFetch(cn *conn, rt route, version int16, f *fetchOp) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.ReplicaState.ID = -1
	req.MaxWaitMillis = c.cfg.FetchMaxWaitMs
	req.MinBytes = c.cfg.FetchMinBytes
	req.MaxBytes = c.cfg.FetchMaxBytes
	req.IsolationLevel = 0
	req.SessionID = 0
	req.SessionEpoch = -1
	t := kmsg.NewFetchRequestTopic()
	if version >= fetchTopicIDVersion {
		t.TopicID = rt.topicID
	} else {
		t.Topic = f.op.Topic
	}
	p := kmsg.NewFetchRequestTopicPartition()
	p.Partition = f.op.Partition
	p.CurrentLeaderEpoch = rt.leaderEpoch
	p.FetchOffset = f.op.FetchOffset
	p.LastFetchedEpoch = -1
	p.LogStartOffset = -1
	p.PartitionMaxBytes = c.cfg.FetchPartitionMaxBytes
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	f.inflight = true
	f.sentLeaderEpoch = rt.leaderEpoch
	// The broker may hold the request for the max wait before it answers.
	deadline := c.requestDeadline() + int64(c.cfg.FetchMaxWaitMs)*1_000_000
	c.send(cn, req, version, &request{kind: reqFetch, fetch: f, deadlineNs: deadline}, true)
}

// handleFetch handles the answer to f's request.
func (c *Client) handleFetch(f *fetchOp, resp *kmsg.FetchResponse) {
	f.inflight = false
	if resp.ErrorCode != errNone {
		c.fetchError(f, resp.ErrorCode, "")
		return
	}
	var part *kmsg.FetchResponseTopicPartition
	for ti := range resp.Topics {
		t := &resp.Topics[ti]
		name := t.Topic
		if resp.Version >= fetchTopicIDVersion {
			name = c.meta.topicByID(t.TopicID)
		}
		if name != f.op.Topic {
			continue
		}
		for pi := range t.Partitions {
			if t.Partitions[pi].Partition == f.op.Partition {
				part = &t.Partitions[pi]
			}
		}
	}
	if part == nil {
		c.retryFetch(f, "the fetch response does not mention the partition")
		return
	}
	f.op.HighWatermark = part.HighWatermark
	f.op.LogStartOffset = part.LogStartOffset
	if part.ErrorCode != errNone {
		c.fetchError(f, part.ErrorCode, "")
		return
	}
	records, lastEpoch, err := c.decodeFetched(part.RecordBatches, f.op.FetchOffset)
	if err != nil {
		c.finishFetch(f, check.OutcomeFailed, fmt.Sprintf("CORRUPT_MESSAGE: %v", err))
		return
	}
	f.op.Records = records
	if f.tracked {
		// The records came from the leader at the epoch the request carried, which the broker
		// checked: the position after them is valid at that epoch.
		after := check.Position{Offset: f.pos.Offset, OffsetEpoch: f.pos.OffsetEpoch, LeaderEpoch: f.sentLeaderEpoch}
		if len(records) > 0 {
			after.Offset, after.OffsetEpoch = records[len(records)-1].Offset+1, lastEpoch
		}
		f.op.Position = &after
	}
	c.finishFetch(f, check.OutcomeOK, "")
}

// fetchError retries a retriable error and fails f on any other (OFFSET_OUT_OF_RANGE among them).
func (c *Client) fetchError(f *fetchOp, code int16, detail string) {
	if errorRetriable(code) {
		if errorNeedsMetadata(code) {
			f.staleMark = c.meta.staleMark()
		}
		c.retryFetch(f, errorText(code, detail))
		return
	}
	c.finishFetch(f, check.OutcomeFailed, errorText(code, detail))
}

// retryFetch schedules another attempt.
func (c *Client) retryFetch(f *fetchOp, reason string) {
	f.inflight = false
	f.lastErr = reason
	f.retryNs = c.nowNs + c.backoff()
}

// finishFetch completes f.
func (c *Client) finishFetch(f *fetchOp, outcome check.Outcome, reason string) {
	f.done = true
	c.complete(&f.op, outcome, reason)
}

// expireFetches fails fetches past their timeout that are not in flight. A read has no effect,
// so giving up on it is a failure, never an unknown outcome.
func (c *Client) expireFetches() {
	for _, f := range c.fetches {
		if f.done || f.inflight || f.deadlineNs > c.nowNs {
			continue
		}
		reason := "timeout"
		if f.lastErr != "" {
			reason += ": " + f.lastErr
		}
		c.finishFetch(f, check.OutcomeFailed, reason)
	}
	c.fetches = slices.DeleteFunc(c.fetches, func(f *fetchOp) bool { return f.done })
}

// decodeFetched decodes the records of a fetch answer at or after offset, in offset order, and
// the leader epoch of the batch holding the last of them. A truncated last batch is normal (the
// broker cuts at the size limit) and is dropped; any other bad batch is an error. Control
// batches (transaction markers) hold no records for the reader.
func (c *Client) decodeFetched(batches []byte, offset int64) ([]check.Record, int32, error) {
	var records []check.Record
	lastEpoch := int32(-1)
	// Keys and values are gathered in c.fetchText and become substrings of one string at the
	// end: one allocation per fetch instead of two per record.
	c.fetchText, c.fetchEnds = c.fetchText[:0], c.fetchEnds[:0]
	defer func() {
		if cap(c.fetchText) > encodedBytesMax {
			c.fetchText = nil // a large fetch does not pin its size to an idle client
		}
	}()
	it := record.NewBatchIterator(batches)
	for it.Next() {
		h := it.Header()
		if h.Control() || int64(h.LastOffset()) < offset {
			continue
		}
		// Room for the batch's records at once: its count, trusted only as far as its bytes
		// and the fetch's bound allow (a record takes at least 7 bytes).
		hint := min(int(h.RecordCount), len(it.Batch())/7, c.cfg.RecordsPerFetchMax-len(records))
		records = slices.Grow(records, max(hint, 0))
		err := c.decompressor.ForEachRecord(it.Batch(), func(r *record.Record) error {
			at := int64(h.BaseOffset) + int64(r.OffsetDelta)
			if at < offset {
				return nil
			}
			if len(records) >= c.cfg.RecordsPerFetchMax {
				return errRecordsLimit
			}
			ts := h.FirstTimestamp + r.TimestampDelta
			if h.LogAppendTime() {
				ts = h.MaxTimestamp // the broker's append time stands for every record
			}
			c.fetchText = append(c.fetchText, r.Key...)
			keyEnd := len(c.fetchText)
			c.fetchText = append(c.fetchText, r.Value...)
			c.fetchEnds = append(c.fetchEnds, keyEnd, len(c.fetchText))
			records = append(records, check.Record{Offset: at, TimestampMs: ts})
			lastEpoch = int32(h.PartitionLeaderEpoch)
			return nil
		})
		if errors.Is(err, errRecordsLimit) {
			return c.fetchedText(records), lastEpoch, nil
		}
		if err != nil {
			return nil, -1, fmt.Errorf("batch at offset %d: %w", h.BaseOffset, err)
		}
	}
	if err := it.Err(); err != nil && !errors.Is(err, record.ErrShortBatch) {
		return nil, -1, err
	}
	return c.fetchedText(records), lastEpoch, nil
}

// fetchedText sets the keys and values of records, decoded by decodeFetched, from
// c.fetchText.
func (c *Client) fetchedText(records []check.Record) []check.Record {
	text := string(c.fetchText)
	from := 0
	for i := range records {
		keyEnd, valueEnd := c.fetchEnds[2*i], c.fetchEnds[2*i+1]
		records[i].Key, records[i].Value = text[from:keyEnd], text[keyEnd:valueEnd]
		from = valueEnd
	}
	return records
}
