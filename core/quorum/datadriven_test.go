package quorum

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestInteraction runs the scripts in testdata/ (etcd raft's interaction tests, in KRaft's
// terms). A script builds a cluster, then moves time, delivers the messages in flight, completes
// flushes, proposes, crashes and restarts nodes, and prints every Ready the nodes return:
//
//	cluster voters=(1,2,3) [observers=(4)] [chunk-bytes=N]
//	tick at=ms [nodes=(1,2)]        move the clock and Tick the nodes (all by default)
//	deliver [from=N] [to=N]         deliver the matching messages in flight, in order
//	drop [from=N] [to=N]            lose the matching messages in flight
//	flush [nodes=(1)]               complete the nodes' flushes (all by default)
//	stabilize                       deliver and flush until nothing is left
//	propose node=N data=(a,b)
//	resign node=N
//	crash node=N                    lose unflushed entries, restart from the persisted state
//	snapshot node=N [keep=N]        snapshot at the node's HW and drop the log below it but
//	                                keep entries (keep=0 drops none)
//	partition nodes=(1)             cut these nodes off from the others (messages dropped)
//	heal                            remove the partition
//	status
func TestInteraction(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var c *ddCluster
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "cluster" && c == nil {
				t.Fatalf("%s: cluster first", d.Pos)
			}
			if c != nil {
				c.t = t
				c.out.Reset()
			}
			switch d.Cmd {
			case "cluster":
				chunk := int32(1 << 20)
				if d.HasArg("chunk-bytes") {
					chunk = int32(intArg(t, d, "chunk-bytes"))
				}
				c = newDDCluster(t, ids(t, d, "voters"), ids(t, d, "observers"), chunk)
			case "tick":
				d.ScanArgs(t, "at", &c.nowMs)
				for _, id := range c.chosen(t, d) {
					tn := c.nodes[id]
					tn.nowMs = c.nowMs
					c.print(tn, tn.apply(tn.n.Tick(c.nowMs)))
				}
			case "deliver":
				c.deliver(filter(t, d))
			case "drop":
				match := filter(t, d)
				c.pending = slices.DeleteFunc(c.pending, match)
			case "flush":
				for _, id := range c.chosen(t, d) {
					c.flush(id)
				}
			case "stabilize":
				for range 1000 {
					if len(c.pending) == 0 && !c.flushPending() {
						break
					}
					c.deliver(func(Message) bool { return true })
					for _, id := range c.ids {
						if len(c.nodes[id].flushes) > 0 {
							c.flush(id)
						}
					}
				}
			case "propose":
				tn := c.nodes[nodeArg(t, d)]
				var data [][]byte
				for _, v := range argList(d, "data") {
					data = append(data, []byte(v))
				}
				tn.nowMs = c.nowMs
				o, r, err := tn.n.Propose(c.nowMs, data)
				if err != nil {
					fmt.Fprintf(&c.out, "n%d: propose: %v\n", tn.n.cfg.ID, err)
					tn.apply(r, nil)
					break
				}
				fmt.Fprintf(&c.out, "n%d: proposed at %d\n", tn.n.cfg.ID, o)
				c.print(tn, tn.apply(r, nil))
			case "resign":
				tn := c.nodes[nodeArg(t, d)]
				c.print(tn, tn.apply(tn.n.Resign(c.nowMs), nil))
			case "crash":
				id := nodeArg(t, d)
				old := c.nodes[id]
				old.log.crash(zeroRand())
				c.pending = slices.DeleteFunc(c.pending, func(m Message) bool { return m.From == id || m.To == id })
				n, err := New(old.n.cfg, old.log, old.persisted, testRand(id), c.nowMs)
				if err != nil {
					t.Fatal(err)
				}
				tn := &testNode{t: t, n: n, log: old.log, persisted: old.persisted, nowMs: c.nowMs}
				c.nodes[id] = tn
				fmt.Fprintf(&c.out, "n%d restarts with %v, log end %d\n", id, old.persisted, old.log.EndOffset())
				c.print(tn, tn.apply(n.Tick(c.nowMs)))
			case "snapshot":
				tn := c.nodes[nodeArg(t, d)]
				at := tn.n.HighWatermark()
				tn.log.takeSnapshot(at)
				if !d.HasArg("keep") || intArg(t, d, "keep") > 0 {
					tn.log.deletePrefix(at)
				}
				id, _ := tn.log.LatestSnapshot()
				fmt.Fprintf(&c.out, "n%d: snapshot %d@%d, log start %d\n", tn.n.cfg.ID, id.Epoch, id.EndOffset, tn.log.Start().EndOffset)
			case "partition":
				c.cut = ids(t, d, "nodes")
				c.pending = slices.DeleteFunc(c.pending, c.severed)
			case "heal":
				c.cut = nil
			case "status":
				for _, id := range c.ids {
					tn := c.nodes[id]
					fmt.Fprintf(&c.out, "n%d: %v %v hw=%d start=%d durable=%d log=%s\n", id, tn.n.Role(), tn.n.State(), tn.n.HighWatermark(), tn.log.Start().EndOffset, tn.log.DurableOffset(), fmtEntries(tn.log.visible()))
				}
			default:
				t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			}
			return c.out.String()
		})
	})
}

