package metadata

// The broker-lifecycle records beside RegisterBrokerRecord (KIP-631): unregister, fence,
// unfence, and the registration change that replaced fence and unfence from metadata.version
// 3.3-IV2 on. Schemas: metadata/src/main/resources/common/metadata in apache/kafka; all are
// flexible from version 0.

// BrokerRegistrationChangeRecord.Fenced values (Kafka's BrokerRegistrationFencingChange).
const (
	FencingChangeUnfence int8 = -1 // the broker is unfenced
	FencingChangeNone    int8 = 0  // no change
	FencingChangeFence   int8 = 1  // the broker is fenced
)

// BrokerRegistrationChangeRecord.InControlledShutdown values (Kafka's
// BrokerRegistrationInControlledShutdownChange): once in controlled shutdown, a registration
// leaves it only by being replaced.
const (
	ControlledShutdownChangeNone  int8 = 0
	ControlledShutdownChangeEnter int8 = 1
)

// brokerRegistrationChangeRecordVersionMax is the newest version Weir reads and writes.
const brokerRegistrationChangeRecordVersionMax = 2

// --- UnregisterBrokerRecord (api key 1) ---

// UnregisterBrokerRecord removes the registration of a broker at an epoch.
type UnregisterBrokerRecord struct {
	Version     int16
	BrokerID    int32
	BrokerEpoch int64
}

func (*UnregisterBrokerRecord) Type() RecordType       { return UnregisterBrokerRecordType }
func (r *UnregisterBrokerRecord) recordVersion() int16 { return r.Version }

func (r *UnregisterBrokerRecord) appendBody(w *writer) error {
	w.int32(r.BrokerID)
	w.int64(r.BrokerEpoch)
	w.tagged()
	return nil
}

func (r *UnregisterBrokerRecord) readBody(rd *reader, v int16) {
	*r = UnregisterBrokerRecord{Version: v}
	r.BrokerID = rd.int32()
	r.BrokerEpoch = rd.int64()
	rd.noTags()
}

// --- FenceBrokerRecord (api key 7) ---

// FenceBrokerRecord fences a broker at an epoch; written before metadata.version 3.3-IV2,
// replayed for logs that hold it.
type FenceBrokerRecord struct {
	Version int16
	ID      int32
	Epoch   int64
}

func (*FenceBrokerRecord) Type() RecordType       { return FenceBrokerRecordType }
func (r *FenceBrokerRecord) recordVersion() int16 { return r.Version }

func (r *FenceBrokerRecord) appendBody(w *writer) error {
	w.int32(r.ID)
	w.int64(r.Epoch)
	w.tagged()
	return nil
}

func (r *FenceBrokerRecord) readBody(rd *reader, v int16) {
	*r = FenceBrokerRecord{Version: v}
	r.ID = rd.int32()
	r.Epoch = rd.int64()
	rd.noTags()
}

// --- UnfenceBrokerRecord (api key 8) ---

// UnfenceBrokerRecord unfences a broker at an epoch; like FenceBrokerRecord, only read.
type UnfenceBrokerRecord struct {
	Version int16
	ID      int32
	Epoch   int64
}

func (*UnfenceBrokerRecord) Type() RecordType       { return UnfenceBrokerRecordType }
func (r *UnfenceBrokerRecord) recordVersion() int16 { return r.Version }

func (r *UnfenceBrokerRecord) appendBody(w *writer) error {
	w.int32(r.ID)
	w.int64(r.Epoch)
	w.tagged()
	return nil
}

func (r *UnfenceBrokerRecord) readBody(rd *reader, v int16) {
	*r = UnfenceBrokerRecord{Version: v}
	r.ID = rd.int32()
	r.Epoch = rd.int64()
	rd.noTags()
}

// --- BrokerRegistrationChangeRecord (api key 17) ---

// BrokerRegistrationChangeRecord changes a registration at an epoch: its fencing (Fenced, tag 0,
// one of the FencingChange values), its controlled shutdown (InControlledShutdown, tag 1, v1+)
// and its log directories (LogDirs, tag 2, v2+; empty means unchanged). Every tagged field
// defaults to "no change" and is written only when set, as Kafka does.
type BrokerRegistrationChangeRecord struct {
	Version              int16
	BrokerID             int32
	BrokerEpoch          int64
	Fenced               int8   // tag 0
	InControlledShutdown int8   // tag 1, v1+
	LogDirs              []UUID // tag 2, v2+
}

func (*BrokerRegistrationChangeRecord) Type() RecordType       { return BrokerRegistrationChangeRecordType }
func (r *BrokerRegistrationChangeRecord) recordVersion() int16 { return r.Version }

func (r *BrokerRegistrationChangeRecord) appendBody(w *writer) error {
	t, v := r.Type(), r.Version
	if v < 1 && r.InControlledShutdown != 0 {
		return unrepresentable(t, v, "InControlledShutdown")
	}
	if v < 2 && len(r.LogDirs) > 0 {
		return unrepresentable(t, v, "LogDirs")
	}
	w.int32(r.BrokerID)
	w.int64(r.BrokerEpoch)
	var tags []taggedField
	if r.Fenced != 0 {
		tags = append(tags, taggedField{0, func(w *writer) { w.int8(r.Fenced) }})
	}
	if r.InControlledShutdown != 0 {
		tags = append(tags, taggedField{1, func(w *writer) { w.int8(r.InControlledShutdown) }})
	}
	if len(r.LogDirs) > 0 {
		tags = append(tags, taggedField{2, func(w *writer) { w.compactUUIDs(r.LogDirs) }})
	}
	w.tagged(tags...)
	return nil
}

func (r *BrokerRegistrationChangeRecord) readBody(rd *reader, v int16) {
	*r = BrokerRegistrationChangeRecord{Version: v}
	r.BrokerID = rd.int32()
	r.BrokerEpoch = rd.int64()
	rd.tagged(func(tag uint32, f *reader) bool {
		switch {
		case tag == 0:
			r.Fenced = f.int8()
		case tag == 1 && v < 1, tag == 2 && v < 2:
			f.fail("tag %d is not valid for version %d", tag, v)
		case tag == 1:
			r.InControlledShutdown = f.int8()
		case tag == 2:
			r.LogDirs = f.compactUUIDs("LogDirs")
			if len(r.LogDirs) == 0 {
				// Kafka writes the field only when non-empty; an empty one reads as absent so
				// that the record re-encodes to the same bytes.
				r.LogDirs = nil
			}
		default:
			return false
		}
		return true
	})
}
