package producer

import (
	"encoding/hex"
	"slices"
	"testing"
)

// FuzzDecodeSnapshot: DecodeSnapshot never panics on any bytes, and what it accepts encodes
// back (through a State, producers in id order) to bytes that decode to the same entries.
func FuzzDecodeSnapshot(f *testing.F) {
	fixture, _ := hex.DecodeString(kafkaSnapshotFixture)
	f.Add(fixture)
	f.Add(fixture[:10])
	f.Add([]byte{0, 1, 0xe3, 0x06, 0x92, 0x83, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := DecodeSnapshot(data)
		if err != nil {
			return
		}
		s, err := NewState(Config{ExpirationMs: DefaultExpirationMs, ProducersMax: len(entries) + 1}, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			s.producers[e.ProducerID] = importEntry(e)
		}
		again, err := DecodeSnapshot(s.AppendSnapshot(nil))
		if err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		slices.SortFunc(entries, func(a, b Entry) int { return int(min(max(a.ProducerID-b.ProducerID, -1), 1)) })
		assertSameEntries(t, entries, again)
	})
}
