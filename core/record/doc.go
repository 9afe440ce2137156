// Package record reads and writes Kafka record batches, magic v2, the unit Weir stores byte for
// byte.
//
//   - batch.go: the header. ParseHeader and Validate (lengths, header sense, CRC32C) allocate
//     nothing; SetBaseOffset, SetPartitionLeaderEpoch, SetLogAppendTime and SetMaxTimestamp are
//     the in-place rewrites the broker makes on append.
//   - iterator.go: NextBatch and BatchIterator walk concatenated batches (a segment chunk, a
//     fetch answer), stopping at a truncated tail (ErrShortBatch) or a bad batch.
//   - record.go: one record's encoding (Kafka's DefaultRecord: zigzag varint lengths).
//   - build.go: AppendBatch encodes records as a batch.
//   - iterate.go: ForEachRecord decodes a batch's records.
//   - validate_records.go: ValidateRecords, the deep check of a produced or stored batch.
//   - compress.go, decompress.go, xerial.go: gzip, snappy (Java's xerial framing, and raw
//     blocks on read), lz4 frames and zstd. A Compressor and a Decompressor hold reusable
//     codec state, owned by their caller (core keeps no shared state); a Decompressor bounds
//     the decompressed size so a zip bomb is a corrupt batch.
//
// Errors: ErrShortBatch (not all bytes yet), ErrCorruptBatch (damaged bytes: Kafka's
// CORRUPT_MESSAGE, which clients retry), ErrInvalidRecord (a batch whose CRC holds but that
// breaks the format or Kafka's append rules: INVALID_RECORD, not retried), ErrUnsupportedMagic
// (message format v0/v1). Any of them means the batch is unusable.
package record
