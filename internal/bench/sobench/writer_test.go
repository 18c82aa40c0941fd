package sobench

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/somsg"
	"github.com/shoal-live/shoal/internal/sharedobject/soclient"
)

// fakeObject records what a writer sets.
type fakeObject struct {
	mu   sync.Mutex
	sets []any
	err  error
}

func (f *fakeObject) Set(k string, v any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k != key {
		return errors.New("wrong key " + k)
	}
	f.sets = append(f.sets, v)
	return f.err
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Duration
}

func (c *fakeClock) clock() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(d time.Duration) {
	c.mu.Lock()
	c.now = d
	c.mu.Unlock()
}

func batchOf(types ...somsg.EventType) soclient.Batch {
	var b soclient.Batch
	for _, t := range types {
		b.Events = append(b.Events, somsg.Event{Type: t, Key: key})
	}
	return b
}

// closed is a deadline that has passed.
func closed() <-chan time.Time {
	c := make(chan time.Time, 1)
	c <- time.Time{}
	return c
}

func TestWriter_MatchesAnswersToSendsInOrder(t *testing.T) {
	obj := &fakeObject{}
	clk := &fakeClock{}
	w := newWriter(obj, clk.clock, 3)
	ctx := context.Background()
	never := make(chan time.Time)

	// Three sends at 1, 2 and 3 ms fill the in-flight bound.
	for i := 1; i <= 3; i++ {
		clk.set(time.Duration(i) * time.Millisecond)
		if ok, err := w.send(ctx, never); !ok || err != nil {
			t.Fatalf("send %d = %v, %v, want true, nil", i, ok, err)
		}
	}
	// A fourth must wait for an answer: with its deadline passed, it is
	// not sent.
	if ok, err := w.send(ctx, closed()); ok || err != nil {
		t.Fatalf("send over the in-flight bound = %v, %v, want false, nil", ok, err)
	}
	// Success for 1 and Status for 2 in one message at 10 ms, then a
	// change of another client (ignored).
	clk.set(10 * time.Millisecond)
	w.onBatch(batchOf(somsg.Success, somsg.Status))
	w.onBatch(batchOf(somsg.Change))
	// Two slots are free again.
	for i := 4; i <= 5; i++ {
		if ok, err := w.send(ctx, never); !ok || err != nil {
			t.Fatalf("send %d = %v, %v, want true, nil", i, ok, err)
		}
	}
	clk.set(20 * time.Millisecond)
	w.onBatch(batchOf(somsg.Success, somsg.Success))
	if w.settled() {
		t.Errorf("settled with change 5 unanswered")
	}
	w.onBatch(batchOf(somsg.Success))
	if !w.settled() {
		t.Errorf("not settled after every change was answered")
	}
	// An answer with nothing in flight (the priming change's) is not
	// matched to anything.
	w.onBatch(batchOf(somsg.Success))

	w.mu.Lock()
	defer w.mu.Unlock()
	type state struct {
		Sent, Answered, Accepted, Rejected, Unmatched, Highest uint64
		AckMs                                                  []float64
	}
	got := state{
		Sent: w.mu.sent, Answered: w.mu.answered, Accepted: w.mu.accepted.count, Rejected: w.mu.rejected,
		Unmatched: w.mu.unmatched, Highest: w.mu.accepted.highest,
		AckMs: []float64{w.mu.ack.summary().P50Ms, w.mu.ack.summary().MaxMs},
	}
	// Acks: 1 at 10-1 ms, 3 at 20-3, 4 and 5 at 20-10 ms; p50 of
	// {9, 10, 10, 17} is 10 ms within a bucket.
	want := state{Sent: 5, Answered: 5, Accepted: 4, Rejected: 1, Unmatched: 1, Highest: 5, AckMs: []float64{10, 17}}
	within1pc := cmp.Comparer(func(a, b float64) bool { return a <= b*1.01 && b <= a*1.01 })
	if diff := cmp.Diff(want, got, within1pc); diff != "" {
		t.Errorf("writer state differs (-want +got):\n%s", diff)
	}
	if w.mu.accepted.has(2) {
		t.Errorf("refused change 2 counted as accepted")
	}
	for i, v := range obj.sets {
		seq, _, ok := parseValue(v)
		if !ok || seq != uint64(i+1) {
			t.Errorf("set %d carried %v, want sequence number %d", i, v, i+1)
		}
	}
}

