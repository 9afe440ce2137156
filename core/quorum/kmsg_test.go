package quorum

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"

	"github.com/weirdata/weir/core/record"
)

func testWire() *Wire {
	return &Wire{ClusterID: "cluster-A", Self: Endpoint{Listener: "CONTROLLER", Host: "c1.example", Port: 9093}, FetchBytesPerEntry: 1024}
}

// wireTrip sends km through its bytes: AppendTo, then ReadFrom into a fresh message of the
// same kind and version, as a peer would read it.
func wireTrip(t interface {
	Helper()
	Fatalf(string, ...any)
}, km Kmsg) Kmsg {
	t.Helper()
	b := km.AppendTo(nil)
	var fresh Kmsg
	switch km.(type) {
	case kmsg.Request:
		fresh = kmsg.RequestForKey(km.Key())
	default:
		fresh = kmsg.ResponseForKey(km.Key())
	}
	fresh.SetVersion(km.GetVersion())
	if err := fresh.ReadFrom(b); err != nil {
		t.Fatalf("%T v%d does not read back: %v", km, km.GetVersion(), err)
	}
	return fresh
}

func drawNode(t *rapid.T, label string) NodeID {
	return NodeID(rapid.Int32Range(-1, 1<<20).Draw(t, label))
}

func drawEpoch(t *rapid.T, label string) record.Epoch {
	return record.Epoch(rapid.Int32Range(-1, 1<<30).Draw(t, label))
}

func drawOffset(t *rapid.T, label string) record.Offset {
	return record.Offset(rapid.Int64Range(-1, 1<<50).Draw(t, label))
}

func drawEpochEnd(t *rapid.T, label string) EpochEndOffset {
	return EpochEndOffset{Epoch: drawEpoch(t, label+"Epoch"), EndOffset: drawOffset(t, label+"End")}
}

// drawExchange draws a request and an answer to it of one kind.
func drawExchange(t *rapid.T) (req, resp Body) {
	leader := LeaderAndEpoch{LeaderID: drawNode(t, "leader"), LeaderEpoch: drawEpoch(t, "leaderEpoch")}
	code := rapid.SampledFrom([]int16{ErrNone, ErrNotLeaderOrFollower, ErrFencedLeaderEpoch, ErrUnknownLeaderEpoch, ErrSnapshotNotFound}).Draw(t, "code")
	switch rapid.IntRange(0, 4).Draw(t, "kind") {
	case 0:
		return &VoteRequest{
				CandidateEpoch: drawEpoch(t, "ce"), CandidateID: drawNode(t, "cid"), LastOffsetEpoch: drawEpoch(t, "loe"),
				LastOffset: drawOffset(t, "lo"), PreVote: rapid.Bool().Draw(t, "pre"),
			}, &VoteResponse{
				ErrorCode: code, LeaderID: leader.LeaderID, LeaderEpoch: leader.LeaderEpoch, VoteGranted: rapid.Bool().Draw(t, "granted"),
			}
	case 1:
		return &BeginQuorumEpochRequest{LeaderID: leader.LeaderID, LeaderEpoch: leader.LeaderEpoch},
			&BeginQuorumEpochResponse{ErrorCode: code, LeaderID: drawNode(t, "l2"), LeaderEpoch: drawEpoch(t, "e2")}
	case 2:
		var successors []NodeID
		if n := rapid.IntRange(0, 4).Draw(t, "successors"); n > 0 {
			successors = make([]NodeID, n)
			for i := range successors {
				successors[i] = drawNode(t, "s")
			}
		}
		return &EndQuorumEpochRequest{LeaderID: leader.LeaderID, LeaderEpoch: leader.LeaderEpoch, PreferredSuccessors: successors},
			&EndQuorumEpochResponse{ErrorCode: code, LeaderID: drawNode(t, "l2"), LeaderEpoch: drawEpoch(t, "e2")}
	case 3:
		fetchOffset := record.Offset(rapid.Int64Range(0, 1<<40).Draw(t, "fetchOffset"))
		req := &FetchRequest{
			ReplicaID: drawNode(t, "replica"), MaxWaitMs: rapid.Int32Range(0, 1<<20).Draw(t, "wait"),
			CurrentLeaderEpoch: drawEpoch(t, "cle"), FetchOffset: fetchOffset, LastFetchedEpoch: drawEpoch(t, "lfe"),
			LogStartOffset: drawOffset(t, "lso"), MaxEntries: rapid.Int32Range(0, 1<<20).Draw(t, "maxEntries"),
		}
		resp := &FetchResponse{
			ErrorCode: code, HighWatermark: drawOffset(t, "hw"), LogStartOffset: drawOffset(t, "rlso"),
			DivergingEpoch: drawEpochEnd(t, "div"), CurrentLeader: leader, SnapshotID: drawEpochEnd(t, "snap"),
			BaseOffset: fetchOffset, Entries: drawEntries(t),
		}
		return req, resp
	default:
		return &FetchSnapshotRequest{
				ReplicaID: drawNode(t, "replica"), MaxBytes: rapid.Int32Range(0, 1<<30).Draw(t, "maxBytes"),
				CurrentLeaderEpoch: drawEpoch(t, "cle"), SnapshotID: drawEpochEnd(t, "snap"), Position: rapid.Int64Range(-1, 1<<40).Draw(t, "pos"),
			}, &FetchSnapshotResponse{
				ErrorCode: code, SnapshotID: drawEpochEnd(t, "rsnap"), CurrentLeader: leader,
				Size: rapid.Int64Range(-1, 1<<40).Draw(t, "size"), Position: rapid.Int64Range(-1, 1<<40).Draw(t, "rpos"),
				Bytes: rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "bytes"),
			}
	}
}

