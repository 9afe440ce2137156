package metadata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// Snapshots are laid out as Kafka's KRaft snapshots (KIP-630): a file
// `<end offset, 20 digits>-<epoch, 10 digits>.checkpoint` in the log's directory, holding record
// batches whose offsets count from 0: a control batch with the SnapshotHeaderRecord, data batches
// with the records that recreate the image, and a control batch with the SnapshotFooterRecord.
// A file without its footer, with a bad CRC or with records that do not replay is not a snapshot.

// SnapshotID names a snapshot: it holds the state after every record below EndOffset, the last
// of which was written in Epoch.
type SnapshotID struct {
	EndOffset record.Offset
	Epoch     record.Epoch
}

func (id SnapshotID) String() string { return fmt.Sprintf("%d-%d", id.EndOffset, id.Epoch) }

const (
	snapshotSuffix = ".checkpoint"
	// snapshotPartSuffix marks a snapshot still being written (Kafka's .checkpoint.part).
	snapshotPartSuffix = snapshotSuffix + ".part"
	// snapshotBatchBytesTarget is where a data batch of a snapshot is cut.
	snapshotBatchBytesTarget = 512 << 10
)

// Control record types of the snapshot's control batches (Kafka's ControlRecordType).
const (
	controlLeaderChange   = 2
	controlSnapshotHeader = 3
	controlSnapshotFooter = 4
	controlKRaftVersion   = 5
	controlKRaftVoters    = 6
)

// SnapshotFileName is the file name Kafka gives snapshot id.
func SnapshotFileName(id SnapshotID) string {
	return fmt.Sprintf("%020d-%010d%s", int64(id.EndOffset), int32(id.Epoch), snapshotSuffix)
}

// ParseSnapshotFileName parses a snapshot file name; ok is false for any other name.
func ParseSnapshotFileName(name string) (SnapshotID, bool) {
	base, found := strings.CutSuffix(name, snapshotSuffix)
	if !found || len(base) != 20+1+10 || base[20] != '-' {
		return SnapshotID{}, false
	}
	for i, c := range []byte(base) {
		if i != 20 && (c < '0' || c > '9') {
			return SnapshotID{}, false
		}
	}
	end, err1 := strconv.ParseInt(base[:20], 10, 64)
	epoch, err2 := strconv.ParseInt(base[21:], 10, 32)
	if err1 != nil || err2 != nil {
		return SnapshotID{}, false
	}
	return SnapshotID{EndOffset: record.Offset(end), Epoch: record.Epoch(epoch)}, true
}

// ErrCorruptSnapshot is the root of errors for a snapshot file that cannot be loaded.
var ErrCorruptSnapshot = errors.New("metadata: corrupt snapshot")

func appendControlKey(dst []byte, controlType int16) []byte {
	dst = binary.BigEndian.AppendUint16(dst, 0) // ControlRecordType key version 0
	return binary.BigEndian.AppendUint16(dst, uint16(controlType))
}

