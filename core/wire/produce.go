package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/record"
)

// ProducePartition is the codec's verdict on one partition of a produce request.
type ProducePartition struct {
	TopicIndex     int // position in ProduceRequest.Topics
	PartitionIndex int // position in that topic's Partitions
	Topic          string
	Partition      int32

	// ErrorCode is NoError when Batch may go on to the broker's own checks (topic, leader,
	// sizes, timestamps, producer state); otherwise the partition's answer.
	ErrorCode int16
	// Err says why, with Kafka's wording where Kafka has one (ProduceResponse's ErrorMessage).
	Err error

	// Batch is the partition's single batch, aliasing the request, and Summary what
	// ValidateRecords learned from it. Batch may be shorter than the partition's Records: a
	// truncated tail after the batch is dropped, as Kafka's log drops it (trimInvalidBytes).
	Batch   []byte
	Summary record.RecordsSummary
}

// ValidateProduce makes the checks on a produce request's record batches that Kafka makes
// before a batch reaches a log (ProduceRequest.validateRecords, ByteBufferLogInputStream,
// LogValidator), in Kafka's order, and appends one ProducePartition per partition, in request
// order, to results:
//
//   - the records must start with a whole batch: INVALID_RECORD ("must have at least one
//     record batch");
//   - a size below the smallest message or a magic outside 0..2: CORRUPT_MESSAGE;
//   - magic 0 or 1: INVALID_RECORD from produce v3 on (only v2 batches are allowed), and
//     UNSUPPORTED_FOR_MESSAGE_FORMAT below v3, since Weir stores only v2 (the broker refuses
//     produce v0-v2 before answering per partition in any case);
//   - zstd before produce v7: UNSUPPORTED_COMPRESSION_TYPE;
//   - a second whole batch: INVALID_RECORD ("exactly one record batch per partition");
//   - the batch itself, by record.ValidateRecords with ProducedRecords, decompressing with d
//     (whose bound stops a zip bomb): CRC and damaged bytes are CORRUPT_MESSAGE, records that
//     break the rules INVALID_RECORD.
//
// d is owned by the caller (one per driver or state machine).
func ValidateProduce(req *kmsg.ProduceRequest, d *record.Decompressor, results []ProducePartition) []ProducePartition {
	if d == nil {
		panic("wire: ValidateProduce needs a Decompressor")
	}
	for ti := range req.Topics {
		topic := &req.Topics[ti]
		for pi := range topic.Partitions {
			partition := &topic.Partitions[pi]
			result := ProducePartition{TopicIndex: ti, PartitionIndex: pi, Topic: topic.Topic, Partition: partition.Partition}
			validateProducedRecords(&result, req.Version, partition.Records, d)
			results = append(results, result)
		}
	}
	return results
}

// validateProducedRecords fills result's verdict on one partition's records.
func validateProducedRecords(result *ProducePartition, version int16, records []byte, d *record.Decompressor) {
	fail := func(code int16, err error) { result.ErrorCode, result.Err = code, err }
	size, magic, whole, err := batchExtent(records)
	if err != nil {
		fail(CorruptMessage, err)
		return
	}
	if !whole {
		fail(InvalidRecord, fmt.Errorf("Produce requests with version %d must have at least one record batch per partition", version))
		return
	}
	if magic != record.MagicV2 {
		if version < 3 {
			fail(UnsupportedForMessageFormat, fmt.Errorf("message format v%d is not supported: only record batch v2 is stored", magic))
			return
		}
		fail(InvalidRecord, fmt.Errorf("Produce requests with version %d are only allowed to contain record batches with magic version 2", version))
		return
	}
	batch := records[:size]
	// batchExtent guarantees a whole v2 batch of at least 26 bytes, so the attributes are here.
	codec := record.Codec(binary.BigEndian.Uint16(batch[attributesOffset:]) & codecMask)
	if version < 7 && codec == record.CodecZstd {
		fail(UnsupportedCompressionType, fmt.Errorf("Produce requests with version %d are not allowed to use ZStandard compression", version))
		return
	}
	if tail := records[size:]; len(tail) > 0 {
		_, _, whole, err := batchExtent(tail)
		if err != nil {
			fail(CorruptMessage, err)
			return
		}
		if whole {
			fail(InvalidRecord, fmt.Errorf("Produce requests with version %d are only allowed to contain exactly one record batch per partition", version))
			return
		}
		// A truncated tail: Kafka's batch iterator ends before it and the log trims it.
	}
	summary, err := d.ValidateRecords(batch, record.ProducedRecords)
	switch {
	case err == nil:
		result.ErrorCode, result.Batch, result.Summary = NoError, batch, summary
	case errors.Is(err, record.ErrInvalidRecord):
		fail(InvalidRecord, err)
	default: // ErrCorruptBatch, and anything else that makes the bytes unusable
		fail(CorruptMessage, err)
	}
}

// Offsets of Kafka's message and batch layouts (ByteBufferLogInputStream, DefaultRecordBatch).
const (
	batchSizeOffset      = 8  // int32 size, after the 8-byte offset; the same in every magic
	batchMagicOffset     = 16 // after size and the 4-byte CRC (v0/v1) or leader epoch (v2)
	headerBytesUpToMagic = 17
	legacyRecordBytesMin = 14 // LegacyRecord.RECORD_OVERHEAD_V0: Kafka's smallest valid size
	attributesOffset     = 21 // v2: after magic and CRC
	codecMask            = 0x07
)

// batchExtent mirrors Kafka's ByteBufferLogInputStream.nextBatch on the batch at the start of
// b: its total size and magic, whether b holds all of it (Kafka's iterator ends, without an
// error, at a batch that is not whole), or a CORRUPT_MESSAGE error for a size or magic that
// cannot start a batch.
func batchExtent(b []byte) (sizeBytes int, magic int8, whole bool, err error) {
	if len(b) < record.LogOverheadBytes {
		return 0, 0, false, nil
	}
	recordSize := int32(binary.BigEndian.Uint32(b[batchSizeOffset:]))
	if recordSize < legacyRecordBytesMin {
		return 0, 0, false, fmt.Errorf("Record size %d is less than the minimum record overhead (%d)", recordSize, legacyRecordBytesMin)
	}
	if len(b) < headerBytesUpToMagic {
		return 0, 0, false, nil
	}
	magic = int8(b[batchMagicOffset])
	if magic < 0 || magic > record.MagicV2 {
		return 0, 0, false, fmt.Errorf("Invalid magic found in record: %d", magic)
	}
	sizeBytes = int(recordSize) + record.LogOverheadBytes
	if len(b) < sizeBytes {
		return 0, magic, false, nil
	}
	return sizeBytes, magic, true, nil
}