// wireWallMs is the wall clock fetch answers are framed at in these tests: it stamps the
// entries that carry no timestamp.
const wireWallMs = 1_700_000_000_000

// bodiesEqual compares a body that went over the wire with the one sent, counting nil and
// empty byte slices and entry lists the same, and entries without a timestamp as stamped with
// wireWallMs.
func bodiesEqual(a, b Body) bool {
	switch x := a.(type) {
	case *FetchResponse:
		y, ok := b.(*FetchResponse)
		if !ok {
			return false
		}
		xs, ys := *x, *y
		xs.Entries, ys.Entries = nil, nil
		return reflect.DeepEqual(xs, ys) && entriesEqual(x.Entries, stamped(y.Entries, wireWallMs))
	case *FetchSnapshotResponse:
		y, ok := b.(*FetchSnapshotResponse)
		if !ok {
			return false
		}
		xs, ys := *x, *y
		xs.Bytes, ys.Bytes = nil, nil
		return reflect.DeepEqual(xs, ys) && bytes.Equal(x.Bytes, y.Bytes)
	case *EndQuorumEpochRequest:
		y, ok := b.(*EndQuorumEpochRequest)
		return ok && x.LeaderID == y.LeaderID && x.LeaderEpoch == y.LeaderEpoch &&
			len(x.PreferredSuccessors) == len(y.PreferredSuccessors) && (len(x.PreferredSuccessors) == 0 || reflect.DeepEqual(x.PreferredSuccessors, y.PreferredSuccessors))
	}
	return reflect.DeepEqual(a, b)
}

// versionsFor is every version a body can be said at without losing a field.
func versionsFor(body Body) []int16 {
	var lo, hi int16
	switch b := body.(type) {
	case *VoteRequest:
		lo, hi = MinVoteVersion, SendVoteVersion
		if b.PreVote {
			lo = 2
		}
	case *VoteResponse:
		lo, hi = MinVoteVersion, SendVoteVersion
	case *BeginQuorumEpochRequest, *BeginQuorumEpochResponse:
		lo, hi = MinBeginQuorumEpochVersion, SendBeginQuorumEpochVersion
	case *EndQuorumEpochRequest, *EndQuorumEpochResponse:
		lo, hi = MinEndQuorumEpochVersion, SendEndQuorumEpochVersion
	case *FetchRequest, *FetchResponse:
		lo, hi = MinFetchVersion, SendFetchVersion
	case *FetchSnapshotRequest, *FetchSnapshotResponse:
		lo, hi = MinFetchSnapshotVersion, SendFetchSnapshotVersion
	}
	var vs []int16
	for v := lo; v <= hi; v++ {
		vs = append(vs, v)
	}
	return vs
}

