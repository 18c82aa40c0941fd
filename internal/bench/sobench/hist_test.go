package sobench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// exactPercentile is the nearest-rank percentile of sorted values.
func exactPercentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(p / 100 * float64(len(sorted)))
	if float64(rank) < p/100*float64(len(sorted)) {
		rank++
	}
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func TestHistogram_PercentileExactBelow256ns(t *testing.T) {
	tests := []struct {
		name   string
		values []time.Duration
		p      float64
		want   time.Duration
	}{
		{name: "empty", values: nil, p: 50, want: 0},
		{name: "one value", values: []time.Duration{7}, p: 99, want: 7},
		{name: "median of four is the second", values: []time.Duration{4, 1, 3, 2}, p: 50, want: 2},
		{name: "p99 of 100 is the 99th", values: seq(1, 100), p: 99, want: 99},
		{name: "p99 of 101 is the 100th", values: seq(1, 101), p: 99, want: 100},
		{name: "p90 of ten", values: seq(10, 19), p: 90, want: 18},
		{name: "p100 is the max", values: seq(0, 200), p: 100, want: 200},
		{name: "negative counts as zero", values: []time.Duration{-5, 3}, p: 50, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h histogram
			for _, v := range tc.values {
				h.record(v)
			}
			if got := h.percentile(tc.p); got != tc.want {
				t.Errorf("percentile(%g) = %d, want %d", tc.p, got, tc.want)
			}
		})
	}
}

func seq(from, to int) []time.Duration {
	var out []time.Duration
	for i := from; i <= to; i++ {
		out = append(out, time.Duration(i))
	}
	return out
}

func TestHistogram_PercentileWithinBucketError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := make([]time.Duration, 10000)
	var h histogram
	for i := range values {
		// Log-uniform from 1 µs to 1 s, like latencies.
		values[i] = time.Duration(float64(time.Microsecond) * math.Pow(10, rng.Float64()*6))
		h.record(values[i])
	}
	slices.Sort(values)
	for _, p := range []float64{1, 50, 90, 99, 99.9, 100} {
		want := exactPercentile(values, p)
		got := h.percentile(p)
		if got < want || float64(got-want) > float64(want)/subCount {
			t.Errorf("percentile(%g) = %d, want %d within +%.1f%%", p, got, want, 100.0/subCount)
		}
	}
	if h.max != values[len(values)-1] || h.min != values[0] {
		t.Errorf("min, max = %d, %d, want %d, %d", h.min, h.max, values[0], values[len(values)-1])
	}
}

func TestHistogram_BucketsCoverEveryValue(t *testing.T) {
	// Every bucket's maximum falls into it and the next value into the
	// next bucket, so buckets tile the value range with no gap.
	for i := range histBuckets - 1 {
		hi := bucketMax(i)
		if got := bucketOf(hi); got != i {
			t.Fatalf("bucketOf(bucketMax(%d) = %d) = %d", i, hi, got)
		}
		if got := bucketOf(hi + 1); got != i+1 {
			t.Fatalf("bucketOf(%d) = %d, want %d", hi+1, got, i+1)
		}
	}
	if got := bucketOf(1<<63 - 1); got != histBuckets-1 {
		t.Errorf("bucketOf(max int64) = %d, want %d", got, histBuckets-1)
	}
}

func TestHistogram_MergeAndSummary(t *testing.T) {
	var a, b, all histogram
	for i := 1; i <= 100; i++ {
		d := time.Duration(i) * time.Millisecond
		all.record(d)
		if i%2 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	var m histogram
	m.merge(&a)
	m.merge(&histogram{})
	m.merge(&b)
	if diff := cmp.Diff(all.summary(), m.summary()); diff != "" {
		t.Errorf("merged summary differs (-want +got):\n%s", diff)
	}
	s := m.summary()
	if s.Count != 100 || s.MaxMs != 100 || s.P50Ms < 50 || s.P50Ms > 50*(1+1.0/subCount) {
		t.Errorf("summary = %+v, want count 100, max 100 ms, p50 about 50 ms", s)
	}
}
