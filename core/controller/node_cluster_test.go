package controller

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/wire"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

// testCluster runs Nodes in one goroutine over memfs disks, exchanging real Kafka frames:
// every request and response is encoded with core/wire and decoded on the other side, on
// per-link FIFO queues delivered in a seeded random order.
type testCluster struct {
	t      testing.TB
	rng    *rand.Rand
	nowMs  int64
	voters []quorum.NodeID
	nodes  map[int32]*testNode
	// links hold frames in flight from one node to another, in order.
	links map[[2]int32][]frame
	// down nodes neither send nor receive; cut links drop what crosses them.
	cut map[[2]int32]bool
	// snapshotsWritten counts the snapshots nodes took; snapshotFetches the FetchSnapshot
	// requests sent (a follower behind the leader's log start).
	snapshotsWritten, snapshotFetches int
	// clientAnswers are responses on connections of the test's own clients (not a node pair),
	// by connection.
	clientAnswers map[ConnID]Response
}

type testNode struct {
	id      int32
	fs      *memfs.FS
	node    *Node
	timerMs int64
	// sent remembers each request's key and version by correlation id, to decode the answer.
	sent map[int32]wire.RequestHeader
	// answers are the responses to requests the test sent, by correlation id.
	answers map[int32]kmsg.Response
	fatal   error
}

// frame is one request or response on a link.
type frame struct {
	request bool
	bytes   []byte
	key     int16
	version int16
}

const testMetaDir = "/meta"

// clusterSnapshotBytes is the snapshot interval of a test cluster's nodes: small, so tests see
// snapshots taken and fetched (a benchmark sets Kafka's default).
var clusterSnapshotBytes int64 = 4 << 10

func newTestCluster(t testing.TB, seed uint64, voters []int32, observers []int32) *testCluster {
	c := &testCluster{
		t: t, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), nowMs: 1_000,
		nodes: make(map[int32]*testNode), links: make(map[[2]int32][]frame), cut: make(map[[2]int32]bool),
		clientAnswers: make(map[ConnID]Response),
	}
	for _, v := range voters {
		c.voters = append(c.voters, quorum.NodeID(v))
	}
	for _, id := range append(slices.Clone(voters), observers...) {
		tn := &testNode{id: id, fs: memfs.New()}
		c.nodes[id] = tn
		c.start(tn)
	}
	return c
}

func (c *testCluster) clocks() Clocks {
	return Clocks{MonotonicMs: c.nowMs, WallMs: 1_700_000_000_000 + c.nowMs}
}

func (c *testCluster) start(tn *testNode) {
	tn.sent = make(map[int32]wire.RequestHeader)
	tn.answers = make(map[int32]kmsg.Response)
	qlog, err := metadata.OpenQuorumLog(tn.fs, testMetaDir, metadata.DefaultQuorumLogConfig(), c.clocks().WallMs)
	require.NoError(c.t, err)
	stateDir := qlog.Dir()
	sf, err := quorum.ReadStateFile(tn.fs, stateDir)
	require.NoError(c.t, err)
	cfg := DefaultNodeConfig(quorum.DefaultConfig(quorum.NodeID(tn.id), slices.Clone(c.voters)), tn.fs, stateDir)
	cfg.Wire = quorum.Wire{ClusterID: testClusterID}
	cfg.VoterEndpoints = make(map[quorum.NodeID]quorum.Endpoint)
	for _, v := range c.voters {
		cfg.VoterEndpoints[v] = quorum.Endpoint{Listener: "CONTROLLER", Host: fmt.Sprintf("controller-%d", v), Port: 9093}
	}
	cfg.SnapshotBytesBetween = clusterSnapshotBytes
	if slices.Contains(c.voters, quorum.NodeID(tn.id)) {
		cfg.Controller = &Config{NodeID: tn.id, Broker: config.DefaultBrokerConfig(), ClusterID: testClusterID}
	}
	node, ready, err := NewNode(cfg, qlog, sf.State, rand.New(rand.NewPCG(uint64(tn.id), c.rng.Uint64())), c.clocks())
	require.NoError(c.t, err)
	tn.node, tn.fatal = node, nil
	c.execute(tn, ready)
}

// connID names the connection from node from to node to (each pair has one).
func connID(from, to int32) ConnID { return ConnID(uint64(from)<<32 | uint64(uint32(to))) }

