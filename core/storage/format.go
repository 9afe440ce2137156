package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/weirdata/weir/core/uuid"

	"github.com/weirdata/weir/diskio"
)

// FormatOptions tune Format.
type FormatOptions struct {
	// IgnoreFormatted skips directories that already have a meta.properties (Kafka's
	// --ignore-formatted) instead of refusing to run. Their cluster and node id must still
	// match, so one node never spans two clusters.
	IgnoreFormatted bool
	// WrittenAtMs dates the meta.properties comment line (wall clock, ms); 0 leaves it out.
	WrittenAtMs int64
}

// FormatResult says what Format did, per directory, in the order given.
type FormatResult struct {
	Formatted []string // directories that got a new meta.properties
	Skipped   []string // directories already formatted (only with IgnoreFormatted)
}

// ErrAlreadyFormatted is returned (wrapped) by Format for a formatted directory.
var ErrAlreadyFormatted = errors.New("already formatted")

// Format prepares log directories as `kafka-storage format` does: each directory is created if
// needed and gets a version 1 meta.properties with the cluster id, the node id and a fresh
// directory id. A directory that is already formatted is an error unless
// opts.IgnoreFormatted. clusterID must be a Kafka Uuid string (see RandomUUID); random
// supplies the directory ids. Nothing is written unless every directory can be formatted.
//
// Unlike kafka-storage, Format does not write the metadata log's bootstrap checkpoint: the
// quorum owns __cluster_metadata.
func Format(fsys diskio.FS, logDirs []string, clusterID string, nodeID int32, random io.Reader, opts FormatOptions) (FormatResult, error) {
	var result FormatResult
	if len(logDirs) == 0 {
		return result, errors.New("format: no log directories given")
	}
	if _, err := uuid.Parse(clusterID); err != nil {
		return result, fmt.Errorf("format: cluster id %q does not appear to be a valid UUID: %w", clusterID, err)
	}
	if nodeID < 0 {
		return result, fmt.Errorf("format: node id %d must not be negative", nodeID)
	}
	if err := checkDistinctDirs(logDirs); err != nil {
		return result, fmt.Errorf("format: %w", err)
	}
	// Read everything first, so a refusal leaves every directory untouched.
	var toFormat []string
	usedIDs := map[UUID]string{}
	for _, dir := range logDirs {
		m, found, err := ReadMetaProperties(fsys, dir)
		if err != nil {
			return result, fmt.Errorf("format: I/O error trying to read log directory %s: %w", dir, err)
		}
		if !found {
			toFormat = append(toFormat, dir)
			continue
		}
		if !opts.IgnoreFormatted {
			return result, fmt.Errorf("format: log directory %s is %w; use --ignore-formatted to ignore this directory and format the others", dir, ErrAlreadyFormatted)
		}
		if m.ClusterID != clusterID {
			return result, fmt.Errorf("format: log directory %s is formatted for cluster %s, not %s", dir, m.ClusterID, clusterID)
		}
		if m.NodeID != nodeID {
			return result, fmt.Errorf("format: log directory %s is formatted for node %d, not %d", dir, m.NodeID, nodeID)
		}
		if m.DirectoryID != uuid.Zero {
			usedIDs[m.DirectoryID] = dir
		}
		result.Skipped = append(result.Skipped, dir)
	}
	for _, dir := range toFormat {
		id, err := freshDirectoryID(random, usedIDs)
		if err != nil {
			return result, fmt.Errorf("format %s: %w", dir, err)
		}
		usedIDs[id] = dir
		if err := mkdirAllDurable(fsys, dir); err != nil {
			return result, fmt.Errorf("format %s: %w", dir, err)
		}
		m := MetaProperties{Version: 1, ClusterID: clusterID, NodeID: nodeID, DirectoryID: id}
		if err := WriteMetaProperties(fsys, dir, m, opts.WrittenAtMs); err != nil {
			return result, fmt.Errorf("format %s: %w", dir, err)
		}
		result.Formatted = append(result.Formatted, dir)
	}
	return result, nil
}

// freshDirectoryID draws a directory id no other directory of this node uses.
func freshDirectoryID(random io.Reader, used map[UUID]string) (UUID, error) {
	for {
		id, err := RandomDirectoryID(random)
		if err != nil {
			return uuid.Zero, err
		}
		if _, taken := used[id]; !taken {
			return id, nil
		}
	}
}

func checkDistinctDirs(dirs []string) error {
	seen := map[string]bool{}
	for _, d := range dirs {
		clean := path.Clean(d)
		if seen[clean] {
			return fmt.Errorf("log directory %s is listed twice", d)
		}
		seen[clean] = true
	}
	return nil
}

