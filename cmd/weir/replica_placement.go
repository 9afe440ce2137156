package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
)

// placementBroker is a broker that replicas may be placed on, with its rack if placement is
// rack-aware.
type placementBroker struct {
	id   int32
	rack *string
}

// assignReplicasToBrokers places partitions × replicationFactor replicas on brokers as
// Kafka's AdminUtils.assignReplicasToBrokers does, so that weir proposes what Kafka would:
// the first replica of each partition round-robin from a random start, the others at an
// increasing shift; with racks (all brokers must have one), over a rack-alternated broker list,
// preferring racks and then brokers that hold no replica of the partition yet. The two random
// draws (start index, replica shift) come from rng, so a seed makes the result reproducible.
// The result is indexed by partition number.
func assignReplicasToBrokers(brokers []placementBroker, partitions, replicationFactor int, rng *rand.Rand) ([][]int32, error) {
	switch {
	case partitions <= 0:
		return nil, errors.New("Number of partitions must be larger than 0.")
	case replicationFactor <= 0:
		return nil, errors.New("Replication factor must be larger than 0.")
	case replicationFactor > len(brokers):
		return nil, fmt.Errorf("Replication factor: %d larger than available brokers: %d.", replicationFactor, len(brokers))
	}
	racked := 0
	for _, b := range brokers {
		if b.rack != nil {
			racked++
		}
	}
	if racked != 0 && racked != len(brokers) {
		return nil, errors.New("Not all brokers have rack information for replica rack aware assignment.")
	}
	startIndex := rng.IntN(len(brokers))
	replicaShift := rng.IntN(len(brokers))
	return placeReplicas(brokers, partitions, replicationFactor, startIndex, replicaShift), nil
}

// placeReplicas is the placement from a given start index and replica shift (Kafka's
// fixedStartIndex sets both), over brokers that all have racks or none has.
func placeReplicas(brokers []placementBroker, partitions, replicationFactor, startIndex, replicaShift int) [][]int32 {
	if brokers[0].rack != nil {
		return assignRackAware(brokers, partitions, replicationFactor, startIndex, replicaShift)
	}
	ids := make([]int32, len(brokers))
	for i, b := range brokers {
		ids[i] = b.id
	}
	return assignRackUnaware(ids, partitions, replicationFactor, startIndex, replicaShift)
}

func assignRackUnaware(ids []int32, partitions, replicationFactor, startIndex, nextReplicaShift int) [][]int32 {
	n := len(ids)
	result := make([][]int32, partitions)
	for p := range partitions {
		if p > 0 && p%n == 0 {
			nextReplicaShift++
		}
		first := (p + startIndex) % n
		replicas := []int32{ids[first]}
		for j := range replicationFactor - 1 {
			replicas = append(replicas, ids[replicaIndex(first, nextReplicaShift, j, n)])
		}
		result[p] = replicas
	}
	return result
}

func assignRackAware(brokers []placementBroker, partitions, replicationFactor, startIndex, nextReplicaShift int) [][]int32 {
	rackOf := make(map[int32]string, len(brokers))
	for _, b := range brokers {
		rackOf[b.id] = *b.rack
	}
	arranged := rackAlternatedBrokers(brokers)
	racks := map[string]bool{}
	for _, b := range brokers {
		racks[*b.rack] = true
	}
	numRacks, n := len(racks), len(arranged)
	result := make([][]int32, partitions)
	for p := range partitions {
		if p > 0 && p%n == 0 {
			nextReplicaShift++
		}
		first := (p + startIndex) % n
		leader := arranged[first]
		replicas := []int32{leader}
		racksWithReplicas := map[string]bool{rackOf[leader]: true}
		brokersWithReplicas := map[int32]bool{leader: true}
		k := 0
		for range replicationFactor - 1 {
			for {
				broker := arranged[replicaIndex(first, nextReplicaShift*numRacks, k, n)]
				rack := rackOf[broker]
				k++
				// Skip a broker on a rack that already has a replica while some rack has none,
				// and a broker that has one while some broker has none.
				if (!racksWithReplicas[rack] || len(racksWithReplicas) == numRacks) &&
					(!brokersWithReplicas[broker] || len(brokersWithReplicas) == n) {
					replicas = append(replicas, broker)
					racksWithReplicas[rack] = true
					brokersWithReplicas[broker] = true
					break
				}
			}
		}
		result[p] = replicas
	}
	return result
}

// rackAlternatedBrokers lists the brokers taking one from each rack in turn (racks sorted by
// name, brokers of a rack by id): racks a:{0,1,2} b:{3,4} give 0,3,1,4,2.
func rackAlternatedBrokers(brokers []placementBroker) []int32 {
	byRack := map[string][]int32{}
	for _, b := range brokers {
		byRack[*b.rack] = append(byRack[*b.rack], b.id)
	}
	racks := make([]string, 0, len(byRack))
	for rack, ids := range byRack {
		slices.Sort(ids)
		racks = append(racks, rack)
	}
	slices.Sort(racks)
	next := make(map[string]int, len(racks))
	var result []int32
	for i := 0; len(result) < len(brokers); i = (i + 1) % len(racks) {
		rack := racks[i]
		if next[rack] < len(byRack[rack]) {
			result = append(result, byRack[rack][next[rack]])
			next[rack]++
		}
	}
	return result
}

// replicaIndex is the broker index of a partition's replica after the first, Kafka's formula.
func replicaIndex(firstReplicaIndex, secondReplicaShift, replicaIndex, brokers int) int {
	shift := 1 + (secondReplicaShift+replicaIndex)%(brokers-1)
	return (firstReplicaIndex + shift) % brokers
}
