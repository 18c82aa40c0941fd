package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// TraceHeader is the header line every trace file starts with (after
// comments).
const TraceHeader = "time_s,publishers,subscribers"

// Point is the audience at one moment of a trace.
type Point struct {
	// Time is the offset from the start of the trace.
	Time        time.Duration
	Publishers  int
	Subscribers int
}

// Trace is a load curve: points in strictly increasing time. Between two
// points the audience changes linearly; the trace ends at its last point.
type Trace struct {
	Points []Point
}

// ParseTrace reads a CSV trace: the header "time_s,publishers,subscribers",
// then one row per point with whole seconds and non-negative counts, times
// strictly increasing, at least two rows. Lines starting with # are
// comments. Errors name the line and column of what was wrong.
func ParseTrace(r io.Reader) (Trace, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = 3
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	var tr Trace
	header := false
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return Trace{}, fmt.Errorf("trace line %d, column %d: %w", pe.Line, pe.Column, pe.Err)
			}
			return Trace{}, fmt.Errorf("read trace: %w", err)
		}
		if !header {
			if got := strings.Join(trimAll(rec), ","); got != TraceHeader {
				line, col := cr.FieldPos(0)
				return Trace{}, fmt.Errorf("trace line %d, column %d: header %q, want %q", line, col, got, TraceHeader)
			}
			header = true
			continue
		}
		var vals [3]int
		for i, name := range []string{"time_s", "publishers", "subscribers"} {
			v, err := strconv.Atoi(strings.TrimSpace(rec[i]))
			if err != nil || v < 0 {
				line, col := cr.FieldPos(i)
				return Trace{}, fmt.Errorf("trace line %d, column %d: %s %q is not a non-negative whole number", line, col, name, rec[i])
			}
			vals[i] = v
		}
		p := Point{Time: time.Duration(vals[0]) * time.Second, Publishers: vals[1], Subscribers: vals[2]}
		if n := len(tr.Points); n > 0 && p.Time <= tr.Points[n-1].Time {
			line, col := cr.FieldPos(0)
			return Trace{}, fmt.Errorf("trace line %d, column %d: time_s %d is not after the previous row's %d",
				line, col, vals[0], int(tr.Points[n-1].Time/time.Second))
		}
		tr.Points = append(tr.Points, p)
	}
	if !header {
		return Trace{}, fmt.Errorf("trace is empty: want the header %q and at least two rows", TraceHeader)
	}
	if len(tr.Points) < 2 {
		return Trace{}, fmt.Errorf("trace has %d rows, want at least two", len(tr.Points))
	}
	return tr, nil
}

func trimAll(rec []string) []string {
	out := make([]string, len(rec))
	for i, s := range rec {
		out[i] = strings.TrimSpace(s)
	}
	return out
}

// Duration is the time of the last point.
func (t Trace) Duration() time.Duration {
	if len(t.Points) == 0 {
		return 0
	}
	return t.Points[len(t.Points)-1].Time
}

// At returns the audience at offset d, interpolated linearly between the
// points around it and rounded to whole connections. Before the first point
// it is the first point's; after the last, the last point's.
func (t Trace) At(d time.Duration) (publishers, subscribers int) {
	ps := t.Points
	if len(ps) == 0 {
		return 0, 0
	}
	if d <= ps[0].Time {
		return ps[0].Publishers, ps[0].Subscribers
	}
	// Binary search for the first point after d.
	lo, hi := 0, len(ps)
	for lo < hi {
		mid := (lo + hi) / 2
		if ps[mid].Time <= d {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(ps) {
		last := ps[len(ps)-1]
		return last.Publishers, last.Subscribers
	}
	a, b := ps[lo-1], ps[lo]
	f := float64(d-a.Time) / float64(b.Time-a.Time)
	lerp := func(x, y int) int { return int(math.Round(float64(x) + f*float64(y-x))) }
	return lerp(a.Publishers, b.Publishers), lerp(a.Subscribers, b.Subscribers)
}

// Peak returns the largest publisher and subscriber counts (each at its own
// moment).
func (t Trace) Peak() (publishers, subscribers int) {
	for _, p := range t.Points {
		publishers = max(publishers, p.Publishers)
		subscribers = max(subscribers, p.Subscribers)
	}
	return publishers, subscribers
}
