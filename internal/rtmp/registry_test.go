package rtmp_test

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/rtmp/message"
)

// registry is the tests' Handler: an in-memory one-publisher-many-players
// stream registry with a GOP cache, and an echo for shared objects.
type registry struct {
	rejectApp string // Connect refuses this app

	mu struct {
		sync.Mutex
		streams     map[string]*liveStream
		conns       map[*rtmp.ServerConn]bool
		disconnects int
	}
}

var _ rtmp.Handler = (*registry)(nil)

func newRegistry() *registry {
	r := &registry{}
	r.mu.streams = make(map[string]*liveStream)
	r.mu.conns = make(map[*rtmp.ServerConn]bool)
	return r
}

func (r *registry) Connect(c *rtmp.ServerConn) error {
	if r.rejectApp != "" && c.App() == r.rejectApp {
		return errors.New("app " + c.App() + " is closed")
	}
	r.mu.Lock()
	r.mu.conns[c] = true
	r.mu.Unlock()
	return nil
}

func (r *registry) Disconnect(c *rtmp.ServerConn) {
	r.mu.Lock()
	delete(r.mu.conns, c)
	r.mu.disconnects++
	r.mu.Unlock()
}

// SharedObject echoes the message back to its sender.
func (r *registry) SharedObject(c *rtmp.ServerConn, m *message.SharedObject) {
	_ = c.SendSharedObject(append([]byte(nil), m.Body...))
}

func (r *registry) Publish(c *rtmp.ServerConn, s *rtmp.ServerStream) (rtmp.Publisher, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.mu.streams[s.Path()]; ok {
		return nil, rtmp.ErrStreamTaken
	}
	ls := &liveStream{reg: r, path: s.Path(), subs: make(map[*subscriber]bool)}
	r.mu.streams[s.Path()] = ls
	return ls, nil
}

func (r *registry) Play(c *rtmp.ServerConn, s *rtmp.ServerStream) (rtmp.Source, error) {
	r.mu.Lock()
	ls := r.mu.streams[s.Path()]
	r.mu.Unlock()
	if ls == nil {
		return nil, rtmp.ErrStreamNotFound
	}
	return ls.subscribe(), nil
}

// stream returns the live stream at path, or nil.
func (r *registry) stream(path string) *liveStream {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.streams[path]
}

// liveStream is one published stream.
type liveStream struct {
	reg  *registry
	path string

	mu      sync.Mutex
	headers []*flv.Packet // sequence headers and metadata
	gop     []*flv.Packet // since the last keyframe
	packets int           // received
	subs    map[*subscriber]bool
}

// received returns how many packets the stream has received.
func (ls *liveStream) received() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.packets
}

func (ls *liveStream) WritePacket(p *flv.Packet) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.packets++
	switch {
	case p.SequenceHeader || p.Type == flv.PacketData:
		ls.headers = append(ls.headers, p)
	case p.Keyframe:
		ls.gop = append(ls.gop[:0], p)
	case len(ls.gop) > 0:
		ls.gop = append(ls.gop, p)
	}
	for s := range ls.subs {
		s.push(p)
	}
}

func (ls *liveStream) Close() {
	ls.reg.mu.Lock()
	delete(ls.reg.mu.streams, ls.path)
	ls.reg.mu.Unlock()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for s := range ls.subs {
		s.end()
	}
}

func (ls *liveStream) subscribe() *subscriber {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	s := &subscriber{ls: ls, notify: make(chan struct{}, 1)}
	s.pkts = append(append(s.pkts, ls.headers...), ls.gop...)
	ls.subs[s] = true
	return s
}

// subscriber is one player's queue (unbounded: tests are small).
type subscriber struct {
	ls     *liveStream
	mu     sync.Mutex
	pkts   []*flv.Packet
	eof    bool
	notify chan struct{}
}

func (s *subscriber) push(p *flv.Packet) {
	s.mu.Lock()
	s.pkts = append(s.pkts, p)
	s.mu.Unlock()
	s.wake()
}

func (s *subscriber) end() {
	s.mu.Lock()
	s.eof = true
	s.mu.Unlock()
	s.wake()
}

func (s *subscriber) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *subscriber) Read(ctx context.Context, buf []*flv.Packet) ([]*flv.Packet, error) {
	for {
		s.mu.Lock()
		if len(s.pkts) > 0 {
			buf = append(buf, s.pkts...)
			clear(s.pkts)
			s.pkts = s.pkts[:0]
			s.mu.Unlock()
			return buf, nil
		}
		eof := s.eof
		s.mu.Unlock()
		if eof {
			return buf, io.EOF
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return buf, ctx.Err()
		}
	}
}

func (s *subscriber) Close() {
	s.ls.mu.Lock()
	delete(s.ls.subs, s)
	s.ls.mu.Unlock()
}
