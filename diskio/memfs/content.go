package memfs

import "slices"

// content is a file's bytes, sparse at the tail: b holds the bytes up to the last one ever
// written (or kept by a shrink), and the bytes in [len(b), size) are zeros that take no
// memory. Preallocated Kafka indexes (10 MiB, truncated up and mostly never written) then cost
// nothing in the simulator, at start, at roll or when a crash clones the disk.
type content struct {
	b    []byte
	size int64
}

// readAt copies the bytes at off into p and returns how many there were (fewer than len(p)
// at the end of the file).
func (c content) readAt(p []byte, off int64) int {
	if off >= c.size {
		return 0
	}
	n := int(min(int64(len(p)), c.size-off))
	copied := 0
	if off < int64(len(c.b)) {
		copied = copy(p[:n], c.b[off:])
	}
	clear(p[copied:n])
	return n
}

// writeAt stores p at off, extending the file if it ends past the size.
func (c *content) writeAt(p []byte, off int64) {
	c.put(p, off)
	c.size = max(c.size, off+int64(len(p)))
}

// put stores p at off in b, materializing b up to the end of p; the size is the caller's.
func (c *content) put(p []byte, off int64) {
	end := off + int64(len(p))
	if off <= int64(len(c.b)) && end > int64(len(c.b)) {
		// An append (a log's usual write, a sync of it): overwrite the held part and append
		// the rest, without first zero-filling bytes that are written at once.
		held := int64(len(c.b)) - off
		copy(c.b[off:], p[:held])
		c.reserve(end)
		c.b = append(c.b, p[held:]...)
		return
	}
	c.materialize(end)
	copy(c.b[off:end], p)
}

// reserve makes b's capacity at least end, doubling it: a file written by many small appends
// (a log segment) reallocates log(size) times, where append's growth of large slices (a
// quarter) would copy it over and over.
func (c *content) reserve(end int64) {
	if end > int64(cap(c.b)) {
		c.b = slices.Grow(c.b, int(max(end, 2*int64(cap(c.b))))-len(c.b))
	}
}

// truncate sets the size: shrinking drops bytes, growing adds zeros (without memory).
func (c *content) truncate(size int64) {
	if size < int64(len(c.b)) {
		c.b = c.b[:size]
	}
	c.size = size
}

// materialize makes b hold at least the first end bytes.
func (c *content) materialize(end int64) {
	if end > int64(len(c.b)) {
		// Appending zeros never exposes stale bytes a shrink left in the backing array.
		c.reserve(end)
		c.b = append(c.b, make([]byte, end-int64(len(c.b)))...)
	}
}

// clone is an independent copy.
func (c content) clone() content {
	return content{b: append([]byte(nil), c.b...), size: c.size}
}

// copyRange makes c equal to from over [low, high) and takes from's size.
func (c *content) copyRange(from content, low, high int64) {
	c.truncate(min(c.size, from.size))
	c.size = from.size
	high = min(high, from.size)
	if low >= high {
		return
	}
	// Bytes from holds in memory: copied; the rest of the range is zeros in from.
	if end := min(high, int64(len(from.b))); low < end {
		c.put(from.b[low:end], low)
	}
	if zeroFrom, zeroTo := max(low, int64(len(from.b))), min(high, int64(len(c.b))); zeroFrom < zeroTo {
		clear(c.b[zeroFrom:zeroTo])
	}
}

// byteAt is the byte at i < size.
func (c content) byteAt(i int64) byte {
	if i < int64(len(c.b)) {
		return c.b[i]
	}
	return 0
}
