package controller

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
)

const testClusterID = "MkU3OEVBNTcwNTJENDM2Qg"

// tb is what the harness needs of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// lifecycleHarness is an active controller with an image and a log position: each Result's
// records are replayed onto the image (so replay checks them) at the offsets they would get.
type lifecycleHarness struct {
	t     tb
	c     *Controller
	img   *metadata.Image
	next  record.Offset
	nowMs int64
}

func newLifecycleHarness(t tb, metadataVersion int16) *lifecycleHarness {
	t.Helper()
	b := config.DefaultBrokerConfig()
	c, err := New(Config{NodeID: 100, Broker: b, ClusterID: testClusterID}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := &lifecycleHarness{t: t, c: c, img: metadata.EmptyImage(), nowMs: 1_000_000}
	h.append(metadata.BootstrapRecords(metadataVersion))
	c.Activate(h.img, h.nowMs)
	return h
}

// append replays records at the next offsets, as if committed.
func (h *lifecycleHarness) append(records []metadata.Record) {
	h.t.Helper()
	if len(records) == 0 {
		return
	}
	img, err := h.img.Apply(records)
	if err != nil {
		h.t.Fatalf("records do not replay: %v", err)
	}
	h.img = img
	h.next += record.Offset(len(records))
}

func (h *lifecycleHarness) result(res Result) Result {
	h.t.Helper()
	h.append(res.Records)
	return res
}

func registrationRequest(id int32, incarnation byte) *kmsg.BrokerRegistrationRequest {
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.Version = 3
	req.BrokerID = id
	req.ClusterID = testClusterID
	req.IncarnationID = [16]byte{0: byte(id), 1: incarnation, 15: 1}
	req.Listeners = []kmsg.BrokerRegistrationRequestListener{{Name: "PLAINTEXT", Host: "broker-" + string(rune('a'+id)), Port: 9092}}
	for _, f := range metadata.SupportedFeatures() {
		req.Features = append(req.Features, kmsg.BrokerRegistrationRequestFeature{Name: f.Name, MinSupportedVersion: f.MinSupportedVersion, MaxSupportedVersion: f.MaxSupportedVersion})
	}
	req.LogDirs = [][16]byte{{0: 0xd1, 1: byte(id), 2: incarnation}}
	return req
}

// register registers broker id as a broker whose disk kept its log does: with the epoch of
// its registration as PreviousBrokerEpoch (-1 when it has none). registerUnclean sends -1.
func (h *lifecycleHarness) register(id int32, incarnation byte) (Result, *kmsg.BrokerRegistrationResponse) {
	h.t.Helper()
	req := registrationRequest(id, incarnation)
	if b, ok := h.img.Broker(id); ok {
		req.PreviousBrokerEpoch = b.Epoch
	}
	return h.registerWith(req)
}

func (h *lifecycleHarness) registerUnclean(id int32, incarnation byte) (Result, *kmsg.BrokerRegistrationResponse) {
	h.t.Helper()
	return h.registerWith(registrationRequest(id, incarnation))
}

func (h *lifecycleHarness) registerWith(req *kmsg.BrokerRegistrationRequest) (Result, *kmsg.BrokerRegistrationResponse) {
	h.t.Helper()
	res := h.result(h.c.RegisterBroker(h.img, h.next, h.nowMs, req))
	return res, res.Response.(*kmsg.BrokerRegistrationResponse)
}

func heartbeatRequest(id int32, epoch, offset int64, wantFence, wantShutdown bool) *kmsg.BrokerHeartbeatRequest {
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.Version = 1
	req.BrokerID, req.BrokerEpoch, req.CurrentMetadataOffset = id, epoch, offset
	req.WantFence, req.WantShutdown = wantFence, wantShutdown
	return req
}

func (h *lifecycleHarness) heartbeat(id int32, offset int64, wantFence, wantShutdown bool) (Result, *kmsg.BrokerHeartbeatResponse) {
	h.t.Helper()
	epoch := int64(-1)
	if b, ok := h.img.Broker(id); ok {
		epoch = b.Epoch
	}
	res := h.result(h.c.Heartbeat(h.img, h.next, h.nowMs, heartbeatRequest(id, epoch, offset, wantFence, wantShutdown)))
	return res, res.Response.(*kmsg.BrokerHeartbeatResponse)
}

// caughtUp is the offset of the last record in the log: a broker that has applied everything.
func (h *lifecycleHarness) caughtUp() int64 { return int64(h.next) - 1 }

// registerUnfenced registers brokers and unfences each with a caught-up heartbeat.
func (h *lifecycleHarness) registerUnfenced(ids ...int32) {
	h.t.Helper()
	for _, id := range ids {
		if _, resp := h.register(id, 1); resp.ErrorCode != 0 {
			h.t.Fatalf("register %d: error %d", id, resp.ErrorCode)
		}
	}
	for _, id := range ids {
		if _, resp := h.heartbeat(id, h.caughtUp(), false, false); resp.ErrorCode != 0 || resp.IsFenced {
			h.t.Fatalf("heartbeat %d: %+v", id, resp)
		}
	}
}

func (h *lifecycleHarness) tick() []metadata.Record {
	h.t.Helper()
	records, _ := h.c.Tick(h.img, h.nowMs)
	h.append(records)
	return records
}

// createTopic writes a topic's records directly (topic commands are not this file's subject).
func (h *lifecycleHarness) createTopic(name string, id byte, replicas ...[]int32) metadata.UUID {
	h.t.Helper()
	topicID := metadata.UUID{0: 0x70, 15: id}
	records, err := metadata.NewTopicRecords(name, topicID, replicas, nil)
	if err != nil {
		h.t.Fatalf("topic %s: %v", name, err)
	}
	h.append(records)
	return topicID
}

func (h *lifecycleHarness) partition(topicID metadata.UUID, p int32) *metadata.Partition {
	h.t.Helper()
	part, ok := h.img.Partition(topicID, p)
	if !ok {
		h.t.Fatalf("no partition %s-%d", topicID, p)
	}
	return part
}

func (h *lifecycleHarness) broker(id int32) *metadata.Broker {
	h.t.Helper()
	b, ok := h.img.Broker(id)
	if !ok {
		h.t.Fatalf("broker %d not registered", id)
	}
	return b
}

// recordTypes lists the types of records, to compare against what Kafka writes.
func recordTypes(records []metadata.Record) []metadata.RecordType {
	var out []metadata.RecordType
	for _, r := range records {
		out = append(out, r.Type())
	}
	return out
}

func sameTypes(records []metadata.Record, want ...metadata.RecordType) bool {
	return slices.Equal(recordTypes(records), want)
}

// forELRModes runs f at metadata.version 3.9-IV0 (no eligible leader replicas) and at the
// default, where they are on.
func forELRModes(t *testing.T, f func(t *testing.T, mv int16)) {
	t.Helper()
	for _, mv := range []int16{21, metadata.MetadataVersionDefault} {
		t.Run(fmt.Sprintf("mv%d", mv), func(t *testing.T) { f(t, mv) })
	}
}

// keptLast reports whether broker id, the last ISR member of a partition that lost its
// leader, is where the image's mode keeps it: in the ISR without eligible leader replicas
// (so the partition knows whose log is newest), alone in the ELR of an empty ISR with them.
func keptLast(img *metadata.Image, p *metadata.Partition, id int32) bool {
	if img.ELREnabled() {
		return len(p.ISR) == 0 && slices.Equal(p.EligibleLeaderReplicas, []int32{id})
	}
	return slices.Equal(p.ISR, []int32{id}) && len(p.EligibleLeaderReplicas) == 0
}
