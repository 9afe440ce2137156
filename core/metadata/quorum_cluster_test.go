package metadata

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

// A randomized cluster of quorum nodes over QuorumLogs on crashable memfs disks, driven as the
// production driver will drive them: the quorum-state file written durably before a Ready's
// messages go out, flushes through PendingSync/Run/Synced then Flushed, the application
// snapshotting committed entries and dropping the log below, and crashes that keep only what
// each disk's crash mode lets survive. Checked after every Ready: one value per committed
// offset across nodes and time, one leader per epoch; after the faults stop, a new entry is
// committed. (core/quorum's own randomized test checks the state machine more closely over an
// in-memory log; this one checks that the disk keeps the promises that test assumes.)

type qcEventKind uint8

const (
	qcDeliver qcEventKind = iota
	qcTick
	qcFlushDone
	qcRestart
	qcPropose
	qcCrash
	qcSnapshot
)

type qcEvent struct {
	atMs int64
	seq  int64
	kind qcEventKind
	node quorum.NodeID
	msg  quorum.Message
	gen  int
}

type qcQueue []qcEvent

func (q qcQueue) Len() int { return len(q) }
func (q qcQueue) Less(i, j int) bool {
	if q[i].atMs != q[j].atMs {
		return q[i].atMs < q[j].atMs
	}
	return q[i].seq < q[j].seq
}
func (q qcQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *qcQueue) Push(x any)   { *q = append(*q, x.(qcEvent)) }
func (q *qcQueue) Pop() (x any) { x, *q = (*q)[len(*q)-1], (*q)[:len(*q)-1]; return x }

type qcNode struct {
	id          quorum.NodeID
	fs          *memfs.FS
	log         *QuorumLog
	node        *quorum.Node // nil while down
	incarnation int
	timerGen    int
	flushWanted bool
	inflight    *log.SyncRequest
	checkedTo   record.Offset // committed offsets of this incarnation already compared
	lastEnd     record.Offset
	// At a crash: the durable offset the log claimed and the entries below it it held.
	claimedDurable record.Offset
	claimedStart   record.Offset
	claimed        []uint64
}

type qcCluster struct {
	t        *testing.T
	rng      *rand.Rand
	nowMs    int64
	seq      int64
	queue    qcQueue
	nodes    []*qcNode
	voters   []quorum.NodeID
	faulty   bool
	lossPerM int
	delayMax int64
	cut      map[[2]quorum.NodeID]bool
	leaders  map[record.Epoch]quorum.NodeID
	// committed[o] is the hash of the entry committed at offset o, as first seen.
	committed []uint64
	// committedRaw is each committed record batch's bytes by base offset, as first seen;
	// sameBytes counts the batches found identical on another node.
	committedRaw map[record.Offset][]byte
	sameBytes    int
	proposals    int
	restarts     int
	truncations  int
}

func (c *qcCluster) push(e qcEvent) {
	c.seq++
	e.seq = c.seq
	heap.Push(&c.queue, e)
}

func qcConfig(id quorum.NodeID, voters []quorum.NodeID) quorum.Config {
	cfg := quorum.DefaultConfig(id, voters)
	cfg.ElectionTimeoutMs, cfg.ElectionBackoffMaxMs = 300, 200
	cfg.FetchTimeoutMs, cfg.RequestTimeoutMs = 900, 600
	cfg.FetchMaxWaitMs = 100
	cfg.FetchEntriesMax = 16
	cfg.UncommittedEntriesMax = 256
	cfg.ProposalEntriesMax = 24 // above FetchEntriesMax: a fetch answer still carries the whole batch
	cfg.SnapshotChunkBytesMax = 300
	return cfg
}

