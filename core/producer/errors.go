package producer

import "errors"

// Errors, each wrapped with context; match with errors.Is. The first four come from
// CheckAppend, and the broker answers the batch's partition with the Kafka error named.
var (
	// ErrOutOfOrderSequence is OUT_OF_ORDER_SEQUENCE_NUMBER (45): the batch's first sequence does
	// not follow the producer's last one, or a new epoch does not start at 0.
	ErrOutOfOrderSequence = errors.New("producer: out of order sequence number")
	// ErrInvalidProducerEpoch is INVALID_PRODUCER_EPOCH (47): the batch's epoch is older than the
	// producer's (a fenced zombie). Kafka answers this since 2.7 instead of PRODUCER_FENCED.
	ErrInvalidProducerEpoch = errors.New("producer: invalid producer epoch")
	// ErrInvalidTxnState is INVALID_TXN_STATE (48): a non-transactional batch from a producer
	// with a transaction open on the partition.
	ErrInvalidTxnState = errors.New("producer: invalid transaction state")
	// ErrTooManyProducers: the partition already remembers Config.ProducersMax producers, none
	// expired, and the batch comes from a new producer id. Kafka has no such bound; the broker
	// should answer a retriable error (THROTTLING_QUOTA_EXCEEDED, 89, which clients retry until
	// delivery.timeout.ms) so the producer succeeds once older producers expire.
	ErrTooManyProducers = errors.New("producer: too many producer ids on the partition")
	// ErrCorruptSnapshot: a producer snapshot file that cannot be trusted. Loading skips it and
	// deletes it, as Kafka does, and state is rebuilt from the log.
	ErrCorruptSnapshot = errors.New("producer: corrupt snapshot")
	// ErrNoProducerIDs: the allocator's block is used up and no new block has committed yet.
	// InitProducerId should wait for the block, or answer a retriable error
	// (COORDINATOR_LOAD_IN_PROGRESS, as Kafka's broker does while it fetches a block).
	ErrNoProducerIDs = errors.New("producer: no producer ids available")
	// ErrProducerIDsExhausted: the next block would pass the int64 maximum (Kafka:
	// UNKNOWN_SERVER_ERROR "Exhausted all producerIds").
	ErrProducerIDsExhausted = errors.New("producer: producer ids exhausted")
)
