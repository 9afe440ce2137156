package broker

import (
	"math/rand/v2"
	"slices"
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

// pair plays the driver of two brokers replicating from each other: broker 1 runs beside the
// sole controller (combined), broker 2 is broker-only. Requests between brokers (follower
// fetches) arrive pairLinkMs after they are sent, and their answers as long after; syncs,
// file ops and the controller's work run at once. Each broker has its own memfs.
type pair struct {
	t             testing.TB
	now           Clocks
	ctl           *controller.Node
	ctlFS         *memfs.FS
	ctlDeadlineMs int64
	brokers       map[int32]*pairBroker
	// inFlight are the messages between brokers, delivered in order at their time.
	inFlight []pairMessage
	// holdFetchesFrom holds every fetch the broker with that id sends (0: none) in held, as a
	// stalled link from follower to leader; releaseHeld sends them on.
	holdFetchesFrom int32
	held            []pairMessage
	corr            int32
	// clientResponses are the answers to the test's own requests, by connection.
	clientResponses map[ConnID][]kmsg.Response
}

type pairBroker struct {
	id         int32
	fs         *memfs.FS
	logs       *storage.Manager
	node       *Node
	deadlineMs int64
}

// pairMessage is a request or an answer on its way between brokers.
type pairMessage struct {
	atMs int64
	to   int32
	// a request: conn on the receiver and the request; an answer: corr and resp.
	conn ConnID
	req  *wire.Request
	corr int32
	resp kmsg.Response
}

const (
	pairLinkMs = 1
	// pairControllerConn + id is broker id's connection to the controller; pairPeerConn + id
	// the connection broker id's fetches arrive on; pairClientConn the test's own.
	pairControllerConn controller.ConnID = 1 << 40
	pairPeerConn       ConnID            = 1 << 41
	pairClientConn     ConnID            = 7
)

// newPair starts both brokers and runs until both are registered and unfenced; adjust
// changes both brokers' config.
func newPair(t testing.TB, adjust func(b *config.BrokerConfig)) *pair {
	t.Helper()
	p := &pair{t: t, now: Clocks{MonotonicMs: 1000, WallMs: testStartWallMs}, brokers: map[int32]*pairBroker{},
		clientResponses: map[ConnID][]kmsg.Response{}}
	brokerConfig := func(id int32) config.BrokerConfig {
		b := config.DefaultBrokerConfig()
		b.NodeID = id
		b.ProcessRoles = []string{config.RoleBroker}
		if id == 1 {
			b.ProcessRoles = append(b.ProcessRoles, config.RoleController)
		}
		b.LogDirs = []string{testLogDir}
		b.MetadataLogDir = testMetaDir
		b.AdvertisedListeners = []config.Listener{{Name: "PLAINTEXT", Host: "localhost", Port: 9090 + int(id)}}
		if adjust != nil {
			adjust(&b)
		}
		return b
	}
	for _, id := range []int32{1, 2} {
		fsys := memfs.New()
		if _, err := storage.Format(fsys, []string{testLogDir}, testClusterID, id, rand.NewChaCha8([32]byte{byte(id)}), storage.FormatOptions{}); err != nil {
			t.Fatal(err)
		}
		b := brokerConfig(id)
		cfg, err := ConfigFromBroker(b)
		if err != nil {
			t.Fatal(err)
		}
		cfg.FS = fsys
		logs, err := storage.OpenManager(fsys, storage.ManagerOptions{LogDirs: b.LogDirs, NodeID: id, Random: rand.NewChaCha8([32]byte{2, byte(id)}), NowMs: p.now.WallMs})
		if err != nil {
			t.Fatal(err)
		}
		pb := &pairBroker{id: id, fs: fsys, logs: logs}
		p.brokers[id] = pb
		if id == 1 {
			p.ctlFS = fsys
			qlog, err := metadata.OpenQuorumLog(fsys, testMetaDir, metadata.DefaultQuorumLogConfig(), p.now.WallMs)
			if err != nil {
				t.Fatal(err)
			}
			sf, err := quorum.ReadStateFile(fsys, qlog.Dir())
			if err != nil {
				t.Fatal(err)
			}
			ncfg := controller.DefaultNodeConfig(quorum.DefaultConfig(1, []quorum.NodeID{1}), fsys, qlog.Dir())
			ncfg.Wire = quorum.Wire{ClusterID: testClusterID}
			ncfg.Controller = &controller.Config{NodeID: 1, Broker: b, ClusterID: testClusterID}
			ctl, crd, err := controller.NewNode(ncfg, qlog, sf.State, rand.New(rand.NewPCG(3, 4)), controller.Clocks(p.now))
			if err != nil {
				t.Fatal(err)
			}
			p.ctl = ctl
			node, rd, err := NewNode(cfg, logs, rand.New(rand.NewPCG(1, 2)), p.now)
			if err != nil {
				t.Fatal(err)
			}
			pb.node = node
			p.brokerReady(pb, rd)
			p.controllerReady(crd)
			continue
		}
		node, rd, err := NewNode(cfg, logs, rand.New(rand.NewPCG(5, uint64(id))), p.now)
		if err != nil {
			t.Fatal(err)
		}
		pb.node = node
		if img, offset := p.ctl.Image(); img != nil {
			leader := int32(p.ctl.QuorumState().LeaderID)
			p.brokerReady(pb, node.Metadata(p.now, controller.Committed{Image: img, Offset: offset, LeaderID: leader}))
		}
		p.brokerReady(pb, rd)
	}
	for range 200 {
		if p.brokers[1].node.Serving() && p.brokers[2].node.Serving() {
			return p
		}
		p.advance(10)
	}
	t.Fatal("the brokers are not serving after their start")
	return nil
}

// controllerReady executes the controller's effects, depth first, as the harness does.
func (p *pair) controllerReady(r controller.Ready) {
	if r.Fatal != nil {
		p.t.Fatalf("controller failed: %v", r.Fatal)
	}
	p.ctlDeadlineMs = r.NextDeadlineMs
	if r.Committed != nil {
		for _, id := range []int32{1, 2} {
			if pb := p.brokers[id]; pb != nil && pb.node != nil {
				p.brokerReady(pb, pb.node.Metadata(p.now, *r.Committed))
			}
		}
	}
	for _, resp := range r.Responses {
		id := int32(resp.Conn - pairControllerConn)
		pb := p.brokers[id]
		if pb == nil {
			p.t.Fatalf("the controller answered connection %d", resp.Conn)
		}
		frame := wire.AppendResponse(nil, resp.Header, resp.Body)
		_, decoded, err := wire.DecodeResponse(frame[wire.SizePrefixBytes:], resp.Header.APIKey, resp.Header.APIVersion)
		if err != nil {
			p.t.Fatalf("controller answer does not round-trip: %v", err)
		}
		p.brokerReady(pb, pb.node.PeerResponse(p.now, resp.Header.CorrelationID, decoded, nil))
	}
	for _, s := range r.Syncs {
		p.controllerReady(p.ctl.Synced(controller.Clocks(p.now), s.ID, s.Req.Run(p.ctlFS)))
	}
	for _, op := range r.FileOps {
		p.controllerReady(p.ctl.Done(controller.Clocks(p.now), op.ID, log.RunFileOps(p.ctlFS, op.Ops)))
	}
	if w := r.Snapshot; w != nil {
		p.controllerReady(p.ctl.SnapshotWritten(controller.Clocks(p.now), w, w.Run(p.ctlFS)))
	}
}

// brokerReady executes a broker's effects: syncs and file ops at once, requests to the
// controller at once, fetches to the other broker and answers to them over the link.
func (p *pair) brokerReady(pb *pairBroker, rd Ready) {
	if rd.Fatal != nil {
		p.t.Fatalf("broker %d failed: %v", pb.id, rd.Fatal)
	}
	if err := pb.node.CheckInvariants(); err != nil {
		p.t.Fatal(err)
	}
	pb.deadlineMs = rd.NextDeadlineMs
	for _, c := range rd.Checkpoints {
		if err := diskio.WriteFileAtomic(pb.fs, c.Dir, c.Name, c.Data); err != nil {
			p.t.Fatalf("checkpoint: %v", err)
		}
	}
	for _, r := range rd.Responses {
		if fr, ok := r.Body.(*kmsg.FetchResponse); ok {
			for _, read := range r.Reads {
				fr.Topics[read.TopicIndex].Partitions[read.PartitionIndex].RecordBatches = p.readPlan(pb, read.Plan.Ranges)
			}
		}
		frame := wire.AppendResponse(nil, r.Header, r.Body)
		_, decoded, err := wire.DecodeResponse(frame[wire.SizePrefixBytes:], r.Header.APIKey, r.Header.APIVersion)
		if err != nil {
			p.t.Fatalf("broker %d's answer does not round-trip: %v", pb.id, err)
		}
		if r.Conn >= pairPeerConn {
			from := int32(r.Conn - pairPeerConn)
			p.inFlight = append(p.inFlight, pairMessage{atMs: p.now.MonotonicMs + pairLinkMs, to: from, corr: r.Header.CorrelationID, resp: decoded})
			continue
		}
		p.clientResponses[r.Conn] = append(p.clientResponses[r.Conn], decoded)
	}
	for _, send := range rd.Sends {
		header := wire.RequestHeader{APIKey: send.Request.Key(), APIVersion: send.Request.GetVersion(), CorrelationID: send.CorrelationID, ClientID: strp("broker")}
		frame := wire.AppendRequest(nil, header, send.Request)
		if !send.Broker {
			req, err := wire.DecodeRequest(frame[wire.SizePrefixBytes:], &controllerVersions)
			if err != nil {
				p.t.Fatalf("broker %d's request to its controller does not decode: %v", pb.id, err)
			}
			p.controllerReady(p.ctl.Request(controller.Clocks(p.now), pairControllerConn+controller.ConnID(pb.id), req))
			continue
		}
		to := p.brokers[send.To]
		if to == nil {
			p.t.Fatalf("broker %d sent to unknown broker %d", pb.id, send.To)
		}
		req, err := wire.DecodeRequest(frame[wire.SizePrefixBytes:], &to.node.cfg.Versions)
		if err != nil {
			p.t.Fatalf("broker %d's request to broker %d does not decode: %v", pb.id, send.To, err)
		}
		m := pairMessage{atMs: p.now.MonotonicMs + pairLinkMs, to: send.To, conn: pairPeerConn + ConnID(pb.id), req: &req}
		if p.holdFetchesFrom == pb.id {
			p.held = append(p.held, m)
			continue
		}
		p.inFlight = append(p.inFlight, m)
	}
	for _, s := range rd.Syncs {
		p.brokerReady(pb, pb.node.Synced(p.now, s.ID, s.Req.Run(pb.fs)))
	}
	for _, op := range rd.FileOps {
		p.brokerReady(pb, pb.node.Done(p.now, op.ID, log.RunFileOps(pb.fs, op.Ops)))
	}
}

// releaseHeld sends the held fetches on, in order.
func (p *pair) releaseHeld() {
	for _, m := range p.held {
		m.atMs = p.now.MonotonicMs + pairLinkMs
		p.inFlight = append(p.inFlight, m)
	}
	p.held = nil
}

func (p *pair) readPlan(pb *pairBroker, ranges []log.FileRange) []byte {
	var data []byte
	for _, fr := range ranges {
		f, err := pb.fs.Open(fr.Path)
		if err != nil {
			p.t.Fatalf("read plan: %v", err)
		}
		buf := make([]byte, fr.SizeBytes)
		if _, err := f.ReadAt(buf, fr.Position); err != nil {
			p.t.Fatalf("read plan: %v", err)
		}
		_ = f.Close()
		data = append(data, buf...)
	}
	return data
}

// advance moves both clocks by ms, through every message delivery and deadline on the way,
// in time order.
func (p *pair) advance(ms int64) {
	target := p.now.MonotonicMs + ms
	for {
		next := target
		for _, m := range p.inFlight {
			next = min(next, m.atMs)
		}
		for _, id := range []int32{1, 2} {
			if d := p.brokers[id].deadlineMs; d != 0 {
				next = min(next, d)
			}
		}
		if p.ctlDeadlineMs != 0 {
			next = min(next, p.ctlDeadlineMs)
		}
		next = max(next, p.now.MonotonicMs)
		p.now.WallMs += next - p.now.MonotonicMs
		p.now.MonotonicMs = next
		fired := false
		if p.ctlDeadlineMs != 0 && p.now.MonotonicMs >= p.ctlDeadlineMs {
			p.ctlDeadlineMs = 0
			p.controllerReady(p.ctl.Timer(controller.Clocks(p.now)))
			fired = true
		}
		for _, id := range []int32{1, 2} {
			pb := p.brokers[id]
			if pb.deadlineMs != 0 && p.now.MonotonicMs >= pb.deadlineMs {
				pb.deadlineMs = 0
				p.brokerReady(pb, pb.node.Timer(p.now))
				fired = true
			}
		}
		if i := slices.IndexFunc(p.inFlight, func(m pairMessage) bool { return m.atMs <= p.now.MonotonicMs }); i >= 0 {
			m := p.inFlight[i]
			p.inFlight = slices.Delete(p.inFlight, i, i+1)
			pb := p.brokers[m.to]
			if m.req != nil {
				p.brokerReady(pb, pb.node.Request(p.now, m.conn, *m.req))
			} else {
				p.brokerReady(pb, pb.node.PeerResponse(p.now, m.corr, m.resp, nil))
			}
			fired = true
		}
		if !fired && p.now.MonotonicMs >= target {
			return
		}
	}
}

// request sends req from the test's client to broker id and returns the answer, running
// until it comes (at most 30 s).
func (p *pair) request(id int32, version int16, req kmsg.Request) kmsg.Response {
	p.t.Helper()
	pb := p.brokers[id]
	p.corr++
	frame := wire.AppendRequest(nil, wire.RequestHeader{APIKey: req.Key(), APIVersion: version, CorrelationID: p.corr, ClientID: strp("test")}, req)
	decoded, err := wire.DecodeRequest(frame[wire.SizePrefixBytes:], &pb.node.cfg.Versions)
	if err != nil {
		p.t.Fatalf("request does not decode: %v", err)
	}
	before := len(p.clientResponses[pairClientConn])
	p.brokerReady(pb, pb.node.Request(p.now, pairClientConn, decoded))
	for range 3000 {
		if got := p.clientResponses[pairClientConn]; len(got) > before {
			return got[before]
		}
		p.advance(10)
	}
	p.t.Fatalf("no answer to %s", kmsg.NameForKey(req.Key()))
	return nil
}

// partition is a partition's state in the committed image.
func (p *pair) partition(tp storage.TopicPartition) *metadata.Partition {
	img, _ := p.ctl.Image()
	t, ok := img.TopicByName(tp.Topic)
	if !ok {
		p.t.Fatalf("no topic %s", tp.Topic)
	}
	part, ok := t.Partition(tp.Partition)
	if !ok {
		p.t.Fatalf("no partition %s", tp)
	}
	return part
}

// endOffset is the log end of tp on broker id.
func (p *pair) endOffset(id int32, tp storage.TopicPartition) int64 {
	l, ok := p.brokers[id].logs.GetLog(tp)
	if !ok {
		p.t.Fatalf("broker %d has no log of %s", id, tp)
	}
	return int64(l.EndOffset())
}
