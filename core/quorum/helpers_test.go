package quorum

import (
	"math/rand/v2"
	"testing"

	"github.com/weirdata/weir/core/record"
)

// testNode drives one Node by hand: it persists each Ready's State, keeps its messages, and
// flushes only when told.
type testNode struct {
	t         *testing.T
	n         *Node
	log       *memLog
	persisted State
	nowMs     int64
	flushes   []int
	sent      []Message // messages of the last call
	initial   []Message // messages of the first Tick
}

func newTestNode(t *testing.T, id NodeID, voters []NodeID, log *memLog, persisted State) *testNode {
	t.Helper()
	return newPlantedTestNode(t, id, voters, log, persisted, bugNone)
}

func newPlantedTestNode(t *testing.T, id NodeID, voters []NodeID, log *memLog, persisted State, b bug) *testNode {
	t.Helper()
	if log == nil {
		log = newMemLog()
	}
	cfg := testConfig(id, voters)
	cfg.bug = b
	n, err := New(cfg, log, persisted, testRand(id), 0)
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{t: t, n: n, log: log, persisted: persisted}
	tn.apply(n.Tick(0))
	tn.initial = tn.sent
	return tn
}

func (tn *testNode) apply(r Ready, err error) Ready {
	tn.t.Helper()
	if err != nil {
		tn.t.Fatalf("node %d: %v", tn.n.cfg.ID, err)
	}
	if r.State != nil {
		tn.persisted = *r.State
	}
	if st := tn.n.State(); st.Epoch != tn.persisted.Epoch || st.VotedFor != tn.persisted.VotedFor {
		tn.t.Fatalf("node %d acts on %v, persisted %v", tn.n.cfg.ID, st, tn.persisted)
	}
	if r.Flush {
		tn.flushes = append(tn.flushes, tn.log.startFlush())
	}
	tn.sent = r.Messages
	return r
}

func (tn *testNode) step(from NodeID, correlationID int32, body Body) Ready {
	tn.t.Helper()
	return tn.apply(tn.n.Step(tn.nowMs, Message{From: from, To: tn.n.cfg.ID, CorrelationID: correlationID, Body: body}))
}

// deliver hands m (sent by another node) to this one.
func (tn *testNode) deliver(m Message) Ready {
	tn.t.Helper()
	return tn.apply(tn.n.Step(tn.nowMs, m))
}

func (tn *testNode) tickAt(nowMs int64) Ready {
	tn.t.Helper()
	tn.nowMs = nowMs
	return tn.apply(tn.n.Tick(nowMs))
}

// flush completes every flush started and tells the node.
func (tn *testNode) flush() Ready {
	tn.t.Helper()
	for _, id := range tn.flushes {
		tn.log.completeFlush(id)
	}
	tn.flushes = nil
	return tn.apply(tn.n.Flushed(tn.nowMs))
}

func (tn *testNode) propose(data ...string) record.Offset {
	tn.t.Helper()
	var d [][]byte
	for _, s := range data {
		d = append(d, []byte(s))
	}
	o, r, err := tn.n.Propose(tn.nowMs, d)
	tn.apply(r, err)
	return o
}

// only returns the single message of type T sent to `to` by the last call.
func only[T Body](t *testing.T, msgs []Message, to NodeID) (Message, T) {
	t.Helper()
	var found []Message
	for _, m := range msgs {
		if _, ok := m.Body.(T); ok && m.To == to {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want one %T to %d, got %d in %+v", zero, to, len(found), msgs)
	}
	return found[0], found[0].Body.(T)
}

func count[T Body](msgs []Message) int {
	c := 0
	for _, m := range msgs {
		if _, ok := m.Body.(T); ok {
			c++
		}
	}
	return c
}

// logOf builds a memLog whose entries have the given epochs.
func logOf(epochs ...record.Epoch) *memLog {
	l := newMemLog()
	for i, e := range epochs {
		if err := l.Append([]Entry{{Epoch: e, Data: []byte{byte(i)}}}); err != nil {
			panic(err)
		}
	}
	l.durable = l.EndOffset()
	return l
}

var voters3 = []NodeID{1, 2, 3}

// electLeader makes node 1 of voters3 the leader of epoch 1 over log l, by hand; the log's
// entries must be of epoch 0 (none) — use electLeaderAfter for older entries.
func electLeader(t *testing.T, l *memLog) *testNode {
	t.Helper()
	return electLeaderAfter(t, l, 0)
}

// electLeaderAfter makes node 1 of voters3 the leader of epoch+1 over log l.
func electLeaderAfter(t *testing.T, l *memLog, epoch record.Epoch) *testNode {
	t.Helper()
	return electPlanted(t, 1, l, epoch, bugNone)
}

// electPlanted makes node id of voters3, with bug b planted, the leader of epoch+1 over log l.
func electPlanted(t *testing.T, id NodeID, l *memLog, epoch record.Epoch, b bug) *testNode {
	t.Helper()
	tn := newPlantedTestNode(t, id, voters3, l, State{Epoch: epoch, VotedFor: NoNode, LeaderID: NoNode}, b)
	other := NodeID(1 + id%3)
	tn.tickAt(2 * tn.n.cfg.ElectionTimeoutMs) // past any election timeout: pre-vote
	m, req := only[*VoteRequest](t, tn.sent, other)
	if !req.PreVote {
		t.Fatalf("first round is not a pre-vote: %+v", req)
	}
	tn.step(other, m.CorrelationID, &VoteResponse{LeaderID: NoNode, LeaderEpoch: epoch, VoteGranted: true})
	m, req = only[*VoteRequest](t, tn.sent, other)
	if req.PreVote || req.CandidateEpoch != epoch+1 {
		t.Fatalf("want a vote request for epoch %d, got %+v", epoch+1, req)
	}
	tn.step(other, m.CorrelationID, &VoteResponse{LeaderID: NoNode, LeaderEpoch: epoch + 1, VoteGranted: true})
	if tn.n.Role() != RoleLeader {
		t.Fatalf("node %d is %v, want leader", id, tn.n.Role())
	}
	return tn
}

// zeroRand is a PRNG for crashes that keep none of the unflushed entries.
func zeroRand() *rand.Rand { return rand.New(zeroSource{}) }

type zeroSource struct{}

func (zeroSource) Uint64() uint64 { return 0 }

// testRand is node id's PRNG in hand-driven tests.
func testRand(id NodeID) *rand.Rand { return rand.New(rand.NewPCG(uint64(id), 7)) }

// deliverAndTake hands m to the node and returns its single answer.
func (tn *testNode) deliverAndTake(t *testing.T, m Message) Message {
	t.Helper()
	tn.deliver(m)
	if len(tn.sent) != 1 {
		t.Fatalf("node %d answered %v with %+v", tn.n.cfg.ID, fmtBody(m.Body), tn.sent)
	}
	return tn.sent[0]
}
