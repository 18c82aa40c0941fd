// Package stream fans live streams out from one publisher to many
// subscribers on one node.
//
// A Registry holds the streams by key. A Publisher claims a key and writes
// packets; every Subscriber of the key gets them through its own bounded
// queue, so a slow subscriber never slows the publisher or the other
// subscribers. Each stream caches its metadata, its sequence headers and its
// current GOP, so a new subscriber starts on a keyframe.
//
// A subscriber's queue is bounded in packets and bytes. When it is full the
// subscriber drops packets, and counts them, until the next video keyframe
// that fits, where video and audio resume together. Metadata, sequence
// headers and publish notices are never dropped: while a subscriber is
// dropping, the latest of each kind is kept and delivered before the
// keyframe it resumes on. An audio-only stream has no keyframes to resume
// on, so when the queue is full it drops the new packet and goes on with the
// next one that fits.
//
// A publisher that leaves keeps its subscribers for Config.PublisherGrace:
// a publisher that claims the key within that time takes them over (they
// get a NoticePublish and the new sequence headers, and their video waits
// for its first keyframe); otherwise they read io.EOF.
//
// Packets pass through unchanged, except for their timestamps after a
// takeover: a publisher that claims the key while subscribers of the last
// one are still attached (a reconnecting encoder) starts its timestamps
// again, usually near 0, and players and recorders would see them jump
// back. So its timestamps are rebased: its first audio or video frame, and
// any metadata and sequence headers before it, get the latest timestamp the
// subscribers got (over audio, video and data) plus the time the stream
// spent without a publisher, measured on the monotonic clock and at least
// 33 ms (about one frame); every later packet is shifted by the same
// offset, so the new publisher's audio and video keep their distances. A
// publisher whose first frame is at or past that timestamp already (a relay
// whose origin went on counting) keeps its timestamps from that frame on.
// Timestamps are 32-bit milliseconds, compared as serial numbers across
// their wrap. A publisher that finds no such subscribers (none at all, or
// only ones that attached before it and saw no publisher) is not rebased.
// The subscribers get the new publisher's metadata and sequence headers as
// it sends them, which encoders do before their first frames, and the
// caches hold the rebased packets.
//
// The Registry starts no goroutines of its own; the grace period runs on a
// time.AfterFunc timer, whose callback takes the locks briefly and returns.
//
// Lock order: Registry.mu before stream.mu before Subscriber.mu.
package stream

import (
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shoal-live/shoal/internal/flv"
)

// Errors returned by Registry.
var (
	ErrStreamTaken = errors.New("stream already publishing")
	ErrNotFound    = errors.New("stream not found")
	// ErrClosed is returned by Read on a Subscriber that was closed.
	ErrClosed = errors.New("subscriber closed")
)

// Config bounds the memory a stream and its subscribers hold.
type Config struct {
	// QueuePackets bounds each subscriber's queue in packets (default 1024,
	// at least 8).
	QueuePackets int
	// QueueBytes bounds each subscriber's queue in payload bytes (default
	// 8 MiB). A single packet larger than this is still queued when the
	// queue is empty.
	QueueBytes int
	// GOPCacheMax bounds the bytes of the cached GOP (default 16 MiB). Only
	// the last GOP is kept; a GOP that outgrows the bound is not cached,
	// and new subscribers wait for the next keyframe. Negative disables the
	// GOP cache.
	GOPCacheMax int
	// PublisherGrace is how long subscribers stay attached after their
	// publisher leaves, waiting for a new one (default 5s), whose
	// timestamps are then rebased (see the package doc). Negative ends
	// them at once.
	PublisherGrace time.Duration
}

// Defaults used for zero Config fields.
const (
	DefaultQueuePackets   = 1024
	DefaultQueueBytes     = 8 << 20
	DefaultGOPCacheMax    = 16 << 20
	DefaultPublisherGrace = 5 * time.Second

	minQueuePackets = 8 // metadata, two sequence headers, notices and a keyframe fit
)

