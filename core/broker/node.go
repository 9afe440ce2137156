package broker

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/producer"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/core/uuid"
	"github.com/weirdata/weir/core/wire"
)

// Node is one broker: it serves the Kafka protocol from its partition logs (storage.Manager)
// and the committed metadata image of its process's controller.Node, and forwards admin
// requests to the active controller (cluster.go). It is not safe for concurrent use: one
// driver calls it, one event at a time (DESIGN §3), and executes the Ready each call returns.
type Node struct {
	cfg          Config
	logs         *storage.Manager
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
	// img is the committed metadata image the process's controller.Node handed over
	// (Metadata), holding every record below imgOffset; controllerID is the quorum leader, the
	// active controller, or -1 when unknown.
	img          *metadata.Image
	imgOffset    record.Offset
	controllerID int32
	// following is set once the image holds this broker's own registration: it is caught up,
	// and logs follow the image from then on (created, reconfigured, deleted).
	following bool
	clusterID string
	life      lifecycle
	// forwards are admin requests sent on to the controller, in arrival order; peerWaits
	// what each request in flight to the controller is for, by correlation id.
	forwards        []*forward
	peerWaits       map[int32]peerWait
	nextCorrelation int32
	// autoCreating are the topics whose auto-creation (Metadata) is with the controller.
	autoCreating map[string]bool

	// replicaStates is the replication state of each partition held here (replication.go);
	// fetchers fetch from the leaders of the partitions it follows, one session per leader
	// in leader order; alter carries the ISR proposals of the partitions it leads;
	// isrCheckNextMs is when to look for ISR members fallen behind.
	replicaStates  map[storage.TopicPartition]*partitionReplica
	fetchers       []*fetchSession
	alter          alterPartitions
	isrCheckNextMs int64
	// quotas are the replication throttles (replication_quota.go), made on first use.
	quotas *replicationQuotas

	// producers is the idempotent-producer state of each open log (producers.go).
	producers map[storage.TopicPartition]*producer.State
	// pids hands out producer ids from blocks the controller grants (AllocateProducerIds).
	pids *producer.Allocator
	// pidRetryMs is when a refused block request may be asked again.
	pidRetryMs int64

	// Parked requests; waitingCount is their total, bounded by cfg.WaitingRequestsMax.
	produceWaits []*produceWait
	fetchWaits   []*fetchWait
	// damageSuspects are places reads found damaged headers at, checked before the Ready.
	damageSuspects []damageSuspect
	// deleteRecordsWaits wait for low watermarks (21_delete_records.go); deleteRecordsImg is
	// the image they were last all checked against.
	deleteRecordsWaits []*deleteRecordsWait
	deleteRecordsImg   *metadata.Image
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
	waitingCount   int

	// Housekeeping (housekeeping.go): next passes (monotonic, 0 until scheduled).
	retentionNextMs  int64
	checkpointNextMs int64
	expireNextMs     int64
	// pendingDeletes are retention's unlinks waiting out file.delete.delay.ms.
	pendingDeletes []pendingDelete

	closing []ConnID // closed during this event; dropped when it ends
	out     Ready
	fatal   error
}

// pendingSync is what a handed-out Sync belongs to: a partition log.
type pendingSync struct {
	partition storage.PartitionSync
	req       log.SyncRequest
}

// NewNode starts a Node on opened storage. It serves nothing until its process's
// controller.Node hands it the committed metadata (Metadata) and the active controller has
// registered and unfenced it: it registers itself (a new incarnation) as soon as a controller
// is known, and its logs follow the image once the image holds that registration.
func NewNode(cfg Config, logs *storage.Manager, rng *rand.Rand, now Clocks) (*Node, Ready, error) {
	if err := cfg.Validate(); err != nil {
		return nil, Ready{}, err
	}
	if logs == nil || rng == nil {
		return nil, Ready{}, errors.New("broker: NewNode needs a log manager and a PRNG")
	}
	dirs := logs.LogDirs()
	if len(dirs) == 0 {
		return nil, Ready{}, errors.New("broker: NewNode needs at least one log directory")
	}
	cfg.LogBase.Buggify = cfg.Buggify // every log the Node configures gets the node's sites
	n := &Node{
		cfg:           cfg,
		logs:          logs,
		rng:           rng,
		decompressor:  record.NewDecompressor(cfg.DecompressedBytesMax),
		now:           now,
		conns:         make(map[ConnID]*conn),
		syncs:         make(map[SyncID]pendingSync),
		topics:        make(map[string]*topicState),
		flushes:       make(map[storage.TopicPartition]*flushState),
		producers:     make(map[storage.TopicPartition]*producer.State),
		replicaStates: make(map[storage.TopicPartition]*partitionReplica),
		pids:          producer.NewAllocator(),
		img:           metadata.EmptyImage(),
		controllerID:  -1,
		clusterID:     dirs[0].Meta.ClusterID,
		peerWaits:     make(map[int32]peerWait),
		autoCreating:  make(map[string]bool),

		syncCandidates: make(map[storage.TopicPartition]struct{}),
		syncCheckAll:   true,
	}
	n.life.incarnation = uuid.FromRand(rng)
	n.life.epoch = -1
	if err := n.loadAllProducerStates(); err != nil {
		return nil, Ready{}, err
	}
	return n, n.ready(), nil
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
	case *kmsg.ElectLeadersRequest:
		n.handleElectLeaders(cs, s, body)
	case *kmsg.AlterPartitionAssignmentsRequest:
		n.handleAlterPartitionReassignments(cs, s, body)
	case *kmsg.ListPartitionReassignmentsRequest:
		n.handleListPartitionReassignments(cs, s, body)
	case *kmsg.DescribeTopicPartitionsRequest:
		n.handleDescribeTopicPartitions(cs, s, body)
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
	live := n.logs.Live(ps.partition)
	n.logs.Synced(ps.partition, err)
	n.mayNeedSync(ps.partition.TopicPartition) // appends that rode behind this sync want the next
	if err != nil && !live {
		// The log was deleted while its sync ran (the files were renamed away): nothing is
		// waiting for its data any more.
		n.out.Warnings = append(n.out.Warnings, fmt.Errorf("broker: sync of deleted log %s: %w", ps.partition.TopicPartition, err))
		return n.ready()
	}
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
	// Ask the controller for a controlled shutdown now, not at the next heartbeat.
	n.life.nextMs = n.now.MonotonicMs
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
	n.expireDeleteRecords()
	n.expireForwards()
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
	if n.fatal == nil {
		n.checkDamageSuspects()
		n.lifecycleStep()
		n.sendForwards()
		n.requestPidBlock()
		n.checkISRs()
		n.alterStep()
		n.settleDeleteRecordsOnImage()
	}
	n.partitionSyncs()
	if n.fatal == nil {
		// After the syncs are handed out: a follower fetches on once its appends are durable.
		n.fetchStep()
	}
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

// nextDeadlineMs is the earliest deadline of a parked request, of housekeeping or of the
// cluster work (heartbeats, forwarded requests), 0 if none.
func (n *Node) nextDeadlineMs() int64 {
	next := n.localDeadlineMs()
	for _, d := range []int64{n.nextClusterDeadlineMs(), n.replicationDeadlineMs()} {
		if next == 0 || (d != 0 && d < next) {
			next = d
		}
	}
	return next
}

// localDeadlineMs is the earliest deadline of a parked request or of housekeeping, 0 if none.
func (n *Node) localDeadlineMs() int64 {
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
	for _, w := range n.deleteRecordsWaits {
		consider(w.deadlineMs)
	}
	for _, f := range n.forwards {
		consider(f.deadlineMs)
	}
	return next
}
