// Package clean breaks no purity rule while using everything core/ may: sorted map keys, an
// escape hatch with a reason, a seeded PRNG, durations, errors, a lower core package and diskio.
package clean

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	_ "github.com/klauspost/compress/zstd"
	_ "github.com/weirdata/weir/core/record"
	_ "github.com/weirdata/weir/diskio"
)

var errEmpty = errors.New("clean: empty")

// Sum adds the values of m; addition commutes, so the order of the loop cannot matter.
func Sum(m map[string]int) int {
	total := 0
	for _, v := range m { //purity:allow-map-range addition commutes
		total += v
	}
	//purity:allow-map-range the maximum does not depend on the order
	for _, v := range m {
		total = max(total, v)
	}
	return total
}

// Keys returns m's keys in order.
func Keys(m map[string]int) []string {
	return slices.Sorted(maps.Keys(m))
}

// KeysBySort does the same the long way.
func KeysBySort(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for _, k := range Keys(m) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Jitter draws from the caller's seeded source.
func Jitter(r *rand.Rand, base time.Duration) (time.Duration, error) {
	if base <= 0 {
		return 0, fmt.Errorf("jitter of %v: %w", base, errEmpty)
	}
	return base + time.Duration(r.Int64N(int64(base))), nil
}

// NewRand seeds a source.
func NewRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// Deadline adds to a time it is given.
func Deadline(now time.Time, timeout time.Duration) time.Time { return now.Add(timeout) }
