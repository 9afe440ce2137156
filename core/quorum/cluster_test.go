package quorum

import (
	"container/heap"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/weirdata/weir/core/record"
)

// The randomized cluster test: voters and observers driven through a simulated network (delay,
// loss, reordering across connections, partitions), crashes that lose unflushed log entries and
// Readys not yet executed, restarts and pauses; the safety invariants are checked after every
// event and liveness once the faults stop.

var quorumSeeds = flag.Int("quorum.seeds", 0, "seeds for TestClusterRandomized (default 300, or $QUORUM_SEEDS)")

func seedCount(t *testing.T) int {
	if *quorumSeeds > 0 {
		return *quorumSeeds
	}
	if v := os.Getenv("QUORUM_SEEDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("QUORUM_SEEDS=%q is not a positive count", v)
		}
		return n
	}
	if testing.Short() {
		return 300
	}
	return 3000
}

// faults is one seed's fault model: named probabilities and ranges.
type faults struct {
	lossPerMille       int   // a message is lost
	delayMsMax         int64 // a message takes [1, delayMsMax] ms
	spikePerMille      int   // a message takes up to spikeMsMax more
	spikeMsMax         int64
	crashPerMille      int // per event at a node, the node crashes
	pausePerMille      int // per event at a node, the node pauses
	partitionEveryMs   int64
	flushMsMax         int64
	faultPhaseMs       int64
	proposeEveryMs     int64
	crashInReadyPerMil int   // crash while executing a Ready (before or after persisting)
	snapshotEveryMs    int64 // a node snapshots its committed log and may drop its prefix; 0 never
	writebackPerMille  int   // a completing flush also writes back part of the later appends
	burstMax           int   // proposals the leader gets at once (1..burstMax)
}

func randomFaults(rng *rand.Rand) faults {
	return faults{
		lossPerMille:       rng.IntN(150),
		delayMsMax:         1 + rng.Int64N(40),
		spikePerMille:      rng.IntN(30),
		spikeMsMax:         1 + rng.Int64N(1500),
		crashPerMille:      rng.IntN(4),
		pausePerMille:      rng.IntN(3),
		partitionEveryMs:   500 + rng.Int64N(4000),
		flushMsMax:         1 + rng.Int64N(20),
		faultPhaseMs:       8000 + rng.Int64N(8000),
		proposeEveryMs:     20 + rng.Int64N(200),
		crashInReadyPerMil: rng.IntN(4),
		snapshotEveryMs:    []int64{0, 1000, 3000}[rng.IntN(3)],
	}
}

type eventKind uint8

const (
	evDeliver eventKind = iota
	evTimer
	evFlush
	evRestart
	evUnpause
	evPropose
	evPartition
	evHeal
	evCrash
	evSnapshot
)

type event struct {
	atMs int64
	seq  int64
	kind eventKind
	node NodeID
	msg  Message
	gen  int // timer generation, flush id, or connection generation
}