// EncodeSnapshot returns the bytes of a snapshot file holding img at id; lastContainedLogTimeMs is
// the append time of the last record it covers (the header's LastContainedLogTimestamp).
func EncodeSnapshot(img *Image, id SnapshotID, lastContainedLogTimeMs int64) ([]byte, error) {
	var out []byte
	var offset record.Offset
	control := func(controlType int16, value []byte) error {
		key := appendControlKey(nil, controlType)
		var err error
		out, err = record.AppendBatch(out, record.BatchOptions{
			BaseOffset: offset, PartitionLeaderEpoch: id.Epoch, FirstTimestamp: lastContainedLogTimeMs,
			ProducerID: record.NoProducerID, ProducerEpoch: -1, BaseSequence: record.NoSequence, Control: true,
		}, []record.Record{{Key: key, Value: value}})
		offset++
		return err
	}
	// SnapshotHeaderRecord v0: Version int16, LastContainedLogTimestamp int64, no tags.
	header := writer{}
	header.int16(0)
	header.int64(lastContainedLogTimeMs)
	header.tagged()
	if err := control(controlSnapshotHeader, header.b); err != nil {
		return nil, fmt.Errorf("metadata: encode snapshot header: %w", err)
	}
	var batch []record.Record
	batchBytes := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var err error
		out, err = record.AppendBatch(out, record.BatchOptions{
			BaseOffset: offset, PartitionLeaderEpoch: id.Epoch, FirstTimestamp: lastContainedLogTimeMs,
			ProducerID: record.NoProducerID, ProducerEpoch: -1, BaseSequence: record.NoSequence,
		}, batch)
		offset += record.Offset(len(batch))
		batch, batchBytes = batch[:0], 0
		return err
	}
	for _, r := range img.Records() {
		value, err := EncodeRecord(r)
		if err != nil {
			return nil, fmt.Errorf("metadata: encode snapshot: %w", err)
		}
		batch = append(batch, record.Record{OffsetDelta: int32(len(batch)), Value: value})
		if batchBytes += len(value); batchBytes >= snapshotBatchBytesTarget {
			if err := flush(); err != nil {
				return nil, fmt.Errorf("metadata: encode snapshot: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return nil, fmt.Errorf("metadata: encode snapshot: %w", err)
	}
	footer := writer{}
	footer.int16(0)
	footer.tagged()
	if err := control(controlSnapshotFooter, footer.b); err != nil {
		return nil, fmt.Errorf("metadata: encode snapshot footer: %w", err)
	}
	return out, nil
}

// DecodeSnapshot checks a snapshot file's bytes and replays them into an image. It returns the
// header's LastContainedLogTimestamp. Any flaw (torn tail, bad CRC, missing header or footer,
// bytes after the footer, records that do not decode or replay) is an error wrapping
// ErrCorruptSnapshot.
func DecodeSnapshot(data []byte) (*Image, int64, error) {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrCorruptSnapshot, fmt.Sprintf(format, args...))
	}
	b := EmptyImage().NewBuilder()
	var (
		lastContainedMs int64
		sawHeader       bool
		sawFooter       bool
		nextOffset      record.Offset
	)
	it := record.NewBatchIterator(data)
	for it.Next() {
		h := it.Header()
		if sawFooter {
			return nil, 0, corrupt("batch at offset %d after the footer", h.BaseOffset)
		}
		if h.BaseOffset != nextOffset {
			return nil, 0, corrupt("batch at offset %d, expected %d", h.BaseOffset, nextOffset)
		}
		nextOffset = h.NextOffset()
		first := true
		err := record.ForEachRecord(it.Batch(), func(r *record.Record) error {
			defer func() { first = false }()
			if h.Control() {
				controlType, err := parseControlKey(r.Key)
				if err != nil {
					return err
				}
				switch {
				case !sawHeader && first && controlType == controlSnapshotHeader:
					rd := &reader{b: r.Value, what: "snapshot header"}
					if version := rd.int16(); version != 0 && rd.err == nil {
						rd.fail("version %d", version)
					}
					lastContainedMs = rd.int64()
					rd.noTags()
					if rd.err != nil {
						return rd.err
					}
					sawHeader = true
				case sawHeader && first && controlType == controlSnapshotFooter:
					sawFooter = true
				case sawHeader && (controlType == controlKRaftVersion || controlType == controlKRaftVoters || controlType == controlLeaderChange):
					// Quorum state Kafka keeps in snapshots; Weir's quorum does not read it yet.
				default:
					return fmt.Errorf("unexpected control record type %d", controlType)
				}
				return nil
			}
			if !sawHeader {
				return errors.New("data before the snapshot header")
			}
			rec, err := DecodeRecord(r.Value)
			if err != nil {
				return err
			}
			return b.Replay(rec)
		})
		if err != nil {
			return nil, 0, corrupt("batch at offset %d: %v", h.BaseOffset, err)
		}
	}
	if err := it.Err(); err != nil {
		return nil, 0, corrupt("%v", err)
	}
	if !sawHeader || !sawFooter {
		return nil, 0, corrupt("header present %t, footer present %t", sawHeader, sawFooter)
	}
	return b.Build(), lastContainedMs, nil
}

func parseControlKey(key []byte) (int16, error) {
	if len(key) < 4 {
		return 0, fmt.Errorf("control record key of %d bytes", len(key))
	}
	if version := int16(binary.BigEndian.Uint16(key)); version != 0 {
		return 0, fmt.Errorf("control record key version %d", version)
	}
	return int16(binary.BigEndian.Uint16(key[2:])), nil
}

// SnapshotWrite is a snapshot written to the page cache under a temporary name, waiting for the
// driver to make it durable off the loop (Run) and register it (QuorumLog.RecordSnapshot).
type SnapshotWrite struct {
	ID       SnapshotID
	Dir      string
	TempPath string      // <dir>/<name>.checkpoint.part, written
	Path     string      // <dir>/<name>.checkpoint
	File     diskio.File // open on TempPath: sync, then close
}

// Run makes the snapshot durable: sync and close the temporary file, rename it into place, sync
// the directory. A crash at any step leaves either no snapshot or the whole one.
func (w *SnapshotWrite) Run(fsys diskio.FS) error {
	if err := w.File.Sync(); err != nil {
		w.File.Close()
		return fmt.Errorf("metadata: sync snapshot %s: %w", w.TempPath, err)
	}
	if err := w.File.Close(); err != nil {
		return fmt.Errorf("metadata: close snapshot %s: %w", w.TempPath, err)
	}
	if err := fsys.Rename(w.TempPath, w.Path); err != nil {
		return fmt.Errorf("metadata: rename snapshot %s: %w", w.TempPath, err)
	}
	if err := diskio.SyncDir(fsys, w.Dir); err != nil {
		return fmt.Errorf("metadata: sync dir %s: %w", w.Dir, err)
	}
	return nil
}

// writeSnapshotFile writes the snapshot's bytes under the temporary name (page cache only).
func writeSnapshotFile(fsys diskio.FS, dir string, id SnapshotID, data []byte) (*SnapshotWrite, error) {
	w := &SnapshotWrite{
		ID:       id,
		Dir:      dir,
		TempPath: diskio.Join(dir, strings.TrimSuffix(SnapshotFileName(id), snapshotSuffix)+snapshotPartSuffix),
		Path:     diskio.Join(dir, SnapshotFileName(id)),
	}
	f, err := fsys.Create(w.TempPath)
	if err != nil {
		return nil, fmt.Errorf("metadata: create snapshot %s: %w", w.TempPath, err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("metadata: write snapshot %s: %w", w.TempPath, err)
	}
	w.File = f
	return w, nil
}
