package broker

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/buggify"
	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/core/wire"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/memfs"
)

const (
	testLogDir      = "/data"
	testMetaDir     = "/meta"
	testClusterID   = "MkU3OEVBNTcwNTJENDM2Qk"
	testStartWallMs = 1_700_000_000_000
)

// harness plays the driver around one combined process on a memfs: a broker Node and its
// controller.Node (the sole voter). It encodes requests as a client would, decodes them as
// netio does, holds the Syncs the broker asks for until told to run them (the metadata log's
// run at once), routes the broker's requests to the controller and the committed metadata
// back, runs read plans, encodes every response and prints what happened.
type harness struct {
	t    testing.TB
	fs   *memfs.FS
	cfg  Config
	logs *storage.Manager
	qlog *metadata.QuorumLog
	ctl  *controller.Node
	node *Node
	// ctlDeadlineMs is the controller's last NextDeadlineMs.
	ctlDeadlineMs int64
	// printedDeadlineMs is the broker's local deadline printed last.
	printedDeadlineMs int64
	// holdController, when set, holds the broker's requests to its controller in heldSends
	// (a controller that does not answer) instead of delivering them.
	holdController bool
	heldSends      []PeerSend
	now            Clocks
	corr           int32
	syncs          []Sync // handed out, not yet run, in order
	// deadlineMs is the last NextDeadlineMs.
	deadlineMs int64
	// adjust is the broker config change the harness started with, kept for restarts.
	adjust func(b *config.BrokerConfig)
	// buggify, when set, is the Node's and its logs' (kept for restarts).
	buggify *buggify.B
	out     strings.Builder
}