// entryHash covers an entry's batch boundary and timestamp too: committed entries agree on
// them across nodes.
func entryHash(e quorum.Entry) uint64 {
	h := fnv.New64a()
	var b [14]byte
	binary.BigEndian.PutUint32(b[:4], uint32(e.Epoch))
	if e.Control {
		b[4] = 1
	}
	if e.MoreInBatch {
		b[5] = 1
	}
	binary.BigEndian.PutUint64(b[6:], uint64(e.TimestampMs))
	h.Write(b[:])
	h.Write(e.Data)
	return h.Sum64()
}

// wallMs is node id's wall clock: skewed per node, so that a follower stamping a fetched
// batch with its own clock instead of keeping the leader's timestamp shows.
func (c *qcCluster) wallMs(id quorum.NodeID) int64 {
	return 1_700_000_000_000 + c.nowMs + int64(id)*7_000
}

// checkLogBatches reads n's whole log and checks every data batch is one whole proposal.
func (c *qcCluster) checkLogBatches(n *qcNode) {
	for o := n.log.Start().EndOffset; o < n.log.EndOffset(); {
		entries, err := n.log.Read(o, 1<<20)
		if err != nil {
			c.t.Fatalf("node %d: read %d: %v", n.id, o, err)
		}
		if msg := checkWholeBatches(entries, o); msg != "" {
			c.t.Fatalf("t=%d node %d: %s", c.nowMs, n.id, msg)
		}
		o += record.Offset(len(entries))
	}
}

// start opens the node's disk as a restarted process does: the log, then the quorum-state file.
func (c *qcCluster) start(n *qcNode) {
	q, err := OpenQuorumLog(n.fs, testLogDir, smallQuorumLogConfig(), c.nowMs)
	if err != nil {
		c.t.Fatalf("t=%d node %d: open log: %v", c.nowMs, n.id, err)
	}
	sf, err := quorum.ReadStateFile(n.fs, q.Dir())
	if err != nil {
		c.t.Fatalf("t=%d node %d: read state: %v", c.nowMs, n.id, err)
	}
	n.log = q
	n.incarnation++
	c.restarts++
	// What the log claimed durable before the crash is there, unless a snapshot now covers it.
	start, end := q.Start().EndOffset, q.EndOffset()
	if n.claimedDurable > start && end < n.claimedDurable {
		c.t.Fatalf("t=%d node %d: claimed durable to %d before its crash, reopened log [%d, %d)", c.nowMs, n.id, n.claimedDurable, start, end)
	}
	for o := max(start, n.claimedStart); o < n.claimedDurable; {
		entries, err := q.Read(o, int(n.claimedDurable-o))
		if err != nil {
			c.t.Fatalf("node %d: read %d after restart: %v", n.id, o, err)
		}
		for _, e := range entries {
			if entryHash(e) != n.claimed[o-n.claimedStart] {
				c.t.Fatalf("t=%d node %d: entry %d, durable before the crash, changed", c.nowMs, n.id, o)
			}
			o++
		}
	}
	n.claimed, n.claimedDurable, n.lastEnd = nil, 0, end
	// Recovery kept whole batches only: every proposal in the log is there whole.
	c.checkLogBatches(n)
	n.node, err = quorum.New(qcConfig(n.id, c.voters), q, sf.State, rand.New(rand.NewPCG(c.rng.Uint64(), uint64(n.id))), c.nowMs)
	if err != nil {
		c.t.Fatalf("t=%d node %d: new: %v", c.nowMs, n.id, err)
	}
	n.flushWanted, n.inflight, n.checkedTo = false, nil, q.Start().EndOffset
	q.SetNowMs(c.wallMs(n.id))
	r, err := n.node.Tick(c.nowMs)
	c.execute(n, r, err)
}

