package metadata

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/weirdata/weir/core/uuid"
)

// tb is what the test helpers need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

func apply(t tb, img *Image, records ...Record) *Image {
	t.Helper()
	next, err := img.Apply(records)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

func newTopic(t tb, name string, id UUID, replicas [][]int32, configs map[string]string) []Record {
	t.Helper()
	records, err := NewTopicRecords(name, id, replicas, configs)
	if err != nil {
		t.Fatal(err)
	}
	return records
}

func TestReplayTopicLifecycle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	idA, idB := uuid.FromRand(rng), uuid.FromRand(rng)
	img := apply(t, EmptyImage(), BootstrapRecords(MetadataVersionDefault)...)
	img = apply(t, img, NewRegisterBrokerRecord(1, 0, uuid.FromRand(rng), []BrokerEndpoint{{Name: "PLAINTEXT", Host: "h", Port: 9092}}, nil, nil, false))
	img = apply(t, img, newTopic(t, "b", idB, [][]int32{{1}}, nil)...)
	img = apply(t, img, newTopic(t, "a", idA, [][]int32{{1}, {1}}, map[string]string{"cleanup.policy": "compact"})...)

	if img.MetadataVersion() != MetadataVersionDefault {
		t.Fatalf("metadata.version %d", img.MetadataVersion())
	}
	if names := []string{img.Topics()[0].Name, img.Topics()[1].Name}; names[0] != "a" || names[1] != "b" {
		t.Fatalf("Topics not sorted: %v", names)
	}
	a, ok := img.TopicByName("a")
	if !ok || a.ID != idA || a.PartitionCount() != 2 {
		t.Fatalf("topic a: %+v %v", a, ok)
	}
	if byID, _ := img.TopicByID(idA); byID != a {
		t.Fatal("TopicByID and TopicByName disagree")
	}
	p, ok := img.Partition(idA, 1)
	if !ok || p.Leader != 1 || p.LeaderEpoch != 0 || p.PartitionEpoch != 0 || !reflect.DeepEqual(p.ISR, []int32{1}) {
		t.Fatalf("partition a-1: %+v", p)
	}
	if v, _ := img.ConfigValue(ResourceTopic, "a", "cleanup.policy"); v != "compact" {
		t.Fatalf("config %q", v)
	}
	if brokers := img.Brokers(); len(brokers) != 1 || brokers[0].ID != 1 || brokers[0].Fenced {
		t.Fatalf("brokers %+v", brokers)
	}

	removed := apply(t, img, NewRemoveTopicRecords(idA)...)
	if _, ok := removed.TopicByName("a"); ok {
		t.Fatal("topic a still there")
	}
	if _, ok := removed.TopicByID(idA); ok {
		t.Fatal("topic a still there by id")
	}
	if len(removed.Config(ResourceTopic, "a")) != 0 {
		t.Fatal("removing a topic kept its configs")
	}
	// Copy-on-write: the older image is untouched.
	if _, ok := img.TopicByName("a"); !ok || len(img.Config(ResourceTopic, "a")) != 1 {
		t.Fatal("replay changed an older image")
	}
	// A removed topic's name may be reused with a new id.
	apply(t, removed, newTopic(t, "a", uuid.FromRand(rng), [][]int32{{1}}, nil)...)
}

