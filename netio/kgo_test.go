package netio

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// echoLoop is a fake loop: it answers ApiVersions with the server's table and Metadata with
// one broker (this server) and one topic, and records the versions it was asked at.
type echoLoop struct {
	srv  *Server
	host string
	port int32

	mu   sync.Mutex
	seen map[int16][]int16 // api key → versions requested
}

func newEchoLoop(t *testing.T, srv *Server) *echoLoop {
	host, portText, err := net.SplitHostPort(srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portText)
	l := &echoLoop{srv: srv, host: host, port: int32(port), seen: map[int16][]int16{}}
	go func() {
		for ev := range srv.Events() {
			if ev.Kind != EventRequest {
				continue
			}
			l.mu.Lock()
			l.seen[ev.Request.Header.APIKey] = append(l.seen[ev.Request.Header.APIKey], ev.Request.Header.APIVersion)
			l.mu.Unlock()
			srv.Respond(Response{Conn: ev.Conn, Seq: ev.Seq, Header: ev.Request.Header, Body: l.answer(ev)})
		}
	}()
	return l
}

func (l *echoLoop) answer(ev Event) kmsg.Response {
	if ev.UnsupportedVersion {
		return wireUnsupported(&l.srv.cfg.Versions)
	}
	switch ev.Request.Body.(type) {
	case *kmsg.ApiVersionsRequest:
		return apiVersionsResponse(&l.srv.cfg.Versions)
	case *kmsg.MetadataRequest:
		return l.metadata()
	}
	panic("echo loop: unexpected request")
}

func (l *echoLoop) metadata() *kmsg.MetadataResponse {
	resp := kmsg.NewPtrMetadataResponse()
	broker := kmsg.NewMetadataResponseBroker()
	broker.NodeID = 0
	broker.Host = l.host
	broker.Port = l.port
	resp.Brokers = append(resp.Brokers, broker)
	clusterID := "weir-test"
	resp.ClusterID = &clusterID
	resp.ControllerID = 0
	topic := kmsg.NewMetadataResponseTopic()
	name := "orders"
	topic.Topic = &name
	partition := kmsg.NewMetadataResponseTopicPartition()
	partition.Partition = 0
	partition.Leader = 0
	partition.LeaderEpoch = 3
	partition.Replicas = []int32{0}
	partition.ISR = []int32{0}
	topic.Partitions = append(topic.Partitions, partition)
	resp.Topics = append(resp.Topics, topic)
	return resp
}

func (l *echoLoop) versionsSeen(key int16) []int16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int16(nil), l.seen[key]...)
}

// sameEncoding compares two responses by their bytes at version.
func sameEncoding(t *testing.T, version int16, got, want kmsg.Response) {
	t.Helper()
	got.SetVersion(version)
	want.SetVersion(version)
	g, w := got.AppendTo(nil), want.AppendTo(nil)
	if !bytes.Equal(g, w) {
		t.Fatalf("response differs at v%d:\n got %+v\nwant %+v", version, got, want)
	}
}

// TestKgoClient: a real franz-go client negotiates with the server and gets the loop's exact
// answers at the versions it was pinned to.
func TestKgoClient(t *testing.T) {
	srv, _ := startServer(t, testConfig())
	loop := newEchoLoop(t, srv)

	maxVersions := kversion.Stable()
	maxVersions.SetMaxKeyVersion(3, 9)  // Metadata
	maxVersions.SetMaxKeyVersion(18, 3) // ApiVersions
	client, err := kgo.NewClient(kgo.SeedBrokers(srv.Addr().String()), kgo.MaxVersions(maxVersions))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	meta := kmsg.NewPtrMetadataRequest()
	topic := kmsg.NewMetadataRequestTopic()
	name := "orders"
	topic.Topic = &name
	meta.Topics = append(meta.Topics, topic)
	resp, err := client.Request(ctx, meta)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if meta.GetVersion() != 9 {
		t.Fatalf("metadata sent at v%d, want the pinned v9", meta.GetVersion())
	}
	sameEncoding(t, 9, resp, loop.metadata())

	av, err := client.Request(ctx, kmsg.NewPtrApiVersionsRequest())
	if err != nil {
		t.Fatalf("api versions: %v", err)
	}
	sameEncoding(t, 3, av, apiVersionsResponse(&srv.cfg.Versions))

	for _, v := range loop.versionsSeen(3) {
		if v != 9 {
			t.Fatalf("loop saw metadata v%d, want v9 only", v)
		}
	}
	for _, v := range loop.versionsSeen(18) {
		if v != 3 {
			t.Fatalf("loop saw api versions v%d, want v3 only", v)
		}
	}
	if len(loop.versionsSeen(18)) < 2 {
		t.Fatalf("loop saw %d api versions requests, want the client's own and ours", len(loop.versionsSeen(18)))
	}
}

// TestApiVersionsUnsupported: a too-new ApiVersions reaches the loop flagged, and its answer
// goes out as v0 with UNSUPPORTED_VERSION, on a connection that stays open.
func TestApiVersionsUnsupported(t *testing.T) {
	srv, _ := startServer(t, testConfig())
	newEchoLoop(t, srv)
	c := dialRaw(t, srv)
	c.send(7, 99, kmsg.NewPtrApiVersionsRequest())
	corr, resp := c.recv(18, 99)
	if corr != 7 {
		t.Fatalf("correlation id %d, want 7", corr)
	}
	av := resp.(*kmsg.ApiVersionsResponse)
	if av.ErrorCode != 35 || len(av.ApiKeys) != 1 || av.ApiKeys[0].ApiKey != 18 {
		t.Fatalf("got %+v, want UNSUPPORTED_VERSION with ApiVersions' range", av)
	}
	c.send(8, 3, kmsg.NewPtrApiVersionsRequest())
	if corr, _ := c.recv(18, 3); corr != 8 {
		t.Fatalf("correlation id %d, want 8", corr)
	}
}