func (c *qcCluster) crash(n *qcNode) {
	if n.node == nil {
		return
	}
	n.claimedStart, n.claimedDurable = n.log.Start().EndOffset, n.log.DurableOffset()
	n.claimed = nil
	for o := n.claimedStart; o < n.claimedDurable; {
		entries, err := n.log.Read(o, int(n.claimedDurable-o))
		if err != nil {
			c.t.Fatalf("node %d: read %d before crash: %v", n.id, o, err)
		}
		for _, e := range entries {
			n.claimed = append(n.claimed, entryHash(e))
		}
		o += record.Offset(len(entries))
	}
	n.fs = n.fs.CrashClone(memfs.CrashConfig{Seed: c.rng.Uint64(), Mode: memfs.CrashMode(c.rng.IntN(3))})
	n.log, n.node, n.inflight = nil, nil, nil
	c.push(qcEvent{atMs: c.nowMs + 1 + c.rng.Int64N([]int64{500, 3000}[c.rng.IntN(2)]), kind: qcRestart, node: n.id})
}

// execute runs a Ready in the contract's order and checks the invariants.
func (c *qcCluster) execute(n *qcNode, r quorum.Ready, err error) {
	if err != nil && !errors.Is(err, quorum.ErrInvalidMessage) {
		c.t.Fatalf("t=%d node %d: %v", c.nowMs, n.id, err)
	}
	if r.State != nil {
		sf := quorum.StateFile{State: *r.State, Voters: c.voters}
		if err := quorum.WriteStateFile(n.fs, n.log.Dir(), sf); err != nil {
			c.t.Fatalf("node %d: write state: %v", n.id, err)
		}
	}
	if c.faulty && c.rng.IntN(1000) < 3 {
		c.crash(n) // after persisting, before anything is sent
		return
	}
	if r.Flush {
		n.flushWanted = true
	}
	c.maybeFlush(n)
	if n.node == nil {
		return
	}
	for _, m := range r.Messages {
		c.send(m)
	}
	c.checkNode(n, r.HighWatermark)
	n.timerGen++
	if r.NextDeadlineMs < 1<<62 {
		c.push(qcEvent{atMs: max(r.NextDeadlineMs, c.nowMs), kind: qcTick, node: n.id, gen: n.timerGen})
	}
}

// maybeFlush starts the flush a Ready asked for once no sync is in flight; with nothing to
// sync the node hears Flushed at once.
func (c *qcCluster) maybeFlush(n *qcNode) {
	for n.node != nil && n.flushWanted && n.inflight == nil {
		n.flushWanted = false
		if req, ok := n.log.PendingSync(); ok {
			n.inflight = &req
			c.push(qcEvent{atMs: c.nowMs + 1 + c.rng.Int64N(15), kind: qcFlushDone, node: n.id, gen: n.incarnation})
			return
		}
		r, err := n.node.Flushed(c.nowMs)
		c.execute(n, r, err)
		return
	}
}

func (c *qcCluster) checkNode(n *qcNode, hw record.Offset) {
	if n.node.Role() == quorum.RoleLeader {
		epoch := n.node.State().Epoch
		if other, ok := c.leaders[epoch]; ok && other != n.id {
			c.t.Fatalf("t=%d: two leaders in epoch %d: %d and %d", c.nowMs, epoch, other, n.id)
		}
		c.leaders[epoch] = n.id
	}
	if end := n.log.EndOffset(); end < n.lastEnd {
		c.truncations++
	}
	n.lastEnd = n.log.EndOffset()
	if d := n.log.DurableOffset(); d > n.log.EndOffset() {
		c.t.Fatalf("t=%d node %d: durable %d past end %d", c.nowMs, n.id, d, n.log.EndOffset())
	}
	// A node applies its log up to its HW: it must not cut a batch (a command) in two.
	if hw > n.log.Start().EndOffset && hw < n.log.EndOffset() {
		if err := n.log.checkBoundary(hw); err != nil {
			c.t.Fatalf("t=%d node %d: high watermark %d: %v", c.nowMs, n.id, hw, err)
		}
	}
	from := max(n.checkedTo, n.log.Start().EndOffset)
	to := min(hw, n.log.EndOffset())
	// The committed record batches are the same bytes on every node (same base offset, epoch,
	// records and timestamps: a follower stores the leader's batch as it is).
	for base, b := range rawBatches(c.t, n.log, from, to) { //purity:allow-map-range each batch checked alone
		prev, ok := c.committedRaw[base]
		switch {
		case !ok:
			c.committedRaw[base] = b
		case !bytes.Equal(prev, b):
			c.t.Fatalf("t=%d node %d: the committed record batch at %d differs from another node's", c.nowMs, n.id, base)
		default:
			c.sameBytes++
		}
	}
	for from < to {
		entries, err := n.log.Read(from, int(to-from))
		if err != nil {
			c.t.Fatalf("node %d: read committed %d: %v", n.id, from, err)
		}
		// Committed batches are whole proposals, never split.
		if msg := checkWholeBatches(entries, from); msg != "" {
			c.t.Fatalf("t=%d node %d: committed: %s", c.nowMs, n.id, msg)
		}
		for _, e := range entries {
			h := entryHash(e)
			switch {
			case from < record.Offset(len(c.committed)):
				if c.committed[from] != h {
					c.t.Fatalf("t=%d node %d: committed entry %d differs from the one committed before (epoch %d)", c.nowMs, n.id, from, e.Epoch)
				}
			case from == record.Offset(len(c.committed)):
				c.committed = append(c.committed, h)
			default:
				// Committed above what any node showed yet: checked when the gap fills.
				return
			}
			from++
		}
		n.checkedTo = from
	}
}

