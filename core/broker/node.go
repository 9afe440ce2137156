package broker

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/producer"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/core/uuid"
	"github.com/weirdata/weir/core/wire"
)

// Node is one broker: it serves the Kafka protocol from its partition logs (storage.Manager)
// and the cluster metadata (metadata.Store). It is not safe for concurrent use: one driver
// calls it, one event at a time (DESIGN §3), and executes the Ready each call returns.
type Node struct {
	cfg          Config
	logs         *storage.Manager
	meta         *metadata.Store
	ctl          *controller.Controller // decides admin requests (in-process until forwarding)
	rng          *rand.Rand
	decompressor *record.Decompressor
	now          Clocks

	conns map[ConnID]*conn

	// produceScratch is reused by every produce for wire.ValidateProduce's verdicts.
	produceScratch []wire.ProducePartition

	nextSyncID SyncID
	syncs      map[SyncID]pendingSync
	nextOpID   OpID

	// topics caches each served topic's effective config and id, by name.
	topics map[string]*topicState
	// flushes is the flush bookkeeping of logs of topics with Kafka's flush behaviour.
	flushes map[storage.TopicPartition]*flushState
	// metaActions is log work waiting for the metadata log to commit, in log order.
	metaActions []metaAction

	// producers is the idempotent-producer state of each open log (producers.go).
	producers map[storage.TopicPartition]*producer.State
	// pids hands out producer ids; pidBlock is its block awaiting the metadata commit.
	pids     *producer.Allocator
	pidBlock *pidBlock

	// Parked requests; waitingCount is their total, bounded by cfg.WaitingRequestsMax.
	produceWaits []*produceWait
	fetchWaits   []*fetchWait
	// draining is set by Drain: no fetch parks any more.
	draining bool
	// syncCandidates are the partitions that may want a sync at the next ready(): appended
	// to, synced, created, trimmed. syncCheckAll makes ready() look at every partition
	// instead (at start and on timers: flush.ms deadlines, and a net for any path that
	// dirtied a log without saying so), so the per-event cost does not grow with the
	// partition count.
	syncCandidates map[storage.TopicPartition]struct{}
	syncScratch    []storage.TopicPartition
	syncCheckAll   bool
	metaWaits      []*metaWait
	waitingCount   int

	// Housekeeping (housekeeping.go): next passes (monotonic, 0 until scheduled) and the
	// metadata snapshot in flight.
	retentionNextMs  int64
	checkpointNextMs int64
	expireNextMs     int64
	snapshot         *metadata.SnapshotWrite
	// pendingDeletes are retention's unlinks waiting out file.delete.delay.ms.
	pendingDeletes []pendingDelete

	closing []ConnID // closed during this event; dropped when it ends
	out     Ready
	fatal   error
}

// pendingSync is what a handed-out Sync belongs to: the metadata log or a partition log.
type pendingSync struct {
	metadata  bool
	partition storage.PartitionSync
	req       log.SyncRequest
}

