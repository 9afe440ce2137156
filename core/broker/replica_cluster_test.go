package broker

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/core/wire"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

// replicaCluster plays the drivers of a cluster of brokers 1..n, each on its own memfs, with
// one controller.Node (the sole voter, in broker 1's process) whose committed images every
// broker gets at once (a broker-only process's observer, with no lag). Requests between
// processes go through wire's codec; syncs, file ops and checkpoints run as soon as they are
// asked for, in event order. A stopped broker gets no event at all: no timer, no answer, no
// image; what it had in flight is lost. Time moves only through advance, through every
// deadline in order.
type replicaCluster struct {
	t             *testing.T
	now           Clocks
	ctl           *controller.Node
	ctlDeadlineMs int64
	brokers       []*clusterBroker // broker id-1
	committed     *controller.Committed
	queue         []func()
	corr          int32
	// answers are the client answers each broker gave, by correlation id.
	answers map[int32]kmsg.Response
}

type clusterBroker struct {
	id         int32
	fs         *memfs.FS
	cfg        Config
	node       *Node
	deadlineMs int64
	stopped    bool
}

// clientConn is the connection clients use to every broker; a broker's fetches arrive at
// another broker on peerConnBase+its id.
const (
	clientConn   ConnID = 1
	peerConnBase ConnID = 100
)

func newReplicaCluster(t *testing.T, brokers int) *replicaCluster {
	t.Helper()
	c := &replicaCluster{t: t, now: Clocks{MonotonicMs: 1000, WallMs: testStartWallMs}, answers: map[int32]kmsg.Response{}}
	for id := int32(1); id <= int32(brokers); id++ {
		props := fmt.Sprintf("node.id=%d\nlog.dirs=%s\ncontroller.listener.names=CONTROLLER\ncontroller.quorum.voters=1@broker-1:9093\n"+
			"advertised.listeners=PLAINTEXT://broker-%d:9092\n", id, testLogDir, id)
		if id == 1 {
			props += fmt.Sprintf("process.roles=broker,controller\nlisteners=PLAINTEXT://broker-1:9092,CONTROLLER://broker-1:9093\nmetadata.log.dir=%s\n", testMetaDir)
		} else {
			props += fmt.Sprintf("process.roles=broker\nlisteners=PLAINTEXT://broker-%d:9092\n", id)
		}
		bc, _, err := config.ParseServerProperties([]byte(props))
		if err != nil {
			t.Fatalf("broker %d: %v", id, err)
		}
		fsys := memfs.New()
		if _, err := storage.Format(fsys, []string{testLogDir}, testClusterID, id, rand.NewChaCha8([32]byte{byte(id)}), storage.FormatOptions{}); err != nil {
			t.Fatal(err)
		}
		cfg, err := ConfigFromBroker(bc)
		if err != nil {
			t.Fatalf("broker %d: %v", id, err)
		}
		cfg.FS = fsys
		logs, err := storage.OpenManager(fsys, storage.ManagerOptions{LogDirs: bc.LogDirs, NodeID: id, Random: rand.NewChaCha8([32]byte{byte(id), 1}), NowMs: c.now.WallMs})
		if err != nil {
			t.Fatal(err)
		}
		if id == 1 {
			c.startController(fsys, bc)
		}
		node, rd, err := NewNode(cfg, logs, rand.New(rand.NewPCG(uint64(id), 2)), c.now)
		if err != nil {
			t.Fatal(err)
		}
		b := &clusterBroker{id: id, fs: fsys, cfg: cfg, node: node}
		c.brokers = append(c.brokers, b)
		c.handle(b, rd)
		if c.committed != nil {
			committed := *c.committed
			c.queue = append(c.queue, func() { c.handle(b, b.node.Metadata(c.now, committed)) })
		}
	}
	c.run()
	for range 200 {
		serving := true
		for _, b := range c.brokers {
			serving = serving && b.node.Serving()
		}
		if serving {
			return c
		}
		c.advance(10)
	}
	t.Fatal("the brokers are not all serving after their start")
	return nil
}

func (c *replicaCluster) startController(fsys *memfs.FS, bc config.BrokerConfig) {
	qlog, err := metadata.OpenQuorumLog(fsys, testMetaDir, metadata.DefaultQuorumLogConfig(), c.now.WallMs)
	if err != nil {
		c.t.Fatal(err)
	}
	sf, err := quorum.ReadStateFile(fsys, qlog.Dir())
	if err != nil {
		c.t.Fatal(err)
	}
	ncfg := controller.DefaultNodeConfig(quorum.DefaultConfig(1, []quorum.NodeID{1}), fsys, qlog.Dir())
	ncfg.Wire = quorum.Wire{ClusterID: testClusterID}
	ncfg.Controller = &controller.Config{NodeID: 1, Broker: bc, ClusterID: testClusterID}
	ctl, rd, err := controller.NewNode(ncfg, qlog, sf.State, rand.New(rand.NewPCG(3, 4)), controller.Clocks(c.now))
	if err != nil {
		c.t.Fatal(err)
	}
	c.ctl = ctl
	c.handleController(rd)
}

