package netio

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/wire"
)

// apiVersionsKey is ApiVersions' api key, the one request answered at an unsupported version.
const apiVersionsKey = 18

// errStopped ends a reader that was told to stop (Shutdown or Close), not one that failed.
var errStopped = errors.New("netio: reading stopped")

// slot is one request read and not yet written: its seq's place in conn.slots.
type slot struct {
	chargedBytes  int64 // what the request holds of the byte budget, until Respond
	apiKey        int16 // the request's, to check that an answer is for it
	correlationID int32
	responded     bool
	resp          Response
}

// conn is one client connection: a reader goroutine (run) and a writer goroutine (writeLoop).
type conn struct {
	s      *Server
	id     ConnID
	nc     net.Conn
	client string // remote address, for logs

	// inFlight is a semaphore of InFlightPerConnMax: the reader puts a token in before
	// reading a frame, the writer takes one out when a request's answer is written or freed.
	inFlight chan struct{}
	wake     chan struct{} // capacity 1: a response arrived or a close was asked for
	done     chan struct{} // closed by teardown
	stopRead chan struct{} // closed by stopReading or teardown

	doneOnce sync.Once
	stopOnce sync.Once

	mu sync.Mutex
	// Sequence numbers: [nextWrite, nextTake) are with the writer, [nextTake, nextSeq) wait
	// for their answer or for an earlier one; slots[seq % InFlightPerConnMax] holds each.
	nextSeq        uint64
	nextTake       uint64
	nextWrite      uint64
	slots          []slot
	closed         bool // torn down: Respond does nothing
	closeRequested bool // Close: write what is answered in order, then tear down
	readerStopped  bool // the reader stopped cleanly: tear down once everything is written
	reason         error

	// Writer-owned buffers, reused between responses.
	out     []byte
	records []byte
	spans   [][2]int
	// readBytesHeld is what the writer holds of FetchReadBytesMax, until its next write.
	readBytesHeld int64
}

func newConn(s *Server, id ConnID, nc net.Conn) *conn {
	return &conn{
		s:        s,
		id:       id,
		nc:       nc,
		client:   nc.RemoteAddr().String(),
		inFlight: make(chan struct{}, s.cfg.InFlightPerConnMax),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		stopRead: make(chan struct{}),
		slots:    make([]slot, s.cfg.InFlightPerConnMax),
	}
}

// run is the connection's reader; when reading ends it waits for the writer, releases what
// the connection holds and tells the loop.
func (c *conn) run() {
	defer c.s.wg.Done()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()

	err := c.readLoop()
	if errors.Is(err, errStopped) {
		c.mu.Lock()
		c.readerStopped = true
		c.mu.Unlock()
		c.signal()
		select {
		case <-c.done:
		case <-c.s.killed:
			c.teardown(errors.New("shutdown deadline passed"))
		}
	} else {
		c.teardown(err)
	}
	<-writerDone

	// Unanswered requests give their bytes back now; the loop may hold their frames a little
	// longer, until it handles EventClosed, uncounted.
	c.mu.Lock()
	for i := range c.slots {
		if c.slots[i].chargedBytes > 0 {
			c.s.budget.release(c.slots[i].chargedBytes)
		}
		c.slots[i] = slot{}
	}
	reason := c.reason
	c.mu.Unlock()
	c.s.logger.Debug("connection closed", "conn", uint64(c.id), "client", c.client, "reason", reason)
	c.s.forget(c)
	select {
	case c.s.events <- Event{Kind: EventClosed, Conn: c.id}:
	case <-c.s.killed:
	}
}

// teardown closes the connection once, recording why.
func (c *conn) teardown(reason error) {
	c.doneOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.reason = reason
		c.mu.Unlock()
		close(c.done)
		c.stopReading()
		c.nc.Close()
	})
}

// stopReading makes the reader stop at once, dropping a frame it is in the middle of.
func (c *conn) stopReading() {
	c.stopOnce.Do(func() {
		close(c.stopRead)
		// Wake a reader blocked in Read; the error it gets is read as errStopped.
		c.nc.SetReadDeadline(time.Now())
	})
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) requestClose() {
	c.mu.Lock()
	c.closeRequested = true
	c.mu.Unlock()
	c.stopReading()
	c.signal()
}