func (c *qcCluster) send(m quorum.Message) {
	if c.faulty && (c.rng.IntN(1000) < c.lossPerM || c.cut[[2]quorum.NodeID{m.From, m.To}]) {
		return
	}
	c.push(qcEvent{atMs: c.nowMs + 1 + c.rng.Int64N(c.delayMax), kind: qcDeliver, node: m.To, msg: m})
}

// snapshot has node n snapshot its committed entries, as the application does, and sometimes
// drop the log below an older snapshot.
func (c *qcCluster) snapshot(n *qcNode) {
	at := min(n.node.HighWatermark(), n.log.EndOffset())
	if at <= n.log.newestSnapshotEnd() || at <= 0 {
		return
	}
	var all []quorum.Entry
	start := n.log.Start()
	if start.EndOffset > 0 {
		data, _, err := n.log.ReadSnapshot(start, 0, 1<<30)
		if err != nil {
			c.t.Fatalf("node %d: read start snapshot: %v", n.id, err)
		}
		if all, err = parseSnapshotBytes(data); err != nil {
			c.t.Fatalf("node %d: start snapshot: %v", n.id, err)
		}
	}
	for o := start.EndOffset; o < at; {
		entries, err := n.log.Read(o, int(at-o))
		if err != nil {
			c.t.Fatalf("node %d: read for snapshot: %v", n.id, err)
		}
		all = append(all, entries...)
		o += record.Offset(len(entries))
	}
	if len(all) != int(at) {
		c.t.Fatalf("node %d: snapshot of %d entries at %d", n.id, len(all), at)
	}
	for o, e := range all {
		if o < len(c.committed) && c.committed[o] != entryHash(e) {
			c.t.Fatalf("t=%d node %d: entry %d of its snapshot differs from the committed one", c.nowMs, n.id, o)
		}
	}
	id := SnapshotID{EndOffset: at, Epoch: all[at-1].Epoch}
	if err := diskio.WriteFileAtomic(n.fs, n.log.Dir(), SnapshotFileName(id), snapshotBytes(all)); err != nil {
		c.t.Fatal(err)
	}
	if err := n.log.RecordSnapshot(id); err != nil {
		c.t.Fatalf("node %d: record snapshot %s: %v", n.id, id, err)
	}
	// Drop the log below the newest snapshot or the one before: followers down for a while
	// then need a snapshot (FetchSnapshot and InstallSnapshot).
	if snaps := n.log.Snapshots(); c.rng.IntN(2) == 0 {
		ops, err := n.log.DeleteBefore(snaps[max(len(snaps)-1-c.rng.IntN(2), 0)], c.nowMs)
		if err != nil {
			c.t.Fatalf("node %d: delete before: %v", n.id, err)
		}
		if err := log.RunFileOps(n.fs, ops); err != nil {
			c.t.Fatal(err)
		}
	}
}

