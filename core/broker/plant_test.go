package broker

import (
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/config"
)

// The planted bugs of core/broker do what they say; the simulator's tests show they are caught.

// plantedHarness is idempotentHarness (topic r, producer id 0) with bug planted, or none.
func plantedHarness(t *testing.T, bug buggify.Bug) *harness {
	t.Helper()
	var b *buggify.B
	if bug != "" {
		b = buggify.New(rand.New(rand.NewPCG(1, 1)), buggify.Options{EnableOneIn: 1 << 30, FireOneIn: 1, Planted: []buggify.Bug{bug}})
	}
	return newHarnessBuggify(t, func(*config.BrokerConfig) {}, b)
}

// produceUnsynced sends an acks=-1 produce of 2 records to r/0 and returns the Ready, leaving
// its sync unrun.
func produceUnsynced(t *testing.T, h *harness) Ready {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 30000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "r"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = makeBatch(t, 2, 10, h.now.WallMs, 0)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return sendQuiet(t, h, 1, 11, req)
}

func TestPlantedAckBeforeFsync(t *testing.T) {
	for _, bug := range []buggify.Bug{"", buggify.BugAckBeforeFsync} {
		h := plantedHarness(t, bug)
		rd := produceUnsynced(t, h)
		if answered := len(rd.Responses) == 1; answered != (bug != "") {
			t.Errorf("planted %q: produce answered before its sync: %v", bug, answered)
		}
	}
}

func TestPlantedServeAboveHW(t *testing.T) {
	for _, bug := range []buggify.Bug{"", buggify.BugServeAboveHW} {
		h := plantedHarness(t, bug)
		produceUnsynced(t, h)
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxBytes = -1, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "r"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = 1<<20, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		rd := sendQuiet(t, h, 2, 12, req)
		if len(rd.Responses) != 1 {
			t.Fatalf("planted %q: fetch not answered", bug)
		}
		resp := rd.Responses[0].Body.(*kmsg.FetchResponse)
		if hw := resp.Topics[0].Partitions[0].HighWatermark; hw != 0 {
			t.Fatalf("planted %q: high watermark %d before any sync", bug, hw)
		}
		if served := len(rd.Responses[0].Reads) > 0 && rd.Responses[0].Reads[0].Plan.SizeBytes > 0; served != (bug != "") {
			t.Errorf("planted %q: unsynced records served: %v", bug, served)
		}
	}
}

func TestPlantedLoseProducerState(t *testing.T) {
	for _, bug := range []buggify.Bug{"", buggify.BugLoseProducerState} {
		h := plantedHarness(t, bug)
		if p := produceIdempotent(t, h, 0, 0, 0, 2); p.ErrorCode != 0 || p.BaseOffset != 0 {
			t.Fatalf("planted %q: first produce %+v", bug, p)
		}
		h = h.restart(true)
		h.syncAll()
		// The retry of an acknowledged batch is a duplicate, answered with its offset, unless
		// the producer state was lost and the batch is appended again.
		p := produceIdempotent(t, h, 0, 0, 0, 2)
		if duplicate := p.ErrorCode == 0 && p.BaseOffset == 0; duplicate == (bug != "") {
			t.Errorf("planted %q: retry after restart answered %+v", bug, p)
		}
	}
}