// NewNode starts a Node on opened storage. A new metadata log gets its bootstrap records
// (metadata.version); the node registers itself (unfenced, with the advertised listener) when
// the image does not list it as configured; logs of committed topics missing on disk (a crash
// between the metadata commit and log creation) are created. The returned Ready holds the
// syncs this needs.
func NewNode(cfg Config, logs *storage.Manager, meta *metadata.Store, rng *rand.Rand, now Clocks) (*Node, Ready, error) {
	if err := cfg.Validate(); err != nil {
		return nil, Ready{}, err
	}
	if logs == nil || meta == nil || rng == nil {
		return nil, Ready{}, errors.New("broker: NewNode needs a log manager, a metadata store and a PRNG")
	}
	cfg.LogBase.Buggify = cfg.Buggify // every log the Node configures gets the node's sites
	ctl, err := controller.New(controller.Config{NodeID: cfg.Broker.NodeID, Broker: cfg.Broker}, rng)
	if err != nil {
		return nil, Ready{}, fmt.Errorf("broker: %w", err)
	}
	n := &Node{
		ctl:          ctl,
		cfg:          cfg,
		logs:         logs,
		meta:         meta,
		rng:          rng,
		decompressor: record.NewDecompressor(cfg.DecompressedBytesMax),
		now:          now,
		conns:        make(map[ConnID]*conn),
		syncs:        make(map[SyncID]pendingSync),
		topics:       make(map[string]*topicState),
		flushes:      make(map[storage.TopicPartition]*flushState),
		producers:    make(map[storage.TopicPartition]*producer.State),
		pids:         producer.NewAllocator(),

		syncCandidates: make(map[storage.TopicPartition]struct{}),
		syncCheckAll:   true,
	}
	var records []metadata.Record
	latest := meta.Latest()
	if latest.MetadataVersion() == 0 {
		records = append(records, metadata.BootstrapRecords(metadata.MetadataVersionDefault)...)
	}
	if !n.registered(latest) {
		records = append(records, metadata.NewRegisterBrokerRecord(cfg.Broker.NodeID, int64(meta.LatestOffset()),
			uuid.FromRand(rng), []metadata.BrokerEndpoint{n.endpoint()}, nil, n.logDirIDs(), false))
	}
	if len(records) > 0 {
		res, err := meta.Append(records, 0, now.WallMs)
		if err != nil {
			return nil, Ready{}, fmt.Errorf("broker: registering node %d: %w", cfg.Broker.NodeID, err)
		}
		if res.SyncNeeded {
			n.addSync(pendingSync{metadata: true, req: res.Sync})
		}
	}
	if err := n.deleteStrayLogs(); err != nil {
		return nil, Ready{}, err
	}
	if err := n.loadAllProducerStates(); err != nil {
		return nil, Ready{}, err
	}
	committed := meta.Committed()
	for _, t := range committed.Topics() {
		if err := n.createLogs(committed, t.Name); err != nil {
			return nil, Ready{}, err
		}
	}
	// Records recovered past the metadata log's recovery point are acted on once committed:
	// they may create topics and change topic or dynamic broker configs, so every topic of
	// the latest image has its logs synced then.
	if meta.LatestOffset() > meta.CommittedOffset() {
		for _, t := range meta.Latest().Topics() {
			n.metaActions = append(n.metaActions, metaAction{kind: actionSyncLogs, topic: t.Name, upTo: meta.LatestOffset()})
		}
	}
	return n, n.ready(), nil
}

// deleteStrayLogs deletes the logs of partitions the metadata no longer has, or has under
// another topic id: a topic deleted just before a crash, whose log deletion did not happen
// (its records were deleted by a committed DeleteTopics). A log without a topic id (a
// directory from an old Kafka) is kept and warned about: nothing says it was deleted.
func (n *Node) deleteStrayLogs() error {
	img := n.meta.Latest()
	for _, tp := range n.logs.Partitions() {
		id, _ := n.logs.TopicID(tp)
		if t, ok := img.TopicByName(tp.Topic); ok && t.ID == id {
			if _, ok := t.Partition(tp.Partition); ok {
				continue
			}
		}
		if id == uuid.Zero {
			n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: the log of %s has no topic id and no topic in the metadata; it is kept but not served", tp))
			continue
		}
		ops, err := n.logs.DeleteLog(tp)
		if err != nil {
			return fmt.Errorf("broker: deleting the stray log of %s: %w", tp, err)
		}
		n.addFileOps(ops)
	}
	return nil
}

// securityProtocols are Kafka's SecurityProtocol ids.
var securityProtocols = map[string]int16{"PLAINTEXT": 0, "SSL": 1, "SASL_PLAINTEXT": 2, "SASL_SSL": 3}

func (n *Node) endpoint() metadata.BrokerEndpoint {
	name := "PLAINTEXT"
	if len(n.cfg.Broker.AdvertisedListeners) > 0 {
		name = n.cfg.Broker.AdvertisedListeners[0].Name
	}
	protocol := securityProtocols[n.cfg.Broker.ListenerSecurityProtocolMap[name]]
	return metadata.BrokerEndpoint{Name: name, Host: n.cfg.AdvertisedHost, Port: uint16(n.cfg.AdvertisedPort), SecurityProtocol: protocol}
}

func (n *Node) logDirIDs() []uuid.UUID {
	var ids []uuid.UUID
	for _, d := range n.logs.LogDirs() {
		ids = append(ids, d.Meta.DirectoryID)
	}
	return ids
}