type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].atMs != q[j].atMs {
		return q[i].atMs < q[j].atMs
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() (x any) { x, *q = (*q)[len(*q)-1], (*q)[:len(*q)-1]; return x }

// simNode is one member as the driver sees it.
type simNode struct {
	id          NodeID
	cfg         Config
	node        *Node // nil while crashed
	log         *memLog
	durable     State
	pausedUntil int64
	timerGen    int
	incarnation int
	hwSeen      record.Offset // HW within this incarnation
	leaderEpoch record.Epoch  // epoch it leads, -1 if not leader
	leaderHW    record.Offset // its HW when it became leader of leaderEpoch
}

type conn struct{ from, to NodeID }

// matchEntry is the prefix hash first seen at an (offset, epoch) and the node whose log had it.
type matchEntry struct {
	hash uint64
	by   NodeID
}

type cluster struct {
	t    *testing.T
	seed uint64
	rng  *rand.Rand
	// batchRng draws proposal sizes, bursts and writebacks.
	batchRng *rand.Rand
	f        faults
	nowMs    int64
	seq      int64
	queue    eventQueue
	nodes    []*simNode
	voters   []NodeID
	bug      bug

	connGen    map[conn]int   // bumped when a connection resets
	connLast   map[conn]int64 // last delivery time (TCP keeps a connection in order)
	cut        map[conn]bool  // partitioned links
	faulty     bool
	proposals  int
	failure    string
	steps      int
	leaderOf   map[record.Epoch]NodeID // the one leader of each epoch
	grants     map[[2]int64]NodeID     // (voter, epoch) → the candidate it granted
	committed  []uint64                // prefix hash of every committed offset
	matchIndex map[[2]int64]matchEntry // (offset, epoch) → prefix hash (log matching)
	elections  int
	// directChecks adds the checks of the rules themselves (state persisted before it is
	// acted on, a leader's HW past its epoch start) to those of their consequences.
	directChecks bool
	crashes      int
	hwByEpoch    map[record.Epoch]record.Offset // the highest HW a node reported in each epoch
	preVotes     map[[3]int64]bool              // (candidate, voter, correlation id) → a pre-vote
	truncations  map[NodeID]int
	// proposed maps a proposal's (first offset, epoch) to its entry count: once committed,
	// those entries must be exactly one batch.
	proposed map[[2]int64]int
}

func (c *cluster) failf(format string, args ...any) {
	if c.failure == "" {
		c.failure = fmt.Sprintf("t=%dms step %d: ", c.nowMs, c.steps) + fmt.Sprintf(format, args...)
	}
}

func (c *cluster) push(e event) {
	c.seq++
	e.seq = c.seq
	heap.Push(&c.queue, e)
}

func testConfig(id NodeID, voters []NodeID) Config {
	cfg := DefaultConfig(id, voters)
	cfg.FetchEntriesMax = 64
	cfg.UncommittedEntriesMax = 512
	cfg.ProposalEntriesMax = 64
	return cfg
}

// randomKnobs draws a seed's configuration within valid ranges: short and long timeouts,
// fetches that long-poll or not, one entry per fetch or many, a small or large backlog.
func randomKnobs(rng *rand.Rand, voters []NodeID) Config {
	cfg := testConfig(voters[0], voters)
	cfg.ElectionTimeoutMs = 100 + rng.Int64N(1500)
	cfg.ElectionBackoffMaxMs = 50 + rng.Int64N(1000)
	cfg.FetchTimeoutMs = cfg.ElectionTimeoutMs + rng.Int64N(2000)
	cfg.RequestTimeoutMs = 600 + rng.Int64N(2000)
	cfg.RetryBackoffMs = 5 + rng.Int64N(100)
	cfg.FetchMaxWaitMs = int32(rng.Int64N(min(500, cfg.FetchTimeoutMs/2)))
	cfg.FetchEntriesMax = 1 + rng.Int32N(64)
	cfg.UncommittedEntriesMax = 8 + rng.Int64N(512)
	cfg.SnapshotChunkBytesMax = 256 + rng.Int32N(4096)
	return cfg
}

func newCluster(t *testing.T, seed uint64, votersN, observersN int, b bug) *cluster {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	// The batch knobs draw from a stream of their own, so that the other draws of a seed
	// (faults, timings) stay what they were before batches came.
	batchRng := rand.New(rand.NewPCG(seed, 0xba7c4e5))
	c := &cluster{
		t: t, seed: seed, rng: rng, batchRng: batchRng, f: randomFaults(rng), bug: b,
		connGen: map[conn]int{}, connLast: map[conn]int64{}, cut: map[conn]bool{},
		leaderOf: map[record.Epoch]NodeID{}, grants: map[[2]int64]NodeID{},
		matchIndex: map[[2]int64]matchEntry{}, preVotes: map[[3]int64]bool{}, hwByEpoch: map[record.Epoch]record.Offset{}, directChecks: true, truncations: map[NodeID]int{}, faulty: true,
		proposed: map[[2]int64]int{},
	}
	for i := range votersN {
		c.voters = append(c.voters, NodeID(i+1))
	}
	knobs := randomKnobs(rng, c.voters)
	// Proposals larger than a fetch, sometimes: a fetch answer still carries the whole batch.
	knobs.ProposalEntriesMax = 1 + batchRng.IntN(int(min(knobs.UncommittedEntriesMax, 2*int64(knobs.FetchEntriesMax)+1)))
	c.f.writebackPerMille = batchRng.IntN(500)
	c.f.burstMax = 1 + batchRng.IntN(3)
	for i := range votersN + observersN {
		id := NodeID(i + 1)
		cfg := knobs
		cfg.ID = id
		sn := &simNode{id: id, cfg: cfg, log: newMemLog(), durable: InitialState(), leaderEpoch: -1}
		sn.cfg.bug = b
		sn.log.onAppend = c.checkAppend(sn)
		c.nodes = append(c.nodes, sn)
		c.start(sn)
	}
	c.push(event{atMs: c.f.proposeEveryMs, kind: evPropose})
	c.push(event{atMs: c.f.partitionEveryMs, kind: evPartition})
	if c.f.snapshotEveryMs > 0 {
		c.push(event{atMs: c.f.snapshotEveryMs, kind: evSnapshot})
	}
	return c
}

func (c *cluster) nodeRng(sn *simNode) *rand.Rand {
	return rand.New(rand.NewPCG(c.seed, uint64(sn.id)<<32|uint64(sn.incarnation)))
}

// start (re)starts a node from its durable state and surviving log.
func (c *cluster) start(sn *simNode) {
	if sn.incarnation > 0 {
		c.checkRestartState(sn)
	}
	sn.incarnation++
	n, err := New(sn.cfg, sn.log, sn.durable, c.nodeRng(sn), c.nowMs)
	if err != nil {
		c.t.Fatalf("seed %d: restart node %d: %v", c.seed, sn.id, err)
	}
	sn.node = n
	sn.hwSeen = n.HighWatermark()
	sn.leaderEpoch = -1
	c.resetConns(sn.id)
	c.call(sn, func() (Ready, error) { return n.Tick(c.nowMs) })
}

// checkRestartState: the persisted epoch and vote never go back across a crash. A vote the
// node granted is remembered, in its epoch, after any crash.
func (c *cluster) checkRestartState(sn *simNode) {
	for key, candidate := range c.grants { //purity:allow-map-range any violation fails the seed
		voter, epoch := NodeID(key[0]), record.Epoch(key[1])
		if voter != sn.id {
			continue
		}
		if epoch > sn.durable.Epoch || epoch == sn.durable.Epoch && sn.durable.VotedFor != candidate {
			c.failf("node %d restarts with %v after granting its vote in epoch %d to %d", sn.id, sn.durable, epoch, candidate)
		}
	}
}

// resetConns drops every message in flight to or from id (its TCP connections reset).
func (c *cluster) resetConns(id NodeID) {
	for _, other := range c.nodes {
		c.connGen[conn{id, other.id}]++
		c.connGen[conn{other.id, id}]++
	}
}

func (c *cluster) crash(sn *simNode) {
	if sn.node == nil {
		return
	}
	c.crashes++
	sn.node = nil
	sn.timerGen++
	sn.log.crash(c.rng)
	// A leader of an epoch it had not persisted yet (the crash cut its Ready before the State)
	// sent nothing, and its entries of that epoch were not durable: the epoch never happened,
	// and the node may win it again and write other entries (other timestamps) there.
	for key, m := range c.matchIndex { //purity:allow-map-range deletions are order-free
		if m.by == sn.id && record.Epoch(key[1]) > sn.durable.Epoch {
			delete(c.matchIndex, key)
		}
	}
	c.resetConns(sn.id)
	c.push(event{atMs: c.nowMs + 1 + c.rng.Int64N(3000), kind: evRestart, node: sn.id})
}

// call runs one input on a live node and executes its Ready, checking the invariants.
func (c *cluster) call(sn *simNode, in func() (Ready, error)) {
	c.steps++
	n := sn.node
	epochBefore, roleBefore := n.State().Epoch, n.Role()
	truncBefore := sn.log.truncations
	// Each node's wall clock is its own (skewed), so that a batch stamped by a follower
	// instead of carrying the leader's timestamp shows as a log-matching failure.
	sn.log.wallMs = 1_700_000_000_000 + c.nowMs + int64(sn.id)*1000
	r, err := c.protect(sn, in)
	if c.failure != "" {
		return
	}
	if err != nil {
		c.failf("node %d: %v", sn.id, err)
		return
	}
	if roleBefore == RoleLeader && n.State().Epoch == epochBefore && sn.log.truncations != truncBefore {
		c.failf("leader %d truncated its log in its epoch %d", sn.id, epochBefore)
	}
	c.execute(sn, r)
}

func (c *cluster) protect(sn *simNode, in func() (Ready, error)) (r Ready, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.failf("node %d panicked: %v", sn.id, p)
		}
	}()
	return in()
}