// newHarness starts a formatted single node; adjust may change the broker config first.
func newHarness(t testing.TB, adjust func(b *config.BrokerConfig)) *harness {
	t.Helper()
	fsys := memfs.New()
	if _, err := storage.Format(fsys, []string{testLogDir}, testClusterID, 1, rand.NewChaCha8([32]byte{1}), storage.FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	return openHarness(t, fsys, adjust)
}

// openHarness starts a node on a formatted fsys, e.g. one that went through a crash.
func openHarness(t testing.TB, fsys *memfs.FS, adjust func(b *config.BrokerConfig)) *harness {
	t.Helper()
	return openHarnessBuggify(t, fsys, adjust, nil)
}

// openHarnessBuggify is openHarness with bug's rare paths on in the Node and every log.
func openHarnessBuggify(t testing.TB, fsys *memfs.FS, adjust func(b *config.BrokerConfig), bug *buggify.B) *harness {
	t.Helper()
	random := rand.NewChaCha8([32]byte{2})
	b := config.DefaultBrokerConfig()
	b.NodeID = 1
	b.ProcessRoles = []string{config.RoleBroker, config.RoleController}
	b.LogDirs = []string{testLogDir}
	b.MetadataLogDir = testMetaDir
	b.AdvertisedListeners = []config.Listener{{Name: "PLAINTEXT", Host: "localhost", Port: 9092}}
	if adjust != nil {
		adjust(&b)
	}
	cfg, err := ConfigFromBroker(b)
	if err != nil {
		t.Fatal(err)
	}
	cfg.FS = fsys
	cfg.Buggify = bug
	h := &harness{t: t, fs: fsys, cfg: cfg, adjust: adjust, buggify: bug, now: Clocks{MonotonicMs: 1000, WallMs: testStartWallMs}}
	opts := storage.ManagerOptions{LogDirs: b.LogDirs, NodeID: 1, Random: random, NowMs: h.now.WallMs}
	if bug != nil {
		// Recovery at open is a log/... site too.
		opts.ConfigFor = func(storage.TopicPartition) log.Config {
			c := log.DefaultConfig()
			c.Buggify = bug
			return c
		}
	}
	h.logs, err = storage.OpenManager(fsys, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.qlog, err = metadata.OpenQuorumLog(fsys, testMetaDir, metadata.DefaultQuorumLogConfig(), h.now.WallMs)
	if err != nil {
		t.Fatal(err)
	}
	sf, err := quorum.ReadStateFile(fsys, h.qlog.Dir())
	if err != nil {
		t.Fatal(err)
	}
	ncfg := controller.DefaultNodeConfig(quorum.DefaultConfig(1, []quorum.NodeID{1}), fsys, h.qlog.Dir())
	ncfg.Wire = quorum.Wire{ClusterID: testClusterID}
	ncfg.Controller = &controller.Config{NodeID: 1, Broker: b, ClusterID: testClusterID}
	ncfg.SnapshotBytesBetween = testSnapshotBytes
	ctl, crd, err := controller.NewNode(ncfg, h.qlog, sf.State, rand.New(rand.NewPCG(3, 4)), controller.Clocks(h.now))
	if err != nil {
		t.Fatal(err)
	}
	h.ctl = ctl
	node, rd, err := NewNode(cfg, h.logs, rand.New(rand.NewPCG(1, 2)), h.now)
	if err != nil {
		t.Fatal(err)
	}
	h.node = node
	h.record(rd)
	h.controllerReady(crd)
	// Serving starts once the controller registered and unfenced the broker.
	for range 100 {
		if h.node.Serving() {
			break
		}
		h.advanceQuiet(1)
	}
	if !h.node.Serving() {
		t.Fatalf("the broker is not serving after its start:\n%s", h.take())
	}
	return h
}

// localConn is the connection the harness's broker uses to its own controller.
const localConn controller.ConnID = 1 << 40

// controllerReady executes the controller's effects: the committed image to the broker first,
// then its answers to the broker's requests, then its metadata syncs, file ops and snapshot at
// once, each completion's Ready in turn (depth first, so the broker sees the controller's
// Readys in the order the controller returned them).
func (h *harness) controllerReady(r controller.Ready) {
	if r.Fatal != nil {
		h.t.Fatalf("controller failed: %v", r.Fatal)
	}
	h.ctlDeadlineMs = r.NextDeadlineMs
	for _, w := range r.Warnings {
		h.printf("  controller warning: %v\n", w)
	}
	if r.Committed != nil {
		h.record(h.node.Metadata(h.now, *r.Committed))
	}
	for _, resp := range r.Responses {
		if resp.Conn != localConn {
			h.t.Fatalf("controller answered connection %d", resp.Conn)
		}
		frame := wire.AppendResponse(nil, resp.Header, resp.Body)
		_, decoded, err := wire.DecodeResponse(frame[wire.SizePrefixBytes:], resp.Header.APIKey, resp.Header.APIVersion)
		if err != nil {
			h.t.Fatalf("controller answer does not round-trip: %v", err)
		}
		h.record(h.node.PeerResponse(h.now, resp.Header.CorrelationID, decoded, nil))
	}
	for _, s := range r.Syncs {
		h.controllerReady(h.ctl.Synced(controller.Clocks(h.now), s.ID, s.Req.Run(h.fs)))
	}
	for _, op := range r.FileOps {
		h.controllerReady(h.ctl.Done(controller.Clocks(h.now), op.ID, log.RunFileOps(h.fs, op.Ops)))
	}
	if w := r.Snapshot; w != nil {
		err := w.Run(h.fs)
		h.printf("  metadata snapshot %s: err=%v\n", w.ID, err)
		h.controllerReady(h.ctl.SnapshotWritten(controller.Clocks(h.now), w, err))
	}
}

// routeSends delivers the broker's requests to its controller, as a combined process's driver
// does, and executes what the controller answers.
func (h *harness) routeSends(sends []PeerSend) {
	if h.holdController {
		h.heldSends = append(h.heldSends, sends...)
		return
	}
	for _, send := range sends {
		if send.To != 1 {
			h.t.Fatalf("the broker sent to node %d, not its own controller", send.To)
		}
		frame := wire.AppendRequest(nil, wire.RequestHeader{APIKey: send.Request.Key(), APIVersion: send.Request.GetVersion(), CorrelationID: send.CorrelationID, ClientID: strp("broker-1")}, send.Request)
		req, err := wire.DecodeRequest(frame[wire.SizePrefixBytes:], &controllerVersions)
		if err != nil {
			h.t.Fatalf("the broker's request to its controller does not decode: %v", err)
		}
		h.controllerReady(h.ctl.Request(controller.Clocks(h.now), localConn, req))
	}
}

// image is the committed metadata image.
func (h *harness) image() *metadata.Image {
	img, _ := h.ctl.Image()
	return img
}

// restart crashes the node's file system (unsynced data lost) and opens a new node on what
// survived, with the same config and clocks. clean first syncs everything and writes the
// producer snapshots and checkpoints, as a SIGTERM shutdown does.
func (h *harness) restart(clean bool) *harness {
	h.t.Helper()
	if clean {
		h.syncAll()
		if err := h.node.WriteProducerSnapshots(); err != nil {
			h.t.Fatalf("producer snapshots: %v", err)
		}
		if err := h.logs.WriteCheckpoints(); err != nil {
			h.t.Fatalf("checkpoints: %v", err)
		}
	}
	crashed := h.fs.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
	h2 := openHarnessBuggify(h.t, crashed, h.adjust, h.buggify)
	h2.out.WriteString(h.take())
	h2.now, h2.corr = Clocks{MonotonicMs: max(h.now.MonotonicMs, h2.now.MonotonicMs), WallMs: h.now.WallMs}, h.corr
	return h2
}

// take returns what was printed since the last take.
func (h *harness) take() string {
	s := h.out.String()
	h.out.Reset()
	return s
}

func (h *harness) printf(format string, args ...any) { fmt.Fprintf(&h.out, format, args...) }

// request sends req on conn at version, as a client would, through wire's codec.
func (h *harness) request(conn ConnID, version int16, req kmsg.Request) {
	h.corr++
	frame := wire.AppendRequest(nil, wire.RequestHeader{APIKey: req.Key(), APIVersion: version, CorrelationID: h.corr, ClientID: strp("test")}, req)
	decoded, err := wire.DecodeRequest(frame[wire.SizePrefixBytes:], &h.cfg.Versions)
	if err != nil {
		// netio passes only a too-new ApiVersions on to the Node; anything else closes.
		if decoded.Header.APIKey != kmsg.ApiVersions.Int16() {
			h.printf("decode error (driver closes conn %d): %v\n", conn, err)
			return
		}
	}
	h.record(h.node.Request(h.now, conn, decoded))
}

// runSyncs runs the held syncs with ids (all when ids is empty), reporting each to the Node.
func (h *harness) runSyncs(ids []SyncID, failWith error) {
	var run []Sync
	h.syncs = slices.DeleteFunc(h.syncs, func(s Sync) bool {
		if len(ids) == 0 || slices.Contains(ids, s.ID) {
			run = append(run, s)
			return true
		}
		return false
	})
	if len(run) == 0 {
		h.printf("no syncs held\n")
	}
	for _, s := range run {
		err := failWith
		if err == nil {
			err = s.Req.Run(h.fs)
		}
		h.printf("synced %d:\n", s.ID)
		h.record(h.node.Synced(h.now, s.ID, err))
	}
}

// syncAll runs syncs until none is held (later ones appear as earlier complete).
func (h *harness) syncAll() {
	for len(h.syncs) > 0 {
		h.runSyncs(nil, nil)
	}
}

// advance moves both clocks by ms, through every deadline of the broker and its controller
// on the way in time order (heartbeats keep the broker's lease, as a running process's would).
// A broker timer is printed when it did something.
func (h *harness) advance(ms int64) { h.advanceTo(h.now.MonotonicMs+ms, true) }

// advanceQuiet is advance without printing the broker's timers.
func (h *harness) advanceQuiet(ms int64) { h.advanceTo(h.now.MonotonicMs+ms, false) }

func (h *harness) advanceTo(targetMs int64, print bool) {
	for {
		next := targetMs
		if h.deadlineMs != 0 {
			next = min(next, h.deadlineMs)
		}
		if h.ctlDeadlineMs != 0 {
			next = min(next, h.ctlDeadlineMs)
		}
		next = max(next, h.now.MonotonicMs)
		h.now.WallMs += next - h.now.MonotonicMs
		h.now.MonotonicMs = next
		fired := false
		if h.ctlDeadlineMs != 0 && h.now.MonotonicMs >= h.ctlDeadlineMs {
			h.ctlDeadlineMs = 0
			h.controllerReady(h.ctl.Timer(controller.Clocks(h.now)))
			fired = true
		}
		if h.deadlineMs != 0 && h.now.MonotonicMs >= h.deadlineMs {
			h.deadlineMs = 0
			before := h.out.Len()
			h.record(h.node.Timer(h.now))
			if all := h.out.String(); print && len(all) > before {
				h.out.Reset()
				h.out.WriteString(all[:before])
				h.printf("timer at %d:\n%s", h.now.MonotonicMs, all[before:])
			}
			fired = true
		}
		if !fired && h.now.MonotonicMs >= targetMs {
			return
		}
	}
}

// record prints a Ready and keeps its syncs, after checking the Node's invariants.
func (h *harness) record(rd Ready) {
	if err := h.node.CheckInvariants(); err != nil {
		h.t.Fatal(err)
	}
	for _, s := range rd.Syncs {
		h.printf("  sync %d: upTo=%d files=%d dirs=%v\n", s.ID, s.Req.UpTo, len(s.Req.Files), s.Req.Dirs)
		h.syncs = append(h.syncs, s)
	}
	for _, op := range rd.FileOps {
		h.printf("  fileop %d: %d ops\n", op.ID, len(op.Ops))
	}
	for _, c := range rd.Checkpoints {
		h.printf("  checkpoint %s/%s\n", c.Dir, c.Name)
		if err := diskio.WriteFileAtomic(h.fs, c.Dir, c.Name, c.Data); err != nil {
			h.t.Fatalf("checkpoint: %v", err)
		}
	}
	for _, w := range rd.Warnings {
		h.printf("  warning: %v\n", w)
	}
	defer func() {
		// The driver runs file ops off the loop and reports each with Done.
		for _, op := range rd.FileOps {
			err := log.RunFileOps(h.fs, op.Ops)
			h.printf("done %d: err=%v\n", op.ID, err)
			h.record(h.node.Done(h.now, op.ID, err))
		}
	}()
	for _, r := range rd.Responses {
		h.printf("  %s\n", h.response(r))
	}
	defer h.routeSends(rd.Sends)
	for _, c := range rd.Closes {
		h.printf("  close conn %d\n", c)
	}
	if rd.Fatal != nil {
		h.printf("  fatal: %v\n", rd.Fatal)
	}
	// Only the deadlines of parked requests and housekeeping are printed: the cluster work's
	// (heartbeats every broker.heartbeat.interval.ms) would fill every script.
	if local := h.node.localDeadlineMs(); local != h.printedDeadlineMs {
		h.printf("  deadline %d\n", local)
		h.printedDeadlineMs = local
	}
	h.deadlineMs = rd.NextDeadlineMs
}

func errName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return e.Message
	}
	return fmt.Sprint(code)
}

