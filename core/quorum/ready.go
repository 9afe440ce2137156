package quorum

import "github.com/weirdata/weir/core/record"

// Ready is what one call into a Node asks of its driver. Log appends, truncations and snapshot
// chunks have already happened inline through the Log (in the page cache; an installed
// snapshot is durable, as Log.InstallSnapshot promises). The driver executes the rest in field
// order, and the order is the contract:
//
//  1. State, if set, is written durably (fsynced) before anything below. A vote grant, a
//     candidate's vote requests and a new leader's announcements depend on it.
//  2. Flush, if set, starts a flush of the log up to its current end; it may run outside the
//     loop and overlap later calls. When it completes, the driver calls Flushed. Nothing waits
//     on it here: the node sends a voter's next fetch (its acknowledgement) only once the log
//     is durable to the fetch offset, and a leader counts only its own durable offset.
//  3. Messages are sent, each on its connection in order. Losing any of them is safe.
//
// HighWatermark is the node's current high watermark: every entry below it is committed and
// final, and the application may read and apply the log up to it. NextDeadlineMs is when to
// call Tick next (on the monotonic clock; math.MaxInt64 when no timer is set); calling Tick
// earlier or later is harmless.
type Ready struct {
	State          *State
	Flush          bool
	Messages       []Message
	HighWatermark  record.Offset
	NextDeadlineMs int64
}
