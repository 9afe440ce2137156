package netio

import (
	"fmt"
	"sync"
)

// byteBudget is the QueuedBytesMax budget shared by all connections. A waiter blocks until its
// charge fits, or until nothing is charged (so a frame above the whole budget passes alone),
// or until its done channel closes. Waiters are not served in order: a large frame can wait
// while small ones pass; it gets through once the budget drains.
type byteBudget struct {
	mu       sync.Mutex
	usedMax  int64
	used     int64
	changed  chan struct{} // closed and replaced on every release while someone waits
	waitings int
}

func newByteBudget(usedMax int64) *byteBudget {
	return &byteBudget{usedMax: usedMax, changed: make(chan struct{})}
}

// acquire charges n bytes, waiting for room; false if done closed first.
func (b *byteBudget) acquire(n int64, done <-chan struct{}) bool {
	b.mu.Lock()
	for b.used > 0 && b.used+n > b.usedMax {
		ch := b.changed
		b.waitings++
		b.mu.Unlock()
		select {
		case <-ch:
		case <-done:
			b.mu.Lock()
			b.waitings--
			b.mu.Unlock()
			return false
		}
		b.mu.Lock()
		b.waitings--
	}
	b.used += n
	b.mu.Unlock()
	return true
}

func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.used {
		panic(fmt.Sprintf("netio: byte budget released %d bytes with only %d charged", n, b.used))
	}
	b.used -= n
	if b.waitings > 0 {
		close(b.changed)
		b.changed = make(chan struct{})
	}
}

// usedBytes is what is charged now.
func (b *byteBudget) usedBytes() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