// execute runs a Ready's effects the way the drivers do.
func (c *testCluster) execute(tn *testNode, r Ready) {
	for {
		if r.Fatal != nil {
			tn.fatal = r.Fatal
			return
		}
		var next []Ready
		for _, s := range r.Syncs {
			err := s.Req.Run(tn.fs)
			next = append(next, tn.node.Synced(c.clocks(), s.ID, err))
		}
		for _, op := range r.FileOps {
			err := log.RunFileOps(tn.fs, op.Ops)
			next = append(next, tn.node.Done(c.clocks(), op.ID, err))
		}
		if r.Snapshot != nil {
			c.snapshotsWritten++
			err := r.Snapshot.Run(tn.fs)
			next = append(next, tn.node.SnapshotWritten(c.clocks(), r.Snapshot, err))
		}
		for _, s := range r.Sends {
			h := wire.RequestHeader{APIKey: s.Request.Key(), APIVersion: s.Request.GetVersion(), CorrelationID: s.CorrelationID}
			tn.sent[s.CorrelationID] = h
			if h.APIKey == kmsg.FetchSnapshot.Int16() {
				c.snapshotFetches++
			}
			c.push(tn.id, s.To, frame{request: true, bytes: wire.AppendRequest(nil, h, s.Request), key: h.APIKey, version: h.APIVersion})
		}
		for _, resp := range r.Responses {
			from := int32(uint64(resp.Conn) >> 32)
			if _, isNode := c.nodes[from]; !isNode || uint32(resp.Conn) != uint32(tn.id) {
				c.clientAnswers[resp.Conn] = resp
				continue
			}
			c.push(tn.id, from, frame{bytes: wire.AppendResponse(nil, resp.Header, resp.Body), key: resp.Header.APIKey, version: resp.Header.APIVersion})
		}
		tn.timerMs = r.NextDeadlineMs
		for _, w := range r.Warnings {
			c.t.Logf("node %d warning: %v", tn.id, w)
		}
		if len(next) == 0 {
			return
		}
		r = merge(next)
	}
}

// merge concatenates Readys (each is complete on its own; their order is kept).
func merge(rs []Ready) Ready {
	var out Ready
	for _, r := range rs {
		out.Syncs = append(out.Syncs, r.Syncs...)
		out.FileOps = append(out.FileOps, r.FileOps...)
		if r.Snapshot != nil {
			out.Snapshot = r.Snapshot
		}
		out.Sends = append(out.Sends, r.Sends...)
		out.Responses = append(out.Responses, r.Responses...)
		out.Warnings = append(out.Warnings, r.Warnings...)
		out.NextDeadlineMs = r.NextDeadlineMs
		if r.Fatal != nil {
			out.Fatal = r.Fatal
		}
	}
	return out
}

func (c *testCluster) push(from, to int32, f frame) {
	if c.cut[[2]int32{from, to}] {
		return
	}
	k := [2]int32{from, to}
	c.links[k] = append(c.links[k], f)
}

