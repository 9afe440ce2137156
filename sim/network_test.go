package sim

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"pgregory.net/rapid"
)

// endpoint records what one end receives and checks the Handler contract: nothing after
// Closed, Connected only once and before any data.
type endpoint struct {
	t         tb
	conn      *Conn
	connected bool
	got       []byte
	closed    bool
	err       error
	// net and from, when set, make Received check that the link from the peer is open:
	// nothing crosses a cut or clogged link.
	net  *Network
	from string
}

func (e *endpoint) Connected(c *Conn) {
	if e.connected || e.closed || len(e.got) > 0 {
		e.t.Errorf("Connected out of order on c%d", c.ID())
	}
	e.connected = true
}

func (e *endpoint) Received(c *Conn, data []byte) {
	if e.closed {
		e.t.Errorf("Received %d bytes after Closed on c%d", len(data), c.ID())
	}
	if len(data) == 0 {
		e.t.Errorf("Received an empty chunk on c%d", c.ID())
	}
	if e.net != nil && !e.net.linkOpen(e.from, c.Host()) {
		e.t.Errorf("%d bytes crossed the cut or clogged link %s->%s", len(data), e.from, c.Host())
	}
	e.got = append(e.got, data...)
}

func (e *endpoint) Closed(c *Conn, err error) {
	if e.closed {
		e.t.Errorf("Closed twice on c%d", c.ID())
	}
	e.closed, e.err = true, err
}

// tb is what the network tests need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// pair is a network with a server listening on "server:1" and one connected client.
type pair struct {
	w              *World
	net            *Network
	client, server *endpoint
}

func newPair(t tb, seed uint64, cfg NetworkConfig) *pair {
	t.Helper()
	w := NewWorld(seed)
	p := &pair{w: w, net: NewNetwork(w, cfg)}
	p.client = &endpoint{t: t, net: p.net, from: "server"}
	if err := p.net.Listen("server:1", func(c *Conn) Handler {
		if p.server != nil {
			t.Fatal("a second connection was accepted")
		}
		p.server = &endpoint{t: t, conn: c, net: p.net, from: "client"}
		return p.server
	}); err != nil {
		t.Fatal(err)
	}
	p.client.conn = p.net.Dial("client", "server:1", p.client)
	if !w.RunUntilTrue(func() bool { return p.client.connected }, w.NowNs()+secondNs) || p.server == nil {
		t.Fatal("dial did not connect")
	}
	return p
}

// quiet is a config with no stall resets within a test's run.
func quiet() NetworkConfig {
	cfg := DefaultNetworkConfig()
	cfg.StallResetNsMin, cfg.StallResetNsMax = 3600*secondNs, 3600*secondNs
	return cfg
}

