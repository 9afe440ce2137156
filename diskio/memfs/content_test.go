package memfs

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"
)

// TestContentModel: the sparse content reads, writes, truncates and copies ranges exactly as a
// plain byte slice does.
func TestContentModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var c, synced content
		var model, syncedModel []byte
		grow := func(b []byte, n int64) []byte {
			for int64(len(b)) < n {
				b = append(b, 0)
			}
			return b
		}
		t.Repeat(map[string]func(*rapid.T){
			"write": func(t *rapid.T) {
				off := rapid.Int64Range(0, 300).Draw(t, "off")
				p := rapid.SliceOfN(rapid.Byte(), 1, 50).Draw(t, "p")
				c.writeAt(p, off)
				model = grow(model, off+int64(len(p)))
				copy(model[off:], p)
			},
			"truncate": func(t *rapid.T) {
				size := rapid.Int64Range(0, 400).Draw(t, "size")
				c.truncate(size)
				if size < int64(len(model)) {
					model = model[:size]
				} else {
					model = grow(model, size)
				}
			},
			"sync": func(t *rapid.T) {
				low := rapid.Int64Range(0, 400).Draw(t, "low")
				high := rapid.Int64Range(low, 400).Draw(t, "high")
				synced.copyRange(c, low, high)
				// The model: synced takes the size, and the bytes of [low, high).
				if int64(len(syncedModel)) > int64(len(model)) {
					syncedModel = syncedModel[:len(model)]
				} else {
					syncedModel = grow(syncedModel, int64(len(model)))
				}
				for i := low; i < min(high, int64(len(model))); i++ {
					syncedModel[i] = model[i]
				}
			},
			"": func(t *rapid.T) {
				for _, pair := range []struct {
					c content
					m []byte
				}{{c, model}, {synced, syncedModel}} {
					if pair.c.size != int64(len(pair.m)) {
						t.Fatalf("size %d, model %d", pair.c.size, len(pair.m))
					}
					got := make([]byte, pair.c.size+10)
					n := pair.c.readAt(got, 0)
					if !bytes.Equal(got[:n], pair.m) {
						t.Fatalf("content %v, model %v", got[:n], pair.m)
					}
					if cl := pair.c.clone(); cl.size != pair.c.size || !bytes.Equal(cl.b, pair.c.b) {
						t.Fatal("clone differs")
					}
				}
			},
		})
	})
}

// TestDigestCanonical: equal file contents digest equal however much of them the sparse tail
// holds, and different contents (a zero byte more) differently.
func TestDigestCanonical(t *testing.T) {
	build := func(explicitZeros int, size int64) [32]byte {
		fs := New()
		f, err := fs.Create("/f")
		if err != nil {
			t.Fatal(err)
		}
		data := append([]byte("abc"), make([]byte, explicitZeros)...)
		if _, err := f.WriteAt(data, 0); err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return fs.Digest()
	}
	if build(0, 100) != build(97, 100) || build(0, 100) != build(40, 100) {
		t.Fatal("equal contents, differently materialized, digest differently")
	}
	if build(0, 100) == build(0, 101) {
		t.Fatal("contents of different sizes digest the same")
	}
}
