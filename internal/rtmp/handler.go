package rtmp

import (
	"context"

	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/rtmp/message"
)

// Handler decides what the server does with connections, publishers,
// players and shared-object messages. The node wiring implements it on top
// of the stream registry and the shared objects. The server calls Connect,
// Publish, Play and SharedObject from the connection's read goroutine, one
// call at a time per connection; calls for different connections run
// concurrently.
type Handler interface {
	// Connect accepts or rejects a connection after its connect command.
	// A non-nil error rejects it: the client gets
	// NetConnection.Connect.Rejected with the error text as description,
	// and the connection is closed.
	Connect(c *ServerConn) error
	// Publish starts a publisher on s. ErrStreamTaken refuses with
	// NetStream.Publish.BadName; other errors with NetStream.Publish.Failed.
	Publish(c *ServerConn, s *ServerStream) (Publisher, error)
	// Play subscribes s to a stream. ErrStreamNotFound refuses with
	// NetStream.Play.StreamNotFound; other errors with NetStream.Play.Failed.
	// A handler that prefers to wait for the publisher returns a Source
	// whose Read blocks until it comes.
	Play(c *ServerConn, s *ServerStream) (Source, error)
	// SharedObject receives the raw shared-object messages (types 16 and
	// 19) of the connection.
	SharedObject(c *ServerConn, m *message.SharedObject)
	// Disconnect is called once when a connection whose Connect succeeded
	// has closed, after its publishers and sources were closed.
	Disconnect(c *ServerConn)
}

// Publisher receives the packets of one published stream.
type Publisher interface {
	// WritePacket takes a media or data packet. The packet is immutable
	// from here on and may be shared with any number of subscribers.
	// WritePacket must not block for long: it runs on the publisher's read
	// goroutine.
	WritePacket(p *flv.Packet)
	// Close ends the publication (unpublish, or the connection closed).
	Close()
}

// Source delivers the packets of one stream to one player.
type Source interface {
	// Read blocks until at least one packet is available (or ctx is done)
	// and returns all available packets appended to buf. It returns io.EOF
	// when the stream has ended.
	Read(ctx context.Context, buf []*flv.Packet) ([]*flv.Packet, error)
	// Close releases the subscription. The server calls it once, after
	// the last Read has returned.
	Close()
}
