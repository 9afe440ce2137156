package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestHistogramBuckets(t *testing.T) {
	// Every value falls in a bucket whose range holds it, buckets are in value order, and a
	// bucket's width is at most 1/64 of its values.
	values := []int64{0, 1, 63, 64, 127, 128, 129, 191, 192, 255, 256, 1000, 1 << 20, 1<<40 + 12345, math.MaxInt64}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		values = append(values, rng.Int64N(1<<uint(rng.IntN(62)+1)))
	}
	for _, v := range values {
		i := histogramBucket(v)
		if i < 0 || i >= histogramBuckets {
			t.Fatalf("value %d: bucket %d out of [0, %d)", v, i, histogramBuckets)
		}
		high := histogramBucketHigh(i)
		low := int64(0)
		if i > 0 {
			low = histogramBucketHigh(i-1) + 1
		}
		if v < low || v > high {
			t.Fatalf("value %d in bucket %d holding [%d, %d]", v, i, low, high)
		}
		if width := high - low + 1; v >= 128 && width > v/64+1 {
			t.Fatalf("value %d: bucket width %d is over 1/64 of it", v, width)
		}
	}
	if got := histogramBucket(math.MaxInt64); got != histogramBuckets-1 {
		t.Errorf("MaxInt64 is in bucket %d, want the last, %d", got, histogramBuckets-1)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h latencyHistogram
	if h.quantile(0.5) != 0 || h.mean() != 0 {
		t.Errorf("empty histogram: quantile %d, mean %v", h.quantile(0.5), h.mean())
	}
	// 1..100 are below 128, so counted exactly: quantiles are exact ranks.
	for v := int64(100); v >= 1; v-- {
		h.record(v)
	}
	for q, want := range map[float64]int64{0: 1, 0.01: 1, 0.5: 50, 0.95: 95, 0.99: 99, 0.999: 100, 1: 100} {
		if got := h.quantile(q); got != want {
			t.Errorf("quantile(%v) = %d, want %d", q, got, want)
		}
	}
	if h.count != 100 || h.sum != 5050 || h.minValue != 1 || h.maxValue != 100 || h.mean() != 50.5 {
		t.Errorf("count %d sum %d min %d max %d mean %v", h.count, h.sum, h.minValue, h.maxValue, h.mean())
	}
	h.record(-5) // a clock step counts as 0
	if h.minValue != 0 || h.quantile(0) != 0 {
		t.Errorf("after a negative value: min %d, quantile(0) %d", h.minValue, h.quantile(0))
	}

	// Large random values: each quantile is within 1/64 above the exact one, never below.
	var big latencyHistogram
	rng := rand.New(rand.NewPCG(3, 4))
	exact := make([]int64, 0, 100000)
	for range 100000 {
		v := int64(rng.ExpFloat64() * 5000)
		big.record(v)
		exact = append(exact, v)
	}
	slices.Sort(exact)
	for _, q := range []float64{0.5, 0.95, 0.99, 0.999} {
		want := exact[int(math.Ceil(q*float64(len(exact))))-1]
		got := big.quantile(q)
		if got < want || float64(got-want) > float64(want)/64+1 {
			t.Errorf("quantile(%v) = %d, exact %d", q, got, want)
		}
	}
	if got := big.quantile(1); got != exact[len(exact)-1] {
		t.Errorf("quantile(1) = %d, want the max %d", got, exact[len(exact)-1])
	}
}