func (c Config) withDefaults() Config {
	if c.QueuePackets <= 0 {
		c.QueuePackets = DefaultQueuePackets
	}
	c.QueuePackets = max(c.QueuePackets, minQueuePackets)
	if c.QueueBytes <= 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.GOPCacheMax == 0 {
		c.GOPCacheMax = DefaultGOPCacheMax
	}
	if c.PublisherGrace == 0 {
		c.PublisherGrace = DefaultPublisherGrace
	}
	return c
}

// EventType says what changed in an Event.
type EventType int

// Event types.
const (
	EventPublish     EventType = iota + 1 // a publisher claimed the key
	EventUnpublish                        // the publisher left; subscribers wait out the grace period
	EventSubscribers                      // the number of subscribers changed
	EventRemove                           // the stream is gone: no publisher, no subscribers
)

func (t EventType) String() string {
	switch t {
	case EventPublish:
		return "publish"
	case EventUnpublish:
		return "unpublish"
	case EventSubscribers:
		return "subscribers"
	case EventRemove:
		return "remove"
	}
	return "unknown"
}

// Event is a change of a stream, with the stream's state after it.
type Event struct {
	Type        EventType
	Key         string
	Publishing  bool
	Subscribers int
	// Seq numbers the registry's events in the order the changes happened.
	// Events reach handlers from several goroutines and can arrive out of
	// order; a handler that keeps state should ignore an event older than
	// the last one it applied for the key.
	Seq uint64
}

// Info describes one stream.
type Info struct {
	Key         string
	Publishing  bool
	Subscribers int
	VideoCodec  string // as flv.VideoCodec names it; "" before the first video packet
	AudioCodec  string // as flv.AudioCodec names it
	Width       int    // from the H.264 or HEVC sequence header; 0 if unknown
	Height      int
	BytesIn     uint64    // payload bytes written by publishers since the stream appeared
	PacketsIn   uint64    // packets written by publishers since the stream appeared
	Dropped     uint64    // packets dropped by its subscribers since the stream appeared
	StartedAt   time.Time // when the current publisher claimed the key; zero without one
}

// Stats are the totals of a registry.
type Stats struct {
	Streams        int
	Publishers     int
	Subscribers    int
	BytesIn        uint64 // payload bytes written by publishers
	PacketsIn      uint64
	BytesOut       uint64 // payload bytes queued to subscribers (not dropped)
	DroppedPackets uint64
}

// Registry holds the live streams of a node by key.
type Registry struct {
	cfg    Config
	logger *slog.Logger

	mu struct {
		sync.Mutex
		streams  map[string]*stream
		handlers []func(Event) // replaced, never changed in place
		seq      uint64        // of the last event
		retired  Stats         // counters of removed streams
	}
}

// NewRegistry returns an empty registry. Zero fields of cfg take their
// defaults.
func NewRegistry(cfg Config, logger *slog.Logger) *Registry {
	r := &Registry{cfg: cfg.withDefaults(), logger: logger}
	r.mu.streams = make(map[string]*stream)
	return r
}

// OnChange registers f to be called for every Event. f is called after the
// registry's locks are released, in the goroutine that made the change
// (a Publish, Subscribe or Close call, or the grace-period timer), possibly
// from several goroutines at once. f must not block: hand the event to a
// channel or a goroutine of your own. f may call the Registry.
func (r *Registry) OnChange(f func(Event)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.handlers = append(slices.Clip(r.mu.handlers), f)
}

// changes collects the events of one operation while the locks are held;
// emit delivers them once the locks are released.
type changes struct {
	handlers []func(Event)
	events   []Event
}

// event records a change of st; r.mu and st.mu must be held.
func (r *Registry) event(c *changes, st *stream, t EventType) {
	r.mu.seq++
	c.handlers = r.mu.handlers
	c.events = append(c.events, Event{
		Type:        t,
		Key:         st.key,
		Publishing:  st.pub != nil,
		Subscribers: len(st.subs),
		Seq:         r.mu.seq,
	})
}

func (c *changes) emit() {
	for _, e := range c.events {
		for _, f := range c.handlers {
			f(e)
		}
	}
}