// execute runs a Ready in its contract's order; a crash may cut it anywhere.
func (c *cluster) execute(sn *simNode, r Ready) {
	n := sn.node
	if c.faulty && c.rng.IntN(1000) < c.f.crashInReadyPerMil {
		c.crash(sn) // before anything was persisted or sent
		return
	}
	if r.State != nil {
		s := *r.State
		if s.Epoch < sn.durable.Epoch || s.Epoch == sn.durable.Epoch && sn.durable.VotedFor != NoNode && s.VotedFor != sn.durable.VotedFor {
			c.failf("node %d persists %v over %v", sn.id, s, sn.durable)
		}
		sn.durable = s
	}
	if st := n.State(); c.directChecks && (st.Epoch != sn.durable.Epoch || st.VotedFor != sn.durable.VotedFor) {
		c.failf("node %d acts on %v but has persisted %v", sn.id, st, sn.durable)
	}
	if c.faulty && c.rng.IntN(1000) < c.f.crashInReadyPerMil {
		c.crash(sn) // persisted, nothing sent
		return
	}
	if r.Flush {
		id := sn.log.startFlush()
		c.push(event{atMs: c.nowMs + 1 + c.rng.Int64N(c.f.flushMsMax), kind: evFlush, node: sn.id, gen: id*1000 + sn.incarnation%1000})
	}
	for _, m := range r.Messages {
		c.checkSend(sn, m)
		c.send(m)
	}
	sn.timerGen++
	if r.NextDeadlineMs != noDeadline {
		c.push(event{atMs: max(r.NextDeadlineMs, c.nowMs+1), kind: evTimer, node: sn.id, gen: sn.timerGen})
	}
	c.checkNode(sn, r)
	if c.faulty && c.rng.IntN(1000) < c.f.crashInReadyPerMil {
		c.crash(sn) // everything sent
	}
}

