package broker

// InitProducerId, versions 0-5, for idempotent producers (a null transactional id).
//
// Behaviour, as Kafka's KafkaApis.handleInitProducerIdRequest and
// TransactionCoordinator.handleInitProducerId: a producer id and epoch must be both -1 or both
// set (else INVALID_REQUEST). Without a transactional id every request gets a new producer id
// with epoch 0 — also one that carries its current id and epoch (KIP-360's bump applies only
// to transactional ids; an idempotent producer that lost its sequence starts over under a new
// id). Ids come from blocks of 1000 that the node reserves in the metadata log
// (ProducerIdsRecord, producer.Allocator), handed out only once the block's record is durable,
// so a crash never hands an id out twice. While no committed block has ids left the answer is
// COORDINATOR_LOAD_IN_PROGRESS, which clients retry, as Kafka's RPCProducerIdManager answers
// while it fetches a block; the next block is requested when a tenth of the current one is
// left. Ids past the int64 range are UNKNOWN_SERVER_ERROR ("Exhausted all producerIds").
//
// Left out: transactions. A transactional id is answered TRANSACTIONAL_ID_AUTHORIZATION_FAILED
// (53), as Kafka answers a principal that may not use it: the client fails at once with a
// clear, non-retriable error instead of retrying a coordinator error until its timeout
// (clients reach this only by skipping FindCoordinator, which the node does not serve). An
// empty transactional id is INVALID_REQUEST, as Kafka's. Authorization (IDEMPOTENT_WRITE) and
// throttling are left out too.

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/producer"
	"github.com/weirdata/weir/core/record"
)

// pidBlock is the producer-id block whose ProducerIdsRecord awaits its commit.
type pidBlock struct {
	first, next int64
	upTo        record.Offset // committed offset that covers the record
}

func (n *Node) handleInitProducerID(cs *conn, s *slot, req *kmsg.InitProducerIDRequest) {
	resp := kmsg.NewPtrInitProducerIDResponse()
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	answer := func(code int16) {
		resp.ErrorCode = code
		n.finish(cs, s, resp, nil)
	}
	if (req.ProducerID == -1) != (req.ProducerEpoch == -1) {
		answer(errInvalidRequest)
		return
	}
	if req.TransactionalID != nil {
		if *req.TransactionalID == "" {
			answer(errInvalidRequest)
			return
		}
		answer(errTransactionalIDAuthFailed)
		return
	}
	id, err := n.pids.Next()
	n.requestPidBlock()
	switch {
	case err == nil:
		resp.ProducerID, resp.ProducerEpoch = id, 0
		answer(errNone)
	case errors.Is(err, producer.ErrNoProducerIDs):
		answer(errCoordinatorLoadInProgress)
	default:
		answer(errUnknownServerError)
	}
}

// requestPidBlock appends a ProducerIdsRecord for the next block when the allocator wants one.
// A failed append (the metadata log is busy) drops the request: the next InitProducerId asks
// again.
func (n *Node) requestPidBlock() {
	if !n.pids.WantsBlock() {
		return
	}
	first := n.meta.Latest().NextProducerID()
	next, err := n.pids.RequestBlock(first)
	if err != nil {
		// Exhausted: Next keeps answering from what is left, then UNKNOWN_SERVER_ERROR.
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: producer-id block: %w", err))
		return
	}
	var brokerEpoch int64
	if b, ok := n.meta.Latest().Broker(n.cfg.Broker.NodeID); ok {
		brokerEpoch = b.Epoch
	}
	res, err := n.meta.Append([]metadata.Record{metadata.NewProducerIdsRecord(n.cfg.Broker.NodeID, brokerEpoch, next)}, 0, n.now.WallMs)
	if err != nil {
		n.pids.BlockFailed()
		if !errors.Is(err, metadata.ErrTooManyPending) {
			n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: appending a producer-id block: %w", err))
		}
		return
	}
	if res.SyncNeeded {
		n.addSync(pendingSync{metadata: true, req: res.Sync})
	}
	n.pidBlock = &pidBlock{first: first, next: next, upTo: res.LastOffset + 1}
}

// pidBlockCommitted hands the allocator its block once the metadata log committed it.
func (n *Node) pidBlockCommitted(committed record.Offset) {
	b := n.pidBlock
	if b == nil || b.upTo > committed {
		return
	}
	n.pidBlock = nil
	if err := n.pids.BlockCommitted(b.first, b.next); err != nil {
		// Another record moved the next id between the append and its commit; ask again.
		n.pids.BlockFailed()
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: producer-id block: %w", err))
	}
}