// mkdirAllDurable creates dir and any missing parents, and syncs the parent of each directory
// it created, so the new directories survive a crash.
func mkdirAllDurable(fsys diskio.FS, dir string) error {
	var missing []string
	for d := path.Clean(dir); ; d = path.Dir(d) {
		_, err := fsys.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("stat %s: %w", d, err)
		}
		missing = append(missing, d)
		if parent := path.Dir(d); parent == d {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	for _, d := range missing {
		if parent := path.Dir(d); parent != d {
			if err := diskio.SyncDir(fsys, parent); err != nil {
				return fmt.Errorf("sync dir %s: %w", parent, err)
			}
		}
	}
	return nil
}

// LogDirIdentity is one checked log directory.
type LogDirIdentity struct {
	Dir  string
	Meta MetaProperties
}

// CheckMetaProperties is the startup check: every log directory must be formatted, all for
// one cluster and for this node, with distinct directory ids. expectedClusterID is the
// cluster the node must belong to, or "" to take it from the directories (it then comes
// from meta.properties, as in Kafka). A directory without a directory id (formatted by an
// older Kafka) gets one, written back, as Kafka does on start; random supplies it.
// It returns the directories' identities in the order given and the cluster id.
func CheckMetaProperties(fsys diskio.FS, logDirs []string, expectedClusterID string, nodeID int32, random io.Reader) ([]LogDirIdentity, string, error) {
	if len(logDirs) == 0 {
		return nil, "", errors.New("no log directories configured")
	}
	if err := checkDistinctDirs(logDirs); err != nil {
		return nil, "", err
	}
	clusterID := expectedClusterID
	clusterDir := "" // the directory clusterID was taken from; "" when it came from the config
	ids := make([]LogDirIdentity, 0, len(logDirs))
	seenIDs := map[UUID]string{}
	for _, dir := range logDirs {
		m, found, err := ReadMetaProperties(fsys, dir)
		if err != nil {
			return nil, "", fmt.Errorf("log dir %s: %w", dir, err)
		}
		if !found {
			return nil, "", fmt.Errorf("log dir %s is not formatted (no %s): run `weir storage format`", dir, MetaPropertiesFile)
		}
		if m.ClusterID == "" {
			return nil, "", fmt.Errorf("log dir %s: %s has no cluster.id", dir, MetaPropertiesFile)
		}
		if m.NodeID < 0 {
			return nil, "", fmt.Errorf("log dir %s: %s has no node id", dir, MetaPropertiesFile)
		}
		switch {
		case clusterID == "":
			clusterID, clusterDir = m.ClusterID, dir
		case m.ClusterID != clusterID && clusterDir == "":
			return nil, "", fmt.Errorf("log dir %s is formatted for cluster %s, config expects %s", dir, m.ClusterID, clusterID)
		case m.ClusterID != clusterID:
			return nil, "", fmt.Errorf("log dir %s is formatted for cluster %s, but log dir %s is formatted for cluster %s", dir, m.ClusterID, clusterDir, clusterID)
		}
		if m.NodeID != nodeID {
			return nil, "", fmt.Errorf("log dir %s is formatted for node %d, config has node.id %d: if you moved your data, make sure the configured node id matches", dir, m.NodeID, nodeID)
		}
		if m.DirectoryID != uuid.Zero {
			if other, dup := seenIDs[m.DirectoryID]; dup {
				return nil, "", fmt.Errorf("log dirs %s and %s have the same directory.id %s", other, dir, m.DirectoryID)
			}
			seenIDs[m.DirectoryID] = dir
		}
		ids = append(ids, LogDirIdentity{Dir: dir, Meta: m})
	}
	for i := range ids {
		if ids[i].Meta.DirectoryID != uuid.Zero {
			continue
		}
		if random == nil {
			return nil, "", fmt.Errorf("log dir %s has no directory.id and no random source was given to assign one", ids[i].Dir)
		}
		id, err := freshDirectoryID(random, seenIDs)
		if err != nil {
			return nil, "", fmt.Errorf("log dir %s: %w", ids[i].Dir, err)
		}
		seenIDs[id] = ids[i].Dir
		ids[i].Meta.DirectoryID = id
		if err := WriteMetaProperties(fsys, ids[i].Dir, ids[i].Meta, 0); err != nil {
			return nil, "", err
		}
	}
	return ids, clusterID, nil
}

// ignorableInUnformattedDir are entries an unformatted directory may hold and still count as
// empty: a lock file from an earlier start, and a meta.properties write cut short by a crash.
var ignorableInUnformattedDir = map[string]bool{lockFile: true, MetaPropertiesFile + ".tmp": true}

// EnsureFormatted is how the embedded single-node default formats itself on first start:
// directories that are missing or empty get a meta.properties for the cluster the formatted
// directories belong to (a new cluster id if none is formatted yet); then
// CheckMetaProperties runs. An unformatted directory that holds data is an error: formatting
// it could adopt another cluster's partitions.
func EnsureFormatted(fsys diskio.FS, logDirs []string, nodeID int32, random io.Reader) ([]LogDirIdentity, string, error) {
	if err := checkDistinctDirs(logDirs); err != nil {
		return nil, "", err
	}
	clusterID := ""
	var unformatted []string
	for _, dir := range logDirs {
		m, found, err := ReadMetaProperties(fsys, dir)
		if err != nil {
			return nil, "", fmt.Errorf("log dir %s: %w", dir, err)
		}
		if found {
			if clusterID == "" {
				clusterID = m.ClusterID
			}
			continue
		}
		names, err := fsys.List(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("list log dir %s: %w", dir, err)
		}
		for _, name := range names {
			if !ignorableInUnformattedDir[name] {
				return nil, "", fmt.Errorf("log dir %s is not formatted but is not empty (it holds %s): refusing to format it; run `weir storage format` or empty it", dir, name)
			}
		}
		unformatted = append(unformatted, dir)
	}
	if len(unformatted) > 0 {
		if clusterID == "" {
			id, err := uuid.Random(random)
			if err != nil {
				return nil, "", err
			}
			clusterID = id.String()
		}
		// Existing directories are validated by CheckMetaProperties below, with a clearer error.
		if _, err := Format(fsys, unformatted, clusterID, nodeID, random, FormatOptions{}); err != nil {
			return nil, "", err
		}
	}
	return CheckMetaProperties(fsys, logDirs, "", nodeID, random)
}