func (c *cluster) checkSend(sn *simNode, m Message) {
	if req, ok := m.Body.(*VoteRequest); ok {
		c.preVotes[[3]int64{int64(m.From), int64(m.To), int64(m.CorrelationID)}] = req.PreVote
		return
	}
	resp, ok := m.Body.(*VoteResponse)
	if !ok || !resp.VoteGranted {
		return
	}
	if c.preVotes[[3]int64{int64(m.To), int64(m.From), int64(m.CorrelationID)}] {
		return // a pre-vote records nothing
	}
	if !sn.node.IsVoter() {
		c.failf("observer %d granted a vote", sn.id)
	}
	key := [2]int64{int64(sn.id), int64(resp.LeaderEpoch)}
	if prev, ok := c.grants[key]; ok && prev != m.To {
		c.failf("node %d granted votes in epoch %d to %d and %d", sn.id, resp.LeaderEpoch, prev, m.To)
	}
	c.grants[key] = m.To
}

func (c *cluster) checkNode(sn *simNode, r Ready) {
	n := sn.node
	hw := r.HighWatermark
	if hw < sn.hwSeen {
		c.failf("node %d high watermark went back from %d to %d", sn.id, sn.hwSeen, hw)
	}
	// Batches are atomic: what a node may apply ends at a batch boundary of its log.
	if !sn.log.isBoundary(hw) {
		c.failf("node %d high watermark %d inside a batch (log end %d)", sn.id, hw, sn.log.EndOffset())
	}
	epoch := n.State().Epoch
	if n.Role() == RoleLeader {
		if l, ok := c.leaderOf[epoch]; ok && l != sn.id {
			c.failf("two leaders in epoch %d: %d and %d", epoch, l, sn.id)
		}
		if sn.leaderEpoch != epoch {
			c.leaderOf[epoch] = sn.id
			c.elections++
			sn.leaderEpoch = epoch
			sn.leaderHW = hw
			// Leader completeness: the new leader holds every entry committed in an earlier
			// epoch (a late leader of an old epoch may lack what a later one committed).
			var k record.Offset
			for e, h := range c.hwByEpoch {
				if e < epoch {
					k = max(k, h)
				}
			}
			if k > 0 && (sn.log.EndOffset() < k || sn.log.prefixHash(k-1) != c.committed[k-1]) {
				c.failf("leader %d of epoch %d lacks entries committed below %d (log end %d)", sn.id, epoch, k, sn.log.EndOffset())
			}
		}
		if c.directChecks && hw != sn.leaderHW && hw <= n.EpochStartOffset() {
			c.failf("leader %d high watermark %d not past its epoch start %d", sn.id, hw, n.EpochStartOffset())
		}
	} else {
		sn.leaderEpoch = -1
	}
	if hw > sn.hwSeen {
		c.commit(sn, hw)
		c.hwByEpoch[epoch] = max(c.hwByEpoch[epoch], hw)
	}
	sn.hwSeen = hw
}

// commit records the committed prefix below hw of sn's log, checking it agrees with what
// other nodes committed.
func (c *cluster) commit(sn *simNode, hw record.Offset) {
	k := record.Offset(len(c.committed))
	check := min(hw, k)
	if check > 0 && sn.log.prefixHash(check-1) != c.committed[check-1] {
		c.failf("node %d committed a different entry below %d", sn.id, check)
		return
	}
	for o := k; o < hw; o++ {
		c.committed = append(c.committed, sn.log.prefixHash(o))
		c.checkCommittedBatch(sn, o, hw)
	}
}

