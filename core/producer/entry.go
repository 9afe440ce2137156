package producer

import "github.com/weirdata/weir/core/record"

// BatchesRetained is how many of a producer's last batches are remembered for duplicate
// detection (Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN). Clients keep at most five
// requests in flight per partition for that reason.
const BatchesRetained = 5

// NoOffset marks an absent offset (no batch, no open transaction), as Kafka's -1.
const NoOffset record.Offset = -1

// NoProducerEpoch is the epoch of a producer with no state yet (RecordBatch.NO_PRODUCER_EPOCH).
const NoProducerEpoch int16 = -1

// BatchMetadata describes one appended batch of a producer (Kafka's BatchMetadata).
type BatchMetadata struct {
	LastOffset record.Offset
	// TimestampMs is the batch's max timestamp as appended.
	TimestampMs  int64
	LastSequence int32
	// OffsetDelta is the batch's LastOffsetDelta: its last offset minus its first.
	OffsetDelta int32
}

// FirstSequence is the batch's base sequence.
func (b BatchMetadata) FirstSequence() int32 { return decrementSequence(b.LastSequence, b.OffsetDelta) }

// FirstOffset is the batch's base offset.
func (b BatchMetadata) FirstOffset() record.Offset {
	return b.LastOffset - record.Offset(b.OffsetDelta)
}

// Entry is a copy of one producer's state, for inspection (DescribeProducers) and snapshots.
type Entry struct {
	ProducerID       int64
	ProducerEpoch    int16
	CoordinatorEpoch int32 // -1 until a transaction marker names one
	LastTimestampMs  int64
	// CurrentTxnFirstOffset is the first offset of the producer's open transaction, NoOffset
	// when none.
	CurrentTxnFirstOffset record.Offset
	// Batches are the last batches, oldest first, at most BatchesRetained.
	Batches []BatchMetadata
}

// entry is one producer's state. Its batches live in a fixed ring so that updating a known
// producer allocates nothing.
type entry struct {
	producerID            int64
	epoch                 int16
	coordinatorEpoch      int32
	lastTimestampMs       int64
	currentTxnFirstOffset record.Offset
	batches               [BatchesRetained]BatchMetadata
	first                 uint8 // ring index of the oldest batch
	count                 uint8
}

func newEntry(producerID int64) *entry {
	return &entry{
		producerID:            producerID,
		epoch:                 NoProducerEpoch,
		coordinatorEpoch:      -1,
		lastTimestampMs:       record.NoTimestamp,
		currentTxnFirstOffset: NoOffset,
	}
}

// batch returns the i-th retained batch, oldest first.
func (e *entry) batch(i int) *BatchMetadata {
	return &e.batches[(int(e.first)+i)%BatchesRetained]
}

// last returns the newest batch; e.count must be above 0.
func (e *entry) last() *BatchMetadata { return e.batch(int(e.count) - 1) }

// lastSequence is the newest batch's last sequence, or NoSequence with no batch.
func (e *entry) lastSequence() int32 {
	if e.count == 0 {
		return record.NoSequence
	}
	return e.last().LastSequence
}

// updateEpoch moves to epoch, forgetting the batches of another epoch
// (ProducerStateEntry.maybeUpdateProducerEpoch).
func (e *entry) updateEpoch(epoch int16) {
	if e.epoch != epoch {
		e.epoch = epoch
		e.first, e.count = 0, 0
	}
}

// addBatch records a batch, dropping the oldest beyond BatchesRetained
// (ProducerStateEntry.addBatch).
func (e *entry) addBatch(epoch int16, b BatchMetadata) {
	e.updateEpoch(epoch)
	if e.count == BatchesRetained {
		e.first = uint8((int(e.first) + 1) % BatchesRetained)
		e.count--
	}
	*e.batch(int(e.count)) = b
	e.count++
	e.lastTimestampMs = b.TimestampMs
}

// duplicateOf returns the retained batch with exactly the sequence range [first, last] in
// epoch, if any (ProducerStateEntry.findDuplicateBatch).
func (e *entry) duplicateOf(epoch int16, first, last int32) (BatchMetadata, bool) {
	if epoch != e.epoch {
		return BatchMetadata{}, false
	}
	for i := 0; i < int(e.count); i++ {
		b := e.batch(i)
		if b.LastSequence == last && b.FirstSequence() == first {
			return *b, true
		}
	}
	return BatchMetadata{}, false
}

// inTransaction reports whether the producer has a transaction open on the partition.
func (e *entry) inTransaction() bool { return e.currentTxnFirstOffset != NoOffset }

// export copies the entry.
func (e *entry) export() Entry {
	out := Entry{
		ProducerID:            e.producerID,
		ProducerEpoch:         e.epoch,
		CoordinatorEpoch:      e.coordinatorEpoch,
		LastTimestampMs:       e.lastTimestampMs,
		CurrentTxnFirstOffset: e.currentTxnFirstOffset,
	}
	if e.count > 0 {
		out.Batches = make([]BatchMetadata, e.count)
		for i := range out.Batches {
			out.Batches[i] = *e.batch(i)
		}
	}
	return out
}

// importEntry builds an entry from a copy, keeping its newest BatchesRetained batches.
func importEntry(in Entry) *entry {
	e := newEntry(in.ProducerID)
	e.epoch = in.ProducerEpoch
	e.coordinatorEpoch = in.CoordinatorEpoch
	e.currentTxnFirstOffset = in.CurrentTxnFirstOffset
	batches := in.Batches
	if len(batches) > BatchesRetained {
		batches = batches[len(batches)-BatchesRetained:]
	}
	for _, b := range batches {
		e.addBatch(in.ProducerEpoch, b)
	}
	e.lastTimestampMs = in.LastTimestampMs
	return e
}
