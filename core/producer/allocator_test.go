package producer

import (
	"errors"
	"math"
	"testing"
)

func TestAllocator(t *testing.T) {
	a := NewAllocator()
	if !a.WantsBlock() {
		t.Fatal("a new allocator does not want a block")
	}
	if _, err := a.Next(); !errors.Is(err, ErrNoProducerIDs) {
		t.Fatalf("id without a block: %v", err)
	}
	next, err := a.RequestBlock(0)
	if err != nil || next != BlockSize {
		t.Fatalf("request: %d %v", next, err)
	}
	if a.WantsBlock() || !a.Pending() {
		t.Fatal("wants a second block while one is pending")
	}
	if _, err := a.RequestBlock(0); err == nil {
		t.Fatal("two pending requests")
	}
	// Not usable before it commits.
	if _, err := a.Next(); !errors.Is(err, ErrNoProducerIDs) {
		t.Fatalf("id from an uncommitted block: %v", err)
	}
	if err := a.BlockCommitted(0, BlockSize); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for i := 0; i < BlockSize-prefetchRemaining; i++ {
		id, err := a.Next()
		if err != nil || id != int64(i) {
			t.Fatalf("id %d: %d %v", i, id, err)
		}
		seen[id] = true
	}
	if !a.WantsBlock() {
		t.Fatal("no prefetch at 90% use")
	}
	// Another broker took [1000, 2000): the image's next id is 2000.
	next, err = a.RequestBlock(2 * BlockSize)
	if err != nil || next != 3*BlockSize {
		t.Fatalf("second request: %d %v", next, err)
	}
	if err := a.BlockCommitted(2*BlockSize, 3*BlockSize); err != nil {
		t.Fatal(err)
	}
	if a.Remaining() != prefetchRemaining+BlockSize {
		t.Fatalf("remaining %d", a.Remaining())
	}
	for i := 0; i < prefetchRemaining+BlockSize; i++ {
		id, err := a.Next()
		if err != nil || seen[id] || id >= 3*BlockSize || (id >= BlockSize && id < 2*BlockSize) {
			t.Fatalf("id %d: %v (seen %v)", id, err, seen[id])
		}
		seen[id] = true
	}
	if _, err := a.Next(); !errors.Is(err, ErrNoProducerIDs) {
		t.Fatalf("past the blocks: %v", err)
	}
	// A failed append: request again.
	if _, err := a.RequestBlock(3 * BlockSize); err != nil {
		t.Fatal(err)
	}
	a.BlockFailed()
	if !a.WantsBlock() {
		t.Fatal("no request after a failure")
	}
	// A commit that is not the request.
	if _, err := a.RequestBlock(3 * BlockSize); err != nil {
		t.Fatal(err)
	}
	if err := a.BlockCommitted(4*BlockSize, 5*BlockSize); err == nil {
		t.Fatal("a foreign block accepted")
	}
	if err := a.BlockCommitted(0, BlockSize); err == nil {
		t.Fatal("a commit without a request accepted")
	}
	if _, err := a.RequestBlock(math.MaxInt64 - BlockSize + 1); !errors.Is(err, ErrProducerIDsExhausted) {
		t.Fatalf("past int64: %v", err)
	}
	if _, err := a.RequestBlock(-1); err == nil {
		t.Fatal("negative next id accepted")
	}
}

func TestAllocatorGrantedBlock(t *testing.T) {
	a := NewAllocator()
	if _, err := a.Next(); err == nil {
		t.Fatal("ids before any block")
	}
	if err := a.Granted(0, 1000); err == nil {
		t.Fatal("a grant without a request was taken")
	}
	if err := a.Request(); err != nil {
		t.Fatal(err)
	}
	if err := a.Request(); err == nil {
		t.Fatal("two requests at once")
	}
	if err := a.Granted(5000, 6000); err != nil {
		t.Fatal(err)
	}
	id, err := a.Next()
	if err != nil || id != 5000 {
		t.Fatalf("first id %d, %v; want 5000", id, err)
	}
	if a.Pending() {
		t.Fatal("still pending after the grant")
	}
	if err := a.Request(); err != nil {
		t.Fatal(err)
	}
	if err := a.Granted(7, 7); err == nil || a.Pending() {
		t.Fatal("an empty grant was taken, or left the request pending")
	}
}
