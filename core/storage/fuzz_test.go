package storage

import "testing"

// The decoders read bytes from disk: bad input is an error, never a panic, and whatever
// decodes encodes back to something that decodes the same.

func FuzzDecodeOffsetCheckpoint(f *testing.F) {
	f.Add([]byte("0\n2\na 0 1\nb-c 3 -4\n"))
	f.Add([]byte("0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := DecodeOffsetCheckpoint("f", data)
		if err != nil {
			return
		}
		again, err := DecodeOffsetCheckpoint("f", EncodeOffsetCheckpoint(entries))
		if err != nil || len(again) != len(entries) {
			t.Fatalf("re-decode: %v %v", again, err)
		}
	})
}

func FuzzDecodeMetaProperties(f *testing.F) {
	f.Add([]byte("#\nversion=1\ncluster.id=c\nnode.id=1\ndirectory.id=J8E2cxmpTvGXaDTs5zt9aQ\n"))
	f.Add([]byte("broker.id=2\nversion=0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeMetaProperties("f", data)
		if err != nil {
			return
		}
		enc, err := EncodeMetaProperties(m, 0)
		if err != nil {
			t.Fatalf("encode %+v: %v", m, err)
		}
		again, err := DecodeMetaProperties("f", enc)
		if err != nil || again != m {
			t.Fatalf("round trip %+v → %q → %+v, %v", m, enc, again, err)
		}
	})
}
