package storage

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/weirdata/weir/core/log"
	"github.com/weirdata/weir/core/record"
	"github.com/weirdata/weir/diskio"
)

// planAll plans a read of the whole log and executes it at once, for the bytes a plan made
// now must give later too.
func planAll(t *testing.T, fsys diskio.FS, l *log.Log) (log.ReadPlan, []byte) {
	t.Helper()
	plan, err := l.Read(l.StartOffset(), 1<<20, l.EndOffset(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Ranges) < 2 {
		t.Fatalf("plan has %d ranges; the test wants several segments", len(plan.Ranges))
	}
	want, err := log.AppendPlan(fsys, nil, plan)
	if err != nil || int64(len(want)) != plan.SizeBytes {
		t.Fatalf("plan read at once: %d of %d bytes, %v", len(want), plan.SizeBytes, err)
	}
	return plan, want
}

// A fetch's read plan is executed by the driver after the loop made it. If the loop deletes
// the partition's log in between (a reassignment removed the replica), the driver must still
// serve the whole plan from the renamed -delete directory, as Kafka's reads in flight finish
// on the open files until file.delete.delay.ms has passed.
func TestReadPlanSurvivesDeleteLog(t *testing.T) {
	fsys := newFormatted(t, threeDirs[:1])
	m := openManager(t, fsys, threeDirs[:1], 5)
	defer m.Close()
	tp := TopicPartition{"moved", 2}
	cfg := smallConfig()
	l, err := m.CreateLog(tp, topicID(t, 0), cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendValues(t, l, 300)
	syncAll(t, fsys, m)
	// Retention renames the first segment to *.deleted after the plan: the plan must find it
	// under that name inside the -delete directory too.
	plan, want := planAll(t, fsys, l)
	cfg.RetentionBytes = l.SizeBytes() - cfg.SegmentBytes // the first segment goes, the rest stay
	if err := l.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	retentionOps, err := l.ApplyRetention(1000)
	if err != nil || len(retentionOps) == 0 {
		t.Fatalf("retention deleted nothing: %v %v", retentionOps, err)
	}

	ops, err := m.DeleteLog(tp)
	if err != nil || len(ops) == 0 {
		t.Fatalf("DeleteLog: %v %v", ops, err)
	}
	got, err := log.AppendPlan(fsys, nil, plan)
	if err != nil {
		t.Fatalf("plan made before DeleteLog, run after it: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("plan made before DeleteLog served %d bytes, want the %d it served before", len(got), len(want))
	}

	// The partition comes back (reassigned here again) with other records at the same offsets
	// and goes again: the new incarnation has its own -delete directory, and plans of both
	// incarnations read their own bytes.
	l2, err := m.CreateLog(tp, topicID(t, 0), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 150 {
		batch, err := record.AppendBatch(nil, record.BatchOptions{
			PartitionLeaderEpoch: -1, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, FirstTimestamp: 2000,
		}, []record.Record{{Value: []byte(fmt.Sprintf("second-%d", i))}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l2.Append(batch, log.AppendOptions{AssignOffsets: true, NowMs: 2000}); err != nil {
			t.Fatal(err)
		}
	}
	plan2, want2 := planAll(t, fsys, l2)
	if got, err := log.AppendPlan(fsys, nil, plan); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("plan of the deleted incarnation, run while the new one lives: %d of %d bytes (equal: %t), %v", len(got), len(want), bytes.Equal(got, want), err)
	}
	ops2, err := m.DeleteLog(tp)
	if err != nil {
		t.Fatal(err)
	}
	firstDir, secondDir := ops[len(ops)-1].Path, ops2[len(ops2)-1].Path
	if firstDir == secondDir || !strings.HasSuffix(secondDir, "-delete") {
		t.Fatalf("the second incarnation was renamed to %s, the first to %s: want a new -delete name", secondDir, firstDir)
	}
	for i, c := range []struct {
		plan log.ReadPlan
		want []byte
	}{{plan, want}, {plan2, want2}} {
		got, err := log.AppendPlan(fsys, nil, c.plan)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Fatalf("incarnation %d: plan served %d of %d bytes: %v", i+1, len(got), len(c.want), err)
		}
	}

	// Once the driver removed the files (file.delete.delay.ms later) the plan is cut, not
	// served from anywhere else.
	runOps(t, fsys, ops)
	got, err = log.AppendPlan(fsys, nil, plan)
	if !errors.Is(err, log.ErrPlanCut) || len(got) != 0 {
		t.Fatalf("plan after the removal: %d bytes, %v; want cut at nothing", len(got), err)
	}
}
