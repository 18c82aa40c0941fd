package sobench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram geometry: values below 2^(subBits+1) ns have a bucket each;
// above, each power of two is split into 2^subBits buckets, so a bucket's
// width is under 1/2^subBits (0.8 %) of its values.
const (
	subBits     = 7
	subCount    = 1 << subBits
	exactLimit  = 2 * subCount                         // values below this are exact
	histBuckets = exactLimit + (63-subBits-1)*subCount // durations are below 2^63
)

// histogram counts durations in log-linear buckets: its memory does not
// grow with the number of values, and its percentiles are within 0.8 % of
// the exact ones (exact below 256 ns). The zero value is empty; it is not
// safe for concurrent use.
type histogram struct {
	counts   []uint64 // allocated on the first record
	n        uint64
	min, max time.Duration
}

// bucketOf returns the bucket of v (v >= 0).
func bucketOf(v uint64) int {
	if v < exactLimit {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // >= 1
	mant := v >> shift                   // in [subCount, 2*subCount)
	return exactLimit + (shift-1)*subCount + int(mant-subCount)
}

// bucketMax returns the largest value that falls into bucket i.
func bucketMax(i int) uint64 {
	if i < exactLimit {
		return uint64(i)
	}
	shift := (i-exactLimit)/subCount + 1
	mant := uint64((i-exactLimit)%subCount + subCount)
	return (mant+1)<<shift - 1
}

// record adds d; negative durations count as 0.
func (h *histogram) record(d time.Duration) {
	d = max(d, 0)
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	h.counts[bucketOf(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	h.max = max(h.max, d)
	h.n++
}

// merge adds the values of o to h.
func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
}

// percentile returns the p-th percentile (0 < p <= 100) by the nearest-rank
// method: the smallest value that at least p percent of the values are less
// than or equal to, rounded up to its bucket's upper end and capped at the
// largest value recorded. It returns 0 for no values.
func (h *histogram) percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			return min(time.Duration(bucketMax(i)), h.max)
		}
	}
	return h.max
}

// Latency summarises a set of delays, in milliseconds.
type Latency struct {
	Count uint64  `json:"count"`
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// summary returns the Latency of h.
func (h *histogram) summary() Latency {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return Latency{
		Count: h.n,
		P50Ms: ms(h.percentile(50)),
		P90Ms: ms(h.percentile(90)),
		P99Ms: ms(h.percentile(99)),
		MaxMs: ms(h.max),
	}
}
