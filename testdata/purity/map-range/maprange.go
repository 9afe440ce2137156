// Package maprange iterates maps in map order.
package maprange

import (
	"maps"
	"slices"
)

// Set is a map type by another name.
type Set map[string]struct{}

// First returns whichever key the map yields first: a different one each run.
func First(m map[string]int) string {
	for k := range m { // want map-range
		return k
	}
	return ""
}

// Names appends in map order.
func Names(s Set) []string {
	var names []string
	for name := range s { // want map-range
		names = append(names, name)
	}
	return names
}

// Generic ranges over a type parameter whose types are maps.
func Generic[M ~map[K]V, K comparable, V any](m M) []K {
	var keys []K
	for k := range m { // want map-range
		keys = append(keys, k)
	}
	return keys
}

// Collect keeps map order in a slice.
func Collect(m map[string]int) []string {
	return slices.Collect(maps.Keys(m)) // want map-range
}

// NoReason uses the escape hatch without saying why.
func NoReason(m map[string]int) int {
	n := 0
	//purity:allow-map-range
	for range m { // want map-range
		n++
	}
	return n
}

// Stale keeps an escape hatch where no map is ranged over.
func Stale(s []int) int {
	n := 0
	//purity:allow-map-range counting // want map-range
	for range s {
		n++
	}
	return n
}
