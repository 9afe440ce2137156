package metadata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// This file is the flexible-version encoding of Kafka's generated messages (KIP-482): fixed-width
// big-endian integers, unsigned varints, compact (length+1) strings and arrays where 0 means null,
// UUIDs as 16 raw bytes, and a tagged-field section after each (sub)structure.

// ErrCorruptRecord is the root of every decoding error: the bytes are not a valid metadata record.
var ErrCorruptRecord = errors.New("metadata: corrupt record")

// stringBytesMax is the longest string Kafka's generated readers accept (Short.MAX_VALUE).
const stringBytesMax = math.MaxInt16

type writer struct{ b []byte }

func (w *writer) int8(v int8)     { w.b = append(w.b, byte(v)) }
func (w *writer) int16(v int16)   { w.b = binary.BigEndian.AppendUint16(w.b, uint16(v)) }
func (w *writer) uint16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *writer) int32(v int32)   { w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)) }
func (w *writer) int64(v int64)   { w.b = binary.BigEndian.AppendUint64(w.b, uint64(v)) }
func (w *writer) uvarint(v uint64) {
	w.b = binary.AppendUvarint(w.b, v)
}
func (w *writer) uuid(u UUID) { w.b = append(w.b, u[:]...) }

func (w *writer) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

// compactString writes a non-nullable string. Too long a string is the caller's bug: the
// encoders check lengths first and return an error.
func (w *writer) compactString(s string) {
	w.uvarint(uint64(len(s)) + 1)
	w.b = append(w.b, s...)
}

func (w *writer) compactNullableString(s *string) {
	if s == nil {
		w.uvarint(0)
		return
	}
	w.compactString(*s)
}

func (w *writer) compactInt32s(a []int32) {
	w.uvarint(uint64(len(a)) + 1)
	for _, v := range a {
		w.int32(v)
	}
}

func (w *writer) compactNullableInt32s(a []int32) {
	if a == nil {
		w.uvarint(0)
		return
	}
	w.compactInt32s(a)
}

func (w *writer) compactUUIDs(a []UUID) {
	w.uvarint(uint64(len(a)) + 1)
	for _, u := range a {
		w.uuid(u)
	}
}

func (w *writer) compactNullableUUIDs(a []UUID) {
	if a == nil {
		w.uvarint(0)
		return
	}
	w.compactUUIDs(a)
}

// taggedField is one tagged field to write: its tag and a function appending its value.
type taggedField struct {
	tag   uint32
	write func(w *writer)
}

// tagged writes a tagged-field section. fields must be in ascending tag order, as Kafka writes
// them; each value is sized by encoding it into a scratch writer first.
func (w *writer) tagged(fields ...taggedField) {
	w.uvarint(uint64(len(fields)))
	for i, f := range fields {
		if i > 0 && fields[i-1].tag >= f.tag {
			panic("metadata: tagged fields not in ascending tag order")
		}
		var value writer
		f.write(&value)
		w.uvarint(uint64(f.tag))
		w.uvarint(uint64(len(value.b)))
		w.b = append(w.b, value.b...)
	}
}

// reader decodes from b. The first error sticks: every later read returns zero values, so decoders
// read straight through and check err once (and before trusting a length).
type reader struct {
	b   []byte
	err error
	// what names the structure being read, for error messages.
	what string
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: %s", ErrCorruptRecord, r.what, fmt.Sprintf(format, args...))
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("need %d bytes, have %d", n, len(r.b))
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) int8() int8 {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return int8(b[0])
}

func (r *reader) int16() int16 {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return int16(binary.BigEndian.Uint16(b))
}

func (r *reader) uint16() uint16 { return uint16(r.int16()) }

func (r *reader) int32() int32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

func (r *reader) int64() int64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// bool reads a boolean. Kafka's readers take any non-zero byte as true; so do we.
func (r *reader) bool() bool { return r.int8() != 0 }

func (r *reader) uuid() UUID {
	var u UUID
	copy(u[:], r.take(len(u)))
	return u
}