func TestReplayPartitionChange(t *testing.T) {
	id := UUID{1: 1}
	dirA, dirB := UUID{2: 2}, UUID{3: 3}
	img := apply(t, EmptyImage(), newTopic(t, "t", id, [][]int32{{1, 2, 3}}, nil)...)
	img = apply(t, img, &PartitionChangeRecord{
		Version: 1, TopicID: id, PartitionID: 0, Leader: NoLeaderChange, LeaderRecoveryState: NoLeaderRecoveryStateChange,
		Directories: []UUID{dirA, dirB, dirA},
	})
	before, _ := img.Partition(id, 0)

	shrink := NewPartitionChangeRecord(id, 0)
	shrink.ISR = []int32{1, 2}
	img2 := apply(t, img, shrink)
	p, _ := img2.Partition(id, 0)
	if p.LeaderEpoch != before.LeaderEpoch || p.PartitionEpoch != before.PartitionEpoch+1 || !reflect.DeepEqual(p.ISR, []int32{1, 2}) {
		t.Fatalf("isr shrink: %+v (before %+v)", p, before)
	}

	// Any leader field, even the same leader, bumps the leader epoch (Kafka's merge).
	img3 := apply(t, img2, NewLeaderChangeRecord(id, 0, 1, nil))
	p3, _ := img3.Partition(id, 0)
	if p3.LeaderEpoch != p.LeaderEpoch+1 || p3.PartitionEpoch != p.PartitionEpoch+1 {
		t.Fatalf("leader epoch not bumped: %+v", p3)
	}

	// New replicas keep kept replicas' directories; new ones are unassigned.
	reassign := NewPartitionChangeRecord(id, 0)
	reassign.Replicas = []int32{3, 1, 4}
	reassign.ISR = []int32{1}
	p4, _ := apply(t, img3, reassign).Partition(id, 0)
	if !reflect.DeepEqual(p4.Directories, []UUID{dirA, dirA, DirectoryUnassigned}) {
		t.Fatalf("directories %v", p4.Directories)
	}
	if before.PartitionEpoch != 1 {
		t.Fatalf("directory change did not bump the partition epoch: %+v", before)
	}
}

func TestReplayRejects(t *testing.T) {
	id := UUID{1: 1}
	base := apply(t, EmptyImage(), append(BootstrapRecords(MetadataVersionDefault),
		append(newTopic(t, "t", id, [][]int32{{1, 2}}, nil), &ProducerIdsRecord{NextProducerID: 1000})...)...)
	leader := func(l int32) Record { return NewLeaderChangeRecord(id, 0, l, nil) }
	isr := func(isr ...int32) Record {
		r := NewPartitionChangeRecord(id, 0)
		r.ISR = isr
		return r
	}
	cases := []struct {
		name string
		r    Record
	}{
		{"nil record", nil},
		{"duplicate topic name", &TopicRecord{Name: "t", TopicID: UUID{9: 9}}},
		{"duplicate topic id", &TopicRecord{Name: "u", TopicID: id}},
		{"zero topic id", &TopicRecord{Name: "u"}},
		{"metadata topic id", &TopicRecord{Name: "u", TopicID: uuid.One}},
		{"bad topic name", &TopicRecord{Name: "a/b", TopicID: UUID{9: 9}}},
		{"dot topic name", &TopicRecord{Name: "..", TopicID: UUID{9: 9}}},
		{"partition of unknown topic", &PartitionRecord{TopicID: UUID{9: 9}, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}},
		{"duplicate partition", &PartitionRecord{TopicID: id, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}},
		{"negative partition", &PartitionRecord{PartitionID: -1, TopicID: id, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}},
		{"no replicas", &PartitionRecord{PartitionID: 1, TopicID: id, Leader: -1}},
		{"duplicate replica", &PartitionRecord{PartitionID: 1, TopicID: id, Replicas: []int32{1, 1}, ISR: []int32{1}, Leader: 1}},
		{"isr outside replicas", &PartitionRecord{PartitionID: 1, TopicID: id, Replicas: []int32{1}, ISR: []int32{1, 2}, Leader: 1}},
		{"leader outside isr", &PartitionRecord{PartitionID: 1, TopicID: id, Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 2}},
		{"directories mismatch", &PartitionRecord{Version: 1, PartitionID: 1, TopicID: id, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1, Directories: []UUID{{}, {}}}},
		{"change of unknown partition", NewLeaderChangeRecord(id, 5, 1, nil)},
		{"change of unknown topic", NewLeaderChangeRecord(UUID{9: 9}, 0, 1, nil)},
		{"leader change outside isr", leader(7)},
		{"isr without leader", isr(2)},
		{"remove unknown topic", &RemoveTopicRecord{TopicID: UUID{9: 9}}},
		{"config of unknown topic", &ConfigRecord{ResourceType: ResourceTopic, ResourceName: "nope", Name: "k", Value: strPtr("v")}},
		{"config of unknown resource type", &ConfigRecord{ResourceType: 3, ResourceName: "x", Name: "k", Value: strPtr("v")}},
		{"empty config name", &ConfigRecord{ResourceType: ResourceBroker, Name: "", Value: strPtr("v")}},
		{"producer ids backwards", &ProducerIdsRecord{NextProducerID: 999}},
		{"producer ids in place", &ProducerIdsRecord{NextProducerID: 1000}},
		{"metadata.version removed", &FeatureLevelRecord{Name: MetadataVersionFeature, FeatureLevel: 0}},
		{"negative broker id", &RegisterBrokerRecord{BrokerID: -1}},
	}
	for _, c := range cases {
		b := base.NewBuilder()
		err := b.Replay(c.r)
		if !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: got %v, want ErrInvalidRecord", c.name, err)
			continue
		}
		if !b.Build().Equal(base) {
			t.Errorf("%s: a refused record changed the builder", c.name)
		}
	}
	// Apply is all or nothing.
	if img, err := base.Apply([]Record{&ProducerIdsRecord{NextProducerID: 2000}, &RemoveTopicRecord{TopicID: UUID{9: 9}}}); err == nil || img != nil {
		t.Fatalf("Apply with a bad record: %v, %v", img, err)
	}
	if base.NextProducerID() != 1000 {
		t.Fatal("failed Apply changed the base image")
	}
}

