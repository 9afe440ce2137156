package metadata

import (
	"fmt"

	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/record"
)

// These helpers use a QuorumLog of metadata records as core/controller's Node does, with every
// entry counted as committed (a single voter): a command's records are one batch of entries,
// one record each, and the image is the newest snapshot's then every entry after it replayed.

// commandEntries frames one command's records as one batch of entries of epoch, stamped by
// the log.
func commandEntries(records []Record, epoch record.Epoch) ([]quorum.Entry, error) {
	entries := make([]quorum.Entry, len(records))
	for i, r := range records {
		data, err := EncodeRecord(r)
		if err != nil {
			return nil, err
		}
		entries[i] = quorum.Entry{Epoch: epoch, Data: data, MoreInBatch: i < len(records)-1, TimestampMs: record.NoTimestamp}
	}
	return entries, nil
}

// leaderChangeEntry is a control batch of one entry, as a new quorum leader appends: it
// carries no metadata and replay skips it.
func leaderChangeEntry(epoch record.Epoch) []quorum.Entry {
	return []quorum.Entry{{Epoch: epoch, Control: true, Data: []byte("leader-change"), TimestampMs: record.NoTimestamp}}
}

// replayQuorumLog rebuilds the image of a log as a starting Node does (NewNode, then
// applyCommitted): the newest snapshot's image, then every entry after it to the log end,
// control entries skipped.
func replayQuorumLog(q *QuorumLog) (*Image, error) {
	img, from := EmptyImage(), q.Start().EndOffset
	if id, ok := q.LatestSnapshot(); ok {
		loaded, _, err := q.LoadSnapshot(SnapshotID{EndOffset: id.EndOffset, Epoch: id.Epoch})
		if err != nil {
			return nil, err
		}
		img, from = loaded, id.EndOffset
	} else if from > 0 {
		return nil, fmt.Errorf("the log starts at %d and holds no snapshot", from)
	}
	for from < q.EndOffset() {
		entries, err := q.Read(from, 64)
		if err != nil {
			return nil, err
		}
		if len(entries) == 0 {
			return nil, fmt.Errorf("read at %d of a log ending at %d returned nothing", from, q.EndOffset())
		}
		var records []Record
		for i, e := range entries {
			if e.Control {
				continue
			}
			r, err := DecodeRecord(e.Data)
			if err != nil {
				return nil, fmt.Errorf("entry %d: %w", from+record.Offset(i), err)
			}
			records = append(records, r)
		}
		if len(records) > 0 {
			if img, err = img.Apply(records); err != nil {
				return nil, fmt.Errorf("replay entries [%d, %d): %w", from, from+record.Offset(len(entries)), err)
			}
		}
		from += record.Offset(len(entries))
	}
	return img, nil
}
