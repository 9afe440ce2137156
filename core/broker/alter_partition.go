package broker

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/replica"
	"github.com/weirdata/weir/core/storage"
)

// ISR changes go to the controller as AlterPartition (KIP-497), as Kafka's
// AlterPartitionManager sends them: the proposals of every led partition batched into one
// request, one request in flight at a time. A proposal stays pending in its replica.Leader
// until the committed image shows the partition's next state (which ends it, accepted or
// not); a refusal ends it at once, and the partition may propose again after a backoff. Lost
// requests and NOT_CONTROLLER are sent again.

// alterPartitionVersion carries the new ISR with each member's broker epoch (KIP-903).
const alterPartitionVersion int16 = 3

// alterPartitionRetryMs holds a partition's next proposal back after a refusal (an ineligible
// replica, a stale partition epoch the image will soon replace).
const alterPartitionRetryMs = 1000

// alterPartitions is the AlterPartition traffic of the partitions this broker leads.
type alterPartitions struct {
	queued   []storage.TopicPartition // proposals to send, in order
	inFlight int32                    // correlation id; 0 none
	sentMs   int64
	sent     []sentProposal // the proposals of the request in flight
	retryMs  int64
}

// sentProposal is one partition's proposal in the request in flight: its answer concerns
// that proposal only, not a newer one the partition made meanwhile.
type sentProposal struct {
	tp       storage.TopicPartition
	proposal *replica.Proposal
}

// queue asks for tp's pending proposal to be sent. A partition whose older proposal is in
// flight is queued again: the new one goes in the next request.
func (a *alterPartitions) queue(tp storage.TopicPartition) {
	if !slices.Contains(a.queued, tp) {
		a.queued = append(a.queued, tp)
	}
}

func sentPartitions(sent []sentProposal) []storage.TopicPartition {
	tps := make([]storage.TopicPartition, len(sent))
	for i, s := range sent {
		tps[i] = s.tp
	}
	return tps
}

// alterStep sends the queued proposals still pending when nothing is in flight.
func (n *Node) alterStep() {
	a := &n.alter
	if a.inFlight != 0 {
		if n.now.MonotonicMs < a.sentMs+controllerRequestTimeoutMs {
			return
		}
		delete(n.peerWaits, a.inFlight) // lost: send again
		a.inFlight, a.queued, a.sent = 0, append(sentPartitions(a.sent), a.queued...), nil
	}
	if len(a.queued) == 0 || n.now.MonotonicMs < a.retryMs || n.life.epoch < 0 {
		return
	}
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = alterPartitionVersion
	req.BrokerID, req.BrokerEpoch = n.cfg.Broker.NodeID, n.life.epoch
	var sent []sentProposal
	for _, tp := range a.queued {
		r, ok := n.leading(tp)
		if !ok || r.leader.Pending() == nil {
			continue
		}
		p := r.leader.Pending()
		rp := kmsg.NewAlterPartitionRequestTopicPartition()
		rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch = tp.Partition, p.LeaderEpoch, p.PartitionEpoch
		for i, id := range p.ISR {
			epoch := p.BrokerEpochs[i]
			switch {
			case id == n.cfg.Broker.NodeID:
				epoch = n.life.epoch
			case n.cfg.Buggify.Planted(buggify.BugISRWithoutBrokerEpochs):
				epoch = -1
			}
			rp.NewISR = append(rp.NewISR, id)
			rp.NewEpochISR = append(rp.NewEpochISR, kmsg.AlterPartitionRequestTopicPartitionNewEpochISR{BrokerID: id, BrokerEpoch: epoch})
		}
		if len(req.Topics) == 0 || req.Topics[len(req.Topics)-1].TopicID != r.topicID {
			t := kmsg.NewAlterPartitionRequestTopic()
			t.Topic, t.TopicID = tp.Topic, r.topicID
			req.Topics = append(req.Topics, t)
		}
		t := &req.Topics[len(req.Topics)-1]
		t.Partitions = append(t.Partitions, rp)
		sent = append(sent, sentProposal{tp: tp, proposal: p})
	}
	a.queued = nil
	if len(sent) == 0 {
		return
	}
	corr := n.send(req)
	if corr == 0 {
		a.queued = sentPartitions(sent) // no controller known: Metadata will say when one is
		return
	}
	a.inFlight, a.sentMs, a.sent = corr, n.now.MonotonicMs, sent
	n.peerWaits[corr] = peerWait{alter: true}
}

// alterAnswered takes the controller's answer to the AlterPartition in flight. An accepted
// proposal ends when the image shows the partition's new state; one the controller accepted
// without writing anything (the ISR it has already) ends at once.
func (n *Node) alterAnswered(resp kmsg.Response, err error) {
	a := &n.alter
	sent := a.sent
	a.inFlight, a.sent = 0, nil
	r, ok := resp.(*kmsg.AlterPartitionResponse)
	if err != nil || !ok || r.ErrorCode == errNotControllerCode || r.ErrorCode == errRequestTimedOut {
		for _, s := range sent {
			a.queue(s.tp)
		}
		a.retryMs = n.now.MonotonicMs + controllerRetryBackoffMs
		return
	}
	if r.ErrorCode != errNone {
		// STALE_BROKER_EPOCH and the like: this broker registers again, and its partitions
		// move on without these proposals.
		for _, s := range sent {
			n.alterRefused(s)
		}
		return
	}
	for _, s := range sent {
		var answer *kmsg.AlterPartitionResponseTopicPartition
		for ti := range r.Topics {
			rt := &r.Topics[ti]
			st, ok := n.replicaStates[s.tp]
			if !ok || st.topicID != rt.TopidID {
				continue
			}
			for pi := range rt.Partitions {
				if rt.Partitions[pi].Partition == s.tp.Partition {
					answer = &rt.Partitions[pi]
				}
			}
		}
		switch {
		case answer == nil || answer.ErrorCode != errNone:
			code := errUnknownServerError
			if answer != nil {
				code = answer.ErrorCode
			}
			// Kafka logs each refused proposal too: a partition stuck behind refusals is
			// otherwise invisible.
			n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: the controller refused ISR %v of %s at partition epoch %d: %s",
				s.proposal.ISR, s.tp, s.proposal.PartitionEpoch, codeName(code)))
			n.alterRefused(s)
		case answer.PartitionEpoch <= s.proposal.PartitionEpoch:
			n.alterRefused(s) // nothing written: the state it has already
		}
	}
}

// alterRefused ends a proposal the controller did not take, if it is still the pending one;
// the partition may propose again after a backoff.
func (n *Node) alterRefused(s sentProposal) {
	if r, ok := n.leading(s.tp); ok && r.leader.Pending() == s.proposal {
		r.leader.ClearPending()
		r.alterRetryMs = n.now.MonotonicMs + alterPartitionRetryMs
	}
}

// alterDeadlineMs is the earliest time the AlterPartition traffic wants the timer.
func (n *Node) alterDeadlineMs() int64 {
	a := &n.alter
	switch {
	case a.inFlight != 0:
		return a.sentMs + controllerRequestTimeoutMs
	case len(a.queued) > 0 && a.retryMs > n.now.MonotonicMs:
		return a.retryMs
	}
	return 0
}