// TestNetworkStreams (property): under random latencies, jitter, splits, cuts and clogs, each
// direction delivers exactly the bytes sent, in order, once — and after a reset, a prefix.
func TestNetworkStreams(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		cfg := quiet()
		cfg.LatencyNsMin = rapid.Int64Range(0, msNs).Draw(rt, "latencyMin")
		cfg.LatencyNsMax = cfg.LatencyNsMin + rapid.Int64Range(0, 2*msNs).Draw(rt, "latencySpread")
		cfg.JitterNsMax = rapid.Int64Range(0, 2*msNs).Draw(rt, "jitter")
		cfg.SplitPerMillion = rapid.SampledFrom([]int{0, 100_000, 500_000, 1_000_000}).Draw(rt, "split")
		p := newPair(rt, rapid.Uint64().Draw(rt, "seed"), cfg)
		// The schedule comes from a PRNG seeded by rapid: rapid's draws favour small values,
		// and a schedule needs many sends of varied sizes to mean anything.
		r := rand.New(rand.NewPCG(rapid.Uint64().Draw(rt, "schedule"), 0))
		resetAt := rapid.IntRange(-1, 79).Draw(rt, "resetAt") // -1: no reset
		payload := func() []byte {
			b := make([]byte, 1+r.IntN(2000))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			return b
		}
		var toServer, toClient []byte
		reset := false
		for step := range 80 {
			if step == resetAt {
				p.net.Reset(p.client.conn)
				reset = true
			}
			switch r.IntN(8) {
			case 0, 1:
				data := payload()
				err := p.client.conn.Send(data)
				if reset != (err != nil) {
					rt.Fatalf("send after reset %v: %v", reset, err)
				}
				if err == nil {
					toServer = append(toServer, data...)
				}
			case 2, 3:
				data := payload()
				if err := p.server.conn.Send(data); err == nil {
					toClient = append(toClient, data...)
				}
			case 4:
				p.w.RunFor(r.Int64N(3 * msNs))
			case 5:
				if r.IntN(2) == 0 {
					p.net.Cut([]string{"client"}, []string{"server"})
				} else {
					p.net.Cut([]string{"server"}, []string{"client"})
				}
			case 6:
				p.net.HealAll()
			case 7:
				host := []string{"client", "server"}[r.IntN(2)]
				if p.net.Clogged(host) {
					p.net.Unclog(host)
				} else {
					p.net.Clog(host)
				}
			}
		}
		p.net.HealAll()
		p.net.Unclog("client")
		p.net.Unclog("server")
		p.w.RunFor(secondNs)
		check := func(name string, got, sent []byte) {
			if reset {
				if !bytes.HasPrefix(sent, got) {
					rt.Fatalf("%s: received %d bytes that are not a prefix of the %d sent", name, len(got), len(sent))
				}
				return
			}
			if !bytes.Equal(got, sent) {
				rt.Fatalf("%s: received %d bytes, sent %d (or not in order)", name, len(got), len(sent))
			}
		}
		check("client->server", p.server.got, toServer)
		check("server->client", p.client.got, toClient)
		if reset && !(errors.Is(p.client.err, ErrReset) && errors.Is(p.server.err, ErrReset)) {
			rt.Fatalf("after a reset: client %v, server %v", p.client.err, p.server.err)
		}
		if !reset && (p.client.closed || p.server.closed) {
			rt.Fatalf("closed without a reset: client %v, server %v", p.client.err, p.server.err)
		}
		s := p.net.Stats()
		if !reset && (s.BytesDelivered != int64(len(toServer)+len(toClient)) || s.BytesDropped != 0) {
			rt.Fatalf("stats %+v for %d bytes sent", s, len(toServer)+len(toClient))
		}
	})
}

