package stream

import (
	"sync"
	"time"

	"github.com/shoal-live/shoal/internal/flv"
)

// stream is one key of a Registry: its publisher, its subscribers and what
// a new subscriber needs to start.
type stream struct {
	key string
	r   *Registry

	mu sync.Mutex // guards the fields below

	pub        *Publisher
	subs       []*Subscriber // each knows its index
	graceTimer *time.Timer   // running while subscribers wait for a new publisher
	graceGen   uint64        // bumped to disarm a timer that already fired
	removed    bool

	// What a new subscriber gets first.
	metadata *flv.Packet
	videoSeq *flv.Packet
	audioSeq *flv.Packet
	gop      []*flv.Packet // from the last keyframe, while gopOK
	gopBytes int
	gopOK    bool
	hasVideo bool // the publisher has sent video: drops resume at keyframes

	videoCodec, audioCodec string
	width, height          int
	bytesIn, packetsIn     uint64
	bytesOut, dropped      uint64
	startedAt              time.Time

	// Timestamps across publishers (rebase.go). They outlive a publisher,
	// so that one taking over its subscribers carries on after them.
	lastTS        uint32 // the latest timestamp delivered, if hasTS
	hasTS         bool
	unpublishedAt time.Time // when the last publisher left
	rebase        rebaseState
	rebaseFrom    uint32 // lastTS at the takeover
	tsOffset      uint32 // added to the publisher's timestamps in rebaseOn
}

func newStream(r *Registry, key string) *stream {
	return &stream{key: key, r: r}
}

// Publisher writes the packets of one stream. Its methods may be called
// from one goroutine at a time.
type Publisher struct {
	st *stream
}

// Key returns the key the publisher claimed.
func (p *Publisher) Key() string { return p.st.key }

// publish makes a new publisher current; st.mu must be held.
func (st *stream) publish() *Publisher {
	st.stopGrace()
	p := &Publisher{st: st}
	st.pub = p
	st.startedAt = time.Now()
	st.resetMedia()
	takeover := false
	for _, s := range st.subs {
		takeover = takeover || s.live
		s.live = true
		s.republish()
	}
	st.startRebase(takeover)
	return p
}

// resetMedia forgets what the last publisher sent; st.mu must be held.
func (st *stream) resetMedia() {
	st.metadata, st.videoSeq, st.audioSeq = nil, nil, nil
	st.resetGOP(false)
	st.hasVideo = false
	st.videoCodec, st.audioCodec = "", ""
	st.width, st.height = 0, 0
}

func (st *stream) resetGOP(ok bool) {
	clear(st.gop)
	st.gop = st.gop[:0]
	st.gopBytes = 0
	st.gopOK = ok
}

// WritePacket sends pkt to every subscriber and updates the caches. It
// never blocks on subscribers: a subscriber whose queue is full drops the
// packet. Its cost is O(subscribers) and it allocates nothing per
// subscriber. Packets written after Close are ignored.
//
// WritePacket takes pkt over. A publisher that took over the subscribers
// of another has its timestamps rebased (see the package doc): then
// WritePacket sets pkt.Timestamp in place, before anything else sees pkt,
// so pkt must be the caller's own, not shared or encoded yet. Afterwards
// pkt must not be changed: subscribers share it.
func (p *Publisher) WritePacket(pkt *flv.Packet) {
	st := p.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pub != p {
		return
	}
	st.bytesIn += uint64(len(pkt.Payload))
	st.packetsIn++
	if st.rebase != rebaseOff {
		st.rebaseTS(pkt)
	}
	st.noteTS(pkt.Timestamp)
	pkt, kind := classify(pkt)
	st.cache(pkt, kind)
	audioOnly := !st.hasVideo
	n := uint64(len(pkt.Payload))
	for _, s := range st.subs {
		switch s.deliver(pkt, kind, audioOnly) {
		case queued:
			st.bytesOut += n
		case dropped:
			st.dropped++
		}
	}
}

// cache updates what new subscribers get and the stream's description;
// st.mu must be held.
func (st *stream) cache(pkt *flv.Packet, kind packetKind) {
	switch kind {
	case kindMetadata:
		st.metadata = pkt
		return
	case kindVideoSeq:
		st.hasVideo = true
		st.videoSeq = pkt
		info, err := flv.ParseVideoInfo(pkt.Payload)
		if err != nil {
			st.r.logger.Debug("unreadable video sequence header", "stream", st.key, "error", err)
		}
		st.videoCodec, st.width, st.height = info.Codec, info.Width, info.Height
		return
	case kindAudioSeq:
		st.audioSeq = pkt
		st.audioCodec = flv.AudioCodec(pkt.Payload)
		return
	case kindKeyframe:
		st.resetGOP(true)
	}
	switch pkt.Type {
	case flv.PacketVideo:
		st.hasVideo = true
		if st.videoCodec == "" {
			st.videoCodec = flv.VideoCodec(pkt.Payload)
		}
	case flv.PacketAudio:
		if st.audioCodec == "" {
			st.audioCodec = flv.AudioCodec(pkt.Payload)
		}
	default:
		return // data messages other than metadata are live only
	}
	if !st.gopOK {
		return
	}
	if st.gopBytes+len(pkt.Payload) > st.r.cfg.GOPCacheMax {
		st.resetGOP(false) // new subscribers wait for the next keyframe
		return
	}
	st.gop = append(st.gop, pkt)
	st.gopBytes += len(pkt.Payload)
}

