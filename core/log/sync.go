package log

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// SyncRequest is what must be made durable for everything appended so far. The driver calls
// SyncData on each file and syncs each directory (in any order, on any goroutine), then reports
// with Synced. The log does not close these files before Synced is called.
type SyncRequest struct {
	Files []diskio.File // files with unsynced data: SyncData each
	Dirs  []string      // directories with new, unsynced entries: sync each
	UpTo  record.Offset // the log end offset this makes durable
}

// Run does what the request asks: SyncData each file, then sync each directory. The driver
// calls it off the loop (the flusher pool in production, the simulated disk in the simulator).
func (r SyncRequest) Run(fsys diskio.FS) error {
	for _, f := range r.Files {
		if err := f.SyncData(); err != nil {
			return err
		}
	}
	for _, dir := range r.Dirs {
		if err := diskio.SyncDir(fsys, dir); err != nil {
			return err
		}
	}
	return nil
}

type inflightSync struct {
	req     SyncRequest
	handles []*handle
	upTo    record.Offset // req.UpTo, lowered if a truncation cut below it meanwhile
}

// PendingSync returns the sync that would make the whole log durable, or false when nothing is
// unsynced, a sync is already in flight (at most one is: appends made meanwhile ride on the
// next one — group commit), or the log is poisoned or closed.
func (l *Log) PendingSync() (SyncRequest, bool) {
	if l.closed || l.poisoned != nil || l.inflight != nil {
		return SyncRequest{}, false
	}
	if len(l.dirty) == 0 && !l.dirDirty && l.durableOffset >= l.endOffset {
		return SyncRequest{}, false
	}
	req := SyncRequest{UpTo: l.endOffset}
	handles := l.dirty
	l.dirty = nil
	if len(handles) > 0 {
		req.Files = make([]diskio.File, len(handles))
	}
	for i, h := range handles {
		h.dirty = false
		h.syncsInFlight++
		req.Files[i] = h.file
	}
	if l.dirDirty {
		req.Dirs = []string{l.dir}
		l.dirDirty = false
	}
	l.inflight = &inflightSync{req: req, handles: handles, upTo: req.UpTo}
	return req, true
}

// Synced reports the completion of the request PendingSync returned. On success DurableOffset
// advances to what the request covered; on failure the log is poisoned (DESIGN §2: after a
// failed fsync the page cache is not trusted). Files released meanwhile are closed now.
func (l *Log) Synced(req SyncRequest, err error) {
	in := l.inflight
	if in == nil || in.req.UpTo != req.UpTo || len(in.req.Files) != len(req.Files) || len(in.req.Dirs) != len(req.Dirs) {
		panic(fmt.Sprintf("log: invariant: Synced for a request not in flight (up to %d)", req.UpTo))
	}
	l.inflight = nil
	for _, h := range in.handles {
		h.syncsInFlight--
		if h.syncsInFlight == 0 && h.closePending && !h.dirty {
			l.closeHandle(h)
		}
	}
	if l.closed {
		return
	}
	if err != nil {
		l.poison(fmt.Errorf("log: sync up to %d: %w", req.UpTo, err))
		return
	}
	if in.upTo > l.durableOffset {
		l.durableOffset = in.upTo
	}
}

// lowerDurable is called when a truncation removes data at and above o.
func (l *Log) lowerDurable(o record.Offset) {
	if l.durableOffset > o {
		l.durableOffset = o
	}
	if l.inflight != nil && l.inflight.upTo > o {
		l.inflight.upTo = o
	}
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
