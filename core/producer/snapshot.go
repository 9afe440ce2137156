package producer

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/weirdata/weir/core/record"
)

// Kafka's producer snapshot file, version 1 (ProducerStateManager.PID_SNAPSHOT_MAP_SCHEMA),
// big-endian:
//
//	version  int16   1
//	crc      uint32  CRC32C of every byte after this field
//	count    int32   number of entries
//	entries, 46 bytes each:
//	  producer_id               int64
//	  epoch                     int16
//	  last_sequence             int32  NoSequence without a batch
//	  last_offset               int64  -1 without a batch
//	  offset_delta              int32  last batch's last offset minus its first; 0 without one
//	  timestamp                 int64  the producer's last timestamp
//	  coordinator_epoch         int32
//	  current_txn_first_offset  int64  -1 without an open transaction
//
// Only the last batch of each producer is kept, as in Kafka: after a restart, duplicates of
// the four older batches are found only if replay past the snapshot brought them back.
const (
	snapshotVersion      = 1
	snapshotCRCOffset    = 2
	snapshotEntriesStart = 6 // the CRC covers from here: the count and the entries
	snapshotHeaderBytes  = 10
	snapshotEntryBytes   = 46
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendSnapshot appends the state as a snapshot file's bytes to dst, producers in id order.
func (s *State) AppendSnapshot(dst []byte) []byte {
	ids := s.sortedIDs()
	start := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, snapshotVersion)
	dst = binary.BigEndian.AppendUint32(dst, 0) // the CRC, filled in below
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(ids)))
	for _, id := range ids {
		dst = appendSnapshotEntry(dst, s.producers[id])
	}
	binary.BigEndian.PutUint32(dst[start+snapshotCRCOffset:], crc32.Checksum(dst[start+snapshotEntriesStart:], castagnoli))
	return dst
}

func appendSnapshotEntry(dst []byte, e *entry) []byte {
	lastSeq, lastOffset, offsetDelta := int32(record.NoSequence), NoOffset, int32(0)
	if e.count > 0 {
		b := e.last()
		lastSeq, lastOffset, offsetDelta = b.LastSequence, b.LastOffset, b.OffsetDelta
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.producerID))
	dst = binary.BigEndian.AppendUint16(dst, uint16(e.epoch))
	dst = binary.BigEndian.AppendUint32(dst, uint32(lastSeq))
	dst = binary.BigEndian.AppendUint64(dst, uint64(lastOffset))
	dst = binary.BigEndian.AppendUint32(dst, uint32(offsetDelta))
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.lastTimestampMs))
	dst = binary.BigEndian.AppendUint32(dst, uint32(e.coordinatorEpoch))
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.currentTxnFirstOffset))
	return dst
}

// DecodeSnapshot parses a snapshot file. Anything Kafka's reader rejects (short, unknown
// version, CRC mismatch) is ErrCorruptSnapshot, and so is what it would let through but
// cannot be right: trailing bytes, a producer id twice, a negative producer id or offset
// delta, a batch starting below offset 0.
func DecodeSnapshot(data []byte) ([]Entry, error) {
	if len(data) < snapshotHeaderBytes {
		return nil, fmt.Errorf("%d bytes, shorter than the %d-byte header: %w", len(data), snapshotHeaderBytes, ErrCorruptSnapshot)
	}
	if v := int16(binary.BigEndian.Uint16(data)); v != snapshotVersion {
		return nil, fmt.Errorf("unknown version %d: %w", v, ErrCorruptSnapshot)
	}
	count := int32(binary.BigEndian.Uint32(data[snapshotEntriesStart:]))
	if count < 0 || int64(len(data)-snapshotHeaderBytes) != int64(count)*snapshotEntryBytes {
		return nil, fmt.Errorf("%d entries do not fill %d bytes: %w", count, len(data)-snapshotHeaderBytes, ErrCorruptSnapshot)
	}
	stored := binary.BigEndian.Uint32(data[snapshotCRCOffset:])
	if computed := crc32.Checksum(data[snapshotEntriesStart:], castagnoli); stored != computed {
		return nil, fmt.Errorf("CRC %#08x, computed %#08x: %w", stored, computed, ErrCorruptSnapshot)
	}
	entries := make([]Entry, count)
	seen := make(map[int64]struct{}, count)
	for i := range entries {
		p := data[snapshotHeaderBytes+i*snapshotEntryBytes:]
		e := Entry{
			ProducerID:            int64(binary.BigEndian.Uint64(p[0:])),
			ProducerEpoch:         int16(binary.BigEndian.Uint16(p[8:])),
			CoordinatorEpoch:      int32(binary.BigEndian.Uint32(p[34:])),
			LastTimestampMs:       int64(binary.BigEndian.Uint64(p[26:])),
			CurrentTxnFirstOffset: record.Offset(binary.BigEndian.Uint64(p[38:])),
		}
		lastSeq := int32(binary.BigEndian.Uint32(p[10:]))
		lastOffset := record.Offset(binary.BigEndian.Uint64(p[14:]))
		offsetDelta := int32(binary.BigEndian.Uint32(p[22:]))
		if e.ProducerID < 0 {
			return nil, fmt.Errorf("entry %d: producer id %d: %w", i, e.ProducerID, ErrCorruptSnapshot)
		}
		if _, dup := seen[e.ProducerID]; dup {
			return nil, fmt.Errorf("entry %d: producer id %d twice: %w", i, e.ProducerID, ErrCorruptSnapshot)
		}
		seen[e.ProducerID] = struct{}{}
		if e.CurrentTxnFirstOffset < 0 { // Kafka: any negative is "no transaction"
			e.CurrentTxnFirstOffset = NoOffset
		}
		if lastOffset >= 0 { // Kafka: a negative last offset is an entry without a batch
			if offsetDelta < 0 || lastOffset < record.Offset(offsetDelta) {
				return nil, fmt.Errorf("entry %d: producer %d: last offset %d, offset delta %d: %w",
					i, e.ProducerID, lastOffset, offsetDelta, ErrCorruptSnapshot)
			}
			e.Batches = []BatchMetadata{{LastSequence: lastSeq, LastOffset: lastOffset, OffsetDelta: offsetDelta, TimestampMs: e.LastTimestampMs}}
		}
		entries[i] = e
	}
	return entries, nil
}
