package broker

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/diskio"
)

// A leader learns that its own log is damaged from a read plan the driver served short
// (ReadCut). Found by sim seed 20017 (3 brokers, RF=3): a bit flip in the leader's only copy
// of an unreplicated batch left every follower fetching it forever; the leader, later
// re-elected with that batch below its epoch start, never reached the epoch start again and
// answered every consumer fetch OFFSET_NOT_AVAILABLE for good.

// garbleBatchAt damages the records of broker id's batch holding offset (on its disk), so
// that the batch fails its CRC while its header still makes sense.
func garbleBatchAt(t *testing.T, c *replicaCluster, id int32, offset record.Offset) {
	t.Helper()
	l, ok := c.broker(id).node.Log(tpA)
	if !ok {
		t.Fatalf("broker %d has no log of a", id)
	}
	plan, err := l.Read(offset, 1<<20, l.EndOffset(), true)
	if err != nil || len(plan.Ranges) == 0 {
		t.Fatalf("broker %d: read at %d: %+v %v", id, offset, plan, err)
	}
	f, err := c.broker(id).fs.OpenReadWrite(plan.Ranges[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte{0xff, 0x00, 0xff}, plan.Ranges[0].Position+record.HeaderSizeBytes+2); err != nil {
		t.Fatal(err)
	}
}

func produceAnswerCode(t *testing.T, r kmsg.Response) int16 {
	t.Helper()
	resp, ok := r.(*kmsg.ProduceResponse)
	if !ok || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce answer: %+v", r)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// Damage above the high watermark and the epoch start is the leader's own uncommitted
// records: the log is cut there and the leader goes on. The acks=all produce waiting for them
// fails (KAFKA_STORAGE_ERROR, retriable), a follower holding a sound copy finds itself
// diverged and truncates to the cut, and later records commit from the cut on.
func TestLeaderCutsItsOwnDamagedUncommittedRecords(t *testing.T) {
	c := newReplicatedA(t, 10)
	c.broker(3).stopped = true // the ISR keeps broker 3 for replica.lag.time.max.ms: no commit
	corr := c.request(1, 9, produceRequest(t, -1, 5))
	c.advanceUntil(5000, "broker 2 has the uncommitted records", func() bool {
		l, _ := c.broker(2).node.Log(tpA)
		return l.EndOffset() == 15
	})
	if _, answered := c.answers[corr]; answered {
		t.Fatal("the acks=all produce was answered while broker 3 holds the high watermark")
	}
	b1 := c.broker(1)
	l1, _ := b1.node.Log(tpA)
	if hw := b1.node.highWatermark(tpA, l1); hw != 10 {
		t.Fatalf("high watermark %d, want 10", hw)
	}
	garbleBatchAt(t, c, 1, 10)

	// A cut elsewhere finds nothing (a race with a truncation, say): nothing changes.
	c.handle(b1, b1.node.ReadCut(c.now, tpA, 3))
	if l1.EndOffset() != 15 {
		t.Fatalf("a cut at a sound batch changed the log end to %d", l1.EndOffset())
	}
	rd := b1.node.ReadCut(c.now, tpA, 10)
	if len(rd.Warnings) == 0 || !strings.Contains(rd.Warnings[0].Error(), "cut the log at 10") {
		t.Fatalf("warnings %v", rd.Warnings)
	}
	c.handle(b1, rd)
	c.run()
	if l1.EndOffset() != 10 {
		t.Fatalf("leader's log end %d after the cut, want 10", l1.EndOffset())
	}
	if code := produceAnswerCode(t, c.answer(corr, 0)); code != errKafkaStorageError {
		t.Fatalf("the produce of the cut records: %s, want KAFKA_STORAGE_ERROR", errName(code))
	}
	if epochs := l1.EpochEntries(); len(epochs) == 0 || epochs[len(epochs)-1].Epoch != 0 {
		t.Fatalf("leader's epochs after the cut: %v", epochs)
	}
	c.advanceUntil(5000, "broker 2 truncated to the cut", func() bool {
		l, _ := c.broker(2).node.Log(tpA)
		return l.EndOffset() == 10
	})

	// Broker 3 comes back: new records commit from the cut on.
	c.broker(3).stopped = false
	corr = c.request(1, 9, produceRequest(t, -1, 2))
	if code := produceAnswerCode(t, c.answer(corr, 60_000)); code != errNone {
		t.Fatalf("a produce after the cut: %s", errName(code))
	}
	if l1.EndOffset() != 12 {
		t.Fatalf("log end %d after producing 2 more, want 12", l1.EndOffset())
	}
	c.advanceUntil(60_000, "every replica holds the leader's records", func() bool {
		for id := int32(2); id <= 3; id++ {
			if l, _ := c.broker(id).node.Log(tpA); l.EndOffset() != 12 {
				return false
			}
		}
		return true
	})
}

// Damage below the high watermark is committed records this leader no longer holds: with
// other ISR members to take over, it cuts them and stops (a Fatal), its log dirs marked so that
// the next start registers as back from an unclean restart (PreviousBrokerEpoch -1): the
// controller then takes it out of every ISR and ELR. The marker outlives one start: the broker
// epoch files are gone until a registration writes them again.
func TestLeaderStopsOnDamagedCommittedRecords(t *testing.T) {
	c := newReplicatedA(t, 10)
	b1 := c.broker(1)
	garbleBatchAt(t, c, 1, 4)
	rd := b1.node.ReadCut(c.now, tpA, 4)
	if rd.Fatal == nil || !strings.Contains(rd.Fatal.Error(), "unclean restart") {
		t.Fatalf("fatal %v, want a stop for an unclean restart", rd.Fatal)
	}
	if l, _ := b1.node.Log(tpA); l.EndOffset() > 4 {
		t.Fatalf("log end %d: the damaged records were not cut", l.EndOffset())
	}
	if _, err := b1.fs.Stat(diskio.Join(testLogDir, storage.UncleanRestartFile)); err != nil {
		t.Fatalf("no unclean-restart marker: %v", err)
	}
	if epoch := b1.node.BrokerEpoch(); epoch < 0 {
		t.Fatalf("broker epoch %d", epoch)
	}
	// The checkpoint a driver had in flight writes the epoch file back: the marker still wins.
	if err := diskio.WriteFileAtomic(b1.fs, testLogDir, storage.BrokerEpochFile, storage.EncodeBrokerEpoch(b1.node.BrokerEpoch())); err != nil {
		t.Fatal(err)
	}
	if err := b1.node.logs.Close(); err != nil { // the process is gone
		t.Fatal(err)
	}
	for start := range 2 {
		m, err := storage.OpenManager(b1.fs, storage.ManagerOptions{LogDirs: []string{testLogDir}, NodeID: 1, Random: rand.NewChaCha8([32]byte{9}), NowMs: c.now.WallMs})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.PreviousBrokerEpoch(); got != -1 {
			t.Fatalf("start %d: previous broker epoch %d, want -1 (unclean)", start, got)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := b1.fs.Stat(diskio.Join(testLogDir, storage.UncleanRestartFile)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("start %d: the marker is still there: %v", start, err)
		}
	}
}

// With no other replica to take over (replication factor 1), stopping would only take the
// partition offline: the leader keeps it, says why (once), and cuts nothing below its high
// watermark.
func TestLeaderKeepsDamagedCommittedRecordsWithNoOneToTakeOver(t *testing.T) {
	c := newReplicaCluster(t, 3)
	c.createAssigned("a", []int32{1})
	if code := produceAnswerCode(t, c.answer(c.request(1, 9, produceRequest(t, -1, 10)), 5000)); code != errNone {
		t.Fatalf("produce: %s", errName(code))
	}
	b1 := c.broker(1)
	garbleBatchAt(t, c, 1, 0)
	rd := b1.node.ReadCut(c.now, tpA, 0)
	if rd.Fatal != nil {
		t.Fatalf("stopped with no one to take over: %v", rd.Fatal)
	}
	if len(rd.Warnings) == 0 || !strings.Contains(rd.Warnings[0].Error(), "no other replica") {
		t.Fatalf("warnings %v", rd.Warnings)
	}
	if l, _ := b1.node.Log(tpA); l.EndOffset() != 10 {
		t.Fatalf("log end %d, want 10: committed records cut", l.EndOffset())
	}
	// Every fetch reaching the damage finds it again: it is said once.
	if rd := b1.node.ReadCut(c.now, tpA, 0); len(rd.Warnings) != 0 || rd.Fatal != nil {
		t.Fatalf("the same damage again: warnings %v, fatal %v", rd.Warnings, rd.Fatal)
	}
	if _, err := b1.fs.Stat(diskio.Join(testLogDir, storage.UncleanRestartFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("marked for an unclean restart: %v", err)
	}
}