func (c *replicaCluster) broker(id int32) *clusterBroker { return c.brokers[id-1] }

// createAssigned creates topic name with one partition on replicas (the first leads) and the
// given topic configs (name, value pairs), failing the test unless it is created.
func (c *replicaCluster) createAssigned(name string, replicas []int32, configs ...string) {
	c.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 5000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition, ra.Replicas = 0, replicas
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	for i := 0; i+1 < len(configs); i += 2 {
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = configs[i], strp(configs[i+1])
		rt.Configs = append(rt.Configs, cfg)
	}
	req.Topics = append(req.Topics, rt)
	if resp, ok := c.answer(c.request(1, 7, req), 5000).(*kmsg.CreateTopicsResponse); !ok || resp.Topics[0].ErrorCode != errNone {
		c.t.Fatalf("create %s: %+v", name, resp)
	}
}

// deliver queues an event for broker b, dropped if b is stopped when its turn comes.
func (c *replicaCluster) deliver(b *clusterBroker, event func() Ready) {
	c.queue = append(c.queue, func() {
		if !b.stopped {
			c.handle(b, event())
		}
	})
}

// run executes queued events until none is left.
func (c *replicaCluster) run() {
	for len(c.queue) > 0 {
		next := c.queue[0]
		c.queue = c.queue[1:]
		next()
	}
}

// handle executes broker b's Ready, after checking its invariants.
func (c *replicaCluster) handle(b *clusterBroker, rd Ready) {
	c.t.Helper()
	if err := b.node.CheckInvariants(); err != nil {
		c.t.Fatalf("broker %d: %v", b.id, err)
	}
	if rd.Fatal != nil {
		c.t.Fatalf("broker %d failed: %v", b.id, rd.Fatal)
	}
	b.deadlineMs = rd.NextDeadlineMs
	for _, s := range rd.Syncs {
		c.deliver(b, func() Ready { return b.node.Synced(c.now, s.ID, s.Req.Run(b.fs)) })
	}
	for _, op := range rd.FileOps {
		c.deliver(b, func() Ready { return b.node.Done(c.now, op.ID, log.RunFileOps(b.fs, op.Ops)) })
	}
	for _, cp := range rd.Checkpoints {
		if err := diskio.WriteFileAtomic(b.fs, cp.Dir, cp.Name, cp.Data); err != nil {
			c.t.Fatalf("broker %d checkpoint: %v", b.id, err)
		}
	}
	for _, r := range rd.Responses {
		c.respond(b, r)
	}
	for _, s := range rd.Sends {
		c.send(b, s)
	}
}

// respond takes broker b's answer: a client's is kept, a peer's fetch answer goes back to
// the fetching broker.
func (c *replicaCluster) respond(b *clusterBroker, r Response) {
	if r.Body == nil {
		return
	}
	if fr, ok := r.Body.(*kmsg.FetchResponse); ok {
		for _, rd := range r.Reads {
			fr.Topics[rd.TopicIndex].Partitions[rd.PartitionIndex].RecordBatches = readRanges(c.t, b.fs, rd.Plan.Ranges)
		}
	}
	frame := wire.AppendResponse(nil, r.Header, r.Body)
	_, decoded, err := wire.DecodeResponse(frame[wire.SizePrefixBytes:], r.Header.APIKey, r.Header.APIVersion)
	if err != nil {
		c.t.Fatalf("broker %d: an answer does not round-trip: %v", b.id, err)
	}
	if r.Conn == clientConn {
		c.answers[r.Header.CorrelationID] = decoded
		return
	}
	from := c.broker(int32(r.Conn - peerConnBase))
	c.deliver(from, func() Ready { return from.node.PeerResponse(c.now, r.Header.CorrelationID, decoded, nil) })
}

// send carries broker b's request to the controller or to another broker.
func (c *replicaCluster) send(b *clusterBroker, s PeerSend) {
	header := wire.RequestHeader{APIKey: s.Request.Key(), APIVersion: s.Request.GetVersion(), CorrelationID: s.CorrelationID, ClientID: strp(fmt.Sprintf("broker-%d", b.id))}
	frame := wire.AppendRequest(nil, header, s.Request)
	if !s.Broker {
		if s.To != 1 {
			c.t.Fatalf("broker %d sent to controller %d", b.id, s.To)
		}
		req, err := wire.DecodeRequest(frame[wire.SizePrefixBytes:], &controllerVersions)
		if err != nil {
			c.t.Fatalf("broker %d's request to the controller does not decode: %v", b.id, err)
		}
		c.queue = append(c.queue, func() {
			if !b.stopped {
				c.handleController(c.ctl.Request(controller.Clocks(c.now), controller.ConnID(b.id), req))
			}
		})
		return
	}
	to := c.broker(s.To)
	req, err := wire.DecodeRequest(frame[wire.SizePrefixBytes:], &to.cfg.Versions)
	if err != nil {
		c.t.Fatalf("broker %d's fetch does not decode: %v", b.id, err)
	}
	c.deliver(to, func() Ready { return to.node.Request(c.now, peerConnBase+ConnID(b.id), req) })
}

