package metadata

import (
	"encoding/hex"
	"fmt"
)

// DecodeControlForDump describes one control record of a metadata log or snapshot (a record of a
// batch whose control bit is set) as one line of JSON: snapshot header and footer and KRaft
// leader changes are decoded; other control types print their value in hex.
func DecodeControlForDump(key, value []byte) (string, error) {
	controlType, err := parseControlKey(key)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrCorruptRecord, err)
	}
	var o, d jsonObject
	switch controlType {
	case controlSnapshotHeader:
		rd := &reader{b: value, what: "snapshot header"}
		version := rd.int16()
		lastContainedMs := rd.int64()
		rd.noTags()
		if err := finish(rd); err != nil {
			return "", err
		}
		o.str("type", "SNAPSHOT_HEADER")
		d.num("version", int64(version))
		d.num("lastContainedLogTimestamp", lastContainedMs)
	case controlSnapshotFooter:
		rd := &reader{b: value, what: "snapshot footer"}
		version := rd.int16()
		rd.noTags()
		if err := finish(rd); err != nil {
			return "", err
		}
		o.str("type", "SNAPSHOT_FOOTER")
		d.num("version", int64(version))
	case controlLeaderChange:
		// LeaderChangeMessage, versions 0-1 (flexible). Read here rather than with kmsg, whose
		// reader sizes arrays from the untrusted length before checking the bytes left.
		rd := &reader{b: value, what: "leader change"}
		version := rd.int16()
		if rd.err == nil && (version < 0 || version > 1) {
			rd.fail("version %d", version)
		}
		leaderID := rd.int32()
		voters := readVoters(rd, version, "Voters")
		granting := readVoters(rd, version, "GrantingVoters")
		rd.noTags()
		if err := finish(rd); err != nil {
			return "", err
		}
		o.str("type", "LEADER_CHANGE")
		d.num("version", int64(version))
		d.num("leaderId", int64(leaderID))
		d.raw("voters", voters)
		d.raw("grantingVoters", granting)
	default:
		o.str("type", fmt.Sprintf("CONTROL_TYPE_%d", controlType))
		d.str("value", hex.EncodeToString(value))
	}
	o.raw("data", d.String())
	return o.String(), nil
}

func finish(rd *reader) error {
	if rd.err != nil {
		return rd.err
	}
	if len(rd.b) != 0 {
		return fmt.Errorf("%w: %s: %d bytes left over", ErrCorruptRecord, rd.what, len(rd.b))
	}
	return nil
}

// readVoters reads a LeaderChangeMessage voter array (VoterId, v1+ VoterDirectoryId) as JSON.
func readVoters(rd *reader, version int16, field string) string {
	elementBytesMin := 5
	if version >= 1 {
		elementBytesMin += 16
	}
	n := rd.compactLength(elementBytesMin)
	if n < 0 && rd.err == nil {
		rd.fail("non-nullable field %s was null", field)
	}
	items := make([]string, 0, max(n, 0))
	for i := 0; i < n && rd.err == nil; i++ {
		var o jsonObject
		o.num("voterId", int64(rd.int32()))
		if version >= 1 {
			o.str("voterDirectoryId", rd.uuid().String())
		}
		rd.noTags()
		items = append(items, o.String())
	}
	return jsonArray(items)
}
