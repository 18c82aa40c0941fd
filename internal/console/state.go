package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
)

// Sections of the state, in the order the page applies them.
const (
	secFleet   = "fleet"
	secConfig  = "config"
	secScaling = "scaling"
	secObjects = "objects"
	secTick    = "tick"
)

var sectionOrder = []string{secFleet, secConfig, secScaling, secObjects, secTick}

// point is one sample of a history: a time (Unix ms) and a value.
type point struct {
	T int64
	V float64
}

// MarshalJSON writes [t, v], half the size of an object.
func (p point) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]any{p.T, p.V})
}

// UnmarshalJSON reads [t, v].
func (p *point) UnmarshalJSON(b []byte) error {
	var a [2]float64
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("history point: %w", err)
	}
	p.T, p.V = int64(a[0]), a[1]
	return nil
}

// ring keeps the last n points.
type ring struct {
	pts  []point
	next int
	full bool
}

func newRing(n int) *ring { return &ring{pts: make([]point, n)} }

func (r *ring) add(p point) {
	r.pts[r.next] = p
	r.next++
	if r.next == len(r.pts) {
		r.next, r.full = 0, true
	}
}

// last returns up to n of the newest points, oldest first.
func (r *ring) last(n int) []point {
	var all []point
	if r.full {
		all = append(append(all, r.pts[r.next:]...), r.pts[:r.next]...)
	} else {
		all = append(all, r.pts[:r.next]...)
	}
	if n > 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

// state holds the latest sections, their versions, the histories and the
// event streams waiting for changes.
type state struct {
	history int

	mu struct {
		sync.Mutex
		seq      uint64                // version of the newest section
		sections map[string][]byte     // name → JSON
		versions map[string]uint64     // name → version
		subs     map[chan struct{}]int // change signals of event streams
		load     map[string]*ring      // loadKey → load percent
	}
}

func newState(history int) *state {
	s := &state{history: history}
	s.mu.sections = map[string][]byte{}
	s.mu.versions = map[string]uint64{}
	s.mu.subs = map[chan struct{}]int{}
	s.mu.load = map[string]*ring{}
	return s
}

// publish stores the sections given (name → JSON), bumping the version of
// those that changed, and wakes the event streams if any did.
func (s *state) publish(sections map[string][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for name, b := range sections {
		if old, ok := s.mu.sections[name]; ok && bytes.Equal(old, b) {
			continue
		}
		s.mu.seq++
		s.mu.sections[name] = b
		s.mu.versions[name] = s.mu.seq
		changed = true
	}
	if !changed {
		return
	}
	for ch := range s.mu.subs {
		select {
		case ch <- struct{}{}:
		default: // a signal is pending already
		}
	}
}

// addLoad appends the load of every group and role at t; roles absent
// from load lose their history.
func (s *state) addLoad(t int64, load map[string]float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.mu.load {
		if _, ok := load[k]; !ok {
			delete(s.mu.load, k)
		}
	}
	for k, v := range load {
		r := s.mu.load[k]
		if r == nil {
			r = newRing(s.history)
			s.mu.load[k] = r
		}
		r.add(point{T: t, V: v})
	}
}

func (s *state) loadHistory() map[string][]point {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]point, len(s.mu.load))
	for k, r := range s.mu.load {
		out[k] = r.last(0)
	}
	return out
}

// subscribe registers an event stream. Its channel holds a signal at
// once, so the stream sends the whole state first.
func (s *state) subscribe() chan struct{} {
	ch := make(chan struct{}, 1)
	ch <- struct{}{}
	s.mu.Lock()
	s.mu.subs[ch] = 0
	s.mu.Unlock()
	return ch
}

func (s *state) unsubscribe(ch chan struct{}) {
	s.mu.Lock()
	delete(s.mu.subs, ch)
	s.mu.Unlock()
}

// subscribers returns the number of event streams.
func (s *state) subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.subs)
}

// changedSince returns a JSON object holding the sections whose version
// is not the one in sent, and records their versions in sent; nil if none
// changed. An empty sent gets every section.
func (s *state) changedSince(sent map[string]uint64) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	for _, name := range sectionOrder {
		v, ok := s.mu.versions[name]
		if !ok || sent[name] == v {
			continue
		}
		if b.Len() == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(name)
		b.WriteString(`":`)
		b.Write(s.mu.sections[name])
		sent[name] = v
	}
	if b.Len() == 0 {
		return nil
	}
	b.WriteByte('}')
	return b.Bytes()
}
