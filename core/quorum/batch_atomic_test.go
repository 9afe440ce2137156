package quorum

import (
	"errors"
	"testing"

	"github.com/weirdata/weir/core/record"
)

// Tests of batch atomicity at one node: a proposal is one batch, the leader's high watermark
// never stops inside one, fetch answers carry whole batches with the leader's timestamps, and
// a follower refuses an answer that would cut one.

// okFetchResponse is a leader's answer of epoch 1 at base with entries.
func okFetchResponse(hw, base record.Offset, entries []Entry) *FetchResponse {
	return &FetchResponse{
		HighWatermark: hw, DivergingEpoch: EpochEndOffset{Epoch: -1}, SnapshotID: EpochEndOffset{Epoch: -1},
		CurrentLeader: LeaderAndEpoch{LeaderID: 1, LeaderEpoch: 1}, BaseOffset: base, Entries: entries,
	}
}

func TestProposalIsOneBatch(t *testing.T) {
	tn := electLeader(t, logOf())
	tn.log.wallMs = 1_700_000_000_123
	o := tn.propose("a", "b", "c")
	got := tn.log.visible()[o:]
	if len(got) != 3 {
		t.Fatalf("log after the proposal: %s", fmtEntries(tn.log.visible()))
	}
	for i, e := range got {
		if e.MoreInBatch != (i < 2) || e.TimestampMs != 1_700_000_000_123 || e.Epoch != 1 {
			t.Fatalf("entry %d of the proposal: %+v", i, e)
		}
	}
	// The LeaderChange before it is a batch of its own.
	if lc := tn.log.visible()[0]; !lc.Control || lc.MoreInBatch {
		t.Fatalf("LeaderChange entry %+v", lc)
	}
}

func TestLeaderHighWatermarkAtBatchBoundary(t *testing.T) {
	tn := electLeader(t, logOf())
	tn.flush()
	tn.step(2, 1, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 1, FetchOffset: 1, LastFetchedEpoch: 1, MaxEntries: 10})
	if tn.n.HighWatermark() != 1 {
		t.Fatalf("HW %d, want 1", tn.n.HighWatermark())
	}
	tn.propose("a", "b", "c") // the batch [1, 4)
	// A partial writeback made the leader durable to 3, inside the batch, and follower 2 has
	// all of it: the majority offset is 3, but the HW stays at the boundary 1.
	tn.log.durable = 3
	tn.apply(tn.n.Flushed(tn.nowMs))
	tn.step(2, 2, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 1, FetchOffset: 4, LastFetchedEpoch: 1, MaxEntries: 10})
	if tn.n.HighWatermark() != 1 {
		t.Fatalf("HW %d inside the batch [1, 4)", tn.n.HighWatermark())
	}
	if r := tn.flush(); r.HighWatermark != 4 {
		t.Fatalf("HW %d once the batch is durable, want 4", r.HighWatermark)
	}
}

func TestFetchAnswerCarriesWholeBatches(t *testing.T) {
	tn := electLeader(t, logOf())
	tn.log.wallMs = 42
	tn.propose("a", "b", "c", "d", "e") // [1, 6)
	tn.log.wallMs = 43
	tn.propose("f") // [6, 7)
	for _, c := range []struct {
		maxEntries int32
		want       string
		lastTsMs   int64
	}{
		{1, "[1:(a b c d e)]", 42}, // at least one whole batch, however large
		{5, "[1:(a b c d e)]", 42}, // the next batch would pass the bound
		{6, "[1:(a b c d e) 1:f]", 43},
	} {
		tn.step(2, c.maxEntries, &FetchRequest{ReplicaID: 2, CurrentLeaderEpoch: 1, FetchOffset: 1, LastFetchedEpoch: 1, MaxEntries: c.maxEntries})
		_, resp := only[*FetchResponse](t, tn.sent, 2)
		if got := fmtEntries(resp.Entries); got != c.want || resp.BaseOffset != 1 {
			t.Fatalf("max entries %d: answer at %d %s, want %s", c.maxEntries, resp.BaseOffset, got, c.want)
		}
		if resp.Entries[0].TimestampMs != 42 || resp.Entries[len(resp.Entries)-1].TimestampMs != c.lastTsMs {
			t.Fatalf("the answer does not carry the leader's timestamps: %+v", resp.Entries)
		}
	}
}

func TestFollowerStoresTheLeadersBatches(t *testing.T) {
	tn := newTestNode(t, 2, voters3, logOf(), State{Epoch: 1, VotedFor: 1, LeaderID: 1})
	tn.log.wallMs = 9_999 // the follower's own clock never stamps the leader's batches
	m, _ := only[*FetchRequest](t, tn.initial, 1)
	entries := []Entry{
		{Epoch: 1, Control: true, TimestampMs: 100},
		{Epoch: 1, Data: []byte("a"), MoreInBatch: true, TimestampMs: 200}, {Epoch: 1, Data: []byte("b"), TimestampMs: 200},
	}
	tn.step(1, m.CorrelationID, okFetchResponse(3, 0, entries))
	if !entriesEqual(tn.log.visible(), entries) || tn.n.HighWatermark() != 3 {
		t.Fatalf("follower log %+v hw %d, want the leader's batches %+v", tn.log.visible(), tn.n.HighWatermark(), entries)
	}
}

func TestFollowerRefusesCutBatches(t *testing.T) {
	for name, c := range map[string]struct {
		hw      record.Offset
		entries []Entry
	}{
		"ends inside a batch": {1, []Entry{{Epoch: 1, Control: true}, {Epoch: 1, Data: []byte("a"), MoreInBatch: true}}},
		"hw inside a batch": {2, []Entry{
			{Epoch: 1, Control: true}, {Epoch: 1, Data: []byte("a"), MoreInBatch: true}, {Epoch: 1, Data: []byte("b")},
		}},
		"batch of two epochs":     {1, []Entry{{Epoch: 0, MoreInBatch: true}, {Epoch: 1}}},
		"batch of two timestamps": {1, []Entry{{Epoch: 1, Control: true}, {Epoch: 1, MoreInBatch: true, TimestampMs: 1}, {Epoch: 1, TimestampMs: 2}}},
	} {
		t.Run(name, func(t *testing.T) {
			tn := newTestNode(t, 2, voters3, logOf(), State{Epoch: 1, VotedFor: 1, LeaderID: 1})
			m, _ := only[*FetchRequest](t, tn.initial, 1)
			_, err := tn.n.Step(tn.nowMs, Message{From: 1, To: 2, CorrelationID: m.CorrelationID, Body: okFetchResponse(c.hw, 0, c.entries)})
			if !errors.Is(err, ErrInvalidMessage) || tn.log.EndOffset() != 0 || tn.n.HighWatermark() != 0 {
				t.Fatalf("error %v, log end %d, hw %d: want the answer refused whole", err, tn.log.EndOffset(), tn.n.HighWatermark())
			}
		})
	}
}