// deliverOne delivers the head frame of a random non-empty link; false when none is.
func (c *testCluster) deliverOne() bool {
	var keys [][2]int32
	for k, q := range c.links {
		if len(q) > 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return false
	}
	slices.SortFunc(keys, func(a, b [2]int32) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	k := keys[c.rng.IntN(len(keys))]
	f := c.links[k][0]
	c.links[k] = c.links[k][1:]
	if c.cut[k] {
		return true
	}
	from, to := c.nodes[k[0]], c.nodes[k[1]]
	if to.fatal != nil {
		return true
	}
	if f.request {
		req, err := wire.DecodeRequest(f.bytes[4:], &to.node.cfg.Versions)
		require.NoError(c.t, err)
		c.execute(to, to.node.Request(c.clocks(), connID(from.id, to.id), req))
		return true
	}
	corr, resp, err := wire.DecodeResponse(f.bytes[4:], f.key, f.version)
	require.NoError(c.t, err)
	if _, mine := to.sent[corr]; !mine {
		c.t.Fatalf("node %d got an answer to %d, which it did not send", to.id, corr)
	}
	delete(to.sent, corr)
	if corr < 0 {
		to.answers[corr] = resp // a request the test sent in the node's name
		return true
	}
	c.execute(to, to.node.PeerResponse(c.clocks(), from.id, corr, resp, nil))
	return true
}

// step delivers up to a few frames, then moves time to the next timer if nothing is in flight.
func (c *testCluster) step() {
	for range 8 {
		if !c.deliverOne() {
			break
		}
	}
	var inFlight bool
	for _, q := range c.links {
		inFlight = inFlight || len(q) > 0
	}
	next := int64(0)
	for _, id := range c.ids() {
		tn := c.nodes[id]
		if tn.fatal == nil && tn.timerMs > 0 && (next == 0 || tn.timerMs < next) {
			next = tn.timerMs
		}
	}
	if !inFlight && next > c.nowMs {
		c.nowMs = next
	} else {
		c.nowMs += int64(c.rng.IntN(3))
	}
	for _, id := range c.ids() {
		tn := c.nodes[id]
		if tn.fatal == nil && tn.timerMs > 0 && tn.timerMs <= c.nowMs {
			c.execute(tn, tn.node.Timer(c.clocks()))
		}
	}
}

func (c *testCluster) ids() []int32 {
	var ids []int32
	for id := range c.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// runUntil steps until cond holds, failing the test after maxSteps.
func (c *testCluster) runUntil(maxSteps int, what string, cond func() bool) {
	c.t.Helper()
	for range maxSteps {
		c.checkNoFatal()
		if cond() {
			return
		}
		c.step()
	}
	c.t.Fatalf("%s did not happen within %d steps (virtual time %d ms)", what, maxSteps, c.nowMs)
}

func (c *testCluster) checkNoFatal() {
	c.t.Helper()
	for _, id := range c.ids() {
		if err := c.nodes[id].fatal; err != nil {
			c.t.Fatalf("node %d failed: %v", id, err)
		}
	}
}

func (c *testCluster) active() *testNode {
	for _, id := range c.ids() {
		if tn := c.nodes[id]; tn.fatal == nil && tn.node.Active() {
			return tn
		}
	}
	return nil
}

// propose appends records on the active controller as one command would.
func (c *testCluster) propose(records []metadata.Record) {
	a := c.active()
	require.NotNil(c.t, a, "no active controller")
	a.node.begin(c.clocks())
	_, err := a.node.propose(records)
	require.NoError(c.t, err)
	c.execute(a, a.node.ready())
}

// converged reports whether every live node has applied up to the same offset, at least
// offset, with equal images.
func (c *testCluster) converged(offset int64) bool {
	var first *metadata.Image
	var firstOffset int64 = -1
	for _, id := range c.ids() {
		tn := c.nodes[id]
		img, applied := tn.node.Image()
		if int64(applied) < offset {
			return false
		}
		if first == nil {
			first, firstOffset = img, int64(applied)
			continue
		}
		if int64(applied) != firstOffset || !img.Equal(first) {
			return false
		}
	}
	return true
}

func topicRecords(t testing.TB, i int) []metadata.Record {
	id := metadata.UUID{byte(i + 1), 7}
	rs, err := metadata.NewTopicRecords(fmt.Sprintf("topic-%d", i), id, [][]int32{{1}, {2}}, nil)
	require.NoError(t, err)
	return rs
}

func TestNodeClusterReplicatesAndAppliesCommittedRecords(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			c := newTestCluster(t, seed, []int32{1, 2, 3}, []int32{4})
			c.runUntil(20_000, "an active controller", func() bool { return c.active() != nil })
			// Bootstrap records first, as the first controller writes them.
			for i := range 40 {
				c.propose(topicRecords(t, i))
				for range 3 {
					c.step()
				}
			}
			end := int64(c.active().node.log.EndOffset())
			c.runUntil(50_000, "every node applying every record", func() bool { return c.converged(end) })
			img, applied := c.nodes[4].node.Image()
			t.Logf("end %d applied %d at %d ms, leader %d epoch %d", end, applied, c.nowMs, c.active().id, c.active().node.QuorumState().Epoch)
			require.Equal(t, 40, img.TopicCount(), "the observer's image")
			require.Equal(t, metadata.MetadataVersionDefault, img.MetadataVersion(), "the first active controller bootstraps metadata.version")
		})
	}
}

