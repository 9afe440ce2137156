package quorum

import (
	"fmt"
	"slices"

	"github.com/weirdata/weir/core/record"
)

// fetching reports whether the node pulls the log: a follower from its leader, an observer
// without a leader from a voter picked at random until one names the leader.
func (n *Node) fetching() bool {
	return n.role == RoleFollower || n.role == RoleUnattached && !n.voter
}

// maybeSendFetch sends the next fetch when none is outstanding and it is time. The fetch
// offset is the log end, sent only once the log is durable up to it: for a voter the fetch
// offset is its acknowledgement, counted toward the high watermark.
func (n *Node) maybeSendFetch(nowMs int64) {
	if !n.fetching() || n.fetch.inFlight || nowMs < n.fetch.nextMs {
		return
	}
	if n.log.DurableOffset() < n.log.EndOffset() {
		return // Flushed sends it
	}
	if n.role == RoleUnattached {
		// An observer looking for the leader asks a voter at random; the answer names the
		// leader if the voter knows it.
		n.fetch.target = n.voters[n.rng.IntN(len(n.voters))]
	}
	id := n.newCorrelationID()
	n.fetch.inFlight = true
	n.fetch.correlationID = id
	n.fetch.sentMs = nowMs
	n.fetch.nextMs = noDeadline
	if s := n.fetch.snapshot; s != nil {
		n.send(n.fetch.target, id, &FetchSnapshotRequest{
			ReplicaID: n.cfg.ID, MaxBytes: n.cfg.SnapshotChunkBytesMax, CurrentLeaderEpoch: n.state.Epoch,
			SnapshotID: s.id, Position: s.position,
		})
		return
	}
	n.send(n.fetch.target, id, &FetchRequest{
		ReplicaID: n.cfg.ID, MaxWaitMs: n.cfg.FetchMaxWaitMs, CurrentLeaderEpoch: n.state.Epoch,
		FetchOffset: n.log.EndOffset(), LastFetchedEpoch: n.log.LastEpoch(), LogStartOffset: n.log.Start().EndOffset,
		MaxEntries: n.cfg.FetchEntriesMax,
	})
}

func (n *Node) fetchError(code int16) *FetchResponse {
	return &FetchResponse{
		ErrorCode: code, HighWatermark: -1, LogStartOffset: -1, DivergingEpoch: EpochEndOffset{Epoch: -1, EndOffset: -1},
		SnapshotID:    EpochEndOffset{Epoch: -1, EndOffset: -1},
		CurrentLeader: LeaderAndEpoch{LeaderID: n.knownLeader(), LeaderEpoch: n.state.Epoch},
	}
}

func (n *Node) handleFetchRequest(nowMs int64, m Message, req *FetchRequest) error {
	if req.ReplicaID != m.From || req.FetchOffset < 0 || req.LastFetchedEpoch < 0 {
		n.send(m.From, m.CorrelationID, n.fetchError(ErrInvalidRequest))
		return fmt.Errorf("%w: fetch %+v from %d", ErrInvalidMessage, *req, m.From)
	}
	switch {
	case req.CurrentLeaderEpoch > n.state.Epoch:
		// Someone knows a later epoch: this node, a leader included, is stale.
		n.maybeAdoptEpoch(nowMs, req.CurrentLeaderEpoch, NoNode)
		n.send(m.From, m.CorrelationID, n.fetchError(ErrUnknownLeaderEpoch))
		return nil
	case req.CurrentLeaderEpoch < n.state.Epoch:
		n.send(m.From, m.CorrelationID, n.fetchError(ErrFencedLeaderEpoch))
		return nil
	case n.role != RoleLeader:
		n.send(m.From, m.CorrelationID, n.fetchError(ErrNotLeaderOrFollower))
		return nil
	case req.LastFetchedEpoch > n.state.Epoch:
		n.send(m.From, m.CorrelationID, n.fetchError(ErrInvalidRequest))
		return fmt.Errorf("%w: fetch from %d with last fetched epoch %d above the leader's %d", ErrInvalidMessage, m.From, req.LastFetchedEpoch, n.state.Epoch)
	}
	voter := n.isVoter(req.ReplicaID)
	if check, at := ValidateFetch(n.log, req.FetchOffset, req.LastFetchedEpoch); check != FetchValid {
		if voter {
			n.progress.Contact(req.ReplicaID, nowMs)
		}
		n.send(m.From, m.CorrelationID, n.fetchRedirect(check, at))
		return nil
	}
	// A replica has one fetch outstanding: an older one still held here is answered now, with
	// what there is (its sender has given up on it). Every request gets its answer, as Kafka's
	// purgatory completes each: a connection answers in request order, so one left unanswered
	// would hold back every later answer on it.
	var err error
	n.parked = slices.DeleteFunc(n.parked, func(p parkedFetch) bool {
		if p.from != m.From {
			return false
		}
		if err == nil {
			err = n.answerFetch(p.from, p.correlationID, &p.req)
		}
		return true
	})
	if err != nil {
		return err
	}
	hwBefore := n.hw
	n.viewFetch(req.ReplicaID, req.FetchOffset, nowMs)
	if voter {
		n.progress.UpdateReplica(req.ReplicaID, req.FetchOffset, nowMs)
		if !slices.Contains(n.beginAcked, req.ReplicaID) {
			n.beginAcked = append(n.beginAcked, req.ReplicaID)
		}
		if err := n.maybeAdvanceHighWatermark(nowMs); err != nil {
			return err
		}
	}
	// Answer at once when there is data, when this fetch moved the high watermark (the
	// fetcher learns it), or when the fetcher does not wait.
	if req.FetchOffset < n.log.EndOffset() || n.hw != hwBefore || req.MaxWaitMs <= 0 || len(n.parked) >= len(n.voters)+n.cfg.ObserversMax {
		return n.answerFetch(m.From, m.CorrelationID, req)
	}
	// Nothing new: hold the fetch until an append, a new high watermark or its max wait.
	wait := min(int64(req.MaxWaitMs), int64(n.cfg.FetchMaxWaitMs))
	n.parked = append(n.parked, parkedFetch{from: m.From, correlationID: m.CorrelationID, req: *req, deadlineMs: nowMs + wait})
	return nil
}

