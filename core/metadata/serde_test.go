package metadata

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/weirdata/weir/core/uuid"
)

func strPtr(s string) *string { return &s }

func mustUUID(t *testing.T, s string) UUID {
	t.Helper()
	u, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// sampleRecords holds one record of every type and version, with every optional field set where
// the version carries it.
func sampleRecords(t *testing.T) []Record {
	topicID := mustUUID(t, "xOxBrcYuSRWgtFuZIBiXIA")
	dir := mustUUID(t, "uHY7hO6-42Q7O4k0zLMmtg")
	var out []Record
	for v := int16(0); v <= 3; v++ {
		r := &RegisterBrokerRecord{
			Version: v, BrokerID: 3, IncarnationID: mustUUID(t, "5TICkSDlQOGOHY-sn-TtDw"), BrokerEpoch: 53,
			EndPoints: []BrokerEndpoint{{Name: "PLAINTEXT", Host: "localhost", Port: 9092, SecurityProtocol: 0}},
			Features:  []BrokerFeature{{Name: "metadata.version", MinSupportedVersion: 1, MaxSupportedVersion: 21}},
			Rack:      strPtr("rack-1"), Fenced: true,
		}
		if v >= 1 {
			r.InControlledShutdown = true
		}
		if v >= 2 {
			r.IsMigratingZkBroker = true
		}
		if v >= 3 {
			r.LogDirs = []UUID{dir}
		}
		out = append(out, r)
	}
	for v := int16(0); v <= 2; v++ {
		r := &PartitionRecord{
			Version: v, PartitionID: 7, TopicID: topicID, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2},
			RemovingReplicas: []int32{3}, AddingReplicas: nil, Leader: 1, LeaderRecoveryState: 1,
			LeaderEpoch: 4, PartitionEpoch: 9,
		}
		if v >= 1 {
			r.Directories = []UUID{dir, DirectoryUnassigned, dir}
		}
		if v >= 2 {
			r.EligibleLeaderReplicas = []int32{3}
			r.LastKnownELR = []int32{}
		}
		out = append(out, r)

		c := NewPartitionChangeRecord(topicID, 7)
		c.Version = v
		c.ISR = []int32{1}
		c.Leader = NoLeader
		c.Replicas = []int32{1, 2}
		c.RemovingReplicas = []int32{}
		c.AddingReplicas = []int32{2}
		c.LeaderRecoveryState = 0
		if v >= 1 {
			c.Directories = []UUID{dir, dir}
		}
		if v >= 2 {
			c.EligibleLeaderReplicas = []int32{2}
			c.LastKnownELR = []int32{1}
		}
		out = append(out, c, NewPartitionChangeRecord(topicID, 0))
	}
	for v := int16(0); v <= brokerRegistrationChangeRecordVersionMax; v++ {
		r := &BrokerRegistrationChangeRecord{Version: v, BrokerID: 3, BrokerEpoch: 53, Fenced: FencingChangeUnfence}
		if v >= 1 {
			r.InControlledShutdown = ControlledShutdownChangeEnter
		}
		if v >= 2 {
			r.LogDirs = []UUID{dir, DirectoryUnassigned}
		}
		out = append(out, r, &BrokerRegistrationChangeRecord{Version: v, BrokerID: 4, BrokerEpoch: 7})
	}
	return append(out,
		&UnregisterBrokerRecord{BrokerID: 3, BrokerEpoch: 53},
		&FenceBrokerRecord{ID: 2, Epoch: 12},
		&UnfenceBrokerRecord{ID: 2, Epoch: 12},
		&TopicRecord{Name: "my-topic", TopicID: topicID},
		&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "my-topic", Name: "retention.ms", Value: strPtr("100000")},
		&ConfigRecord{ResourceType: ResourceBroker, ResourceName: "", Name: "log.retention.ms"},
		&RemoveTopicRecord{TopicID: topicID},
		&FeatureLevelRecord{Name: "metadata.version", FeatureLevel: 21},
		&ProducerIdsRecord{BrokerID: 1, BrokerEpoch: 5, NextProducerID: 2000},
	)
}

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range sampleRecords(t) {
		b, err := EncodeRecord(r)
		if err != nil {
			t.Fatalf("encode %#v: %v", r, err)
		}
		got, err := DecodeRecord(b)
		if err != nil {
			t.Fatalf("decode %s v%d (%x): %v", r.Type(), r.recordVersion(), b, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("%s v%d round trip:\n got %#v\nwant %#v", r.Type(), r.recordVersion(), got, r)
		}
		again, err := EncodeRecord(got)
		if err != nil || !bytes.Equal(again, b) {
			t.Errorf("%s v%d re-encodes differently: %x vs %x (%v)", r.Type(), r.recordVersion(), again, b, err)
		}
	}
}

