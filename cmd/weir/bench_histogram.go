package main

import (
	"math"
	"math/bits"
)

// The latency histogram's layout: values below 2^histogramSubBits are counted exactly; above,
// each power of two is split into 2^(histogramSubBits-1) equal buckets, so a bucket's width is
// at most 1/64 of its values and a quantile is within 1.6% of the true one (HdrHistogram's
// scheme with two significant digits). The bucket array has a fixed size covering all of int64.
const (
	histogramSubBits     = 7
	histogramHalfBuckets = 1 << (histogramSubBits - 1)
	histogramBuckets     = (63-histogramSubBits)*histogramHalfBuckets + 2*histogramHalfBuckets // a non-negative int64 has at most 63 bits
)

// latencyHistogram counts non-negative latencies (any unit; bench uses microseconds) in fixed
// memory, with the exact count, sum, minimum and maximum alongside.
type latencyHistogram struct {
	counts             [histogramBuckets]int64
	count, sum         int64
	minValue, maxValue int64
}

// histogramBucket is the index of the bucket counting v.
func histogramBucket(v int64) int {
	shift := max(0, bits.Len64(uint64(v))-histogramSubBits)
	return shift*histogramHalfBuckets + int(v>>shift)
}

// histogramBucketHigh is the largest value counted by bucket i.
func histogramBucketHigh(i int) int64 {
	if i < 2*histogramHalfBuckets {
		return int64(i)
	}
	shift := i/histogramHalfBuckets - 1
	mantissa := int64(i - shift*histogramHalfBuckets)
	return mantissa<<shift + (1<<shift - 1)
}

// record counts one value; a negative one (a clock step) counts as 0.
func (h *latencyHistogram) record(v int64) {
	v = max(v, 0)
	h.counts[histogramBucket(v)]++
	if h.count == 0 || v < h.minValue {
		h.minValue = v
	}
	h.maxValue = max(h.maxValue, v)
	h.count++
	h.sum += v
}

// mean is the exact mean, 0 when empty.
func (h *latencyHistogram) mean() float64 {
	if h.count == 0 {
		return 0
	}
	return float64(h.sum) / float64(h.count)
}

// quantile returns the value at quantile q (0.5 for the median): the highest value of the
// bucket holding the ceil(q×count)-th smallest value, capped at the maximum. 0 when empty.
func (h *latencyHistogram) quantile(q float64) int64 {
	if h.count == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.count)))
	rank = min(max(rank, 1), h.count)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(histogramBucketHigh(i), h.maxValue)
		}
	}
	panic("latencyHistogram: counts sum to less than count") // invariant: record keeps them equal
}
