package check

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestEncodeRoundTrip(t *testing.T) {
	b := plainFinal()
	b.add(Op{Client: 7, Kind: OpProduce, Topic: "other", Partition: 3, Outcome: OutcomeUnknown,
		Err: "REQUEST_TIMED_OUT", Idempotent: true, ProducerID: 4000, ProducerEpoch: 2,
		Records: []Record{{Offset: -1, Key: "k\n\"1\"", Value: "<v>&é"}}, FetchOffset: -1, HighWatermark: -1, LogStartOffset: -1})
	b.add(Op{Client: 8, Kind: OpFetch, Topic: "other", Partition: 3, Outcome: OutcomeFailed,
		Err: "OFFSET_OUT_OF_RANGE", Records: []Record{}, FetchOffset: 9, HighWatermark: -1, LogStartOffset: -1})
	var buf bytes.Buffer
	if err := Encode(&buf, b.h); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != len(b.h.Ops) {
		t.Fatalf("%d lines for %d ops:\n%s", lines, len(b.h.Ops), buf.String())
	}
	got, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, b.h) {
		t.Fatalf("round trip changed the history:\n got %+v\nwant %+v", got, b.h)
	}
}

func TestEncodeFormat(t *testing.T) {
	b := newBuilder()
	b.produce(1, OutcomeOK, 5, "a")
	var buf bytes.Buffer
	if err := Encode(&buf, b.h); err != nil {
		t.Fatal(err)
	}
	const want = `{"index":0,"client":1,"seq":1,"kind":"produce","topic":"t","partition":0,"invoke_ns":1,"complete_ns":2,` +
		`"outcome":"ok","records":[{"offset":5,"value":"a"}],"fetch_offset":-1,"high_watermark":-1,"log_start_offset":-1,` +
		`"producer_id":1,"producer_epoch":0}` + "\n"
	if buf.String() != want {
		t.Fatalf("got  %s\nwant %s", buf.String(), want)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := `{"index":0,"client":1,"seq":1,"kind":"produce","topic":"t","partition":0,"invoke_ns":1,"complete_ns":2,"outcome":"ok","records":null,"fetch_offset":-1,"high_watermark":-1,"log_start_offset":-1,"producer_id":1,"producer_epoch":0}`
	cases := []struct {
		name, input, want string
	}{
		{"unknown field", strings.Replace(good, `"seq":1`, `"seq":1,"sequence":2`, 1), "line 1"},
		{"bad kind", strings.Replace(good, `"produce"`, `"send"`, 1), `op kind "send"`},
		{"bad outcome", strings.Replace(good, `"ok"`, `"info"`, 1), `outcome "info"`},
		{"index out of place", good + "\n" + good, "line 2: op index 0, want 1"},
		{"two ops on a line", good + good, "line 1: more than one op"},
		{"not json", "{", "line 1"},
		{"line too long", `{"topic":"` + strings.Repeat("x", OpLineBytesMax) + `"}`, "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tc.input))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	h, err := Decode(strings.NewReader("\n" + good + "\n\n"))
	if err != nil || len(h.Ops) != 1 {
		t.Fatalf("blank lines: %v, %d ops", err, len(h.Ops))
	}
}

func TestEncodeRejectsUnknownKind(t *testing.T) {
	h := History{Ops: []Op{{Kind: 9, Outcome: OutcomeOK}}}
	if err := Encode(&bytes.Buffer{}, h); err == nil {
		t.Fatal("encoded an op of unknown kind")
	}
}
