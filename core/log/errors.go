package log

import "errors"

var (
	// ErrOffsetOutOfRange: an offset outside [StartOffset, EndOffset] (OFFSET_OUT_OF_RANGE).
	ErrOffsetOutOfRange = errors.New("log: offset out of range")
	// ErrInvalidBatch: a batch failed header or CRC validation and was not written (CORRUPT_MESSAGE).
	ErrInvalidBatch = errors.New("log: invalid batch")
	// ErrNonMonotonicOffset: a follower append whose base offset is below the log end offset.
	ErrNonMonotonicOffset = errors.New("log: batch offset below log end offset")
	// ErrBatchTooLarge: a batch that cannot be placed in any segment (positions are int32).
	ErrBatchTooLarge = errors.New("log: batch too large")
	// ErrPoisoned: an earlier write or sync failed; the page cache is not trusted any more.
	// The node must crash and recover (Open). Wraps the original failure's message.
	ErrPoisoned = errors.New("log: poisoned by an earlier I/O failure")
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("log: closed")
	// ErrCorruptLog: on-disk bytes the log wrote earlier no longer make sense (a bad header or
	// index entry found while planning a read). Not a crash artefact: recovery handles those.
	ErrCorruptLog = errors.New("log: corrupt segment data")
	// ErrInvalidTimestamp: a ListOffsets target timestamp Weir does not know.
	ErrInvalidTimestamp = errors.New("log: invalid target timestamp")
)
