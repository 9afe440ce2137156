package quorum

import (
	"slices"
	"testing"

	"github.com/weirdata/weir/core/record"
)

// TestProgress covers the leader's replica bookkeeping as partition replication would use it:
// an ISR of four whose HW needs all four (quorumSize 4), and the majority rule of the quorum.
func TestProgress(t *testing.T) {
	isr := NewProgress(1, []NodeID{4, 1, 3, 2}, 4, 10, 8, 0)
	for _, end := range []record.Offset{11, 12, 16, 20} {
		isr.AppendedBatch(end)
	}
	isr.UpdateLocal(20, 0)
	for id, o := range map[NodeID]int64{2: 15, 3: 12, 4: 18} { //purity:allow-map-range order-free updates
		if !isr.UpdateReplica(id, record.Offset(o), 5) {
			t.Fatalf("replica %d not counted", id)
		}
	}
	if isr.UpdateReplica(9, 30, 5) || isr.UpdateReplica(1, 30, 5) {
		t.Fatal("an uncounted replica or the leader itself updated as a follower")
	}
	if !isr.MaybeAdvance() || isr.HighWatermark() != 12 {
		t.Fatalf("ISR HW %d, want the minimum 12", isr.HighWatermark())
	}
	if o, ok := isr.FetchOffset(4); !ok || o != 18 {
		t.Fatalf("FetchOffset(4) = %d %v", o, ok)
	}
	if _, ok := isr.FetchOffset(9); ok {
		t.Fatal("FetchOffset of an uncounted replica")
	}
	if got := isr.PreferredSuccessors(); !slices.Equal(got, []NodeID{4, 2, 3}) {
		t.Fatalf("successors %v, want most caught up first", got)
	}
	// A replica that truncated an uncommitted suffix moves down; the HW does not.
	isr.UpdateReplica(3, 11, 6)
	if isr.MaybeAdvance() || isr.HighWatermark() != 12 {
		t.Fatalf("HW moved back to %d", isr.HighWatermark())
	}

	q := NewProgress(1, []NodeID{1, 2, 3}, 2, 5, 0, 100)
	if got := q.QuorumContact(200); got != -1 {
		t.Fatalf("quorum contact %d before any fetch, want -1 (never)", got)
	}
	q.UpdateReplica(2, 5, 150)
	q.Contact(3, 180)
	if got := q.QuorumContact(200); got != 180 {
		t.Fatalf("quorum contact %d, want 180 (leader now, then 3 at 180)", got)
	}
	q.UpdateLocal(6, 200)
	if q.MaybeAdvance() {
		t.Fatalf("HW %d at the epoch start 5", q.HighWatermark())
	}
	q.AppendedBatch(6) // the LeaderChange batch at the epoch start
	q.AppendedBatch(9) // a batch [6, 9)
	q.UpdateReplica(2, 6, 210)
	if !q.MaybeAdvance() || q.HighWatermark() != 6 {
		t.Fatalf("HW %d, want 6", q.HighWatermark())
	}
	// The leader's durable offset inside the batch [6, 9) (a partial writeback) counts as its
	// start: the HW never stops inside a batch.
	q.UpdateLocal(8, 220)
	q.UpdateReplica(2, 9, 220)
	if q.MaybeAdvance() || q.HighWatermark() != 6 {
		t.Fatalf("HW %d inside the batch [6, 9)", q.HighWatermark())
	}
	q.UpdateLocal(9, 230)
	if !q.MaybeAdvance() || q.HighWatermark() != 9 {
		t.Fatalf("HW %d, want 9", q.HighWatermark())
	}
	// Planted: the HW follows the majority offset into the batch.
	b := NewProgress(1, []NodeID{1, 2, 3}, 2, 5, 6, 100)
	b.bug = bugHighWatermarkInsideBatch
	b.AppendedBatch(9)
	b.UpdateLocal(8, 110)
	b.UpdateReplica(2, 9, 110)
	if !b.MaybeAdvance() || b.HighWatermark() != 8 {
		t.Fatalf("planted bug: HW %d, want 8", b.HighWatermark())
	}
}