func TestKmsgRoundTrip(t *testing.T) {
	w := testWire()
	rapid.Check(t, func(t *rapid.T) {
		reqBody, respBody := drawExchange(t)
		from, to := NodeID(rapid.Int32Range(0, 100).Draw(t, "from")), NodeID(rapid.Int32Range(0, 100).Draw(t, "to"))
		corr := rapid.Int32().Draw(t, "corr")
		versions := versionsFor(reqBody)
		version := rapid.SampledFrom(versions).Draw(t, "version")
		req := Message{From: from, To: to, CorrelationID: corr, Body: reqBody}
		kreq, err := w.ToKmsg(req, version, 0)
		if err != nil {
			t.Fatalf("ToKmsg(%+v) v%d: %v", reqBody, version, err)
		}
		if _, ok := kreq.(kmsg.Request); !ok || kreq.GetVersion() != version {
			t.Fatalf("%T v%d for a request at v%d", kreq, kreq.GetVersion(), version)
		}
		gotReq, err := w.FromKmsg(from, to, corr, wireTrip(t, kreq), nil)
		if err != nil {
			t.Fatalf("FromKmsg of %T v%d: %v", kreq, version, err)
		}
		if gotReq.From != from || gotReq.To != to || gotReq.CorrelationID != corr || !bodiesEqual(gotReq.Body, reqBody) {
			t.Fatalf("v%d request came back %+v %+v, want %+v", version, gotReq, gotReq.Body, reqBody)
		}
		resp := Message{From: to, To: from, CorrelationID: corr, Body: respBody}
		kresp, err := w.ToKmsg(resp, version, wireWallMs)
		if err != nil {
			t.Fatalf("ToKmsg(%+v) v%d: %v", respBody, version, err)
		}
		if _, ok := kresp.(kmsg.Response); !ok {
			t.Fatalf("%T for a response", kresp)
		}
		gotResp, err := w.FromKmsg(to, from, corr, wireTrip(t, kresp), &req)
		if err != nil {
			t.Fatalf("FromKmsg of %T v%d: %v", kresp, version, err)
		}
		if !bodiesEqual(gotResp.Body, respBody) {
			t.Fatalf("v%d response came back %+v, want %+v", version, gotResp.Body, respBody)
		}
	})
}

