package netio

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/core/wire"
	"github.com/weirdata/weir/diskio"
	"github.com/weirdata/weir/diskio/osfs"
)

// BenchmarkApiVersionsPipelined: one client pipelines ApiVersions requests over loopback to a
// loop that answers each at once; requests/s and allocations per round trip (client, loop and
// server together; the response body is shared, so the loop allocates nothing).
func BenchmarkApiVersionsPipelined(b *testing.B) {
	srv, _ := startServer(b, testConfig())
	body := apiVersionsResponse(&srv.cfg.Versions)
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		for ev := range srv.Events() {
			if ev.Kind == EventRequest {
				srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: body})
			}
		}
	}()
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	clientID := "bench"
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "bench", "1"
	frame := wire.AppendRequest(nil, wire.RequestHeader{APIKey: 18, APIVersion: 3, CorrelationID: 1, ClientID: &clientID}, req)

	b.ReportAllocs()
	b.ResetTimer()
	sendErr := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(nc, 64<<10)
		for range b.N {
			if _, err := w.Write(frame); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- w.Flush()
	}()
	r := bufio.NewReaderSize(nc, 64<<10)
	var prefix [4]byte
	for i := range b.N {
		if _, err := io.ReadFull(r, prefix[:]); err != nil {
			b.Fatalf("response %d: %v", i, err)
		}
		if _, err := r.Discard(int(binary.BigEndian.Uint32(prefix[:]))); err != nil {
			b.Fatalf("response %d: %v", i, err)
		}
	}
	b.StopTimer()
	if err := <-sendErr; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}

// BenchmarkPlanReader: a 64 KiB read plan of 16 batches, opening the file per read (what
// PlanReader does) against pread on a descriptor kept open, which a file cache would give.
func BenchmarkPlanReader(b *testing.B) {
	dir := b.TempDir()
	var data []byte
	for i := range 16 {
		var err error
		data, err = record.AppendBatch(data, record.BatchOptions{BaseOffset: record.Offset(i), ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1},
			[]record.Record{{Value: make([]byte, 4000)}})
		if err != nil {
			b.Fatal(err)
		}
	}
	fsys := osfs.New()
	path := dir + "/00000000000000000000.log"
	f, err := fsys.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		b.Fatal(err)
	}
	f.Close()
	plan := wholePlanForBench(path, data)
	b.Run("open-per-read", func(b *testing.B) {
		r := NewPlanReader(fsys)
		buf := make([]byte, 0, len(data))
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			out, err := r.AppendPlan(buf[:0], plan)
			if err != nil || len(out) != len(data) {
				b.Fatalf("%d bytes, %v", len(out), err)
			}
		}
	})
	b.Run("kept-open", func(b *testing.B) {
		f, err := fsys.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		r := NewPlanReader(keptOpenFS{FS: fsys, f: f})
		buf := make([]byte, 0, len(data))
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			out, err := r.AppendPlan(buf[:0], plan)
			if err != nil || len(out) != len(data) {
				b.Fatalf("%d bytes, %v", len(out), err)
			}
		}
	})
}

// keptOpenFS hands out one descriptor kept open, as a descriptor cache would: Open returns it
// and Close leaves it open.
type keptOpenFS struct {
	diskio.FS
	f diskio.File
}

func (k keptOpenFS) Open(string) (diskio.File, error) { return keptOpenFile{k.f}, nil }

type keptOpenFile struct{ diskio.File }

func (keptOpenFile) Close() error { return nil }