// TestNodeCommandWaitsForCommit: a controller command is answered only once its records are
// committed, and on a follower with NOT_CONTROLLER.
func TestNodeCommandAnsweredByTheActiveControllerOnly(t *testing.T) {
	c := newTestCluster(t, 7, []int32{1, 2, 3}, nil)
	c.runUntil(20_000, "an active controller", func() bool { return c.active() != nil })
	a := c.active()
	var follower *testNode
	for _, id := range c.ids() {
		if c.nodes[id] != a {
			follower = c.nodes[id]
			break
		}
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "t", 1, 1
	req.Topics = append(req.Topics, rt)
	req.SetVersion(7)
	h := wire.RequestHeader{APIKey: req.Key(), APIVersion: 7, CorrelationID: -5}
	decoded, err := wire.DecodeRequest(wire.AppendRequest(nil, h, req)[4:], &follower.node.cfg.Versions)
	require.NoError(t, err)
	r := follower.node.Request(c.clocks(), ConnID(99), decoded)
	require.Len(t, r.Responses, 1)
	resp := r.Responses[0].Body.(*kmsg.CreateTopicsResponse)
	require.Len(t, resp.Topics, 1)
	require.Equal(t, errNotController, resp.Topics[0].ErrorCode)
}

var _ diskio.FS = (*memfs.FS)(nil)

// crash restarts node id from what its disk kept (unsynced data lost or torn at random).
func (c *testCluster) crash(id int32) {
	tn := c.nodes[id]
	tn.fs = tn.fs.CrashClone(memfs.CrashConfig{Seed: c.rng.Uint64(), Mode: memfs.CrashRandom})
	for k := range c.links {
		if k[0] == id || k[1] == id {
			delete(c.links, k) // connections reset both ways
		}
	}
	for _, oid := range c.ids() {
		if o := c.nodes[oid]; oid != id && o.fatal == nil {
			c.execute(o, o.node.ConnClosed(c.clocks(), connID(id, oid)))
		}
	}
	c.start(tn)
}

// TestNodeClusterSurvivesCrashes: leaders and followers crash (losing unsynced data) while
// records are proposed; every record the active controller saw committed stays, and every
// node ends with the same image.
func TestNodeClusterSurvivesCrashes(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			c := newTestCluster(t, seed, []int32{1, 2, 3}, []int32{4})
			c.runUntil(20_000, "an active controller", func() bool { return c.active() != nil })
			committed := 0 // topics known committed
			proposed := 0
			for range 30 {
				if a := c.active(); a != nil {
					c.propose(topicRecords(t, proposed))
					proposed++
				}
				for range 5 {
					c.step()
				}
				if a := c.active(); a != nil {
					img, _ := a.node.Image()
					committed = max(committed, img.TopicCount())
				}
				if c.rng.IntN(4) == 0 {
					c.crash(c.ids()[c.rng.IntN(len(c.nodes))])
				}
				c.checkNoFatal()
			}
			c.runUntil(50_000, "an active controller", func() bool { return c.active() != nil })
			c.propose(topicRecords(t, proposed)) // commits everything before it in this epoch
			end := int64(c.active().node.log.EndOffset())
			c.runUntil(100_000, "every node applying every record", func() bool { return c.converged(end) })
			img, _ := c.nodes[1].node.Image()
			require.GreaterOrEqual(t, img.TopicCount(), committed+1, "a committed topic was lost")
			t.Logf("proposed %d, committed at least %d, final %d, epoch %d", proposed+1, committed, img.TopicCount(), c.active().node.QuorumState().Epoch)
		})
	}
}

// clusterChecker checks invariants across the nodes after every step.
type clusterChecker struct {
	imageAt      map[int64]*metadata.Image // the first image seen applied up to each offset
	activeEpochs map[int32]int32           // epoch → the node active in it
	applied      map[int32]int64           // per node (this incarnation): the applied offset seen last
	lastImage    map[int32]*metadata.Image // per node: the image seen last (images are immutable)
}

func newClusterChecker() *clusterChecker {
	return &clusterChecker{imageAt: make(map[int64]*metadata.Image), activeEpochs: make(map[int32]int32), applied: make(map[int32]int64),
		lastImage: make(map[int32]*metadata.Image)}
}

