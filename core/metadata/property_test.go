package metadata

import (
	"fmt"
	"slices"
	"testing"

	"github.com/weirdata/weir/core/uuid"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio/memfs"
	"pgregory.net/rapid"
)

var (
	propTopicNames = []string{"a", "b", "c", "orders", "__consumer_offsets", "x.y_z-1"}
	propBrokers    = []int32{0, 1, 2}
)

// genCommand draws one valid intent against img and returns its records.
func genCommand(t *rapid.T, img *Image) []Record {
	topics := img.Topics()
	kinds := []string{"create", "config", "broker", "producer-ids", "feature"}
	if len(topics) > 0 {
		kinds = append(kinds, "delete", "isr", "leader", "leader", "isr")
	}
	if len(img.Brokers()) > 0 {
		kinds = append(kinds, "broker-change", "broker-change")
	}
	switch rapid.SampledFrom(kinds).Draw(t, "kind") {
	case "create":
		name := rapid.SampledFrom(propTopicNames).Draw(t, "name")
		if _, ok := img.TopicByName(name); ok {
			return nil
		}
		var id UUID
		for i := range id {
			id[i] = rapid.Byte().Draw(t, "id")
		}
		if id == uuid.Zero || id == uuid.One {
			id[3] = 7
		}
		if _, ok := img.TopicByID(id); ok {
			return nil
		}
		partitions := rapid.IntRange(1, 3).Draw(t, "partitions")
		replicas := make([][]int32, partitions)
		for p := range replicas {
			perm := rapid.Permutation(propBrokers).Draw(t, "perm")
			replicas[p] = perm[:rapid.IntRange(1, 3).Draw(t, "rf")]
		}
		var configs map[string]string
		if rapid.Bool().Draw(t, "with-config") {
			configs = map[string]string{"retention.ms": fmt.Sprint(rapid.IntRange(1, 1e6).Draw(t, "retention"))}
		}
		records, err := NewTopicRecords(name, id, replicas, configs)
		if err != nil {
			t.Fatal(err)
		}
		return records
	case "delete":
		return NewRemoveTopicRecords(rapid.SampledFrom(topics).Draw(t, "topic").ID)
	case "isr", "leader":
		topic := rapid.SampledFrom(topics).Draw(t, "topic")
		p := rapid.SampledFrom(topic.Partitions()).Draw(t, "partition")
		if rapid.Bool().Draw(t, "leader-change") {
			isr := p.ISR
			if len(isr) == 0 {
				isr = []int32{p.Replicas[0]}
			}
			leader := rapid.SampledFrom(append(slices.Clone(isr), NoLeader)).Draw(t, "leader")
			if leader == NoLeader {
				return []Record{NewLeaderChangeRecord(topic.ID, p.ID, NoLeader, nil)}
			}
			return []Record{NewLeaderChangeRecord(topic.ID, p.ID, leader, isr)}
		}
		// A new ISR: a subset of the replicas holding the leader.
		var isr []int32
		for _, r := range p.Replicas {
			if r == p.Leader || rapid.Bool().Draw(t, "in-isr") {
				isr = append(isr, r)
			}
		}
		if len(isr) == 0 {
			return nil
		}
		c := NewPartitionChangeRecord(topic.ID, p.ID)
		c.ISR = isr
		return []Record{c}
	case "config":
		resourceType, name := ResourceBroker, ""
		if len(topics) > 0 && rapid.Bool().Draw(t, "topic-config") {
			resourceType, name = ResourceTopic, rapid.SampledFrom(topics).Draw(t, "topic").Name
		}
		key := rapid.SampledFrom([]string{"retention.ms", "segment.bytes", "cleanup.policy"}).Draw(t, "key")
		var records []Record
		var err error
		if rapid.Bool().Draw(t, "delete-config") {
			records, err = NewConfigRecords(resourceType, name, nil, []string{key})
		} else {
			records, err = NewConfigRecords(resourceType, name, map[string]string{key: rapid.StringMatching(`[a-z0-9]{0,8}`).Draw(t, "value")}, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		return records
	case "broker":
		id := rapid.SampledFrom(propBrokers).Draw(t, "broker")
		var rack *string
		if rapid.Bool().Draw(t, "rack") {
			rack = strPtr("r" + fmt.Sprint(id))
		}
		return []Record{NewRegisterBrokerRecord(id, rapid.Int64Range(0, 1<<40).Draw(t, "epoch"), UUID{0: byte(id), 1: 9},
			[]BrokerEndpoint{{Name: "PLAINTEXT", Host: "h" + fmt.Sprint(id), Port: 9092}}, rack, []UUID{{5: 5}}, rapid.Bool().Draw(t, "fenced"))}
	case "broker-change":
		b := rapid.SampledFrom(img.Brokers()).Draw(t, "changed-broker")
		switch rapid.SampledFrom([]string{"fence", "unfence", "shutdown", "dirs", "unregister", "legacy"}).Draw(t, "change") {
		case "fence":
			return []Record{NewBrokerFenceRecord(b.ID, b.Epoch)}
		case "unfence":
			return []Record{NewBrokerUnfenceRecord(b.ID, b.Epoch)}
		case "shutdown":
			return []Record{NewBrokerControlledShutdownRecord(b.ID, b.Epoch)}
		case "dirs":
			return []Record{&BrokerRegistrationChangeRecord{Version: 2, BrokerID: b.ID, BrokerEpoch: b.Epoch,
				Fenced: int8(rapid.IntRange(-1, 1).Draw(t, "fencing")), LogDirs: []UUID{{6: byte(rapid.IntRange(1, 3).Draw(t, "dir"))}}}}
		case "unregister":
			return []Record{NewUnregisterBrokerRecord(b.ID, b.Epoch)}
		case "legacy":
			if rapid.Bool().Draw(t, "legacy-fence") {
				return []Record{&FenceBrokerRecord{ID: b.ID, Epoch: b.Epoch}}
			}
			return []Record{&UnfenceBrokerRecord{ID: b.ID, Epoch: b.Epoch}}
		}
	case "producer-ids":
		return []Record{NewProducerIdsRecord(0, 0, img.NextProducerID()+int64(rapid.IntRange(1, 1000).Draw(t, "block")))}
	case "feature":
		return []Record{&FeatureLevelRecord{Name: "transaction.version", FeatureLevel: int16(rapid.IntRange(0, 2).Draw(t, "level"))}}
	}
	return nil
}

// genBatch draws 1 to 3 commands, each valid after the ones before it.
func genBatch(t *rapid.T, img *Image) ([]Record, *Image) {
	var out []Record
	for n := rapid.IntRange(1, 3).Draw(t, "commands"); n > 0; n-- {
		records := genCommand(t, img)
		if len(records) == 0 {
			continue
		}
		next, err := img.Apply(records)
		if err != nil {
			t.Fatalf("generated an invalid command %s: %v", dumpRecords(records), err)
		}
		out, img = append(out, records...), next
	}
	return out, img
}

func dumpRecords(records []Record) string {
	s := ""
	for _, r := range records {
		s += dumpRecord(r) + "\n"
	}
	return s
}

// TestPropertySnapshotThenReplayEqualsFullReplay: for random valid records, the image from a
// snapshot at X (encoded and decoded as a file) then replay of the rest equals full replay, and
// every record survives its codec.
func TestPropertySnapshotThenReplayEqualsFullReplay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		img := apply(t, EmptyImage(), BootstrapRecords(MetadataVersionDefault)...)
		var batches [][]Record
		var images []*Image
		for n := rapid.IntRange(1, 40).Draw(t, "batches"); n > 0; n-- {
			var batch []Record
			batch, img = genBatch(t, img)
			if len(batch) == 0 {
				continue
			}
			for i, r := range batch { // through the codec, as the log stores them
				value, err := EncodeRecord(r)
				if err != nil {
					t.Fatal(err)
				}
				if batch[i], err = DecodeRecord(value); err != nil {
					t.Fatal(err)
				}
			}
			batches = append(batches, batch)
			images = append(images, img)
		}
		full := apply(t, EmptyImage(), BootstrapRecords(MetadataVersionDefault)...)
		for _, b := range batches {
			var err error
			if full, err = full.Apply(b); err != nil {
				t.Fatal(err)
			}
		}
		if !full.Equal(img) {
			t.Fatal("replay of the decoded records differs from the model")
		}
		if len(batches) == 0 {
			return
		}
		x := rapid.IntRange(0, len(batches)-1).Draw(t, "snapshot-after")
		data, err := EncodeSnapshot(images[x], SnapshotID{EndOffset: record.Offset(x + 1), Epoch: 1}, 0)
		if err != nil {
			t.Fatal(err)
		}
		fromSnapshot, _, err := DecodeSnapshot(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range batches[x+1:] {
			if fromSnapshot, err = fromSnapshot.Apply(b); err != nil {
				t.Fatalf("replay after the snapshot: %v", err)
			}
		}
		if !fromSnapshot.Equal(full) {
			t.Fatalf("snapshot at %d then replay differs from full replay", x)
		}
	})
}

