package errorfs

import "strconv"

// OpKind classifies a file system operation.
type OpKind int

// The operations, one per method of diskio.FS and diskio.File (and the lock's Close).
const (
	OpCreate OpKind = iota
	OpOpen
	OpOpenReadWrite
	OpOpenDir
	OpRemove
	OpRemoveAll
	OpRename
	OpMkdirAll
	OpList
	OpStat
	OpLock
	OpUnlock // Close of a lock returned by Lock
	OpRead
	OpWrite
	OpSync
	OpSyncData
	OpTruncate
	OpPreallocate
	OpFileStat
	OpClose
	opKindCount
)

var opKindNames = [opKindCount]string{
	OpCreate:        "create",
	OpOpen:          "open",
	OpOpenReadWrite: "openreadwrite",
	OpOpenDir:       "opendir",
	OpRemove:        "remove",
	OpRemoveAll:     "removeall",
	OpRename:        "rename",
	OpMkdirAll:      "mkdirall",
	OpList:          "list",
	OpStat:          "stat",
	OpLock:          "lock",
	OpUnlock:        "unlock",
	OpRead:          "read",
	OpWrite:         "write",
	OpSync:          "sync",
	OpSyncData:      "syncdata",
	OpTruncate:      "truncate",
	OpPreallocate:   "preallocate",
	OpFileStat:      "fstat",
	OpClose:         "close",
}

func (k OpKind) String() string {
	if k >= 0 && k < opKindCount {
		return opKindNames[k]
	}
	return "OpKind(" + strconv.Itoa(int(k)) + ")"
}

// Mutates reports whether the operation can change what is stored (data, size, durability or
// the namespace). Opening, reading, listing and stat-ing do not; Close does not.
func (k OpKind) Mutates() bool {
	switch k {
	case OpCreate, OpOpenReadWrite, OpRemove, OpRemoveAll, OpRename, OpMkdirAll, OpLock,
		OpWrite, OpSync, OpSyncData, OpTruncate, OpPreallocate:
		return true
	}
	return false
}

// Op describes one operation, as injectors see it.
type Op struct {
	Kind OpKind
	// Path is the path the operation names, or the file's path for File methods (the name it
	// was opened under). For Rename it is the old name.
	Path string
	// NewPath is Rename's new name; empty otherwise.
	NewPath string
	// OffsetBytes is the offset of Read, Write and Preallocate, and the new size of Truncate.
	OffsetBytes int64
	// LengthBytes is the length of Read, Write and Preallocate.
	LengthBytes int64
}

func (op Op) String() string {
	s := op.Kind.String() + " " + op.Path
	if op.NewPath != "" {
		s += " -> " + op.NewPath
	}
	switch op.Kind {
	case OpRead, OpWrite, OpPreallocate:
		s += " [" + strconv.FormatInt(op.OffsetBytes, 10) + "+" + strconv.FormatInt(op.LengthBytes, 10) + "]"
	case OpTruncate:
		s += " to " + strconv.FormatInt(op.OffsetBytes, 10)
	}
	return s
}
