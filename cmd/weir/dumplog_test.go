package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/record"
)

// runWeir runs the command line and returns the exit code, stdout and stderr.
func runWeir(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// appendBatch appends one batch to a segment, failing the test if it cannot be built.
func appendBatch(t *testing.T, segment []byte, opts record.BatchOptions, records ...record.Record) []byte {
	t.Helper()
	segment, err := record.AppendBatch(segment, opts, records)
	if err != nil {
		t.Fatal(err)
	}
	return segment
}

// crcAt is the stored CRC of the batch at position.
func crcAt(t *testing.T, segment []byte, position int) uint32 {
	t.Helper()
	h, err := record.ParseHeader(segment[position:])
	if err != nil {
		t.Fatal(err)
	}
	return h.CRC
}

// testSegment is two batches: a plain one with a null key and a header-less record, and a
// zstd-compressed idempotent one with a header and a value that needs quoting.
func testSegment(t *testing.T) (segment []byte, secondPosition int) {
	plain := record.BatchOptions{
		BaseOffset: 0, PartitionLeaderEpoch: 3, FirstTimestamp: 1700000000000,
		ProducerID: record.NoProducerID, ProducerEpoch: -1, BaseSequence: record.NoSequence,
	}
	segment = appendBatch(t, nil, plain,
		record.Record{OffsetDelta: 0, Key: []byte("k0"), Value: []byte("hello")},
		record.Record{OffsetDelta: 1, TimestampDelta: 5, Key: nil, Value: []byte("world")},
	)
	secondPosition = len(segment)
	idempotent := record.BatchOptions{
		BaseOffset: 2, PartitionLeaderEpoch: 3, Codec: record.CodecZstd, FirstTimestamp: 1700000001000,
		ProducerID: 42, ProducerEpoch: 1, BaseSequence: 7,
	}
	segment = appendBatch(t, segment, idempotent,
		record.Record{OffsetDelta: 0, Key: []byte("k2"), Value: []byte("tab\there"),
			Headers: []record.RecordHeader{{Key: "trace", Value: []byte("abc")}, {Key: "none", Value: nil}}},
	)
	return segment, secondPosition
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDumpLogPrintsBatchesAndRecords(t *testing.T) {
	segment, second := testSegment(t)
	path := writeFile(t, filepath.Join(t.TempDir(), "orders-0", "00000000000000000000.log"), segment)

	code, stdout, stderr := runWeir(t, "dump-log", "--print-records", path)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	want := fmt.Sprintf(`Dumping %s
Log starting offset: 0
baseOffset: 0 lastOffset: 1 count: 2 baseSequence: -1 lastSequence: -1 producerId: -1 producerEpoch: -1 partitionLeaderEpoch: 3 isTransactional: false isControl: false position: 0 CreateTime: 1700000000005 size: %d magic: 2 compresscodec: none crc: %d isvalid: true
| offset: 0 CreateTime: 1700000000000 keySize: 2 valueSize: 5 sequence: -1 headerKeys: [] key: k0 payload: hello
| offset: 1 CreateTime: 1700000000005 keySize: -1 valueSize: 5 sequence: -1 headerKeys: [] key: null payload: world
baseOffset: 2 lastOffset: 2 count: 1 baseSequence: 7 lastSequence: 7 producerId: 42 producerEpoch: 1 partitionLeaderEpoch: 3 isTransactional: false isControl: false position: %d CreateTime: 1700000001000 size: %d magic: 2 compresscodec: zstd crc: %d isvalid: true
| offset: 2 CreateTime: 1700000001000 keySize: 2 valueSize: 8 sequence: 7 headerKeys: [trace, none] key: k2 payload: "tab\there" headers: [trace=abc, none=null]
`, path, second, crcAt(t, segment, 0), second, len(segment)-second, crcAt(t, segment, second))
	if stdout != want {
		t.Errorf("output differs\n got:\n%s\nwant:\n%s", stdout, want)
	}

	// Without --print-records only the batch lines are printed.
	code, stdout, _ = runWeir(t, "dump-log", path)
	if code != exitOK || strings.Contains(stdout, "| offset") || strings.Count(stdout, "baseOffset:") != 2 {
		t.Errorf("exit %d, output:\n%s", code, stdout)
	}
}

func TestDumpLogReportsCorruptCRCAndGoesOn(t *testing.T) {
	segment, second := testSegment(t)
	corrupt := bytes.Clone(segment)
	corrupt[len(corrupt)-1] ^= 0x01 // in the CRC-covered records of the second batch
	dir := t.TempDir()
	corruptPath := writeFile(t, filepath.Join(dir, "a-0", "00000000000000000000.log"), corrupt)
	goodPath := writeFile(t, filepath.Join(dir, "b-0", "00000000000000000000.log"), segment)

	code, stdout, stderr := runWeir(t, "dump-log", "--print-records", corruptPath, goodPath)
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	lines := strings.Split(stdout, "\n")
	var secondBatch string
	for _, l := range lines {
		if strings.HasPrefix(l, "baseOffset: 2 ") {
			secondBatch = l
			break // the corrupt file comes first
		}
	}
	if !strings.HasSuffix(secondBatch, fmt.Sprintf("crc: %d isvalid: false", crcAt(t, corrupt, second))) {
		t.Errorf("corrupt batch line: %q", secondBatch)
	}
	if !strings.Contains(stdout, "| invalid: record: corrupt batch: crc mismatch at base offset 2") {
		t.Errorf("no reason for the invalid batch:\n%s", stdout)
	}
	// The corrupt batch's records are not decoded, and the good file is still dumped in full.
	if strings.Contains(stdout, `payload: "tab\there"`+"\n"+"Dumping "+goodPath) || !strings.Contains(stdout, "Dumping "+goodPath) {
		t.Errorf("output:\n%s", stdout)
	}
	if got := strings.Count(stdout, `payload: "tab\there"`); got != 1 {
		t.Errorf("the second batch's record printed %d times, want once (from the good file):\n%s", got, stdout)
	}
	if !strings.Contains(stderr, "weir dump-log: 1 of 2 files hold invalid or unreadable data: "+corruptPath) {
		t.Errorf("stderr: %q", stderr)
	}
}

func TestDumpLogReportsTruncatedTail(t *testing.T) {
	segment, second := testSegment(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		keep   int
		reason string
	}{
		{"torn batch", len(segment) - 3, fmt.Sprintf("truncated: batch at base offset 2 declares %d bytes, %d remain", len(segment)-second, len(segment)-second-3)},
		{"torn header", second + 20, "20 bytes cannot hold a batch header of 61"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(dir, tc.name, "00000000000000000000.log"), segment[:tc.keep])
			code, stdout, _ := runWeir(t, "dump-log", path)
			if code != exitError {
				t.Errorf("exit %d, want %d", code, exitError)
			}
			want := fmt.Sprintf("Found %d invalid bytes at the end of 00000000000000000000.log (position %d): %s\n", tc.keep-second, second, tc.reason)
			if !strings.HasSuffix(stdout, want) || strings.Count(stdout, "isvalid: true") != 1 {
				t.Errorf("output:\n%s\nwant it to end with:\n%s", stdout, want)
			}
		})
	}

	// A declared size over --max-batch-bytes is not read.
	path := writeFile(t, filepath.Join(dir, "big", "00000000000000000000.log"), segment)
	code, stdout, _ := runWeir(t, "dump-log", "--max-batch-bytes", fmt.Sprint(second-1), path)
	if want := fmt.Sprintf("Found %d invalid bytes at the end of 00000000000000000000.log (position 0): batch declares %d bytes, more than --max-batch-bytes %d\n", len(segment), second, second-1); code != exitError || stdout != "Dumping "+path+"\nLog starting offset: 0\n"+want {
		t.Errorf("exit %d, output:\n%s\nwant it to end with:\n%s", code, stdout, want)
	}

	// Bytes that are no batch at all: a header with magic 1.
	garbage := bytes.Clone(segment)
	garbage[second+16] = 1
	path = writeFile(t, filepath.Join(dir, "magic", "00000000000000000000.log"), garbage)
	code, stdout, _ = runWeir(t, "dump-log", path)
	if code != exitError || !strings.Contains(stdout, "unsupported magic") {
		t.Errorf("exit %d, output:\n%s", code, stdout)
	}
}