func TestReplayConfigs(t *testing.T) {
	img := apply(t, EmptyImage(), mustConfigRecords(t, ResourceBroker, "", map[string]string{"a": "1", "b": "2"}, nil)...)
	img = apply(t, img, mustConfigRecords(t, ResourceBroker, "", map[string]string{"a": "3"}, []string{"b", "never-set"})...)
	if got := img.Config(ResourceBroker, ""); !reflect.DeepEqual(got, map[string]string{"a": "3"}) {
		t.Fatalf("configs %v", got)
	}
	img = apply(t, img, mustConfigRecords(t, ResourceBroker, "", nil, []string{"a"})...)
	if len(img.ConfigResources()) != 0 {
		t.Fatalf("empty resource kept: %v", img.ConfigResources())
	}
	if got := img.Config(ResourceBroker, ""); got == nil || len(got) != 0 {
		t.Fatalf("Config of a resource with none: %#v", got)
	}
}

func mustConfigRecords(t *testing.T, rt ResourceType, name string, set map[string]string, deletes []string) []Record {
	t.Helper()
	records, err := NewConfigRecords(rt, name, set, deletes)
	if err != nil {
		t.Fatal(err)
	}
	return records
}

func TestImageRecordsRecreateImage(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	img := apply(t, EmptyImage(), BootstrapRecords(MetadataVersionDefault)...)
	img = apply(t, img, &FeatureLevelRecord{Name: "transaction.version", FeatureLevel: 2})
	img = apply(t, img, NewRegisterBrokerRecord(2, 7, uuid.FromRand(rng), nil, strPtr("r1"), []UUID{uuid.FromRand(rng)}, true))
	id := uuid.FromRand(rng)
	img = apply(t, img, newTopic(t, "x", id, [][]int32{{2}, {2}}, map[string]string{"retention.ms": "5"})...)
	elr := NewPartitionChangeRecord(id, 1)
	elr.Version = 2
	elr.EligibleLeaderReplicas = []int32{}
	elr.LastKnownELR = []int32{2}
	img = apply(t, img, elr, NewProducerIdsRecord(2, 7, 1000))
	again := apply(t, EmptyImage(), img.Records()...)
	if !again.Equal(img) {
		t.Fatal("image rebuilt from its records differs")
	}
	if !reflect.DeepEqual(again.Topics()[0].Partitions(), img.Topics()[0].Partitions()) {
		t.Fatalf("partitions differ:\n%+v\n%+v", again.Topics()[0].Partitions()[1], img.Topics()[0].Partitions()[1])
	}
	if first := img.Records()[0].(*FeatureLevelRecord); first.Name != MetadataVersionFeature {
		t.Fatalf("snapshot must start with metadata.version, starts with %s", first.Name)
	}
}