// TestNetworkResetDropsInFlight: bytes sent and not yet delivered when the connection resets
// are lost; both ends get ErrReset; sends fail afterwards.
func TestNetworkResetDropsInFlight(t *testing.T) {
	cfg := quiet()
	cfg.LatencyNsMin, cfg.LatencyNsMax, cfg.JitterNsMax, cfg.SplitPerMillion = msNs, msNs, 0, 0
	p := newPair(t, 1, cfg)
	p.client.conn.Send([]byte("delivered"))
	p.w.RunFor(2 * msNs)
	p.client.conn.Send([]byte("in flight"))
	p.server.conn.Send([]byte("also in flight"))
	p.w.RunFor(msNs / 2)
	p.net.Reset(p.client.conn)
	p.w.RunFor(10 * msNs)
	if string(p.server.got) != "delivered" || len(p.client.got) != 0 {
		t.Fatalf("server got %q, client got %q", p.server.got, p.client.got)
	}
	if !errors.Is(p.client.err, ErrReset) || !errors.Is(p.server.err, ErrReset) {
		t.Fatalf("closed with %v and %v", p.client.err, p.server.err)
	}
	if err := p.client.conn.Send([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after reset: %v", err)
	}
	if s := p.net.Stats(); s.Resets != 1 || s.BytesDropped != int64(len("in flight")+len("also in flight")) || len(p.net.OpenConns()) != 0 {
		t.Fatalf("stats %+v, open %v", s, p.net.OpenConns())
	}

	// An owner that closes before its reset is reported gets no callback; Abort tells only
	// the peer.
	q := newPair(t, 2, cfg)
	q.net.Reset(q.client.conn)
	q.client.conn.Close()
	q.w.RunFor(msNs)
	if q.client.closed || !errors.Is(q.server.err, ErrReset) {
		t.Fatalf("client closed %v, server %v", q.client.closed, q.server.err)
	}
	r := newPair(t, 3, cfg)
	r.server.conn.Abort()
	r.w.RunFor(msNs)
	if r.server.closed || !errors.Is(r.client.err, ErrReset) || r.net.Stats().Aborts != 1 {
		t.Fatalf("server closed %v, client %v, stats %+v", r.server.closed, r.client.err, r.net.Stats())
	}
}

// TestNetworkPartitionHoldsThenResets: bytes on a cut link are held and delivered in order
// when the cut heals; a cut that outlasts the retransmission timeout resets the connection.
func TestNetworkPartitionHoldsThenResets(t *testing.T) {
	cfg := DefaultNetworkConfig()
	cfg.StallResetNsMin, cfg.StallResetNsMax = 5*secondNs, 5*secondNs
	p := newPair(t, 2, cfg)
	p.net.Partition([]string{"client"}, []string{"server"})
	p.client.conn.Send([]byte("held "))
	p.client.conn.Send([]byte("in order"))
	p.w.RunFor(4 * secondNs)
	if len(p.server.got) != 0 {
		t.Fatalf("%d bytes crossed a cut link", len(p.server.got))
	}
	p.net.HealAll()
	p.w.RunFor(10 * msNs)
	if string(p.server.got) != "held in order" || p.server.closed {
		t.Fatalf("after healing: %q, closed %v", p.server.got, p.server.closed)
	}

	// One way only: server→client still flows while client→server is cut.
	p.net.Cut([]string{"client"}, []string{"server"})
	p.server.conn.Send([]byte("reply"))
	p.client.conn.Send([]byte("lost"))
	p.w.RunFor(10 * msNs)
	if string(p.client.got) != "reply" {
		t.Fatalf("the open direction delivered %q", p.client.got)
	}
	p.w.RunFor(6 * secondNs)
	if !errors.Is(p.client.err, ErrTimedOut) || !errors.Is(p.server.err, ErrTimedOut) {
		t.Fatalf("after the timeout: client %v, server %v", p.client.err, p.server.err)
	}
	// Both directions time out at 5 s here: the held "lost" and the unacknowledged "reply".
	if s := p.net.Stats(); s.StallResets+s.UnackedResets != 1 || s.Stalls != 2 || s.BytesDropped != int64(len("lost")) {
		t.Fatalf("stats %+v", s)
	}
}

// TestNetworkOneWayCutLosesAcknowledgements: with client→server cut, the server's bytes reach
// the client, but their acknowledgements do not come back: the connection resets at the
// retransmission timeout although the client never sent anything, unless the cut heals first.
func TestNetworkOneWayCutLosesAcknowledgements(t *testing.T) {
	cfg := DefaultNetworkConfig()
	cfg.StallResetNsMin, cfg.StallResetNsMax = 5*secondNs, 5*secondNs
	p := newPair(t, 2, cfg)
	p.net.Cut([]string{"client"}, []string{"server"})
	p.server.conn.Send([]byte("reply"))
	p.w.RunFor(4 * secondNs)
	if string(p.client.got) != "reply" || p.client.err != nil || p.server.err != nil {
		t.Fatalf("before the timeout: client got %q (%v), server %v", p.client.got, p.client.err, p.server.err)
	}
	p.w.RunFor(2 * secondNs)
	if !errors.Is(p.client.err, ErrTimedOut) || !errors.Is(p.server.err, ErrTimedOut) {
		t.Fatalf("after the timeout: client %v, server %v", p.client.err, p.server.err)
	}
	if s := p.net.Stats(); s.UnackedResets != 1 || s.StallResets != 0 || s.Stalls != 0 {
		t.Fatalf("stats %+v", s)
	}

	// Healed in time, the connection lives.
	q := newPair(t, 3, cfg)
	q.net.Cut([]string{"client"}, []string{"server"})
	q.server.conn.Send([]byte("reply"))
	q.w.RunFor(4 * secondNs)
	q.net.HealAll()
	q.w.RunFor(10 * secondNs)
	if q.client.err != nil || q.server.err != nil || q.net.Stats().UnackedResets != 0 {
		t.Fatalf("after healing in time: client %v, server %v, stats %+v", q.client.err, q.server.err, q.net.Stats())
	}
}

// TestNetworkClog: a clogged host's links hold bytes until it is unclogged.
func TestNetworkClog(t *testing.T) {
	p := newPair(t, 3, quiet())
	p.net.Clog("server")
	p.client.conn.Send([]byte("to server"))
	p.server.conn.Send([]byte("to client"))
	p.w.RunFor(secondNs)
	if len(p.server.got)+len(p.client.got) != 0 {
		t.Fatal("bytes crossed a clogged host's links")
	}
	p.net.Unclog("server")
	p.w.RunFor(10 * msNs)
	if string(p.server.got) != "to server" || string(p.client.got) != "to client" {
		t.Fatalf("after unclogging: %q, %q", p.server.got, p.client.got)
	}
}

// TestNetworkCloseAndDial: a close delivers what was sent, then Closed(nil); the closer gets
// no callback and the peer's later bytes are dropped. Dials to nothing are refused; dials
// across a cut time out.
func TestNetworkCloseAndDial(t *testing.T) {
	p := newPair(t, 4, quiet())
	p.client.conn.Send([]byte("last words"))
	p.client.conn.Close()
	p.server.conn.Send([]byte("unheard"))
	p.w.RunFor(10 * msNs)
	if string(p.server.got) != "last words" || !p.server.closed || p.server.err != nil || p.client.closed || len(p.client.got) != 0 {
		t.Fatalf("server got %q closed %v (%v); client closed %v got %q", p.server.got, p.server.closed, p.server.err, p.client.closed, p.client.got)
	}
	if len(p.net.OpenConns()) != 0 {
		t.Fatalf("connections still open: %v", p.net.OpenConns())
	}

	refused := &endpoint{t: t}
	p.net.Dial("client", "nowhere:1", refused)
	p.w.RunFor(10 * msNs)
	if !errors.Is(refused.err, ErrRefused) {
		t.Fatalf("dial to nothing: %v", refused.err)
	}
	p.net.Cut([]string{"server"}, []string{"client"})
	timedOut := &endpoint{t: t}
	p.net.Dial("client", "server:1", timedOut)
	p.w.RunFor(DefaultNetworkConfig().ConnectTimeoutNs - msNs)
	if timedOut.closed {
		t.Fatal("dial across a cut failed before the connect timeout")
	}
	p.w.RunFor(2 * msNs)
	if !errors.Is(timedOut.err, ErrDialTimeout) {
		t.Fatalf("dial across a cut: %v", timedOut.err)
	}
	if s := p.net.Stats(); s.Dials != 3 || s.DialsRefused != 1 || s.DialTimeouts != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestNetworkSendBufferBound: a direction holds at most InFlightBytesMax.
func TestNetworkSendBufferBound(t *testing.T) {
	cfg := quiet()
	cfg.InFlightBytesMax = 100
	p := newPair(t, 5, cfg)
	p.net.Cut([]string{"client"}, []string{"server"})
	if err := p.client.conn.Send(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if err := p.client.conn.Send([]byte{1}); !errors.Is(err, ErrSendBufferFull) {
		t.Fatalf("send past the bound: %v", err)
	}
}
