package metadata

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/weirdata/weir/core/uuid"

	"github.com/weirdata/weir/core/record"
)

func sampleImage(t *testing.T, topics int) *Image {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	img := apply(t, EmptyImage(), BootstrapRecords(MetadataVersionDefault)...)
	img = apply(t, img, NewRegisterBrokerRecord(0, 0, uuid.FromRand(rng), []BrokerEndpoint{{Name: "PLAINTEXT", Host: "localhost", Port: 9092}}, nil, nil, false))
	b := img.NewBuilder()
	for i := 0; i < topics; i++ {
		name := fmt.Sprintf("topic-%s%d", strings.Repeat("x", i%7), i)
		for _, r := range newTopic(t, name, uuid.FromRand(rng), [][]int32{{0}, {0}, {0}}, map[string]string{"segment.bytes": "1048576"}) {
			if err := b.Replay(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	return b.Build()
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, topics := range []int{0, 3, 3000} {
		img := sampleImage(t, topics)
		data, err := EncodeSnapshot(img, SnapshotID{EndOffset: 42, Epoch: 3}, 1234)
		if err != nil {
			t.Fatal(err)
		}
		got, ts, err := DecodeSnapshot(data)
		if err != nil {
			t.Fatalf("%d topics: %v", topics, err)
		}
		if ts != 1234 || !got.Equal(img) {
			t.Fatalf("%d topics: snapshot does not recreate the image (ts %d)", topics, ts)
		}
		// The layout Kafka expects: a control header batch first, a control footer batch last,
		// offsets from 0, each batch stamped with the snapshot's epoch.
		it := record.NewBatchIterator(data)
		var headers []record.Header
		for it.Next() {
			headers = append(headers, it.Header())
		}
		if it.Err() != nil || len(headers) < 2 || !headers[0].Control() || !headers[len(headers)-1].Control() || headers[0].BaseOffset != 0 {
			t.Fatalf("layout: %v %+v", it.Err(), headers)
		}
		for _, h := range headers {
			if h.PartitionLeaderEpoch != 3 {
				t.Fatalf("batch epoch %d", h.PartitionLeaderEpoch)
			}
		}
		if topics == 3000 && len(headers) < 4 {
			t.Fatalf("a large snapshot was not cut into batches: %d batches", len(headers))
		}
	}
}

func TestSnapshotRejectsDamage(t *testing.T) {
	img := sampleImage(t, 20)
	data, err := EncodeSnapshot(img, SnapshotID{EndOffset: 10, Epoch: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	footerStart := lastBatchStart(t, data)
	flipped := append([]byte{}, data...)
	flipped[len(flipped)/2] ^= 0x40
	cases := map[string][]byte{
		"empty":          {},
		"torn tail":      data[:len(data)-7],
		"no footer":      data[:footerStart],
		"bit flip":       flipped,
		"only header":    data[:firstBatchEnd(t, data)],
		"trailing batch": append(append([]byte{}, data...), data[:firstBatchEnd(t, data)]...),
	}
	for name, bad := range cases {
		if _, _, err := DecodeSnapshot(bad); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("%s: got %v, want ErrCorruptSnapshot", name, err)
		}
	}
}

func firstBatchEnd(t *testing.T, data []byte) int {
	h, err := record.ParseHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	return int(h.SizeBytes())
}

func lastBatchStart(t *testing.T, data []byte) int {
	it := record.NewBatchIterator(data)
	last := 0
	for it.Next() {
		last = it.Position()
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	return last
}

func TestSnapshotFileName(t *testing.T) {
	id := SnapshotID{EndOffset: 1234, Epoch: 5}
	name := SnapshotFileName(id)
	if name != "00000000000000001234-0000000005.checkpoint" {
		t.Fatal(name)
	}
	if got, ok := ParseSnapshotFileName(name); !ok || got != id {
		t.Fatalf("%v %v", got, ok)
	}
	for _, bad := range []string{"00000000000000001234.log", "00000000000000001234-0000000005.checkpoint.part", "0000000000000000123x-0000000005.checkpoint", "leader-epoch-checkpoint"} {
		if _, ok := ParseSnapshotFileName(bad); ok {
			t.Errorf("parsed %q", bad)
		}
	}
}
