package client

import (
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/check"
)

// producerState is the idempotent producer's identity: an id from InitProducerId and an epoch
// the client bumps itself when a partition's sequence chain breaks (KIP-360, as kgo and Java's
// producer do for a non-transactional producer).
type producerState struct {
	id       int64 // -1 until InitProducerId answers, and while a new id is asked for
	epoch    int16
	inflight bool  // an InitProducerId request is in flight
	retryNs  int64 // no InitProducerId goes out before this
}

func (p *producerState) init() { p.id, p.epoch = -1, -1 }

// ready reports whether batches can get sequences.
func (p *producerState) ready() bool { return p.id >= 0 }

// wanted reports whether an InitProducerId request waits for its backoff.
func (p *producerState) wanted() bool { return !p.ready() && !p.inflight }

// bumpEpoch moves the producer to a new epoch after a sequence chain under (id, epoch) broke,
// and has every partition renumber from 0 under it: the broker accepts sequence 0 from a
// higher epoch of a producer it knows, and a known epoch's sequences only in order
// (KAFKA-12152: resetting one partition alone leaves the others' chains invalid). A bump for an
// id or epoch already replaced is stale and ignored. At the last epoch a new id is asked for.
func (c *Client) bumpEpoch(id int64, epoch int16) {
	p := &c.producer
	if !p.ready() || p.id != id || p.epoch != epoch {
		return
	}
	if p.epoch >= math.MaxInt16-1 {
		p.id, p.epoch = -1, -1
		return
	}
	p.epoch++
	c.resetAllSequences()
}

// resetAllSequences has every partition renumber its chain at its next unpinned first batch.
func (c *Client) resetAllSequences() {
	for _, pp := range c.partitions {
		pp.needSeqReset = true
	}
}

// hasQueuedBatches reports whether any batch waits to be produced.
func (c *Client) hasQueuedBatches() bool {
	for _, pp := range c.partitions {
		if len(pp.batches) > 0 {
			return true
		}
	}
	return false
}

// maybeInitProducerID asks any broker for a producer id when an idempotent batch needs one.
func (c *Client) maybeInitProducerID() {
	p := &c.producer
	if !c.cfg.Idempotent || !p.wanted() || c.nowNs < p.retryNs || !c.hasQueuedBatches() {
		return
	}
	cn := c.anyConn()
	if !c.canSend(cn) {
		return
	}
	version, ok := cn.versions.get(keyInitProducerID)
	if !ok {
		c.failUnpinnedBatches("UNSUPPORTED_VERSION: the broker speaks no InitProducerId version the client does")
		p.retryNs = c.nowNs + c.backoff()
		return
	}
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = nil
	req.TransactionTimeoutMillis = math.MaxInt32 // unused without a transactional id
	req.ProducerID, req.ProducerEpoch = -1, -1
	p.inflight = true
	c.send(cn, req, version, &request{kind: reqInitProducerID, deadlineNs: c.requestDeadline()}, true)
}

// handleInitProducerID takes a new producer id, or schedules a retry.
func (c *Client) handleInitProducerID(resp *kmsg.InitProducerIDResponse) {
	p := &c.producer
	p.inflight = false
	if resp.ErrorCode == errNone && resp.ProducerID >= 0 && resp.ProducerEpoch >= 0 {
		p.id, p.epoch = resp.ProducerID, resp.ProducerEpoch
		c.resetAllSequences()
		return
	}
	p.retryNs = c.nowNs + c.backoff()
	const concurrentTransactions = 51 // retried in place by kgo, though not retriable in Kafka's table
	if resp.ErrorCode == errNone || errorRetriable(resp.ErrorCode) || resp.ErrorCode == concurrentTransactions {
		return
	}
	// Refused for good (e.g. CLUSTER_AUTHORIZATION_FAILED): fail what has not been sent.
	c.failUnpinnedBatches("InitProducerId: " + ErrorName(resp.ErrorCode))
}

// failUnpinnedBatches fails every idempotent batch that never went out with a sequence.
func (c *Client) failUnpinnedBatches(reason string) {
	for _, pp := range c.partitions {
		for i := 0; i < len(pp.batches); {
			b := pp.batches[i]
			if b.inflight || b.pinned {
				i++
				continue
			}
			outcome := check.OutcomeFailed
			if b.maybeAppended {
				outcome = check.OutcomeUnknown
			}
			c.giveUp(b, outcome, reason)
		}
	}
}
