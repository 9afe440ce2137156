package storage

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio/memfs"
)

func entry(topic string, partition int32, offset record.Offset) CheckpointEntry {
	return CheckpointEntry{TopicPartition: TopicPartition{topic, partition}, Offset: offset}
}

func TestOffsetCheckpointKafkaSample(t *testing.T) {
	sample := readTestdata(t, "recovery-point-offset-checkpoint")
	got, err := DecodeOffsetCheckpoint("sample", sample)
	if err != nil {
		t.Fatal(err)
	}
	want := []CheckpointEntry{entry("__consumer_offsets", 7, 1523), entry("orders-v2.eu", 0, 42), entry("orders-v2.eu", 10, 0)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %v", got)
	}
	// Encoding sorts (partition numerically), so any input order gives the sample's bytes.
	shuffled := []CheckpointEntry{want[2], want[0], want[1]}
	if enc := EncodeOffsetCheckpoint(shuffled); !bytes.Equal(enc, sample) {
		t.Fatalf("encoded %q, want %q", enc, sample)
	}
	if enc := EncodeOffsetCheckpoint(nil); string(enc) != "0\n0\n" {
		t.Fatalf("empty checkpoint %q", enc)
	}
}

func TestOffsetCheckpointTolerant(t *testing.T) {
	tests := []struct {
		data string
		want []CheckpointEntry
	}{
		{"", nil},
		{"0\n", nil},
		{"0\n0\n", nil},
		{"0\n1\nt  0\t5", []CheckpointEntry{entry("t", 0, 5)}},
		{"0\r\n1\r\nt 0 5\r\n", []CheckpointEntry{entry("t", 0, 5)}},
	}
	for _, tt := range tests {
		got, err := DecodeOffsetCheckpoint("f", []byte(tt.data))
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: %v %v", tt.data, got, err)
		}
	}
}

func TestOffsetCheckpointCorrupt(t *testing.T) {
	tests := []struct {
		data string
		line int
	}{
		{"x\n0\n", 1},
		{"1\n0\n", 1},
		{"0\nmany\n", 2},
		{"0\n-1\n", 2},
		{"0\n2\nt 0 5\n", 0},
		{"0\n1\nt 0 5\nu 0 6\n", 0},
		{"0\n1\nt 0\n", 3},
		{"0\n1\nt 0 5 9\n", 3},
		{"0\n2\nt 0 5\nt x 6\n", 4},
		{"0\n1\nt -1 5\n", 3},
		{"0\n1\nt 0 99999999999999999999\n", 3},
		{"0\n2\nt 0 5\nt 0 6\n", 4},
	}
	for _, tt := range tests {
		_, err := DecodeOffsetCheckpoint("/d/recovery-point-offset-checkpoint", []byte(tt.data))
		var corrupt *CorruptCheckpointError
		if !errors.As(err, &corrupt) {
			t.Errorf("%q: error %v, want CorruptCheckpointError", tt.data, err)
			continue
		}
		if corrupt.Line != tt.line || corrupt.Path != "/d/recovery-point-offset-checkpoint" ||
			!strings.Contains(err.Error(), "/d/recovery-point-offset-checkpoint") {
			t.Errorf("%q: %v (line %d), want line %d", tt.data, err, corrupt.Line, tt.line)
		}
	}
}

func TestOffsetCheckpointFileRoundTrip(t *testing.T) {
	fsys := memfs.New()
	if err := mkdirAllDurable(fsys, "/d"); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadOffsetCheckpoint(fsys, "/d", LogStartOffsetCheckpointFile); err != nil || got != nil {
		t.Fatalf("missing file: %v %v", got, err)
	}
	want := []CheckpointEntry{entry("a", 0, 1), entry("a", 2, 3), entry("b.c-d", 1, 1<<40)}
	if err := WriteOffsetCheckpoint(fsys, "/d", LogStartOffsetCheckpointFile, want); err != nil {
		t.Fatal(err)
	}
	crashed := fsys.CrashClone(memfs.CrashConfig{Mode: memfs.CrashLoseUnsynced})
	got, err := ReadOffsetCheckpoint(crashed, "/d", LogStartOffsetCheckpointFile)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after crash: %v %v", got, err)
	}
}

func TestEncodeOffsetCheckpointPanicsOnBadTopic(t *testing.T) {
	for _, entries := range [][]CheckpointEntry{{entry("a b", 0, 1)}, {entry("", 0, 1)}, {entry("a", 0, 1), entry("a", 0, 2)}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%v: no panic", entries)
				}
			}()
			EncodeOffsetCheckpoint(entries)
		}()
	}
}

func TestParsePartitionDirName(t *testing.T) {
	tests := []struct {
		name      string
		topic     string
		partition int32
		kind      DirKind
		ok        bool
	}{
		{"orders-0", "orders", 0, DirPartition, true},
		{"my-topic-12", "my-topic", 12, DirPartition, true},
		{"a.b-c.d-3", "a.b-c.d", 3, DirPartition, true},
		{"__consumer_offsets-49", "__consumer_offsets", 49, DirPartition, true},
		{"t--1", "t-", 1, DirPartition, true},
		{"orders-0.0123456789abcdef0123456789abcdef-delete", "orders", 0, DirDeleted, true},
		{"my-topic-2.abcd-future", "my-topic", 2, DirFuture, true},
		{"my-topic-2.abcd-stray", "my-topic", 2, DirStray, true},
		{"orders", "", 0, 0, false},
		{"lost+found", "", 0, 0, false},
		{"-0", "", 0, 0, false},
		{"orders-", "", 0, 0, false},
		{"orders-x", "", 0, 0, false},
		{"orders-+1", "", 0, 0, false},
		{"orders-0-delete", "", 0, 0, false},
		{"orders-0.-delete", "", 0, 0, false},
		{"orders-99999999999", "", 0, 0, false},
	}
	for _, tt := range tests {
		tp, kind, err := ParsePartitionDirName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("%q: err %v, want ok=%v", tt.name, err, tt.ok)
			continue
		}
		if tt.ok && (tp.Topic != tt.topic || tp.Partition != tt.partition || kind != tt.kind) {
			t.Errorf("%q: %v %v, want %s-%d %v", tt.name, tp, kind, tt.topic, tt.partition, tt.kind)
		}
	}
}

func TestDeleteDirName(t *testing.T) {
	r := testRandom(20)
	name, err := deleteDirName(TopicPartition{"my-topic", 3}, r)
	if err != nil {
		t.Fatal(err)
	}
	tp, kind, err := ParsePartitionDirName(name)
	if err != nil || kind != DirDeleted || tp != (TopicPartition{"my-topic", 3}) || len(name) != len("my-topic-3.")+32+len("-delete") {
		t.Fatalf("%q → %v %v %v", name, tp, kind, err)
	}
	long := strings.Repeat("t", 249)
	name, _ = deleteDirName(TopicPartition{long, 7}, r)
	if len(name) != 255 || !strings.HasSuffix(name, "-delete") {
		t.Fatalf("long topic delete name is %d bytes: %q", len(name), name)
	}
}