// checkCommittedBatch: a proposal starting at o, once committed, is exactly one batch, all of
// it below the high watermark (committed batches are never split).
func (c *cluster) checkCommittedBatch(sn *simNode, o, hw record.Offset) {
	all := sn.log.all
	n, ok := c.proposed[[2]int64{int64(o), int64(all[o].Epoch)}]
	if !ok || all[o].Control {
		return
	}
	end := o + record.Offset(n)
	if end > hw {
		c.failf("node %d commits up to %d, inside the batch [%d, %d) of a proposal", sn.id, hw, o, end)
		return
	}
	if o > 0 && all[o-1].MoreInBatch {
		c.failf("node %d: the proposal at %d does not start a batch", sn.id, o)
	}
	for i := o; i < end; i++ {
		if all[i].MoreInBatch != (i < end-1) || all[i].Epoch != all[o].Epoch {
			c.failf("node %d: the proposal [%d, %d) is not one batch at offset %d", sn.id, o, end, i)
			return
		}
	}
}

// checkAppend returns a log's append hook: log matching, an (offset, epoch) pair names one
// prefix on every node.
func (c *cluster) checkAppend(sn *simNode) func(record.Offset, Entry, uint64) {
	return func(o record.Offset, e Entry, h uint64) {
		key := [2]int64{int64(o), int64(e.Epoch)}
		if prev, ok := c.matchIndex[key]; ok && prev.hash != h {
			c.failf("log matching: node %d has a different prefix at offset %d epoch %d", sn.id, o, e.Epoch)
		}
		if _, ok := c.matchIndex[key]; !ok {
			c.matchIndex[key] = matchEntry{hash: h, by: sn.id}
		}
	}
}

func (c *cluster) send(m Message) {
	k := conn{m.From, m.To}
	if c.cut[k] {
		return
	}
	if c.faulty && c.rng.IntN(1000) < c.f.lossPerMille {
		// A lost message resets its connection, as TCP would after a timeout: later messages
		// on it must not overtake it.
		c.connGen[k]++
		return
	}
	delay := 1 + c.rng.Int64N(c.f.delayMsMax)
	if c.faulty && c.rng.IntN(1000) < c.f.spikePerMille {
		delay += c.rng.Int64N(c.f.spikeMsMax)
	}
	at := max(c.nowMs+delay, c.connLast[k])
	c.connLast[k] = at
	c.push(event{atMs: at, kind: evDeliver, node: m.To, msg: m, gen: c.connGen[k]})
}

func (c *cluster) node(id NodeID) *simNode { return c.nodes[id-1] }

func (c *cluster) leader() *simNode {
	var best *simNode
	for _, sn := range c.nodes {
		if sn.node != nil && sn.node.Role() == RoleLeader && (best == nil || sn.node.State().Epoch > best.node.State().Epoch) {
			best = sn
		}
	}
	return best
}