// Publish claims key for a new publisher. It returns ErrStreamTaken if the
// key has a publisher. Subscribers already attached (waiting, or left by a
// publisher within its grace period) get a NoticePublish and the new
// publisher's packets.
func (r *Registry) Publish(key string) (*Publisher, error) {
	var c changes
	defer c.emit()
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.mu.streams[key]
	if st == nil {
		st = newStream(r, key)
		r.mu.streams[key] = st
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pub != nil {
		return nil, ErrStreamTaken
	}
	p := st.publish()
	r.event(&c, st, EventPublish)
	r.logger.Info("stream published", "stream", key, "subscribers", len(st.subs))
	return p, nil
}

// Subscribe attaches a new subscriber to key. If key has no publisher,
// Subscribe returns ErrNotFound, or with wait set attaches a subscriber
// that gets the stream once a publisher claims the key (play before
// publish, edges that start a relay). A subscriber that waits is not ended
// by the grace period of a publisher it never saw.
func (r *Registry) Subscribe(key string, wait bool) (*Subscriber, error) {
	var c changes
	defer c.emit()
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.mu.streams[key]
	if st == nil || st.pub == nil {
		if !wait {
			return nil, ErrNotFound
		}
		if st == nil {
			st = newStream(r, key)
			r.mu.streams[key] = st
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	s := newSubscriber(st, r.cfg)
	st.attach(s)
	r.event(&c, st, EventSubscribers)
	r.logger.Debug("subscriber attached", "stream", key, "subscribers", len(st.subs), "waiting", st.pub == nil)
	return s, nil
}

// removeLocked drops st from the registry; r.mu and st.mu must be held and
// st must have neither publisher nor subscribers.
func (r *Registry) removeLocked(c *changes, st *stream) {
	st.stopGrace()
	st.removed = true
	delete(r.mu.streams, st.key)
	r.mu.retired.BytesIn += st.bytesIn
	r.mu.retired.PacketsIn += st.packetsIn
	r.mu.retired.BytesOut += st.bytesOut
	r.mu.retired.DroppedPackets += st.dropped
	r.event(c, st, EventRemove)
}

// Streams describes every stream, sorted by key.
func (r *Registry) Streams() []Info {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Info, 0, len(r.mu.streams))
	for _, st := range r.mu.streams {
		st.mu.Lock()
		out = append(out, st.info())
		st.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// Stats returns the registry's totals: the current streams, publishers and
// subscribers, and the counters since the registry was created.
func (r *Registry) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.mu.retired
	s.Streams = len(r.mu.streams)
	for _, st := range r.mu.streams {
		st.mu.Lock()
		if st.pub != nil {
			s.Publishers++
		}
		s.Subscribers += len(st.subs)
		s.BytesIn += st.bytesIn
		s.PacketsIn += st.packetsIn
		s.BytesOut += st.bytesOut
		s.DroppedPackets += st.dropped
		st.mu.Unlock()
	}
	return s
}

// packetKind is how a stream treats a packet.
type packetKind uint8

const (
	kindMedia    packetKind = iota // audio, inter frames, data: dropped when a queue is full
	kindKeyframe                   // starts a GOP; a dropping subscriber resumes here
	kindMetadata                   // never dropped; replaces the last metadata
	kindVideoSeq                   // never dropped; replaces the last video sequence header
	kindAudioSeq                   // never dropped; replaces the last audio sequence header
	kindNotice                     // a publish or unpublish marker; never dropped
)

func (k packetKind) protected() bool { return k >= kindMetadata }

// classify returns how pkt is treated, and for metadata the packet to
// deliver and cache: the message without its @setDataFrame wrapper.
func classify(pkt *flv.Packet) (*flv.Packet, packetKind) {
	switch pkt.Type {
	case flv.PacketVideo:
		switch {
		case pkt.SequenceHeader:
			return pkt, kindVideoSeq
		case pkt.Keyframe:
			return pkt, kindKeyframe
		}
	case flv.PacketAudio:
		if pkt.SequenceHeader {
			return pkt, kindAudioSeq
		}
	case flv.PacketData:
		body, ok := flv.Metadata(pkt.Payload)
		if !ok {
			break
		}
		if len(body) != len(pkt.Payload) {
			pkt = &flv.Packet{Type: flv.PacketData, Timestamp: pkt.Timestamp, Payload: body}
		}
		return pkt, kindMetadata
	}
	return pkt, kindMedia
}
