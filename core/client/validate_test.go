package client_test

import (
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/core/record"
)

// epochEndResponse answers an OffsetForLeaderEpoch request for one partition.
func epochEndResponse(req *kmsg.OffsetForLeaderEpochRequest, code int16, epoch int32, end int64) *kmsg.OffsetForLeaderEpochResponse {
	resp := kmsg.NewPtrOffsetForLeaderEpochResponse()
	t := kmsg.NewOffsetForLeaderEpochResponseTopic()
	t.Topic = req.Topics[0].Topic
	p := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
	p.Partition, p.ErrorCode, p.LeaderEpoch, p.EndOffset = req.Topics[0].Partitions[0].Partition, code, epoch, end
	t.Partitions = append(t.Partitions, p)
	resp.Topics = append(resp.Topics, t)
	return resp
}

// TestFetchFromValidatesPosition: a position last valid at another leader epoch is validated
// with OffsetForLeaderEpoch first (KIP-320). An end offset below it is a truncation: the fetch
// reads from there and says so; one at or above it lets the fetch read from the position. A
// position valid at the current epoch, or one from a reset, is read at once; so is every one
// with the validation planted away.
func TestFetchFromValidatesPosition(t *testing.T) {
	s, leader := fetchSetup(t) // leader epoch 4
	first := s.next(leader, 1)
	s.answer(leader, first, fetchResponse(first.Body.(*kmsg.FetchRequest), 0, 3, 0, nil))

	// Position 5 after a record of epoch 1, last valid at leader epoch 3: validated.
	id, r := s.c.FetchFrom("t", 0, check.Position{Offset: 5, OffsetEpoch: 1, LeaderEpoch: 3}, s.nowNs)
	s.take(r)
	req := s.next(leader, 23)
	oreq := req.Body.(*kmsg.OffsetForLeaderEpochRequest)
	if p := oreq.Topics[0].Partitions[0]; oreq.ReplicaID != -1 || p.CurrentLeaderEpoch != 4 || p.LeaderEpoch != 1 {
		t.Fatalf("OffsetForLeaderEpoch v%d %+v partition %+v", req.Header.APIVersion, oreq, p)
	}
	s.answer(leader, req, epochEndResponse(oreq, 0, 1, 3)) // epoch 1 ends at 3: truncated below 5
	req = s.next(leader, 1)
	if off := req.Body.(*kmsg.FetchRequest).Topics[0].Partitions[0].FetchOffset; off != 3 {
		t.Fatalf("fetch after the truncation from %d, want 3", off)
	}
	s.answer(leader, req, fetchResponse(req.Body.(*kmsg.FetchRequest), 0, 5, 0, appendTestBatch(t, nil, 3, record.CodecNone, false, "n3", "n4")))
	got := s.op(id)
	want := check.Position{Offset: 5, OffsetEpoch: 1, LeaderEpoch: 4}
	if got.Outcome != check.OutcomeOK || got.FetchOffset != 3 || got.DivergedFrom != 5 || got.Position == nil || *got.Position != want || len(got.Records) != 2 {
		t.Fatalf("truncated fetch: %+v, position %+v", got, got.Position)
	}

	// Valid at the current epoch: no validation.
	id, r = s.c.FetchFrom("t", 0, want, s.nowNs)
	s.take(r)
	req = s.next(leader, 1)
	s.answer(leader, req, fetchResponse(req.Body.(*kmsg.FetchRequest), 0, 5, 0, nil))
	if got := s.op(id); got.Outcome != check.OutcomeOK || got.DivergedFrom != 0 || *got.Position != want {
		t.Fatalf("fetch at a valid position: %+v", got)
	}

	// Validated with an end offset above the position: read from the position.
	id, r = s.c.FetchFrom("t", 0, check.Position{Offset: 5, OffsetEpoch: 1, LeaderEpoch: 2}, s.nowNs)
	s.take(r)
	req = s.next(leader, 23)
	s.answer(leader, req, epochEndResponse(req.Body.(*kmsg.OffsetForLeaderEpochRequest), 0, 1, 7))
	req = s.next(leader, 1)
	if off := req.Body.(*kmsg.FetchRequest).Topics[0].Partitions[0].FetchOffset; off != 5 {
		t.Fatalf("fetch after a validation from %d, want 5", off)
	}
	s.answer(leader, req, fetchResponse(req.Body.(*kmsg.FetchRequest), 0, 5, 0, nil))
	if got := s.op(id); got.Outcome != check.OutcomeOK || got.DivergedFrom != 0 || *got.Position != want {
		t.Fatalf("validated fetch: %+v", got)
	}

	// A fenced validation refreshes metadata and validates again at the new epoch.
	id, r = s.c.FetchFrom("t", 0, check.Position{Offset: 5, OffsetEpoch: 1, LeaderEpoch: 2}, s.nowNs)
	s.take(r)
	req = s.next(leader, 23)
	s.answer(leader, req, epochEndResponse(req.Body.(*kmsg.OffsetForLeaderEpochRequest), 74, -1, -1)) // FENCED_LEADER_EPOCH
	s.notDone(id)
	s.advance(50_000_000)
	md := s.next(1, 3)
	s.answer(1, md, metadataResponse(map[int32]string{0: "b0:9092"}, "t", topicID, partitionLeader{0, 0, 5}))
	s.advance(50_000_000)
	req = s.next(leader, 23)
	if p := req.Body.(*kmsg.OffsetForLeaderEpochRequest).Topics[0].Partitions[0]; p.CurrentLeaderEpoch != 5 {
		t.Fatalf("validation retried at leader epoch %d, want 5", p.CurrentLeaderEpoch)
	}
	s.answer(leader, req, epochEndResponse(req.Body.(*kmsg.OffsetForLeaderEpochRequest), 0, -1, -1)) // no such epoch
	req = s.next(leader, 1)
	if off := req.Body.(*kmsg.FetchRequest).Topics[0].Partitions[0].FetchOffset; off != 0 {
		t.Fatalf("fetch after an undefined epoch from %d, want 0 (reset to earliest)", off)
	}
	s.answer(leader, req, fetchResponse(req.Body.(*kmsg.FetchRequest), 0, 5, 0, nil))
	if got := s.op(id); got.DivergedFrom != 5 || got.Position.Offset != 0 || got.Position.LeaderEpoch != 5 {
		t.Fatalf("reset fetch: %+v, position %+v", got, got.Position)
	}

	// From a reset (epoch unknown): nothing to validate.
	id, r = s.c.FetchFrom("t", 0, check.StartPosition(2), s.nowNs)
	s.take(r)
	req = s.next(leader, 1)
	s.answer(leader, req, fetchResponse(req.Body.(*kmsg.FetchRequest), 0, 5, 0, nil))
	if got := s.op(id); got.Outcome != check.OutcomeOK || *got.Position != (check.Position{Offset: 2, OffsetEpoch: -1, LeaderEpoch: 5}) {
		t.Fatalf("fetch from a reset position: %+v", got.Position)
	}

	// Planted: a stale position is read from without validation (Kafka before KIP-320).
	planted := buggify.New(rand.New(rand.NewPCG(1, 1)), buggify.Options{EnableOneIn: 1, FireOneIn: 1, Planted: []buggify.Bug{buggify.BugConsumerSkipsValidation}})
	s, leader = fetchSetupWith(t, planted)
	first = s.next(leader, 1)
	s.answer(leader, first, fetchResponse(first.Body.(*kmsg.FetchRequest), 0, 3, 0, nil))
	_, r = s.c.FetchFrom("t", 0, check.Position{Offset: 5, OffsetEpoch: 1, LeaderEpoch: 3}, s.nowNs)
	s.take(r)
	s.next(leader, 1)
}
