package sobench

import (
	"sync"
	"time"

	"github.com/shoal-live/shoal/internal/rtmp/somsg"
	"github.com/shoal-live/shoal/internal/sharedobject/soclient"
)

// reader receives the changes of every object on one connection and
// records which sequence numbers arrived and how late.
type reader struct {
	clock func() time.Duration
	conn  *watched // nil in tests

	mu struct {
		sync.Mutex
		seqs      []seqSet // by object
		primed    []bool   // by object: sequence number 0 arrived
		foreign   uint64   // changes of key without a writer's value
		latency   histogram
		delivered uint64
		window    uint64 // delivered when the window closed
	}
}

// newReader returns a reader of objects objects.
func newReader(objects int, clock func() time.Duration) *reader {
	r := &reader{clock: clock}
	r.mu.seqs = make([]seqSet, objects)
	r.mu.primed = make([]bool, objects)
	return r
}

// onBatch records the changes of key in a batch of object obj. It runs on
// the connection's reading goroutine.
func (r *reader) onBatch(obj int, b soclient.Batch) {
	var now time.Duration
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range b.Events {
		ev := &b.Events[i]
		if ev.Type != somsg.Change {
			continue
		}
		if ev.Pairs != nil {
			for _, p := range ev.Pairs {
				if p.Key == key {
					r.change(obj, p.Value, &now)
				}
			}
		} else if ev.Key == key {
			r.change(obj, ev.Value, &now)
		}
	}
}

// change records one value of key; r.mu is held.
func (r *reader) change(obj int, v any, now *time.Duration) {
	seq, sent, ok := parseValue(v)
	if !ok {
		r.mu.foreign++
		return
	}
	if seq == 0 {
		r.mu.primed[obj] = true
		return
	}
	if *now == 0 {
		*now = r.clock()
	}
	if r.mu.seqs[obj].add(seq) {
		r.mu.delivered++
		r.mu.latency.record(*now - sent)
	}
}

// isPrimed reports whether every object's priming change arrived.
func (r *reader) isPrimed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.mu.primed {
		if !p {
			return false
		}
	}
	return true
}

// caughtUp reports whether the reader holds every sequence number up to
// the highest accepted one of each object.
func (r *reader) caughtUp(highest []uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, h := range highest {
		s := &r.mu.seqs[i]
		if s.count < h || s.highest < h {
			return false
		}
	}
	return true
}

// closeWindow notes how many changes were delivered so far.
func (r *reader) closeWindow() {
	r.mu.Lock()
	r.mu.window = r.mu.delivered
	r.mu.Unlock()
}