// TestPropertyQuorumLogCrashReopen drives a QuorumLog of metadata records on memfs, as
// core/controller does, with random commands, leader changes, flushes, snapshots (the log cut
// below them or not), clean reopens and crashes (random, worst-case and keep-all). After every
// reopen the image rebuilt from the newest snapshot and the entries after it is the model's
// image at the recovered end offset, and that offset is at least what was flushed: a snapshot
// then replay equals full replay, across crashes.
func TestPropertyQuorumLogCrashReopen(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := smallQuorumLogConfig()
		cfg.Log.SegmentBytes = int64(rapid.SampledFrom([]int{1 << 10, 4 << 10, 1 << 20}).Draw(t, "segment-bytes"))
		fs := memfs.New()
		nowMs := int64(1000)
		open := func() *QuorumLog {
			q, err := OpenQuorumLog(fs, testLogDir, cfg, nowMs)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			return q
		}
		q := open()
		defer func() { q.Close() }()
		epoch := record.Epoch(1)
		history := map[record.Offset]*Image{0: EmptyImage()}
		model := EmptyImage()
		appendEntries := func(entries []quorum.Entry, next *Image) {
			nowMs++
			q.SetNowMs(nowMs)
			if err := q.Append(entries); err != nil {
				t.Fatalf("append: %v", err)
			}
			model = next
			history[q.EndOffset()] = model
		}
		appendCommand := func(records []Record) {
			next, err := model.Apply(records)
			if err != nil {
				t.Fatalf("generated an invalid command %s: %v", dumpRecords(records), err)
			}
			entries, err := commandEntries(records, epoch)
			if err != nil {
				t.Fatal(err)
			}
			appendEntries(entries, next)
		}
		flush := func() {
			if req, ok := q.PendingSync(); ok {
				q.Synced(req, req.Run(fs))
			}
			if err := q.Poisoned(); err != nil {
				t.Fatal(err)
			}
			if q.DurableOffset() != q.EndOffset() {
				t.Fatalf("flushed to %d of %d", q.DurableOffset(), q.EndOffset())
			}
		}
		reopened := func(durableMin, appendedMax record.Offset) {
			end := q.EndOffset()
			if end < durableMin || end > appendedMax {
				t.Fatalf("recovered to %d, flushed %d, appended %d", end, durableMin, appendedMax)
			}
			want, ok := history[end]
			if !ok {
				t.Fatalf("recovered to %d, not the end of any append", end)
			}
			img, err := replayQuorumLog(q)
			if err != nil {
				t.Fatalf("rebuild the image at %d: %v", end, err)
			}
			if !img.Equal(want) {
				t.Fatalf("image recovered at %d differs from the model:\n%s\nwant\n%s", end, dumpRecords(img.Records()), dumpRecords(want.Records()))
			}
			if q.DurableOffset() != end {
				t.Fatalf("durable %d after reopening at %d", q.DurableOffset(), end)
			}
			model = want
			// Offsets past the recovered end will be reused by new appends.
			for o := range history {
				if o > end {
					delete(history, o)
				}
			}
			// Entries a crash dropped may have had this epoch: continue in a new one, as a new
			// leader would.
			epoch = q.LastEpoch() + 1
		}

		appendCommand(BootstrapRecords(MetadataVersionDefault))
		for step := rapid.IntRange(1, 60).Draw(t, "steps"); step > 0; step-- {
			switch rapid.SampledFrom([]string{"append", "append", "append", "leader-change", "flush", "snapshot", "reopen", "crash"}).Draw(t, "op") {
			case "append":
				batch, _ := genBatch(t, model)
				if len(batch) == 0 {
					continue
				}
				appendCommand(batch)
				if rapid.Bool().Draw(t, "flush-now") {
					flush()
				}
			case "leader-change":
				epoch++
				appendEntries(leaderChangeEntry(epoch), model)
			case "flush":
				flush()
			case "snapshot":
				flush()
				at := q.EndOffset()
				if id, ok := q.LatestSnapshot(); at == 0 || (ok && id.EndOffset >= at) {
					// Nothing new to snapshot (PrepareSnapshot refuses an empty one: rapid seed
					// 14193960090943790074 drew a snapshot right after a crash of an empty log).
					continue
				}
				w, err := q.PrepareSnapshot(history[at], at, nowMs)
				if err != nil {
					t.Fatalf("prepare the snapshot at %d: %v", at, err)
				}
				if err := w.Run(fs); err != nil {
					t.Fatal(err)
				}
				if err := q.RecordSnapshot(w.ID); err != nil {
					t.Fatal(err)
				}
				if rapid.Bool().Draw(t, "delete-below") {
					ops, err := q.DeleteBefore(w.ID, nowMs)
					if err != nil {
						t.Fatal(err)
					}
					if err := log.RunFileOps(fs, ops); err != nil {
						t.Fatal(err)
					}
				}
			case "reopen":
				flush()
				end := q.EndOffset()
				q.Close()
				q = open()
				reopened(end, end)
			case "crash":
				durable, appended := q.DurableOffset(), q.EndOffset()
				mode := memfs.CrashMode(rapid.IntRange(0, 2).Draw(t, "crash-mode"))
				fs = fs.CrashClone(memfs.CrashConfig{Seed: rapid.Uint64().Draw(t, "crash-seed"), Mode: mode})
				q.Close()
				q = open()
				reopened(durable, appended)
			}
		}
	})
}