func (c *qcCluster) leader() *qcNode {
	var best *qcNode
	for _, n := range c.nodes {
		if n.node != nil && n.node.Role() == quorum.RoleLeader && (best == nil || n.node.State().Epoch > best.node.State().Epoch) {
			best = n
		}
	}
	return best
}

func (c *qcCluster) handle(e qcEvent) {
	if e.kind == qcPropose || e.kind == qcCrash {
		if e.kind == qcCrash {
			c.push(qcEvent{atMs: c.nowMs + 300 + c.rng.Int64N(2500), kind: e.kind})
		} else {
			c.push(qcEvent{atMs: c.nowMs + 10 + c.rng.Int64N(100), kind: e.kind})
		}
		if e.kind == qcCrash {
			if c.faulty {
				c.crash(c.nodes[c.rng.IntN(len(c.nodes))])
			}
			return
		}
		if l := c.leader(); l != nil {
			l.log.SetNowMs(c.wallMs(l.id))
			// One batch: up to the proposal bound, mostly a few entries.
			size := 1 + c.rng.IntN(4)
			if c.rng.IntN(8) == 0 {
				size = 1 + c.rng.IntN(qcConfig(l.id, c.voters).ProposalEntriesMax)
			}
			c.proposals++
			var data [][]byte
			for k := range size {
				data = append(data, batchData(c.proposals, k, size, nil))
			}
			_, r, err := l.node.Propose(c.nowMs, data)
			if errors.Is(err, quorum.ErrNotLeader) || errors.Is(err, quorum.ErrTooManyUncommitted) {
				err = nil
			}
			c.execute(l, r, err)
		}
		return
	}
	n := c.nodes[e.node-1]
	if e.kind == qcRestart {
		if n.node == nil {
			c.start(n)
		}
		return
	}
	if n.node == nil {
		return
	}
	n.log.SetNowMs(c.wallMs(n.id))
	switch e.kind {
	case qcDeliver:
		r, err := n.node.Step(c.nowMs, e.msg)
		c.execute(n, r, err)
	case qcTick:
		if e.gen == n.timerGen {
			r, err := n.node.Tick(c.nowMs)
			c.execute(n, r, err)
		}
	case qcFlushDone:
		if e.gen != n.incarnation || n.inflight == nil {
			return
		}
		req := *n.inflight
		n.inflight = nil
		n.log.Synced(req, req.Run(n.fs))
		r, err := n.node.Flushed(c.nowMs)
		c.execute(n, r, err)
	case qcSnapshot:
		c.snapshot(n)
		c.push(qcEvent{atMs: c.nowMs + 200 + c.rng.Int64N(800), kind: qcSnapshot, node: n.id})
	}
}

func (c *qcCluster) partition() {
	c.cut = map[[2]quorum.NodeID]bool{}
	for _, a := range c.nodes {
		for _, b := range c.nodes {
			if a != b && c.rng.IntN(4) == 0 {
				c.cut[[2]quorum.NodeID{a.id, b.id}] = true
			}
		}
	}
}

func (c *qcCluster) run(untilMs int64, done func() bool) bool {
	for c.queue.Len() > 0 {
		e := heap.Pop(&c.queue).(qcEvent)
		if e.atMs > untilMs {
			heap.Push(&c.queue, e)
			return false
		}
		c.nowMs = max(c.nowMs, e.atMs)
		c.handle(e)
		if done != nil && done() {
			return true
		}
	}
	return false
}

