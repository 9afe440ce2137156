package main

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

func rackedBrokers(racks map[int32]string) []placementBroker {
	var brokers []placementBroker
	for id, rack := range racks {
		brokers = append(brokers, placementBroker{id: id, rack: &rack})
	}
	slices.SortFunc(brokers, func(x, y placementBroker) int { return int(x.id - y.id) })
	return brokers
}

// TestAssignReplicasKafkaExamples checks the placements of Kafka's AdminUtils documentation,
// which start at index 0 with shift 0.
func TestReassignPlacementKafkaExamples(t *testing.T) {
	// Rack-unaware, 5 brokers, 10 partitions, 3 replicas: the table of the Javadoc.
	brokers := []placementBroker{{id: 0}, {id: 1}, {id: 2}, {id: 3}, {id: 4}}
	got := placeReplicas(brokers, 10, 3, 0, 0)
	want := [][]int32{
		{0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 0}, {4, 0, 1},
		{0, 2, 3}, {1, 3, 4}, {2, 4, 0}, {3, 0, 1}, {4, 1, 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rack-unaware: got %v, want %v", got, want)
	}

	// Rack-aware: 0 rack1, 1 rack3, 2 rack3, 3 rack2, 4 rack2, 5 rack1 alternate as
	// 0,3,1,5,4,2; seven partitions of three replicas, the seventh shifted.
	racked := rackedBrokers(map[int32]string{0: "rack1", 1: "rack3", 2: "rack3", 3: "rack2", 4: "rack2", 5: "rack1"})
	if got := rackAlternatedBrokers(racked); !slices.Equal(got, []int32{0, 3, 1, 5, 4, 2}) {
		t.Errorf("rack-alternated list %v", got)
	}
	got = placeReplicas(racked, 7, 3, 0, 0)
	want = [][]int32{{0, 3, 1}, {3, 1, 5}, {1, 5, 4}, {5, 4, 2}, {4, 2, 0}, {2, 0, 3}, {0, 4, 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rack-aware: got %v, want %v", got, want)
	}
}

func TestReassignPlacementProperties(t *testing.T) {
	racked := rackedBrokers(map[int32]string{1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"})
	plain := []placementBroker{{id: 1}, {id: 2}, {id: 3}, {id: 4}, {id: 5}, {id: 6}}
	rackOf := map[int32]string{1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"}
	for seed := range uint64(50) {
		for _, brokers := range [][]placementBroker{racked, plain} {
			got, err := assignReplicasToBrokers(brokers, 12, 3, rand.New(rand.NewPCG(seed, seed)))
			if err != nil {
				t.Fatal(err)
			}
			leaders := map[int32]int{}
			for p, replicas := range got {
				if len(replicas) != 3 || len(sortedSet(replicas)) != 3 {
					t.Fatalf("seed %d partition %d: replicas %v", seed, p, replicas)
				}
				leaders[replicas[0]]++
				if brokers[0].rack != nil {
					racks := map[string]bool{}
					for _, id := range replicas {
						racks[rackOf[id]] = true
					}
					if len(racks) != 3 {
						t.Fatalf("seed %d partition %d: replicas %v share a rack", seed, p, replicas)
					}
				}
			}
			// Twelve partitions round-robin over six brokers: two leaderships each.
			for id, n := range leaders {
				if n != 2 {
					t.Fatalf("seed %d: broker %d leads %d partitions: %v", seed, id, n, got)
				}
			}
		}
	}
}

func TestReassignPlacementErrors(t *testing.T) {
	rack := "r"
	for _, c := range []struct {
		brokers              []placementBroker
		partitions, replicas int
		want                 string
	}{
		{[]placementBroker{{id: 1}, {id: 2}}, 3, 3, "Replication factor: 3 larger than available brokers: 2."},
		{[]placementBroker{{id: 1}}, 0, 1, "Number of partitions must be larger than 0."},
		{[]placementBroker{{id: 1}}, 1, 0, "Replication factor must be larger than 0."},
		{[]placementBroker{{id: 1, rack: &rack}, {id: 2}}, 1, 1, "Not all brokers have rack information for replica rack aware assignment."},
	} {
		_, err := assignReplicasToBrokers(c.brokers, c.partitions, c.replicas, rand.New(rand.NewPCG(1, 1)))
		if err == nil || err.Error() != c.want {
			t.Errorf("%+v: error %v, want %q", c, err, c.want)
		}
	}
}
