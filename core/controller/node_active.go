package controller

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/record"
)

// activeState is the active controller's: the latest image (the committed one with this
// controller's own uncommitted records applied) and the commands waiting for their records to
// commit, in log order.
type activeState struct {
	epoch        record.Epoch
	latest       *metadata.Image
	latestOffset record.Offset // the latest image holds every record below it
	pending      []pendingCommand
	nextTickMs   int64 // when the controller's Tick wants to run; 0 for never
}

// pendingCommand is a command answered once the high watermark reaches commitOffset.
type pendingCommand struct {
	request      kmsg.Request
	conn         *conn
	slot         *slot
	response     kmsg.Response
	commitOffset record.Offset
}

func (a *activeState) forgetConn(cs *conn) {
	kept := a.pending[:0]
	for _, p := range a.pending {
		if p.conn != cs {
			kept = append(kept, p)
		}
	}
	clear(a.pending[len(kept):])
	a.pending = kept
}

// updateActive activates the controller once this node leads and every entry of earlier
// epochs is committed and applied (so the latest image is the committed one), deactivates it
// when leadership is lost, and answers the commands the high watermark has passed. It reports
// whether the controller appended records.
func (n *Node) updateActive() bool {
	if n.ctl == nil {
		return false
	}
	st := n.q.State()
	leading := n.q.Role() == quorum.RoleLeader
	if n.active != nil && (!leading || st.Epoch != n.active.epoch) {
		n.deactivate()
	}
	if n.active == nil {
		if !leading || n.q.HighWatermark() <= n.q.EpochStartOffset() || n.applied != n.log.EndOffset() {
			return false
		}
		n.active = &activeState{epoch: st.Epoch, latest: n.image, latestOffset: n.applied}
		n.ctl.Activate(n.image, n.now.MonotonicMs)
		n.active.nextTickMs = n.now.MonotonicMs
		if _, ok := n.image.FeatureLevel(metadata.MetadataVersionFeature); !ok {
			// A new cluster: its first active controller writes the bootstrap records
			// (metadata.version), as Kafka's writes its bootstrap checkpoint's, before any
			// command is decided on an image without them.
			if _, err := n.propose(metadata.BootstrapRecords(metadata.MetadataVersionDefault)); err != nil {
				n.out.Warnings = append(n.out.Warnings, fmt.Errorf("controller: bootstrap records: %w", err))
				n.deactivate()
				return false
			}
			return true
		}
	}
	hw := n.q.HighWatermark()
	a := n.active
	i := 0
	for ; i < len(a.pending) && a.pending[i].commitOffset <= hw; i++ {
		p := a.pending[i]
		if !p.conn.closed {
			n.finish(p.conn, p.slot, p.response)
		}
	}
	clear(a.pending[:i])
	a.pending = a.pending[i:]
	if a.nextTickMs > 0 && a.nextTickMs <= n.now.MonotonicMs {
		return n.tickActive()
	}
	return false
}

// deactivate ends this node's term as the active controller: commands still waiting are
// answered NOT_CONTROLLER (their records may or may not commit under the next controller;
// the client retries against it, as with Kafka), and the controller forgets its leases.
func (n *Node) deactivate() {
	for _, p := range n.active.pending {
		if !p.conn.closed {
			n.finish(p.conn, p.slot, ErrorResponse(p.request, errNotController))
		}
	}
	n.active = nil
	n.ctl.Deactivate()
}

// tickActive runs the controller's timer work (lease expiry) and appends its records. It
// reports whether records were appended.
func (n *Node) tickActive() bool {
	a := n.active
	if a == nil {
		return false
	}
	records, next := n.ctl.Tick(a.latest, n.now.MonotonicMs)
	a.nextTickMs = next
	if next == NoDeadline {
		a.nextTickMs = 0
	}
	if len(records) == 0 {
		return false
	}
	_, err := n.propose(records)
	if err != nil {
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("controller: timer records: %w", err))
		a.nextTickMs = n.now.MonotonicMs + n.cfg.Quorum.RetryBackoffMs
		return false
	}
	return true
}

