package client

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/check"
)

// offsetForLeaderEpochMinVersion is the first OffsetForLeaderEpoch version with a replica id,
// which a consumer sets to -1; Kafka's consumer validates positions from it on.
const offsetForLeaderEpochMinVersion = 3

// needsValidation reports whether f's position must be validated on cn, the connection to its
// leader, before it is read from: it continues a consumer position with a known epoch, last
// valid at another leader epoch than the one the partition's leader has now (Kafka's
// AWAIT_VALIDATION after a metadata update). A broker that does not speak OffsetForLeaderEpoch
// v3 is not asked, as Kafka's consumer skips validation then.
func (c *Client) needsValidation(f *fetchOp, rt route, cn *conn) bool {
	if !f.tracked || f.pos.OffsetEpoch < 0 || f.pos.LeaderEpoch == rt.leaderEpoch || rt.leaderEpoch < 0 {
		return false
	}
	if c.cfg.Planted.Planted(buggify.BugConsumerSkipsValidation) {
		return false
	}
	_, ok := cn.versions.pick(keyOffsetForLeaderEpoch, kmsgMax(keyOffsetForLeaderEpoch))
	return ok
}

// sendValidation asks f's leader where the epoch of f's position ends in its log.
func (c *Client) sendValidation(cn *conn, rt route, f *fetchOp) {
	version, _ := cn.versions.pick(keyOffsetForLeaderEpoch, kmsgMax(keyOffsetForLeaderEpoch))
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = -1
	t := kmsg.NewOffsetForLeaderEpochRequestTopic()
	t.Topic = f.op.Topic
	p := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	p.Partition = f.op.Partition
	p.CurrentLeaderEpoch = rt.leaderEpoch
	p.LeaderEpoch = f.pos.OffsetEpoch
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	f.inflight = true
	f.sentLeaderEpoch = rt.leaderEpoch
	c.send(cn, req, version, &request{kind: reqValidate, fetch: f, deadlineNs: c.requestDeadline()}, true)
}

// handleValidation completes the validation of f's position (Kafka's
// SubscriptionState.maybeCompleteValidation): an end offset below the position is a truncation,
// and f reads from that end offset instead; no end offset at all resets f to the log start; any
// other answer makes the position valid at the leader epoch the request carried. f then fetches.
func (c *Client) handleValidation(f *fetchOp, resp *kmsg.OffsetForLeaderEpochResponse) {
	f.inflight = false
	var part *kmsg.OffsetForLeaderEpochResponseTopicPartition
	for ti := range resp.Topics {
		t := &resp.Topics[ti]
		if t.Topic != f.op.Topic {
			continue
		}
		for pi := range t.Partitions {
			if t.Partitions[pi].Partition == f.op.Partition {
				part = &t.Partitions[pi]
			}
		}
	}
	if part == nil {
		c.retryFetch(f, "the OffsetForLeaderEpoch response does not mention the partition")
		return
	}
	if part.ErrorCode != errNone {
		c.fetchError(f, part.ErrorCode, "validating the position")
		return
	}
	switch {
	case part.EndOffset < 0 || part.LeaderEpoch < 0:
		// The leader has no record of the position's epoch: reset by the policy (earliest).
		// Fetching from 0 ends OFFSET_OUT_OF_RANGE with the log start when the log starts
		// later, which is where the consumer then resets.
		f.op.DivergedFrom = f.pos.Offset
		f.pos = check.StartPosition(0)
		f.op.FetchOffset = 0
	case part.EndOffset < f.pos.Offset:
		f.op.DivergedFrom = f.pos.Offset
		f.pos = check.Position{Offset: part.EndOffset, OffsetEpoch: part.LeaderEpoch, LeaderEpoch: f.sentLeaderEpoch}
		f.op.FetchOffset = part.EndOffset
	default:
		f.pos.LeaderEpoch = f.sentLeaderEpoch
	}
}
