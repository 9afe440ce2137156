package memfs

import (
	"io"
	iofs "io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/weirdata/weir/diskio"
)

// FS is an in-memory diskio.FS that remembers what is durable. See the package documentation.
type FS struct {
	mu   sync.Mutex
	root *node
	// pending lists the namespace changes not yet durable in every directory they touch, oldest
	// first. A crash keeps a prefix of them (the order a journaling file system commits in).
	pending []*nsOp
	// capacityBytes bounds usedBytes; 0 means unlimited.
	capacityBytes int64
	usedBytes     int64
}

var _ diskio.FS = (*FS)(nil)

// node is an inode: a regular file or a directory. One node may be reachable under two names
// in a crash clone (a rename whose target directory was synced but whose source was not).
type node struct {
	isDir bool

	// Regular files. data is what readers see (the page cache); synced is what a crash keeps
	// for sure. Bytes outside [dirtyLowBytes, dirtyHighBytes) are equal in both (up to the
	// shorter length) whenever dirty is set, and everywhere when it is not.
	data           content
	synced         content
	dirty          bool
	dirtyLowBytes  int64
	dirtyHighBytes int64
	// reservedBytes is space set aside by Preallocate beyond the data.
	reservedBytes int64
	// links counts the directory entries naming this node in the current namespace.
	links    int
	lockHeld bool

	// Directories. children is the current namespace; syncedChildren is the namespace as of the
	// last directory sync.
	children       map[string]*node
	syncedChildren map[string]*node
	// sortedNames caches children's names in order for List; nil when a name came or went.
	sortedNames []string
}

// nsOp is one namespace change (create, mkdir, remove, rename): one or two entry changes that
// a crash keeps or reverts together.
type nsOp struct {
	effects []nsEffect
}

// nsEffect sets (target non-nil) or deletes (target nil) the entry name of dir.
type nsEffect struct {
	dir     *node
	name    string
	target  *node
	durable bool // dir was synced after this change
}

func newDir() *node {
	return &node{isDir: true, children: map[string]*node{}, syncedChildren: map[string]*node{}}
}

// New returns an empty file system: a root directory whose (empty) entries are durable.
func New() *FS {
	root := newDir()
	root.links = 1
	return &FS{root: root}
}

// SetCapacityBytes bounds the bytes of file data (and preallocated space) the FS holds; a write,
// truncate or preallocate that would exceed it fails with diskio.ErrNoSpace. 0 removes the bound.
func (fs *FS) SetCapacityBytes(capacityBytes int64) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.capacityBytes = capacityBytes
}

// UsedBytes reports the bytes counted against the capacity: for each linked file, the larger of
// its size and its preallocated extent.
func (fs *FS) UsedBytes() int64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.usedBytes
}

func pathError(op, name string, err error) error {
	return &iofs.PathError{Op: op, Path: name, Err: err}
}

// cleanAbs is path.Clean("/" + name), without building a string when name is already a clean
// absolute path (nearly every call: the broker joins its paths cleanly).
func cleanAbs(name string) string {
	if len(name) > 0 && name[0] == '/' {
		if clean := path.Clean(name); clean == name {
			return name
		}
	}
	return path.Clean("/" + name)
}

// splitPath cleans name and splits it into components; the root has none. Relative and
// absolute names both start at the root.
func splitPath(name string) ([]string, bool) {
	if name == "" {
		return nil, false
	}
	clean := cleanAbs(name)
	if clean == "/" {
		return nil, true
	}
	return strings.Split(clean[1:], "/"), true
}

// lookupParent returns the parent directory of name and name's last component; for the root
// it returns a nil parent. It walks the cleaned name in place (no split into a slice: every
// file operation looks a name up).
func (fs *FS) lookupParent(name string) (parent *node, base string, err error) {
	if name == "" {
		return nil, "", syscall.ENOENT
	}
	clean := cleanAbs(name)
	if clean == "/" {
		return nil, "", nil
	}
	dir, rest := fs.root, clean[1:]
	for {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return dir, rest, nil
		}
		child, ok := dir.children[rest[:i]]
		if !ok {
			return nil, "", syscall.ENOENT
		}
		if !child.isDir {
			return nil, "", syscall.ENOTDIR
		}
		dir, rest = child, rest[i+1:]
	}
}

// lookup returns the node name refers to.
func (fs *FS) lookup(name string) (*node, error) {
	parent, base, err := fs.lookupParent(name)
	if err != nil {
		return nil, err
	}
	if parent == nil {
		return fs.root, nil
	}
	n, ok := parent.children[base]
	if !ok {
		return nil, syscall.ENOENT
	}
	return n, nil
}

