package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/weirdata/weir/core/uuid"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/diskio"
)

// MetaPropertiesFile is the name of the per-directory identity file.
const MetaPropertiesFile = "meta.properties"

// meta.properties keys (Kafka's MetaProperties).
const (
	metaVersionKey     = "version"
	metaClusterIDKey   = "cluster.id"
	metaNodeIDKey      = "node.id"
	metaBrokerIDKey    = "broker.id"
	metaDirectoryIDKey = "directory.id"
)

// MetaProperties is one log directory's meta.properties. Version 1 (KRaft) always has a
// cluster id and a node id; version 0 (ZooKeeper era) may lack either and names the node id
// broker.id.
type MetaProperties struct {
	Version     int    // 0 or 1
	ClusterID   string // "" if absent (version 0 only)
	NodeID      int32  // -1 if absent (version 0 only)
	DirectoryID UUID   // uuid.Zero if absent
}

// EncodeMetaProperties writes m as Kafka's PropertiesUtils.writePropertiesFile does:
// Properties.store with an empty comment ("#"), then a "#<date>" line, then key=value lines.
// Keys are in sorted order, as Java 18 and later store them. writtenAtMs (wall clock, ms)
// dates the second comment line as Java's Date.toString in UTC; 0 leaves that line out.
func EncodeMetaProperties(m MetaProperties, writtenAtMs int64) ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	values := map[string]string{metaVersionKey: strconv.Itoa(m.Version)}
	if m.ClusterID != "" {
		values[metaClusterIDKey] = m.ClusterID
	}
	if m.NodeID >= 0 {
		if m.Version == 0 {
			values[metaBrokerIDKey] = strconv.Itoa(int(m.NodeID))
		} else {
			values[metaNodeIDKey] = strconv.Itoa(int(m.NodeID))
		}
	}
	if m.DirectoryID != uuid.Zero {
		values[metaDirectoryIDKey] = m.DirectoryID.String()
	}
	keys := slices.Sorted(maps.Keys(values))
	header := []string{""}
	if writtenAtMs != 0 {
		header = append(header, time.UnixMilli(writtenAtMs).UTC().Format("Mon Jan 02 15:04:05 MST 2006"))
	}
	return config.FormatProperties(header, keys, values), nil
}

func (m MetaProperties) validate() error {
	switch {
	case m.Version != 0 && m.Version != 1:
		return fmt.Errorf("meta.properties version %d is not 0 or 1", m.Version)
	case m.Version == 1 && m.ClusterID == "":
		return errors.New("cluster.id was not found")
	case m.Version == 1 && m.NodeID < 0:
		return errors.New("node.id was not found")
	case m.DirectoryID != uuid.Zero && IsReservedDirectoryID(m.DirectoryID):
		return fmt.Errorf("directory.id %s is a reserved directory id", m.DirectoryID)
	}
	return nil
}

// DecodeMetaProperties parses meta.properties as Kafka's MetaProperties.Builder does: a
// missing version means 0; version 1 needs cluster.id and node.id; version 0 reads broker.id.
// path names the file in errors.
func DecodeMetaProperties(path string, data []byte) (MetaProperties, error) {
	props, err := config.ParseProperties(data)
	if err != nil {
		return MetaProperties{}, fmt.Errorf("%s: %w", path, err)
	}
	m := MetaProperties{NodeID: -1}
	versionText, ok := props.Get(metaVersionKey)
	if !ok {
		versionText = "0"
	}
	switch versionText {
	case "0":
		m.Version = 0
	case "1":
		m.Version = 1
	default:
		return MetaProperties{}, fmt.Errorf("%s: unknown meta.properties version %q", path, versionText)
	}
	readNodeID := func(key string) error {
		text, ok := props.Get(key)
		if !ok {
			return fmt.Errorf("%s: %s was not found", path, key)
		}
		n, err := strconv.ParseInt(text, 10, 32)
		if err != nil {
			return fmt.Errorf("%s: unable to read %s %q as a base-10 number", path, key, text)
		}
		if n < 0 {
			// A node id is never negative (node.id and broker.id require ≥ 0); -1 is this
			// struct's "absent", so a negative one would also not survive a round trip.
			return fmt.Errorf("%s: %s %d is negative", path, key, n)
		}
		m.NodeID = int32(n)
		return nil
	}
	if m.Version == 0 {
		if _, ok := props.Get(metaBrokerIDKey); ok {
			if err := readNodeID(metaBrokerIDKey); err != nil {
				return MetaProperties{}, err
			}
		}
	} else if err := readNodeID(metaNodeIDKey); err != nil {
		return MetaProperties{}, err
	}
	m.ClusterID, _ = props.Get(metaClusterIDKey)
	if text, ok := props.Get(metaDirectoryIDKey); ok {
		id, err := uuid.Parse(text)
		if err != nil {
			return MetaProperties{}, fmt.Errorf("%s: unable to read directory.id as a Uuid: %w", path, err)
		}
		m.DirectoryID = id
	}
	if err := m.validate(); err != nil {
		return MetaProperties{}, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ReadMetaProperties reads dir's meta.properties. A missing file (or dir) is found=false,
// not an error: the directory is unformatted.
func ReadMetaProperties(fsys diskio.FS, dir string) (m MetaProperties, found bool, err error) {
	path := diskio.Join(dir, MetaPropertiesFile)
	data, err := diskio.ReadFile(fsys, path)
	if errors.Is(err, fs.ErrNotExist) {
		return MetaProperties{}, false, nil
	}
	if err != nil {
		return MetaProperties{}, false, fmt.Errorf("read %s: %w", path, err)
	}
	m, err = DecodeMetaProperties(path, data)
	return m, err == nil, err
}

// WriteMetaProperties writes dir's meta.properties atomically and durably.
func WriteMetaProperties(fsys diskio.FS, dir string, m MetaProperties, writtenAtMs int64) error {
	data, err := EncodeMetaProperties(m, writtenAtMs)
	if err != nil {
		return fmt.Errorf("write %s: %w", diskio.Join(dir, MetaPropertiesFile), err)
	}
	if err := diskio.WriteFileAtomic(fsys, dir, MetaPropertiesFile, data); err != nil {
		return fmt.Errorf("write %s: %w", diskio.Join(dir, MetaPropertiesFile), err)
	}
	return nil
}