func (k *clusterChecker) check(t testing.TB, c *testCluster) {
	t.Helper()
	for _, id := range c.ids() {
		tn := c.nodes[id]
		if tn.fatal != nil {
			continue
		}
		img, applied := tn.node.Image()
		at := int64(applied)
		if prev, ok := k.applied[id]; ok && at < prev {
			t.Fatalf("node %d's applied offset went back from %d to %d", id, prev, at)
		}
		moved := k.applied[id] != at || k.lastImage[id] != img
		k.applied[id], k.lastImage[id] = at, img
		if first, ok := k.imageAt[at]; !ok {
			k.imageAt[at] = img
		} else if moved && first != img && !first.Equal(img) {
			t.Fatalf("node %d applied up to %d an image that differs from another node's at the same offset", id, at)
		}
		if tn.node.Active() {
			epoch := int32(tn.node.QuorumState().Epoch)
			if other, ok := k.activeEpochs[epoch]; ok && other != id {
				t.Fatalf("nodes %d and %d were both active controllers in epoch %d", other, id, epoch)
			}
			k.activeEpochs[epoch] = id
		}
	}
}

// TestNodeClusterRandomized: proposals, crashes and cut links at random; every step is
// checked (same image at the same offset on every node, one active controller per epoch,
// applied offsets never go back), and once healed the cluster converges with nothing
// committed lost. NODECLUSTER_SEEDS sets the seed count (30; 5 under -short).
func TestNodeClusterRandomized(t *testing.T) {
	seeds := seedsFromEnv(t, "NODECLUSTER_SEEDS", 30)
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			c := newTestCluster(t, seed, []int32{1, 2, 3}, []int32{4, 5})
			k := newClusterChecker()
			committed := 0
			proposed := 0
			for round := range 200 {
				switch r := c.rng.IntN(20); {
				case r < 8:
					if a := c.active(); a != nil {
						c.propose(topicRecords(t, proposed))
						proposed++
					}
				case r < 9:
					id := c.ids()[c.rng.IntN(len(c.nodes))]
					delete(k.applied, id)
					c.crash(id)
				case r < 11:
					a, b := c.ids()[c.rng.IntN(len(c.nodes))], c.ids()[c.rng.IntN(len(c.nodes))]
					c.cut[[2]int32{a, b}] = true
				case r < 13:
					clear(c.cut)
				}
				for range 10 {
					c.step()
					c.checkNoFatal()
					k.check(t, c)
				}
				if a := c.active(); a != nil {
					img, _ := a.node.Image()
					committed = max(committed, img.TopicCount())
				}
				_ = round
			}
			clear(c.cut)
			c.runUntil(100_000, "an active controller", func() bool { return c.active() != nil })
			c.propose(topicRecords(t, proposed))
			end := int64(c.active().node.log.EndOffset())
			c.runUntil(200_000, "every node applying every record", func() bool { k.check(t, c); return c.converged(end) })
			img, _ := c.active().node.Image()
			require.GreaterOrEqual(t, img.TopicCount(), committed+1, "a committed topic was lost")
			t.Logf("proposed %d, committed at least %d, final %d, epochs %d, snapshots %d, snapshot fetches %d",
				proposed+1, committed, img.TopicCount(), len(k.activeEpochs), c.snapshotsWritten, c.snapshotFetches)
		})
	}
}

// isolate cuts every link to and from id.
func (c *testCluster) isolate(id int32) {
	for _, o := range c.ids() {
		if o != id {
			c.cut[[2]int32{id, o}], c.cut[[2]int32{o, id}] = true, true
		}
	}
}

// TestNodeLaggingFollowerCatchesUpFromASnapshot: a voter cut off while the others commit past
// two snapshots finds the leader's log start above its fetch offset, fetches the snapshot and
// restarts its image from it.
func TestNodeLaggingFollowerCatchesUpFromASnapshot(t *testing.T) {
	c := newTestCluster(t, 3, []int32{1, 2, 3}, []int32{4})
	c.runUntil(20_000, "an active controller", func() bool { return c.active() != nil })
	var lagging int32
	for _, id := range c.ids() {
		if c.nodes[id] != c.active() {
			lagging = id
			break
		}
	}
	c.isolate(lagging)
	for i := range 120 {
		c.propose(topicRecords(t, i))
		for range 3 {
			c.step()
		}
	}
	leader := c.active()
	require.NotNil(t, leader)
	require.Greater(t, int64(leader.node.log.Start().EndOffset), int64(0), "the leader's log start moved past the first snapshot")
	clear(c.cut)
	end := int64(leader.node.log.EndOffset())
	c.runUntil(100_000, "every node applying every record", func() bool { return c.converged(end) })
	require.Positive(t, c.snapshotFetches, "the lagging voter fetched a snapshot")
	img, _ := c.nodes[lagging].node.Image()
	require.Equal(t, 120, img.TopicCount())
}