// setEntry changes one directory entry as part of op, keeping link counts and space in step.
func (fs *FS) setEntry(op *nsOp, dir *node, name string, target *node) {
	old, had := dir.children[name]
	if had {
		fs.unlink(old)
	}
	if had != (target != nil) {
		dir.sortedNames = nil
	}
	if target == nil {
		delete(dir.children, name)
	} else {
		if target.links == 0 {
			fs.usedBytes += target.usageBytes()
		}
		target.links++
		dir.children[name] = target
	}
	op.effects = append(op.effects, nsEffect{dir: dir, name: name, target: target})
}

func (fs *FS) unlink(n *node) {
	n.links--
	if n.links < 0 {
		panic("memfs: invariant violated: negative link count")
	}
	if n.links == 0 {
		fs.usedBytes -= n.usageBytes()
	}
}

func (fs *FS) commit(op *nsOp) {
	if len(op.effects) > 0 {
		fs.pending = append(fs.pending, op)
	}
}

// syncDir makes dir's current entries durable. Every entry change since dir's last sync is a
// pending effect not yet durable, so copying just those names keeps syncedChildren equal to
// children at a cost in the changes, not in the directory's size.
func (fs *FS) syncDir(dir *node) {
	kept := fs.pending[:0]
	for _, op := range fs.pending {
		allDurable := true
		for i := range op.effects {
			if e := &op.effects[i]; e.dir == dir && !e.durable {
				if target, ok := dir.children[e.name]; ok {
					dir.syncedChildren[e.name] = target
				} else {
					delete(dir.syncedChildren, e.name)
				}
				e.durable = true
			}
			allDurable = allDurable && op.effects[i].durable
		}
		if !allDurable {
			kept = append(kept, op)
		}
	}
	clear(fs.pending[len(kept):])
	fs.pending = kept
}

// Create implements diskio.FS.
func (fs *FS) Create(name string) (diskio.File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, err := fs.openFile(name, true)
	if err != nil {
		return nil, pathError("create", name, err)
	}
	if err := fs.truncate(f.n, 0); err != nil {
		return nil, pathError("create", name, err)
	}
	return f, nil
}

// Open implements diskio.FS. A directory opens read-only, as with the os package.
func (fs *FS) Open(name string) (diskio.File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, err := fs.lookup(name)
	if err != nil {
		return nil, pathError("open", name, err)
	}
	return &file{fs: fs, n: n, name: name}, nil
}

// OpenReadWrite implements diskio.FS.
func (fs *FS) OpenReadWrite(name string) (diskio.File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, err := fs.openFile(name, true)
	if err != nil {
		return nil, pathError("open", name, err)
	}
	return f, nil
}

// openFile opens a regular file for writing, creating it if create is set.
func (fs *FS) openFile(name string, create bool) (*file, error) {
	parent, base, err := fs.lookupParent(name)
	if err != nil {
		return nil, err
	}
	if parent == nil {
		return nil, syscall.EISDIR
	}
	n, ok := parent.children[base]
	if !ok {
		if !create {
			return nil, syscall.ENOENT
		}
		n = &node{}
		op := &nsOp{}
		fs.setEntry(op, parent, base, n)
		fs.commit(op)
	}
	if n.isDir {
		return nil, syscall.EISDIR
	}
	return &file{fs: fs, n: n, name: name, writable: true}, nil
}

// OpenDir implements diskio.FS.
func (fs *FS) OpenDir(name string) (diskio.File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, err := fs.lookup(name)
	if err != nil {
		return nil, pathError("open", name, err)
	}
	if !n.isDir {
		return nil, pathError("open", name, syscall.ENOTDIR)
	}
	return &file{fs: fs, n: n, name: name}, nil
}

// Remove implements diskio.FS.
func (fs *FS) Remove(name string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.remove(name); err != nil {
		return pathError("remove", name, err)
	}
	return nil
}

func (fs *FS) remove(name string) error {
	parent, base, err := fs.lookupParent(name)
	if err != nil {
		return err
	}
	if parent == nil {
		return syscall.EBUSY
	}
	n, ok := parent.children[base]
	if !ok {
		return syscall.ENOENT
	}
	if n.isDir && len(n.children) > 0 {
		return syscall.ENOTEMPTY
	}
	op := &nsOp{}
	fs.setEntry(op, parent, base, nil)
	fs.commit(op)
	return nil
}

