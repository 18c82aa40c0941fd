package mediaserver

import (
	"errors"
	"log/slog"
	"sync"

	"github.com/shoal-live/shoal/internal/relay"
	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/rtmp/message"
	"github.com/shoal-live/shoal/internal/stream"
)

// rtmpHandler adapts RTMP sessions to the stream registry, the relay and
// the shared objects.
type rtmpHandler struct {
	streams *stream.Registry
	so      soFace // nil until shared objects are wired
	logger  *slog.Logger

	// Set by Run before the RTMP server serves; read-only afterwards.
	relay    puller      // nil unless the node is an edge with an origin locator
	draining func() bool // nil without a stream manager

	relayMu   sync.Mutex
	relaySubs map[string]int // stream key → subscribers that are other nodes' relay pulls
}

// puller starts pulling a stream from its origin (relay.Relay).
type puller interface {
	Ensure(key string) error
}

// Errors a player is refused with (NetStream.Play.Failed, the text as
// description).
var (
	// errDraining: the manager is draining the node before it is removed.
	errDraining = errors.New("node draining")
	// errOriginUnavailable: the origin lookup or the pull could not start
	// (the details are logged, not sent to the player).
	errOriginUnavailable = errors.New("origin unavailable")
)

// soFace is the part of the shared objects that RTMP connections use.
type soFace interface {
	HandleMessage(c *rtmp.ServerConn, m *message.SharedObject)
	Disconnect(c *rtmp.ServerConn)
}

var _ rtmp.Handler = (*rtmpHandler)(nil)

func streamKey(s *rtmp.ServerStream) string {
	if s.Scope() == "" {
		return s.Name()
	}
	return s.Scope() + "/" + s.Name()
}

func (h *rtmpHandler) Connect(*rtmp.ServerConn) error { return nil }

func (h *rtmpHandler) Publish(_ *rtmp.ServerConn, s *rtmp.ServerStream) (rtmp.Publisher, error) {
	p, err := h.streams.Publish(streamKey(s))
	if errors.Is(err, stream.ErrStreamTaken) {
		return nil, rtmp.ErrStreamTaken
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Play subscribes a player. A draining node refuses new players, but not
// the pulls of edges (they carry streams published here to their
// players), and edge pulls are written without the write-merge window. An
// edge pulls a stream it does not carry from its origin, once for all its
// players, and the player waits for the first packets.
func (h *rtmpHandler) Play(c *rtmp.ServerConn, s *rtmp.ServerStream) (rtmp.Source, error) {
	key := streamKey(s)
	isRelay := relay.IsRelay(flashVer(c))
	if !isRelay && h.draining != nil && h.draining() {
		return nil, errDraining
	}
	sub, err := h.streams.Subscribe(key, false)
	if errors.Is(err, stream.ErrNotFound) && h.relay != nil && !isRelay {
		sub, err = h.pull(c, key)
	}
	if errors.Is(err, stream.ErrNotFound) {
		return nil, rtmp.ErrStreamNotFound
	}
	if err != nil {
		return nil, err
	}
	if isRelay {
		s.SetWriteMerge(0) // the origin→edge hop adds no merge delay: the edge's players get theirs
		return h.relaySource(key, sub), nil
	}
	return sub, nil
}

// pull makes the relay pull key and subscribes to it, waiting for its
// packets.
func (h *rtmpHandler) pull(c *rtmp.ServerConn, key string) (*stream.Subscriber, error) {
	if err := h.relay.Ensure(key); err != nil {
		if errors.Is(err, relay.ErrStreamNotFound) {
			return nil, stream.ErrNotFound
		}
		c.Logger().Warn("play refused: cannot pull from origin", "stream", key, "err", err)
		return nil, errOriginUnavailable
	}
	return h.streams.Subscribe(key, true)
}

func flashVer(c *rtmp.ServerConn) string {
	v, _ := c.ConnectObject().Get("flashVer")
	s, _ := v.(string)
	return s
}

// relaySource is the subscription of another node's relay pull: counted
// apart, so reports leave edges out of this node's players.
type relaySource struct {
	*stream.Subscriber
	once sync.Once
	done func()
}

func (r *relaySource) Close() {
	r.Subscriber.Close()
	r.once.Do(r.done)
}

func (h *rtmpHandler) relaySource(key string, sub *stream.Subscriber) *relaySource {
	h.relayMu.Lock()
	defer h.relayMu.Unlock()
	if h.relaySubs == nil {
		h.relaySubs = make(map[string]int)
	}
	h.relaySubs[key]++
	return &relaySource{Subscriber: sub, done: func() {
		h.relayMu.Lock()
		defer h.relayMu.Unlock()
		if h.relaySubs[key]--; h.relaySubs[key] <= 0 {
			delete(h.relaySubs, key)
		}
	}}
}

// relaySubscribers returns, per stream key, how many subscribers are
// other nodes' relay pulls.
func (h *rtmpHandler) relaySubscribers() map[string]int {
	h.relayMu.Lock()
	defer h.relayMu.Unlock()
	out := make(map[string]int, len(h.relaySubs))
	for k, n := range h.relaySubs {
		out[k] = n
	}
	return out
}

func (h *rtmpHandler) SharedObject(c *rtmp.ServerConn, m *message.SharedObject) {
	if h.so == nil {
		return
	}
	h.so.HandleMessage(c, m)
}

func (h *rtmpHandler) Disconnect(c *rtmp.ServerConn) {
	if h.so != nil {
		h.so.Disconnect(c)
	}
}