// response runs a response's read plans, encodes it as netio would and summarises it.
func (h *harness) response(r Response) string {
	prefix := fmt.Sprintf("conn %d corr %d %s v%d:", r.Conn, r.Header.CorrelationID, kmsg.NameForKey(r.Header.APIKey), r.Header.APIVersion)
	if r.Body == nil {
		return prefix + " (no response)"
	}
	if fr, ok := r.Body.(*kmsg.FetchResponse); ok {
		for _, rd := range r.Reads {
			fr.Topics[rd.TopicIndex].Partitions[rd.PartitionIndex].RecordBatches = readPlanData(h.t, h, rd.Plan.Ranges)
		}
	}
	encoded := wire.AppendResponse(nil, r.Header, r.Body)
	if _, _, err := wire.DecodeResponse(encoded[wire.SizePrefixBytes:], r.Header.APIKey, r.Header.APIVersion); err != nil {
		h.t.Errorf("response does not round-trip: %v", err)
	}
	return prefix + " " + summarize(r.Body)
}

// readPlanData reads a read plan's ranges from the harness's file system.
func readPlanData(t testing.TB, h *harness, ranges []log.FileRange) []byte {
	var data []byte
	for _, fr := range ranges {
		f, err := h.fs.Open(fr.Path)
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

func summarize(body kmsg.Response) string {
	var b strings.Builder
	switch resp := body.(type) {
	case *kmsg.ApiVersionsResponse:
		fmt.Fprintf(&b, "err=%s keys=%d", errName(resp.ErrorCode), len(resp.ApiKeys))
		for _, k := range resp.ApiKeys {
			if k.ApiKey == 0 || k.ApiKey == 1 || k.ApiKey == 18 {
				fmt.Fprintf(&b, " %s=%d-%d", kmsg.NameForKey(k.ApiKey), k.MinVersion, k.MaxVersion)
			}
		}
		for _, f := range resp.FinalizedFeatures {
			fmt.Fprintf(&b, " finalized %s=%d", f.Name, f.MaxVersionLevel)
		}
	case *kmsg.MetadataResponse:
		fmt.Fprintf(&b, "cluster=%s controller=%d brokers=[", deref(resp.ClusterID), resp.ControllerID)
		for _, br := range resp.Brokers {
			fmt.Fprintf(&b, "%d@%s:%d", br.NodeID, br.Host, br.Port)
		}
		b.WriteString("]")
		for _, t := range resp.Topics {
			fmt.Fprintf(&b, "\n    topic %s err=%s id=%v internal=%v", deref(t.Topic), errName(t.ErrorCode), t.TopicID != [16]byte{}, t.IsInternal)
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, "\n      p%d err=%s leader=%d epoch=%d replicas=%v isr=%v", p.Partition, errName(p.ErrorCode), p.Leader, p.LeaderEpoch, p.Replicas, p.ISR)
			}
		}
	case *kmsg.CreateTopicsResponse:
		for _, t := range resp.Topics {
			fmt.Fprintf(&b, "\n    topic %s err=%s", t.Topic, errName(t.ErrorCode))
			if t.ErrorMessage != nil {
				fmt.Fprintf(&b, " msg=%q", *t.ErrorMessage)
			}
			if t.ErrorCode == 0 {
				fmt.Fprintf(&b, " partitions=%d rf=%d configs=%d id=%v", t.NumPartitions, t.ReplicationFactor, len(t.Configs), t.TopicID != [16]byte{})
			}
		}
	case *kmsg.ProduceResponse:
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, "\n    %s/%d err=%s base=%d appendTime=%d logStart=%d", t.Topic, p.Partition, errName(p.ErrorCode), p.BaseOffset, p.LogAppendTime, p.LogStartOffset)
				if p.ErrorMessage != nil {
					fmt.Fprintf(&b, " msg=%q", *p.ErrorMessage)
				}
			}
		}
	case *kmsg.FetchResponse:
		fmt.Fprintf(&b, "err=%s session=%d", errName(resp.ErrorCode), resp.SessionID)
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, "\n    %s/%d err=%s hw=%d lso=%d logStart=%d batches=%s", t.Topic, p.Partition, errName(p.ErrorCode), p.HighWatermark, p.LastStableOffset, p.LogStartOffset, batches(p.RecordBatches))
			}
		}
	case *kmsg.ListOffsetsResponse:
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, "\n    %s/%d err=%s offset=%d timestamp=%d epoch=%d", t.Topic, p.Partition, errName(p.ErrorCode), p.Offset, p.Timestamp, p.LeaderEpoch)
			}
		}
	case *kmsg.DeleteTopicsResponse:
		for _, t := range resp.Topics {
			fmt.Fprintf(&b, "\n    topic %s err=%s", deref(t.Topic), errName(t.ErrorCode))
			if t.ErrorMessage != nil {
				fmt.Fprintf(&b, " msg=%q", *t.ErrorMessage)
			}
		}
	case *kmsg.CreatePartitionsResponse:
		for _, t := range resp.Topics {
			fmt.Fprintf(&b, "\n    topic %s err=%s", t.Topic, errName(t.ErrorCode))
			if t.ErrorMessage != nil {
				fmt.Fprintf(&b, " msg=%q", *t.ErrorMessage)
			}
		}
	case *kmsg.DescribeConfigsResponse:
		for _, r := range resp.Resources {
			fmt.Fprintf(&b, "\n    %d/%s err=%s", r.ResourceType, r.ResourceName, errName(r.ErrorCode))
			if r.ErrorMessage != nil {
				fmt.Fprintf(&b, " msg=%q", *r.ErrorMessage)
			}
			for _, c := range r.Configs {
				fmt.Fprintf(&b, "\n      %s=%s source=%d readOnly=%v", c.Name, deref(c.Value), c.Source, c.ReadOnly)
				for _, syn := range c.ConfigSynonyms {
					fmt.Fprintf(&b, " [%s=%s %d]", syn.Name, deref(syn.Value), syn.Source)
				}
			}
		}
	case *kmsg.IncrementalAlterConfigsResponse:
		for _, r := range resp.Resources {
			fmt.Fprintf(&b, "\n    %d/%s err=%s", r.ResourceType, r.ResourceName, errName(r.ErrorCode))
			if r.ErrorMessage != nil {
				fmt.Fprintf(&b, " msg=%q", *r.ErrorMessage)
			}
		}
	case *kmsg.DescribeClusterResponse:
		fmt.Fprintf(&b, "err=%s cluster=%s controller=%d endpointType=%d brokers=[", errName(resp.ErrorCode), resp.ClusterID, resp.ControllerID, resp.EndpointType)
		for _, br := range resp.Brokers {
			fmt.Fprintf(&b, "%d@%s:%d", br.NodeID, br.Host, br.Port)
		}
		b.WriteString("]")
	case *kmsg.DeleteRecordsResponse:
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, "\n    %s/%d err=%s lowWatermark=%d", t.Topic, p.Partition, errName(p.ErrorCode), p.LowWatermark)
			}
		}
	case *kmsg.InitProducerIDResponse:
		fmt.Fprintf(&b, "err=%s producerID=%d epoch=%d", errName(resp.ErrorCode), resp.ProducerID, resp.ProducerEpoch)
	case *kmsg.OffsetForLeaderEpochResponse:
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, "\n    %s/%d err=%s epoch=%d endOffset=%d", t.Topic, p.Partition, errName(p.ErrorCode), p.LeaderEpoch, p.EndOffset)
			}
		}
	case *kmsg.ElectLeadersResponse:
		fmt.Fprintf(&b, "err=%s", errName(resp.ErrorCode))
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, "\n    %s/%d err=%s", t.Topic, p.Partition, errName(p.ErrorCode))
			}
		}
	case *kmsg.AlterPartitionAssignmentsResponse:
		fmt.Fprintf(&b, "err=%s", errName(resp.ErrorCode))
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, "\n    %s/%d err=%s", t.Topic, p.Partition, errName(p.ErrorCode))
				if p.ErrorMessage != nil {
					fmt.Fprintf(&b, " msg=%q", *p.ErrorMessage)
				}
			}
		}
	case *kmsg.ListPartitionReassignmentsResponse:
		fmt.Fprintf(&b, "err=%s", errName(resp.ErrorCode))
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, "\n    %s/%d replicas=%v adding=%v removing=%v", t.Topic, p.Partition, p.Replicas, p.AddingReplicas, p.RemovingReplicas)
			}
		}
	default:
		fmt.Fprintf(&b, "%T", body)
	}
	return b.String()
}

