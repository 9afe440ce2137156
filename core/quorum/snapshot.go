package quorum

import (
	"errors"
	"fmt"
)

// Snapshot transfer (KIP-630): a follower whose fetch position is below the leader's log start
// fetches the leader's latest snapshot in chunks with FetchSnapshot, then restarts its log at
// the snapshot's end and fetches on from there.

// snapshotFetch is a follower's snapshot transfer in progress.
type snapshotFetch struct {
	id       EpochEndOffset
	position int64 // bytes written so far
	size     int64 // -1 until the first chunk says
}

// startSnapshotFetch begins fetching snapshot id from the leader.
func (n *Node) startSnapshotFetch(nowMs int64, leader NodeID, id EpochEndOffset) error {
	if id.EndOffset <= 0 || id.Epoch > n.state.Epoch {
		n.fetch.nextMs = nowMs + n.cfg.RetryBackoffMs
		return fmt.Errorf("%w: snapshot id %+v from leader %d of epoch %d", ErrInvalidMessage, id, leader, n.state.Epoch)
	}
	if id.EndOffset < n.hw {
		panic(fmt.Sprintf("quorum: invariant: node %d sent snapshot %+v, below its high watermark %d", n.cfg.ID, id, n.hw))
	}
	n.fetch.snapshot = &snapshotFetch{id: id, position: 0, size: -1}
	n.maybeSendFetch(nowMs)
	return nil
}

func (n *Node) handleFetchSnapshotRequest(nowMs int64, m Message, req *FetchSnapshotRequest) error {
	reply := func(code int16) *FetchSnapshotResponse {
		resp := &FetchSnapshotResponse{
			ErrorCode: code, SnapshotID: req.SnapshotID, Size: -1, Position: -1,
			CurrentLeader: LeaderAndEpoch{LeaderID: n.knownLeader(), LeaderEpoch: n.state.Epoch},
		}
		n.send(m.From, m.CorrelationID, resp)
		return resp
	}
	if req.ReplicaID != m.From || req.Position < 0 {
		reply(ErrInvalidRequest)
		return fmt.Errorf("%w: fetch-snapshot %+v from %d", ErrInvalidMessage, *req, m.From)
	}
	switch {
	case req.CurrentLeaderEpoch > n.state.Epoch:
		n.maybeAdoptEpoch(nowMs, req.CurrentLeaderEpoch, NoNode)
		reply(ErrUnknownLeaderEpoch)
		return nil
	case req.CurrentLeaderEpoch < n.state.Epoch:
		reply(ErrFencedLeaderEpoch)
		return nil
	case n.role != RoleLeader:
		reply(ErrNotLeaderOrFollower)
		return nil
	}
	if n.isVoter(req.ReplicaID) {
		n.progress.Contact(req.ReplicaID, nowMs)
	}
	limit := min(max(req.MaxBytes, 1), n.cfg.SnapshotChunkBytesMax)
	data, size, err := n.log.ReadSnapshot(req.SnapshotID, req.Position, limit)
	if errors.Is(err, ErrNoSnapshot) {
		reply(ErrSnapshotNotFound) // deleted since: fetch again to learn the latest
		return nil
	}
	if err != nil {
		return n.fail(fmt.Errorf("quorum: read snapshot %+v at %d for node %d: %w", req.SnapshotID, req.Position, m.From, err))
	}
	if req.Position > size {
		reply(ErrPositionOutOfRange)
		return nil
	}
	resp := reply(ErrNone)
	resp.Size, resp.Position, resp.Bytes = size, req.Position, data
	return nil
}

func (n *Node) handleFetchSnapshotResponse(nowMs int64, m Message, resp *FetchSnapshotResponse) error {
	if n.maybeAdoptEpoch(nowMs, resp.CurrentLeader.LeaderEpoch, resp.CurrentLeader.LeaderID) {
		return nil
	}
	s := n.fetch.snapshot
	if !n.fetching() || s == nil || !n.fetch.inFlight || m.From != n.fetch.target || m.CorrelationID != n.fetch.correlationID {
		return nil
	}
	n.fetch.inFlight = false
	n.fetch.nextMs = nowMs
	if resp.ErrorCode != ErrNone || resp.CurrentLeader.LeaderEpoch != n.state.Epoch {
		// The leader changed, or replaced the snapshot: fetch again from the log end and let
		// the answer say what is needed now.
		n.fetch.snapshot = nil
		n.fetch.nextMs = nowMs + n.cfg.RetryBackoffMs
		return nil
	}
	n.leaderContactMs = nowMs
	n.fetchDeadlineMs = nowMs + n.cfg.FetchTimeoutMs
	size := resp.Size
	if resp.SnapshotID != s.id || resp.Position != s.position || size < 0 || size > n.cfg.SnapshotBytesMax ||
		s.size >= 0 && size != s.size || resp.Position+int64(len(resp.Bytes)) > size ||
		len(resp.Bytes) == 0 && resp.Position < size {
		n.fetch.snapshot = nil
		n.fetch.nextMs = nowMs + n.cfg.RetryBackoffMs
		return fmt.Errorf("%w: snapshot chunk %+v at %d (size %d) from %d, want %+v at %d", ErrInvalidMessage, resp.SnapshotID, resp.Position, size, m.From, s.id, s.position)
	}
	s.size = size
	if len(resp.Bytes) > 0 {
		if err := n.log.WriteSnapshotChunk(s.id, s.position, resp.Bytes); err != nil {
			return n.fail(fmt.Errorf("quorum: write snapshot %+v at %d: %w", s.id, s.position, err))
		}
		s.position += int64(len(resp.Bytes))
	}
	if s.position == s.size {
		if err := n.log.InstallSnapshot(s.id, s.size); err != nil {
			return n.fail(fmt.Errorf("quorum: install snapshot %+v of %d bytes: %w", s.id, s.size, err))
		}
		// A snapshot holds committed entries only: its end is committed.
		n.hw = max(n.hw, s.id.EndOffset)
		n.fetch.snapshot = nil
	}
	n.maybeSendFetch(nowMs)
	return nil
}
