package log

import (
	"fmt"

	"github.com/weirdata/weir/diskio"
)

// handle is an open file with the bookkeeping syncs need: a File handed to the driver in a
// SyncRequest must stay open until Synced, and a file with unsynced data must stay open until
// a sync took it (fdatasync needs the descriptor).
type handle struct {
	file          diskio.File
	path          string
	dirty         bool // written since it was last handed out for a sync
	syncsInFlight int
	closePending  bool // closing was asked for while dirty or in a sync
	closed        bool
}

// markDirty records unsynced data in h.
func (l *Log) markDirty(h *handle) {
	if h.closed || h.closePending {
		panic(fmt.Sprintf("log: invariant: write to released file %s", h.path))
	}
	if !h.dirty {
		h.dirty = true
		l.dirty = append(l.dirty, h)
	}
}

// release closes h now, or once its sync finishes. discardDirty drops unsynced data from the
// sync set (the file is being deleted, so syncing it is pointless).
func (l *Log) release(h *handle, discardDirty bool) {
	if h == nil || h.closed || h.closePending {
		return
	}
	if h.dirty && discardDirty {
		h.dirty = false
		for i, d := range l.dirty {
			if d == h {
				l.dirty = append(l.dirty[:i], l.dirty[i+1:]...)
				break
			}
		}
	}
	if h.dirty || h.syncsInFlight > 0 {
		h.closePending = true
		return
	}
	l.closeHandle(h)
}

func (l *Log) closeHandle(h *handle) {
	h.closed = true
	h.closePending = false
	if err := h.file.Close(); err != nil {
		l.poison(fmt.Errorf("log: close %s: %w", h.path, err))
	}
}

func (l *Log) openHandle(path string) (*handle, error) {
	f, err := l.fs.OpenReadWrite(path)
	if err != nil {
		return nil, fmt.Errorf("log: open %s: %w", path, err)
	}
	return &handle{file: f, path: path}, nil
}

func (l *Log) createHandle(path string) (*handle, error) {
	f, err := l.fs.Create(path)
	if err != nil {
		return nil, fmt.Errorf("log: create %s: %w", path, err)
	}
	return &handle{file: f, path: path}, nil
}