// seedsFromEnv reads a seed count from the environment variable name, else def (a sixth of it
// under -short).
func seedsFromEnv(t testing.TB, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, name)
		return n
	}
	if testing.Short() {
		return max(def/6, 1)
	}
	return def
}

// request sends req to node to as a client on connection conn (not a node pair's) and returns
// the answer once the cluster has delivered it, encoding and decoding both through core/wire.
func (c *testCluster) request(to *testNode, conn ConnID, req kmsg.Request) kmsg.Response {
	c.t.Helper()
	h := wire.RequestHeader{APIKey: req.Key(), APIVersion: req.GetVersion(), CorrelationID: 77}
	decoded, err := wire.DecodeRequest(wire.AppendRequest(nil, h, req)[4:], &to.node.cfg.Versions)
	require.NoError(c.t, err)
	c.execute(to, to.node.Request(c.clocks(), conn, decoded))
	for range 10_000 {
		if resp, ok := c.clientAnswers[conn]; ok {
			delete(c.clientAnswers, conn)
			frame := wire.AppendResponse(nil, resp.Header, resp.Body)
			corr, got, err := wire.DecodeResponse(frame[4:], h.APIKey, h.APIVersion)
			require.NoError(c.t, err)
			require.Equal(c.t, h.CorrelationID, corr)
			return got
		}
		c.step()
	}
	c.t.Fatalf("no answer to %s", kmsg.NameForKey(h.APIKey))
	return nil
}

// TestNodeRegistersABrokerThroughTheQuorum: BrokerRegistration sent to the active controller is
// answered once committed, with the broker epoch = the offset of its RegisterBrokerRecord on
// every node; a heartbeat caught up with the log unfences it; the standby answers
// NOT_CONTROLLER.
func TestNodeRegistersABrokerThroughTheQuorum(t *testing.T) {
	c := newTestCluster(t, 11, []int32{1, 2, 3}, []int32{4})
	c.runUntil(20_000, "an active controller", func() bool { return c.active() != nil })
	a := c.active()

	resp := c.request(a, 500, registrationRequest(4, 1)).(*kmsg.BrokerRegistrationResponse)
	require.Zero(t, resp.ErrorCode)
	epoch := resp.BrokerEpoch
	require.Less(t, int64(epoch), int64(a.node.HighWatermark()), "answered before its record committed")
	end := int64(a.node.log.EndOffset())
	c.runUntil(50_000, "every node applying the registration", func() bool { return c.converged(end) })
	for _, id := range c.ids() {
		img, _ := c.nodes[id].node.Image()
		b, ok := img.Broker(4)
		require.True(t, ok, "node %d", id)
		require.Equal(t, epoch, b.Epoch, "node %d", id)
		require.True(t, b.Fenced, "a new registration starts fenced")
		entries, err := c.nodes[id].node.log.Read(record.Offset(epoch), 1)
		require.NoError(t, err)
		r, err := metadata.DecodeRecord(entries[0].Data)
		require.NoError(t, err)
		require.Equal(t, metadata.RegisterBrokerRecordType, r.Type(), "node %d: the broker epoch is the offset of the registration record", id)
	}

	hb := c.request(a, 501, heartbeatRequest(4, epoch, int64(a.node.HighWatermark())-1, false, false)).(*kmsg.BrokerHeartbeatResponse)
	require.Zero(t, hb.ErrorCode)
	require.False(t, hb.IsFenced, "a caught-up heartbeat unfences")
	img, _ := a.node.Image()
	b, _ := img.Broker(4)
	require.False(t, b.Fenced)

	var standby *testNode
	for _, id := range []int32{1, 2, 3} {
		if c.nodes[id] != a {
			standby = c.nodes[id]
		}
	}
	refused := c.request(standby, 502, registrationRequest(5, 1)).(*kmsg.BrokerRegistrationResponse)
	require.Equal(t, errNotController, refused.ErrorCode)
}