func TestDumpLogDecodesMetadataRecords(t *testing.T) {
	topic := &metadata.TopicRecord{Name: "orders", TopicID: metadata.UUID{1, 2, 3}}
	value, err := metadata.EncodeRecord(topic)
	if err != nil {
		t.Fatal(err)
	}
	wantPayload, err := metadata.DecodeForDump(value)
	if err != nil {
		t.Fatal(err)
	}
	segment := appendBatch(t, nil, record.BatchOptions{
		BaseOffset: 0, PartitionLeaderEpoch: 1, FirstTimestamp: 1700000000000,
		ProducerID: record.NoProducerID, ProducerEpoch: -1, BaseSequence: record.NoSequence,
	},
		record.Record{OffsetDelta: 0, Value: value},
		record.Record{OffsetDelta: 1, Value: []byte{0xff, 0xff}}, // not a metadata record
	)
	path := writeFile(t, filepath.Join(t.TempDir(), metadataLogDir, "00000000000000000000.log"), segment)

	code, stdout, _ := runWeir(t, "dump-log", "--print-records", path)
	if code != exitError {
		t.Errorf("exit %d: a record that does not decode is bad data", code)
	}
	if !strings.Contains(stdout, "| offset: 0 CreateTime: 1700000000000 keySize: -1 valueSize: "+fmt.Sprint(len(value))+" sequence: -1 headerKeys: [] payload: "+wantPayload+"\n") {
		t.Errorf("metadata record not decoded:\n%s", stdout)
	}
	if !strings.Contains(stdout, "| offset: 1 ") || !strings.Contains(stdout, "| invalid records: offset 1: ") {
		t.Errorf("undecodable metadata record not reported:\n%s", stdout)
	}
}