// errRequestTimedOut is Kafka's REQUEST_TIMED_OUT (kerr).
const errRequestTimedOut int16 = 7

// errProposalRefused is propose's error for records the latest image does not accept: a
// controller bug, answered UNKNOWN_SERVER_ERROR rather than written.
var errProposalRefused = errors.New("controller: records refused by the latest image")

// propose appends records as one atomic proposal and applies them to the latest image. It
// returns the offset the high watermark must reach for them to be committed.
func (n *Node) propose(records []metadata.Record) (record.Offset, error) {
	a := n.active
	if len(records) == 0 {
		return a.latestOffset, nil
	}
	img, err := a.latest.Apply(records)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errProposalRefused, err)
	}
	data := make([][]byte, len(records))
	for i, r := range records {
		if data[i], err = metadata.EncodeRecord(r); err != nil {
			return 0, fmt.Errorf("%w: encode %s: %w", errProposalRefused, r.Type(), err)
		}
	}
	base, qr, err := n.q.Propose(n.now.MonotonicMs, data)
	if errors.Is(err, quorum.ErrNotLeader) || errors.Is(err, quorum.ErrTooManyUncommitted) || errors.Is(err, quorum.ErrProposalTooLarge) {
		return 0, err
	}
	n.handleQuorum(qr, err)
	if err != nil {
		return 0, err
	}
	end := base + record.Offset(len(data))
	if end != n.log.EndOffset() {
		panic(fmt.Sprintf("controller: invariant: a proposal of %d records at %d left the log end at %d", len(data), base, n.log.EndOffset()))
	}
	a.latest, a.latestOffset = img, end
	return end, nil
}

// command runs one controller command on the active controller and answers it once its
// records commit.
func (n *Node) command(cs *conn, s *slot, req kmsg.Request) {
	if n.ctl == nil || n.active == nil {
		n.finish(cs, s, ErrorResponse(req, errNotController))
		return
	}
	a := n.active
	if len(a.pending) >= n.cfg.PendingCommandsMax {
		n.finish(cs, s, ErrorResponse(req, errRequestTimedOut))
		return
	}
	res, ok := n.dispatch(req)
	if !ok {
		n.finish(cs, s, ErrorResponse(req, errUnsupportedVersion))
		return
	}
	res.Response.SetVersion(req.GetVersion())
	// A command may start a lease to watch (an unfenced broker): the controller's timer work
	// runs again after every command.
	a.nextTickMs = n.now.MonotonicMs
	commit, err := n.propose(res.Records)
	switch {
	case errors.Is(err, quorum.ErrNotLeader):
		n.finish(cs, s, ErrorResponse(req, errNotController))
		return
	case errors.Is(err, quorum.ErrTooManyUncommitted):
		n.finish(cs, s, ErrorResponse(req, errRequestTimedOut))
		return
	case errors.Is(err, quorum.ErrProposalTooLarge):
		// More records than one atomic batch holds (controller.quorum's 10000, Kafka's
		// MAX_RECORDS_PER_BATCH): refused whole, as an oversized request.
		n.finish(cs, s, ErrorResponse(req, errPolicyViolation))
		return
	case errors.Is(err, errProposalRefused):
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("controller: %s: %w", kmsg.NameForKey(req.Key()), err))
		n.finish(cs, s, ErrorResponse(req, errUnknownServerError))
		return
	case err != nil:
		return // fatal: the node has failed
	}
	// A command without records waits too: its answer may rest on records not yet committed.
	if commit <= n.q.HighWatermark() {
		n.finish(cs, s, res.Response)
		return
	}
	a.pending = append(a.pending, pendingCommand{request: req, conn: cs, slot: s, response: res.Response, commitOffset: commit})
}