// TestNodeRefusesACommandLargerThanOneBatch: a command whose records do not fit one atomic
// batch is refused whole (POLICY_VIOLATION), and nothing of it is written.
func TestNodeRefusesACommandLargerThanOneBatch(t *testing.T) {
	c := newTestCluster(t, 5, []int32{1}, nil)
	c.runUntil(20_000, "an active controller", func() bool { return c.active() != nil })
	a := c.active()
	reg := c.request(a, 400, registrationRequest(1, 1)).(*kmsg.BrokerRegistrationResponse)
	require.Zero(t, reg.ErrorCode)
	hb := c.request(a, 400, heartbeatRequest(1, reg.BrokerEpoch, int64(a.node.HighWatermark())-1, false, false)).(*kmsg.BrokerHeartbeatResponse)
	require.False(t, hb.IsFenced)
	end := a.node.log.EndOffset()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	// 9,990 partitions pass the request's own bound (10,000) but, with their topics, make
	// more than 10,000 records.
	for i := range 30 {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = fmt.Sprintf("big-%d", i), 333, 1
		req.Topics = append(req.Topics, rt)
	}
	resp := c.request(a, 401, req).(*kmsg.CreateTopicsResponse)
	require.Len(t, resp.Topics, 30)
	for _, rt := range resp.Topics {
		require.Equal(t, errPolicyViolation, rt.ErrorCode, rt.Topic)
	}
	require.Equal(t, end, a.node.log.EndOffset(), "nothing of the refused command was written")
}

func describeQuorumRequest() *kmsg.DescribeQuorumRequest {
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.Version = 2
	t := kmsg.NewDescribeQuorumRequestTopic()
	t.Topic = quorum.MetadataTopic
	t.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{{Partition: 0}}
	req.Topics = append(req.Topics, t)
	return req
}

// TestNodeDescribeQuorum: the leader describes every voter and the fetching observer, caught
// up with its log end and high watermark, with the voters' endpoints; a follower answers
// NOT_LEADER_OR_FOLLOWER naming the leader.
func TestNodeDescribeQuorum(t *testing.T) {
	c := newTestCluster(t, 21, []int32{1, 2, 3}, []int32{7})
	c.runUntil(20_000, "an active controller", func() bool { return c.active() != nil })
	for i := range 5 {
		c.propose(topicRecords(t, i))
	}
	a := c.active()
	end := int64(a.node.log.EndOffset())
	c.runUntil(50_000, "every node applying every record", func() bool { return c.converged(end) })
	for range 50 {
		c.step() // a round of fetches at the log end
	}
	resp := c.request(a, 600, describeQuorumRequest()).(*kmsg.DescribeQuorumResponse)
	require.Zero(t, resp.ErrorCode)
	p := resp.Topics[0].Partitions[0]
	require.Zero(t, p.ErrorCode)
	require.Equal(t, a.id, p.LeaderID)
	require.Equal(t, end, p.HighWatermark)
	var voters, observers []int32
	for _, v := range p.CurrentVoters {
		voters = append(voters, v.ReplicaID)
		require.Equal(t, end, v.LogEndOffset, "voter %d", v.ReplicaID)
		require.Positive(t, v.LastCaughtUpTimestamp, "voter %d", v.ReplicaID)
	}
	for _, o := range p.Observers {
		observers = append(observers, o.ReplicaID)
		require.Equal(t, end, o.LogEndOffset)
	}
	require.Equal(t, []int32{1, 2, 3}, voters)
	require.Equal(t, []int32{7}, observers)
	require.Len(t, resp.Nodes, 3)
	require.Equal(t, "controller-2", resp.Nodes[1].Listeners[0].Host)

	var follower *testNode
	for _, id := range []int32{1, 2, 3} {
		if c.nodes[id] != a {
			follower = c.nodes[id]
		}
	}
	fresp := c.request(follower, 601, describeQuorumRequest()).(*kmsg.DescribeQuorumResponse)
	fp := fresp.Topics[0].Partitions[0]
	require.Equal(t, quorum.ErrNotLeaderOrFollower, fp.ErrorCode)
	require.Equal(t, a.id, fp.LeaderID)
}