type ddCluster struct {
	t       *testing.T
	nowMs   int64
	ids     []NodeID
	nodes   map[NodeID]*testNode
	pending []Message
	cut     []NodeID // partitioned off from the rest
	out     strings.Builder
}

// severed reports whether a partition lies between m's ends.
func (c *ddCluster) severed(m Message) bool {
	return slices.Contains(c.cut, m.From) != slices.Contains(c.cut, m.To)
}

func newDDCluster(t *testing.T, voters, observers []NodeID, chunkBytes int32) *ddCluster {
	c := &ddCluster{t: t, nodes: map[NodeID]*testNode{}}
	c.ids = append(slices.Clone(voters), observers...)
	slices.Sort(c.ids)
	for _, id := range c.ids {
		cfg := testConfig(id, voters)
		cfg.SnapshotChunkBytesMax = chunkBytes
		n, err := New(cfg, newMemLog(), InitialState(), testRand(id), 0)
		if err != nil {
			t.Fatal(err)
		}
		tn := &testNode{t: t, n: n, log: n.log.(*memLog), persisted: InitialState()}
		c.nodes[id] = tn
		c.print(tn, tn.apply(n.Tick(0)))
	}
	return c
}

func (c *ddCluster) flushPending() bool {
	for _, id := range c.ids {
		if len(c.nodes[id].flushes) > 0 {
			return true
		}
	}
	return false
}

func (c *ddCluster) chosen(t *testing.T, d *datadriven.TestData) []NodeID {
	if d.HasArg("nodes") {
		return ids(t, d, "nodes")
	}
	return c.ids
}

// deliver hands every matching message in flight to its node; what they send is queued.
func (c *ddCluster) deliver(match func(Message) bool) {
	var now []Message
	c.pending = slices.DeleteFunc(c.pending, func(m Message) bool {
		if match(m) {
			now = append(now, m)
			return true
		}
		return false
	})
	for _, m := range now {
		tn := c.nodes[m.To]
		tn.nowMs = c.nowMs
		fmt.Fprintf(&c.out, "n%d → n%d %s\n", m.From, m.To, fmtBody(m.Body))
		c.print(tn, tn.deliver(m))
	}
}

func (c *ddCluster) flush(id NodeID) {
	tn := c.nodes[id]
	if len(tn.flushes) == 0 {
		return
	}
	tn.nowMs = c.nowMs
	fmt.Fprintf(&c.out, "n%d flushed to %d\n", id, tn.log.EndOffset())
	c.print(tn, tn.flush())
}

// print writes what a Ready asks for, and queues its messages.
func (c *ddCluster) print(tn *testNode, r Ready) {
	fmt.Fprintf(&c.out, "  n%d: %v %v hw=%d", tn.n.cfg.ID, tn.n.Role(), tn.n.State(), r.HighWatermark)
	if r.NextDeadlineMs != noDeadline {
		fmt.Fprintf(&c.out, " next=%d", r.NextDeadlineMs)
	}
	c.out.WriteString("\n")
	if r.State != nil {
		fmt.Fprintf(&c.out, "    persist %v\n", *r.State)
	}
	if r.Flush {
		fmt.Fprintf(&c.out, "    flush (log end %d)\n", tn.log.EndOffset())
	}
	for _, m := range r.Messages {
		if c.severed(m) {
			fmt.Fprintf(&c.out, "    send n%d %s (cut off)\n", m.To, fmtBody(m.Body))
			continue
		}
		fmt.Fprintf(&c.out, "    send n%d %s\n", m.To, fmtBody(m.Body))
		c.pending = append(c.pending, m)
	}
}