// Close unpublishes. Subscribers get a NoticeUnpublish, then stay attached
// for the grace period: if a publisher claims the key within it they go on
// with it, otherwise they read io.EOF once their queues drain. Close is
// idempotent.
func (p *Publisher) Close() {
	st := p.st
	r := st.r
	var c changes
	defer c.emit()
	r.mu.Lock()
	defer r.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pub != p {
		return
	}
	st.pub = nil
	st.startedAt = time.Time{}
	st.unpublishedAt = time.Now()
	st.resetMedia()
	for _, s := range st.subs {
		s.deliver(unpublishMarker, kindNotice, true)
	}
	r.event(&c, st, EventUnpublish)
	r.logger.Info("stream unpublished", "stream", st.key, "subscribers", len(st.subs))
	switch {
	case len(st.subs) == 0:
		r.removeLocked(&c, st)
	case r.cfg.PublisherGrace < 0:
		st.endLive(&c)
	default:
		st.graceGen++
		gen := st.graceGen
		st.graceTimer = time.AfterFunc(r.cfg.PublisherGrace, func() { st.graceExpired(gen) })
	}
}

// stopGrace disarms the grace timer; st.mu must be held.
func (st *stream) stopGrace() {
	if st.graceTimer != nil {
		st.graceTimer.Stop()
		st.graceTimer = nil
	}
	st.graceGen++ // a timer that fired already finds a newer generation
}

// graceExpired ends the subscribers left by the last publisher if no new
// publisher came.
func (st *stream) graceExpired(gen uint64) {
	r := st.r
	var c changes
	defer c.emit()
	r.mu.Lock()
	defer r.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.graceGen != gen || st.pub != nil || st.removed {
		return
	}
	st.graceTimer = nil
	st.endLive(&c)
}

// endLive ends the subscribers that saw a publisher, keeping those that
// wait for one; r.mu and st.mu must be held.
func (st *stream) endLive(c *changes) {
	ended := 0
	for i := 0; i < len(st.subs); {
		s := st.subs[i]
		if !s.live {
			i++
			continue
		}
		st.detach(s) // moves the last subscriber to i
		s.end()
		ended++
	}
	st.r.logger.Info("stream ended", "stream", st.key, "subscribers_ended", ended)
	if len(st.subs) == 0 {
		st.r.removeLocked(c, st)
		return
	}
	st.r.event(c, st, EventSubscribers)
}

// attach adds s and queues what it needs to start; st.mu must be held.
func (st *stream) attach(s *Subscriber) {
	s.idx = len(st.subs)
	st.subs = append(st.subs, s)
	if st.pub == nil {
		return // waiting: the publisher's packets start it
	}
	s.live = true
	for _, pkt := range [...]*flv.Packet{st.metadata, st.videoSeq, st.audioSeq} {
		if pkt != nil {
			st.deliverStart(s, pkt)
		}
	}
	if st.gopOK {
		for _, pkt := range st.gop {
			st.deliverStart(s, pkt)
		}
	}
}

func (st *stream) deliverStart(s *Subscriber, pkt *flv.Packet) {
	pkt, kind := classify(pkt)
	switch s.deliver(pkt, kind, !st.hasVideo) {
	case queued:
		st.bytesOut += uint64(len(pkt.Payload))
	case dropped:
		st.dropped++
	}
}

// detach removes s in O(1), moving the last subscriber into its place;
// st.mu must be held.
func (st *stream) detach(s *Subscriber) {
	i := s.idx
	if i < 0 || i >= len(st.subs) || st.subs[i] != s {
		return
	}
	last := len(st.subs) - 1
	st.subs[i] = st.subs[last]
	st.subs[i].idx = i
	st.subs[last] = nil
	st.subs = st.subs[:last]
	s.idx = -1
}

// info describes st; st.mu must be held.
func (st *stream) info() Info {
	return Info{
		Key:         st.key,
		Publishing:  st.pub != nil,
		Subscribers: len(st.subs),
		VideoCodec:  st.videoCodec,
		AudioCodec:  st.audioCodec,
		Width:       st.width,
		Height:      st.height,
		BytesIn:     st.bytesIn,
		PacketsIn:   st.packetsIn,
		Dropped:     st.dropped,
		StartedAt:   st.startedAt,
	}
}
