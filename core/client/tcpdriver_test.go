package client_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/weirdata/weir/core/check"
	"github.com/weirdata/weir/core/client"
)

// tcpDriver runs a Client over real TCP: a sketch of what chaos/ does. One loop (the test's
// goroutine) owns the Client and calls it one event at a time; each connection has a reader
// goroutine that posts what it reads, and dials run on their own goroutines. Writes happen on
// the loop (blocking is fine for a test).
type tcpDriver struct {
	t      *testing.T
	c      *client.Client
	start  time.Time
	events chan tcpEvent
	conns  map[client.ConnID]net.Conn

	completed  []check.Op
	admin      []client.AdminResult
	deadlineNs int64
}

type tcpEventKind uint8

const (
	tcpConnected tcpEventKind = iota + 1
	tcpData
	tcpClosed
)

type tcpEvent struct {
	kind tcpEventKind
	conn client.ConnID
	nc   net.Conn
	data []byte
}

func newTCPDriver(t *testing.T, c *client.Client, start time.Time) *tcpDriver {
	d := &tcpDriver{t: t, c: c, start: start, events: make(chan tcpEvent, 256), conns: make(map[client.ConnID]net.Conn)}
	t.Cleanup(func() {
		for _, nc := range d.conns {
			nc.Close()
		}
	})
	return d
}

// nowNs is the driver's monotonic clock.
func (d *tcpDriver) nowNs() int64 { return int64(time.Since(d.start)) }

// apply executes a Ready in its field order.
func (d *tcpDriver) apply(r client.Ready) {
	for _, id := range r.Closes {
		if nc, ok := d.conns[id]; ok {
			nc.Close()
			delete(d.conns, id)
		}
	}
	for _, dial := range r.Dials {
		go func(id client.ConnID, addr string) {
			nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				d.events <- tcpEvent{kind: tcpClosed, conn: id}
				return
			}
			d.events <- tcpEvent{kind: tcpConnected, conn: id, nc: nc}
		}(dial.Conn, dial.Addr)
	}
	var lost []client.ConnID
	for _, s := range r.Sends {
		nc, ok := d.conns[s.Conn]
		if !ok {
			d.t.Fatalf("send on connection %d, which is not open", s.Conn)
		}
		nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Write(s.Data); err != nil {
			lost = append(lost, s.Conn)
		}
	}
	d.completed = append(d.completed, r.Completed...)
	d.admin = append(d.admin, r.AdminCompleted...)
	d.deadlineNs = r.NextDeadlineNs
	for _, id := range lost {
		if nc, ok := d.conns[id]; ok {
			nc.Close()
			delete(d.conns, id)
			d.apply(d.c.Closed(id, d.nowNs()))
		}
	}
}

// read posts what nc reads until it fails.
func (d *tcpDriver) read(id client.ConnID, nc net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := nc.Read(buf)
		if n > 0 {
			d.events <- tcpEvent{kind: tcpData, conn: id, data: append([]byte(nil), buf[:n]...)}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				d.t.Logf("connection %d: %v", id, err)
			}
			d.events <- tcpEvent{kind: tcpClosed, conn: id}
			return
		}
	}
}

// runUntil handles events and timers until done reports true, failing the test after timeout.
func (d *tcpDriver) runUntil(timeout time.Duration, done func() bool) {
	d.t.Helper()
	giveUp := time.NewTimer(timeout)
	defer giveUp.Stop()
	for !done() {
		var timer <-chan time.Time
		if d.deadlineNs > 0 {
			wait := time.Duration(d.deadlineNs - d.nowNs())
			timer = time.After(max(wait, 0))
		}
		select {
		case ev := <-d.events:
			switch ev.kind {
			case tcpConnected:
				d.conns[ev.conn] = ev.nc
				go d.read(ev.conn, ev.nc)
				d.apply(d.c.Connected(ev.conn, d.nowNs()))
			case tcpData:
				if _, ok := d.conns[ev.conn]; ok {
					d.apply(d.c.Received(ev.conn, ev.data, d.nowNs()))
				}
			case tcpClosed:
				if nc, ok := d.conns[ev.conn]; ok {
					nc.Close()
					delete(d.conns, ev.conn)
				}
				d.apply(d.c.Closed(ev.conn, d.nowNs()))
			}
		case <-timer:
			d.apply(d.c.Timer(d.nowNs()))
		case <-giveUp.C:
			d.t.Fatalf("not done after %v: %d operations pending", timeout, d.c.Pending())
		}
	}
}