// TestKmsgGolden pins fields Kafka defines precisely, in the bytes or in what kmsg reads
// from them.
func TestKmsgGolden(t *testing.T) {
	w := testWire()
	t.Run("BeginQuorumEpoch v0 bytes", func(t *testing.T) {
		km, err := w.ToKmsg(Message{From: 2, To: 3, Body: &BeginQuorumEpochRequest{LeaderID: 2, LeaderEpoch: 7}}, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var want []byte
		want = binary.BigEndian.AppendUint16(want, 9)
		want = append(want, "cluster-A"...)
		want = binary.BigEndian.AppendUint32(want, 1) // topics
		want = binary.BigEndian.AppendUint16(want, uint16(len(MetadataTopic)))
		want = append(want, MetadataTopic...)
		want = binary.BigEndian.AppendUint32(want, 1) // partitions
		want = binary.BigEndian.AppendUint32(want, 0) // partition index
		want = binary.BigEndian.AppendUint32(want, 2) // leader id
		want = binary.BigEndian.AppendUint32(want, 7) // leader epoch
		if got := km.AppendTo(nil); !bytes.Equal(got, want) {
			t.Fatalf("bytes\n%x\nwant\n%x", got, want)
		}
	})
	t.Run("Vote v2 bytes", func(t *testing.T) {
		km, err := w.ToKmsg(Message{From: 1, To: 3, Body: &VoteRequest{CandidateEpoch: 5, CandidateID: 1, LastOffsetEpoch: 4, LastOffset: 100, PreVote: true}}, 2, 0)
		if err != nil {
			t.Fatal(err)
		}
		var want []byte
		want = append(want, 10) // compact nullable string: length+1
		want = append(want, "cluster-A"...)
		want = binary.BigEndian.AppendUint32(want, 3) // voter id: the receiver
		want = append(want, 2)                        // compact array of one topic
		want = append(want, byte(len(MetadataTopic)+1))
		want = append(want, MetadataTopic...)
		want = append(want, 2)                          // one partition
		want = binary.BigEndian.AppendUint32(want, 0)   // partition index
		want = binary.BigEndian.AppendUint32(want, 5)   // candidate epoch
		want = binary.BigEndian.AppendUint32(want, 1)   // candidate id
		want = append(want, make([]byte, 32)...)        // candidate and voter directory ids: unknown
		want = binary.BigEndian.AppendUint32(want, 4)   // last offset epoch
		want = binary.BigEndian.AppendUint64(want, 100) // last offset
		want = append(want, 1)                          // pre-vote
		want = append(want, 0, 0, 0)                    // partition, topic, request tags
		if got := km.AppendTo(nil); !bytes.Equal(got, want) {
			t.Fatalf("bytes\n%x\nwant\n%x", got, want)
		}
	})
	t.Run("Fetch v17 names the replica in ReplicaState and the topic by id", func(t *testing.T) {
		km, err := w.ToKmsg(Message{From: 4, To: 1, Body: &FetchRequest{ReplicaID: 4, MaxWaitMs: 500, CurrentLeaderEpoch: 3, FetchOffset: 10, LastFetchedEpoch: 2, LogStartOffset: 0, MaxEntries: 8192}}, SendFetchVersion, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := wireTrip(t, km).(*kmsg.FetchRequest)
		if got.ReplicaID != -1 || got.ReplicaState.ID != 4 || got.ReplicaState.Epoch != -1 {
			t.Fatalf("replica id %d, state %+v", got.ReplicaID, got.ReplicaState)
		}
		if got.ClusterID == nil || *got.ClusterID != "cluster-A" || got.MinBytes != 0 || got.MaxBytes != 8<<20 {
			t.Fatalf("cluster %v, min bytes %d, max bytes %d", got.ClusterID, got.MinBytes, got.MaxBytes)
		}
		p := got.Topics[0].Partitions[0]
		if got.Topics[0].TopicID != [16]byte{15: 1} || got.Topics[0].Topic != "" || p.PartitionMaxBytes != 8<<20 || p.LastFetchedEpoch != 2 || p.CurrentLeaderEpoch != 3 {
			t.Fatalf("topic %+v", got.Topics[0])
		}
	})
	t.Run("Fetch v12 names the topic and the replica id", func(t *testing.T) {
		km, err := w.ToKmsg(Message{From: 4, To: 1, Body: &FetchRequest{ReplicaID: 4, FetchOffset: 10}}, 12, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := wireTrip(t, km).(*kmsg.FetchRequest)
		if got.ReplicaID != 4 || got.Topics[0].Topic != MetadataTopic {
			t.Fatalf("replica %d topic %q", got.ReplicaID, got.Topics[0].Topic)
		}
	})
	t.Run("FetchResponse fields and endpoints", func(t *testing.T) {
		resp := &FetchResponse{
			HighWatermark: 9, LogStartOffset: 0, DivergingEpoch: EpochEndOffset{Epoch: 2, EndOffset: 8},
			CurrentLeader: LeaderAndEpoch{LeaderID: 1, LeaderEpoch: 3}, SnapshotID: EpochEndOffset{Epoch: -1, EndOffset: -1}, BaseOffset: 10,
		}
		km, err := w.ToKmsg(Message{From: 1, To: 4, Body: resp}, SendFetchVersion, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := wireTrip(t, km).(*kmsg.FetchResponse)
		p := got.Topics[0].Partitions[0]
		if p.DivergingEpoch.Epoch != 2 || p.DivergingEpoch.EndOffset != 8 || p.SnapshotID.Epoch != -1 || p.CurrentLeader.LeaderID != 1 ||
			p.RecordBatches == nil || len(p.RecordBatches) != 0 || p.PreferredReadReplica != -1 || p.LastStableOffset != -1 {
			t.Fatalf("partition %+v", p)
		}
		if len(got.Brokers) != 1 || got.Brokers[0].NodeID != 1 || got.Brokers[0].Host != "c1.example" || got.Brokers[0].Port != 9093 {
			t.Fatalf("brokers %+v", got.Brokers)
		}
	})
	t.Run("BeginQuorumEpoch v1 carries the leader's endpoint", func(t *testing.T) {
		km, err := w.ToKmsg(Message{From: 1, To: 2, Body: &BeginQuorumEpochRequest{LeaderID: 1, LeaderEpoch: 3}}, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := wireTrip(t, km).(*kmsg.BeginQuorumEpochRequest)
		if got.VoterID != 2 || len(got.LeaderEndpoints) != 1 || got.LeaderEndpoints[0].Name != "CONTROLLER" || got.LeaderEndpoints[0].Port != 9093 {
			t.Fatalf("voter %d endpoints %+v", got.VoterID, got.LeaderEndpoints)
		}
	})
	t.Run("EndQuorumEpoch successors by version", func(t *testing.T) {
		body := &EndQuorumEpochRequest{LeaderID: 1, LeaderEpoch: 3, PreferredSuccessors: []NodeID{3, 2}}
		v0, err := w.ToKmsg(Message{From: 1, To: 2, Body: body}, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if p := wireTrip(t, v0).(*kmsg.EndQuorumEpochRequest).Topics[0].Partitions[0]; !reflect.DeepEqual(p.PreferredSuccessors, []int32{3, 2}) || len(p.PreferredCandidates) != 0 {
			t.Fatalf("v0 partition %+v", p)
		}
		v1, err := w.ToKmsg(Message{From: 1, To: 2, Body: body}, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if p := wireTrip(t, v1).(*kmsg.EndQuorumEpochRequest).Topics[0].Partitions[0]; len(p.PreferredSuccessors) != 0 || len(p.PreferredCandidates) != 2 || p.PreferredCandidates[0].CandidateID != 3 {
			t.Fatalf("v1 partition %+v", p)
		}
	})
}

// mustKmsg is ToKmsg at the send version, failing the test on error.
func mustKmsg(t testing.TB, w *Wire, m Message) Kmsg {
	t.Helper()
	km, err := w.ToKmsg(m, SendVersion(m.Body), 0)
	if err != nil {
		t.Fatal(err)
	}
	return km
}

func wantReject(t *testing.T, err error, code int16, topLevel bool) *RejectError {
	t.Helper()
	var rej *RejectError
	if !errors.As(err, &rej) || rej.Code != code || rej.TopLevel != topLevel || !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("error %v, want a reject with code %d (top level %t)", err, code, topLevel)
	}
	return rej
}

func TestFromKmsgRejectsRequests(t *testing.T) {
	w := testWire()
	other := &Wire{ClusterID: "cluster-B", FetchBytesPerEntry: 1024}
	vote := Message{From: 1, To: 2, Body: &VoteRequest{CandidateEpoch: 2, CandidateID: 1}}
	fetch := Message{From: 4, To: 1, Body: &FetchRequest{ReplicaID: 4, FetchOffset: 3, MaxEntries: 1}}
	snap := Message{From: 4, To: 1, Body: &FetchSnapshotRequest{ReplicaID: 4, SnapshotID: EpochEndOffset{Epoch: 1, EndOffset: 5}}}

	// Another cluster: INCONSISTENT_CLUSTER_ID, for every kind.
	for _, m := range []Message{vote, fetch, snap,
		{From: 1, To: 2, Body: &BeginQuorumEpochRequest{LeaderID: 1, LeaderEpoch: 2}},
		{From: 1, To: 2, Body: &EndQuorumEpochRequest{LeaderID: 1, LeaderEpoch: 2}}} {
		_, err := w.FromKmsg(m.From, m.To, 0, wireTrip(t, mustKmsg(t, other, m)), nil)
		wantReject(t, err, ErrInconsistentClusterID, true)
	}
	// No cluster id at all is accepted, as Kafka accepts it.
	kv := mustKmsg(t, w, vote).(*kmsg.VoteRequest)
	kv.ClusterID = nil
	if _, err := w.FromKmsg(1, 2, 0, wireTrip(t, kv), nil); err != nil {
		t.Fatalf("vote without a cluster id: %v", err)
	}

	// Not exactly __cluster_metadata-0: INVALID_REQUEST at the top level.
	kv = mustKmsg(t, w, vote).(*kmsg.VoteRequest)
	kv.Topics = append(kv.Topics, kv.Topics[0])
	_, err := w.FromKmsg(1, 2, 0, wireTrip(t, kv), nil)
	wantReject(t, err, ErrInvalidRequest, true)
	kv = mustKmsg(t, w, vote).(*kmsg.VoteRequest)
	kv.Topics[0].Topic = "orders"
	_, err = w.FromKmsg(1, 2, 0, wireTrip(t, kv), nil)
	wantReject(t, err, ErrInvalidRequest, true)
	kv = mustKmsg(t, w, vote).(*kmsg.VoteRequest)
	kv.Topics[0].Partitions = nil
	_, err = w.FromKmsg(1, 2, 0, wireTrip(t, kv), nil)
	wantReject(t, err, ErrInvalidRequest, true)
	kf := mustKmsg(t, w, fetch).(*kmsg.FetchRequest)
	kf.Topics[0].TopicID[0] = 9
	_, err = w.FromKmsg(4, 1, 0, wireTrip(t, kf), nil)
	wantReject(t, err, ErrInvalidRequest, true)
	kf = mustKmsg(t, w, fetch).(*kmsg.FetchRequest)
	kf.Topics[0].Partitions[0].Partition = 1
	_, err = w.FromKmsg(4, 1, 0, wireTrip(t, kf), nil)
	wantReject(t, err, ErrInvalidRequest, true)

	// FetchSnapshot for another partition: UNKNOWN_TOPIC_OR_PARTITION in the partition.
	ks := mustKmsg(t, w, snap).(*kmsg.FetchSnapshotRequest)
	ks.Topics[0].Topic = "orders"
	_, err = w.FromKmsg(4, 1, 0, wireTrip(t, ks), nil)
	rej := wantReject(t, err, ErrUnknownTopicOrPartition, false)
	answer := wireTrip(t, RejectResponse(ks, rej, LeaderAndEpoch{LeaderID: 1, LeaderEpoch: 6})).(*kmsg.FetchSnapshotResponse)
	if p := answer.Topics[0].Partitions[0]; answer.Topics[0].Topic != "orders" || p.ErrorCode != ErrUnknownTopicOrPartition || p.CurrentLeader.LeaderEpoch != 6 {
		t.Fatalf("reject answer %+v", answer)
	}
	ks = mustKmsg(t, w, snap).(*kmsg.FetchSnapshotRequest)
	ks.Topics = nil
	_, err = w.FromKmsg(4, 1, 0, wireTrip(t, ks), nil)
	wantReject(t, err, ErrInvalidRequest, true)

	// A vote addressed to another voter: INVALID_VOTER_KEY.
	kv = mustKmsg(t, w, vote).(*kmsg.VoteRequest)
	_, err = w.FromKmsg(1, 3, 0, wireTrip(t, kv), nil)
	rej = wantReject(t, err, ErrInvalidVoterKey, false)
	voteAnswer := wireTrip(t, RejectResponse(kv, rej, LeaderAndEpoch{LeaderID: -1, LeaderEpoch: 2})).(*kmsg.VoteResponse)
	if voteAnswer.ErrorCode != 0 || voteAnswer.Topics[0].Partitions[0].ErrorCode != ErrInvalidVoterKey || voteAnswer.Topics[0].Partitions[0].LeaderEpoch != 2 {
		t.Fatalf("reject answer %+v", voteAnswer)
	}

	// A top-level reject answers with the code and nothing else.
	kf = mustKmsg(t, other, fetch).(*kmsg.FetchRequest)
	_, err = w.FromKmsg(4, 1, 0, kf, nil)
	rej = wantReject(t, err, ErrInconsistentClusterID, true)
	fetchAnswer := wireTrip(t, RejectResponse(kf, rej, LeaderAndEpoch{})).(*kmsg.FetchResponse)
	if fetchAnswer.ErrorCode != ErrInconsistentClusterID || len(fetchAnswer.Topics) != 0 || fetchAnswer.Version != SendFetchVersion {
		t.Fatalf("reject answer %+v", fetchAnswer)
	}

	// Versions outside the range read here.
	kf = mustKmsg(t, w, fetch).(*kmsg.FetchRequest)
	kf.SetVersion(11)
	if _, err := w.FromKmsg(4, 1, 0, kf, nil); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("fetch v11: %v", err)
	}
	// Not a quorum request.
	if _, err := w.FromKmsg(4, 1, 0, kmsg.NewPtrMetadataRequest(), nil); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("metadata request: %v", err)
	}
	// A response given as a request, a request given as a response.
	if _, err := w.FromKmsg(4, 1, 0, mustKmsg(t, w, vote), &vote); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("request with a request: %v", err)
	}
}

func TestToKmsgRejects(t *testing.T) {
	w := testWire()
	if _, err := w.ToKmsg(Message{From: 1, To: 2, Body: &VoteRequest{PreVote: true}}, 1, 0); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("pre-vote at v1: %v", err)
	}
	if _, err := w.ToKmsg(Message{From: 1, To: 2, Body: &FetchRequest{}}, 18, 0); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("fetch v18: %v", err)
	}
	bad := &FetchResponse{BaseOffset: 0, Entries: []Entry{{Epoch: -3}}}
	if _, err := w.ToKmsg(Message{From: 1, To: 2, Body: bad}, SendFetchVersion, 0); !errors.Is(err, ErrInvalidBatch) {
		t.Fatalf("entry with a negative epoch: %v", err)
	}
}

func TestFromKmsgResponses(t *testing.T) {
	w := testWire()
	req := Message{From: 4, To: 1, CorrelationID: 9, Body: &FetchRequest{ReplicaID: 4, FetchOffset: 12, MaxEntries: 1}}
	fetchAnswer := func(t *testing.T, base record.Offset, entries []Entry) *kmsg.FetchResponse {
		t.Helper()
		resp := &FetchResponse{
			HighWatermark: 12, DivergingEpoch: EpochEndOffset{Epoch: -1, EndOffset: -1}, SnapshotID: EpochEndOffset{Epoch: -1, EndOffset: -1},
			CurrentLeader: LeaderAndEpoch{LeaderID: 1, LeaderEpoch: 2}, BaseOffset: base, Entries: entries,
		}
		return mustKmsg(t, w, Message{From: 1, To: 4, Body: resp}).(*kmsg.FetchResponse)
	}
	entries := []Entry{{Epoch: 1, Data: []byte("a")}, {Epoch: 2, Control: true, Data: []byte("lc")}, {Epoch: 2, Data: []byte("b")}}

	// No records: the answer starts at the fetch offset.
	m, err := w.FromKmsg(1, 4, 9, wireTrip(t, fetchAnswer(t, 12, nil)), &req)
	if err != nil || m.Body.(*FetchResponse).BaseOffset != 12 || len(m.Body.(*FetchResponse).Entries) != 0 {
		t.Fatalf("empty answer %+v: %v", m.Body, err)
	}
	// Records from a batch starting below the fetch offset are trimmed to it.
	m, err = w.FromKmsg(1, 4, 9, wireTrip(t, fetchAnswer(t, 11, entries)), &req)
	if got := m.Body.(*FetchResponse); err != nil || got.BaseOffset != 12 || !entriesEqual(got.Entries, entries[1:]) {
		t.Fatalf("trimmed answer %+v: %v", m.Body, err)
	}
	// A batch holding the fetch offset inside it would be appended in part: refused.
	straddling := []Entry{{Epoch: 2, Data: []byte("x"), MoreInBatch: true}, {Epoch: 2, Data: []byte("y"), MoreInBatch: true}, {Epoch: 2, Data: []byte("z")}}
	if _, err := w.FromKmsg(1, 4, 9, wireTrip(t, fetchAnswer(t, 11, straddling)), &req); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("a batch straddling the fetch offset: %v", err)
	}
	// Whole batches below the fetch offset are skipped, the batch starting there kept whole.
	m, err = w.FromKmsg(1, 4, 9, wireTrip(t, fetchAnswer(t, 11, append([]Entry{{Epoch: 1, Data: []byte("a")}}, straddling...))), &req)
	if got := m.Body.(*FetchResponse); err != nil || got.BaseOffset != 12 || !entriesEqual(got.Entries, stamped(straddling, wireWallMs)) {
		t.Fatalf("answer from a batch below the fetch offset %+v: %v", m.Body, err)
	}
	// Records past the fetch offset leave a gap.
	if _, err := w.FromKmsg(1, 4, 9, wireTrip(t, fetchAnswer(t, 13, entries)), &req); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("answer past the fetch offset: %v", err)
	}
	// A truncated last batch is cut, as Kafka's fetchers cut it; a corrupt one is rejected.
	km := fetchAnswer(t, 12, entries)
	p := &km.Topics[0].Partitions[0]
	p.RecordBatches = p.RecordBatches[:len(p.RecordBatches)-5]
	m, err = w.FromKmsg(1, 4, 9, wireTrip(t, km), &req)
	if got := m.Body.(*FetchResponse); err != nil || !entriesEqual(got.Entries, entries[:2]) {
		t.Fatalf("truncated answer %+v: %v", m.Body, err)
	}
	km = fetchAnswer(t, 12, entries)
	p = &km.Topics[0].Partitions[0]
	p.RecordBatches[len(p.RecordBatches)-1] ^= 0xff
	if _, err := w.FromKmsg(1, 4, 9, wireTrip(t, km), &req); !errors.Is(err, ErrInvalidMessage) || !errors.Is(err, ErrInvalidBatch) {
		t.Fatalf("corrupt answer: %v", err)
	}
	// A top-level error, another partition, an answer of the wrong kind.
	km = fetchAnswer(t, 12, nil)
	km.ErrorCode = ErrInconsistentClusterID
	km.Topics = nil
	if _, err := w.FromKmsg(1, 4, 9, wireTrip(t, km), &req); !errors.Is(err, ErrErrorResponse) {
		t.Fatalf("top-level error: %v", err)
	}
	km = fetchAnswer(t, 12, nil)
	km.Topics[0].TopicID = [16]byte{1}
	if _, err := w.FromKmsg(1, 4, 9, wireTrip(t, km), &req); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("another topic: %v", err)
	}
	vote := Message{From: 1, To: 2, Body: &VoteRequest{CandidateEpoch: 2, CandidateID: 1}}
	kv := mustKmsg(t, w, Message{From: 2, To: 1, Body: &VoteResponse{LeaderID: -1, LeaderEpoch: 2}}).(*kmsg.VoteResponse)
	kv.Topics[0].Partitions = append(kv.Topics[0].Partitions, kv.Topics[0].Partitions[0])
	if _, err := w.FromKmsg(2, 1, 0, wireTrip(t, kv), &vote); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("two partitions: %v", err)
	}
	if _, err := w.FromKmsg(1, 4, 9, wireTrip(t, fetchAnswer(t, 12, nil)), &vote); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("fetch answer to a vote: %v", err)
	}
	if _, err := w.FromKmsg(1, 4, 9, wireTrip(t, fetchAnswer(t, 12, nil)), nil); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("response without its request: %v", err)
	}
}