func TestDumpLogDecodesMetadataControlRecords(t *testing.T) {
	// A snapshot footer: key version 0, type 4; value version 0 and no tagged fields.
	footer := record.Record{Key: []byte{0, 0, 0, 4}, Value: []byte{0, 0, 0}}
	wantPayload, err := metadata.DecodeControlForDump(footer.Key, footer.Value)
	if err != nil {
		t.Fatal(err)
	}
	segment := appendBatch(t, nil, record.BatchOptions{
		BaseOffset: 9, FirstTimestamp: 1700000000000, ProducerID: record.NoProducerID, ProducerEpoch: -1,
		BaseSequence: record.NoSequence, PartitionLeaderEpoch: 2, Control: true,
	}, footer)
	path := writeFile(t, filepath.Join(t.TempDir(), metadataLogDir, "00000000000000000009-0000000002.checkpoint"), segment)
	code, stdout, _ := runWeir(t, "dump-log", "--print-records", path)
	if want := "| offset: 9 CreateTime: 1700000000000 keySize: 4 valueSize: 3 sequence: -1 headerKeys: [] payload: " + wantPayload + "\n"; code != exitOK || !strings.Contains(stdout, want) {
		t.Errorf("exit %d, output:\n%s\nwant a line:\n%s", code, stdout, want)
	}
}

func TestDumpLogControlRecord(t *testing.T) {
	commit := record.Record{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 9}}
	segment := appendBatch(t, nil, record.BatchOptions{
		BaseOffset: 5, FirstTimestamp: 1700000000000, ProducerID: 7, ProducerEpoch: 0,
		BaseSequence: record.NoSequence, PartitionLeaderEpoch: 0, Transactional: true, Control: true,
	}, commit)
	path := writeFile(t, filepath.Join(t.TempDir(), "t-0", "00000000000000000005.log"), segment)
	code, stdout, _ := runWeir(t, "dump-log", "--print-data-log", path)
	if code != exitOK {
		t.Errorf("exit %d", code)
	}
	for _, want := range []string{"Log starting offset: 5\n", "isTransactional: true isControl: true", "| offset: 5 CreateTime: 1700000000000 keySize: 4 valueSize: 6 sequence: -1 headerKeys: [] endTxnMarker: COMMIT coordinatorEpoch: 9\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("missing %q in:\n%s", want, stdout)
		}
	}
}

func TestDumpLogUnreadableFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "00000000000000000000.log")
	code, stdout, stderr := runWeir(t, "dump-log", missing)
	if code != exitError || !strings.Contains(stdout, "Error reading "+missing) || !strings.Contains(stderr, "weir dump-log: 1 of 1 files") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	index := writeFile(t, filepath.Join(t.TempDir(), "00000000000000000000.index"), make([]byte, 80))
	code, stdout, _ = runWeir(t, "dump-log", index)
	if code != exitError || !strings.Contains(stdout, "Error reading "+index+": not a .log segment") {
		t.Errorf("an index file: exit %d, stdout %q", code, stdout)
	}
	if code, _, _ := runWeir(t, "dump-log"); code != exitUsage {
		t.Errorf("dump-log without files: exit %d, want %d", code, exitUsage)
	}
}
