package quorum

import (
	"testing"

	"github.com/weirdata/weir/core/record"
)

// benchEntries is one fetch answer's worth of metadata records: 256 entries of 128 bytes in
// two epochs, the second opening with its LeaderChange.
func benchEntries() []Entry {
	entries := make([]Entry, 256)
	for i := range entries {
		entries[i] = Entry{Epoch: 3, Data: make([]byte, 128)}
		if i >= 128 {
			entries[i].Epoch = 4
		}
	}
	entries[128] = Entry{Epoch: 4, Control: true, Data: leaderChangeData(1, []NodeID{1, 2, 3}, []NodeID{1, 2})}
	return entries
}

func BenchmarkAppendBatches(b *testing.B) {
	entries := benchEntries()
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = AppendBatches(dst[:0], 1000, entries, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(dst)))
}

func BenchmarkDecodeBatches(b *testing.B) {
	data, err := AppendBatches(nil, 1000, benchEntries(), 0)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeBatches(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFetchResponseWireTrip(b *testing.B) {
	w := &Wire{ClusterID: "c"}
	req := Message{From: 2, To: 1, Body: &FetchRequest{ReplicaID: 2, FetchOffset: 1000, MaxEntries: 256}}
	resp := Message{From: 1, To: 2, Body: &FetchResponse{
		HighWatermark: 1200, CurrentLeader: LeaderAndEpoch{LeaderID: 1, LeaderEpoch: 4},
		DivergingEpoch: EpochEndOffset{Epoch: -1, EndOffset: -1}, SnapshotID: EpochEndOffset{Epoch: -1, EndOffset: -1},
		BaseOffset: record.Offset(1000), Entries: benchEntries(),
	}}
	b.ReportAllocs()
	for b.Loop() {
		km, err := w.ToKmsg(resp, SendFetchVersion, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.FromKmsg(1, 2, 0, wireTrip(b, km), &req); err != nil {
			b.Fatal(err)
		}
	}
}
