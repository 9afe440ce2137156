package sim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/weirdata/weir/core/check"
)

// workloadTopic is the topic every run writes and reads.
const workloadTopic = "sim"

// workload drives the clients of a run: at a steady rate each issues a produce of unique
// values to a random partition or a fetch from its own position in a random partition, as a
// consumer does (the position advances past what it read; an out-of-range answer sends it to
// the log start), and stops at stopNs.
type workload struct {
	w       *World
	history *check.History
	r       *rand.Rand
	k       Knobs
	clients []*workloadClient
	stopNs  int64
	// intervalNs is the time between two operations of one client.
	intervalNs int64
	produced   int64
}

type workloadClient struct {
	index    int
	host     *ClientHost
	next     int64                    // values produced so far: the next one is "c<index>-<next>"
	position map[int32]check.Position // per partition, where the consumer stands
	fetching map[int32]int            // per partition, fetches in flight: a consumer has at most one
	seen     int                      // history length already folded into position
	// stepWhat and stepFn are the client's step event's name and function, built once.
	stepWhat string
	stepFn   func()
}

// workloadKeys are the record keys a workload draws from.
var workloadKeys = [...]string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"}

// value is the client's next value, "c<index>-<next>-" padded with padBytes v's: unique, and
// of a drawn size.
func (c *workloadClient) value(padBytes int) string {
	// Built in a strings.Builder: one allocation, no copy into a string at the end.
	var num [20]byte
	var b strings.Builder
	b.Grow(2*len(num) + 3 + padBytes)
	b.WriteByte('c')
	b.Write(strconv.AppendInt(num[:0], int64(c.index), 10))
	b.WriteByte('-')
	b.Write(strconv.AppendInt(num[:0], c.next, 10))
	b.WriteByte('-')
	for padBytes > 0 {
		n := min(padBytes, len(valuePad))
		b.WriteString(valuePad[:n])
		padBytes -= n
	}
	return b.String()
}

// valuePad is the padding values are cut from.
var valuePad = strings.Repeat("v", 256)

func newWorkload(w *World, history *check.History, k Knobs, clients []*ClientHost, opsPerSecond int, stopNs int64) *workload {
	wl := &workload{w: w, history: history, r: w.Rand("workload"), k: k, stopNs: stopNs}
	wl.intervalNs = int64(len(clients)) * 1_000_000_000 / int64(max(opsPerSecond, 1))
	for i, c := range clients {
		wc := &workloadClient{index: i + 1, host: c, position: map[int32]check.Position{}, fetching: map[int32]int{}}
		wc.stepWhat = fmt.Sprintf("workload c%d", wc.index)
		wc.stepFn = func() { wl.step(wc) }
		wl.clients = append(wl.clients, wc)
	}
	return wl
}

// start schedules each client's first operation at a random point of its interval.
func (wl *workload) start() {
	for _, c := range wl.clients {
		wl.w.After(wl.r.Int64N(wl.intervalNs)+1, c.stepWhat, c.stepFn)
	}
}

// step issues one operation of c and schedules the next.
func (wl *workload) step(c *workloadClient) {
	if wl.w.NowNs() >= wl.stopNs {
		return
	}
	if c.host.Pending() < wl.k.PendingPerClient {
		partition := int32(wl.r.IntN(int(wl.k.Partitions)))
		if wl.r.IntN(100) < wl.k.ProducePct {
			n := 1 + wl.r.IntN(wl.k.RecordsPerOpMax)
			records := make([]check.Record, n)
			for i := range records {
				records[i] = check.Record{
					Offset: -1,
					Key:    workloadKeys[wl.r.IntN(len(workloadKeys))],
					Value:  c.value(wl.r.IntN(wl.k.ValueBytesMax)),
				}
				c.next++
			}
			wl.produced += int64(n)
			c.host.Produce(workloadTopic, partition, records)
		} else if wl.observe(); c.fetching[partition] == 0 {
			// Like a Kafka consumer, one fetch per partition at a time, from where the last
			// one left off: the checker's poll rules (poll-skip, nonmonotonic-poll) read a
			// client's fetches of a partition as one sequence.
			c.fetching[partition]++
			pos, ok := c.position[partition]
			if !ok {
				pos = check.StartPosition(0)
			}
			c.host.FetchFrom(workloadTopic, partition, pos)
		}
	}
	jitter := wl.r.Int64N(wl.intervalNs/2+1) - wl.intervalNs/4
	wl.w.After(max(wl.intervalNs+jitter, 1), c.stepWhat, c.stepFn)
}

// observe folds the fetches the history gained since the last call into each client's
// position, as a consumer advances after a poll.
func (wl *workload) observe() {
	h := wl.history
	for _, c := range wl.clients {
		for ; c.seen < len(h.Ops); c.seen++ {
			op := h.Ops[c.seen]
			if op.Kind != check.OpFetch || op.Client != c.index {
				continue
			}
			c.fetching[op.Partition]--
			switch {
			case op.Outcome == check.OutcomeOK && op.Position != nil:
				// Past what it read, or back where a truncation it detected began (KIP-320).
				c.position[op.Partition] = *op.Position
			case op.Outcome == check.OutcomeFailed && strings.HasPrefix(op.Err, "OFFSET_OUT_OF_RANGE") && op.LogStartOffset >= 0:
				c.position[op.Partition] = check.StartPosition(op.LogStartOffset)
			}
		}
	}
}