// readLoop reads, decodes and queues requests until the connection fails or is stopped. A
// panic (a decoder bug) is the connection's failure.
func (c *conn) readLoop() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("netio: panic reading a request: %v", r)
			c.s.logger.Error("closing connection", "conn", uint64(c.id), "client", c.client, "err", err)
		}
	}()
	cfg := &c.s.cfg
	buf := make([]byte, cfg.ReadBufferBytes)
	fr := wire.NewRequestFrameReader(cfg.RequestBytesMax)
	var p []byte // read and not yet fed
	// readInto reads what the socket has into dst (at least one byte), under the idle
	// deadline, until the connection is told to stop reading.
	readInto := func(dst []byte) (int, error) {
		for {
			c.nc.SetReadDeadline(time.Now().Add(cfg.IdleTimeout))
			// stopReading sets a past deadline after closing stopRead; checking here, after
			// setting ours, keeps ours from overriding it.
			select {
			case <-c.stopRead:
				return 0, errStopped
			default:
			}
			n, err := c.nc.Read(dst)
			if n > 0 {
				return n, nil
			}
			select {
			case <-c.stopRead:
				return 0, errStopped
			default:
			}
			var netErr net.Error
			if errors.As(err, &netErr) && netErr.Timeout() && c.awaitingAnswers() {
				continue // not idle: the client is waiting for us
			}
			if err == nil {
				err = io.ErrNoProgress
			}
			if errors.As(err, &netErr) && netErr.Timeout() {
				err = fmt.Errorf("netio: idle for %v: %w", cfg.IdleTimeout, err)
			}
			return 0, err
		}
	}
	fill := func() error {
		n, err := readInto(buf)
		p = buf[:n]
		return err
	}
	for {
		select {
		case c.inFlight <- struct{}{}:
		case <-c.stopRead:
			return errStopped
		}
		// The prefix alone first, so the frame's bytes are charged before they are read.
		for fr.PendingFrameBytes() == 0 {
			if len(p) == 0 {
				if err := fill(); err != nil {
					return c.readFailed(err)
				}
			}
			n, _, err := fr.Feed(p[:min(len(p), wire.SizePrefixBytes-fr.BufferedBytes())])
			p = p[n:]
			if err != nil {
				return c.readFailed(err)
			}
		}
		size := int64(fr.PendingFrameBytes())
		if !c.s.budget.acquire(size, c.stopRead) {
			return errStopped
		}
		var frame []byte
		if size > int64(len(buf)) {
			// A frame larger than the read buffer (a produce) is read straight into a buffer
			// of its size, already charged to the budget: one copy (the kernel's) instead of
			// two, and no growing.
			frame = make([]byte, size)
			filled := copy(frame, fr.Detach())
			k := copy(frame[filled:], p)
			filled += k
			p = p[k:]
			for filled < int(size) {
				n, err := readInto(frame[filled:])
				if err != nil {
					c.s.budget.release(size)
					return c.readFailed(err)
				}
				filled += n
			}
		}
		for frame == nil {
			if len(p) == 0 {
				if err := fill(); err != nil {
					c.s.budget.release(size)
					return c.readFailed(err)
				}
			}
			n, f, err := fr.Feed(p)
			p = p[n:]
			if err != nil {
				c.s.budget.release(size)
				return c.readFailed(err)
			}
			frame = f
		}
		req, err := wire.DecodeRequest(frame, &cfg.Versions)
		unsupported := false
		if err != nil {
			if !(errors.Is(err, wire.ErrUnsupportedVersion) && req.Header.APIKey == apiVersionsKey) {
				c.s.budget.release(size)
				return c.readFailed(err)
			}
			unsupported = true
		}
		c.mu.Lock()
		seq := c.nextSeq
		c.nextSeq++
		c.slots[seq%uint64(len(c.slots))] = slot{chargedBytes: size, apiKey: req.Header.APIKey, correlationID: req.Header.CorrelationID}
		c.mu.Unlock()
		select {
		case c.s.events <- Event{Kind: EventRequest, Conn: c.id, Seq: seq, Request: req, UnsupportedVersion: unsupported}:
		case <-c.s.killed:
			return errors.New("shutdown deadline passed")
		}
	}
}

