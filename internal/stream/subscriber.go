package stream

import (
	"context"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/shoal-live/shoal/internal/flv"
)

// Notice tells a subscriber that the publisher of its stream changed, so
// the RTMP layer can send NetStream.Play.PublishNotify or UnpublishNotify.
type Notice int

// Notices.
const (
	NoticePublish   Notice = iota + 1 // a publisher claimed the key; its packets follow
	NoticeUnpublish                   // the publisher left; its last packet came before
)

func (n Notice) String() string {
	switch n {
	case NoticePublish:
		return "publish"
	case NoticeUnpublish:
		return "unpublish"
	}
	return "unknown"
}

// Markers queued in place of a notice, so notices keep their place among
// the packets. They are never returned by Read.
var (
	publishMarker   = &flv.Packet{}
	unpublishMarker = &flv.Packet{}
)

// deliverResult is what deliver did with a packet.
type deliverResult uint8

const (
	queued  deliverResult = iota + 1
	dropped               // counted
	skipped               // not for this subscriber (video before its first keyframe, after Close)
)

// initialRing is the starting capacity of a queue; it doubles up to
// Config.QueuePackets, so idle subscribers stay small.
const initialRing = 64

// maxPending bounds the protected packets kept while a subscriber drops:
// one of each kind (metadata, two sequence headers) and two notices.
const maxPending = 5

// Subscriber reads the packets of one stream from its own bounded queue.
// Read is called from one goroutine; Close and Dropped from any.
type Subscriber struct {
	st      *stream
	notify  chan struct{} // capacity 1: "look at the queue again"
	dropped atomic.Uint64

	// Guarded by st.mu.
	idx  int  // in st.subs; -1 once detached
	live bool // attached while a publisher was present: ended by the grace period

	mu sync.Mutex // guards the fields below
	// The queue: a ring of n packets from head, then pending. Pending
	// holds the protected packets the full ring could not take, at most one
	// of each kind and two notices; it moves to the ring as soon as the ring
	// has room for it and the next packet.
	ring       []*flv.Packet
	head, n    int
	bytes      int // payload bytes in ring
	pending    []*flv.Packet
	maxPackets int
	maxBytes   int
	dropping   bool // dropping until a keyframe fits
	needKey    bool // no keyframe yet: video waits, audio flows
	ended      bool // the stream ended: io.EOF once the queue drains
	closed     bool
	onNotice   func(Notice)
	// waiting is set by Read before it parks on notify with an empty
	// queue; deliver signals notify only then. A reader that is busy
	// writing (or waiting out a merge window) is not woken per packet: it
	// finds the packets when it calls Read again.
	waiting bool
}

func newSubscriber(st *stream, cfg Config) *Subscriber {
	return &Subscriber{
		st:         st,
		notify:     make(chan struct{}, 1),
		idx:        -1,
		ring:       make([]*flv.Packet, min(initialRing, cfg.QueuePackets)),
		maxPackets: cfg.QueuePackets,
		maxBytes:   cfg.QueueBytes,
		needKey:    true,
	}
}

// Key returns the key of the subscriber's stream.
func (s *Subscriber) Key() string { return s.st.key }

// Dropped returns how many packets this subscriber has dropped because its
// queue was full.
func (s *Subscriber) Dropped() uint64 { return s.dropped.Load() }

// OnNotice sets f to be told when the stream's publisher changes. Read
// calls f, in the goroutine that calls Read and with no lock held, in order
// with the packets: Read first returns the packets queued before the
// change, and calls f in the next Read, before it takes any packet queued
// after the change. So a caller that writes what Read returned before it
// reads again can write the status message (NetStream.Play.PublishNotify,
// UnpublishNotify) from f. Without f, notices are discarded.
func (s *Subscriber) OnNotice(f func(Notice)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onNotice = f
}

// deliver queues pkt or drops it; st.mu is held by the caller.
func (s *Subscriber) deliver(pkt *flv.Packet, kind packetKind, audioOnly bool) deliverResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ended {
		return skipped
	}
	res := queued
	switch {
	case kind.protected():
		if s.n+len(s.pending) < s.maxPackets { // the byte bound does not apply
			s.flushPending()
			s.push(pkt)
		} else {
			s.addPending(pkt, kind)
		}
	case kind == kindKeyframe:
		if s.fits(pkt) {
			s.flushPending()
			s.push(pkt)
			s.dropping, s.needKey = false, false
		} else {
			res = dropped
			s.dropping = true
		}
	case s.dropping:
		res = dropped
	case s.needKey && pkt.Type == flv.PacketVideo:
		return skipped
	case s.fits(pkt):
		s.flushPending()
		s.push(pkt)
	default:
		res = dropped
		s.dropping = !audioOnly
	}
	if res == dropped {
		s.dropped.Add(1)
	}
	if res == queued && s.waiting {
		s.waiting = false
		s.wake()
	}
	return res
}

// fits reports whether the ring takes the pending packets and then pkt:
// free slots, and the byte bound, which an empty queue ignores so that any
// packet can pass.
func (s *Subscriber) fits(pkt *flv.Packet) bool {
	count, bytes := s.n+len(s.pending)+1, s.bytes+len(pkt.Payload)
	for _, p := range s.pending {
		bytes += len(p.Payload)
	}
	return count <= s.maxPackets && (count == 1 || bytes <= s.maxBytes)
}

