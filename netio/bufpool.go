package netio

import (
	"math/bits"
	"sync"
)

// bufPool recycles the large buffers connections use for fetch answers (read-plan bytes and
// encoded responses), by power-of-two size class from 1 MiB to 128 MiB: a large answer then
// reuses memory instead of allocating, and zeroing, megabytes per fetch. sync.Pool lets the
// GC reclaim buffers that sit unused, so memory follows load. Safe for concurrent use.
type bufPool struct {
	classes [bufClassCount]sync.Pool
}

const (
	bufClassMinShift = 20 // the smallest class: 1 MiB
	bufClassCount    = 8  // up to 128 MiB, past socket.request.max.bytes' default
)

// get returns an empty buffer with capacity at least n.
func (p *bufPool) get(n int) []byte {
	class := bufClass(n)
	if class < 0 {
		return make([]byte, 0, n)
	}
	if b, ok := p.classes[class].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 1<<(bufClassMinShift+class))
}

// put takes back a buffer get returned (or any other: one whose capacity is not a class size
// is left to the GC). The caller must not use b afterwards.
func (p *bufPool) put(b []byte) {
	c := cap(b)
	class := bufClass(c)
	if class < 0 || c != 1<<(bufClassMinShift+class) {
		return
	}
	p.classes[class].Put(&b)
}

// bufClass is the class holding n bytes, -1 for sizes below the smallest class (not pooled:
// small buffers stay with their connection) or above the largest.
func bufClass(n int) int {
	if n <= 1<<(bufClassMinShift-1) {
		return -1
	}
	class := max(bits.Len(uint(n-1))-bufClassMinShift, 0)
	if class >= bufClassCount {
		return -1
	}
	return class
}