// awaitingAnswers reports whether a request read from the connection is not yet answered.
func (c *conn) awaitingAnswers() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nextWrite < c.nextSeq
}

// readFailed logs why reading ended, unless the connection was stopped or simply closed by
// the client, and returns the reason.
func (c *conn) readFailed(err error) error {
	if errors.Is(err, errStopped) {
		return err
	}
	select {
	case <-c.stopRead:
		return errStopped
	default:
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return err
	}
	var netErr net.Error
	if !errors.As(err, &netErr) {
		// A protocol error: Kafka logs and closes.
		c.s.logger.Warn("closing connection", "conn", uint64(c.id), "client", c.client, "err", err)
	}
	return err
}

// respond stores r in its slot and wakes the writer. With next, r answers the oldest
// unanswered request whatever r.Seq says.
func (c *conn) respond(r Response, next bool) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if next {
		r.Seq = c.nextTake
		for r.Seq < c.nextSeq && c.slots[r.Seq%uint64(len(c.slots))].responded {
			r.Seq++
		}
	}
	if r.Seq < c.nextTake || r.Seq >= c.nextSeq {
		c.mu.Unlock()
		panic(fmt.Sprintf("netio: Respond for conn %d seq %d outside the requests awaiting an answer [%d, %d)", c.id, r.Seq, c.nextTake, c.nextSeq))
	}
	sl := &c.slots[r.Seq%uint64(len(c.slots))]
	if sl.responded {
		c.mu.Unlock()
		panic(fmt.Sprintf("netio: Respond twice for conn %d seq %d", c.id, r.Seq))
	}
	if sl.apiKey != r.Header.APIKey || sl.correlationID != r.Header.CorrelationID {
		c.mu.Unlock()
		panic(fmt.Sprintf("netio: Respond for conn %d seq %d carries api key %d correlation id %d; the request had %d and %d",
			c.id, r.Seq, r.Header.APIKey, r.Header.CorrelationID, sl.apiKey, sl.correlationID))
	}
	if sl.chargedBytes > 0 {
		c.s.budget.release(sl.chargedBytes)
		sl.chargedBytes = 0
	}
	sl.responded = true
	sl.resp = r
	c.mu.Unlock()
	c.signal()
}

// writeLoop writes answers in request order until the connection is torn down. A panic while
// encoding (or executing a read plan) closes this connection only.
func (c *conn) writeLoop() {
	defer c.releaseReadBytes()
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("netio: panic encoding a response: %v", r)
			c.s.logger.Error("closing connection", "conn", uint64(c.id), "client", c.client, "err", err)
			c.teardown(err)
		}
	}()
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		if err := c.writeReady(); err != nil {
			c.teardown(err)
			return
		}
		c.mu.Lock()
		finished := c.closeRequested || (c.readerStopped && c.nextWrite == c.nextSeq)
		closeRequested := c.closeRequested
		c.mu.Unlock()
		if finished {
			reason := errors.New("drained for shutdown")
			if closeRequested {
				reason = errors.New("closed by the broker")
			}
			c.teardown(reason)
			return
		}
	}
}

// writeReady encodes and writes every answer that is next in order, batching them into few
// writes, and frees their in-flight slots once written.
func (c *conn) writeReady() error {
	taken := 0
	for {
		c.mu.Lock()
		sl := &c.slots[c.nextTake%uint64(len(c.slots))]
		if c.nextTake == c.nextSeq || !sl.responded {
			c.mu.Unlock()
			break
		}
		r := sl.resp
		*sl = slot{}
		c.nextTake++
		c.mu.Unlock()
		if r.Body != nil && len(r.Reads) > 0 {
			// Never wait for the read budget while holding some of it: write first.
			if c.readBytesHeld > 0 {
				if err := c.flush(taken); err != nil {
					return err
				}
				taken = 0
			}
			need := readPlansBytes(r.Reads)
			if !c.s.readBudget.acquire(need, c.done) {
				return errors.New("netio: closed while waiting for the fetch read budget")
			}
			c.readBytesHeld = need
		}
		if r.Body != nil {
			c.encode(r)
		}
		taken++
		if len(c.out) >= c.s.cfg.IdleBufferBytesMax {
			if err := c.flush(taken); err != nil {
				return err
			}
			taken = 0
		}
	}
	return c.flush(taken)
}

