package broker

// InitProducerId, versions 0-5, for idempotent producers (a null transactional id).
//
// Behaviour, as Kafka's KafkaApis.handleInitProducerIdRequest and
// TransactionCoordinator.handleInitProducerId: a producer id and epoch must be both -1 or both
// set (else INVALID_REQUEST). Without a transactional id every request gets a new producer id
// with epoch 0 — also one that carries its current id and epoch (KIP-360's bump applies only
// to transactional ids; an idempotent producer that lost its sequence starts over under a new
// id). Ids come from blocks of 1000 the active controller grants (AllocateProducerIds, which
// answers once its ProducerIdsRecord is committed; producer.Allocator), so a crash never hands
// an id out twice. While no committed block has ids left the answer is
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

	"github.com/weirdata/weir/core/producer"
)

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

// requestPidBlock asks the controller for the next block when the allocator wants one and the
// broker is registered. A failed request (refused, lost, timed out) ends the request: the
// next event asks again.
func (n *Node) requestPidBlock() {
	if !n.pids.WantsBlock() || n.life.epoch < 0 || n.controllerID < 0 || n.now.MonotonicMs < n.pidRetryMs {
		return
	}
	if err := n.pids.Request(); err != nil {
		panic(fmt.Sprintf("broker: invariant: %v", err))
	}
	req := kmsg.NewPtrAllocateProducerIDsRequest()
	req.BrokerID, req.BrokerEpoch = n.cfg.Broker.NodeID, n.life.epoch
	n.forwardAdmin(nil, nil, req, controllerRequestTimeoutMs, func(r kmsg.Response) {
		resp := r.(*kmsg.AllocateProducerIDsResponse)
		if resp.ErrorCode != errNone {
			n.pids.BlockFailed()
			n.pidRetryMs = n.now.MonotonicMs + controllerRetryBackoffMs
			if resp.ErrorCode != errRequestTimedOut {
				n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: producer-id block refused: %s", codeName(resp.ErrorCode)))
			}
			return
		}
		if err := n.pids.Granted(resp.ProducerIDStart, resp.ProducerIDStart+int64(resp.ProducerIDLen)); err != nil {
			n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: producer-id block: %w", err))
		}
	})
}
