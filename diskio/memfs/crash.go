package memfs

import (
	"maps"
	"math/rand/v2"
	"slices"
)

// SectorBytes is the unit a torn write tears at: each sector of an unsynced region survives
// whole, either as written or as it was.
const SectorBytes = 512

// CrashMode says how a crash clone treats what was not synced.
type CrashMode int

const (
	// CrashRandom decides from the seed: a prefix of the unsynced namespace changes survives,
	// and each file with unsynced data loses it, keeps it, or is torn.
	CrashRandom CrashMode = iota
	// CrashLoseUnsynced is the worst case: only synced data and synced entries survive.
	CrashLoseUnsynced
	// CrashKeepUnsynced keeps everything, as if the page cache was flushed just before the crash.
	CrashKeepUnsynced
)

// CrashConfig parameterises CrashClone.
type CrashConfig struct {
	// Seed drives every choice CrashRandom makes; the same seed on the same FS state gives a
	// byte-identical clone.
	Seed uint64
	Mode CrashMode
}

// crashStream keeps the crash PRNG apart from other users of the same seed ("memfscra").
const crashStream = 0x6d656d6673637261

// Fates of a file with unsynced data.
const (
	fateLost = iota
	fateKept
	fateTorn
	fateCount
)

// CrashClone returns a new FS holding what the disk would hold after a power loss now: every
// synced byte and entry, and whatever unsynced state cfg lets survive. The clone is fully
// durable (nothing in it is unsynced), holds no locks, and shares nothing with fs; handles open
// on fs stay bound to fs.
//
// Namespace changes not yet made durable by a directory sync survive as a prefix, oldest first
// (a journaling file system commits them in order). A change made durable in one directory but
// not in the other (a rename across directories, only one of which was synced) may leave the
// file under both names; a directory reached twice that way keeps only its first name in
// sorted walk order.
func (fs *FS) CrashClone(cfg CrashConfig) *FS {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	c := crasher{
		rng:     rand.New(rand.NewPCG(cfg.Seed, crashStream)),
		mode:    cfg.Mode,
		entries: map[*node]map[string]*node{},
		clones:  map[*node]*node{},
	}
	keptOps := 0
	switch cfg.Mode {
	case CrashKeepUnsynced:
		keptOps = len(fs.pending)
	case CrashRandom:
		keptOps = c.rng.IntN(len(fs.pending) + 1)
	}
	for _, op := range fs.pending[:keptOps] {
		for _, e := range op.effects {
			if e.durable {
				continue // already in the directory's synced entries
			}
			entries := c.entriesOf(e.dir)
			if e.target == nil {
				delete(entries, e.name)
			} else {
				entries[e.name] = e.target
			}
		}
	}
	clone := &FS{capacityBytes: fs.capacityBytes}
	clone.root = c.cloneNode(fs.root, clone)
	clone.root.links = 1
	return clone
}

type crasher struct {
	rng  *rand.Rand
	mode CrashMode
	// entries holds, for directories that unsynced changes touch, their entries after the crash.
	entries map[*node]map[string]*node
	// clones maps original nodes to their clones, so a file under two names stays one node.
	clones map[*node]*node
}

func (c *crasher) entriesOf(dir *node) map[string]*node {
	entries, ok := c.entries[dir]
	if !ok {
		entries = maps.Clone(dir.syncedChildren)
		c.entries[dir] = entries
	}
	return entries
}

// cloneNode clones n's post-crash state, walking directories in sorted order so the PRNG is
// consumed in the same order for the same state. It returns nil for a directory already
// cloned under another name.
func (c *crasher) cloneNode(n *node, clone *FS) *node {
	if cn, ok := c.clones[n]; ok {
		if cn.isDir {
			return nil
		}
		return cn
	}
	if n.isDir {
		cn := newDir()
		c.clones[n] = cn
		entries, ok := c.entries[n]
		if !ok {
			entries = n.syncedChildren
		}
		for _, name := range slices.Sorted(maps.Keys(entries)) {
			child := c.cloneNode(entries[name], clone)
			if child == nil {
				continue
			}
			if child.links == 0 {
				clone.usedBytes += child.usageBytes()
			}
			child.links++
			cn.children[name] = child
		}
		cn.syncedChildren = maps.Clone(cn.children)
		return cn
	}
	data := c.crashData(n)
	cn := &node{data: data, synced: data.clone(), reservedBytes: n.reservedBytes}
	c.clones[n] = cn
	return cn
}

// crashData returns the content file n has after the crash.
func (c *crasher) crashData(n *node) content {
	if !n.dirty {
		return n.synced.clone()
	}
	fate := fateLost
	switch c.mode {
	case CrashKeepUnsynced:
		fate = fateKept
	case CrashRandom:
		fate = c.rng.IntN(fateCount)
	}
	switch fate {
	case fateLost:
		return n.synced.clone()
	case fateKept:
		return n.data.clone()
	}
	return c.tear(n)
}

// tear mixes old and new content sector by sector over the unsynced region. The size is the
// synced one or the new one (it is metadata, written separately from the data). Old bytes past
// the synced size, and new bytes past the new size, read as zeros, as unwritten extents do.
func (c *crasher) tear(n *node) content {
	oldSize, newSize := n.synced.size, n.data.size
	size := newSize
	if oldSize != newSize && c.rng.IntN(2) == 0 {
		size = oldSize
	}
	out := n.synced.clone()
	out.truncate(min(out.size, size))
	out.size = size
	// A sector taking its new content gets the page cache's bytes, zeros past the new size.
	fresh := content{b: n.data.b[:min(int64(len(n.data.b)), newSize)], size: size}
	low := min(n.dirtyLowBytes, oldSize, newSize) / SectorBytes * SectorBytes
	high := min(max(n.dirtyHighBytes, oldSize, newSize), size)
	// Past both contents' bytes in memory every sector is zeros old and new: no choice to make
	// (a preallocated index's 10 MiB of zeros would otherwise draw 20,000 coins).
	high = min(high, max(int64(len(n.synced.b)), int64(len(fresh.b))))
	for start := low; start < high; start += SectorBytes {
		end := min(start+SectorBytes, size)
		if c.rng.IntN(2) == 0 {
			continue // this sector keeps its old content
		}
		out.copyRange(fresh, start, end)
	}
	return out
}
