package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/weirdata/weir/diskio"
)

// BrokerEpochFile records in each log directory the broker epoch of the broker's last
// registration. The broker sends it as BrokerRegistration's PreviousBrokerEpoch, which tells
// the controller whether the broker comes back with the disk it registered with (KIP-966's
// unclean-shutdown detection): a new, wiped or replaced directory has no such file, so the
// broker sends -1 and the controller takes it out of every ISR and ELR. Kafka writes its epoch
// only at a clean shutdown (.kafka_cleanshutdown) because its logs may lose unflushed records
// to a power loss; a Weir replica counts only what it holds durably, so its disk, not the way
// it stopped, decides: a recovery that cuts synced records (found corrupt below the recovery
// point) removes the files at once, and the broker registers as back from an unclean restart.
const BrokerEpochFile = "broker-epoch-checkpoint"

const brokerEpochFileVersion = 0

// EncodeBrokerEpoch is the file's content: a version line, then the epoch.
func EncodeBrokerEpoch(epoch int64) []byte {
	return []byte(strconv.Itoa(brokerEpochFileVersion) + "\n" + strconv.FormatInt(epoch, 10) + "\n")
}

// DecodeBrokerEpoch parses the file's content; path names it in errors.
func DecodeBrokerEpoch(path string, data []byte) (int64, error) {
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	corrupt := func(reason string) error { return &CorruptCheckpointError{Path: path, Reason: reason} }
	if len(lines) != 2 {
		return -1, corrupt(fmt.Sprintf("%d lines, want a version and an epoch", len(lines)))
	}
	if v, err := strconv.Atoi(lines[0]); err != nil || v != brokerEpochFileVersion {
		return -1, corrupt(fmt.Sprintf("version %q, want %d", lines[0], brokerEpochFileVersion))
	}
	epoch, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || epoch < 0 {
		return -1, corrupt(fmt.Sprintf("epoch %q", lines[1]))
	}
	return epoch, nil
}

// readPreviousBrokerEpoch is the epoch every log directory recorded, -1 when one has none or
// they disagree (a directory replaced since). A file that cannot be read or parsed is a warning
// and reads as none: the broker then registers as back from an unclean restart, which costs
// it its ISR and ELR standing, never safety, so it is no reason to refuse to start.
func (m *Manager) readPreviousBrokerEpoch() int64 {
	previous := int64(-1)
	for i, id := range m.dirs {
		path := diskio.Join(id.Dir, BrokerEpochFile)
		data, err := diskio.ReadFile(m.fsys, path)
		if errors.Is(err, fs.ErrNotExist) {
			return -1
		}
		if err != nil {
			m.warnings = append(m.warnings, fmt.Errorf("read %s: %w; the broker registers as back from an unclean restart", path, err))
			return -1
		}
		epoch, err := DecodeBrokerEpoch(path, data)
		if err != nil {
			m.warnings = append(m.warnings, fmt.Errorf("%w; the broker registers as back from an unclean restart", err))
			return -1
		}
		if i > 0 && epoch != previous {
			return -1
		}
		previous = epoch
	}
	return previous
}

// PreviousBrokerEpoch is the broker epoch the log directories recorded when the manager was
// opened: -1 when they hold none (or not the same one).
func (m *Manager) PreviousBrokerEpoch() int64 { return m.previousBrokerEpoch }

// RecordBrokerEpoch sets the epoch BrokerEpochCheckpoints and Checkpoints write from now on:
// the broker's, once a registration is accepted.
func (m *Manager) RecordBrokerEpoch(epoch int64) { m.brokerEpoch = epoch }

// BrokerEpochCheckpoints are the BrokerEpochFile of every log directory, nil before
// RecordBrokerEpoch: a driver writes them as the other checkpoint files.
func (m *Manager) BrokerEpochCheckpoints() []CheckpointFile {
	if m.brokerEpoch < 0 {
		return nil
	}
	out := make([]CheckpointFile, 0, len(m.dirs))
	for _, id := range m.dirs {
		out = append(out, CheckpointFile{Dir: id.Dir, Name: BrokerEpochFile, Data: EncodeBrokerEpoch(m.brokerEpoch)})
	}
	return out
}

// UncleanRestartFile marks a log directory whose broker must come back as from an unclean
// restart: at runtime the broker found records damaged on disk below what its ISR or ELR
// standing vouches for, cut them, and stopped (MarkUnclean). The next start registers with
// PreviousBrokerEpoch -1, so the controller takes it out of every ISR and ELR, as after a lost
// disk. The broker epoch file cannot carry this: a checkpoint write already in flight in the
// driver when the broker stops could write the old epoch back.
const UncleanRestartFile = "unclean-restart-marker"

// MarkUnclean writes UncleanRestartFile into every log directory, durably, inline: the caller
// stops the broker next (a Fatal) and nothing else runs before.
func (m *Manager) MarkUnclean() error {
	m.brokerEpoch = -1 // no more epoch checkpoints from this process
	for _, id := range m.dirs {
		if err := diskio.WriteFileAtomic(m.fsys, id.Dir, UncleanRestartFile, []byte("0\n")); err != nil {
			return fmt.Errorf("mark %s for an unclean restart: %w", id.Dir, err)
		}
	}
	return nil
}

// takeUncleanMarker reports whether a log directory holds UncleanRestartFile; if one does, the
// broker epoch files are forgotten (durably) and then the markers removed (durably), so that
// every later start, until a registration records a new epoch, also reads as unclean.
func (m *Manager) takeUncleanMarker() (bool, error) {
	marked := false
	for _, id := range m.dirs {
		_, err := m.fsys.Stat(diskio.Join(id.Dir, UncleanRestartFile))
		if err == nil {
			marked = true
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("stat %s: %w", diskio.Join(id.Dir, UncleanRestartFile), err)
		}
	}
	if !marked {
		return false, nil
	}
	if err := m.forgetBrokerEpoch(); err != nil {
		return false, err
	}
	for _, id := range m.dirs {
		if err := m.fsys.Remove(diskio.Join(id.Dir, UncleanRestartFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("remove %s: %w", diskio.Join(id.Dir, UncleanRestartFile), err)
		}
		if err := diskio.SyncDir(m.fsys, id.Dir); err != nil {
			return false, fmt.Errorf("sync %s after removing %s: %w", id.Dir, UncleanRestartFile, err)
		}
	}
	return true, nil
}
