package sobench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/somsg"
	"github.com/shoal-live/shoal/internal/sharedobject/soclient"
)

// key is the attribute every writer sets.
const key = "v"

// setter is what a writer needs of its shared object.
type setter interface {
	Set(key string, value any) error
}

// writer sets key on one object, each value carrying a sequence number and
// its send time, and matches the answers (Success, or Status for a refused
// change) to its sends: the server answers one connection's changes in the
// order they were sent.
type writer struct {
	obj      setter
	conn     *watched             // nil in tests
	clock    func() time.Duration // time since the run started
	slots    chan struct{}        // one token per change in flight
	inFlight int

	mu struct {
		sync.Mutex
		sent      uint64          // sequence number of the last send
		answered  uint64          // sends answered, in order
		sendTimes []time.Duration // of the sends in flight, by sequence number modulo inFlight
		accepted  seqSet
		rejected  uint64
		unmatched uint64    // answers with nothing in flight (the priming change's)
		ack       histogram // send to Success
		windowAck uint64    // accepted when the window closed
	}
}

// newWriter returns a writer of obj allowing inFlight unanswered changes.
func newWriter(obj setter, clock func() time.Duration, inFlight int) *writer {
	w := &writer{obj: obj, clock: clock, slots: make(chan struct{}, inFlight), inFlight: inFlight}
	w.mu.sendTimes = make([]time.Duration, inFlight)
	return w
}

// value is what a writer sets: the sequence number and the send time in ns
// since the run started (exact in a float64 for 104 days).
func value(seq uint64, sent time.Duration) amf.StrictArray {
	return amf.StrictArray{float64(seq), float64(sent)}
}

// parseValue reads a value a writer set. AMF3 may carry small whole
// numbers as integers.
func parseValue(v any) (seq uint64, sent time.Duration, ok bool) {
	arr, ok := v.(amf.StrictArray)
	if !ok || len(arr) != 2 {
		return 0, 0, false
	}
	num := func(x any) (float64, bool) {
		switch x := x.(type) {
		case float64:
			return x, x >= 0
		case int32:
			return float64(x), x >= 0
		}
		return 0, false
	}
	s, ok1 := num(arr[0])
	t, ok2 := num(arr[1])
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	return uint64(s), time.Duration(t), true
}

// send sets the next value, after waiting for a free in-flight slot until
// deadline. It returns false, without sending, if the deadline passed or
// ctx ended first.
func (w *writer) send(ctx context.Context, deadline <-chan time.Time) (bool, error) {
	select {
	case w.slots <- struct{}{}: // a free slot wins over a passed deadline
	default:
		select {
		case w.slots <- struct{}{}:
		case <-deadline:
			return false, nil
		case <-ctx.Done():
			return false, nil
		}
	}
	now := w.clock()
	w.mu.Lock()
	w.mu.sent++
	seq := w.mu.sent
	w.mu.sendTimes[seq%uint64(w.inFlight)] = now
	w.mu.Unlock()
	if err := w.obj.Set(key, value(seq, now)); err != nil {
		return false, fmt.Errorf("set change %d: %w", seq, err)
	}
	return true, nil
}

// onBatch takes the answers in a batch the writer's object received. It
// runs on the connection's reading goroutine.
func (w *writer) onBatch(b soclient.Batch) {
	var now time.Duration
	for _, ev := range b.Events {
		if ev.Type != somsg.Success && ev.Type != somsg.Status {
			continue
		}
		if now == 0 {
			now = w.clock()
		}
		w.answer(ev.Type == somsg.Success, now)
	}
}

// answer matches the oldest unanswered send with a Success (ok) or a
// Status, answered at now.
func (w *writer) answer(ok bool, now time.Duration) {
	w.mu.Lock()
	if w.mu.answered == w.mu.sent { // nothing in flight: the priming change
		w.mu.unmatched++
		w.mu.Unlock()
		return
	}
	w.mu.answered++
	seq := w.mu.answered
	if ok {
		w.mu.accepted.add(seq)
		w.mu.ack.record(now - w.mu.sendTimes[seq%uint64(w.inFlight)])
	} else {
		w.mu.rejected++
	}
	w.mu.Unlock()
	select {
	case <-w.slots:
	default:
	}
}

// prime sets sequence number 0, which is not counted, and waits for its
// answer: it creates the object's log and warms every path before the
// measurement starts.
func (w *writer) prime(ctx context.Context) error {
	if err := w.obj.Set(key, value(0, w.clock())); err != nil {
		return fmt.Errorf("set priming change: %w", err)
	}
	return poll(ctx, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.mu.unmatched > 0
	})
}

// closeWindow notes how many changes were accepted so far.
func (w *writer) closeWindow() {
	w.mu.Lock()
	w.mu.windowAck = w.mu.accepted.count
	w.mu.Unlock()
}

// settled reports whether every send has been answered.
func (w *writer) settled() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.answered == w.mu.sent
}

// pace sends at interval from first (the i-th change at first+i*interval)
// until end, sending at once what is due after a late wake-up. It returns
// when end passes, ctx ends or a send fails.
func (w *writer) pace(ctx context.Context, first time.Time, interval time.Duration, end time.Time) error {
	t := time.NewTimer(0)
	defer t.Stop()
	deadline := time.NewTimer(time.Until(end))
	defer deadline.Stop()
	for i := 0; ; i++ {
		due := first.Add(time.Duration(i) * interval)
		if !due.Before(end) {
			return nil
		}
		if d := time.Until(due); d > 0 {
			t.Reset(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				return nil
			}
		}
		if ok, err := w.send(ctx, deadline.C); !ok {
			return err
		}
	}
}

// flood sends as fast as the server answers, within the in-flight bound,
// until end.
func (w *writer) flood(ctx context.Context, end time.Time) error {
	deadline := time.NewTimer(time.Until(end))
	defer deadline.Stop()
	for time.Now().Before(end) {
		if ok, err := w.send(ctx, deadline.C); !ok {
			return err
		}
	}
	return nil
}