// flush writes the encoded answers and frees the slots of the taken requests.
func (c *conn) flush(taken int) error {
	if len(c.out) > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
		if _, err := c.nc.Write(c.out); err != nil {
			return fmt.Errorf("netio: writing %d response bytes: %w", len(c.out), err)
		}
	}
	if cap(c.out) > c.s.cfg.IdleBufferBytesMax {
		c.s.bufs.put(c.out)
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	c.releaseReadBytes()
	c.mu.Lock()
	c.nextWrite += uint64(taken)
	c.mu.Unlock()
	for range taken {
		<-c.inFlight
	}
	return nil
}

// encode appends r to c.out, first reading its read plans into the fetch response.
func (c *conn) encode(r Response) {
	if len(r.Reads) > 0 {
		fetch, ok := r.Body.(*kmsg.FetchResponse)
		if !ok {
			panic(fmt.Sprintf("netio: read plans attached to a %T, not a fetch response", r.Body))
		}
		// Read everything first: c.records may move as it grows. Sized once from the plans,
		// so a large answer is not copied again and again by doubling.
		if need := int(readPlansBytes(r.Reads)); cap(c.records) < need {
			c.s.bufs.put(c.records)
			c.records = c.s.bufs.get(need)
		}
		c.records, c.spans = c.records[:0], c.spans[:0]
		for _, rd := range r.Reads {
			start := len(c.records)
			var err error
			c.records, err = c.s.plans.AppendPlan(c.records, rd.Plan)
			if err != nil {
				c.s.logger.Warn("serving a fetch short", "conn", uint64(c.id), "client", c.client,
					"topic", rd.Topic, "partition", rd.Partition, "err", err)
				c.s.reportCut(ReadCut{Topic: rd.Topic, Partition: rd.Partition, Offset: int64(log.CutOffset(rd.Plan, c.records[start:]))})
			}
			c.spans = append(c.spans, [2]int{start, len(c.records)})
		}
		for i, rd := range r.Reads {
			p := &fetch.Topics[rd.TopicIndex].Partitions[rd.PartitionIndex]
			p.RecordBatches = c.records[c.spans[i][0]:c.spans[i][1]:c.spans[i][1]]
		}
	}
	// The encoded answer is the record bytes plus a little per partition: grow once.
	if extra := len(c.records) + responseOverheadBytes + partitionOverheadBytes*len(r.Reads); cap(c.out)-len(c.out) < extra {
		grown := append(c.s.bufs.get(len(c.out)+extra), c.out...)
		c.s.bufs.put(c.out)
		c.out = grown
	}
	c.out = wire.AppendResponse(c.out, r.Header, r.Body)
	if cap(c.records) > c.s.cfg.IdleBufferBytesMax {
		c.s.bufs.put(c.records)
		c.records = nil
	}
}

// responseOverheadBytes and partitionOverheadBytes estimate a fetch response's bytes besides
// its records (headers, topic names, offsets, tagged fields), for sizing the output buffer
// once; an underestimate only costs one more growth.
const (
	responseOverheadBytes  = 4 << 10
	partitionOverheadBytes = 256
)

func (c *conn) releaseReadBytes() {
	if c.readBytesHeld > 0 {
		c.s.readBudget.release(c.readBytesHeld)
		c.readBytesHeld = 0
	}
}

// readPlansBytes is what executing reads may read.
func readPlansBytes(reads []PartitionRead) int64 {
	var total int64
	for _, rd := range reads {
		for _, fr := range rd.Plan.Ranges {
			total += max(fr.SizeBytes, 0)
		}
	}
	return total
}