func fmtBody(b Body) string {
	switch m := b.(type) {
	case *VoteRequest:
		kind := "Vote"
		if m.PreVote {
			kind = "PreVote"
		}
		return fmt.Sprintf("%s(epoch=%d last=%d@%d)", kind, m.CandidateEpoch, m.LastOffsetEpoch, m.LastOffset)
	case *VoteResponse:
		return fmt.Sprintf("VoteResponse(granted=%v epoch=%d leader=%d%s)", m.VoteGranted, m.LeaderEpoch, m.LeaderID, fmtErr(m.ErrorCode))
	case *BeginQuorumEpochRequest:
		return fmt.Sprintf("BeginQuorumEpoch(epoch=%d)", m.LeaderEpoch)
	case *BeginQuorumEpochResponse:
		return fmt.Sprintf("BeginQuorumEpochResponse(epoch=%d leader=%d%s)", m.LeaderEpoch, m.LeaderID, fmtErr(m.ErrorCode))
	case *EndQuorumEpochRequest:
		return fmt.Sprintf("EndQuorumEpoch(epoch=%d successors=%v)", m.LeaderEpoch, m.PreferredSuccessors)
	case *EndQuorumEpochResponse:
		return fmt.Sprintf("EndQuorumEpochResponse(epoch=%d leader=%d%s)", m.LeaderEpoch, m.LeaderID, fmtErr(m.ErrorCode))
	case *FetchRequest:
		return fmt.Sprintf("Fetch(epoch=%d offset=%d last-epoch=%d)", m.CurrentLeaderEpoch, m.FetchOffset, m.LastFetchedEpoch)
	case *FetchSnapshotRequest:
		return fmt.Sprintf("FetchSnapshot(epoch=%d snapshot=%d@%d position=%d)", m.CurrentLeaderEpoch, m.SnapshotID.Epoch, m.SnapshotID.EndOffset, m.Position)
	case *FetchSnapshotResponse:
		return fmt.Sprintf("FetchSnapshotResponse(epoch=%d leader=%d%s snapshot=%d@%d size=%d position=%d bytes=%d)", m.CurrentLeader.LeaderEpoch, m.CurrentLeader.LeaderID, fmtErr(m.ErrorCode), m.SnapshotID.Epoch, m.SnapshotID.EndOffset, m.Size, m.Position, len(m.Bytes))
	case *FetchResponse:
		s := fmt.Sprintf("FetchResponse(epoch=%d leader=%d%s", m.CurrentLeader.LeaderEpoch, m.CurrentLeader.LeaderID, fmtErr(m.ErrorCode))
		switch {
		case m.ErrorCode != ErrNone:
		case m.SnapshotID.Epoch >= 0:
			s += fmt.Sprintf(" hw=%d snapshot=%d@%d", m.HighWatermark, m.SnapshotID.Epoch, m.SnapshotID.EndOffset)
		case m.DivergingEpoch.Epoch >= 0:
			s += fmt.Sprintf(" hw=%d diverging=%d@%d", m.HighWatermark, m.DivergingEpoch.Epoch, m.DivergingEpoch.EndOffset)
		default:
			s += fmt.Sprintf(" hw=%d base=%d entries=%s", m.HighWatermark, m.BaseOffset, fmtEntries(m.Entries))
		}
		return s + ")"
	}
	return fmt.Sprintf("%T", b)
}

func fmtErr(code int16) string {
	switch code {
	case ErrNone:
		return ""
	case ErrNotLeaderOrFollower:
		return " NOT_LEADER_OR_FOLLOWER"
	case ErrFencedLeaderEpoch:
		return " FENCED_LEADER_EPOCH"
	case ErrUnknownLeaderEpoch:
		return " UNKNOWN_LEADER_EPOCH"
	case ErrInconsistentVoterSet:
		return " INCONSISTENT_VOTER_SET"
	case ErrSnapshotNotFound:
		return " SNAPSHOT_NOT_FOUND"
	case ErrPositionOutOfRange:
		return " POSITION_OUT_OF_RANGE"
	case ErrInvalidRequest:
		return " INVALID_REQUEST"
	}
	return fmt.Sprintf(" error=%d", code)
}

// fmtEntries renders entries as epoch:value, LC for a LeaderChange, and a batch of several as
// epoch:(v1 v2 ...).
func fmtEntries(entries []Entry) string {
	var parts []string
	for i := 0; i < len(entries); {
		end := i + 1
		for end < len(entries) && entries[end-1].MoreInBatch {
			end++
		}
		values := make([]string, end-i)
		for j := i; j < end; j++ {
			values[j-i] = string(entries[j].Data)
			if entries[j].Control {
				values[j-i] = "LC"
			}
		}
		v := values[0]
		if len(values) > 1 || entries[end-1].MoreInBatch {
			v = "(" + strings.Join(values, " ") + ")"
		}
		parts = append(parts, fmt.Sprintf("%d:%s", entries[i].Epoch, v))
		i = end
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func filter(t *testing.T, d *datadriven.TestData) func(Message) bool {
	from, to := NoNode, NoNode
	if d.HasArg("from") {
		from = NodeID(intArg(t, d, "from"))
	}
	if d.HasArg("to") {
		to = NodeID(intArg(t, d, "to"))
	}
	return func(m Message) bool {
		return (from == NoNode || m.From == from) && (to == NoNode || m.To == to)
	}
}

func nodeArg(t *testing.T, d *datadriven.TestData) NodeID { return NodeID(intArg(t, d, "node")) }

func intArg(t *testing.T, d *datadriven.TestData, key string) int {
	var v int
	d.ScanArgs(t, key, &v)
	return v
}

func argList(d *datadriven.TestData, key string) []string {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			return a.Vals
		}
	}
	return nil
}

func ids(t *testing.T, d *datadriven.TestData, key string) []NodeID {
	var out []NodeID
	for _, v := range argList(d, key) {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s: %s=%q: %v", d.Pos, key, v, err)
		}
		out = append(out, NodeID(n))
	}
	return out
}
