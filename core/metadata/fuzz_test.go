package metadata

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeRecord: any bytes decode to a record or an error, never a panic; a decoded record
// re-encodes, and its encoding decodes to the same bytes again (canonical form is stable).
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range sampleRecords(&testing.T{}) {
		b, err := EncodeRecord(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{1, 5, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 4, 0, 0, 0, 4})
	f.Fuzz(func(t *testing.T, value []byte) {
		r, err := DecodeRecord(value)
		if err != nil {
			return
		}
		b, err := EncodeRecord(r)
		if err != nil {
			t.Fatalf("decoded %#v does not re-encode: %v", r, err)
		}
		r2, err := DecodeRecord(b)
		if err != nil {
			t.Fatalf("re-encoding %x does not decode: %v", b, err)
		}
		b2, err := EncodeRecord(r2)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("encoding not stable: %x then %x (%v)", b, b2, err)
		}
		if _, err := DecodeForDump(value); err != nil {
			t.Fatalf("DecodeForDump fails where DecodeRecord succeeds: %v", err)
		}
		// Replaying must not panic either; errors are fine.
		_ = EmptyImage().NewBuilder().Replay(r)
	})
}

// FuzzDecodeSnapshot: any file content loads as a snapshot or fails with ErrCorruptSnapshot,
// never panics; a loaded image re-encodes to a snapshot that loads to the same image.
func FuzzDecodeSnapshot(f *testing.F) {
	img, err := EmptyImage().Apply(append(BootstrapRecords(MetadataVersionDefault), sampleTopicRecords()...))
	if err != nil {
		f.Fatal(err)
	}
	data, err := EncodeSnapshot(img, SnapshotID{EndOffset: 9, Epoch: 2}, 77)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		img, _, err := DecodeSnapshot(data)
		if err != nil {
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("error not ErrCorruptSnapshot: %v", err)
			}
			return
		}
		again, err := EncodeSnapshot(img, SnapshotID{EndOffset: 1, Epoch: 1}, 0)
		if err != nil {
			t.Fatal(err)
		}
		img2, _, err := DecodeSnapshot(again)
		if err != nil || !img2.Equal(img) {
			t.Fatalf("re-encoded snapshot does not load the same image: %v", err)
		}
	})
}

func sampleTopicRecords() []Record {
	records, err := NewTopicRecords("t", UUID{1: 1}, [][]int32{{1, 2}, {2, 1}}, map[string]string{"retention.ms": "1"})
	if err != nil {
		panic(err)
	}
	return records
}

// FuzzDecodeControlForDump: any control record key and value describe or fail, never panic.
func FuzzDecodeControlForDump(f *testing.F) {
	f.Add(appendControlKey(nil, controlLeaderChange), []byte{0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 1, 0, 2, 0, 0, 0, 1, 0, 0})
	f.Add(appendControlKey(nil, controlSnapshotHeader), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		_, _ = DecodeControlForDump(key, value)
	})
}