// registered reports whether img lists this node, unfenced, with the configured endpoint.
func (n *Node) registered(img *metadata.Image) bool {
	b, ok := img.Broker(n.cfg.Broker.NodeID)
	if !ok || b.Fenced || len(b.EndPoints) != 1 {
		return false
	}
	return b.EndPoints[0] == n.endpoint()
}

// Request handles one decoded request from connection c. The response comes in this Ready or
// a later one, always after the responses of c's earlier requests.
func (n *Node) Request(now Clocks, c ConnID, req wire.Request) Ready {
	n.begin(now)
	cs := n.connFor(c)
	if cs.closed {
		return n.ready()
	}
	if len(cs.slots) >= n.cfg.ConnRequestsMax {
		// The driver bounds in-flight requests per connection; exceeding ours means it did not.
		n.closeConn(cs)
		return n.ready()
	}
	s := &slot{header: req.Header}
	cs.slots = append(cs.slots, s)
	if req.Body == nil {
		// Only an ApiVersions request too new to decode arrives without a body (KIP-511).
		if req.Header.APIKey != kmsg.ApiVersions.Int16() {
			panic("broker: invariant: Request called with an undecoded request that is not ApiVersions")
		}
		n.finish(cs, s, wire.UnsupportedApiVersionsResponse(&n.cfg.Versions), nil)
		return n.ready()
	}
	switch body := req.Body.(type) {
	case *kmsg.ApiVersionsRequest:
		n.handleApiVersions(cs, s, body)
	case *kmsg.MetadataRequest:
		n.handleMetadata(cs, s, body)
	case *kmsg.CreateTopicsRequest:
		n.handleCreateTopics(cs, s, body)
	case *kmsg.ProduceRequest:
		n.handleProduce(cs, s, body)
	case *kmsg.FetchRequest:
		n.handleFetch(cs, s, body)
	case *kmsg.ListOffsetsRequest:
		n.handleListOffsets(cs, s, body)
	case *kmsg.DeleteRecordsRequest:
		n.handleDeleteRecords(cs, s, body)
	case *kmsg.OffsetForLeaderEpochRequest:
		n.handleOffsetForLeaderEpoch(cs, s, body)
	case *kmsg.DeleteTopicsRequest:
		n.handleDeleteTopics(cs, s, body)
	case *kmsg.CreatePartitionsRequest:
		n.handleCreatePartitions(cs, s, body)
	case *kmsg.AlterConfigsRequest:
		n.handleAlterConfigs(cs, s, body)
	case *kmsg.IncrementalAlterConfigsRequest:
		n.handleIncrementalAlterConfigs(cs, s, body)
	case *kmsg.DescribeConfigsRequest:
		n.handleDescribeConfigs(cs, s, body)
	case *kmsg.DescribeClusterRequest:
		n.handleDescribeCluster(cs, s, body)
	case *kmsg.InitProducerIDRequest:
		n.handleInitProducerID(cs, s, body)
	default:
		// Config.Versions lists only served keys; a driver decoding with a wider table (it
		// must use Config.Versions) let this through. Kafka closes a connection that sends a
		// request it does not parse, and so does the Node.
		n.closeConn(cs)
	}
	return n.ready()
}

// ConnClosed forgets a connection and its parked requests.
func (n *Node) ConnClosed(now Clocks, c ConnID) Ready {
	n.begin(now)
	n.dropConn(c)
	return n.ready()
}

// Synced reports the completion of a Sync.
func (n *Node) Synced(now Clocks, id SyncID, err error) Ready {
	n.begin(now)
	ps, ok := n.syncs[id]
	if !ok {
		panic(fmt.Sprintf("broker: invariant: Synced for unknown sync %d", id))
	}
	delete(n.syncs, id)
	if ps.metadata {
		n.meta.Synced(ps.req, err)
		if err != nil {
			n.fail(fmt.Errorf("broker: metadata log sync: %w", err))
			return n.ready()
		}
		n.metadataCommitted()
		return n.ready()
	}
	n.logs.Synced(ps.partition, err)
	n.mayNeedSync(ps.partition.TopicPartition) // appends that rode behind this sync want the next
	if err != nil {
		n.fail(fmt.Errorf("broker: sync of %s: %w", ps.partition.TopicPartition, err))
	}
	n.partitionDurable(ps.partition.TopicPartition, err)
	return n.ready()
}

