package producer

import (
	"fmt"
	"math"
)

// BlockSize is how many producer ids one ProducerIdsRecord hands a broker
// (ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE).
const BlockSize = 1000

// prefetchRemaining: like Kafka's broker (RPCProducerIdManager asks at 90% use), the allocator
// wants the next block while this many ids of the current one remain, so InitProducerId does
// not wait on the metadata log.
const prefetchRemaining = BlockSize / 10

// Allocator hands out producer ids for InitProducerId from blocks of the metadata log. A block
// is [first, next) where first is the metadata image's NextProducerID before the block's
// ProducerIdsRecord and next the record's NextProducerID. The broker drives it:
//
//	if a.WantsBlock() {
//		next, err := a.RequestBlock(image.NextProducerID())
//		// append metadata.NewProducerIdsRecord(brokerID, brokerEpoch, next); when durable
//		// (committed): a.BlockCommitted(first, next); if the append fails: a.BlockFailed()
//	}
//	id, err := a.Next() // ErrNoProducerIDs: wait for the block, or answer a retriable error
//
// Ids are handed out only from committed blocks, so a crash never hands one out twice. After a
// restart the broker starts with no block and asks for a new one, as Kafka's brokers do: the
// rest of the old block is skipped. Not safe for concurrent use.
type Allocator struct {
	next, end         int64 // the current block's unused ids: [next, end)
	queuedFirst       int64 // a committed block waiting behind the current one: [queuedFirst, queuedEnd)
	queuedEnd         int64
	pendingFirst      int64 // the block requested and not yet committed or failed
	pendingEnd        int64
	pending, hasQueue bool
}

// NewAllocator returns an allocator without ids; it wants a block at once.
func NewAllocator() *Allocator { return &Allocator{} }

// Remaining is how many ids the allocator can hand out without a new block.
func (a *Allocator) Remaining() int64 {
	n := a.end - a.next
	if a.hasQueue {
		n += a.queuedEnd - a.queuedFirst
	}
	return n
}

// WantsBlock reports whether the broker should request a block now: none is pending and the
// ids left are few.
func (a *Allocator) WantsBlock() bool {
	return !a.pending && !a.hasQueue && a.end-a.next <= prefetchRemaining
}

// Pending reports whether a requested block has not committed or failed yet.
func (a *Allocator) Pending() bool { return a.pending }

// RequestBlock starts a block request: it returns the NextProducerID for the broker's
// ProducerIdsRecord, given the metadata image's NextProducerID (the block's first id). One
// request at a time.
func (a *Allocator) RequestBlock(imageNextProducerID int64) (int64, error) {
	if a.pending {
		return 0, fmt.Errorf("producer: a block request for [%d, %d) is already pending", a.pendingFirst, a.pendingEnd)
	}
	if imageNextProducerID < 0 {
		return 0, fmt.Errorf("producer: image's next producer id %d is negative", imageNextProducerID)
	}
	// Kafka's ProducerIdControlManager refuses a block whose end passes the int64 maximum.
	if imageNextProducerID > math.MaxInt64-BlockSize {
		return 0, fmt.Errorf("producer: next block at %d: %w", imageNextProducerID, ErrProducerIDsExhausted)
	}
	a.pending, a.pendingFirst, a.pendingEnd = true, imageNextProducerID, imageNextProducerID+BlockSize
	return a.pendingEnd, nil
}

// BlockCommitted makes the pending block [first, next) usable: its ProducerIdsRecord is durable
// in the metadata log. first and next are what the record replayed to (the image's next id
// before and after); a block another writer's record moved is refused.
func (a *Allocator) BlockCommitted(first, next int64) error {
	if !a.pending {
		return fmt.Errorf("producer: block [%d, %d) committed but none was requested", first, next)
	}
	if first != a.pendingFirst || next != a.pendingEnd {
		a.pending = false
		return fmt.Errorf("producer: committed block [%d, %d) is not the one requested, [%d, %d)", first, next, a.pendingFirst, a.pendingEnd)
	}
	a.pending = false
	if a.next == a.end {
		a.next, a.end = first, next
		return nil
	}
	a.queuedFirst, a.queuedEnd, a.hasQueue = first, next, true
	return nil
}

// Request starts a block request whose range the controller chooses (AllocateProducerIds):
// Granted or BlockFailed ends it. One request at a time.
func (a *Allocator) Request() error {
	if a.pending {
		return fmt.Errorf("producer: a block request is already pending")
	}
	a.pending, a.pendingFirst, a.pendingEnd = true, -1, -1
	return nil
}

// Granted makes the block [first, next) the controller granted to a Request usable.
func (a *Allocator) Granted(first, next int64) error {
	if !a.pending || a.pendingFirst != -1 {
		return fmt.Errorf("producer: block [%d, %d) granted but none was requested of the controller", first, next)
	}
	if first < 0 || next <= first {
		a.pending = false
		return fmt.Errorf("producer: granted block [%d, %d) is empty or negative", first, next)
	}
	a.pendingFirst, a.pendingEnd = first, next
	return a.BlockCommitted(first, next)
}

// BlockFailed drops the pending request (the append failed or was not committed); the broker
// may request again.
func (a *Allocator) BlockFailed() { a.pending = false }

// Next hands out a producer id, or ErrNoProducerIDs when no committed block has ids left.
func (a *Allocator) Next() (int64, error) {
	if a.next == a.end && a.hasQueue {
		a.next, a.end, a.hasQueue = a.queuedFirst, a.queuedEnd, false
	}
	if a.next == a.end {
		return 0, ErrNoProducerIDs
	}
	id := a.next
	a.next++
	return id, nil
}