// step runs the next event; false when none is left before untilMs.
func (c *cluster) step(untilMs int64) bool {
	if c.queue.Len() == 0 || c.queue[0].atMs > untilMs {
		return false
	}
	e := heap.Pop(&c.queue).(event)
	c.nowMs = max(c.nowMs, e.atMs)
	if traceSeeds {
		c.trace(e)
	}
	switch e.kind {
	case evPropose:
		delayMs := 1 + c.rng.Int64N(c.f.proposeEveryMs)
		entries := 0
		// After the faults the cluster idles but for the liveness proposal: an idle leader
		// must keep its followers (long-poll answers within the fetch timeout).
		if l := c.leader(); l != nil && l.pausedUntil <= c.nowMs && c.faulty {
			burst := 1
			if c.batchRng.IntN(8) == 0 {
				burst += c.batchRng.IntN(c.f.burstMax) // back to back: appends while a flush runs
			}
			for range burst {
				if l.node == nil || l.node.Role() != RoleLeader || c.failure != "" {
					break // crashed or deposed while executing the last one
				}
				entries += c.propose(l)
			}
		}
		// Several entries hold the next proposal back as many intervals (up to 8): a seed
		// commits about as many entries as with one per proposal, which bounds its cost and
		// a lagging observer's catch-up.
		c.push(event{atMs: c.nowMs + delayMs*int64(min(max(entries, 1), 8)), kind: evPropose})
		return true
	case evPartition:
		if c.faulty {
			c.partition()
			c.push(event{atMs: c.nowMs + c.f.partitionEveryMs, kind: evPartition})
		}
		return true
	case evHeal:
		c.cut = map[conn]bool{}
		return true
	case evRestart:
		if sn := c.node(e.node); sn.node == nil {
			c.start(sn)
		}
		return true
	case evSnapshot:
		// The application snapshots its state at the node's high watermark (committed) and
		// usually drops the log below it; followers behind that start need the snapshot.
		c.push(event{atMs: c.nowMs + 1 + c.rng.Int64N(c.f.snapshotEveryMs), kind: evSnapshot})
		sn := c.nodes[c.rng.IntN(len(c.nodes))]
		if sn.node != nil {
			at := sn.node.HighWatermark()
			sn.log.takeSnapshot(at)
			if c.rng.IntN(4) > 0 {
				sn.log.deletePrefix(sn.log.floorBoundary(at - record.Offset(c.rng.Int64N(3))))
			}
		}
		return true
	case evCrash:
		if sn := c.node(e.node); sn.node != nil && sn.incarnation == e.gen && c.faulty {
			c.crash(sn)
		}
		return true
	}
	sn := c.node(e.node)
	if sn.node == nil {
		return true
	}
	if sn.pausedUntil > c.nowMs {
		// A paused process handles nothing; everything waits for it to resume.
		e.atMs = sn.pausedUntil
		c.push(e)
		return true
	}
	if c.faulty && e.kind != evFlush {
		if c.rng.IntN(1000) < c.f.crashPerMille {
			c.crash(sn)
			return true
		}
		if c.rng.IntN(1000) < c.f.pausePerMille {
			sn.pausedUntil = c.nowMs + 1 + c.rng.Int64N(3000)
			e.atMs = sn.pausedUntil
			c.push(e)
			return true
		}
	}
	switch e.kind {
	case evDeliver:
		if e.gen != c.connGen[conn{e.msg.From, e.msg.To}] {
			return true // the connection reset since
		}
		c.call(sn, func() (Ready, error) { return sn.node.Step(c.nowMs, e.msg) })
	case evTimer:
		if e.gen == sn.timerGen {
			c.call(sn, func() (Ready, error) { return sn.node.Tick(c.nowMs) })
		}
	case evFlush:
		if e.gen%1000 != sn.incarnation%1000 {
			return true
		}
		sn.log.completeFlush(e.gen / 1000)
		if c.faulty && c.batchRng.IntN(1000) < c.f.writebackPerMille {
			sn.log.writeback(c.batchRng)
		}
		c.call(sn, func() (Ready, error) { return sn.node.Flushed(c.nowMs) })
	}
	return true
}

// propose gives the leader one proposal of 1..ProposalEntriesMax entries, mostly one, some of a
// few, rarely a large one, and returns its size.
func (c *cluster) propose(l *simNode) int {
	n := 1
	switch c.batchRng.IntN(32) {
	case 0:
		n = 1 + c.batchRng.IntN(l.cfg.ProposalEntriesMax)
	case 1, 2, 3, 4, 5:
		n = 1 + c.batchRng.IntN(min(l.cfg.ProposalEntriesMax, 4))
	}
	data := make([][]byte, n)
	for i := range data {
		c.proposals++
		data[i] = strconv.AppendInt(append(strconv.AppendUint([]byte{'s'}, c.seed, 10), "-p"...), int64(c.proposals), 10)
	}
	epoch := l.node.State().Epoch
	c.call(l, func() (Ready, error) {
		o, r, err := l.node.Propose(c.nowMs, data)
		if errors.Is(err, ErrTooManyUncommitted) {
			return r, nil
		}
		if err == nil {
			c.proposed[[2]int64{int64(o), int64(epoch)}] = n
		}
		return r, err
	})
	return n
}

// partition cuts links: isolates the leader or a random node (both ways or one way), or splits
// the cluster in two, and heals after a while.
func (c *cluster) partition() {
	c.cut = map[conn]bool{}
	ids := make([]NodeID, len(c.nodes))
	for i, sn := range c.nodes {
		ids[i] = sn.id
	}
	cutBoth := func(a, b NodeID) { c.cut[conn{a, b}] = true; c.cut[conn{b, a}] = true }
	switch c.rng.IntN(5) {
	case 4: // no partition this round
	case 0: // isolate the leader
		if l := c.leader(); l != nil {
			for _, id := range ids {
				if id != l.id {
					cutBoth(l.id, id)
				}
			}
		}
	case 1: // isolate one node one way
		victim := ids[c.rng.IntN(len(ids))]
		for _, id := range ids {
			if id != victim {
				c.cut[conn{victim, id}] = true
			}
		}
	case 2: // split in two random halves
		c.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		k := 1 + c.rng.IntN(len(ids)-1)
		for _, a := range ids[:k] {
			for _, b := range ids[k:] {
				cutBoth(a, b)
			}
		}
	case 3: // the leader shuts down gracefully (EndQuorumEpoch) and restarts
		if l := c.leader(); l != nil && l.pausedUntil <= c.nowMs {
			c.call(l, func() (Ready, error) { return l.node.Resign(c.nowMs), nil })
			// It stops once its EndQuorumEpoch requests are out.
			c.push(event{atMs: c.nowMs + 20 + c.rng.Int64N(100), kind: evCrash, node: l.id, gen: l.incarnation})
		}
	}
	c.push(event{atMs: c.nowMs + 100 + c.rng.Int64N(c.f.partitionEveryMs), kind: evHeal})
}

