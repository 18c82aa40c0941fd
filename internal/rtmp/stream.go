package rtmp

import (
	"context"
	"time"
)

// ServerStream is one NetStream of a connection (a message stream made by
// createStream) that publishes or plays. The handler reads it during
// Publish and Play; its methods are safe to call from any goroutine later.
type ServerStream struct {
	// PublishType is the type argument of publish: "live", "record" or
	// "append".
	PublishType string
	// Start is the start argument of play: -2 (live, else recorded), -1
	// (live only) or a position in milliseconds.
	Start float64
	// Duration is the duration argument of play; -1 plays to the end.
	Duration float64

	conn *ServerConn
	id   uint32
	path streamPath

	// Owned by the connection's read goroutine.
	pub        Publisher
	play       *player
	paused     bool
	writeMerge time.Duration // of the next play loop, see SetWriteMerge
}

// player is a running play loop.
type player struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Conn returns the connection of the stream.
func (s *ServerStream) Conn() *ServerConn { return s.conn }

// ID returns the message stream id.
func (s *ServerStream) ID() uint32 { return s.id }

// Name returns the stream name: the last segment of the stream path,
// without query string or mp4:/flv: prefix.
func (s *ServerStream) Name() string { return s.path.name }

// Scope returns the scope of the stream: the connection's app joined with
// any rooms of the stream name ("live/room" for app "live" and stream
// "room/cam1").
func (s *ServerStream) Scope() string { return s.path.scope }

// Path returns Scope() + "/" + Name().
func (s *ServerStream) Path() string { return s.path.scope + "/" + s.path.name }

// Query returns the query string of the stream name without the '?', e.g.
// "token=abc" for "cam1?token=abc".
func (s *ServerStream) Query() string { return s.path.query }

// SetWriteMerge sets the write-merge window of the play that
// Handler.Play is starting on s (see Server.WriteMerge); 0 writes each
// packet as soon as it is read, for hops where latency matters more than
// CPU. Call it from Handler.Play only: each play starts with the server's
// window.
func (s *ServerStream) SetWriteMerge(d time.Duration) { s.writeMerge = max(d, 0) }

// WriteMerge returns the write-merge window of the stream's play.
func (s *ServerStream) WriteMerge() time.Duration { return s.writeMerge }

// busy reports whether the stream publishes or plays.
func (s *ServerStream) busy() bool { return s.pub != nil || s.play != nil || s.paused }

// stopPlay ends the play loop and waits for it; the loop closes its source.
func (s *ServerStream) stopPlay() {
	if s.play == nil {
		return
	}
	s.play.cancel()
	<-s.play.done
	s.play = nil
}

// stop ends publishing and playing on the stream. It reports whether the
// stream was publishing.
func (s *ServerStream) stop() (wasPublishing bool) {
	s.stopPlay()
	s.paused = false
	if s.pub != nil {
		s.pub.Close()
		s.pub = nil
		s.conn.logger.Info("publish stopped", "stream", s.Path())
		return true
	}
	return false
}
