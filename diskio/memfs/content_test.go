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
