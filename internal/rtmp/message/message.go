// Package message converts between chunk-stream messages and typed RTMP
// messages: protocol control, user control, audio, video, data, commands,
// shared objects and aggregates. ReadWriter adds the connection-level
// handling every RTMP peer needs (chunk size, abort, acknowledgements).
//
// Each message type has its own file, named after the type
// (msg_set_chunk_size.go, msg_command_amf0.go, ...).
package message

import (
	"errors"
	"fmt"

	"github.com/shoal-live/shoal/internal/rtmp/chunk"
)

// Message type ids.
const (
	TypeSetChunkSize     uint8 = 1
	TypeAbort            uint8 = 2
	TypeAcknowledgement  uint8 = 3
	TypeUserControl      uint8 = 4
	TypeWindowAckSize    uint8 = 5
	TypeSetPeerBandwidth uint8 = 6
	TypeAudio            uint8 = 8
	TypeVideo            uint8 = 9
	TypeDataAMF3         uint8 = 15
	TypeSharedObjectAMF3 uint8 = 16
	TypeCommandAMF3      uint8 = 17
	TypeDataAMF0         uint8 = 18
	TypeSharedObjectAMF0 uint8 = 19
	TypeCommandAMF0      uint8 = 20
	TypeAggregate        uint8 = 22
)

// Chunk stream ids Encode uses when a message does not name one, following
// ffmpeg: protocol control on 2, commands and shared objects on 3, audio on
// 4, video on 6, and data messages (metadata) with the video.
const (
	ChunkStreamControl = 2
	ChunkStreamCommand = 3
	ChunkStreamAudio   = 4
	ChunkStreamVideo   = 6
	ChunkStreamData    = ChunkStreamVideo
)

// Message is a typed RTMP message. The implementations are the pointer types
// of this package (*SetChunkSize, *CommandAMF0, ...); decode results are
// always pointers.
type Message interface {
	// Type returns the message type id.
	Type() uint8
	// marshal encodes the message; it seals the interface.
	marshal() (*chunk.Message, error)
}

// Decode converts a chunk-stream message into a typed message. Types this
// package does not know become *Unknown. Errors name the type and the field
// that could not be read.
func Decode(m *chunk.Message) (Message, error) {
	var msg interface {
		Message
		unmarshal(m *chunk.Message) error
	}
	switch m.TypeID {
	case TypeSetChunkSize:
		msg = &SetChunkSize{}
	case TypeAbort:
		msg = &Abort{}
	case TypeAcknowledgement:
		msg = &Acknowledgement{}
	case TypeUserControl:
		msg = &UserControl{}
	case TypeWindowAckSize:
		msg = &WindowAckSize{}
	case TypeSetPeerBandwidth:
		msg = &SetPeerBandwidth{}
	case TypeAudio:
		msg = &Audio{}
	case TypeVideo:
		msg = &Video{}
	case TypeDataAMF3:
		msg = &DataAMF3{}
	case TypeDataAMF0:
		msg = &DataAMF0{}
	case TypeSharedObjectAMF3, TypeSharedObjectAMF0:
		msg = &SharedObject{}
	case TypeCommandAMF3:
		msg = &CommandAMF3{}
	case TypeCommandAMF0:
		msg = &CommandAMF0{}
	case TypeAggregate:
		msg = &Aggregate{}
	default:
		return &Unknown{Raw: m}, nil
	}
	if err := msg.unmarshal(m); err != nil {
		return nil, err
	}
	return msg, nil
}

// Encode converts a typed message into a chunk-stream message. Messages with
// a zero ChunkStreamID get the conventional one for their type.
func Encode(msg Message) (*chunk.Message, error) {
	return msg.marshal()
}

// typeName names message types in errors.
func typeName(t uint8) string {
	switch t {
	case TypeSetChunkSize:
		return "set chunk size"
	case TypeAbort:
		return "abort"
	case TypeAcknowledgement:
		return "acknowledgement"
	case TypeUserControl:
		return "user control"
	case TypeWindowAckSize:
		return "window acknowledgement size"
	case TypeSetPeerBandwidth:
		return "set peer bandwidth"
	case TypeAudio:
		return "audio"
	case TypeVideo:
		return "video"
	case TypeDataAMF3:
		return "data AMF3"
	case TypeSharedObjectAMF3:
		return "shared object AMF3"
	case TypeCommandAMF3:
		return "command AMF3"
	case TypeDataAMF0:
		return "data AMF0"
	case TypeSharedObjectAMF0:
		return "shared object AMF0"
	case TypeCommandAMF0:
		return "command AMF0"
	case TypeAggregate:
		return "aggregate"
	default:
		return "unknown"
	}
}

// decodeError wraps err with the message type and field.
func decodeError(t uint8, field string, err error) error {
	return fmt.Errorf("message: decode %s (type %d): %s: %w", typeName(t), t, field, err)
}

// orDefault returns csid, or def when csid is zero.
func orDefault(csid, def uint32) uint32 {
	if csid == 0 {
		return def
	}
	return csid
}

// ErrTruncated means a message body ended before a field it must hold.
var ErrTruncated = errors.New("body too short")

// need checks that the body of m holds at least n bytes for field.
func need(m *chunk.Message, field string, n int) error {
	if len(m.Body) < n {
		return decodeError(m.TypeID, field, fmt.Errorf("%w: %d bytes, want %d", ErrTruncated, len(m.Body), n))
	}
	return nil
}

// controlMessage builds a protocol control message (chunk stream 2, message
// stream 0).
func controlMessage(t uint8, body []byte) *chunk.Message {
	return &chunk.Message{ChunkStreamID: ChunkStreamControl, TypeID: t, Body: body}
}