// uvarint reads an unsigned varint of at most 5 bytes (32 bits), as Kafka's readUnsignedVarint.
func (r *reader) uvarint() uint32 {
	if r.err != nil {
		return 0
	}
	var v uint32
	for i := 0; i < 5; i++ {
		if len(r.b) == 0 {
			r.fail("truncated varint")
			return 0
		}
		c := r.b[0]
		r.b = r.b[1:]
		if i == 4 && c > 0x0f {
			r.fail("varint overflows 32 bits")
			return 0
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail("varint longer than 5 bytes")
	return 0
}

// compactLength reads a compact length (n+1, 0 = null) and returns n, or -1 for null. n is
// checked against the bytes left at elementBytesMin bytes per element, so a corrupt length never
// makes a large allocation.
func (r *reader) compactLength(elementBytesMin int) int {
	v := r.uvarint()
	if r.err != nil {
		return 0
	}
	if v == 0 {
		return -1
	}
	n := int(v - 1)
	if n > len(r.b)/elementBytesMin {
		r.fail("length %d exceeds the %d bytes left", n, len(r.b))
		return 0
	}
	return n
}

func (r *reader) compactNullableString(field string) *string {
	n := r.compactLength(1)
	if r.err != nil || n < 0 {
		return nil
	}
	if n > stringBytesMax {
		r.fail("string field %s has length %d, longer than %d", field, n, stringBytesMax)
		return nil
	}
	s := string(r.take(n))
	return &s
}

func (r *reader) compactString(field string) string {
	s := r.compactNullableString(field)
	if r.err != nil {
		return ""
	}
	if s == nil {
		r.fail("non-nullable field %s was null", field)
		return ""
	}
	return *s
}

// compactNullableInt32s returns nil for null and a non-nil slice (maybe empty) otherwise.
func (r *reader) compactNullableInt32s(field string) []int32 {
	return compactArray(r, field, 4, true, r.int32)
}

// compactInt32s reads a non-nullable array; empty decodes to nil, the zero value.
func (r *reader) compactInt32s(field string) []int32 {
	return compactArray(r, field, 4, false, r.int32)
}

func (r *reader) compactNullableUUIDs(field string) []UUID {
	return compactArray(r, field, 16, true, r.uuid)
}

// compactUUIDs reads a non-nullable array; empty decodes to nil, the zero value.
func (r *reader) compactUUIDs(field string) []UUID {
	return compactArray(r, field, 16, false, r.uuid)
}

// compactArray reads a compact array of fixed-size elements. A nullable array decodes null to
// nil and empty to a non-nil empty slice; a non-nullable one refuses null and decodes empty to
// nil, the zero value.
func compactArray[T any](r *reader, field string, elementBytes int, nullable bool, read func() T) []T {
	n := r.compactLength(elementBytes)
	if r.err != nil {
		return nil
	}
	if n < 0 {
		if !nullable {
			r.fail("non-nullable field %s was null", field)
		}
		return nil
	}
	if n == 0 && !nullable {
		return nil
	}
	a := make([]T, n)
	for i := range a {
		a[i] = read()
	}
	return a
}

// tagged reads a tagged-field section, calling known for each field with a reader over exactly
// its value; known returns false for a tag it does not know, which is skipped (Kafka keeps
// unknown tags; Weir never writes them and drops them). A known field must consume its value
// exactly, and appear once.
func (r *reader) tagged(known func(tag uint32, field *reader) bool) {
	count := r.uvarint()
	seen := make(map[uint32]bool)
	for i := uint32(0); i < count && r.err == nil; i++ {
		tag := r.uvarint()
		size := r.uvarint()
		if r.err != nil {
			return
		}
		if uint64(size) > uint64(len(r.b)) {
			r.fail("tagged field %d has size %d, only %d bytes left", tag, size, len(r.b))
			return
		}
		if seen[tag] {
			r.fail("tagged field %d appears twice", tag)
			return
		}
		seen[tag] = true
		field := &reader{b: r.take(int(size)), what: fmt.Sprintf("%s tag %d", r.what, tag)}
		if !known(tag, field) {
			continue
		}
		if field.err != nil {
			r.err = field.err
			return
		}
		if len(field.b) != 0 {
			r.fail("tagged field %d has %d bytes left over", tag, len(field.b))
			return
		}
	}
}

// noTags reads a tagged-field section of a structure that defines no tags.
func (r *reader) noTags() { r.tagged(func(uint32, *reader) bool { return false }) }
