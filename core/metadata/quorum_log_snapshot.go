package metadata

import (
	"fmt"
	"slices"

	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// PrepareSnapshot encodes img, the image after every committed entry below endOffset, as the
// snapshot ending there and writes it under its temporary name, in the page cache only. The
// driver makes it durable off the loop (SnapshotWrite.Run); then RecordSnapshot registers it.
// endOffset must lie in [log start, log end].
func (q *QuorumLog) PrepareSnapshot(img *Image, endOffset record.Offset, lastContainedLogTimeMs int64) (*SnapshotWrite, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	if endOffset <= 0 || endOffset < q.start.EndOffset || endOffset > q.log.EndOffset() {
		return nil, fmt.Errorf("metadata: snapshot at %d outside the quorum log [%d, %d]", endOffset, q.start.EndOffset, q.log.EndOffset())
	}
	epoch := q.start.Epoch
	if endOffset > q.start.EndOffset {
		var ok bool
		if epoch, ok = q.log.EpochForOffset(endOffset - 1); !ok {
			panic(fmt.Sprintf("metadata: invariant: no epoch for entry %d of the quorum log", endOffset-1))
		}
	}
	id := SnapshotID{EndOffset: endOffset, Epoch: epoch}
	data, err := EncodeSnapshot(img, id, lastContainedLogTimeMs)
	if err != nil {
		return nil, fmt.Errorf("metadata: encode snapshot %s: %w", id, err)
	}
	return writeSnapshotFile(q.fsys, q.dir, id, data)
}

// LoadSnapshot reads and decodes the complete snapshot id: the image it holds and its
// LastContainedLogTimestamp.
func (q *QuorumLog) LoadSnapshot(id SnapshotID) (*Image, int64, error) {
	if !slices.Contains(q.snapshots, id) {
		return nil, 0, fmt.Errorf("metadata: load snapshot %s: the quorum log holds no such snapshot", id)
	}
	path := diskio.Join(q.dir, SnapshotFileName(id))
	data, err := diskio.ReadFile(q.fsys, path)
	if err != nil {
		return nil, 0, fmt.Errorf("metadata: read snapshot %s: %w", path, err)
	}
	img, lastMs, err := DecodeSnapshot(data)
	if err != nil {
		return nil, 0, fmt.Errorf("metadata: snapshot %s: %w", path, err)
	}
	return img, lastMs, nil
}