// fetchRedirect answers a fetch that diverged or needs a snapshot.
func (n *Node) fetchRedirect(check FetchCheck, at EpochEndOffset) *FetchResponse {
	resp := n.fetchError(ErrNone)
	resp.HighWatermark = n.hw
	resp.LogStartOffset = n.log.Start().EndOffset
	if check == FetchSnapshot {
		resp.SnapshotID = at
	} else {
		resp.DivergingEpoch = at
	}
	return resp
}

// answerFetch sends the entries at the fetch offset with the high watermark. The position is
// checked again: a held fetch may find the log start moved past it since.
func (n *Node) answerFetch(to NodeID, correlationID int32, req *FetchRequest) error {
	if check, at := ValidateFetch(n.log, req.FetchOffset, req.LastFetchedEpoch); check != FetchValid {
		n.send(to, correlationID, n.fetchRedirect(check, at))
		return nil
	}
	resp := n.fetchError(ErrNone)
	resp.LogStartOffset = n.log.Start().EndOffset
	resp.HighWatermark = n.hw
	resp.BaseOffset = req.FetchOffset
	if req.FetchOffset < n.log.EndOffset() {
		limit := int(min(max(req.MaxEntries, 1), n.cfg.FetchEntriesMax))
		entries, err := n.log.Read(req.FetchOffset, limit)
		if err != nil {
			return n.fail(fmt.Errorf("quorum: read %d entries at %d for node %d: %w", limit, req.FetchOffset, to, err))
		}
		// A fetch answer carries whole batches: the fetcher appends them as they are.
		if err := checkBatches(entries); len(entries) == 0 || err != nil {
			panic(fmt.Sprintf("quorum: invariant: Log.Read at %d returned %d entries, not whole batches: %v", req.FetchOffset, len(entries), err))
		}
		resp.Entries = entries
	}
	n.send(to, correlationID, resp)
	return nil
}

// answerParked answers the held fetches that have something new (or all of them when the high
// watermark moved) and those whose wait is over.
func (n *Node) answerParked(nowMs int64, hwMoved bool) error {
	if n.role != RoleLeader || len(n.parked) == 0 {
		return nil
	}
	end := n.log.EndOffset()
	kept := n.parked[:0]
	var err error
	for _, p := range n.parked {
		if err == nil && (hwMoved || p.req.FetchOffset < end || nowMs >= p.deadlineMs) {
			err = n.answerFetch(p.from, p.correlationID, &p.req)
			continue
		}
		kept = append(kept, p)
	}
	n.parked = kept
	return err
}

// maybeAdvanceHighWatermark moves a leader's high watermark if its voters allow.
func (n *Node) maybeAdvanceHighWatermark(nowMs int64) error {
	if !n.progress.MaybeAdvance() {
		return nil
	}
	n.hw = n.progress.HighWatermark()
	return n.answerParked(nowMs, true)
}