func runQuorumCluster(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0xc1))
	votersN := []int{1, 3, 3, 5}[rng.IntN(4)]
	c := &qcCluster{
		t: t, rng: rng, faulty: true,
		lossPerM: rng.IntN(100), delayMax: 1 + rng.Int64N(30),
		cut: map[[2]quorum.NodeID]bool{}, leaders: map[record.Epoch]quorum.NodeID{},
		committedRaw: map[record.Offset][]byte{},
	}
	for i := range votersN {
		c.voters = append(c.voters, quorum.NodeID(i+1))
	}
	for _, id := range c.voters {
		n := &qcNode{id: id, fs: memfs.New()}
		c.nodes = append(c.nodes, n)
	}
	for _, n := range c.nodes {
		c.start(n)
		c.push(qcEvent{atMs: 500 + rng.Int64N(1000), kind: qcSnapshot, node: n.id})
	}
	c.push(qcEvent{atMs: 100, kind: qcPropose})
	c.push(qcEvent{atMs: 200, kind: qcCrash})
	faultEndMs := int64(6000 + rng.Int64N(6000))
	for c.nowMs < faultEndMs {
		if rng.IntN(3) == 0 {
			c.partition()
		} else {
			c.cut = map[[2]quorum.NodeID]bool{}
		}
		c.run(c.nowMs+300+rng.Int64N(1500), nil)
	}
	// Heal: no loss, no cuts, no crashes; everyone down comes back; a new entry must commit.
	c.faulty = false
	c.cut = map[[2]quorum.NodeID]bool{}
	for _, n := range c.nodes {
		if n.node == nil {
			c.push(qcEvent{atMs: c.nowMs + 1, kind: qcRestart, node: n.id})
		}
	}
	target := record.Offset(-1)
	ok := c.run(c.nowMs+30000, func() bool {
		l := c.leader()
		if l == nil {
			return false
		}
		if target < 0 || l.node.HighWatermark() < target && l.log.EndOffset() < target {
			if target < 0 {
				target = l.log.EndOffset() + 1
			}
		}
		return target >= 0 && l.node.HighWatermark() >= target
	})
	if !ok {
		var states []string
		for _, n := range c.nodes {
			if n.node != nil {
				states = append(states, fmt.Sprintf("%d:%v/%v/hw=%d/start=%+v/end=%d/durable=%d/inflight=%t/wanted=%t/snaps=%v", n.id, n.node.Role(), n.node.State(), n.node.HighWatermark(), n.log.Start(), n.log.EndOffset(), n.log.DurableOffset(), n.inflight != nil, n.flushWanted, n.log.Snapshots()))
			}
		}
		t.Fatalf("seed %d: nothing committed 30 s after the faults stopped (target %d): %v", seed, target, states)
	}
	if len(c.committed) == 0 {
		t.Fatalf("seed %d: nothing was ever committed", seed)
	}
	if len(c.nodes) > 1 && c.sameBytes == 0 {
		t.Fatalf("seed %d: no committed record batch was compared between two nodes", seed)
	}
	installs, snaps := 0, 0
	for _, n := range c.nodes {
		snaps += len(n.log.Snapshots())
		if n.log.Start().EndOffset > 0 {
			installs++
		}
	}
	t.Logf("seed %d: %d voters, t=%d ms, %d proposals, %d committed, %d epochs, %d restarts, %d truncations, %d snapshots kept, %d logs starting at a snapshot, %d committed batches seen again byte-identical (on another node or after a restart)",
		seed, votersN, c.nowMs, c.proposals, len(c.committed), len(c.leaders), c.restarts, c.truncations, snaps, installs, c.sameBytes)
}

// seedsFromEnv is the seed count the environment variable name sets, or def.
func seedsFromEnv(t *testing.T, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q is not a positive count", name, v)
		}
		return n
	}
	return def
}

// TestQuorumLogCluster runs the randomized cluster; QUORUMLOG_CLUSTER_SEEDS sets the seeds.
func TestQuorumLogCluster(t *testing.T) {
	for seed := range uint64(seedsFromEnv(t, "QUORUMLOG_CLUSTER_SEEDS", 12)) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runQuorumCluster(t, seed) })
	}
}
