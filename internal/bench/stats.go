package bench

import (
	"cmp"
	"math"
	"regexp"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of values by the
// nearest-rank method: the smallest value that at least p percent of the
// values are less than or equal to. It sorts values in place and returns 0
// for no values.
func percentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return 0
	}
	slices.Sort(values)
	rank := int(math.Ceil(p / 100 * float64(len(values))))
	return values[min(max(rank, 1), len(values))-1]
}

// gapTracker follows the arrival of media packets on one session: when the
// first came, when the last came and the longest silence after the first.
// It is owned by one goroutine.
type gapTracker struct {
	first, last time.Time
	maxGap      time.Duration
}

// packet records a packet arriving at now.
func (g *gapTracker) packet(now time.Time) {
	if g.first.IsZero() {
		g.first = now
	} else if gap := now.Sub(g.last); gap > g.maxGap {
		g.maxGap = gap
	}
	g.last = now
}

// worstGap returns the longest silence after the first packet, counting
// the silence from the last packet until end; ok is false if no packet came.
func (g *gapTracker) worstGap(end time.Time) (gap time.Duration, ok bool) {
	if g.first.IsZero() {
		return 0, false
	}
	return max(g.maxGap, end.Sub(g.last)), true
}

// stalled tells whether a session went longer than limit without a media
// packet after its first one, or never received one, until end.
func (g *gapTracker) stalled(end time.Time, limit time.Duration) bool {
	gap, ok := g.worstGap(end)
	return !ok || gap > limit
}

// ErrorCount is one distinct error and how many sessions ended with it.
type ErrorCount struct {
	Error string `json:"error"`
	Count int    `json:"count"`
}

// addrRE matches IPv4 socket addresses, whose ephemeral ports would make
// every connection's error distinct.
var addrRE = regexp.MustCompile(`\d{1,3}(\.\d{1,3}){3}:\d+`)

// errorTally counts errors by their text with addresses masked, keeping
// the order in which they first appeared.
type errorTally struct {
	counts []ErrorCount
}

// add counts err.
func (t *errorTally) add(err error) {
	key := addrRE.ReplaceAllString(err.Error(), "ADDR")
	for i := range t.counts {
		if t.counts[i].Error == key {
			t.counts[i].Count++
			return
		}
	}
	t.counts = append(t.counts, ErrorCount{Error: key, Count: 1})
}

// top returns up to n distinct errors, the most frequent first, ties in
// order of appearance.
func (t *errorTally) top(n int) []ErrorCount {
	out := slices.Clone(t.counts)
	slices.SortStableFunc(out, func(a, b ErrorCount) int { return cmp.Compare(b.Count, a.Count) })
	return out[:min(n, len(out))]
}