// RemoveAll implements diskio.FS. Each entry is removed by its own namespace change, deepest
// first, so a crash may keep any prefix of the removal.
func (fs *FS) RemoveAll(name string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	parent, base, err := fs.lookupParent(name)
	if err == syscall.ENOENT {
		return nil
	}
	if err != nil {
		return pathError("removeall", name, err)
	}
	if parent == nil {
		return pathError("removeall", name, syscall.EBUSY)
	}
	n, ok := parent.children[base]
	if !ok {
		return nil
	}
	fs.removeTree(parent, base, n)
	return nil
}

func (fs *FS) removeTree(parent *node, base string, n *node) {
	if n.isDir {
		for _, childName := range slices.Sorted(maps.Keys(n.children)) {
			fs.removeTree(n, childName, n.children[childName])
		}
	}
	op := &nsOp{}
	fs.setEntry(op, parent, base, nil)
	fs.commit(op)
}

// Rename implements diskio.FS.
func (fs *FS) Rename(oldname, newname string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.rename(oldname, newname); err != nil {
		return pathError("rename", oldname+" -> "+newname, err)
	}
	return nil
}

func (fs *FS) rename(oldname, newname string) error {
	oldParent, oldBase, err := fs.lookupParent(oldname)
	if err != nil {
		return err
	}
	if oldParent == nil {
		return syscall.EBUSY
	}
	n, ok := oldParent.children[oldBase]
	if !ok {
		return syscall.ENOENT
	}
	newParent, newBase, err := fs.lookupParent(newname)
	if err != nil {
		return err
	}
	if newParent == nil {
		return syscall.EBUSY
	}
	oldClean, newClean := path.Clean("/"+oldname), path.Clean("/"+newname)
	if oldClean == newClean {
		return nil
	}
	if n.isDir && strings.HasPrefix(newClean, oldClean+"/") {
		return syscall.EINVAL
	}
	if existing, ok := newParent.children[newBase]; ok {
		switch {
		case existing == n:
			// POSIX: renaming one name of a file over another name of the same file does nothing.
			return nil
		case existing.isDir && !n.isDir:
			return syscall.EISDIR
		case !existing.isDir && n.isDir:
			return syscall.ENOTDIR
		case existing.isDir && len(existing.children) > 0:
			return syscall.ENOTEMPTY
		}
	}
	op := &nsOp{}
	fs.setEntry(op, newParent, newBase, n)
	fs.setEntry(op, oldParent, oldBase, nil)
	fs.commit(op)
	return nil
}

// MkdirAll implements diskio.FS. Each directory created is its own namespace change.
func (fs *FS) MkdirAll(dir string, perm iofs.FileMode) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	components, ok := splitPath(dir)
	if !ok {
		return pathError("mkdir", dir, syscall.ENOENT)
	}
	parent := fs.root
	for _, c := range components {
		child, ok := parent.children[c]
		if !ok {
			child = newDir()
			op := &nsOp{}
			fs.setEntry(op, parent, c, child)
			fs.commit(op)
		} else if !child.isDir {
			return pathError("mkdir", dir, syscall.ENOTDIR)
		}
		parent = child
	}
	return nil
}

// List implements diskio.FS.
func (fs *FS) List(dir string) ([]string, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, err := fs.lookup(dir)
	if err != nil {
		return nil, pathError("readdir", dir, err)
	}
	if !n.isDir {
		return nil, pathError("readdir", dir, syscall.ENOTDIR)
	}
	if n.sortedNames == nil {
		n.sortedNames = slices.Sorted(maps.Keys(n.children))
	}
	return slices.Clone(n.sortedNames), nil
}

// Stat implements diskio.FS.
func (fs *FS) Stat(name string) (iofs.FileInfo, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, err := fs.lookup(name)
	if err != nil {
		return nil, pathError("stat", name, err)
	}
	return n.info(name), nil
}

// Lock implements diskio.FS. The lock belongs to the file (inode); a second Lock fails with
// diskio.ErrLocked until the first is closed. A crash clone holds no locks.
func (fs *FS) Lock(name string) (io.Closer, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, err := fs.openFile(name, true)
	if err != nil {
		return nil, pathError("lock", name, err)
	}
	if f.n.lockHeld {
		return nil, pathError("lock", name, diskio.ErrLocked)
	}
	f.n.lockHeld = true
	return &lockHandle{fs: fs, n: f.n, name: name}, nil
}

type lockHandle struct {
	fs     *FS
	n      *node
	name   string
	closed bool
}

func (l *lockHandle) Close() error {
	l.fs.mu.Lock()
	defer l.fs.mu.Unlock()
	if l.closed {
		return pathError("unlock", l.name, iofs.ErrClosed)
	}
	l.closed = true
	l.n.lockHeld = false
	return nil
}