// heal stops every fault and restarts every crashed node.
func (c *cluster) heal() {
	c.faulty = false
	c.cut = map[conn]bool{}
	for _, sn := range c.nodes {
		sn.pausedUntil = min(sn.pausedUntil, c.nowMs)
		if sn.node == nil {
			c.start(sn)
		}
	}
}

var traceSeeds = os.Getenv("QUORUM_TRACE") != ""

func (c *cluster) trace(e event) {
	line := fmt.Sprintf("t=%d kind=%d node=%d", c.nowMs, e.kind, e.node)
	if e.kind == evDeliver {
		line += fmt.Sprintf(" %d->%d #%d %T %+v", e.msg.From, e.msg.To, e.msg.CorrelationID, e.msg.Body, e.msg.Body)
	}
	if e.node > 0 {
		if n := c.node(e.node).node; n != nil {
			line += fmt.Sprintf(" [%v %v hw=%d end=%d durable=%d el=%d fd=%d]", n.Role(), n.State(), n.HighWatermark(), c.node(e.node).log.EndOffset(), c.node(e.node).log.DurableOffset(), n.electionDeadlineMs, n.fetchDeadlineMs)
		} else {
			line += " [down]"
		}
	}
	c.t.Log(line)
}

func (c *cluster) run(untilMs int64) {
	for c.failure == "" && c.step(untilMs) {
	}
	c.nowMs = max(c.nowMs, untilMs)
}

// runSeed runs one seed to the end of its fault phase, then checks liveness: a leader is
// elected, a new proposal commits, and every node (observers too) reaches it.
func runSeed(t *testing.T, seed uint64, b bug) string {
	msg, _ := runSeedStats(t, seed, b, true)
	return msg
}

// seedStats sums what the seeds exercised, so a run that silently does nothing shows.
type seedStats struct {
	seeds, steps, elections, crashes, committed, truncations, installs int
}

func runSeedStats(t *testing.T, seed uint64, b bug, directChecks bool) (string, seedStats) {
	c, msg := runCluster(t, seed, b, directChecks)
	st := seedStats{seeds: 1, steps: c.steps, elections: c.elections, crashes: c.crashes, committed: len(c.committed)}
	for _, sn := range c.nodes {
		st.truncations += sn.log.truncations
		st.installs += sn.log.installs
	}
	return msg, st
}

func runCluster(t *testing.T, seed uint64, b bug, directChecks bool) (c *cluster, failure string) {
	shapes := [][2]int{{1, 1}, {3, 1}, {3, 2}, {5, 1}, {5, 2}}
	shape := shapes[seed%uint64(len(shapes))]
	c = newCluster(t, seed, shape[0], shape[1], b)
	c.directChecks = directChecks
	c.run(c.f.faultPhaseMs)
	if c.failure != "" {
		return c, c.failure
	}
	c.heal()
	const livenessMs = 20000
	deadline := c.nowMs + livenessMs
	// Propose on the leader of the latest epoch; a proposal to a leader that was already
	// deposed may be lost, so a newer leader gets one of its own.
	var target record.Offset = -1
	var targetEpoch record.Epoch = -1
	for c.failure == "" && c.nowMs < deadline {
		c.run(c.nowMs + 50)
		if l := c.leader(); l != nil && l.node.State().Epoch > targetEpoch {
			c.call(l, func() (Ready, error) {
				o, r, err := l.node.Propose(c.nowMs, [][]byte{[]byte("liveness")})
				if errors.Is(err, ErrTooManyUncommitted) {
					return r, nil // the backlog must commit first; try again
				}
				target, targetEpoch = o+1, l.node.State().Epoch
				return r, err
			})
		}
		if target < 0 {
			continue
		}
		done := true
		for _, sn := range c.nodes {
			if sn.node.HighWatermark() < target {
				done = false
			}
		}
		if done {
			return c, c.failure
		}
	}
	if c.failure != "" {
		return c, c.failure
	}
	var states []string
	for _, sn := range c.nodes {
		states = append(states, fmt.Sprintf("%d:%v/%v/hw=%d/end=%d", sn.id, sn.node.Role(), sn.node.State(), sn.node.HighWatermark(), sn.log.EndOffset()))
	}
	return c, fmt.Sprintf("liveness: no commit of offset %d on every node within %d ms after healing: %v", target-1, livenessMs, states)
}