// Done reports the completion of a FileOp. A failed unlink leaves a file behind, which the
// next start removes; nothing waits on it.
func (n *Node) Done(now Clocks, op OpID, err error) Ready {
	n.begin(now)
	return n.ready()
}

// Drain begins a clean shutdown (SIGTERM): every parked fetch is answered now with what it
// has, and fetches that arrive later are answered at once instead of parking, so the driver's
// drain is not held up by long polls (up to fetch.max.wait). Produces waiting for their sync
// still wait for it: their records are acknowledged only once durable.
func (n *Node) Drain(now Clocks) Ready {
	n.begin(now)
	n.draining = true
	for _, w := range n.fetchWaits {
		w.deadlineMs = n.now.MonotonicMs
	}
	n.expireFetches()
	return n.ready()
}

// Timer expires parked requests whose deadline passed.
func (n *Node) Timer(now Clocks) Ready {
	n.begin(now)
	n.syncCheckAll = true
	n.expireFetches()
	n.expireProduces()
	n.expireMetaWaits()
	return n.ready()
}

func (n *Node) begin(now Clocks) {
	if now.MonotonicMs < n.now.MonotonicMs {
		panic(fmt.Sprintf("broker: invariant: monotonic clock went back from %d to %d", n.now.MonotonicMs, now.MonotonicMs))
	}
	n.now = now
	n.out = Ready{}
}

// fail records a storage failure: the driver must stop the process.
func (n *Node) fail(err error) {
	if n.fatal == nil {
		n.fatal = err
	}
}

// ready collects the syncs every dirty log needs (group commit: at most one per log in
// flight, later appends ride the next) and the next deadline, and returns the effects.
func (n *Node) ready() Ready {
	for _, c := range n.closing {
		n.dropConn(c)
	}
	n.closing = n.closing[:0]
	if req, ok := n.meta.PendingSync(); ok {
		n.addSync(pendingSync{metadata: true, req: req})
	}
	n.partitionSyncs()
	n.housekeeping()
	n.out.NextDeadlineMs = n.nextDeadlineMs()
	n.out.Fatal = n.fatal
	r := n.out
	n.out = Ready{}
	return r
}

func (n *Node) addSync(ps pendingSync) {
	n.nextSyncID++
	n.syncs[n.nextSyncID] = ps
	n.out.Syncs = append(n.out.Syncs, Sync{ID: n.nextSyncID, Req: ps.req})
}

func (n *Node) addFileOps(ops []log.FileOp) {
	if len(ops) == 0 {
		return
	}
	n.nextOpID++
	n.out.FileOps = append(n.out.FileOps, FileOp{ID: n.nextOpID, Ops: ops})
}

// nextDeadlineMs is the earliest deadline of a parked request or of housekeeping, 0 if none.
func (n *Node) nextDeadlineMs() int64 {
	var next int64
	consider := func(d int64) {
		if d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	consider(n.retentionNextMs)
	consider(n.checkpointNextMs)
	consider(n.expireNextMs)
	for _, d := range n.pendingDeletes {
		consider(d.dueMs)
	}
	consider(n.nextFlushMs())
	for _, w := range n.fetchWaits {
		consider(w.deadlineMs)
	}
	for _, w := range n.produceWaits {
		consider(w.deadlineMs)
	}
	for _, w := range n.metaWaits {
		consider(w.deadlineMs)
	}
	return next
}

// metadataCommitted runs what waited for the metadata log: logs of newly committed topics,
// then the CreateTopics answers.
func (n *Node) metadataCommitted() {
	committed := n.meta.CommittedOffset()
	img := n.meta.Committed()
	done := 0
	for _, a := range n.metaActions {
		if a.upTo > committed {
			break // actions are in log order
		}
		done++
		var err error
		switch a.kind {
		case actionSyncLogs:
			err = n.createLogs(img, a.topic)
		case actionDeleteLogs:
			err = n.deleteLogs(a.topic, a.partitions)
		}
		if err != nil {
			n.fail(err)
		}
	}
	n.metaActions = slices.Delete(n.metaActions, 0, done)
	n.pidBlockCommitted(committed)
	n.metaWaits = slices.DeleteFunc(n.metaWaits, func(w *metaWait) bool {
		if w.upTo > committed {
			return false
		}
		n.waitingCount--
		n.finish(n.conns[w.conn], w.slot, w.resp, nil)
		return true
	})
}
