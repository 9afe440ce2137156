package producer

import "math"

// Sequences are int32 and wrap from math.MaxInt32 to 0, as in Kafka's DefaultRecordBatch.

// incrementSequence returns sequence+increment, wrapping past math.MaxInt32 to 0.
func incrementSequence(sequence, increment int32) int32 {
	if sequence > math.MaxInt32-increment {
		return increment - (math.MaxInt32 - sequence) - 1
	}
	return sequence + increment
}

// decrementSequence returns sequence-decrement, wrapping below 0 to math.MaxInt32.
func decrementSequence(sequence, decrement int32) int32 {
	if sequence < decrement {
		return math.MaxInt32 - (decrement - sequence) + 1
	}
	return sequence - decrement
}

// inSequence reports whether next directly follows last (ProducerAppendInfo.inSequence).
func inSequence(last, next int32) bool {
	return int64(next) == int64(last)+1 || (next == 0 && last == math.MaxInt32)
}
