package wire

import (
	"math/rand/v2"
	"reflect"
	"runtime"
)

// fill sets every exported field of the struct v points to (recursively) to a random value
// drawn from rng, so round trips exercise every field a version encodes. Slices get one or two
// elements; the Version field and kmsg.Tags (unexported) are left alone.
func fill(rng *rand.Rand, v any) {
	fillValue(rng, reflect.ValueOf(v).Elem(), 0)
}

func fillValue(rng *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Name == "Version" || f.Type.Name() == "Tags" {
				continue
			}
			fillValue(rng, v.Field(i), depth+1)
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillValue(rng, p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, 1+rng.IntN(8))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			v.SetBytes(b)
			return
		}
		n := 1 + rng.IntN(2)
		if depth > 8 {
			n = 0
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fillValue(rng, s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			fillValue(rng, v.Index(i), depth+1)
		}
	case reflect.String:
		const letters = "abcdefghijklmnopqrstuvwxyz-._"
		b := make([]byte, 1+rng.IntN(10))
		for i := range b {
			b[i] = letters[rng.IntN(len(letters))]
		}
		v.SetString(string(b))
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 1)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(rng.Uint64()) >> (64 - v.Type().Bits()))
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(rng.Uint64() >> (64 - v.Type().Bits()))
	case reflect.Float64:
		v.SetFloat(float64(rng.IntN(1000)) / 8)
	}
}

// measureAllocatedBytes is how many bytes fn allocates on the heap.
func measureAllocatedBytes(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