func (s *Subscriber) push(pkt *flv.Packet) {
	if s.n == len(s.ring) {
		s.grow()
	}
	s.ring[(s.head+s.n)%len(s.ring)] = pkt
	s.n++
	s.bytes += len(pkt.Payload)
}

// grow doubles the ring, up to maxPackets; callers check the bound first.
func (s *Subscriber) grow() {
	ring := make([]*flv.Packet, min(2*len(s.ring), s.maxPackets))
	for i := range s.n {
		ring[i] = s.ring[(s.head+i)%len(s.ring)]
	}
	s.ring, s.head = ring, 0
}

func (s *Subscriber) flushPending() {
	for _, p := range s.pending {
		s.push(p)
	}
	clear(s.pending)
	s.pending = s.pending[:0]
}

// addPending keeps a protected packet the ring cannot take. A newer packet
// of the same kind replaces the older one. Notices alternate, and two are
// enough: "X, Y" pending followed by X collapses to "X", so the subscriber
// still hears of every kind of change and ends in the right state.
func (s *Subscriber) addPending(pkt *flv.Packet, kind packetKind) {
	if s.pending == nil {
		s.pending = make([]*flv.Packet, 0, maxPending)
	}
	if kind == kindNotice {
		last, prev := -1, -1
		for i, p := range s.pending {
			if isMarker(p) {
				prev, last = last, i
			}
		}
		if prev >= 0 && s.pending[prev] == pkt {
			s.pending = slices.Delete(s.pending, last, last+1)
			return
		}
		s.pending = append(s.pending, pkt)
		return
	}
	for i, p := range s.pending {
		if !isMarker(p) && p.Type == pkt.Type {
			s.pending = slices.Delete(s.pending, i, i+1)
			break
		}
	}
	s.pending = append(s.pending, pkt)
}

func isMarker(p *flv.Packet) bool { return p == publishMarker || p == unpublishMarker }

// republish prepares s for a new publisher; st.mu is held by the caller.
func (s *Subscriber) republish() {
	s.deliver(publishMarker, kindNotice, true)
	s.mu.Lock()
	s.needKey = true
	s.mu.Unlock()
}

// end marks the stream ended for s; st.mu is held by the caller.
func (s *Subscriber) end() {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.wake()
}

func (s *Subscriber) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Read waits until at least one packet is queued and returns all queued
// packets appended to buf, so the caller can write them at once. It stops
// early at a publisher change (see OnNotice). It returns io.EOF once the
// stream has ended and the queue is drained, ErrClosed after Close, and
// ctx.Err() when ctx is done. Read allocates nothing when buf has room.
func (s *Subscriber) Read(ctx context.Context, buf []*flv.Packet) ([]*flv.Packet, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return buf, ErrClosed
		}
		if s.n > 0 || len(s.pending) > 0 {
			start := len(buf)
			var notice Notice
			buf, notice = s.take(buf)
			f := s.onNotice
			s.mu.Unlock()
			if len(buf) > start {
				return buf, nil
			}
			if f != nil && notice != 0 {
				f(notice)
			}
			continue
		}
		if s.ended {
			s.mu.Unlock()
			return buf, io.EOF
		}
		s.waiting = true
		s.mu.Unlock()
		select {
		case <-s.notify:
		case <-ctx.Done():
			s.mu.Lock()
			s.waiting = false
			s.mu.Unlock()
			return buf, ctx.Err()
		}
	}
}

// take moves the queued packets to buf, stopping before the first notice
// if it took any packet. A notice at the head of the queue is removed and
// returned instead.
func (s *Subscriber) take(buf []*flv.Packet) ([]*flv.Packet, Notice) {
	took := false
	for s.n > 0 || len(s.pending) > 0 {
		p := s.front()
		if isMarker(p) {
			if took {
				return buf, 0
			}
			s.pop()
			return buf, markerNotice(p)
		}
		buf = append(buf, p)
		took = true
		s.pop()
	}
	return buf, 0
}

func (s *Subscriber) front() *flv.Packet {
	if s.n > 0 {
		return s.ring[s.head]
	}
	return s.pending[0]
}

// pop removes the front of the queue.
func (s *Subscriber) pop() {
	if s.n > 0 {
		s.bytes -= len(s.ring[s.head].Payload)
		s.ring[s.head] = nil
		s.head = (s.head + 1) % len(s.ring)
		s.n--
		return
	}
	last := len(s.pending) - 1
	copy(s.pending, s.pending[1:])
	s.pending[last] = nil
	s.pending = s.pending[:last]
}

func markerNotice(p *flv.Packet) Notice {
	if p == publishMarker {
		return NoticePublish
	}
	return NoticeUnpublish
}

// Close detaches the subscriber from its stream and drops its queue; a
// blocked or later Read returns ErrClosed. Close is idempotent.
func (s *Subscriber) Close() {
	st := s.st
	r := st.r
	var c changes
	defer c.emit()
	defer s.wake()
	r.mu.Lock()
	defer r.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	if s.idx >= 0 {
		st.detach(s)
		r.event(&c, st, EventSubscribers)
		r.logger.Debug("subscriber detached", "stream", st.key, "subscribers", len(st.subs), "dropped", s.Dropped())
		if st.pub == nil && len(st.subs) == 0 && !st.removed {
			r.removeLocked(&c, st)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	clear(s.ring)
	s.n, s.bytes = 0, 0
	s.ring, s.pending = nil, nil
}
