package netio

import (
	"testing"
	"time"
)

func TestByteBudgetWaits(t *testing.T) {
	b := newByteBudget(100)
	never := make(chan struct{})
	if !b.acquire(60, never) || !b.acquire(40, never) {
		t.Fatalf("charges within the budget waited")
	}
	got := make(chan bool, 1)
	go func() { got <- b.acquire(10, never) }()
	select {
	case <-got:
		t.Fatalf("a charge over the budget did not wait")
	case <-time.After(50 * time.Millisecond):
	}
	b.release(40)
	select {
	case ok := <-got:
		if !ok {
			t.Fatalf("acquire failed")
		}
	case <-time.After(testTimeout):
		t.Fatalf("a release did not wake the waiter")
	}
	if b.usedBytes() != 70 {
		t.Fatalf("used %d bytes, want 70", b.usedBytes())
	}

	// A waiter gives up when its done channel closes.
	done := make(chan struct{})
	go func() { got <- b.acquire(50, done) }()
	close(done)
	if ok := <-got; ok {
		t.Fatalf("acquire succeeded over the budget")
	}
	b.release(70)

	// A charge larger than the whole budget passes when nothing else is charged.
	if !b.acquire(1000, never) || b.usedBytes() != 1000 {
		t.Fatalf("an oversized charge on an empty budget did not pass")
	}
	b.release(1000)
}

func TestByteBudgetOverRelease(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatalf("releasing more than charged did not panic")
		}
	}()
	newByteBudget(10).release(1)
}