// fuzzRequests are the requests fuzzed responses answer, by API key.
var fuzzRequests = map[int16]Message{
	52: {From: 1, To: 2, Body: &VoteRequest{CandidateEpoch: 3, CandidateID: 1}},
	53: {From: 1, To: 2, Body: &BeginQuorumEpochRequest{LeaderID: 1, LeaderEpoch: 3}},
	54: {From: 1, To: 2, Body: &EndQuorumEpochRequest{LeaderID: 1, LeaderEpoch: 3}},
	1:  {From: 1, To: 2, Body: &FetchRequest{ReplicaID: 1, FetchOffset: 5, MaxEntries: 4}},
	59: {From: 1, To: 2, Body: &FetchSnapshotRequest{ReplicaID: 1, SnapshotID: EpochEndOffset{Epoch: 2, EndOffset: 9}}},
}

// FuzzFromKmsg reads arbitrary bytes as a quorum request or response of any version read
// here: FromKmsg never panics, every error is one of its kinds, a reject can be answered, and
// what it accepts goes back to kmsg and returns the same message.
func FuzzFromKmsg(f *testing.F) {
	w := testWire()
	keys := []int16{52, 53, 54, 1, 59}
	for _, key := range keys {
		req := fuzzRequests[key]
		km := mustKmsg(f, w, req)
		f.Add(uint8(key), km.GetVersion(), false, km.AppendTo(nil))
	}
	resp := &FetchResponse{HighWatermark: 6, CurrentLeader: LeaderAndEpoch{LeaderID: 2, LeaderEpoch: 3}, DivergingEpoch: EpochEndOffset{Epoch: -1, EndOffset: -1},
		SnapshotID: EpochEndOffset{Epoch: -1, EndOffset: -1}, BaseOffset: 5, Entries: []Entry{{Epoch: 3, Control: true, Data: []byte{1}}, {Epoch: 3, Data: []byte("x")}}}
	km, err := w.ToKmsg(Message{From: 2, To: 1, Body: resp}, SendFetchVersion, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(1), SendFetchVersion, true, km.AppendTo(nil))
	f.Fuzz(func(t *testing.T, keyPick uint8, version int16, response bool, data []byte) {
		key := keys[int(keyPick)%len(keys)]
		lo, hi, _ := supportedVersions(key)
		version = lo + int16(uint16(version)%uint16(hi-lo+1))
		var km Kmsg
		var request *Message
		if response {
			km = kmsg.ResponseForKey(key)
			r := fuzzRequests[key]
			request = &r
		} else {
			km = kmsg.RequestForKey(key)
		}
		km.SetVersion(version)
		if km.ReadFrom(data) != nil {
			return
		}
		m, err := w.FromKmsg(2, 1, 7, km, request)
		if err != nil {
			var rej *RejectError
			if errors.As(err, &rej) {
				RejectResponse(km.(kmsg.Request), rej, LeaderAndEpoch{LeaderID: 1, LeaderEpoch: 2}).AppendTo(nil)
			}
			if !errors.Is(err, ErrInvalidMessage) && !errors.Is(err, ErrErrorResponse) {
				t.Fatalf("error %v of no kind", err)
			}
			return
		}
		again, err := w.ToKmsg(m, version, wireWallMs)
		if err != nil {
			t.Fatalf("accepted %+v does not go back to kmsg v%d: %v", m.Body, version, err)
		}
		back, err := w.FromKmsg(2, 1, 7, wireTrip(t, again), request)
		if err != nil || !bodiesEqual(back.Body, m.Body) {
			t.Fatalf("%+v came back %+v: %v", m.Body, back.Body, err)
		}
	})
}
