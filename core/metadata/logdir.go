package metadata

import (
	"cmp"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/weirdata/weir/diskio"
)

// DirName is the metadata log's partition directory inside the metadata log dir.
const DirName = "__cluster_metadata-0"

// syncParentDirs syncs each parent of dir up to the root: a directory (and any parent
// MkdirAll made) survives a crash only once each parent is synced; Kafka likewise flushes the
// parent after creating a log dir.
func syncParentDirs(fsys diskio.FS, dir string) error {
	for {
		parent := path.Dir(dir)
		if err := diskio.SyncDir(fsys, parent); err != nil {
			return fmt.Errorf("metadata: sync %s: %w", parent, err)
		}
		if parent == dir || parent == "/" || parent == "." {
			return nil
		}
		dir = parent
	}
}

// scanSnapshotFiles returns the ids of the snapshot files in dir by end offset, and removes
// partial ones (*.checkpoint.part, a write or fetch a crash interrupted): nothing refers to
// them, and one a crash brings back is harmless.
func scanSnapshotFiles(fsys diskio.FS, dir string) ([]SnapshotID, error) {
	names, err := fsys.List(dir)
	if err != nil {
		return nil, fmt.Errorf("metadata: list %s: %w", dir, err)
	}
	var ids []SnapshotID
	for _, name := range names {
		if strings.HasSuffix(name, snapshotPartSuffix) {
			if err := fsys.Remove(diskio.Join(dir, name)); err != nil && !errors.Is(err, diskio.ErrNotExist) {
				return nil, fmt.Errorf("metadata: remove partial snapshot %s: %w", name, err)
			}
			continue
		}
		if id, ok := ParseSnapshotFileName(name); ok {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b SnapshotID) int { return cmp.Compare(a.EndOffset, b.EndOffset) })
	return ids, nil
}