// TestKafkaValueSizes checks encodings against the valueSize kafka-dump-log printed for records
// Kafka 3.7 wrote (Strimzi's "KRaft metadata log" write-up): the sizes pin field order, which
// fields are tagged, and the tagged section layout.
func TestKafkaValueSizes(t *testing.T) {
	host := "my-cluster-broker-3.my-cluster-kafka-brokers.myproject.svc"
	topicID := mustUUID(t, "xOxBrcYuSRWgtFuZIBiXIA")
	cases := []struct {
		r         Record
		sizeBytes int
	}{
		{&RegisterBrokerRecord{
			Version: 3, BrokerID: 3, IncarnationID: mustUUID(t, "5TICkSDlQOGOHY-sn-TtDw"), BrokerEpoch: 53,
			EndPoints: []BrokerEndpoint{
				{Name: "REPLICATION-9091", Host: host, Port: 9091, SecurityProtocol: 1},
				{Name: "PLAIN-9092", Host: host, Port: 9092, SecurityProtocol: 0},
				{Name: "TLS-9093", Host: host, Port: 9093, SecurityProtocol: 1},
			},
			Features: []BrokerFeature{{Name: "metadata.version", MinSupportedVersion: 1, MaxSupportedVersion: 19}},
			Fenced:   true,
			LogDirs:  []UUID{mustUUID(t, "uHY7hO6-42Q7O4k0zLMmtg")},
		}, 308},
		{&TopicRecord{Name: "my-topic", TopicID: topicID}, 29},
		{&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "my-topic", Name: "retention.ms", Value: strPtr("100000")}, 34},
		{&PartitionRecord{
			Version: 1, PartitionID: 0, TopicID: topicID, Replicas: []int32{5, 3, 4}, ISR: []int32{5, 3, 4},
			Leader: 5, LeaderEpoch: 0, PartitionEpoch: 0, Directories: make([]UUID, 3),
		}, 113},
	}
	for _, c := range cases {
		b, err := EncodeRecord(c.r)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != c.sizeBytes {
			t.Errorf("%s: %d bytes, Kafka wrote %d", c.r.Type(), len(b), c.sizeBytes)
		}
	}
}

// TestTopicRecordBytes pins one encoding byte for byte (MetadataRecordSerde framing).
func TestTopicRecordBytes(t *testing.T) {
	b, err := EncodeRecord(&TopicRecord{Name: "t", TopicID: UUID{0: 0xaa, 15: 0xbb}})
	if err != nil {
		t.Fatal(err)
	}
	// frame 1, api key 2, version 0, compact "t", the uuid, no tagged fields.
	want := "010200" + "0274" + "aa0000000000000000000000000000bb" + "00"
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("got %s want %s", got, want)
	}
}