// handleController executes the controller's Ready: the image to every broker, answers to
// their senders, its syncs and file ops at once.
func (c *replicaCluster) handleController(r controller.Ready) {
	if r.Fatal != nil {
		c.t.Fatalf("controller failed: %v", r.Fatal)
	}
	c.ctlDeadlineMs = r.NextDeadlineMs
	if r.Committed != nil {
		committed := *r.Committed
		c.committed = &committed
		for _, b := range c.brokers {
			c.deliver(b, func() Ready { return b.node.Metadata(c.now, committed) })
		}
	}
	for _, resp := range r.Responses {
		frame := wire.AppendResponse(nil, resp.Header, resp.Body)
		_, decoded, err := wire.DecodeResponse(frame[wire.SizePrefixBytes:], resp.Header.APIKey, resp.Header.APIVersion)
		if err != nil {
			c.t.Fatalf("a controller answer does not round-trip: %v", err)
		}
		b := c.broker(int32(resp.Conn))
		c.deliver(b, func() Ready { return b.node.PeerResponse(c.now, resp.Header.CorrelationID, decoded, nil) })
	}
	for _, s := range r.Syncs {
		c.queue = append(c.queue, func() { c.handleController(c.ctl.Synced(controller.Clocks(c.now), s.ID, s.Req.Run(c.broker(1).fs))) })
	}
	for _, op := range r.FileOps {
		c.queue = append(c.queue, func() {
			c.handleController(c.ctl.Done(controller.Clocks(c.now), op.ID, log.RunFileOps(c.broker(1).fs, op.Ops)))
		})
	}
	if w := r.Snapshot; w != nil {
		c.queue = append(c.queue, func() { c.handleController(c.ctl.SnapshotWritten(controller.Clocks(c.now), w, w.Run(c.broker(1).fs))) })
	}
}

// request sends a client request to broker id and returns its correlation id.
func (c *replicaCluster) request(id int32, version int16, req kmsg.Request) int32 {
	c.t.Helper()
	b := c.broker(id)
	c.corr++
	frame := wire.AppendRequest(nil, wire.RequestHeader{APIKey: req.Key(), APIVersion: version, CorrelationID: c.corr, ClientID: strp("test")}, req)
	decoded, err := wire.DecodeRequest(frame[wire.SizePrefixBytes:], &b.cfg.Versions)
	if err != nil {
		c.t.Fatalf("request to broker %d: %v", id, err)
	}
	c.deliver(b, func() Ready { return b.node.Request(c.now, clientConn, decoded) })
	c.run()
	return c.corr
}

// answer returns the answer to corr, waiting up to waitMs for it (nil if none came).
func (c *replicaCluster) answer(corr int32, waitMs int64) kmsg.Response {
	until := c.now.MonotonicMs + waitMs
	for {
		c.run()
		if r, ok := c.answers[corr]; ok {
			delete(c.answers, corr)
			return r
		}
		if c.now.MonotonicMs >= until {
			return nil
		}
		c.advanceTo(min(until, c.now.MonotonicMs+10))
	}
}

// advance moves the clocks by ms, through every deadline of the controller and the running
// brokers on the way, in time order.
func (c *replicaCluster) advance(ms int64) { c.advanceTo(c.now.MonotonicMs + ms) }

func (c *replicaCluster) advanceTo(targetMs int64) {
	for {
		c.run()
		next := targetMs
		if c.ctlDeadlineMs != 0 {
			next = min(next, c.ctlDeadlineMs)
		}
		for _, b := range c.brokers {
			if !b.stopped && b.deadlineMs != 0 {
				next = min(next, b.deadlineMs)
			}
		}
		next = max(next, c.now.MonotonicMs)
		c.now.WallMs += next - c.now.MonotonicMs
		c.now.MonotonicMs = next
		fired := false
		if c.ctlDeadlineMs != 0 && c.now.MonotonicMs >= c.ctlDeadlineMs {
			c.ctlDeadlineMs = 0
			c.handleController(c.ctl.Timer(controller.Clocks(c.now)))
			fired = true
		}
		for _, b := range c.brokers {
			if !b.stopped && b.deadlineMs != 0 && c.now.MonotonicMs >= b.deadlineMs {
				b.deadlineMs = 0
				c.handle(b, b.node.Timer(c.now))
				fired = true
			}
		}
		if !fired && c.now.MonotonicMs >= targetMs {
			c.run()
			return
		}
	}
}

// image is the controller's committed image.
func (c *replicaCluster) image() *metadata.Image {
	img, _ := c.ctl.Image()
	return img
}

// readRanges reads a read plan's ranges from fsys.
func readRanges(t testing.TB, fsys diskio.FS, ranges []log.FileRange) []byte {
	var data []byte
	for _, fr := range ranges {
		f, err := fsys.Open(fr.Path)
		if err != nil {
			t.Fatalf("read plan: %v", err)
		}
		buf := make([]byte, fr.SizeBytes)
		if _, err := f.ReadAt(buf, fr.Position); err != nil {
			t.Fatalf("read plan: %v", err)
		}
		f.Close()
		data = append(data, buf...)
	}
	return data
}