func TestClusterRandomized(t *testing.T) {
	n := seedCount(t)
	var total seedStats
	for seed := uint64(1); seed <= uint64(n); seed++ {
		msg, st := runSeedStats(t, seed, bugNone, true)
		if msg != "" {
			t.Fatalf("seed %d: %s", seed, msg)
		}
		total.seeds += st.seeds
		total.steps += st.steps
		total.elections += st.elections
		total.crashes += st.crashes
		total.committed += st.committed
		total.truncations += st.truncations
		total.installs += st.installs
	}
	t.Logf("%d seeds: %d steps, %d elections, %d crashes, %d entries committed, %d truncations, %d snapshots installed", total.seeds, total.steps, total.elections, total.crashes, total.committed, total.truncations, total.installs)
}

var plantedBugs = []bug{bugVoteBeforePersist, bugMinorityHighWatermark, bugCommitEarlierEpoch, bugHighWatermarkInsideBatch}

var consequenceSeeds = flag.Int("quorum.consequences", 5000, "seeds per planted bug within which the checks of consequences alone must catch it (0: skip)")

// TestPlantedBugsCaught plants each bug and reports after how many seeds the randomized test
// caught it: first with every check, then with only the checks of consequences (a forgotten
// vote, a lost committed entry, two leaders in an epoch, diverging logs), which shows the bug
// harmful and not only a broken rule.
func TestPlantedBugsCaught(t *testing.T) {
	for _, b := range plantedBugs {
		t.Run(b.String(), func(t *testing.T) {
			sweep := func(direct bool, limit int) {
				for seed := uint64(1); seed <= uint64(limit); seed++ {
					if msg, _ := runSeedStats(t, seed, b, direct); msg != "" {
						t.Logf("%v (direct checks %v) caught at seed %d: %s", b, direct, seed, msg)
						return
					}
				}
				t.Errorf("%v (direct checks %v) not caught in %d seeds", b, direct, limit)
			}
			sweep(true, 3000)
			if n := *consequenceSeeds; n > 0 && !testing.Short() {
				sweep(false, n)
			}
		})
	}
}

// TestClusterSeed replays one seed, for debugging: QUORUM_SEED=n [QUORUM_BUG=name]
// [QUORUM_DIRECT=0] [QUORUM_TRACE=1] go test ./core/quorum -run TestClusterSeed -v.
func TestClusterSeed(t *testing.T) {
	v := os.Getenv("QUORUM_SEED")
	if v == "" {
		t.Skip("QUORUM_SEED not set")
	}
	seed, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	b := bugNone
	for _, candidate := range plantedBugs {
		if candidate.String() == os.Getenv("QUORUM_BUG") {
			b = candidate
		}
	}
	msg, st := runSeedStats(t, seed, b, os.Getenv("QUORUM_DIRECT") != "0")
	t.Logf("seed %d bug %v: %+v", seed, b, st)
	if msg != "" {
		t.Fatal(msg)
	}
}

// TestClusterDeterministic runs seeds twice: the same seed gives the same run, step for step
// (nothing in the node reads a clock, a global random source or a map's order).
func TestClusterDeterministic(t *testing.T) {
	fingerprint := func(seed uint64) string {
		c, msg := runCluster(t, seed, bugNone, true)
		fp := fmt.Sprintf("%s|steps=%d|t=%d|committed=%d", msg, c.steps, c.nowMs, len(c.committed))
		if k := len(c.committed); k > 0 {
			fp += fmt.Sprintf("|%x", c.committed[k-1])
		}
		for _, sn := range c.nodes {
			fp += fmt.Sprintf("|%d:%v:%v:%d:%d", sn.id, sn.node.Role(), sn.node.State(), sn.node.HighWatermark(), sn.log.EndOffset())
		}
		return fp
	}
	for seed := uint64(1); seed <= 20; seed++ {
		if a, b := fingerprint(seed), fingerprint(seed); a != b {
			t.Fatalf("seed %d ran two ways:\n%s\n%s", seed, a, b)
		}
	}
}