// TestBrokerLifecycleRecordBytes pins the broker-lifecycle records byte for byte: fixed fields,
// then the tagged section with only the fields that are set, in tag order.
func TestBrokerLifecycleRecordBytes(t *testing.T) {
	cases := []struct {
		r    Record
		want string
	}{
		// frame 1, api key 17, version 0, broker 5, epoch 300, one tag: 0 of 1 byte, -1 (unfence).
		{NewBrokerUnfenceRecord(5, 300), "011100" + "00000005" + "000000000000012c" + "01" + "0001ff"},
		{NewBrokerFenceRecord(5, 300), "011100" + "00000005" + "000000000000012c" + "01" + "000101"},
		// version 1, tag 1 of 1 byte: 1 (enter controlled shutdown).
		{NewBrokerControlledShutdownRecord(5, 300), "011101" + "00000005" + "000000000000012c" + "01" + "010101"},
		// version 2, no change at all: no tagged fields.
		{&BrokerRegistrationChangeRecord{Version: 2, BrokerID: 5, BrokerEpoch: 300}, "011102" + "00000005" + "000000000000012c" + "00"},
		// version 2, tag 2 of 17 bytes: a compact array of one uuid.
		{&BrokerRegistrationChangeRecord{Version: 2, BrokerID: 5, BrokerEpoch: 300, LogDirs: []UUID{{15: 9}}},
			"011102" + "00000005" + "000000000000012c" + "01" + "0211" + "02" + "00000000000000000000000000000009"},
		{NewUnregisterBrokerRecord(5, 300), "010100" + "00000005" + "000000000000012c" + "00"},
		{&FenceBrokerRecord{ID: 5, Epoch: 300}, "010700" + "00000005" + "000000000000012c" + "00"},
		{&UnfenceBrokerRecord{ID: 5, Epoch: 300}, "010800" + "00000005" + "000000000000012c" + "00"},
	}
	for _, c := range cases {
		b, err := EncodeRecord(c.r)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b); got != c.want {
			t.Errorf("%s v%d: got %s want %s", c.r.Type(), c.r.recordVersion(), got, c.want)
		}
	}
	// A v0 change carrying tag 1 (a v1 field) is corrupt, as Kafka's reader throws; an undefined
	// tag (9) is skipped.
	value, _ := hex.DecodeString("011100" + "00000005" + "000000000000012c" + "01" + "010101")
	if r, err := DecodeRecord(value); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("tag 1 at v0: %#v, %v", r, err)
	}
	value, _ = hex.DecodeString("011100" + "00000005" + "000000000000012c" + "01" + "090101")
	if r, err := DecodeRecord(value); err != nil || r.(*BrokerRegistrationChangeRecord).BrokerID != 5 {
		t.Fatalf("undefined tag 9: %#v, %v", r, err)
	}
	// The same for the older types: encode at the version with the tag, then relabel the bytes
	// with the version before it (the fixed fields are the same).
	change := NewPartitionChangeRecord(UUID{1: 1}, 0)
	change.Directories = []UUID{{}}
	for _, c := range []struct {
		r       Record
		version byte
	}{
		{&RegisterBrokerRecord{Version: 3, LogDirs: []UUID{{}}}, 2},
		{&PartitionRecord{Version: 2, Replicas: []int32{1}, EligibleLeaderReplicas: []int32{1}}, 1},
		{change, 0},
	} {
		value, err := EncodeRecord(c.r)
		if err != nil {
			t.Fatal(err)
		}
		value[2] = c.version
		if r, err := DecodeRecord(value); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("%s with a later version's tag at v%d: %#v, %v", c.r.Type(), c.version, r, err)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	cases := []struct {
		name string
		r    Record
	}{
		{"version too high", &TopicRecord{Version: 1, Name: "t"}},
		{"negative version", &PartitionRecord{Version: -1}},
		{"directories at v0", &PartitionRecord{Version: 0, Directories: []UUID{{}}}},
		{"elr at v1", &PartitionRecord{Version: 1, EligibleLeaderReplicas: []int32{}}},
		{"log dirs at v2", &RegisterBrokerRecord{Version: 2, LogDirs: []UUID{{}}}},
		{"controlled shutdown at v0", &RegisterBrokerRecord{Version: 0, InControlledShutdown: true}},
		{"change directories at v0", &PartitionChangeRecord{Version: 0, Leader: NoLeaderChange, Directories: []UUID{}}},
		{"long string", &TopicRecord{Name: strings.Repeat("x", 1<<15)}},
		{"controlled shutdown change at v0", &BrokerRegistrationChangeRecord{Version: 0, InControlledShutdown: 1}},
		{"registration log dirs at v1", &BrokerRegistrationChangeRecord{Version: 1, LogDirs: []UUID{{}}}},
		{"registration change v3", &BrokerRegistrationChangeRecord{Version: 3}},
		{"fence v1", &FenceBrokerRecord{Version: 1}},
	}
	for _, c := range cases {
		if b, err := EncodeRecord(c.r); err == nil {
			t.Errorf("%s: encoded %x, want an error", c.name, b)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good, err := EncodeRecord(&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "t", Name: "k", Value: strPtr("v")})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		value []byte
		want  error
	}{
		{"null", nil, ErrCorruptRecord},
		{"empty", []byte{}, ErrCorruptRecord},
		{"frame version 0", append([]byte{0}, good[1:]...), ErrCorruptRecord},
		{"unknown api key", []byte{1, 99, 0, 0}, ErrUnknownRecordType},
		{"unknown version", []byte{1, 2, 5, 2, 't', 0}, ErrCorruptRecord},
		{"truncated", good[:len(good)-1], ErrCorruptRecord},
		{"trailing byte", append(append([]byte{}, good...), 0), ErrCorruptRecord},
		{"null non-nullable name", []byte{1, 2, 0, 0}, ErrCorruptRecord},
		{"varint too long", []byte{1, 0xff, 0xff, 0xff, 0xff, 0x7f}, ErrCorruptRecord},
		{"huge array length", []byte{1, 3, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, ErrCorruptRecord},
	}
	for _, c := range cases {
		r, err := DecodeRecord(c.value)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %#v, %v; want %v", c.name, r, err, c.want)
		}
	}
}