func TestReplayBrokerLifecycle(t *testing.T) {
	dirA, dirB := UUID{2: 2}, UUID{3: 3}
	img := apply(t, EmptyImage(), BootstrapRecords(MetadataVersionDefault)...)
	img = apply(t, img, NewRegisterBrokerRecord(1, 10, UUID{1: 1}, nil, nil, []UUID{dirA}, true))
	state := func(img *Image) (fenced, shuttingDown bool, dirs []UUID) {
		t.Helper()
		b, ok := img.Broker(1)
		if !ok {
			t.Fatal("broker 1 not registered")
		}
		return b.Fenced, b.InControlledShutdown, b.LogDirs
	}
	steps := []struct {
		name                 string
		r                    Record
		fenced, shuttingDown bool
		dirs                 []UUID
	}{
		{"unfence", NewBrokerUnfenceRecord(1, 10), false, false, []UUID{dirA}},
		{"no-op change", &BrokerRegistrationChangeRecord{BrokerID: 1, BrokerEpoch: 10}, false, false, []UUID{dirA}},
		{"controlled shutdown", NewBrokerControlledShutdownRecord(1, 10), false, true, []UUID{dirA}},
		{"fence keeps controlled shutdown", NewBrokerFenceRecord(1, 10), true, true, []UUID{dirA}},
		{"log dirs", &BrokerRegistrationChangeRecord{Version: 2, BrokerID: 1, BrokerEpoch: 10, LogDirs: []UUID{dirB}}, true, true, []UUID{dirB}},
		{"legacy unfence", &UnfenceBrokerRecord{ID: 1, Epoch: 10}, false, true, []UUID{dirB}},
		{"legacy fence", &FenceBrokerRecord{ID: 1, Epoch: 10}, true, true, []UUID{dirB}},
	}
	for _, s := range steps {
		before := img
		img = apply(t, img, s.r)
		fenced, shuttingDown, dirs := state(img)
		if fenced != s.fenced || shuttingDown != s.shuttingDown || !reflect.DeepEqual(dirs, s.dirs) {
			t.Fatalf("%s: fenced %v, in controlled shutdown %v, dirs %v", s.name, fenced, shuttingDown, dirs)
		}
		if !apply(t, EmptyImage(), img.Records()...).Equal(img) {
			t.Fatalf("%s: image rebuilt from its records differs", s.name)
		}
		if before.Equal(img) != (s.name == "no-op change") {
			t.Fatalf("%s: replay changed the older image or changed nothing", s.name)
		}
	}
	// A new registration (a new epoch) leaves controlled shutdown.
	img = apply(t, img, NewRegisterBrokerRecord(1, 20, UUID{1: 2}, nil, nil, []UUID{dirA}, true))
	if _, shuttingDown, _ := state(img); shuttingDown {
		t.Fatal("re-registration kept controlled shutdown")
	}
	img = apply(t, img, NewUnregisterBrokerRecord(1, 20))
	if _, ok := img.Broker(1); ok || len(img.Brokers()) != 0 {
		t.Fatal("unregister kept the broker")
	}
}

func TestReplayBrokerChangeRejects(t *testing.T) {
	base := apply(t, EmptyImage(), append(BootstrapRecords(MetadataVersionDefault),
		NewRegisterBrokerRecord(1, 10, UUID{1: 1}, nil, nil, nil, true))...)
	cases := []struct {
		name string
		r    Record
	}{
		{"change of unknown broker", NewBrokerUnfenceRecord(2, 10)},
		{"change at a stale epoch", NewBrokerUnfenceRecord(1, 9)},
		{"change at a future epoch", NewBrokerControlledShutdownRecord(1, 11)},
		{"fencing change 2", &BrokerRegistrationChangeRecord{BrokerID: 1, BrokerEpoch: 10, Fenced: 2}},
		{"controlled shutdown change -1", &BrokerRegistrationChangeRecord{Version: 1, BrokerID: 1, BrokerEpoch: 10, InControlledShutdown: -1}},
		{"legacy fence at a stale epoch", &FenceBrokerRecord{ID: 1, Epoch: 3}},
		{"legacy unfence of unknown broker", &UnfenceBrokerRecord{ID: 5, Epoch: 10}},
		{"unregister unknown broker", NewUnregisterBrokerRecord(2, 10)},
		{"unregister at a stale epoch", NewUnregisterBrokerRecord(1, 3)},
		{"negative broker epoch", NewRegisterBrokerRecord(2, -1, UUID{}, nil, nil, nil, true)},
	}
	for _, c := range cases {
		b := base.NewBuilder()
		if err := b.Replay(c.r); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: got %v, want ErrInvalidRecord", c.name, err)
			continue
		}
		if !b.Build().Equal(base) {
			t.Errorf("%s: a refused record changed the builder", c.name)
		}
	}
}