func TestWriter_SendError(t *testing.T) {
	w := newWriter(&fakeObject{err: errors.New("broken pipe")}, (&fakeClock{}).clock, 1)
	ok, err := w.send(context.Background(), make(chan time.Time))
	if ok || err == nil {
		t.Errorf("send on a broken connection = %v, %v, want false and an error", ok, err)
	}
}

func TestWriter_PaceSendsAtTheRate(t *testing.T) {
	obj := &fakeObject{}
	w := newWriter(obj, (&fakeClock{}).clock, 1000)
	start := time.Now()
	if err := w.pace(context.Background(), start, 10*time.Millisecond, start.Add(95*time.Millisecond)); err != nil {
		t.Fatalf("pace: %v", err)
	}
	if len(obj.sets) != 10 {
		t.Errorf("pace sent %d changes in 95 ms at one per 10 ms, want 10", len(obj.sets))
	}
	if el := time.Since(start); el < 90*time.Millisecond {
		t.Errorf("pace took %s, want at least 90 ms", el)
	}
}

func TestParseValue(t *testing.T) {
	tests := []struct {
		name string
		v    any
		seq  uint64
		sent time.Duration
		ok   bool
	}{
		{name: "as set", v: value(42, 1234567890123), seq: 42, sent: 1234567890123, ok: true},
		{name: "amf3 integers", v: amf.StrictArray{int32(7), int32(9)}, seq: 7, sent: 9, ok: true},
		{name: "not an array", v: 3.0},
		{name: "short array", v: amf.StrictArray{1.0}},
		{name: "negative", v: amf.StrictArray{-1.0, 2.0}},
		{name: "string", v: amf.StrictArray{"1", 2.0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seq, sent, ok := parseValue(tc.v)
			if seq != tc.seq || sent != tc.sent || ok != tc.ok {
				t.Errorf("parseValue(%v) = %d, %d, %v, want %d, %d, %v", tc.v, seq, sent, ok, tc.seq, tc.sent, tc.ok)
			}
		})
	}
}

func TestReader_CountsChangesAndLatency(t *testing.T) {
	clk := &fakeClock{}
	r := newReader(2, clk.clock)
	change := func(v any) somsg.Event { return somsg.Event{Type: somsg.Change, Key: key, Value: v} }
	clk.set(5 * time.Millisecond)
	r.onBatch(0, soclient.Batch{Events: []somsg.Event{change(value(0, 0))}})
	if r.isPrimed() {
		t.Errorf("primed with one object of two primed")
	}
	r.onBatch(1, soclient.Batch{Events: []somsg.Event{
		change(value(0, 0)),
		change(value(1, 4*time.Millisecond)),
		{Type: somsg.Change, Key: "other", Value: value(9, 0)},
		{Type: somsg.Change, Pairs: []amf.Property{{Key: key, Value: value(2, 3*time.Millisecond)}}},
		change("not ours"),
		{Type: somsg.Success, Key: key},
	}})
	r.onBatch(1, soclient.Batch{Events: []somsg.Event{change(value(2, 3*time.Millisecond))}})
	if !r.isPrimed() {
		t.Errorf("not primed after both priming changes")
	}
	if !r.caughtUp([]uint64{0, 2}) || r.caughtUp([]uint64{1, 2}) {
		t.Errorf("caughtUp wrong: have object 1's changes 1 and 2, none of object 0")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	got := []uint64{r.mu.delivered, r.mu.foreign, r.mu.seqs[1].duplicates, r.mu.latency.n}
	if diff := cmp.Diff([]uint64{2, 1, 1, 2}, got); diff != "" {
		t.Errorf("delivered, foreign, duplicates, latencies differ (-want +got):\n%s", diff)
	}
	if mx := r.mu.latency.max; mx != 2*time.Millisecond {
		t.Errorf("max latency = %s, want 2ms", mx)
	}
}
