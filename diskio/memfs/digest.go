package memfs

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Digest hashes the current namespace and file contents (what readers see, synced or not),
// walking in sorted order: equal digests mean byte-identical trees. The simulator hashes disks
// into its trace with it.
func (fs *FS) Digest() [sha256.Size]byte {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	h := sha256.New()
	var scratch [8]byte
	walk(fs.root, "", func(p string, n *node) {
		kind := byte('f')
		if n.isDir {
			kind = 'd'
		}
		h.Write([]byte{kind})
		binary.BigEndian.PutUint64(scratch[:], uint64(len(p)))
		h.Write(scratch[:])
		h.Write([]byte(p))
		// The content in a canonical form, so equal contents hash equal however much of them
		// is held in memory: the size, then the bytes up to the last non-zero one (the rest
		// reads as zeros). Hashing a 10 MiB preallocated index's zeros would dominate a
		// simulated crash.
		b := n.data.b
		for len(b) > 0 && b[len(b)-1] == 0 {
			b = b[:len(b)-1]
		}
		binary.BigEndian.PutUint64(scratch[:], uint64(n.data.size))
		h.Write(scratch[:])
		binary.BigEndian.PutUint64(scratch[:], uint64(len(b)))
		h.Write(scratch[:])
		h.Write(b)
	})
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// String lists the tree, one entry per line in sorted order: directories end in "/", files
// show their size and how many bytes are unsynced. For test failure messages.
func (fs *FS) String() string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var b strings.Builder
	walk(fs.root, "", func(p string, n *node) {
		if n.isDir {
			fmt.Fprintf(&b, "%s/\n", p)
			return
		}
		unsynced := int64(0)
		if n.dirty {
			unsynced = n.dirtyHighBytes - n.dirtyLowBytes
		}
		fmt.Fprintf(&b, "%s %d bytes (dirty range %d bytes)\n", p, n.data.size, unsynced)
	})
	return b.String()
}

// walk visits n and everything below it in sorted order.
func walk(n *node, p string, visit func(p string, n *node)) {
	visit(p, n)
	if !n.isDir {
		return
	}
	for _, name := range slices.Sorted(maps.Keys(n.children)) {
		walk(n.children[name], p+"/"+name, visit)
	}
}