func (n *Node) handleFetchResponse(nowMs int64, m Message, resp *FetchResponse) error {
	if n.maybeAdoptEpoch(nowMs, resp.CurrentLeader.LeaderEpoch, resp.CurrentLeader.LeaderID) {
		return nil
	}
	if !n.fetching() || !n.fetch.inFlight || m.From != n.fetch.target || m.CorrelationID != n.fetch.correlationID {
		return nil // an answer to a fetch this node no longer waits for
	}
	n.fetch.inFlight = false
	n.fetch.nextMs = nowMs
	if resp.ErrorCode != ErrNone || resp.CurrentLeader.LeaderEpoch != n.state.Epoch {
		leader := resp.CurrentLeader
		if n.role == RoleUnattached && leader.LeaderEpoch == n.state.Epoch && leader.LeaderID != NoNode && leader.LeaderID != n.cfg.ID {
			n.becomeFollower(n.state.Epoch, leader.LeaderID, nowMs) // the voter named the leader
			return nil
		}
		n.fetch.nextMs = nowMs + n.cfg.RetryBackoffMs
		return nil
	}
	if n.role == RoleUnattached {
		// An observer found the leader of its epoch (only the leader answers without error).
		n.becomeFollower(n.state.Epoch, m.From, nowMs)
		return nil
	}
	n.leaderContactMs = nowMs
	n.fetchDeadlineMs = nowMs + n.cfg.FetchTimeoutMs
	if resp.DivergingEpoch.Epoch >= 0 {
		if resp.DivergingEpoch.Epoch > n.state.Epoch || resp.DivergingEpoch.EndOffset < 0 {
			n.fetch.nextMs = nowMs + n.cfg.RetryBackoffMs
			return fmt.Errorf("%w: diverging epoch %+v from leader %d of epoch %d", ErrInvalidMessage, resp.DivergingEpoch, m.From, n.state.Epoch)
		}
		to := TruncationOffset(n.log, resp.DivergingEpoch)
		if to < n.hw {
			panic(fmt.Sprintf("quorum: invariant: node %d told to truncate to %d, below its high watermark %d (diverging %+v)", n.cfg.ID, to, n.hw, resp.DivergingEpoch))
		}
		if to < n.log.EndOffset() {
			if err := n.log.TruncateTo(to); err != nil {
				return n.fail(fmt.Errorf("quorum: truncate to %d on diverging epoch %+v: %w", to, resp.DivergingEpoch, err))
			}
			// An epoch's end is a batch boundary on both logs (a batch has one epoch, and the
			// logs match below the common epoch's end, boundaries included).
			if end := n.log.EndOffset(); end != to {
				panic(fmt.Sprintf("quorum: invariant: divergence truncation at a batch boundary: node %d truncated to %d, its log ends at %d", n.cfg.ID, to, end))
			}
		}
		n.maybeSendFetch(nowMs)
		return nil
	}
	if resp.SnapshotID.Epoch >= 0 {
		return n.startSnapshotFetch(nowMs, m.From, resp.SnapshotID)
	}
	if resp.BaseOffset != n.log.EndOffset() {
		n.maybeSendFetch(nowMs) // cannot happen with one fetch outstanding; fetch again
		return nil
	}
	last := n.log.LastEpoch()
	for i, e := range resp.Entries {
		if e.Epoch < last || e.Epoch > n.state.Epoch {
			n.fetch.nextMs = nowMs + n.cfg.RetryBackoffMs
			return fmt.Errorf("%w: entry %d of epoch %d after epoch %d from leader %d of epoch %d", ErrInvalidMessage, resp.BaseOffset+record.Offset(i), e.Epoch, last, m.From, n.state.Epoch)
		}
		last = e.Epoch
	}
	if err := checkBatches(resp.Entries); err != nil {
		n.fetch.nextMs = nowMs + n.cfg.RetryBackoffMs
		return fmt.Errorf("%w: fetch answer at %d from leader %d: %w", ErrInvalidMessage, resp.BaseOffset, m.From, err)
	}
	// The leader's high watermark holds for this log up to its end: the fetch position was
	// validated against the leader's log and the entries above it are the leader's, batch
	// boundaries included. It is a boundary of the leader's log, so of this one; where it
	// falls among the entries just fetched, that is checked.
	hw := min(resp.HighWatermark, resp.BaseOffset+record.Offset(len(resp.Entries)))
	if i := hw - resp.BaseOffset; i > 0 && i < record.Offset(len(resp.Entries)) && resp.Entries[i-1].MoreInBatch {
		n.fetch.nextMs = nowMs + n.cfg.RetryBackoffMs
		return fmt.Errorf("%w: high watermark %d inside a batch of the fetch answer at %d from leader %d", ErrInvalidMessage, resp.HighWatermark, resp.BaseOffset, m.From)
	}
	if len(resp.Entries) > 0 {
		if err := n.log.Append(resp.Entries); err != nil {
			return n.fail(fmt.Errorf("quorum: append %d fetched entries at %d: %w", len(resp.Entries), resp.BaseOffset, err))
		}
		n.out.Flush = true
	}
	if hw > n.hw {
		n.hw = hw
	}
	n.maybeSendFetch(nowMs)
	return nil
}
