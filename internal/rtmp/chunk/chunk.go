// Package chunk implements the RTMP chunk stream layer: it splits messages
// into chunks with compressed headers on the way out and reassembles
// interleaved chunks into whole messages on the way in.
//
// A chunk is a basic header (format 0..3 and chunk stream id, 1 to 3 bytes),
// a message header whose size depends on the format (11, 7, 3 or 0 bytes),
// an optional 4-byte extended timestamp, and up to chunk-size bytes of
// payload:
//
//	fmt 0: timestamp(3) length(3) type(1) stream id(4, little endian)
//	fmt 1: timestamp delta(3) length(3) type(1)
//	fmt 2: timestamp delta(3)
//	fmt 3: nothing; continues a message or repeats the previous header
//
// The Reader reports absolute timestamps; the Writer picks the smallest header
// that the previous message on the same chunk stream allows, as ffmpeg and
// nginx-rtmp do.
package chunk

import (
	"errors"
	"fmt"
)

// Chunk stream ids that a basic header can carry.
const (
	MinChunkStreamID = 2     // 0 and 1 select the 2- and 3-byte basic header forms
	MaxChunkStreamID = 65599 // 64 + 0xFFFF, the largest 3-byte basic header
)

// DefaultChunkSize is the chunk size both directions start with.
const DefaultChunkSize = 128

// MaxChunkSize is the largest chunk size a Reader accepts from the peer and
// the largest a Writer sends. The protocol allows 0x7FFFFFFF; nothing real
// uses more than a few hundred kilobytes.
const MaxChunkSize = 16 << 20

// maxMessageLength is the largest length the 24-bit message length field holds.
const maxMessageLength = 0xFFFFFF

// extendedTimestamp is the timestamp field value that announces a 4-byte
// extended timestamp.
const extendedTimestamp = 0xFFFFFF

// Message is one RTMP message as the chunk stream carries it.
type Message struct {
	ChunkStreamID uint32 // 2..65599
	Timestamp     uint32 // absolute, in milliseconds
	TypeID        uint8
	StreamID      uint32 // message stream id
	Body          []byte
}

// Validate reports whether m can be sent: a chunk stream id in
// MinChunkStreamID..MaxChunkStreamID and a body the 24-bit length field holds.
func (m *Message) Validate() error {
	if m.ChunkStreamID < MinChunkStreamID || m.ChunkStreamID > MaxChunkStreamID {
		return fmt.Errorf("chunk: chunk stream id %d out of range %d..%d", m.ChunkStreamID, MinChunkStreamID, MaxChunkStreamID)
	}
	if len(m.Body) > maxMessageLength {
		return fmt.Errorf("chunk: message body of %d bytes exceeds %d", len(m.Body), maxMessageLength)
	}
	return nil
}

// Limits bound what a Reader accepts and how much memory it holds.
type Limits struct {
	// MaxMessageSize is the largest message length a header may declare.
	MaxMessageSize uint32
	// MaxChunkStreams is how many distinct chunk stream ids a peer may use.
	MaxChunkStreams int
	// MaxPendingBytes bounds the bytes held in partially received messages
	// over all chunk streams together.
	MaxPendingBytes int
}

// DefaultLimits are the limits for connections from untrusted peers.
var DefaultLimits = Limits{
	MaxMessageSize:  8 << 20,
	MaxChunkStreams: 64,
	MaxPendingBytes: 16 << 20,
}

// withDefaults fills zero fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	if l.MaxMessageSize == 0 {
		l.MaxMessageSize = DefaultLimits.MaxMessageSize
	}
	l.MaxMessageSize = min(l.MaxMessageSize, maxMessageLength)
	if l.MaxChunkStreams <= 0 {
		l.MaxChunkStreams = DefaultLimits.MaxChunkStreams
	}
	if l.MaxPendingBytes <= 0 {
		l.MaxPendingBytes = max(DefaultLimits.MaxPendingBytes, 2*int(l.MaxMessageSize))
	}
	return l
}

// Errors a Reader returns, wrapped with details.
var (
	// ErrMessageTooLarge means a header declared a message longer than
	// Limits.MaxMessageSize.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrTooManyChunkStreams means the peer used more chunk stream ids than
	// Limits.MaxChunkStreams.
	ErrTooManyChunkStreams = errors.New("too many chunk streams")
	// ErrNoPreviousHeader means a fmt 1, 2 or 3 chunk arrived on a chunk
	// stream that never had a fmt 0 header.
	ErrNoPreviousHeader = errors.New("no previous header")
	// ErrInvalidChunkSize means a chunk size of 0 or above MaxChunkSize.
	ErrInvalidChunkSize = errors.New("invalid chunk size")
	// ErrPendingLimit means partially received messages hold more than
	// Limits.MaxPendingBytes.
	ErrPendingLimit = errors.New("too many bytes in partial messages")
)

// validChunkSize checks a chunk size for either direction.
func validChunkSize(n uint32) error {
	if n == 0 || n > MaxChunkSize {
		return fmt.Errorf("chunk: chunk size %d: %w (want 1..%d)", n, ErrInvalidChunkSize, MaxChunkSize)
	}
	return nil
}