// batches lists a fetch answer's batches as base-last offset ranges.
func batches(data []byte) string {
	var parts []string
	for len(data) > 0 {
		h, _, rest, err := record.NextBatch(data)
		if err != nil {
			parts = append(parts, "error:"+err.Error())
			break
		}
		parts = append(parts, fmt.Sprintf("%d-%d", h.BaseOffset, h.LastOffset()))
		data = rest
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// makeBatch builds a batch of count records with valueBytes-long values, timestamps at tsMs.
func makeBatch(t testing.TB, count, valueBytes int, tsMs int64, codec record.Codec) []byte {
	t.Helper()
	return makeProducerBatch(t, count, valueBytes, tsMs, codec, -1, -1, -1)
}

// makeProducerBatch is makeBatch from an idempotent producer (producerID -1: none).
func makeProducerBatch(t testing.TB, count, valueBytes int, tsMs int64, codec record.Codec, producerID int64, epoch int16, baseSequence int32) []byte {
	t.Helper()
	recs := make([]record.Record, count)
	for i := range recs {
		recs[i] = record.Record{OffsetDelta: int32(i), Key: fmt.Appendf(nil, "k%d", i), Value: []byte(strings.Repeat("v", valueBytes))}
	}
	opts := record.BatchOptions{PartitionLeaderEpoch: -1, FirstTimestamp: tsMs, ProducerID: producerID, ProducerEpoch: epoch, BaseSequence: baseSequence, Codec: codec}
	b, err := record.AppendBatch(nil, opts, recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var tpA = storage.TopicPartition{Topic: "a", Partition: 0}

// testSnapshotBytes is the controller's snapshot interval in every harness: small, so scripts
// and tests see metadata snapshots taken.
const testSnapshotBytes = 2048

// controllerVersions is what the controller listener decodes with.
var controllerVersions = controller.ControllerVersions()

func appendRequestFrame(corr int32, version int16, req kmsg.Request) []byte {
	return wire.AppendRequest(nil, wire.RequestHeader{APIKey: req.Key(), APIVersion: version, CorrelationID: corr, ClientID: strp("test")}, req)
}

func decodeFrame(t testing.TB, h *harness, frame []byte) wire.Request {
	t.Helper()
	req, err := wire.DecodeRequest(frame[wire.SizePrefixBytes:], &h.cfg.Versions)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