func TestDecodeTaggedFields(t *testing.T) {
	// A PartitionChangeRecord v0 with an unknown tag 9 (skipped), then leader 4 (tag 1).
	value := []byte{1, 5, 0, 0, 0, 0, 2}
	value = append(value, make([]byte, 16)...)
	value = append(value, 2, 1, 4, 0, 0, 0, 4, 9, 1, 0xee)
	r, err := DecodeRecord(value)
	if err != nil {
		t.Fatal(err)
	}
	if c := r.(*PartitionChangeRecord); c.Leader != 4 || c.PartitionID != 2 || c.ISR != nil {
		t.Fatalf("got %#v", c)
	}
	// The same field twice is corrupt, as is a tagged value with bytes left over.
	dup := append(append([]byte{}, value[:len(value)-10]...), 2, 1, 4, 0, 0, 0, 4, 1, 4, 0, 0, 0, 5)
	if _, err := DecodeRecord(dup); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("duplicate tag: %v", err)
	}
	long := append(append([]byte{}, value[:len(value)-10]...), 1, 1, 5, 0, 0, 0, 4, 0)
	if _, err := DecodeRecord(long); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("tagged value with leftover bytes: %v", err)
	}
}

func TestDecodeForDump(t *testing.T) {
	b, err := EncodeRecord(&TopicRecord{Name: "my-topic", TopicID: mustUUID(t, "xOxBrcYuSRWgtFuZIBiXIA")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeForDump(b)
	if err != nil {
		t.Fatal(err)
	}
	// kafka-dump-log's line for the same record.
	want := `{"type":"TOPIC_RECORD","version":0,"data":{"name":"my-topic","topicId":"xOxBrcYuSRWgtFuZIBiXIA"}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	b, _ = EncodeRecord(&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "my-topic", Name: "a\"b", Value: nil})
	got, err = DecodeForDump(b)
	want = `{"type":"CONFIG_RECORD","version":0,"data":{"resourceType":2,"resourceName":"my-topic","name":"a\"b","value":null}}`
	if err != nil || got != want {
		t.Errorf("got  %s (%v)\nwant %s", got, err, want)
	}
	for _, r := range sampleRecords(t) {
		b, _ := EncodeRecord(r)
		line, err := DecodeForDump(b)
		if err != nil || strings.ContainsAny(line, "\n") || !strings.HasPrefix(line, `{"type":"`+r.Type().String()) {
			t.Errorf("%s: %q %v", r.Type(), line, err)
		}
	}
	if _, err := DecodeForDump([]byte{1}); err == nil {
		t.Error("DecodeForDump accepted a truncated record")
	}
}

func TestUUIDString(t *testing.T) {
	u := mustUUID(t, "xOxBrcYuSRWgtFuZIBiXIA")
	if u.String() != "xOxBrcYuSRWgtFuZIBiXIA" {
		t.Fatal(u.String())
	}
	if uuid.One.String() != "AAAAAAAAAAAAAAAAAAAAAQ" || uuid.Zero.String() != "AAAAAAAAAAAAAAAAAAAAAA" {
		t.Fatal(uuid.One, uuid.Zero)
	}
	if _, err := uuid.Parse("short"); err == nil {
		t.Fatal("ParseUUID accepted a short string")
	}
}
